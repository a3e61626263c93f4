/**
 * Evaluation: the pure confusion statistics on a crafted case worked out by hand, and
 * evaluateModel over samples streamed from fake-indexeddb (wasm backend), with its
 * predictions checked against the model's own forward pass.
 */
import 'fake-indexeddb/auto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../src/lib/compute/backends';
import { tf } from '../../src/lib/compute/register';
import { Rng } from '../../src/lib/data/rng';
import type { Split } from '../../src/lib/storage/records';
import { openHearthDb, type HearthDb } from '../../src/lib/storage/schema';
import { createProject } from '../../src/lib/storage/projects';
import { putSamples } from '../../src/lib/storage/samples';
import { createVersion } from '../../src/lib/storage/versions';
import { confusionStats, evaluateModel } from '../../src/lib/evaluate/evaluate';
import { buildModel, pixelsToInput } from '../../src/lib/train/models';

describe('confusionStats', () => {
  it('matches the hand-worked case, with reasons instead of NaN', () => {
    // 4 classes. Class 3 has no samples and is never predicted; class 2 is never predicted.
    //   true:      0 0 0 1 1 2 2
    //   predicted: 0 0 1 1 0 1 0
    const stats = confusionStats([0, 0, 0, 1, 1, 2, 2], [0, 0, 1, 1, 0, 1, 0], 4);
    expect(stats.confusion).toEqual([
      [2, 1, 0, 0],
      [1, 1, 0, 0],
      [1, 1, 0, 0],
      [0, 0, 0, 0],
    ]);
    expect(stats.accuracy.value).toBeCloseTo(3 / 7, 12);
    const [c0, c1, c2, c3] = stats.perClass;
    // Class 0: TP 2, predicted 4, support 3 → P 0.5, R 2/3, F1 = 4/(4+2+1) = 4/7.
    expect(c0?.precision.value).toBeCloseTo(0.5, 12);
    expect(c0?.recall.value).toBeCloseTo(2 / 3, 12);
    expect(c0?.f1.value).toBeCloseTo(4 / 7, 12);
    expect(c0?.support).toBe(3);
    // Class 1: TP 1, predicted 3, support 2 → P 1/3, R 1/2, F1 = 2/(2+2+1) = 0.4.
    expect(c1?.precision.value).toBeCloseTo(1 / 3, 12);
    expect(c1?.recall.value).toBeCloseTo(0.5, 12);
    expect(c1?.f1.value).toBeCloseTo(0.4, 12);
    // Class 2: never predicted → precision undefined, recall 0, F1 0 (2·0/(0+0+2)).
    expect(c2?.precision).toEqual({ value: undefined, reason: 'class 2 was never predicted' });
    expect(c2?.recall.value).toBe(0);
    expect(c2?.f1.value).toBe(0);
    // Class 3: absent and never predicted → all three undefined, each with its reason.
    expect(c3?.support).toBe(0);
    expect(c3?.recall.reason).toBe('class 3 has no samples');
    expect(c3?.precision.value).toBeUndefined();
    expect(c3?.f1.reason).toMatch(/no samples and was never predicted/);
    for (const c of stats.perClass) for (const m of [c.precision, c.recall, c.f1]) expect(Number.isNaN(m.value)).toBe(false);
  });

  it('says why accuracy is missing for no samples, and refuses labels out of range', () => {
    expect(confusionStats([], [], 2).accuracy).toEqual({ value: undefined, reason: 'no samples were evaluated' });
    expect(() => confusionStats([0, 2], [0, 1], 2)).toThrow(/must be in \[0, 2\)/);
    expect(() => confusionStats([0], [0, 1], 2)).toThrow(/parallel/);
  });
});

describe('evaluateModel', () => {
  const INPUT = { width: 16, height: 16, channels: 1, resize: 'stretch' } as const;
  let db: HearthDb;
  let projectId: string;
  let versionId: number;
  /** Pixels of the labeled test samples, in id order, to check predictions against. */
  const testPixels: Uint8Array[] = [];

  beforeAll(async () => {
    await useBackend('wasm');
    db = await openHearthDb('evaluate-test');
    const project = await createProject(db, { name: 'noise', input: INPUT, classes: ['a', 'b', 'c'], attributes: [], source: 'test' });
    projectId = project.id;
    const rng = new Rng(42);
    const samples = Array.from({ length: 90 }, (_, i) => {
      const pixelsHwc = new Uint8Array(16 * 16).map(() => rng.int(256));
      const split: Split = i % 3 === 0 ? 'train' : 'test';
      // Every tenth test sample is unlabeled: it cannot be scored and must be skipped.
      const label = split === 'test' && i % 10 === 1 ? null : (['a', 'b', 'c'][i % 3] as string);
      if (split === 'test' && label !== null) testPixels.push(pixelsHwc);
      return {
        projectId,
        key: `s${i}`,
        fileName: `s${i}.png`,
        label,
        split,
        attributes: {},
        provenance: { kind: 'real' as const },
        original: null,
        pixelsHwc,
        createdAt: 0,
      };
    });
    await putSamples(db, samples);
    versionId = (await createVersion(db, projectId, { recipe: null, note: '' })).id as number;
  });

  afterAll(() => db.close());

  it('scores the labeled samples of a split, matching a direct forward pass, leaking no tensor', async () => {
    const model = buildModel({ kind: 'lenet', input: INPUT, numClasses: 3, seed: 5 });
    const before = tf.memory().numTensors;
    const result = await evaluateModel(db, model, { versionId, split: 'test', batchSize: 7 });
    expect(tf.memory().numTensors).toBe(before);
    expect(result.predictions.ids).toHaveLength(testPixels.length);
    const expected = tf.tidy(() => tf.argMax(model.model.predict(pixelsToInput(testPixels, INPUT)) as tf.Tensor, 1).dataSync());
    expect(Array.from(result.predictions.predicted)).toEqual(Array.from(expected));
    expect(result.confusion.flat().reduce((a, b) => a + b, 0)).toBe(testPixels.length);
    const correct = result.predictions.predicted.filter((p, i) => p === result.predictions.trueLabels[i]).length;
    expect(result.accuracy.value).toBeCloseTo(correct / testPixels.length, 12);
    expect(result.loss).toBeGreaterThan(0);
    model.dispose();
  });

  it('names the problem when the split has no labeled samples or the classes do not match', async () => {
    const model = buildModel({ kind: 'lenet', input: INPUT, numClasses: 3, seed: 5 });
    await expect(evaluateModel(db, model, { versionId, split: 'val', batchSize: 8 })).rejects.toMatchObject({
      name: 'InvalidInputError',
      message: expect.stringMatching(/val split .* has no labeled samples/),
    });
    const wrong = buildModel({ kind: 'lenet', input: INPUT, numClasses: 4, seed: 5 });
    await expect(evaluateModel(db, wrong, { versionId, split: 'test', batchSize: 8 })).rejects.toMatchObject({ name: 'InvalidInputError' });
    model.dispose();
    wrong.dispose();
  });
});
