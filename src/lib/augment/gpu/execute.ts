/**
 * Runs drawn pipeline plans (pipeline.ts' `planPipeline`, one plan per image) on the GPU
 * with as few dispatches as the plans allow, giving the bytes `applyPlanCpu` gives
 * wherever each step's GPU kernel is exact.
 *
 * Fusion rules:
 * (a) A run of consecutive per-value pointwise steps (LUT_TRANSFORMS: brightness,
 *     contrast, gamma, threshold-binary, threshold-binary-inv) becomes ONE lookup-table
 *     dispatch (programs/lut.ts), each image carrying its own 256-byte table. The table
 *     of a step is its own CPU kernel evaluated on the ramp 0..255, and a run's table is
 *     the composition of its steps' tables. Both are exact by construction: each of these
 *     maps is a function of one byte, the same for every channel, and composing functions
 *     on uint8 is applying them in sequence.
 * (b) Every other step with a GPU kernel dispatches its own program (GPU_TRANSFORMS), or
 *     its multi-dispatch global kernel (GPU_GLOBAL_TRANSFORMS, Otsu). Affine warps are
 *     deliberately NOT composed: the CPU path rounds to uint8 between two warps, so one
 *     composed warp would give different bytes.
 * (c) A step whose kernel's `supports()` says no (a nearest-neighbour warp) or that has no
 *     GPU kernel runs on its CPU kernel: the batch is read back, the step runs per image,
 *     and the batch is uploaded again before the next GPU step. The stats name each such
 *     transform and why, since it is the one place a batch leaves the GPU.
 *
 * Plans differ per image (each step fires with its own probability), so the images move
 * through the plans as cohorts: a cohort is a set of images on one GPU buffer whose next
 * stages have the same key (same program, same output shape, same parameter layout). All
 * images start as one cohort; when their next stages disagree, the cohort is split by key
 * with a gather on the GPU (programs/gather.ts), each part its own batch. With p = 1
 * everywhere every image has the same stage sequence and the batch is never split: each
 * stage is one dispatch for the whole batch, whatever its per-image parameters.
 *
 * The input is either CPU images (uploaded at the first GPU stage) or a batch already on
 * the GPU, which the executor reads but never destroys (the training hook's batch, packed
 * from the tensor tfjs uploaded). With `fitTo`, every image ends at that shape as
 * rebalance-augment.ts' fitToInput would bring it there (a bilinear resize, then gray to
 * three channels), on the GPU. The results are pieces, one per final cohort, each with
 * the input positions of its images, so a caller can assemble them on the GPU in input
 * order (to-tensor.ts) or read them back.
 */
import { InvalidInputError } from '../../jobs/errors';
import type { PlannedStep, TransformRegistry } from '../pipeline';
import { TRANSFORMS } from '../registry';
import type { ImageU8 } from '../types';
import { gatherImages } from './programs/gather';
import { grayToRgbProgram } from './programs/gray-to-rgb';
import { LUT_LEVELS, lutProgram } from './programs/lut';
import { resizeProgram } from './programs/resize';
import { GPU_GLOBAL_TRANSFORMS, GPU_TRANSFORMS, type GpuGlobalTransform, type GpuTransform } from './registry';
import { dispatchProgram, readImages, uploadImages, type GpuImageBatch, type GpuProgram, type ImageShape } from './runner';
import type { CpuFallback } from '../../storage/stored-shapes';
export type { CpuFallback } from '../../storage/stored-shapes';

/**
 * Pointwise transforms that are one function of one byte, the same for every channel, so
 * a 256-entry table is exactly their kernel. (hue-saturation mixes channels and
 * gaussian-noise depends on the position: neither belongs here.)
 */
export const LUT_TRANSFORMS: ReadonlySet<string> = new Set(['brightness', 'contrast', 'gamma', 'threshold-binary', 'threshold-binary-inv']);

