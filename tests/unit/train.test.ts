/**
 * The training loop on the wasm backend (with Hearth's gradient kernels), against
 * MNIST images stored in fake-indexeddb and streamed batch by batch, as in the app.
 *
 * Optimizer checks use a 2-parameter problem with gradients given directly, so the
 * expected values are worked out by hand in the comments (float32: 6 digits).
 */
import 'fake-indexeddb/auto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../src/lib/compute/backends';
import { tf } from '../../src/lib/compute/register';
import { buildSampleDataset, parseMnistFiles } from '../../src/lib/data/samples/catalog';
import type { Split } from '../../src/lib/storage/records';
import { CancelSource } from '../../src/lib/jobs/progress';
import { openHearthDb, type HearthDb } from '../../src/lib/storage/schema';
import { createProject } from '../../src/lib/storage/projects';
import { getRunOfKind } from '../../src/lib/storage/runs';
import { putSamples } from '../../src/lib/storage/samples';
import { createVersion, getVersion } from '../../src/lib/storage/versions';
import { epochOrder, labeledIndices, streamBatches } from '../../src/lib/train/batches';
import { latestCheckpoint } from '../../src/lib/train/checkpoint';
import { evaluateModel } from '../../src/lib/evaluate/evaluate';
import { buildModel, type HearthModel, type ModelSpec } from '../../src/lib/train/models';
import { learningRateAt, Optimizer, type ScheduleConfig } from '../../src/lib/train/optim';
import { trainModel, uniqueModelName, type EpochMetrics, type TrainConfig } from '../../src/lib/train/train';
import { readMnistFiles } from '../helpers/mnist';

const INPUT = { width: 28, height: 28, channels: 1, resize: 'stretch' } as const;
const DIGITS = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

let db: HearthDb;
/** 2,000 train, 500 val, 1,000 test MNIST images (the first of each split). */
let big: { projectId: string; versionId: number };
/** 256 train, 64 val: for the tests that train twice. */
let small: { projectId: string; versionId: number };

async function makeProject(name: string, counts: Record<Exclude<Split, 'unassigned'>, number>, unlabeledTrain = 0) {
  const files = readMnistFiles();
  const built = buildSampleDataset('mnist', parseMnistFiles(files), { maxPerSplit: Math.max(counts.train + unlabeledTrain, counts.val, counts.test) });
  const project = await createProject(db, { name, input: INPUT, classes: DIGITS, attributes: [], source: 'test' });
  const taken = { train: 0, val: 0, test: 0 };
  const samples = [];
  for (const s of built.samples) {
    const limit = s.split === 'train' ? counts.train + unlabeledTrain : counts[s.split];
    if (taken[s.split] >= limit) continue;
    const unlabeled = s.split === 'train' && taken.train >= counts.train;
    taken[s.split]++;
    samples.push({
      projectId: project.id,
      key: s.key,
      fileName: s.fileName,
      label: unlabeled ? null : s.label,
      split: s.split,
      attributes: {},
      provenance: { kind: 'real' as const },
      original: null,
      pixelsHwc: s.pixelsHwc,
      createdAt: 0,
    });
  }
  await putSamples(db, samples);
  const version = await createVersion(db, project.id, { recipe: null, note: name });
  return { projectId: project.id, versionId: version.id as number };
}

const spec = (seed = 7): ModelSpec => ({ kind: 'lenet', input: INPUT, numClasses: 10, seed });

const MNIST_CONFIG: TrainConfig = {
  epochs: 3,
  batchSize: 16,
  optimizer: { kind: 'sgd', lr: 0.05, momentum: 0.9, nesterov: true },
  weightDecay: 5e-4,
  schedule: { kind: 'cosine', warmupEpochs: 0.5 },
  seed: 1234,
};

async function weightsOf(model: HearthModel): Promise<Float32Array[]> {
  return Promise.all(model.model.getWeights().map(async (w) => (await w.data()) as Float32Array));
}

beforeAll(async () => {
  await useBackend('wasm');
  db = await openHearthDb('train-test');
  big = await makeProject('big', { train: 2000, val: 500, test: 1000 });
  small = await makeProject('small', { train: 256, val: 64, test: 0 }, 20);
}, 60_000);

afterAll(() => db.close());

