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
 *     GPU kernel (the mixing transforms, whose partner is not in the batch) runs on its
 *     CPU kernel: the batch is read back, the step runs per image, and the batch is
 *     uploaded again before the next GPU step.
 *
 * Plans differ per image (each step fires with its own probability), so the images move
 * through the plans as cohorts: a cohort is a set of images on one GPU buffer whose next
 * stages have the same key (same program, same output shape, same parameter layout). All
 * images start as one cohort; when their next stages disagree, the cohort is read back
 * and split by key, each part uploaded as its own batch. With p = 1 everywhere every
 * image has the same stage sequence and the batch is never split: each stage is one
 * dispatch for the whole batch, whatever its per-image parameters.
 */
import { InvalidInputError } from '../../jobs/errors';
import type { PlannedStep, TransformRegistry } from '../pipeline';
import { TRANSFORMS } from '../registry';
import type { ImageU8 } from '../types';
import { LUT_LEVELS, lutProgram } from './programs/lut';
import { GPU_GLOBAL_TRANSFORMS, GPU_TRANSFORMS, type GpuGlobalTransform, type GpuTransform } from './registry';
import { dispatchProgram, readImages, uploadImages, type GpuImageBatch, type GpuProgram, type ImageShape } from './runner';

/**
 * Pointwise transforms that are one function of one byte, the same for every channel, so
 * a 256-entry table is exactly their kernel. (hue-saturation mixes channels and
 * gaussian-noise depends on the position: neither belongs here.)
 */
export const LUT_TRANSFORMS: ReadonlySet<string> = new Set(['brightness', 'contrast', 'gamma', 'threshold-binary', 'threshold-binary-inv']);

/** What a run did: how many GPU dispatches, how many steps went to the CPU, and why the batch was split. */
export interface ExecuteStats {
  /** Every program dispatch (lut, per-transform and each dispatch inside a global kernel counted once per call). */
  dispatches: number;
  /** Of those, fused lookup-table dispatches. */
  lutDispatches: number;
  /** Pointwise steps folded into lookup tables, summed over images. */
  fusedSteps: number;
  /** Steps run on a CPU kernel (fallback), summed over images. */
  cpuSteps: number;
  /** Times a cohort was split because its images' next stages differed. */
  splits: number;
  /** Uploads of images to the GPU (the first one included). */
  uploads: number;
}

export interface ExecuteOptions {
  /** The CPU transforms plans name; defaults to every registered transform. */
  registry?: TransformRegistry;
}

/** The step kernels the executor can use, keyed by transform name. */
interface Kernels {
  registry: TransformRegistry;
  gpu: ReadonlyMap<string, GpuTransform>;
  global: ReadonlyMap<string, GpuGlobalTransform>;
}

/** One image's progress through its plan. */
interface Member {
  /** Position in the caller's `images`. */
  index: number;
  plan: readonly PlannedStep[];
  /** Index of the next step of `plan` to run. */
  pos: number;
}

/** What an image does next; images whose stages have one key run as one batch. */
type Stage =
  | { kind: 'done'; key: string }
  | { kind: 'lut'; key: string; table: Uint8Array; steps: number }
  | { kind: 'program'; key: string; program: GpuProgram<unknown>; params: unknown }
  | { kind: 'global'; key: string; kernel: GpuGlobalTransform; params: unknown }
  | { kind: 'cpu'; key: string; step: PlannedStep };

/** A cohort's images live either in one GPU batch or as CPU images, in member order. */
type Holding = { where: 'gpu'; batch: GpuImageBatch } | { where: 'cpu'; images: ImageU8[] };

/** A finished cohort: its members and their final images. */
interface Piece {
  members: number[];
  holding: Holding;
}

/** The ramp 0..255 as a 1-channel image, what a per-value kernel turns into its table. */
const RAMP: ImageU8 = { width: LUT_LEVELS, height: 1, channels: 1, data: Uint8Array.from({ length: LUT_LEVELS }, (_, v) => v) };

function cpuKernel(kernels: Kernels, step: PlannedStep): (img: ImageU8) => ImageU8 {
  const def = kernels.registry.get(step.transform);
  if (!def) throw new InvalidInputError(`"${step.transform}" is not a known transform; the plan was drawn from another registry.`);
  return (img) => def.cpu(img, step.params);
}

