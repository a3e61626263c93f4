/**
 * Near-duplicate images and split leaks. A group that spans more than one of train / val /
 * test is a leak: the model is evaluated on images it has, in effect, trained on, and its
 * test accuracy is optimistic. The "remove leaks" action deletes samples on the strength of
 * these groups, so a group must only hold images that are copies of each other.
 *
 * Two samples are a verified pair when
 * 1. their pHashes (./phash.ts) differ in at most `maxDistance` bits (the candidate search),
 *    and, when thumbnails are given,
 * 2. their 16×16 thumbnails differ by at most `maxThumbnailRms` gray levels (root mean
 *    square after mean removal: phash.ts `thumbnailRmsDifference`).
 * Step 2 is needed because 64 low-frequency bits cannot tell small look-alikes apart. On
 * MNIST's 70k digits, hash-only grouping at 4 bits made one group of 23,384 images and 758
 * false leaks, and even identical hashes (0 bits) joined different digits in 790 groups.
 *
 * Thumbnail threshold, measured on MNIST (2,000 planted copies each; 252k candidate pairs of
 * different images at 4 bits): copies brightened by +5 reach 1.8 gray levels, noised with
 * σ = 2 reach 1.0, JPEG-like re-encoding at quality 90 reaches 1.4 and at quality 75 3.2;
 * the closest two different digits (two upright "1"s) are 4.2 apart. DEFAULT_MAX_THUMBNAIL_RMS
 * = 3 sits between, erring towards missing a heavily re-encoded copy rather than deleting a
 * different image. Not counted as copies, by design: shifts (a 1-pixel shift of a digit is
 * 15 gray levels away and ≥ 5 pHash bits in 98 % of cases), flips, crops and contrast
 * changes (a 0.9 gain is ~7 gray levels away). Augmented copies are found through
 * provenance instead.
 *
 * Grouping is complete linkage: every two members of a group are a verified pair. Single
 * linkage (connected components) lets a chain a~b~c of look-alikes join a and c, which are
 * not copies; that is how one MNIST group reached 23k members. Pairs are merged closest
 * first (thumbnail difference, or Hamming distance without thumbnails), and two groups
 * merge only when all their cross pairs are verified, so a sample between two groups goes
 * with the one it is closest to.
 *
 * Search without an all-pairs scan (70k samples would be 2.4e9 comparisons): multi-index
 * hashing (Norouzi, Punjani & Fleet, CVPR 2012). The 64 bits are cut into m ≥ d + 1
 * disjoint chunks. If two hashes differ in at most d bits, those ≤ d differing bits fall
 * into at most d chunks, so (pigeonhole) at least one of the m chunks is identical in both.
 * Bucketing every hash by each chunk's value and comparing only hashes that share a bucket
 * therefore finds every pair within d, exactly, while comparing only a small fraction of
 * all pairs. Samples with identical signatures (hash, and thumbnail when given) are folded
 * first, so a thousand copies of one blank image cost one unit, not half a million pairs.
 */
import { SPLITS, type Split } from '../storage/records';
import { InvalidInputError } from '../jobs/errors';
import { NEVER_CANCELLED, ProgressReporter, type CancelToken, type ProgressFn } from '../jobs/progress';
import { getProject } from '../storage/projects';
import { getPixels } from '../storage/samples';
import type { HearthDb } from '../storage/schema';
import { getVersion } from '../storage/versions';
import { PHASH_WORDS, THUMBNAIL_BYTES, hammingDistance, signatureInto, thumbnailMeans, thumbnailRmsDifference } from './phash';

export const DEFAULT_MAX_DISTANCE = 4;
/**
 * Beyond this, chunks shrink to a bit or two, every bucket holds a large share of the
 * dataset, and pHash pairs that far apart are no longer "the same picture" anyway.
 */
export const MAX_SEARCH_DISTANCE = 24;
/** Largest thumbnail difference (gray levels, 0..255 scale) of a verified pair: see the file comment for the measurements. */
export const DEFAULT_MAX_THUMBNAIL_RMS = 3;
/** Splits whose overlap is a leak; `unassigned` samples are in no evaluation. */
const EVALUATION_SPLITS: readonly Split[] = ['train', 'val', 'test'];
/** Samples whose pixels one storage read fetches: big enough to amortise a transaction, small enough to stay responsive. */
const HASH_CHUNK_SAMPLES = 512;
/** FNV-1a 32-bit parameters, for bucketing identical thumbnails before comparing their bytes. */
const FNV_OFFSET_BASIS = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

