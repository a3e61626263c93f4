/**
 * Fused GPU execution of drawn pipeline plans (gpu/execute.ts) on Dawn over SwiftShader:
 * the bytes equal the CPU reference (applyPlanCpu) on seeded random 6-step pipelines of
 * the registry's non-mixing transforms, 1- and 3-channel; pointwise runs fuse into one
 * lookup-table dispatch; unsupported steps fall back to the CPU; per-image plans that
 * diverge split the batch and still give the CPU bytes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installDawnGpu } from './helpers/dawn';
import { Rng } from '../../src/lib/data/rng';
import { applyPlanCpu, planPipeline, type PipelineSpec, type PlannedStep } from '../../src/lib/augment/pipeline';
import { TRANSFORMS } from '../../src/lib/augment/registry';
import { executePlansGpu, executePlansGpuToPieces, executePlansGpuWithStats, LUT_TRANSFORMS } from '../../src/lib/augment/gpu/execute';
import { fitToInput } from '../../src/lib/augment/apply';
import { readImages, uploadImages } from '../../src/lib/augment/gpu/runner';
import type { ImageU8 } from '../../src/lib/augment/types';

const dawn = await installDawnGpu();
if (!dawn.ok) console.warn(`augment-execute: GPU tests skipped: ${dawn.reason}`);
// device.ts imports tfjs, whose WebGPU backend registers only if navigator.gpu exists at import.
const deviceModule = await import('../../src/lib/augment/gpu/device');

/** Specs that draw non-trivial parameters; the warps keep bilinear, the GPU kernel's interpolation. */
const SPECS: Readonly<Record<string, Record<string, unknown>>> = {
  'threshold-binary': { thresholdRange: [40, 200], maxValueRange: [100, 255] },
  'threshold-binary-inv': { thresholdRange: [40, 200], maxValueRange: [100, 255] },
  'threshold-otsu': { maxValueRange: [100, 255] },
  'threshold-otsu-inv': { maxValueRange: [100, 255] },
  flip: { mode: 'both' },
  rotate: { angleRange: [-30, 30], border: 'reflect101' },
  translate: { shiftXRange: [-0.2, 0.2], shiftYRange: [-0.1, 0.1], border: 'replicate' },
  shear: { shearXRange: [-15, 15], shearYRange: [-5, 5], border: 'constant', borderValue: 77 },
  scale: { scaleRange: [0.8, 1.25], border: 'reflect' },
  affine: { angleRange: [-10, 10], scaleRange: [0.9, 1.1], shiftXRange: [-0.05, 0.05], shearXRange: [-5, 5] },
  resize: { scaleRange: [0.5, 1.5], interpolation: 'area' },
  crop: { width: 24, height: 20 },
  box: { ksizeRange: [3, 7] },
  'gaussian-blur': { ksizeRange: [3, 9], sigmaRange: [0.5, 2] },
  median: { ksizeRange: [3, 5] },
  bilateral: { dRange: [3, 7], sigmaColorRange: [10, 50], sigmaSpaceRange: [1, 5] },
};

const NON_MIXING = [...TRANSFORMS.values()].filter((d) => d.kind !== 'mixing').map((d) => d.name);
const LUT_NAMES = [...LUT_TRANSFORMS];
const WIDTH = 37;
const HEIGHT = 29;
const BATCH = 5;

function randomImage(rng: Rng, channels: 1 | 3): ImageU8 {
  const data = new Uint8Array(WIDTH * HEIGHT * channels);
  for (let i = 0; i < data.length; i++) data[i] = rng.int(256);
  return { width: WIDTH, height: HEIGHT, channels, data };
}

function plansFor(spec: PipelineSpec, images: readonly ImageU8[], seed: number): PlannedStep[][] {
  return images.map((img, i) => planPipeline(spec, TRANSFORMS, seed * 1000 + i, img));
}

/**
 * A seeded 6-step pipeline of non-mixing transforms that the CPU path accepts for these
 * images (colour conversions need 3 channels, so a draw the CPU refuses is drawn again).
 */