/** What a run did: how many GPU dispatches, how many steps went to the CPU and why, how often the batch was split. */
export interface ExecuteStats {
  /** Every program dispatch (lut, per-transform, fit, and each global kernel counted once per call). */
  dispatches: number;
  /** Of those, fused lookup-table dispatches. */
  lutDispatches: number;
  /** Pointwise steps folded into lookup tables, summed over images. */
  fusedSteps: number;
  /** Steps run on a CPU kernel (fallback), summed over images. */
  cpuSteps: number;
  /** The same steps by transform, with the reason. */
  cpuFallbacks: CpuFallback[];
  /** Times a cohort was split because its images' next stages differed. */
  splits: number;
  /** GPU gathers those splits made (a split of a batch held on the CPU needs none). */
  gathers: number;
  /** Uploads of images to the GPU (the first one included). */
  uploads: number;
  /**
   * Batches read back to the CPU in the middle of their plans (for a CPU step). The final
   * readback of executePlansGpu, which returns CPU images by design, is not counted.
   */
  readbacks: number;
}

export interface ExecuteOptions {
  /** The CPU transforms plans name; defaults to every registered transform. */
  registry?: TransformRegistry;
  /** Bring every result to this shape, as fitToInput does (bilinear resize, then gray to RGB). */
  fitTo?: ImageShape;
}

/** A finished cohort on the GPU: `slots[k]` is the input position of the batch's image k. */
export interface GpuPiece {
  batch: GpuImageBatch;
  slots: readonly number[];
}

/** The GPU results of a run; `release()` frees every buffer the run made (never the caller's input). */
export interface GpuPieces {
  pieces: GpuPiece[];
  stats: ExecuteStats;
  release(): void;
}

/** The step kernels the executor can use, keyed by transform name. */
interface Kernels {
  registry: TransformRegistry;
  gpu: ReadonlyMap<string, GpuTransform>;
  global: ReadonlyMap<string, GpuGlobalTransform>;
}

/** One image's progress through its plan. */
interface Member {
  /** Position in the caller's input. */
  index: number;
  plan: readonly PlannedStep[];
  /** Index of the next step of `plan` to run. */
  pos: number;
}

/** What an image does next; images whose stages have one key run as one batch. */
type Stage =
  | { kind: 'done'; key: string }
  | { kind: 'lut'; key: string; table: Uint8Array; steps: number }
  /** `steps` 0: a fit stage after the plan, which consumes no plan step. */
  | { kind: 'program'; key: string; program: GpuProgram<unknown>; params: unknown; steps: 0 | 1 }
  | { kind: 'global'; key: string; kernel: GpuGlobalTransform; params: unknown }
  | { kind: 'cpu'; key: string; step: PlannedStep; reason: string };

/**
 * A cohort's images live either in one GPU batch or as CPU images, in member order. A GPU
 * batch the executor did not make (the caller's input) is `owned: false` and never destroyed.
 */
type Holding = { where: 'gpu'; batch: GpuImageBatch; owned: boolean } | { where: 'cpu'; images: ImageU8[] };

/** A finished cohort: its members and their final images. */
interface Piece {
  members: number[];
  holding: Holding;
}

/** The ramp 0..255 as a 1-channel image, what a per-value kernel turns into its table. */
const RAMP: ImageU8 = { width: LUT_LEVELS, height: 1, channels: 1, data: Uint8Array.from({ length: LUT_LEVELS }, (_, v) => v) };

const NO_GPU_KERNEL = 'no GPU kernel';

function cpuKernel(kernels: Kernels, step: PlannedStep): (img: ImageU8) => ImageU8 {
  const def = kernels.registry.get(step.transform);
  if (!def) throw new InvalidInputError(`"${step.transform}" is not a known transform; the plan was drawn from another registry.`);
  return (img) => def.cpu(img, step.params);
}

function shapeKey(s: ImageShape): string {
  return `${s.width}x${s.height}x${s.channels}`;
}

function programStage<P>(program: GpuProgram<P>, params: P, shape: ImageShape, steps: 0 | 1): Stage {
  const out = program.outputShape(shape, params);
  // Same program, output shape and word count: what one dispatchProgram call requires.
  const words = program.paramWords(shape, out, params).length;
  return { kind: 'program', key: `program:${program.cacheKey}:${shapeKey(out)}:${words}`, program: program as GpuProgram<unknown>, params, steps };
}

/**
 * The stage that brings a finished image of `shape` towards `fitTo`, or null when it is
 * there: fitToInput's order, a bilinear resize first, then one channel into three.
 */