export interface DuplicateGroup {
  /** Sample ids, ascending. */
  ids: number[];
  /** Split of each sample, parallel to `ids`. */
  splits: Split[];
  /** Largest pHash Hamming distance between two members: at most the search's `maxDistance` (complete linkage). */
  maxDistance: number;
  /**
   * Sets (≥ 2 ids, ascending) of members with identical signatures: the same pHash and,
   * when verified, the same thumbnail. Exact copies as far as a 16×16 thumbnail sees.
   */
  exact: number[][];
}

export interface SplitLeak {
  /** Sample ids of the group, ascending. */
  ids: number[];
  /** Split of each sample, parallel to `ids`. */
  splits: Split[];
}

export interface NearDuplicates {
  /** Groups of ≥ 2 samples, largest first (ties: smallest first id first). */
  groups: DuplicateGroup[];
  /** The groups that span more than one of train / val / test, in the same order. */
  leaks: SplitLeak[];
}

export interface NearDuplicateOptions {
  /** Candidate pairs differ in at most this many pHash bits (0..MAX_SEARCH_DISTANCE; default DEFAULT_MAX_DISTANCE). */
  maxDistance?: number;
  /**
   * THUMBNAIL_BYTES bytes per sample, parallel to `ids` (from `hashVersion` or
   * `signatureInto`). Given: every pair is verified on them. Left out: pHash alone decides,
   * which is only trustworthy for images large and varied enough that 64 bits tell them apart.
   */
  thumbnails?: Uint8Array;
  /** Largest thumbnail difference of a verified pair, in gray levels (default DEFAULT_MAX_THUMBNAIL_RMS). */
  maxThumbnailRms?: number;
}

/**
 * Near-duplicate groups among `ids.length` samples (`hashes` packed as PHASH_WORDS words
 * each, parallel to `ids` and `splits`): complete-linkage groups of verified pairs (see the
 * file comment).
 */
