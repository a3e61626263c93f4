/**
 * On-the-fly augmentation during training: a BatchHook for trainModel that replaces each
 * step's input with augmented images, and for mixup / cutmix returns the soft labels.
 *
 * Reproducibility. Sample `id` at (`epoch`, `step`) is augmented with pipeline seed
 * `hookSampleSeed(seed, epoch, step, id)` = the seed of
 * `new Rng(seed).fork('hook/<epoch>/<step>/<id>')`: a function of those four numbers
 * only, not of batch order or of how many samples came before, which is what trainModel
 * needs for two runs to end with identical weights. A mixing step's partner is another
 * image of the same batch, index drawn from `new Rng(thatSeed).fork('partner')`; the
 * partner enters as it was loaded (not augmented), with its one-hot label.
 *
 * Execution is the CPU reference path (planPipeline + applyPlanCpu): it reads the batch
 * back from the backend, augments in JavaScript and uploads the result. Fusing the
 * pipeline into GPU dispatches on the tfjs WebGPU device, so batches never leave the GPU,
 * is a separate, later piece of work; this hook is its CPU fallback and reference.
 */
import { tf } from '../compute/register';
import { Rng } from '../data/rng';
import type { InputSpec } from '../data/types';
import { InvalidInputError } from '../jobs/errors';
import type { BatchHook, HookBatch, HookResult } from '../train/train';
import { cutmixLabelWeight, mixLabels, mixupLabelWeight, oneHot, type CutmixParams, type MixupParams } from './mixing';
import { applyPlanCpu, planPipeline, validatePipeline, type PipelineSpec, type PlannedStep, type TransformRegistry } from './pipeline';
import { acquireGpuDevice } from './gpu/device';
import { executePlansGpuToBatch } from './gpu/execute';
import { gpuBatchToTensor } from './gpu/to-tensor';
import { fitToInput } from './rebalance-augment';
import { TRANSFORMS } from './registry';
import type { ImageU8 } from './types';

export interface AugmentationHookOptions {
  seed: number;
  /** Length of the soft-label rows (the model's outputs). */
  numClasses: number;
  /** The project's input contract: the batch's image shape, and what outputs are brought back to. */
  input: Pick<InputSpec, 'width' | 'height' | 'channels'>;
}

/** Bytes per value: the loop feeds pixels / 255, so value · 255 rounds back to the stored byte. */
const U8_MAX = 255;

/** The pipeline seed of sample `id` at (`epoch`, `step`): see the module comment. */
export function hookSampleSeed(seed: number, epoch: number, step: number, id: number): number {
  return new Rng(seed).fork(`hook/${epoch}/${step}/${id}`).seed;
}

/** The soft-label weight of the image a mixing step was applied to. */
function mixWeight(transform: string, params: unknown, image: Pick<ImageU8, 'width' | 'height'>): number {
  if (transform === 'mixup') return mixupLabelWeight(params as MixupParams);
  if (transform === 'cutmix') return cutmixLabelWeight(params as CutmixParams, image);
  throw new InvalidInputError(`The training hook does not know the soft label of mixing transform "${transform}": use mixup or cutmix.`);
}

/** A copy of the spec whose mixing steps carry `partner` as their otherImage. */
function withPartner(spec: PipelineSpec, registry: TransformRegistry, partner: ImageU8): PipelineSpec {
  return {
    version: spec.version,
    steps: spec.steps.map((s) => (registry.get(s.transform)?.kind === 'mixing' ? { ...s, params: { ...s.params, otherImage: partner } } : s)),
  };
}

/**
 * A BatchHook applying `pipeline` to every training image. Returns a new `x`, and
 * `targets` (soft labels, rows summing to 1) when the pipeline has a mixing step; rows of
 * images no mixing step fired on are one-hot. Ownership as train.ts's BatchHook says: it
 * only reads `batch.x` and `batch.labels`, and creates exactly the tensors it returns,
 * which the loop then owns.
 */