function randomPipeline(rng: Rng, images: readonly ImageU8[], seed: number, pointwiseShare: number): { spec: PipelineSpec; plans: PlannedStep[][]; expected: ImageU8[] } {
  for (let attempt = 0; attempt < 200; attempt++) {
    const steps = Array.from({ length: 6 }, () => {
      const pool = rng.next() < pointwiseShare ? LUT_NAMES : NON_MIXING;
      const transform = pool[rng.int(pool.length)] as string;
      return { transform, params: SPECS[transform] ?? {} };
    });
    const spec: PipelineSpec = { version: 1, steps };
    try {
      const plans = plansFor(spec, images, seed);
      const expected = images.map((img, i) => applyPlanCpu(img, plans[i] as PlannedStep[], TRANSFORMS));
      return { spec, plans, expected };
    } catch {
      // Refused for this channel count: draw again from the same seeded stream.
    }
  }
  throw new Error('no valid pipeline in 200 draws');
}

let device: GPUDevice | null = null;

beforeAll(async () => {
  if (dawn.ok) device = (await deviceModule.acquireGpuDevice()).device;
});
afterAll(async () => {
  await deviceModule.releaseGpuDevice();
});

describe.skipIf(!dawn.ok)('executePlansGpu on Dawn', () => {
  const gpu = (): GPUDevice => {
    if (!device) throw new Error('no device');
    return device;
  };

  // Half the cases draw half their steps from the per-value pointwise ones, so runs to fuse are common.
  const CASES = ([1, 3] as const).flatMap((channels) =>
    [0, 1, 2, 3, 4, 5, 6, 7].map((k) => ({ channels, seed: channels * 100 + k, pointwiseShare: k < 4 ? 0 : 0.5 })),
  );
  it.each(CASES)('random 6-step pipeline, $channels channel(s), seed $seed: same bytes as applyPlanCpu', async ({ channels, seed, pointwiseShare }) => {
    const rng = new Rng(seed);
    const images = Array.from({ length: BATCH }, () => randomImage(rng, channels));
    const { spec, plans, expected } = randomPipeline(rng, images, seed, pointwiseShare);
    const { images: got, stats } = await executePlansGpuWithStats(gpu(), images, plans);
    const names = spec.steps.map((s) => s.transform).join(', ');
    got.forEach((img, i) => {
      const want = expected[i] as ImageU8;
      expect({ w: img.width, h: img.height, c: img.channels }, names).toEqual({ w: want.width, h: want.height, c: want.channels });
      expect(Buffer.from(img.data).equals(Buffer.from(want.data)), `${names}: image ${i} differs`).toBe(true);
    });
    // Unsplit and all on the GPU: one dispatch per non-pointwise step plus one per run of pointwise steps.
    const plan = plans[0] as PlannedStep[];
    const lutSteps = plan.filter((s) => LUT_TRANSFORMS.has(s.transform)).length;
    const lutRuns = plan.filter((s, i) => LUT_TRANSFORMS.has(s.transform) && !LUT_TRANSFORMS.has(plan[i - 1]?.transform ?? '')).length;
    expect(stats.fusedSteps, names).toBe(lutSteps * BATCH);
    if (stats.splits === 0 && stats.cpuSteps === 0) expect(stats.dispatches, names).toBe(plan.length - lutSteps + lutRuns);
  });

  it('fuses brightness, contrast, gamma and a threshold into one lookup-table dispatch, warps kept apart', async () => {
    const rng = new Rng(7);
    const images = Array.from({ length: 4 }, () => randomImage(rng, 3));
    const spec: PipelineSpec = {
      version: 1,
      steps: [
        { transform: 'brightness', params: { betaRange: [-40, 40] } },
        { transform: 'contrast', params: { alphaRange: [0.6, 1.6] } },
        { transform: 'gamma' },
        { transform: 'rotate', params: { angleRange: [-20, 20] } },
        { transform: 'rotate', params: { angleRange: [-20, 20] } },
        { transform: 'gamma' },
        { transform: 'threshold-binary-inv', params: { thresholdRange: [60, 180] } },
      ],
    };
    const plans = plansFor(spec, images, 7);
    const { images: got, stats } = await executePlansGpuWithStats(gpu(), images, plans);
    expect(got).toEqual(images.map((img, i) => applyPlanCpu(img, plans[i] as PlannedStep[], TRANSFORMS)));
    // lut(3 steps), rotate, rotate, lut(2 steps): four dispatches for seven steps.
    expect(stats).toMatchObject({ dispatches: 4, lutDispatches: 2, fusedSteps: 5 * 4, cpuSteps: 0, splits: 0, uploads: 1 });
  });

  it('runs a nearest-neighbour warp on the CPU between GPU steps', async () => {
    const rng = new Rng(8);
    const images = Array.from({ length: 3 }, () => randomImage(rng, 3));
    const spec: PipelineSpec = {
      version: 1,
      steps: [
        { transform: 'flip', params: { mode: 'horizontal' } },
        { transform: 'rotate', params: { angleRange: [-20, 20], interpolation: 'nearest' } },
        { transform: 'brightness' },
      ],
    };
    const plans = plansFor(spec, images, 8);
    const { images: got, stats } = await executePlansGpuWithStats(gpu(), images, plans);
    expect(got).toEqual(images.map((img, i) => applyPlanCpu(img, plans[i] as PlannedStep[], TRANSFORMS)));
    expect(stats).toMatchObject({ dispatches: 2, cpuSteps: 3, uploads: 2, readbacks: 1 });
    // The report names the step that left the GPU, and why.
    expect(stats.cpuFallbacks).toEqual([{ transform: 'rotate', reason: expect.stringMatching(/nearest-neighbour/), steps: 3 }]);
  });

  it('splits a batch whose plans diverge (p < 1) and still gives the CPU bytes', async () => {
    const rng = new Rng(9);
    const images = Array.from({ length: 8 }, () => randomImage(rng, 3));
    const spec: PipelineSpec = {
      version: 1,
      steps: [
        { transform: 'flip', p: 0.5, params: { mode: 'vertical' } },
        { transform: 'gaussian-blur', p: 0.5, params: { ksizeRange: [3, 5], sigmaRange: [0.5, 1.5] } },
        { transform: 'contrast', p: 0.5 },
        { transform: 'resize', p: 0.5, params: { scaleRange: [0.5, 1.5] } },
      ],
    };
    const plans = plansFor(spec, images, 9);
    const { images: got, stats } = await executePlansGpuWithStats(gpu(), images, plans);
    expect(got).toEqual(images.map((img, i) => applyPlanCpu(img, plans[i] as PlannedStep[], TRANSFORMS)));
    expect(stats.splits).toBeGreaterThan(0);
    // Split on the GPU: gathers, never a readback.
    expect(stats.gathers).toBeGreaterThan(0);
    expect(stats.readbacks).toBe(0);
    expect(stats.cpuSteps).toBe(0);
  });

  it('leaves results on the GPU as pieces that cover every input position once, equal to the CPU path', async () => {
    const rng = new Rng(10);
    const images = Array.from({ length: 7 }, () => randomImage(rng, 1));
    const spec: PipelineSpec = {
      version: 1,
      steps: [{ transform: 'gamma' }, { transform: 'flip', p: 0.5, params: { mode: 'both' } }, { transform: 'box', p: 0.5, params: { ksizeRange: 3 } }],
    };
    const plans = plansFor(spec, images, 10);
    const expected = images.map((img, i) => applyPlanCpu(img, plans[i] as PlannedStep[], TRANSFORMS));
    const run = await executePlansGpuToPieces(gpu(), images, plans);
    try {
      expect(run.pieces.length).toBeGreaterThan(1);
      const slots = run.pieces.flatMap((p) => [...p.slots]).sort((a, b) => a - b);
      expect(slots).toEqual(images.map((_, i) => i));
      for (const piece of run.pieces) {
        const got = await readImages(gpu(), piece.batch);
        piece.slots.forEach((slot, k) => expect(got[k]).toEqual(expected[slot]));
      }
      expect(run.stats.readbacks).toBe(0);
    } finally {
      run.release();
    }
  });

  it('starts from a batch already on the GPU, which it reads but never destroys', async () => {
    const rng = new Rng(12);
    const images = Array.from({ length: 5 }, () => randomImage(rng, 3));
    const spec: PipelineSpec = {
      version: 1,
      steps: [
        { transform: 'brightness', p: 0.5 },
        { transform: 'rotate', p: 0.5, params: { angleRange: [-20, 20] } },
        { transform: 'hue-saturation' },
      ],
    };
    const plans = plansFor(spec, images, 12);
    const source = uploadImages(gpu(), images);
    try {
      const { images: got, stats } = await executePlansGpuWithStats(gpu(), source, plans);
      expect(got).toEqual(images.map((img, i) => applyPlanCpu(img, plans[i] as PlannedStep[], TRANSFORMS)));
      expect(stats).toMatchObject({ uploads: 0, readbacks: 0, cpuSteps: 0 });
      // Still the caller's, intact.
      expect(await readImages(gpu(), source)).toEqual(images);
      // Empty plans hand the source itself back as the only piece; release leaves it alone.
      const run = await executePlansGpuToPieces(gpu(), source, images.map(() => []));
      expect(run.pieces).toHaveLength(1);
      expect(run.pieces[0]?.batch).toBe(source);
      run.release();
      expect(await readImages(gpu(), source)).toEqual(images);
    } finally {
      source.buffer.destroy();
    }
  });

  it('brings every result to the project input on the GPU as fitToInput does (resize, then gray to RGB)', async () => {
    const rng = new Rng(13);
    const images = Array.from({ length: 6 }, () => randomImage(rng, 3));
    const shape = { width: WIDTH, height: HEIGHT, channels: 3 as const };
    const spec: PipelineSpec = {
      version: 1,
      steps: [
        { transform: 'crop', p: 0.5, params: { width: 24, height: 20 } },
        { transform: 'resize', p: 0.7, params: { scaleRange: [0.5, 1.5] } },
        { transform: 'to-gray', p: 0.5 },
      ],
    };
    const plans = plansFor(spec, images, 13);
    const expected = images.map((img, i) => fitToInput(applyPlanCpu(img, plans[i] as PlannedStep[], TRANSFORMS), shape));
    const { images: got, stats } = await executePlansGpuWithStats(gpu(), images, plans, { fitTo: shape });
    got.forEach((img, i) => expect(Buffer.from(img.data).equals(Buffer.from((expected[i] as ImageU8).data)), `image ${i}`).toBe(true));
    expect(got.every((img) => img.width === WIDTH && img.height === HEIGHT && img.channels === 3)).toBe(true);
    expect(stats).toMatchObject({ cpuSteps: 0, readbacks: 0 });
    // A result with more channels than the project stores is refused, as fitToInput refuses it.
    const gray = images.map((img) => ({ ...img, channels: 1 as const, data: img.data.subarray(0, WIDTH * HEIGHT) }));
    const toColour: PipelineSpec = { version: 1, steps: [{ transform: 'hsv-to-rgb' }] };
    await expect(executePlansGpu(gpu(), gray, plansFor({ version: 1, steps: [] }, gray, 1), { fitTo: { ...shape, channels: 1 } })).resolves.toHaveLength(6);
    await expect(executePlansGpu(gpu(), images, plansFor(toColour, images, 1), { fitTo: { ...shape, channels: 1 } })).rejects.toMatchObject({
      name: 'InvalidInputError',
    });
  });

  it('refuses images of different sizes and a plan count that does not match', async () => {
    const rng = new Rng(11);
    const a = randomImage(rng, 3);
    const b: ImageU8 = { width: 2, height: 2, channels: 3, data: new Uint8Array(12) };
    await expect(executePlansGpu(gpu(), [a, b], [[], []])).rejects.toMatchObject({ name: 'InvalidInputError' });
    await expect(executePlansGpu(gpu(), [a], [])).rejects.toMatchObject({ name: 'InvalidInputError' });
  });
});