export function findNearDuplicates(
  hashes: Uint32Array,
  ids: ArrayLike<number>,
  splits: ArrayLike<Split>,
  opts: NearDuplicateOptions = {},
): NearDuplicates {
  const maxDistance = opts.maxDistance ?? DEFAULT_MAX_DISTANCE;
  const maxRms = opts.maxThumbnailRms ?? DEFAULT_MAX_THUMBNAIL_RMS;
  const thumbnails = opts.thumbnails;
  const n = ids.length;
  if (!Number.isInteger(maxDistance) || maxDistance < 0 || maxDistance > MAX_SEARCH_DISTANCE) {
    throw new InvalidInputError(`The near-duplicate distance must be a whole number of bits from 0 to ${MAX_SEARCH_DISTANCE}, not ${maxDistance}.`);
  }
  if (!Number.isFinite(maxRms) || maxRms < 0) {
    throw new InvalidInputError(`The thumbnail difference must be a number of gray levels ≥ 0, not ${maxRms}.`);
  }
  if (hashes.length !== PHASH_WORDS * n || splits.length !== n || (thumbnails && thumbnails.length !== THUMBNAIL_BYTES * n)) {
    const thumbs = thumbnails ? ` and ${thumbnails.length / THUMBNAIL_BYTES} thumbnails` : '';
    throw new InvalidInputError(
      `Got ${hashes.length / PHASH_WORDS} hashes${thumbs} and ${splits.length} splits for ${n} samples; hash the same samples again.`,
    );
  }

  // 1. Fold samples with identical signatures into units; group the units by hash.
  const { unitOf, unitFirst, hashOfUnit, unitsOfHash } = foldIdentical(hashes, thumbnails, n);
  const unitCount = unitFirst.length;
  const uniqueHashes = new Uint32Array(PHASH_WORDS * unitsOfHash.length);
  unitsOfHash.forEach((units, h) => {
    const i = unitFirst[units[0] as number] as number;
    uniqueHashes[PHASH_WORDS * h] = hashes[PHASH_WORDS * i] as number;
    uniqueHashes[PHASH_WORDS * h + 1] = hashes[PHASH_WORDS * i + 1] as number;
  });

  // 2. Verified pairs of units: every two units of one hash, and of two hashes within
  //    maxDistance (multi-index hashing); weight = thumbnail difference, or bits without thumbnails.
  const means = thumbnails ? thumbnailMeans(thumbnails) : null;
  const edgeA: number[] = [];
  const edgeB: number[] = [];
  const edgeWeight: number[] = [];
  const edgeSet = new Set<number>();
  const edgeKey = (a: number, b: number): number => (a < b ? a * unitCount + b : b * unitCount + a);
  const consider = (a: number, b: number, bits: number): void => {
    let weight = bits;
    if (thumbnails && means) {
      weight = thumbnailRmsDifference(thumbnails, means, unitFirst[a] as number, unitFirst[b] as number);
      if (weight > maxRms) return;
    }
    edgeA.push(a);
    edgeB.push(b);
    edgeWeight.push(weight);
    edgeSet.add(edgeKey(a, b));
  };
  for (const units of unitsOfHash) {
    for (let x = 0; x < units.length; x++) for (let y = x + 1; y < units.length; y++) consider(units[x] as number, units[y] as number, 0);
  }
  if (maxDistance > 0) {
    forEachPairWithin(uniqueHashes, maxDistance, (ha, hb) => {
      const bits = hammingDistance(uniqueHashes, ha, uniqueHashes, hb);
      for (const a of unitsOfHash[ha] as number[]) for (const b of unitsOfHash[hb] as number[]) consider(a, b, bits);
    });
  }

  // 3. Complete linkage, closest pairs first: two clusters merge only when every cross pair is verified.
  const order = Array.from(edgeWeight.keys()).sort(
    (p, q) => (edgeWeight[p] as number) - (edgeWeight[q] as number) || (edgeA[p] as number) - (edgeA[q] as number) || (edgeB[p] as number) - (edgeB[q] as number),
  );
  const clusterOf = Int32Array.from({ length: unitCount }, (_, u) => u);
  const clusterUnits = new Map<number, number[]>();
  for (const e of order) {
    const ca = clusterOf[edgeA[e] as number] as number;
    const cb = clusterOf[edgeB[e] as number] as number;
    if (ca === cb) continue;
    const unitsA = clusterUnits.get(ca) ?? [ca];
    const unitsB = clusterUnits.get(cb) ?? [cb];
    if (!unitsA.every((a) => unitsB.every((b) => edgeSet.has(edgeKey(a, b))))) continue;
    // Relabel the smaller cluster: each unit moves O(log n) times over all merges.
    const [keep, gone, keptUnits, goneUnits] = unitsA.length >= unitsB.length ? [ca, cb, unitsA, unitsB] : [cb, ca, unitsB, unitsA];
    for (const u of goneUnits) clusterOf[u] = keep;
    keptUnits.push(...goneUnits);
    clusterUnits.set(keep, keptUnits);
    clusterUnits.delete(gone);
  }

  // 4. Groups: clusters of ≥ 2 samples (a single unit of identical copies is one too).
  const samplesOfCluster = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const c = clusterOf[unitOf[i] as number] as number;
    let list = samplesOfCluster.get(c);
    if (!list) samplesOfCluster.set(c, (list = []));
    list.push(i);
  }
  const groups: DuplicateGroup[] = [];
  for (const list of samplesOfCluster.values()) {
    if (list.length < 2) continue;
    list.sort((a, b) => (ids[a] as number) - (ids[b] as number));
    const byUnit = new Map<number, number[]>();
    for (const i of list) {
      const u = unitOf[i] as number;
      let same = byUnit.get(u);
      if (!same) byUnit.set(u, (same = []));
      same.push(ids[i] as number);
    }
    // Complete linkage keeps groups to cliques of verified pairs, so all pairs of their distinct hashes are few.
    const distinct = [...new Set([...byUnit.keys()].map((u) => hashOfUnit[u] as number))];
    let groupMax = 0;
    for (let a = 0; a < distinct.length; a++) {
      for (let b = a + 1; b < distinct.length; b++) groupMax = Math.max(groupMax, hammingDistance(uniqueHashes, distinct[a] as number, uniqueHashes, distinct[b] as number));
    }
    groups.push({
      ids: list.map((i) => ids[i] as number),
      splits: list.map((i) => splits[i] as Split),
      maxDistance: groupMax,
      exact: [...byUnit.values()].filter((s) => s.length > 1),
    });
  }
  groups.sort((a, b) => b.ids.length - a.ids.length || (a.ids[0] as number) - (b.ids[0] as number));
  const leaks = groups
    .filter((g) => new Set(g.splits.filter((s) => EVALUATION_SPLITS.includes(s))).size > 1)
    .map((g) => ({ ids: g.ids, splits: g.splits }));
  return { groups, leaks };
}