function shapeKey(s: ImageShape): string {
  return `${s.width}x${s.height}x${s.channels}`;
}

/** The next stage of `member` for an input of `shape` (see the fusion rules above). */
function nextStage(kernels: Kernels, member: Member, shape: ImageShape): Stage {
  const { plan } = member;
  const first = plan[member.pos];
  if (!first) return { kind: 'done', key: 'done' };
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
  if (gpu && (gpu.supports?.(first.params, shape) ?? true)) {
    const params = gpu.programParams(first.params, shape);
    const out = gpu.program.outputShape(shape, params);
    // Same program, output shape and word count: what one dispatchProgram call requires.
    const words = gpu.program.paramWords(shape, out, params).length;
    return { kind: 'program', key: `program:${gpu.program.cacheKey}:${shapeKey(out)}:${words}`, program: gpu.program, params };
  }
  const global = kernels.global.get(first.transform);
  if (global) return { kind: 'global', key: `global:${first.transform}`, kernel: global, params: first.params };
  // Any CPU step can share a read-back with any other: they run per image anyway.
  return { kind: 'cpu', key: 'cpu', step: first };
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

class Executor {
  readonly stats: ExecuteStats = { dispatches: 0, lutDispatches: 0, fusedSteps: 0, cpuSteps: 0, splits: 0, uploads: 0 };
  readonly pieces: Piece[] = [];

  constructor(
    private readonly device: GPUDevice,
    private readonly kernels: Kernels,
  ) {}

  private upload(images: readonly ImageU8[]): GpuImageBatch {
    this.stats.uploads++;
    return uploadImages(this.device, images, 'augment-execute:input');
  }

  private async toCpu(holding: Holding): Promise<ImageU8[]> {
    if (holding.where === 'cpu') return holding.images;
    try {
      return await readImages(this.device, holding.batch);
    } finally {
      holding.batch.buffer.destroy();
    }
  }

  /** Replaces a GPU batch by the next one, destroying the old one even when the dispatch fails. */
  private async step(holding: Holding, run: (batch: GpuImageBatch) => Promise<GpuImageBatch>): Promise<Holding> {
    const batch = holding.where === 'gpu' ? holding.batch : this.upload(holding.images);
    try {
      return { where: 'gpu', batch: await run(batch) };
    } finally {
      batch.buffer.destroy();
    }
  }

  /** Runs `members` (whose images are `holding`) to the end of their plans. */
  async run(members: Member[], holding: Holding): Promise<void> {
    for (;;) {
      if (holding.where === 'cpu') {
        // A CPU step may change sizes per image (a crop); one GPU batch has one size.
        const images = holding.images;
        const byShape = groupBy(images, shapeKey);
        if (byShape.size > 1) {
          this.stats.splits++;
          for (const idx of byShape.values()) {
            await this.run(idx.map((i) => members[i] as Member), { where: 'cpu', images: idx.map((i) => images[i] as ImageU8) });
          }
          return;
        }
      }
      const shape: ImageShape = holding.where === 'gpu' ? holding.batch.shape : (holding.images[0] as ImageU8);
      const stages = members.map((m) => nextStage(this.kernels, m, shape));
      const byKey = groupBy(stages, (s) => s.key);
      if (byKey.size > 1) {
        this.stats.splits++;
        const images = await this.toCpu(holding);
        for (const idx of byKey.values()) {
          await this.run(idx.map((i) => members[i] as Member), { where: 'cpu', images: idx.map((i) => images[i] as ImageU8) });
        }
        return;
      }
      const first = stages[0] as Stage;
      switch (first.kind) {
        case 'done':
          this.pieces.push({ members: members.map((m) => m.index), holding });
          return;
        case 'lut': {
          const lutStages = stages as Extract<Stage, { kind: 'lut' }>[];
          holding = await this.step(holding, (batch) => dispatchProgram(this.device, lutProgram, batch, lutStages.map((s) => ({ table: s.table }))));
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
          holding = await this.step(holding, (batch) => dispatchProgram(this.device, first.program, batch, params));
          this.stats.dispatches++;
          for (const m of members) m.pos++;
          break;
        }
        case 'global': {
          const params = (stages as Extract<Stage, { kind: 'global' }>[]).map((s) => s.params);
          holding = await this.step(holding, (batch) => first.kernel.run(this.device, batch, params));
          this.stats.dispatches++;
          for (const m of members) m.pos++;
          break;
        }
        case 'cpu': {
          const images = await this.toCpu(holding);
          const cpuStages = stages as Extract<Stage, { kind: 'cpu' }>[];
          holding = { where: 'cpu', images: images.map((img, i) => cpuKernel(this.kernels, (cpuStages[i] as Extract<Stage, { kind: 'cpu' }>).step)(img)) };
          this.stats.cpuSteps += members.length;
          for (const m of members) m.pos++;
          break;
        }
      }
    }
  }

  /** Frees every GPU batch still held (after a failure, or once results are read). */
  release(): void {
    for (const piece of this.pieces) if (piece.holding.where === 'gpu') piece.holding.batch.buffer.destroy();
    this.pieces.length = 0;
  }
}

function checkInputs(images: readonly ImageU8[], plans: readonly (readonly PlannedStep[])[]): void {
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

async function execute(device: GPUDevice, images: readonly ImageU8[], plans: readonly (readonly PlannedStep[])[], opts: ExecuteOptions): Promise<Executor> {
  checkInputs(images, plans);
  const executor = new Executor(device, { registry: opts.registry ?? TRANSFORMS, gpu: GPU_TRANSFORMS, global: GPU_GLOBAL_TRANSFORMS });
  const members = plans.map((plan, index) => ({ index, plan, pos: 0 }));
  try {
    // Starting on the CPU costs nothing: the first GPU stage uploads, and a plan that
    // starts with a CPU step (or is empty) never uploads at all.
    await executor.run(members, { where: 'cpu', images: [...images] });
  } catch (err) {
    executor.release();
    throw err;
  }
  return executor;
}

/** Like `executePlansGpu`, with what the run did (dispatch counts, CPU fallbacks, splits). */
export async function executePlansGpuWithStats(
  device: GPUDevice,
  images: readonly ImageU8[],
  plans: readonly (readonly PlannedStep[])[],
  opts: ExecuteOptions = {},
): Promise<{ images: ImageU8[]; stats: ExecuteStats }> {
  const executor = await execute(device, images, plans, opts);
  try {
    const out = new Array<ImageU8>(images.length);
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
 * Applies `plans[i]` to `images[i]` (all one shape) on `device`, fused as described at the
 * top of this module, and reads the results back. Throws InvalidInputError for mismatched
 * inputs and GpuProgramError when the GPU rejects a program.
 */
export async function executePlansGpu(
  device: GPUDevice,
  images: readonly ImageU8[],
  plans: readonly (readonly PlannedStep[])[],
  opts: ExecuteOptions = {},
): Promise<ImageU8[]> {
  return (await executePlansGpuWithStats(device, images, plans, opts)).images;
}

/**
 * The same, leaving the results on the GPU as one batch for training (the caller destroys
 * `batch.buffer`). Every result must have one shape; when the batch had to be split, the
 * parts are gathered through the CPU into one upload.
 */
export async function executePlansGpuToBatch(
  device: GPUDevice,
  images: readonly ImageU8[],
  plans: readonly (readonly PlannedStep[])[],
  opts: ExecuteOptions = {},
): Promise<{ batch: GpuImageBatch; stats: ExecuteStats }> {
  const executor = await execute(device, images, plans, opts);
  try {
    const only = executor.pieces.length === 1 ? executor.pieces[0] : undefined;
    if (only && only.holding.where === 'gpu') {
      // Members stay in input order within a cohort, so one unsplit cohort is the answer.
      const batch = only.holding.batch;
      executor.pieces.length = 0;
      return { batch, stats: executor.stats };
    }
    const out = new Array<ImageU8>(images.length);
    for (const piece of executor.pieces) {
      const done = piece.holding.where === 'gpu' ? await readImages(device, piece.holding.batch) : piece.holding.images;
      piece.members.forEach((index, i) => (out[index] = done[i] as ImageU8));
    }
    const shapes = new Set(out.map(shapeKey));
    if (shapes.size > 1) {
      throw new InvalidInputError(`The plans give images of different sizes (${[...shapes].join(', ')}); a training batch has one size. Add a resize step at the end.`);
    }
    executor.stats.uploads++;
    return { batch: uploadImages(device, out, 'augment-execute:output'), stats: executor.stats };
  } finally {
    executor.release();
  }
}