describe('learning-rate schedules', () => {
  const clock = (step: number) => ({ step, stepsPerEpoch: 10, epochs: 5 });
  it('constant', () => {
    expect(learningRateAt(0.1, { kind: 'constant' }, clock(37))).toBe(0.1);
  });
  it('step: gamma every k epochs', () => {
    const s: ScheduleConfig = { kind: 'step', everyEpochs: 2, gamma: 0.5 };
    expect(learningRateAt(0.1, s, clock(0))).toBeCloseTo(0.1, 12);
    expect(learningRateAt(0.1, s, clock(19))).toBeCloseTo(0.1, 12); // epoch 1
    expect(learningRateAt(0.1, s, clock(20))).toBeCloseTo(0.05, 12); // epoch 2
    expect(learningRateAt(0.1, s, clock(45))).toBeCloseTo(0.025, 12); // epoch 4
  });
  it('cosine with linear warm-up', () => {
    const s: ScheduleConfig = { kind: 'cosine', warmupEpochs: 1 };
    // Warm-up: 10 steps, lr·(s+1)/10.
    expect(learningRateAt(0.1, s, clock(0))).toBeCloseTo(0.01, 12);
    expect(learningRateAt(0.1, s, clock(4))).toBeCloseTo(0.05, 12);
    expect(learningRateAt(0.1, s, clock(9))).toBeCloseTo(0.1, 12);
    // Decay over the other 40 steps: ½·lr·(1 + cos(π·(s−10)/40)).
    expect(learningRateAt(0.1, s, clock(10))).toBeCloseTo(0.1, 12);
    expect(learningRateAt(0.1, s, clock(30))).toBeCloseTo(0.05, 12);
    expect(learningRateAt(0.1, s, clock(49))).toBeCloseTo(0.05 * (1 + Math.cos((Math.PI * 39) / 40)), 12);
    expect(learningRateAt(0.1, s, clock(49))).toBeGreaterThan(0);
  });
});

describe('optimizers on a 2-parameter problem', () => {
  /** θ = [1, −2]; applies `grads` in turn and returns θ after each step. */
  function run(make: (vars: tf.Variable[]) => Optimizer, grads: number[][], lr: number): number[][] {
    const before = tf.memory().numTensors;
    const theta = tf.tidy(() => tf.variable(tf.tensor1d([1, -2])));
    const opt = make([theta]);
    const out: number[][] = [];
    for (const g of grads) {
      const gt = tf.tensor1d(g);
      opt.step([gt], lr);
      gt.dispose();
      out.push(Array.from(theta.dataSync()));
    }
    opt.dispose();
    theta.dispose();
    // Besides values, no step may leave a tensor behind.
    expect(tf.memory().numTensors).toBe(before);
    return out;
  }
  const close = (actual: number[] | undefined, expected: number[]) => {
    expect(actual).toHaveLength(expected.length);
    expected.forEach((e, i) => expect(actual?.[i]).toBeCloseTo(e, 5));
  };

  it('SGD with momentum and L2 weight decay (PyTorch SGD)', () => {
    const [s1, s2] = run((v) => new Optimizer({ kind: 'sgd', lr: 0.1, momentum: 0.9, nesterov: false }, 0.01, v), [[0.5, 0.25], [0.5, 0.25]], 0.1);
    // Step 1: g = [0.5, 0.25] + 0.01·[1, −2] = [0.51, 0.23]; buf = g; θ −= 0.1·buf → [0.949, −2.023].
    close(s1, [0.949, -2.023]);
    // Step 2: g = [0.5 + 0.00949, 0.25 − 0.02023] = [0.50949, 0.22977];
    // buf = 0.9·[0.51, 0.23] + g = [0.96849, 0.43677]; θ → [0.852151, −2.066677].
    close(s2, [0.852151, -2.066677]);
  });

  it('SGD with Nesterov momentum', () => {
    const [s1, s2] = run((v) => new Optimizer({ kind: 'sgd', lr: 0.1, momentum: 0.9, nesterov: true }, 0, v), [[0.5, 0.25], [1, -1]], 0.1);
    // Step 1: buf = g = [0.5, 0.25]; update g + 0.9·buf = [0.95, 0.475]; θ → [0.905, −2.0475].
    close(s1, [0.905, -2.0475]);
    // Step 2: buf = 0.9·[0.5, 0.25] + [1, −1] = [1.45, −0.775]; update [1 + 1.305, −1 − 0.6975]
    // = [2.305, −1.6975]; θ → [0.905 − 0.2305, −2.0475 + 0.16975] = [0.6745, −1.87775].
    close(s2, [0.6745, -1.87775]);
  });

  it('plain SGD with the learning rate given per step', () => {
    const [s1] = run((v) => new Optimizer({ kind: 'sgd', lr: 1, momentum: 0, nesterov: false }, 0, v), [[0.5, 0.25]], 0.2);
    close(s1, [0.9, -2.05]);
  });

  it('Adam with decoupled weight decay (PyTorch AdamW)', () => {
    const adam = { kind: 'adam', lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8 } as const;
    const [s1, s2] = run((v) => new Optimizer(adam, 0.1, v), [[0.5, 0.25], [0.5, -0.25]], 0.1);
    // Step 1: θ·(1 − 0.1·0.1) = [0.99, −1.98]; m̂ = g, v̂ = g², so the step is lr·sign(g):
    // θ → [0.89, −2.08].
    close(s1, [0.89, -2.08]);
    // Step 2: decayed θ = [0.8811, −2.0592]; m = [0.095, −0.0025], v = [0.00049975, 0.0001249375];
    // m̂ = m/0.19 = [0.5, −0.01315789]; v̂ = v/0.001999 = [0.25, 0.0625]; step m̂/√v̂ = [1, −0.05263158];
    // θ → [0.7811, −2.05393684].
    close(s2, [0.7811, -2.05393684]);
  });

  it('saves and restores its state so the next step is the same', () => {
    const adam = { kind: 'adam', lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8 } as const;
    const theta = tf.tidy(() => tf.variable(tf.tensor1d([1, -2])));
    const a = new Optimizer(adam, 0.1, [theta]);
    const g1 = tf.tensor1d([0.5, 0.25]);
    a.step([g1], 0.1);
    return (async () => {
      const state = await a.state();
      expect(state.stepCount).toBe(1);
      const b = new Optimizer(adam, 0.1, [theta]);
      b.setState(state);
      const g2 = tf.tensor1d([0.5, -0.25]);
      b.step([g2], 0.1);
      expect(b.stepCount).toBe(2);
      Array.from(theta.dataSync()).forEach((v, i) => expect(v).toBeCloseTo([0.7811, -2.05393684][i] as number, 5));
      tf.dispose([g1, g2, theta]);
      a.dispose();
      b.dispose();
    })();
  });
});

