/**
 * The on-the-fly augmentation hook, on the wasm backend (the one train.test.ts trains on):
 * reproducible per (seed, epoch, step, id), equal to the CPU reference applied sample by
 * sample, soft labels for mixup / cutmix, no tensor leaks, and a short trainModel run with it.
 */
import 'fake-indexeddb/auto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../src/lib/compute/backends';
import { tf } from '../../src/lib/compute/register';
import { cutmix, mixup, type CutmixParams, type MixupParams } from '../../src/lib/augment/mixing';
import { applyPlanCpu, planPipeline, type PipelineSpec } from '../../src/lib/augment/pipeline';
import { TRANSFORMS } from '../../src/lib/augment/registry';
import { augmentationHook, hookSampleSeed } from '../../src/lib/train/augment-hook';
import { Rng } from '../../src/lib/data/rng';
import type { InputSpec } from '../../src/lib/storage/records';
import { openHearthDb, type HearthDb } from '../../src/lib/storage/schema';
import { createProject } from '../../src/lib/storage/projects';
import { putSamples, type NewSample } from '../../src/lib/storage/samples';
import { createVersion } from '../../src/lib/storage/versions';
import { buildModel } from '../../src/lib/train/models';
import { trainModel, type HookBatch, type HookResult } from '../../src/lib/train/train';

const INPUT: InputSpec = { width: 16, height: 16, channels: 3, resize: 'stretch' };
const PIXELS = INPUT.width * INPUT.height * INPUT.channels;
const NUM_CLASSES = 4;
const BATCH = 6;

const GEOMETRIC: PipelineSpec = {
  version: 1,
  steps: [
    { transform: 'flip', p: 0.5 },
    { transform: 'rotate', params: { angleRange: [-30, 30] } },
    { transform: 'hue-saturation' },
    { transform: 'gaussian-noise', params: { sigmaRange: [3, 6] } },
  ],
};
const MIXUP: PipelineSpec = { version: 1, steps: [{ transform: 'brightness' }, { transform: 'mixup', params: { lambdaRange: [0.2, 0.8] } }] };
const CUTMIX: PipelineSpec = { version: 1, steps: [{ transform: 'cutmix' }] };

/** Seeded random images, bytes of the batch in HWC order. */
function images(seed: number, n: number): Uint8Array[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => Uint8Array.from({ length: PIXELS }, () => rng.int(256)));
}

/** A batch as trainModel builds it: pixels / 255. The caller disposes x and labels. */
function makeBatch(pixels: Uint8Array[], labels: number[], ids: number[], epoch: number, step: number): HookBatch {
  const values = new Float32Array(pixels.length * PIXELS);
  pixels.forEach((p, i) => p.forEach((v, j) => (values[i * PIXELS + j] = v / 255)));
  return {
    x: tf.tensor4d(values, [pixels.length, INPUT.height, INPUT.width, INPUT.channels]),
    labels: tf.tensor1d(labels, 'int32'),
    pixels,
    labelIndices: Int32Array.from(labels),
    ids: Uint32Array.from(ids),
    epoch,
    step,
  };
}

/** The tensors a hook returned, which the training loop would own and dispose. */
function returned(result: HookResult): tf.Tensor[] {
  const owned: tf.Tensor[] = [];
  for (const t of [result.x, result.targets, result.weights]) if (t) owned.push(t);
  return owned;
}

async function bytesOf(x: tf.Tensor4D): Promise<Uint8Array[]> {
  const v = await x.data();
  const n = x.shape[0];
  return Array.from({ length: n }, (_, i) => Uint8Array.from(v.subarray(i * PIXELS, (i + 1) * PIXELS), (f) => Math.round(f * 255)));
}

/** Runs the hook on a fresh batch, reads its results back and disposes everything. */
async function runHook(
  pipeline: PipelineSpec,
  seed: number,
  pixels: Uint8Array[],
  labels: number[],
  ids: number[],
  epoch: number,
  step: number,
): Promise<{ x: Uint8Array[]; targets: Float32Array | null }> {
  const batch = makeBatch(pixels, labels, ids, epoch, step);
  const result: HookResult = await augmentationHook(pipeline, { seed, numClasses: NUM_CLASSES, input: INPUT }).apply(batch);
  try {
    return {
      x: await bytesOf(result.x as tf.Tensor4D),
      targets: result.targets ? ((await result.targets.data()) as Float32Array) : null,
    };
  } finally {
    tf.dispose([batch.x, batch.labels, ...returned(result)]);
  }
}

