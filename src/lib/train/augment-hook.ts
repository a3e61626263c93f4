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
 * partner enters as it was loaded (not augmented), with its one-hot label. So every plan
 * is drawn from the batch's ids, epoch and step alone (and the image shape): no pixel
 * value decides what is drawn.
 *
 * Two paths give the same bytes (exactly, wherever the GPU kernels are exact; within a
 * transform's stated tolerance for bilateral):
 * - GPU, when tfjs' backend is WebGPU: the batch's tensor, already on the device, is
 *   packed into bytes there, the plans run as fused dispatches (gpu/execute.ts), results
 *   are brought back to the project's input on the GPU, and the pieces become the new
 *   input tensor, so a batch goes from upload to loss without returning to the CPU. Only a
 *   step with no GPU kernel for its parameters (a nearest-neighbour warp) reads its images
 *   back; the report counts those. Mixing partners are uploaded from the bytes the loop
 *   already holds (`batch.pixels`), inside the mixing programs' parameters.
 * - CPU, on every other backend: the plans run on the CPU kernels over `batch.pixels`, and
 *   the result is uploaded as the new input.
 */
import { tf } from '../compute/register';
import { Rng } from '../data/rng';
import type { InputSpec } from '../storage/records';
import { InvalidInputError } from '../jobs/errors';
import type { BatchHook, HookBatch, HookResult } from './train';
import { acquireGpuDevice } from '../augment/gpu/device';
import { executePlansGpuToPieces, type CpuFallback, type ExecuteStats } from '../augment/gpu/execute';
import { emptyAugmentationReport, type AugmentationPath, type AugmentationReport } from '../augment/report';
import { gpuPiecesToTensor, tensorToGpuBatch } from '../augment/gpu/to-tensor';
import { cutmixLabelWeight, mixLabels, mixupLabelWeight, oneHot, type CutmixParams, type MixupParams } from '../augment/mixing';
import { applyPlanCpu, planPipeline, validatePipeline, type PipelineSpec, type PlannedStep, type TransformRegistry } from '../augment/pipeline';
import { fitToInput } from '../augment/apply';
import { TRANSFORMS } from '../augment/registry';
import type { ImageU8 } from '../augment/types';

export type { AugmentationPath, AugmentationReport };

export interface AugmentationHookOptions {
  seed: number;
  /** Length of the soft-label rows (the model's outputs). */
  numClasses: number;
  /** The project's input contract: the batch's image shape, and what outputs are brought back to. */
  input: Pick<InputSpec, 'width' | 'height' | 'channels'>;
  /**
   * 'auto' (the default): the GPU path on tfjs' WebGPU backend, the CPU path elsewhere.
   * 'cpu': the CPU path on any backend (the reference a GPU run is compared with).
   */
  path?: 'auto' | 'cpu';
}

/** One batch augmented: the new input, soft targets (when mixing), what was drawn, and how it ran. */
export interface AugmentedBatch {
  x: tf.Tensor4D;
  targets: tf.Tensor2D | null;
  plans: PlannedStep[][];
  path: AugmentationPath;
  /** The GPU executor's stats; null on the CPU path. */
  stats: ExecuteStats | null;
}

export interface AugmentationHook {
  /** The BatchHook to hand to trainModel. */
  apply: BatchHook;
  /** Augments one batch and says how (apply is this, reduced to what trainModel takes). */
  augment(batch: HookBatch): Promise<AugmentedBatch>;
  /** Everything done since the hook was made (plus `previous`, for a resumed run). */
  report(): AugmentationReport;
}

/** The pipeline seed of sample `id` at (`epoch`, `step`): see the module comment. */
export function hookSampleSeed(seed: number, epoch: number, step: number, id: number): number {
  return new Rng(seed).fork(`hook/${epoch}/${step}/${id}`).seed;
}

/** The batch position of sample i's mixing partner: see the module comment. */
export function hookPartner(seed: number, i: number, n: number): number {
  // Another image of the batch when there is one; alone in its batch, an image mixes with itself.
  return n > 1 ? (i + 1 + new Rng(seed).fork('partner').int(n - 1)) % n : i;
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

function addFallbacks(into: CpuFallback[], more: readonly CpuFallback[]): void {
  for (const f of more) {
    const known = into.find((k) => k.transform === f.transform && k.reason === f.reason);
    if (known) known.steps += f.steps;
    else into.push({ ...f });
  }
}

/** Why this backend takes the CPU path; null for the one that takes the GPU path. */
function cpuPathReason(backend: string, path: 'auto' | 'cpu'): string | null {
  if (path === 'cpu') return 'the CPU path was asked for';
  if (backend === 'webgpu') return null;
  return `the ${backend} backend has no WebGPU device for the augmentation kernels; they run on the CPU`;
}

/**
 * An augmentation hook applying `pipeline` to every training image. Its `apply` returns a
 * new `x`, and `targets` (soft labels, rows summing to 1) when the pipeline has a mixing
 * step; rows of images no mixing step fired on are one-hot. Ownership as train.ts's
 * BatchHook says: it only reads the batch, and creates exactly the tensors it returns,
 * which the loop then owns. `previous` carries a resumed run's report forward.
 */
export function augmentationHook(pipeline: PipelineSpec, opts: AugmentationHookOptions, previous?: AugmentationReport): AugmentationHook {
  const registry = TRANSFORMS;
  const spec = validatePipeline(pipeline, registry);
  if (!Number.isInteger(opts.seed)) throw new InvalidInputError(`The augmentation seed must be an integer, got ${opts.seed}.`);
  if (!(Number.isInteger(opts.numClasses) && opts.numClasses >= 1)) {
    throw new InvalidInputError(`numClasses must be a whole number ≥ 1, got ${opts.numClasses}.`);
  }
  const mixing = spec.steps.some((s) => registry.get(s.transform)?.kind === 'mixing');
  const input = { width: opts.input.width, height: opts.input.height, channels: opts.input.channels };
  const perImage = input.width * input.height * input.channels;
  const pathChoice = opts.path ?? 'auto';
  const report: AugmentationReport = previous ? { ...previous, fallbacks: previous.fallbacks.map((f) => ({ ...f })) } : emptyAugmentationReport();

  /** Every plan of the batch and, with mixing, the soft targets: drawn from ids, epoch and step. */
  function plan(batch: HookBatch): { plans: PlannedStep[][]; targets: Float32Array | null } {
    const n = batch.ids.length;
    const targets = mixing ? new Float32Array(n * opts.numClasses) : null;
    const plans: PlannedStep[][] = [];
    for (let i = 0; i < n; i++) {
      const seed = hookSampleSeed(opts.seed, batch.epoch, batch.step, batch.ids[i] as number);
      const partner = mixing ? hookPartner(seed, i, n) : i;
      const sampleSpec = mixing ? withPartner(spec, registry, { ...input, data: batch.pixels[partner] as Uint8Array }) : spec;
      const steps = planPipeline(sampleSpec, registry, seed, input);
      plans.push(steps);
      if (targets) {
        let soft = oneHot(batch.labelIndices[i] as number, opts.numClasses);
        const partnerLabel = oneHot(batch.labelIndices[partner] as number, opts.numClasses);
        for (const step of steps) {
          if (registry.get(step.transform)?.kind !== 'mixing') continue;
          soft = mixLabels(soft, partnerLabel, mixWeight(step.transform, step.params, input));
        }
        targets.set(soft, i * opts.numClasses);
      }
    }
    return { plans, targets };
  }

  async function runGpu(batch: HookBatch, plans: PlannedStep[][]): Promise<{ x: tf.Tensor4D; stats: ExecuteStats }> {
    const { device } = await acquireGpuDevice();
    const source = await tensorToGpuBatch(device, batch.x);
    try {
      const run = await executePlansGpuToPieces(device, source, plans, { registry, fitTo: input });
      try {
        return { x: await gpuPiecesToTensor(device, run.pieces, input, plans.length), stats: run.stats };
      } finally {
        run.release();
      }
    } finally {
      source.buffer.destroy();
    }
  }

  function runCpu(batch: HookBatch, plans: PlannedStep[][]): tf.Tensor4D {
    const n = plans.length;
    const out = new Float32Array(n * perImage);
    plans.forEach((steps, i) => {
      const image: ImageU8 = { ...input, data: batch.pixels[i] as Uint8Array };
      const augmented = fitToInput(applyPlanCpu(image, steps, registry), input);
      const offset = i * perImage;
      // byte / 255 into float32, as the loop's pixelsToInput makes its input.
      for (let j = 0; j < perImage; j++) out[offset + j] = (augmented.data[j] as number) / 255;
    });
    return tf.tensor4d(out, [n, input.height, input.width, input.channels]);
  }

  function note(path: AugmentationPath, reason: string | null, stats: ExecuteStats | null): void {
    report.path = report.path === 'none' || report.path === path ? path : 'mixed';
    if (path === 'cpu') {
      report.cpuSteps++;
      report.cpuPathReason = reason;
      return;
    }
    report.gpuSteps++;
    if (!stats) return;
    report.dispatches += stats.dispatches;
    report.readbacks += stats.readbacks;
    if (stats.cpuSteps > 0) report.stepsWithFallback++;
    addFallbacks(report.fallbacks, stats.cpuFallbacks);
  }

  async function augment(batch: HookBatch): Promise<AugmentedBatch> {
    const [n, h, w, c] = batch.x.shape;
    if (h !== input.height || w !== input.width || c !== input.channels) {
      throw new InvalidInputError(`The batch is ${w}×${h}×${c} but the hook was made for ${input.width}×${input.height}×${input.channels}: build it with the project's input.`);
    }
    if (batch.ids.length !== n || batch.pixels.length !== n || batch.labelIndices.length !== n) {
      throw new InvalidInputError(`The batch has ${n} images but ${batch.ids.length} ids, ${batch.pixels.length} pixel arrays and ${batch.labelIndices.length} labels: give one of each per image.`);
    }
    const { plans, targets } = plan(batch);
    const reason = cpuPathReason(tf.getBackend(), pathChoice);
    let x: tf.Tensor4D;
    let stats: ExecuteStats | null = null;
    let path: AugmentationPath;
    if (reason === null) {
      ({ x, stats } = await runGpu(batch, plans));
      path = 'gpu';
    } else {
      x = runCpu(batch, plans);
      path = 'cpu';
    }
    note(path, reason, stats);
    const soft = targets ? tf.tensor2d(targets, [n, opts.numClasses]) : null;
    return { x, targets: soft, plans, path, stats };
  }

  return {
    augment,
    apply: async (batch: HookBatch): Promise<HookResult> => {
      const { x, targets } = await augment(batch);
      return targets ? { x, targets } : { x };
    },
    report: () => ({ ...report, fallbacks: report.fallbacks.map((f) => ({ ...f })) }),
  };
}
