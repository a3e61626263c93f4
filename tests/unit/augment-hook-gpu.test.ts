/**
 * The training hook's GPU path against its CPU path, inside real training runs: trainModel
 * on tfjs' WebGPU backend (Dawn over SwiftShader in Node) and on wasm, with the same
 * pipeline and seeds, sees the same augmented batches — byte for byte for exact kernels,
 * within 1 (bilateral.ts' stated GPU tolerance) for the bilateral filter — and the same
 * soft targets. On one backend the same seed gives the same weights twice, an epoch leaks
 * no tensor, and the report says which path ran and which steps fell back to the CPU.
 */
import 'fake-indexeddb/auto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installDawnGpu } from './helpers/dawn';
import { Rng } from '../../src/lib/data/rng';
import type { PipelineSpec } from '../../src/lib/augment/pipeline';
import type { InputSpec } from '../../src/lib/storage/records';
import { openHearthDb, type HearthDb } from '../../src/lib/storage/schema';
import { createProject } from '../../src/lib/storage/projects';
import { putSamples, type NewSample } from '../../src/lib/storage/samples';
import { createVersion } from '../../src/lib/storage/versions';

const dawn = await installDawnGpu();
if (!dawn.ok) console.warn(`augment-hook-gpu: GPU tests skipped: ${dawn.reason}`);
// tfjs' WebGPU backend registers only if navigator.gpu exists when it is imported.
const { tf } = await import('../../src/lib/compute/register');
const { useBackend } = await import('../../src/lib/compute/backends');
const { augmentationHook } = await import('../../src/lib/train/augment-hook');
const { buildModel } = await import('../../src/lib/train/models');
const { trainModel } = await import('../../src/lib/train/train');
const deviceModule = await import('../../src/lib/augment/gpu/device');
type HookBatch = import('../../src/lib/train/train').HookBatch;
type AugmentationReport = import('../../src/lib/train/augment-hook').AugmentationReport;

/** SwiftShader compiles every WGSL program on the CPU: the first run of a pipeline takes seconds. */
const GPU_TEST_TIMEOUT_MS = 240_000;
const INPUT: InputSpec = { width: 16, height: 16, channels: 3, resize: 'stretch' };
const CLASSES = ['a', 'b', 'c', 'd'];
const TRAIN = 20;
const CONFIG = {
  epochs: 2,
  batchSize: 8,
  optimizer: { kind: 'sgd' as const, lr: 0.05, momentum: 0.9, nesterov: false },
  weightDecay: 0,
  schedule: { kind: 'constant' as const },
  seed: 4,
};

/** Every step has a GPU kernel that gives the CPU kernel's bytes; p < 1 splits batches, crop + resize change sizes that the hook brings back. */
const EXACT: PipelineSpec = {
  version: 1,
  steps: [
    { transform: 'flip', p: 0.5, params: { mode: 'horizontal' } },
    { transform: 'rotate', params: { angleRange: [-25, 25], border: 'reflect101' } },
    { transform: 'brightness', p: 0.7, params: { betaRange: [-30, 30] } },
    { transform: 'hue-saturation', p: 0.5 },
    { transform: 'mixup', p: 0.5, params: { lambdaRange: [0.3, 0.7] } },
    { transform: 'crop', p: 0.5, params: { width: 12, height: 12 } },
    { transform: 'gaussian-blur', p: 0.3, params: { ksizeRange: [3, 5], sigmaRange: [0.5, 1.5] } },
  ],
};
const BILATERAL: PipelineSpec = {
  version: 1,
  steps: [{ transform: 'bilateral', params: { dRange: [3, 5], sigmaColorRange: [20, 60], sigmaSpaceRange: [1, 3] } }, { transform: 'cutmix', p: 0.5 }],
};
/** A nearest-neighbour warp has no GPU kernel: the one step that must leave the GPU. */
const NEAREST: PipelineSpec = { version: 1, steps: [{ transform: 'flip' }, { transform: 'rotate', params: { angleRange: [-20, 20], interpolation: 'nearest' } }] };

interface Run {
  /** The augmented input of every step, as bytes (value · 255). */
  batches: Uint8Array[];
  /** The soft targets of every step, when the pipeline mixes. */
  targets: Float32Array[];
  weights: Float32Array[];
  report: AugmentationReport;
  tensorsBefore: number;
  tensorsAfter: number;
}

let db: HearthDb;
let projectId = '';
let versionId = 0;

beforeAll(async () => {
  db = await openHearthDb(`augment-hook-gpu-${crypto.randomUUID()}`);
  const project = await createProject(db, { name: 'hook-gpu', input: INPUT, classes: CLASSES, attributes: [], source: 'test' });
  const rng = new Rng(17);
  const perImage = INPUT.width * INPUT.height * INPUT.channels;
  const samples: NewSample[] = Array.from({ length: TRAIN }, (_, i) => ({
    projectId: project.id,
    key: `train/${i}`,
    fileName: `${i}.png`,
    label: CLASSES[i % CLASSES.length] as string,
    split: 'train',
    attributes: {},
    provenance: { kind: 'real' },
    original: null,
    pixelsHwc: Uint8Array.from({ length: perImage }, () => rng.int(256)),
    createdAt: 0,
  }));
  await putSamples(db, samples);
  projectId = project.id;
  versionId = (await createVersion(db, project.id, { recipe: null, note: 'hook-gpu' })).id as number;
});
afterAll(async () => {
  db.close();
  await deviceModule.releaseGpuDevice();
});