const hex = (a: Uint8Array[]): string[] => a.map((b) => Buffer.from(b).toString('hex'));
const PIX = images(11, BATCH);
const LABELS = [0, 1, 2, 3, 0, 1];
const IDS = [101, 7, 55, 3, 90, 12];

beforeAll(async () => {
  await useBackend('wasm');
});

describe('augmentationHook', () => {
  it('equals the CPU reference per sample with the seed of (seed, epoch, step, id)', async () => {
    const { x, targets } = await runHook(GEOMETRIC, 42, PIX, LABELS, IDS, 2, 17);
    expect(targets).toBeNull();
    x.forEach((got, i) => {
      const image = { ...INPUT, data: PIX[i] as Uint8Array };
      const plan = planPipeline(GEOMETRIC, TRANSFORMS, hookSampleSeed(42, 2, 17, IDS[i] as number), image);
      expect(Buffer.from(got).equals(Buffer.from(applyPlanCpu(image, plan, TRANSFORMS).data))).toBe(true);
      expect(Buffer.from(got).equals(Buffer.from(PIX[i] as Uint8Array))).toBe(false);
    });
  });

  it('is deterministic per (seed, epoch, step, id), whatever the batch order', async () => {
    const a = await runHook(GEOMETRIC, 42, PIX, LABELS, IDS, 1, 5);
    const b = await runHook(GEOMETRIC, 42, PIX, LABELS, IDS, 1, 5);
    expect(hex(b.x)).toEqual(hex(a.x));
    // Reversed batch: each id gets the same augmentation.
    const r = await runHook(GEOMETRIC, 42, [...PIX].reverse(), [...LABELS].reverse(), [...IDS].reverse(), 1, 5);
    expect(hex(r.x).reverse()).toEqual(hex(a.x));
    // Another epoch, step or seed draws anew.
    for (const [seed, epoch, step] of [
      [42, 2, 5],
      [42, 1, 6],
      [43, 1, 5],
    ] as const) {
      const other = await runHook(GEOMETRIC, seed, PIX, LABELS, IDS, epoch, step);
      expect(hex(other.x)).not.toEqual(hex(a.x));
    }
  });

  it('mixup: soft targets rows sum to 1 and weigh λ on the image, 1 − λ on its partner', async () => {
    const { x, targets } = await runHook(MIXUP, 8, PIX, LABELS, IDS, 0, 0);
    expect(targets).not.toBeNull();
    const t = targets as Float32Array;
    expect(t.length).toBe(BATCH * NUM_CLASSES);
    let mixedRows = 0;
    for (let i = 0; i < BATCH; i++) {
      const row = Array.from(t.subarray(i * NUM_CLASSES, (i + 1) * NUM_CLASSES));
      expect(row.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 6);
      row.forEach((v) => expect(v).toBeGreaterThanOrEqual(0));
      // Replay: brightness on the image, then mixup with the recorded partner.
      const seed = hookSampleSeed(8, 0, 0, IDS[i] as number);
      const partner = (i + 1 + new Rng(seed).fork('partner').int(BATCH - 1)) % BATCH;
      const spec: PipelineSpec = {
        version: 1,
        steps: [MIXUP.steps[0] as PipelineSpec['steps'][number], { ...(MIXUP.steps[1] as PipelineSpec['steps'][number]), params: { lambdaRange: [0.2, 0.8], otherImage: { ...INPUT, data: PIX[partner] } } }],
      };
      const plan = planPipeline(spec, TRANSFORMS, seed, INPUT);
      const lambda = (plan[1]?.params as MixupParams).lambda;
      const expected = applyPlanCpu({ ...INPUT, data: PIX[i] as Uint8Array }, plan, TRANSFORMS);
      expect(Buffer.from(x[i] as Uint8Array).equals(Buffer.from(expected.data))).toBe(true);
      const own = LABELS[i] as number;
      const other = LABELS[partner] as number;
      expect(row[own]).toBeCloseTo(own === other ? 1 : lambda, 6);
      if (own !== other) {
        expect(row[other]).toBeCloseTo(1 - lambda, 6);
        mixedRows++;
      }
    }
    expect(mixedRows).toBeGreaterThan(0);
    // The mixing kernel itself, for one sample: blending really happened.
    const single = mixup({ ...INPUT, data: PIX[0] as Uint8Array }, { lambda: 0.5, other: { ...INPUT, data: PIX[1] as Uint8Array } });
    expect(Buffer.from(single.data).equals(Buffer.from(PIX[0] as Uint8Array))).toBe(false);
  });

  it('cutmix: soft label weight is the fraction of the image kept', async () => {
    const { targets } = await runHook(CUTMIX, 21, PIX, LABELS, IDS, 3, 4);
    const t = targets as Float32Array;
    for (let i = 0; i < BATCH; i++) {
      const seed = hookSampleSeed(21, 3, 4, IDS[i] as number);
      const partner = (i + 1 + new Rng(seed).fork('partner').int(BATCH - 1)) % BATCH;
      const otherImage = { ...INPUT, data: PIX[partner] as Uint8Array };
      const plan = planPipeline({ version: 1, steps: [{ transform: 'cutmix', params: { otherImage } }] }, TRANSFORMS, seed, INPUT);
      const box = plan[0]?.params as CutmixParams;
      const kept = 1 - (box.width * box.height) / (INPUT.width * INPUT.height);
      const row = Array.from(t.subarray(i * NUM_CLASSES, (i + 1) * NUM_CLASSES));
      expect(row.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 6);
      const own = LABELS[i] as number;
      const other = LABELS[partner] as number;
      if (own !== other) expect(row[own]).toBeCloseTo(kept, 6);
      expect(cutmix({ ...INPUT, data: PIX[i] as Uint8Array }, box).data.length).toBe(PIXELS);
    }
  });

  it('leaves tf.memory().numTensors unchanged once the loop disposes what it returned', async () => {
    for (const pipeline of [GEOMETRIC, MIXUP]) {
      const batch = makeBatch(PIX, LABELS, IDS, 0, 1);
      const before = tf.memory().numTensors;
      const result = await augmentationHook(pipeline, { seed: 1, numClasses: NUM_CLASSES, input: INPUT }).apply(batch);
      // The hook made exactly the tensors it returned, and left the batch alone.
      expect(tf.memory().numTensors).toBe(before + (result.targets ? 2 : 1));
      expect(batch.x.isDisposed).toBe(false);
      tf.dispose(returned(result));
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([batch.x, batch.labels]);
    }
  });

  it('refuses a batch of another shape', async () => {
    const batch = makeBatch(PIX, LABELS, IDS, 0, 0);
    const hook = augmentationHook(GEOMETRIC, { seed: 1, numClasses: NUM_CLASSES, input: { width: 8, height: 8, channels: 3 } });
    await expect(hook.apply(batch)).rejects.toMatchObject({ name: 'InvalidInputError' });
    tf.dispose([batch.x, batch.labels]);
  });
});