function fitStage(shape: ImageShape, fitTo: ImageShape): Stage | null {
  if (shape.width !== fitTo.width || shape.height !== fitTo.height) {
    return programStage(resizeProgram, { width: fitTo.width, height: fitTo.height, interpolation: 'bilinear' }, shape, 0);
  }
  if (shape.channels === fitTo.channels) return null;
  if (shape.channels !== 1) {
    throw new InvalidInputError(
      `The pipeline makes ${shape.channels}-channel images but the project stores ${fitTo.channels} channel(s): remove the colour step that adds channels.`,
    );
  }
  return programStage(grayToRgbProgram, undefined, shape, 0);
}

/** The next stage of `member` for an input of `shape` (see the fusion rules above). */
function nextStage(kernels: Kernels, member: Member, shape: ImageShape, fitTo: ImageShape | undefined): Stage {
  const { plan } = member;
  const first = plan[member.pos];
  if (!first) return (fitTo && fitStage(shape, fitTo)) || { kind: 'done', key: 'done' };
  if (LUT_TRANSFORMS.has(first.transform)) {
    let table: Uint8Array = RAMP.data;
    let end = member.pos;
    for (let step = plan[end]; step && LUT_TRANSFORMS.has(step.transform); step = plan[++end]) {
      const stepTable = cpuKernel(kernels, step)(RAMP).data;
      table = table.map((v) => stepTable[v] as number);
    }
    return { kind: 'lut', key: 'lut', table, steps: end - member.pos };
  }
  const gpu = kernels.gpu.get(first.transform);
  if (gpu && (gpu.supports?.(first.params, shape) ?? true)) return programStage(gpu.program, gpu.programParams(first.params, shape), shape, 1);
  const global = kernels.global.get(first.transform);
  if (global) return { kind: 'global', key: `global:${first.transform}`, kernel: global, params: first.params };
  // Any CPU step can share a read-back with any other: they run per image anyway.
  return { kind: 'cpu', key: 'cpu', step: first, reason: gpu?.unsupportedReason ?? NO_GPU_KERNEL };
}

function groupBy<T>(items: readonly T[], key: (item: T, i: number) => string): Map<string, number[]> {
  const groups = new Map<string, number[]>();
  items.forEach((item, i) => {
    const k = key(item, i);
    const list = groups.get(k);
    if (list) list.push(i);
    else groups.set(k, [i]);
  });
  return groups;
}

function destroyIfOwned(holding: Holding): void {
  if (holding.where === 'gpu' && holding.owned) holding.batch.buffer.destroy();
}

class Executor {
  readonly stats: ExecuteStats = { dispatches: 0, lutDispatches: 0, fusedSteps: 0, cpuSteps: 0, cpuFallbacks: [], splits: 0, gathers: 0, uploads: 0, readbacks: 0 };
  readonly pieces: Piece[] = [];

  constructor(
    private readonly device: GPUDevice,
    private readonly kernels: Kernels,
    private readonly fitTo: ImageShape | undefined,
  ) {}

  upload(images: readonly ImageU8[]): GpuImageBatch {
    this.stats.uploads++;
    return uploadImages(this.device, images, 'augment-execute:input');
  }

  private async toCpu(holding: Holding): Promise<ImageU8[]> {
    if (holding.where === 'cpu') return holding.images;
    this.stats.readbacks++;
    try {
      return await readImages(this.device, holding.batch);
    } finally {
      destroyIfOwned(holding);
    }
  }

  /** Replaces a batch by the next one, freeing the old one (if it is ours) even when the dispatch fails. */
  private async step(holding: Holding, run: (batch: GpuImageBatch) => Promise<GpuImageBatch>): Promise<Holding> {
    const current: Holding = holding.where === 'gpu' ? holding : { where: 'gpu', batch: this.upload(holding.images), owned: true };
    try {
      return { where: 'gpu', batch: await run(current.batch), owned: true };
    } finally {
      destroyIfOwned(current);
    }
  }

  private noteCpu(step: PlannedStep, reason: string): void {
    this.stats.cpuSteps++;
    const known = this.stats.cpuFallbacks.find((f) => f.transform === step.transform && f.reason === reason);
    if (known) known.steps++;
    else this.stats.cpuFallbacks.push({ transform: step.transform, reason, steps: 1 });
  }

