/**
 * The simulated-oracle labeling loop on the wasm backend, with real MNIST digits held in
 * memory: image-set views, accuracy bookkeeping worked out by hand, warm-start retraining
 * that keeps the best VALIDATION checkpoint, and short loops of the real selection methods
 * (unique picks, exactly b per round, labels from the oracle, test data never choosing
 * anything, no leaked tensors).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../src/lib/compute/backends';
import { tf } from '../../src/lib/compute/register';
import { parseMnistFiles, type MnistArrays } from '../../src/lib/data/samples/catalog';
import {
  accuracyOf,
  labeledSubset,
  memoryImageSet,
  predictSet,
  retrainWarm,
  runOracleExperiment,
  runOracleLoop,
  subsetImageSet,
  type LabeledImageSet,
  type OracleData,
  type OracleRound,
  type RetrainConfig,
} from '../helpers/oracle-loop';
import { buildModel, type ModelSpec } from '../../src/lib/train/models';
import { readMnistFiles } from '../helpers/mnist';

const INPUT = { width: 28, height: 28, channels: 1, resize: 'stretch' } as const;
const SPEC: ModelSpec = { kind: 'lenet', input: INPUT, numClasses: 10, seed: 5 };
const PIXELS = 28 * 28;
const RETRAIN: RetrainConfig = { epochs: 3, batchSize: 25, lr: 0.05, momentum: 0.5, lrDecayEveryEpochs: 2, lrDecay: 0.1 };

let mnist: MnistArrays;
let data: OracleData;

/** Images [start, start + count) of one official MNIST file, labeled, in memory. */
function digits(file: 'train' | 'test', start: number, count: number): LabeledImageSet {
  const images = file === 'train' ? mnist.trainImages : mnist.testImages;
  const labels = file === 'train' ? mnist.trainLabels : mnist.testLabels;
  const pixels = Array.from({ length: count }, (_, i) => images.slice((start + i) * PIXELS, (start + i + 1) * PIXELS));
  return memoryImageSet(pixels, Int16Array.from(labels.subarray(start, start + count))) as LabeledImageSet;
}

beforeAll(async () => {
  await useBackend('wasm');
  const files = readMnistFiles();
  mnist = parseMnistFiles(files);
  data = { pool: digits('train', 0, 400), val: digits('train', 50_000, 200), test: digits('test', 0, 300) };
});

describe('image sets', () => {
  it('a subset reads its positions in order and carries labels only when asked', async () => {
    const pixels = [0, 1, 2, 3, 4, 5].map((v) => Uint8Array.of(v));
    const set = memoryImageSet(pixels, Int16Array.of(10, 11, 12, 13, 14, 15));
    const sub = subsetImageSet(set, [4, 1, 2, 3, 0], false);
    expect(sub.count).toBe(5);
    expect(sub.labels).toBeUndefined();
    expect((await sub.read(0, 5)).map((p) => p[0])).toEqual([4, 1, 2, 3, 0]);
    expect((await sub.read(2, 4)).map((p) => p[0])).toEqual([2, 3]);
    expect(Array.from(labeledSubset(set as LabeledImageSet, [5, 0]).labels)).toEqual([15, 10]);
    expect(() => memoryImageSet(pixels, Int16Array.of(1))).toThrow(/parallel/);
  });
});

describe('accuracy', () => {
  it('overall, pooled over a class subset and per class, by hand', () => {
    // true:      0 0 1 1 2 2 2 -1
    // predicted: 0 1 1 1 0 2 2  3   (the unlabeled last image is not counted)
    const truth = Int16Array.of(0, 0, 1, 1, 2, 2, 2, -1);
    const predicted = Int32Array.of(0, 1, 1, 1, 0, 2, 2, 3);
    const a = accuracyOf(truth, predicted, 4, [0, 2]);
    expect(a.accuracy).toBeCloseTo(5 / 7, 12);
    // Subset {0, 2}: 1 of 2 zeros + 2 of 3 twos = 3 of 5.
    expect(a.subsetAccuracy).toBeCloseTo(3 / 5, 12);
    expect(a.perClass).toEqual([0.5, 1, 2 / 3, null]);
    expect(accuracyOf(truth, predicted, 4).subsetAccuracy).toBeNull();
  });
});

describe('warm-start retraining', () => {
  it('ends on the best validation checkpoint, and keeps the starting weights when training only hurts', async () => {
    const images = await data.pool.read(0, 200);
    const labels = Int32Array.from(data.pool.labels.subarray(0, 200));
    const model = buildModel(SPEC);
    const before = tf.memory().numTensors;
    const config = { ...RETRAIN, epochs: 4, lr: 0.1, lrDecayEveryEpochs: 10 };
    const good = await retrainWarm(model, images, labels, data.val, config, 1);
    expect(good.bestEpoch).toBeGreaterThan(0);
    const measured = accuracyOf(data.val.labels, await predictSet(model, data.val), 10).accuracy;
    expect(measured).toBeCloseTo(good.valAccuracy, 12);
    // 32 steps on 200 digits: well above chance (0.1); measured 0.395.
    expect(good.valAccuracy).toBeGreaterThan(0.3);
    expect(tf.memory().numTensors).toBe(before);

    // A learning rate of 1e4 wrecks the weights at the first step: the warm start (epoch 0) stays.
    const start = model.model.getWeights().map((w) => Array.from(w.dataSync()));
    const bad = await retrainWarm(model, images, labels, data.val, { ...config, lr: 1e4 }, 1);
    expect(bad.bestEpoch).toBe(0);
    expect(bad.valAccuracy).toBeCloseTo(good.valAccuracy, 12);
    expect(model.model.getWeights().map((w) => Array.from(w.dataSync()))).toEqual(start);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  }, 60_000);
});