export function augmentationHook(pipeline: PipelineSpec, opts: AugmentationHookOptions): BatchHook {
  const registry = TRANSFORMS;
  const spec = validatePipeline(pipeline, registry);
  if (!Number.isInteger(opts.seed)) throw new InvalidInputError(`The augmentation seed must be an integer, got ${opts.seed}.`);
  if (!(Number.isInteger(opts.numClasses) && opts.numClasses >= 1)) {
    throw new InvalidInputError(`numClasses must be a whole number ≥ 1, got ${opts.numClasses}.`);
  }
  const mixing = spec.steps.some((s) => registry.get(s.transform)?.kind === 'mixing');
  const { width, height, channels } = opts.input;
  const perImage = width * height * channels;

  return async (batch: HookBatch): Promise<HookResult> => {
    const [n, h, w, c] = batch.x.shape;
    if (h !== height || w !== width || c !== channels) {
      throw new InvalidInputError(`The batch is ${w}×${h}×${c} but the hook was made for ${width}×${height}×${channels}: build it with the project's input.`);
    }
    const [xs, labels] = await Promise.all([batch.x.data(), batch.labels.data()]);
    const images: ImageU8[] = [];
    for (let i = 0; i < n; i++) {
      const data = new Uint8Array(perImage);
      const offset = i * perImage;
      for (let j = 0; j < perImage; j++) data[j] = Math.round((xs[offset + j] as number) * U8_MAX);
      images.push({ width, height, channels, data });
    }

    const out = new Float32Array(n * perImage);
    const targets = mixing ? new Float32Array(n * opts.numClasses) : null;
    const plans: PlannedStep[][] = [];
    for (let i = 0; i < n; i++) {
      const image = images[i] as ImageU8;
      const seed = hookSampleSeed(opts.seed, batch.epoch, batch.step, batch.ids[i] as number);
      let partner = i;
      let sampleSpec = spec;
      if (mixing) {
        // Another image of the batch when there is one; alone in its batch, an image mixes with itself.
        if (n > 1) partner = (i + 1 + new Rng(seed).fork('partner').int(n - 1)) % n;
        sampleSpec = withPartner(spec, registry, images[partner] as ImageU8);
      }
      const plan = planPipeline(sampleSpec, registry, seed, image);
      plans.push(plan);

      if (targets) {
        let soft = oneHot(labels[i] as number, opts.numClasses);
        const partnerLabel = oneHot(labels[partner] as number, opts.numClasses);
        for (const step of plan) {
          if (registry.get(step.transform)?.kind !== 'mixing') continue;
          soft = mixLabels(soft, partnerLabel, mixWeight(step.transform, step.params, image));
        }
        targets.set(soft, i * opts.numClasses);
      }
    }
    // On tfjs' WebGPU backend the plans run as fused GPU dispatches on its device and the
    // batch becomes the tensor there; a size-changing pipeline, or any other backend, takes the CPU path.
    let x: tf.Tensor4D | null = null;
    if (tf.getBackend() === 'webgpu') {
      const { device } = await acquireGpuDevice();
      // Plans whose outputs differ in size cannot form one GPU batch (InvalidInputError):
      // the CPU path brings each image back to the input with fitToInput.
      const gpuBatch = await executePlansGpuToBatch(device, images, plans, { registry }).then(
        (r) => r.batch,
        (err: unknown) => {
          if ((err as { name?: unknown }).name === 'InvalidInputError') return null;
          throw err;
        },
      );
      if (gpuBatch) {
        try {
          const s = gpuBatch.shape;
          if (s.width === width && s.height === height && s.channels === channels) x = await gpuBatchToTensor(device, gpuBatch);
        } finally {
          gpuBatch.buffer.destroy();
        }
      }
    }
    if (!x) {
      plans.forEach((plan, i) => {
        const augmented = fitToInput(applyPlanCpu(images[i] as ImageU8, plan, registry), opts.input);
        const offset = i * perImage;
        for (let j = 0; j < perImage; j++) out[offset + j] = (augmented.data[j] as number) / U8_MAX;
      });
      x = tf.tensor4d(out, [n, height, width, channels]);
    }
    const result: HookResult = { x };
    if (targets) result.targets = tf.tensor2d(targets, [n, opts.numClasses]);
    return result;
  };
}