  /** Runs `members` (whose images are `holding`) to the end of their plans. Owns `holding` from here on. */
  async run(members: Member[], holding: Holding): Promise<void> {
    let current = holding;
    try {
      for (;;) {
        if (current.where === 'cpu') {
          // A CPU step may change sizes per image (a crop); one GPU batch has one size.
          const images = current.images;
          const byShape = groupBy(images, shapeKey);
          if (byShape.size > 1) {
            this.stats.splits++;
            for (const idx of byShape.values()) {
              await this.run(idx.map((i) => members[i] as Member), { where: 'cpu', images: idx.map((i) => images[i] as ImageU8) });
            }
            return;
          }
        }
        const shape: ImageShape = current.where === 'gpu' ? current.batch.shape : (current.images[0] as ImageU8);
        const stages = members.map((m) => nextStage(this.kernels, m, shape, this.fitTo));
        const byKey = groupBy(stages, (s) => s.key);
        if (byKey.size > 1) {
          this.stats.splits++;
          const groups = [...byKey.values()];
          if (current.where === 'gpu') {
            const parts: { idx: number[]; batch: GpuImageBatch }[] = [];
            try {
              for (const idx of groups) {
                parts.push({ idx, batch: await gatherImages(this.device, current.batch, idx) });
                this.stats.gathers++;
              }
            } catch (err) {
              for (const part of parts) part.batch.buffer.destroy();
              throw err;
            }
            destroyIfOwned(current);
            // Every part is handed to its own run, which owns it from then on.
            current = { where: 'cpu', images: [] };
            for (let k = 0; k < parts.length; k++) {
              const { idx, batch } = parts[k] as { idx: number[]; batch: GpuImageBatch };
              try {
                await this.run(idx.map((i) => members[i] as Member), { where: 'gpu', batch, owned: true });
              } catch (err) {
                for (const rest of parts.slice(k + 1)) rest.batch.buffer.destroy();
                throw err;
              }
            }
          } else {
            const images = current.images;
            for (const idx of groups) {
              await this.run(idx.map((i) => members[i] as Member), { where: 'cpu', images: idx.map((i) => images[i] as ImageU8) });
            }
          }
          return;
        }
        const first = stages[0] as Stage;
        switch (first.kind) {
          case 'done':
            this.pieces.push({ members: members.map((m) => m.index), holding: current });
            current = { where: 'cpu', images: [] };
            return;
          case 'lut': {
            const lutStages = stages as Extract<Stage, { kind: 'lut' }>[];
            current = await this.step(current, (batch) => dispatchProgram(this.device, lutProgram, batch, lutStages.map((s) => ({ table: s.table }))));
            this.stats.dispatches++;
            this.stats.lutDispatches++;
            lutStages.forEach((s, i) => {
              (members[i] as Member).pos += s.steps;
              this.stats.fusedSteps += s.steps;
            });
            break;
          }
          case 'program': {
            const params = (stages as Extract<Stage, { kind: 'program' }>[]).map((s) => s.params);
            current = await this.step(current, (batch) => dispatchProgram(this.device, first.program, batch, params));
            this.stats.dispatches++;
            for (const m of members) m.pos += first.steps;
            break;
          }
          case 'global': {
            const params = (stages as Extract<Stage, { kind: 'global' }>[]).map((s) => s.params);
            current = await this.step(current, (batch) => first.kernel.run(this.device, batch, params));
            this.stats.dispatches++;
            for (const m of members) m.pos++;
            break;
          }
          case 'cpu': {
            const images = await this.toCpu(current);
            current = { where: 'cpu', images: [] };
            const cpuStages = stages as Extract<Stage, { kind: 'cpu' }>[];
            current = {
              where: 'cpu',
              images: images.map((img, i) => {
                const stage = cpuStages[i] as Extract<Stage, { kind: 'cpu' }>;
                this.noteCpu(stage.step, stage.reason);
                return cpuKernel(this.kernels, stage.step)(img);
              }),
            };
            for (const m of members) m.pos++;
            break;
          }
        }
      }
    } catch (err) {
      destroyIfOwned(current);
      throw err;
    }
  }

  /** Frees every GPU batch still held (after a failure, or once results are read). */
  release(): void {
    for (const piece of this.pieces) destroyIfOwned(piece.holding);
    this.pieces.length = 0;
  }
}

