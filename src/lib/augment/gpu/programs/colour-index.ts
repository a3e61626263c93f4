/**
 * GPU kernels of the colour-space and photometric transforms, and of Otsu thresholding,
 * for the registry (registry.ts) to merge. Parameters are sampled on the CPU by each
 * transform's `sample`; the adapters below only reshape them for the program.
 *
 * Only the type is imported from registry.ts: registry.ts imports this module to build
 * its map, and a value import back would make the two modules load in a cycle.
 */
import { hsvToRgbTransform, labToRgbTransform, rgbToHsvTransform, rgbToLabTransform, rgbToYcrcbTransform, ycrcbToRgbTransform } from '../../colour';
import { gammaTransform, gaussianNoiseTransform, hueSaturationTransform } from '../../photometric';
import { thresholdOtsuInvTransform, thresholdOtsuTransform } from '../../threshold';
import type { OtsuParams } from '../../threshold';
import type { TransformDef } from '../../types';
import type { GpuTransform } from '../registry';
import type { GpuImageBatch, GpuProgram, ImageShape } from '../runner';
import { gammaProgram } from './gamma';
import { gaussianNoiseProgram } from './gaussian-noise';
import { hsvToRgbProgram } from './hsv-to-rgb';
import { hueSaturationProgram } from './hue-saturation';
import { labToRgbProgram } from './lab-to-rgb';
import { dispatchThresholdOtsu } from './otsu';
import { rgbToHsvProgram } from './rgb-to-hsv';
import { rgbToLabProgram } from './rgb-to-lab';
import { rgbToYcrcbProgram } from './rgb-to-ycrcb';
import { ycrcbToRgbProgram } from './ycrcb-to-rgb';

/**
 * Binds a transform to a program with a typed adapter. The registry hands sampled params
 * over as `unknown`; they are the output of `transform.sample`, which makes the cast sound.
 */
function bind<C, G>(transform: TransformDef<C>, program: GpuProgram<G>, programParams: (params: C, input: ImageShape) => G): GpuTransform {
  return {
    transform: transform.name,
    program: program as GpuProgram<unknown>,
    programParams: (params, input) => programParams(params as C, input),
  };
}

const none = (): void => undefined;

/** Pointwise colour and photometric transforms: one runner program each. */
export const GPU_TRANSFORMS_COLOUR: readonly GpuTransform[] = [
  bind(rgbToHsvTransform, rgbToHsvProgram, none),
  bind(hsvToRgbTransform, hsvToRgbProgram, none),
  bind(rgbToYcrcbTransform, rgbToYcrcbProgram, none),
  bind(ycrcbToRgbTransform, ycrcbToRgbProgram, none),
  bind(rgbToLabTransform, rgbToLabProgram, none),
  bind(labToRgbTransform, labToRgbProgram, none),
  bind(gammaTransform, gammaProgram, (p) => ({ gamma: p.gamma })),
  bind(hueSaturationTransform, hueSaturationProgram, (p) => ({ hueShift: p.hueShift, saturationScale: p.saturationScale })),
  bind(gaussianNoiseTransform, gaussianNoiseProgram, (p) => ({ sigma: p.sigma, seed: p.seed })),
];

/**
 * A transform whose GPU path is more than one program because it needs whole-image
 * statistics first (kind 'global'): `run` takes a batch on the GPU and the sampled params
 * per image and returns a new batch (the caller destroys both).
 */
export interface GpuGlobalTransform {
  transform: string;
  run(device: GPUDevice, input: GpuImageBatch, params: readonly unknown[]): Promise<GpuImageBatch>;
}

function otsu(transform: TransformDef<OtsuParams>, inverse: boolean): GpuGlobalTransform {
  return {
    transform: transform.name,
    run: (device, input, params) => dispatchThresholdOtsu(device, input, params.map((p) => ({ maxValue: (p as OtsuParams).maxValue, inverse }))),
  };
}

/** Otsu thresholds: to-gray, a GPU histogram, the level on the CPU, then threshold (otsu.ts). */
export const GPU_GLOBAL_TRANSFORMS_COLOUR: readonly GpuGlobalTransform[] = [
  otsu(thresholdOtsuTransform, false),
  otsu(thresholdOtsuInvTransform, true),
];