describe('streamBatches', () => {
  it('skips unlabeled samples, shuffles by (seed, epoch), and covers every sample once', async () => {
    const version = await getVersion(db, small.versionId);
    const train = labeledIndices(version, 'train');
    expect(train).toHaveLength(256); // the 20 unlabeled train samples are left out
    const order0 = epochOrder(train, { seed: 5, epoch: 0 });
    expect(epochOrder(train, { seed: 5, epoch: 0 })).toEqual(order0);
    expect(epochOrder(train, { seed: 5, epoch: 1 })).not.toEqual(order0);
    const ids: number[] = [];
    let batches = 0;
    for await (const b of streamBatches(db, version, { indices: train, batchSize: 100, shuffle: { seed: 5, epoch: 0 } })) {
      batches++;
      expect(b.pixels).toHaveLength(b.ids.length);
      expect(b.pixels[0]).toHaveLength(28 * 28);
      for (const l of b.labels) expect(l).toBeGreaterThanOrEqual(0);
      ids.push(...b.ids);
    }
    expect(batches).toBe(3); // 100 + 100 + 56
    expect(ids).toEqual(Array.from(order0, (i) => version.sampleIds[i]));
    expect(new Set(ids).size).toBe(256);
  });
});

describe('trainModel', () => {
  it('trains LeNet on 2,000 MNIST images to ≥ 90 % test accuracy in 3 epochs, leaking no tensor', async () => {
    const model = buildModel(spec());
    const before = tf.memory().numTensors;
    const epochs: EpochMetrics[] = [];
    let steps = 0;
    const result = await trainModel(db, {
      projectId: big.projectId,
      versionId: big.versionId,
      model,
      config: MNIST_CONFIG,
      onMetrics: (m) => (m.kind === 'epoch' ? epochs.push(m) : steps++),
    });
    expect(tf.memory().numTensors).toBe(before);
    expect(result.steps).toBe(3 * Math.ceil(2000 / 16));
    expect(steps).toBeGreaterThan(0);
    expect(epochs.map((e) => e.epoch)).toEqual([0, 1, 2]);
    expect(epochs[2]?.trainLoss).toBeLessThan(epochs[0]?.trainLoss ?? 0);
    expect(epochs[2]?.valAccuracy).toBeGreaterThan(0.85);

    const evalBefore = tf.memory().numTensors;
    const evaluation = await evaluateModel(db, model, { versionId: big.versionId, split: 'test', batchSize: 256 });
    expect(tf.memory().numTensors).toBe(evalBefore);
    console.log(`LeNet, 3 epochs on 2,000 MNIST images: test accuracy ${evaluation.accuracy.value}, per epoch`, epochs);
    expect(evaluation.predictions.ids).toHaveLength(1000);
    expect(evaluation.accuracy.value).toBeGreaterThanOrEqual(0.9);

    // The run is recorded, the final model saved, the checkpoints cleaned up.
    const run = await db.get('runs', result.runId);
    expect(run?.status).toBe('done');
    expect(run?.backend).toBe('wasm');
    expect(run?.datasetVersionId).toBe(big.versionId);
    expect(run?.seed).toBe(1234);
    const saved = await db.get('models', result.modelId);
    expect(saved?.runId).toBe(result.runId);
    expect(saved?.weightData.byteLength).toBe(model.paramCount() * 4);
    expect(await latestCheckpoint(db, result.runId)).toBeNull();
    model.dispose();
  }, 90_000);

  it('stops early when the validation loss stops improving, records it, and reports throughput per step', async () => {
    const model = buildModel(spec(5));
    const config: TrainConfig = { ...MNIST_CONFIG, epochs: 40, batchSize: 32, schedule: { kind: 'constant' }, earlyStop: { patience: 2 } };
    const rates: number[] = [];
    const result = await trainModel(db, {
      projectId: small.projectId,
      versionId: small.versionId,
      model,
      config,
      onMetrics: (m) => void (m.kind === 'step' && rates.push(m.imgPerSec)),
    });
    expect(result.stoppedEarly).not.toBeNull();
    const { afterEpoch, bestEpoch } = result.stoppedEarly as { afterEpoch: number; bestEpoch: number };
    expect(result.history).toHaveLength(afterEpoch + 1);
    expect(afterEpoch).toBeLessThan(39);
    expect(afterEpoch - bestEpoch).toBe(2);
    const best = result.history[bestEpoch]?.valLoss as number;
    for (const m of result.history.slice(bestEpoch + 1)) expect(m.valLoss).toBeGreaterThanOrEqual(best);
    expect(result.steps).toBe((afterEpoch + 1) * Math.ceil(256 / 32));
    const run = await getRunOfKind(db, result.runId, 'train');
    expect(run?.status).toBe('done');
    expect(run?.result?.stoppedEarly).toEqual(result.stoppedEarly);
    expect(rates.length).toBeGreaterThan(0);
    for (const r of rates) expect(r).toBeGreaterThan(0);
    model.dispose();
  }, 120_000);

  it('validates on a stratified hold-out of train when the version has no validation split, and records it', async () => {
    const noVal = await makeProject('no-val', { train: 200, val: 0, test: 0 });
    const model = buildModel(spec(3));
    const config: TrainConfig = { ...MNIST_CONFIG, epochs: 1, batchSize: 32, holdout: { fraction: 0.1 } };
    const epochs: EpochMetrics[] = [];
    const result = await trainModel(db, {
      projectId: noVal.projectId,
      versionId: noVal.versionId,
      model,
      config,
      onMetrics: (m) => void (m.kind === 'epoch' && epochs.push(m)),
    });
    // 200 training images, 10 % of each class held out: 20 validate, 180 train.
    expect(result.steps).toBe(Math.ceil(180 / 32));
    expect(epochs[0]?.valAccuracy).not.toBeNull();
    const run = await getRunOfKind(db, result.runId, 'train');
    expect(run?.config.train.holdout).toEqual({ fraction: 0.1 });
    model.dispose();
  }, 60_000);

  const smallConfig: TrainConfig = {
    epochs: 3,
    batchSize: 32,
    optimizer: { kind: 'adam', lr: 0.002, beta1: 0.9, beta2: 0.999, eps: 1e-8 },
    weightDecay: 0.01,
    schedule: { kind: 'step', everyEpochs: 1, gamma: 0.7 },
    seed: 99,
  };

  async function trainSmall(resumeFrom?: string, cancelAfterEpoch?: number) {
    const model = buildModel(spec(11));
    const cancel = new CancelSource();
    let error: unknown = null;
    let runId: string | null = null;
    try {
      const result = await trainModel(db, {
        projectId: small.projectId,
        versionId: small.versionId,
        model,
        config: smallConfig,
        cancel,
        resumeFrom,
        onMetrics: (m) => {
          if (m.kind === 'epoch' && m.epoch === cancelAfterEpoch) cancel.cancel();
        },
      });
      runId = result.runId;
    } catch (err) {
      error = err;
    }
    const weights = await weightsOf(model);
    return { model, weights, error, runId };
  }

  it('gives bitwise-identical weights for the same seed (and the weights did move)', async () => {
    const a = await trainSmall();
    const b = await trainSmall();
    expect(a.error).toBeNull();
    expect(a.weights.length).toBeGreaterThan(0);
    a.weights.forEach((w, i) => expect(Buffer.from(w.buffer).equals(Buffer.from((b.weights[i] as Float32Array).buffer))).toBe(true));
    const initial = await weightsOf(buildModel(spec(11)));
    expect(Buffer.from(a.weights[0]?.buffer as ArrayBuffer).equals(Buffer.from(initial[0]?.buffer as ArrayBuffer))).toBe(false);
    a.model.dispose();
    b.model.dispose();
  }, 60_000);

  it('resumed from the checkpoint after epoch 1 ends with exactly the weights of an uninterrupted run', async () => {
    const full = await trainSmall();
    const cut = await trainSmall(undefined, 0);
    expect((cut.error as Error).name).toBe('CancelledError');
    const cutRun = (await db.getAll('runs')).find((r) => r.status === 'cancelled');
    expect(cutRun).toBeDefined();
    const checkpoint = await latestCheckpoint(db, cutRun?.id as string);
    expect(checkpoint).toMatch(/checkpoint-000001$/);
    const before = tf.memory().numTensors;
    const resumed = await trainSmall(checkpoint as string);
    // Only the model built inside trainSmall is new; the resume itself leaks nothing.
    expect(tf.memory().numTensors - before).toBe(resumed.model.model.getWeights().length);
    expect(resumed.error).toBeNull();
    expect(resumed.runId).toBe(cutRun?.id);
    full.weights.forEach((w, i) => expect(Buffer.from(w.buffer).equals(Buffer.from((resumed.weights[i] as Float32Array).buffer))).toBe(true));
    const run = await getRunOfKind(db, cutRun?.id as string, 'train');
    expect(run?.status).toBe('done');
    expect((run?.result?.history as EpochMetrics[]).map((e) => e.epoch)).toEqual([0, 1, 2]);
    for (const m of [full, cut, resumed]) m.model.dispose();
  }, 90_000);

  it('refuses to resume with another configuration', async () => {
    const cut = await trainSmall(undefined, 0);
    const runs = await db.getAll('runs');
    const cutRun = runs.filter((r) => r.status === 'cancelled').at(-1);
    const checkpoint = await latestCheckpoint(db, cutRun?.id as string);
    const model = buildModel(spec(11));
    await expect(
      trainModel(db, { projectId: small.projectId, versionId: small.versionId, model, config: { ...smallConfig, seed: 100 }, resumeFrom: checkpoint as string }),
    ).rejects.toMatchObject({ name: 'InvalidInputError' });
    model.dispose();
    cut.model.dispose();
  }, 60_000);

  it('a hook that weights every sample 0 leaves the weights unchanged; its tensors are disposed', async () => {
    const model = buildModel(spec(3));
    const initial = await weightsOf(model);
    const before = tf.memory().numTensors;
    let calls = 0;
    await trainModel(db, {
      projectId: small.projectId,
      versionId: small.versionId,
      model,
      config: { ...smallConfig, epochs: 1, optimizer: { kind: 'sgd', lr: 0.1, momentum: 0, nesterov: false }, weightDecay: 0 },
      hook: ({ x, labels }) => {
        calls++;
        const n = labels.shape[0];
        return tf.tidy(() => ({ x: tf.clone(x), targets: tf.oneHot(labels, 10).toFloat() as tf.Tensor2D, weights: tf.zeros([n]) as tf.Tensor1D }));
      },
    });
    expect(calls).toBe(Math.ceil(256 / 32));
    expect(tf.memory().numTensors).toBe(before);
    const after = await weightsOf(model);
    after.forEach((w, i) => expect(Array.from(w)).toEqual(Array.from(initial[i] as Float32Array)));
    model.dispose();
  }, 60_000);
});

describe('model names', () => {
  it('tells a second model of the same kind and version apart', () => {
    expect(uniqueModelName('lenet on version 1', [])).toBe('lenet on version 1');
    expect(uniqueModelName('lenet on version 1', ['lenet on version 1'])).toBe('lenet on version 1 (2)');
    expect(uniqueModelName('lenet on version 1', ['lenet on version 1', 'lenet on version 1 (2)', 'lenet on version 2'])).toBe('lenet on version 1 (3)');
  });
});