/**
 * The verified near-duplicate groups of a hashed version: `findNearDuplicates` with the
 * version's thumbnails, which is what anything that removes samples should use.
 */
export function findVerifiedDuplicates(
  version: VersionHashes,
  opts: { maxDistance?: number; maxThumbnailRms?: number } = {},
): NearDuplicates {
  return findNearDuplicates(version.hashes, version.sampleIds, version.splits, { ...opts, thumbnails: version.thumbnails });
}

/** Samples folded into units of identical signatures, and units grouped by hash. */
interface Folded {
  /** Unit of each sample. */
  unitOf: Int32Array;
  /** First sample of each unit (its representative). */
  unitFirst: number[];
  /** Index (into `unitsOfHash`) of each unit's hash. */
  hashOfUnit: number[];
  /** Units of each distinct hash. */
  unitsOfHash: number[][];
}

/**
 * Folds samples with the same hash (and, given thumbnails, byte-identical thumbnails):
 * thumbnails are bucketed by an FNV-1a digest and then compared byte by byte, so a digest
 * collision can never fold two different thumbnails.
 */
function foldIdentical(hashes: Uint32Array, thumbnails: Uint8Array | undefined, n: number): Folded {
  const unitOf = new Int32Array(n);
  const unitFirst: number[] = [];
  const hashOfUnit: number[] = [];
  const unitsOfHash: number[][] = [];
  const hashIndex = new Map<string, number>();
  const unitsByKey = new Map<string, number[]>();
  const sameThumbnail = (i: number, j: number): boolean => {
    if (!thumbnails) return true;
    for (let k = 0; k < THUMBNAIL_BYTES; k++) if (thumbnails[THUMBNAIL_BYTES * i + k] !== thumbnails[THUMBNAIL_BYTES * j + k]) return false;
    return true;
  };
  for (let i = 0; i < n; i++) {
    const hashKey = `${hashes[PHASH_WORDS * i] as number}:${hashes[PHASH_WORDS * i + 1] as number}`;
    let h = hashIndex.get(hashKey);
    if (h === undefined) {
      h = unitsOfHash.length;
      hashIndex.set(hashKey, h);
      unitsOfHash.push([]);
    }
    let digest = FNV_OFFSET_BASIS;
    if (thumbnails) {
      for (let k = THUMBNAIL_BYTES * i, end = k + THUMBNAIL_BYTES; k < end; k++) digest = Math.imul(digest ^ (thumbnails[k] as number), FNV_PRIME);
    }
    const key = `${hashKey}:${digest >>> 0}`;
    let candidates = unitsByKey.get(key);
    if (!candidates) unitsByKey.set(key, (candidates = []));
    let unit = candidates.find((u) => sameThumbnail(unitFirst[u] as number, i));
    if (unit === undefined) {
      unit = unitFirst.length;
      unitFirst.push(i);
      hashOfUnit.push(h);
      (unitsOfHash[h] as number[]).push(unit);
      candidates.push(unit);
    }
    unitOf[i] = unit;
  }
  return { unitOf, unitFirst, hashOfUnit, unitsOfHash };
}

/**
 * Calls `visit(a, b)` (a < b) for every pair of hashes in `unique` within `maxDistance`
 * bits, each pair once. Multi-index hashing: see the file comment.
 */