/** Trains CONFIG with `pipeline` on `backend`, keeping what the hook handed the loop at every step. */
async function train(backend: 'webgpu' | 'wasm', pipeline: PipelineSpec): Promise<Run> {
  await useBackend(backend);
  const hook = augmentationHook(pipeline, { seed: 9, numClasses: CLASSES.length, input: INPUT });
  const batches: Uint8Array[] = [];
  const targets: Float32Array[] = [];
  const model = buildModel({ kind: 'lenet', input: INPUT, numClasses: CLASSES.length, seed: 3 });
  const tensorsBefore = tf.memory().numTensors;
  try {
    await trainModel(db, {
      projectId,
      versionId,
      model,
      config: CONFIG,
      hook: async (batch: HookBatch) => {
        const result = await hook.apply(batch);
        // A readback for the test only: the loop itself never reads the batch back.
        batches.push(Uint8Array.from(await (result.x as import('@tensorflow/tfjs').Tensor4D).data(), (v) => Math.round(v * 255)));
        if (result.targets) targets.push((await result.targets.data()) as Float32Array);
        return result;
      },
    });
    const tensorsAfter = tf.memory().numTensors;
    const weights = await Promise.all(model.model.getWeights().map(async (w) => (await w.data()) as Float32Array));
    return { batches, targets, weights, report: hook.report(), tensorsBefore, tensorsAfter };
  } finally {
    model.dispose();
  }
}

function maxAbsDiff(a: Uint8Array, b: Uint8Array): number {
  let worst = a.length === b.length ? 0 : Infinity;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs((a[i] as number) - (b[i] as number)));
  return worst;
}

describe.skipIf(!dawn.ok)('augmentation in training: WebGPU (Dawn) against wasm', () => {
  it(
    'an exact pipeline gives the same augmented batches and soft targets byte for byte, all on the GPU',
    async () => {
      const gpu = await train('webgpu', EXACT);
      const cpu = await train('wasm', EXACT);
      const steps = 2 * Math.ceil(TRAIN / CONFIG.batchSize);
      expect(gpu.batches).toHaveLength(steps);
      expect(cpu.batches).toHaveLength(steps);
      gpu.batches.forEach((b, i) => expect(Buffer.from(b).equals(Buffer.from(cpu.batches[i] as Uint8Array)), `step ${i}`).toBe(true));
      // mixup fired somewhere, and its soft targets are the same on both paths, rows summing to 1.
      expect(gpu.targets).toHaveLength(steps);
      gpu.targets.forEach((t, i) => expect(Array.from(t)).toEqual(Array.from(cpu.targets[i] as Float32Array)));
      const rows = gpu.targets.flatMap((t) => Array.from({ length: t.length / CLASSES.length }, (_, r) => Array.from(t.subarray(r * CLASSES.length, (r + 1) * CLASSES.length))));
      for (const row of rows) expect(row.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 6);
      expect(rows.some((row) => row.every((v) => v < 1))).toBe(true);
      // The reports: every step on its path, nothing back to the CPU on the GPU one.
      expect(gpu.report).toMatchObject({ path: 'gpu', gpuSteps: steps, cpuSteps: 0, stepsWithFallback: 0, fallbacks: [], readbacks: 0 });
      expect(gpu.report.dispatches).toBeGreaterThan(steps);
      expect(cpu.report).toMatchObject({ path: 'cpu', cpuSteps: steps, gpuSteps: 0 });
      expect(cpu.report.cpuPathReason).toMatch(/wasm/);
      // No tensor outlives the runs.
      expect(gpu.tensorsAfter).toBe(gpu.tensorsBefore);
      expect(cpu.tensorsAfter).toBe(cpu.tensorsBefore);
    },
    GPU_TEST_TIMEOUT_MS,
  );

  it(
    'bilateral stays within 1 of the CPU path; cutmix targets are the same',
    async () => {
      const gpu = await train('webgpu', BILATERAL);
      const cpu = await train('wasm', BILATERAL);
      gpu.batches.forEach((b, i) => expect(maxAbsDiff(b, cpu.batches[i] as Uint8Array), `step ${i}`).toBeLessThanOrEqual(1));
      gpu.targets.forEach((t, i) => expect(Array.from(t)).toEqual(Array.from(cpu.targets[i] as Float32Array)));
      expect(gpu.report.fallbacks).toEqual([]);
    },
    GPU_TEST_TIMEOUT_MS,
  );

  it(
    'the same seed gives the same weights twice on WebGPU; a nearest-neighbour warp is reported as a CPU fallback',
    async () => {
      const a = await train('webgpu', NEAREST);
      const b = await train('webgpu', NEAREST);
      a.weights.forEach((w, i) => {
        expect(w.every(Number.isFinite)).toBe(true);
        expect(Array.from(b.weights[i] as Float32Array)).toEqual(Array.from(w));
      });
      const steps = 2 * Math.ceil(TRAIN / CONFIG.batchSize);
      expect(a.report).toMatchObject({ path: 'gpu', gpuSteps: steps, stepsWithFallback: steps, readbacks: steps });
      expect(a.report.fallbacks).toEqual([{ transform: 'rotate', reason: expect.stringMatching(/nearest-neighbour/), steps: 2 * TRAIN }]);
      expect(a.tensorsAfter).toBe(a.tensorsBefore);
      // And the batches still equal the CPU path's.
      const cpu = await train('wasm', NEAREST);
      a.batches.forEach((batch, i) => expect(Buffer.from(batch).equals(Buffer.from(cpu.batches[i] as Uint8Array))).toBe(true));
    },
    GPU_TEST_TIMEOUT_MS,
  );
});