describe('the loop', () => {
  const base = { spec: SPEC, rounds: 2, budget: 20, retrain: RETRAIN, subsetClasses: [5, 8, 9], select: { mcSamples: 4 } };

  function checkRounds(rounds: OracleRound[]): void {
    expect(rounds.map((r) => r.labelCount)).toEqual([20, 40]);
    const all = rounds.flatMap((r) => r.picks);
    expect(new Set(all).size).toBe(40);
    for (const r of rounds) {
      expect(r.picks).toHaveLength(20);
      expect(r.pickedPerClass.reduce((a, b) => a + b, 0)).toBe(20);
      // The oracle's answers are the pool's true labels.
      const counts = new Array<number>(10).fill(0);
      for (const p of r.picks) counts[data.pool.labels[p] as number]! += 1;
      expect(r.pickedPerClass).toEqual(counts);
      expect(r.testAccuracy).toBeGreaterThanOrEqual(0);
      expect(r.testSubsetAccuracy).not.toBeNull();
    }
    expect(rounds[1]!.labeledPerClass.reduce((a, b) => a + b, 0)).toBe(40);
  }

  it('ours: exactly b unique picks per round, labeled by the oracle, no leaked tensors', async () => {
    const before = tf.memory().numTensors;
    const rounds = await runOracleLoop(data, { ...base, method: 'ours', seed: 1 });
    expect(tf.memory().numTensors).toBe(before);
    checkRounds(rounds);
    expect(rounds.every((r) => r.pickedBy === 'ours')).toBe(true);
    // Nothing is labeled before round 1, so the fresh model misses most validation digits.
    expect(rounds[0]!.misclassified).toBeGreaterThan(100);
  }, 120_000);

  it('varR picks at random while nothing is labeled, then by its own rule', async () => {
    const rounds = await runOracleLoop(data, { ...base, method: 'varr', seed: 1 });
    checkRounds(rounds);
    expect(rounds.map((r) => r.pickedBy)).toEqual(['random', 'varr']);
  }, 120_000);

  it('the test set chooses nothing: wrong test labels change only the test accuracy', async () => {
    const opts = { ...base, rounds: 1, method: 'random' as const, seed: 3 };
    const [right] = await runOracleLoop(data, opts);
    const wrongTest = memoryImageSet(await data.test.read(0, data.test.count), data.test.labels.map((l) => (l + 1) % 10)) as LabeledImageSet;
    const [wrong] = await runOracleLoop({ ...data, test: wrongTest }, opts);
    expect(wrong!.picks).toEqual(right!.picks);
    expect(wrong!.bestEpoch).toBe(right!.bestEpoch);
    expect(wrong!.valAccuracy).toBe(right!.valAccuracy);
    expect(wrong!.testAccuracy).not.toBe(right!.testAccuracy);
  }, 120_000);

  it('an experiment runs each arm per seed, the pretrained arm from the rotation-pretrained body', async () => {
    const seen: string[] = [];
    const pretrainedSeeds: number[] = [];
    const runs = await runOracleExperiment(data, {
      ...base,
      rounds: 1,
      seeds: [1, 2],
      arms: [
        { name: 'random', method: 'random', pretrain: false },
        { name: 'random+rot', method: 'random', pretrain: true },
      ],
      pretrain: { epochs: 1, batchSize: 25, lr: 0.05 },
      onRound: (arm, r) => seen.push(`${arm.name}/${r.seed}/${r.round}`),
      onPretrained: (seed) => pretrainedSeeds.push(seed),
    });
    expect(seen).toEqual(['random/1/1', 'random+rot/1/1', 'random/2/1', 'random+rot/2/1']);
    expect(pretrainedSeeds).toEqual([1, 2]);
    // Same seed, same random picks: the arms differ only in their starting weights.
    expect(runs[1]!.rounds[0]!.picks).toEqual(runs[0]!.rounds[0]!.picks);
    expect(runs[2]!.rounds[0]!.picks).not.toEqual(runs[0]!.rounds[0]!.picks);
  }, 120_000);

  it('refuses more rounds than the pool can fill', async () => {
    await expect(runOracleLoop(data, { ...base, method: 'random', seed: 1, rounds: 30 })).rejects.toMatchObject({ name: 'InvalidInputError' });
  });
});