export function forEachPairWithin(unique: Uint32Array, maxDistance: number, visit: (a: number, b: number) => void): void {
  const m = unique.length / PHASH_WORDS;
  // At least 2 chunks, so each chunk is ≤ 32 bits and its value fits a number key.
  const chunkCount = Math.max(2, maxDistance + 1);
  const bounds = chunkBounds(chunkCount);
  // A pair sharing several chunks would otherwise be compared (and visited) once per chunk.
  const visited = new Set<number>();
  const pairKey = (a: number, b: number): number => a * m + b;
  const keys = new Uint32Array(m);
  for (let c = 0; c < chunkCount; c++) {
    const [start, end] = bounds[c] as [number, number];
    for (let u = 0; u < m; u++) keys[u] = chunkValue(unique, u, start, end);
    // Buckets as linked lists: head per key, `next` per hash; no array per bucket.
    const head = new Map<number, number>();
    const next = new Int32Array(m).fill(-1);
    for (let u = 0; u < m; u++) {
      const key = keys[u] as number;
      const previous = head.get(key);
      if (previous !== undefined) {
        for (let v = previous; v !== -1; v = next[v] as number) {
          if (hammingDistance(unique, v, unique, u) > maxDistance) continue;
          const k = pairKey(v, u);
          if (visited.has(k)) continue;
          visited.add(k);
          visit(v, u);
        }
        next[u] = previous;
      }
      head.set(key, u);
    }
  }
}

/** Bit ranges [start, end) of `count` near-equal chunks of the 64 bits (bit 0 = lo word bit 0). */
function chunkBounds(count: number): [number, number][] {
  const out: [number, number][] = [];
  for (let c = 0; c < count; c++) out.push([Math.floor((64 * c) / count), Math.floor((64 * (c + 1)) / count)]);
  return out;
}

/** Bits [start, end) (end − start ≤ 32) of hash u, as an unsigned number. */
function chunkValue(hashes: Uint32Array, u: number, start: number, end: number): number {
  const hi = hashes[PHASH_WORDS * u] as number;
  const lo = hashes[PHASH_WORDS * u + 1] as number;
  const bitsOf = (word: number, from: number, to: number): number => {
    const width = to - from;
    const shifted = word >>> from;
    return width >= 32 ? shifted >>> 0 : (shifted & ((1 << width) - 1)) >>> 0;
  };
  if (end <= 32) return bitsOf(lo, start, end);
  if (start >= 32) return bitsOf(hi, start - 32, end - 32);
  const lowPart = bitsOf(lo, start, 32);
  const highPart = bitsOf(hi, 0, end - 32);
  return highPart * 2 ** (32 - start) + lowPart;
}

export interface VersionHashes {
  versionId: number;
  /** The version's sample ids (ascending), parallel to `splits` and the hashes. */
  sampleIds: Uint32Array;
  splits: Split[];
  /** PHASH_WORDS words per sample. */
  hashes: Uint32Array;
  /** THUMBNAIL_BYTES bytes per sample (16×16 gray, phash.ts): what verifies the pHash candidates. */
  thumbnails: Uint8Array;
}

/**
 * pHashes and thumbnails of every sample of a dataset version, reading pixels in chunks so memory stays
 * bounded (one chunk of pixels at a time, not the whole dataset). Reports progress per
 * chunk and checks `cancel` between chunks.
 */
export async function hashVersion(
  db: HearthDb,
  versionId: number,
  opts: { onProgress?: ProgressFn; cancel?: CancelToken } = {},
): Promise<VersionHashes> {
  const cancel = opts.cancel ?? NEVER_CANCELLED;
  const version = await getVersion(db, versionId);
  const { width, height, channels } = (await getProject(db, version.projectId)).input;
  const n = version.sampleIds.length;
  const hashes = new Uint32Array(PHASH_WORDS * n);
  const thumbnails = new Uint8Array(THUMBNAIL_BYTES * n);
  const reporter = new ProgressReporter(opts.onProgress);
  reporter.report(0, n, 'Hashing images', true);
  for (let startAt = 0; startAt < n; startAt += HASH_CHUNK_SAMPLES) {
    cancel.throwIfCancelled();
    const ids = Array.from(version.sampleIds.subarray(startAt, Math.min(n, startAt + HASH_CHUNK_SAMPLES)));
    const pixels = await getPixels(db, ids);
    for (const [k, px] of pixels.entries()) signatureInto(px, width, height, channels, hashes, thumbnails, startAt + k);
    reporter.report(startAt + ids.length, n, 'Hashing images', startAt + ids.length === n);
  }
  const splits = Array.from(version.splits, (code) => SPLITS[code] as Split);
  return { versionId, sampleIds: version.sampleIds, splits, hashes, thumbnails };
}