describe('augmentationHook in trainModel', () => {
  let db: HearthDb;
  afterAll(() => db.close());

  it('trains with mixup on the fly, reproducibly, without leaking tensors', async () => {
    db = await openHearthDb(`augment-hook-${crypto.randomUUID()}`);
    const classes = ['a', 'b', 'c', 'd'];
    const project = await createProject(db, { name: 'hook', input: INPUT, classes, attributes: [], source: 'test' });
    const pixels = images(5, 48);
    const samples: NewSample[] = pixels.map((p, i) => ({
      projectId: project.id,
      key: `train/${i}`,
      fileName: `${i}.png`,
      label: classes[i % 4] as string,
      split: i < 40 ? 'train' : 'val',
      attributes: {},
      provenance: { kind: 'real' },
      original: null,
      pixelsHwc: p,
      createdAt: 0,
    }));
    await putSamples(db, samples);
    const version = await createVersion(db, project.id, { recipe: null, note: 'hook' });
    const train = async (): Promise<Float32Array[]> => {
      const model = buildModel({ kind: 'lenet', input: INPUT, numClasses: NUM_CLASSES, seed: 3 });
      await trainModel(db, {
        projectId: project.id,
        versionId: version.id as number,
        model,
        config: {
          epochs: 2,
          batchSize: 8,
          optimizer: { kind: 'sgd', lr: 0.05, momentum: 0.9, nesterov: false },
          weightDecay: 0,
          schedule: { kind: 'constant' },
          seed: 4,
        },
        hook: augmentationHook(MIXUP, { seed: 9, numClasses: NUM_CLASSES, input: INPUT }).apply,
      });
      const weights = await Promise.all(model.model.getWeights().map(async (w) => (await w.data()) as Float32Array));
      model.dispose();
      return weights;
    };
    const before = tf.memory().numTensors;
    const a = await train();
    expect(tf.memory().numTensors).toBe(before);
    const b = await train();
    a.forEach((w, i) => {
      expect(w.every(Number.isFinite)).toBe(true);
      expect(Array.from(b[i] as Float32Array)).toEqual(Array.from(w));
    });
  }, 60_000);
});
