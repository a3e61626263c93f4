/**
 * Applying drawn plans to images and bringing each result back to the project's input:
 * the one operation previews, stored rebalancing and the training hook's CPU path share.
 * A PlanApplier says where it runs — the CPU kernels here, or fused GPU dispatches
 * (gpu/applier.ts, in the compute worker, which owns the GPU) — and gives the same bytes
 * either way wherever the GPU kernels are exact.
 */
import type { InputSpec } from '../storage/records';
import { InvalidInputError } from '../jobs/errors';
import { resizeU8 } from './geometry';
import { applyPlanCpu, type PlannedStep } from './pipeline';
import { TRANSFORMS } from './registry';
import type { ImageU8 } from './types';

export type ApplyShape = Pick<InputSpec, 'width' | 'height' | 'channels'>;

export interface PlanApplier {
  /** Where the work runs: the CPU kernels, or the GPU. */
  where: 'cpu' | 'gpu';
  /** `plans[i]` applied to `images[i]` (all one shape), each result fitted to `fitTo`. */
  apply(images: readonly ImageU8[], plans: readonly (readonly PlannedStep[])[], fitTo: ApplyShape): Promise<ImageU8[]>;
}

/**
 * Brings a pipeline's output back to the project's input contract: a shape changed by a
 * transform (crop, resize, scale…) is resized back with bilinear interpolation (cv2
 * INTER_LINEAR, geometry.ts's resizeU8), and a one-channel result in a three-channel
 * project (to-gray) is repeated into three channels. Returns `image` itself when it fits.
 * The GPU executor's `fitTo` (gpu/execute.ts) does the same steps in the same order.
 */
export function fitToInput(image: ImageU8, input: ApplyShape): ImageU8 {
  let out = image;
  if (out.width !== input.width || out.height !== input.height) {
    out = resizeU8(out, { width: input.width, height: input.height, interpolation: 'bilinear' });
  }
  if (out.channels !== input.channels) {
    if (out.channels !== 1) {
      throw new InvalidInputError(
        `The pipeline makes ${out.channels}-channel images but the project stores ${input.channels} channel(s): remove the colour step that adds channels.`,
      );
    }
    const pixels = out.width * out.height;
    const data = new Uint8Array(pixels * 3);
    for (let i = 0; i < pixels; i++) {
      const v = out.data[i] as number;
      data[3 * i] = v;
      data[3 * i + 1] = v;
      data[3 * i + 2] = v;
    }
    out = { width: out.width, height: out.height, channels: 3, data };
  }
  return out;
}

/** The CPU kernels (applyPlanCpu), then fitToInput: the reference every other path matches. */
export const CPU_APPLIER: PlanApplier = {
  where: 'cpu',
  apply: (images, plans, fitTo) => {
    if (images.length !== plans.length) return Promise.reject(new InvalidInputError(`${images.length} images but ${plans.length} plans; draw one plan per image.`));
    return Promise.resolve(images.map((img, i) => fitToInput(applyPlanCpu(img, plans[i] as PlannedStep[], TRANSFORMS), fitTo)));
  },
};