function checkImages(images: readonly ImageU8[], plans: readonly (readonly PlannedStep[])[]): void {
  if (images.length !== plans.length) throw new InvalidInputError(`${images.length} images but ${plans.length} plans; draw one plan per image.`);
  const first = images[0];
  if (!first) throw new InvalidInputError('No images to augment: pass at least one image.');
  images.forEach((img, i) => {
    if (img.width !== first.width || img.height !== first.height || img.channels !== first.channels || img.data.length !== img.width * img.height * img.channels) {
      throw new InvalidInputError(
        `Image ${i} is ${img.width}×${img.height}×${img.channels} (${img.data.length} bytes) but image 0 is ${first.width}×${first.height}×${first.channels}: a GPU batch has one size; resize first.`,
      );
    }
  });
}

/** CPU images, or a batch already on the GPU (read, never destroyed). */
export type ExecuteInput = readonly ImageU8[] | GpuImageBatch;

function isGpuBatch(input: ExecuteInput): input is GpuImageBatch {
  return !Array.isArray(input);
}

async function execute(device: GPUDevice, input: ExecuteInput, plans: readonly (readonly PlannedStep[])[], opts: ExecuteOptions): Promise<Executor> {
  let holding: Holding;
  if (isGpuBatch(input)) {
    if (input.count !== plans.length) throw new InvalidInputError(`${input.count} images but ${plans.length} plans; draw one plan per image.`);
    if (input.count === 0) throw new InvalidInputError('No images to augment: pass at least one image.');
    holding = { where: 'gpu', batch: input, owned: false };
  } else {
    const images = input as readonly ImageU8[];
    checkImages(images, plans);
    // Starting on the CPU costs nothing: the first GPU stage uploads, and a plan that
    // starts with a CPU step (or is empty) never uploads at all.
    holding = { where: 'cpu', images: [...images] };
  }
  const executor = new Executor(device, { registry: opts.registry ?? TRANSFORMS, gpu: GPU_TRANSFORMS, global: GPU_GLOBAL_TRANSFORMS }, opts.fitTo);
  const members = plans.map((plan, index) => ({ index, plan, pos: 0 }));
  try {
    await executor.run(members, holding);
  } catch (err) {
    executor.release();
    throw err;
  }
  return executor;
}

/** Like `executePlansGpu`, with what the run did (dispatch counts, CPU fallbacks, splits). */
export async function executePlansGpuWithStats(
  device: GPUDevice,
  images: ExecuteInput,
  plans: readonly (readonly PlannedStep[])[],
  opts: ExecuteOptions = {},
): Promise<{ images: ImageU8[]; stats: ExecuteStats }> {
  const executor = await execute(device, images, plans, opts);
  try {
    const out = new Array<ImageU8>(plans.length);
    for (const piece of executor.pieces) {
      const done = piece.holding.where === 'gpu' ? await readImages(device, piece.holding.batch) : piece.holding.images;
      piece.members.forEach((index, i) => (out[index] = done[i] as ImageU8));
    }
    return { images: out, stats: executor.stats };
  } finally {
    executor.release();
  }
}

/**
 * Applies `plans[i]` to image i (all one shape) on `device`, fused as described at the
 * top of this module, and reads the results back. Throws InvalidInputError for mismatched
 * inputs and GpuProgramError when the GPU rejects a program.
 */
export async function executePlansGpu(
  device: GPUDevice,
  images: ExecuteInput,
  plans: readonly (readonly PlannedStep[])[],
  opts: ExecuteOptions = {},
): Promise<ImageU8[]> {
  return (await executePlansGpuWithStats(device, images, plans, opts)).images;
}

/**
 * The same, leaving the results on the GPU as pieces for training: images that finished
 * on the CPU (after a CPU step) are uploaded, so every piece is a GPU batch. The caller
 * assembles them (to-tensor.ts' gpuPiecesToTensor) and then calls `release()`.
 */
export async function executePlansGpuToPieces(
  device: GPUDevice,
  input: ExecuteInput,
  plans: readonly (readonly PlannedStep[])[],
  opts: ExecuteOptions = {},
): Promise<GpuPieces> {
  const executor = await execute(device, input, plans, opts);
  try {
    for (const piece of executor.pieces) {
      if (piece.holding.where === 'cpu') piece.holding = { where: 'gpu', batch: executor.upload(piece.holding.images), owned: true };
    }
  } catch (err) {
    executor.release();
    throw err;
  }
  const pieces: GpuPiece[] = executor.pieces.map((p) => ({ batch: (p.holding as Extract<Holding, { where: 'gpu' }>).batch, slots: p.members }));
  return { pieces, stats: executor.stats, release: () => executor.release() };
}
