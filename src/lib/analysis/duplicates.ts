/**
 * Near-duplicate images and split leaks. Two samples are near-duplicates when their pHashes
 * (./phash.ts) differ in at most `maxDistance` bits; groups are the connected components of
 * that relation (so a chain a~b~c is one group even if a and c are further apart: the
 * group's `maxDistance` says how far its two most different members are). A group that
 * spans more than one of train / val / test is a leak: the model is evaluated on images it
 * has, in effect, trained on, and its test accuracy is optimistic.
 *
 * Search without an all-pairs scan (70k samples would be 2.4e9 comparisons): multi-index
 * hashing (Norouzi, Punjani & Fleet, CVPR 2012). The 64 bits are cut into m ≥ d + 1
 * disjoint chunks. If two hashes differ in at most d bits, those ≤ d differing bits fall
 * into at most d chunks, so (pigeonhole) at least one of the m chunks is identical in both.
 * Bucketing every hash by each chunk's value and comparing only hashes that share a bucket
 * therefore finds every pair within d, exactly, while comparing only a small fraction of
 * all pairs. Identical hashes are folded first, so a thousand copies of one blank image
 * cost one bucket entry, not a million comparisons.
 */
import { SPLITS, type Split } from '../data/types';
import { InvalidInputError } from '../jobs/errors';
import { NEVER_CANCELLED, ProgressReporter, type CancelToken, type ProgressFn } from '../jobs/progress';
import { getProject } from '../storage/projects';
import { getPixels } from '../storage/samples';
import type { HearthDb } from '../storage/schema';
import { getVersion } from '../storage/versions';
import { PHASH_WORDS, hammingDistance, pHashInto } from './phash';

export const DEFAULT_MAX_DISTANCE = 4;
/**
 * Beyond this, chunks shrink to a bit or two, every bucket holds a large share of the
 * dataset, and pHash pairs that far apart are no longer "the same picture" anyway.
 */
export const MAX_SEARCH_DISTANCE = 24;
/** Splits whose overlap is a leak; `unassigned` samples are in no evaluation. */
const EVALUATION_SPLITS: readonly Split[] = ['train', 'val', 'test'];
/** Groups with more distinct hashes than this get a lower bound of their diameter (all pairs would be ~0.5M comparisons at this size). */
const EXACT_DIAMETER_MAX_HASHES = 1024;
/** Farthest-point sweeps for the diameter bound of a large group. */
const DIAMETER_SWEEPS = 4;
/** Samples whose pixels one storage read fetches: big enough to amortise a transaction, small enough to stay responsive. */
const HASH_CHUNK_SAMPLES = 512;

export interface DuplicateGroup {
  /** Sample ids, ascending. */
  ids: number[];
  /** Split of each sample, parallel to `ids`. */
  splits: Split[];
  /**
   * Largest Hamming distance between any two members (0 = all exact copies). Chaining can
   * make it exceed the search threshold: a large value flags a loose group worth a look.
   */
  maxDistance: number;
  /** False when the group was too large to compare all pairs: `maxDistance` is then a lower bound. */
  maxDistanceExact: boolean;
  /** Sets (≥ 2 ids, ascending) of members with identical hashes: exact duplicates, as far as pHash sees. */
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

/**
 * Near-duplicate groups among `ids.length` hashes (`hashes` packed as PHASH_WORDS words
 * each, parallel to `ids` and `splits`).
 */
export function findNearDuplicates(
  hashes: Uint32Array,
  ids: ArrayLike<number>,
  splits: ArrayLike<Split>,
  opts: { maxDistance?: number } = {},
): NearDuplicates {
  const maxDistance = opts.maxDistance ?? DEFAULT_MAX_DISTANCE;
  const n = ids.length;
  if (!Number.isInteger(maxDistance) || maxDistance < 0 || maxDistance > MAX_SEARCH_DISTANCE) {
    throw new InvalidInputError(`The near-duplicate distance must be a whole number of bits from 0 to ${MAX_SEARCH_DISTANCE}, not ${maxDistance}.`);
  }
  if (hashes.length !== PHASH_WORDS * n || splits.length !== n) {
    throw new InvalidInputError(
      `Got ${hashes.length / PHASH_WORDS} hashes and ${splits.length} splits for ${n} samples; hash the same samples again.`,
    );
  }

  // 1. Fold identical hashes: `uniqueOf[i]` is the unique-hash index of sample i.
  const uniqueOf = new Int32Array(n);
  const uniqueFirst: number[] = [];
  const seen = new Map<number, Map<number, number>>();
  for (let i = 0; i < n; i++) {
    const hi = hashes[PHASH_WORDS * i] as number;
    const lo = hashes[PHASH_WORDS * i + 1] as number;
    let byLo = seen.get(hi);
    if (!byLo) seen.set(hi, (byLo = new Map()));
    let u = byLo.get(lo);
    if (u === undefined) {
      u = uniqueFirst.length;
      byLo.set(lo, u);
      uniqueFirst.push(i);
    }
    uniqueOf[i] = u;
  }
  const m = uniqueFirst.length;
  const unique = new Uint32Array(PHASH_WORDS * m);
  for (let u = 0; u < m; u++) {
    const i = uniqueFirst[u] as number;
    unique[PHASH_WORDS * u] = hashes[PHASH_WORDS * i] as number;
    unique[PHASH_WORDS * u + 1] = hashes[PHASH_WORDS * i + 1] as number;
  }

  // 2. Union the unique hashes within maxDistance, found by multi-index hashing.
  const parent = new Int32Array(m);
  for (let u = 0; u < m; u++) parent[u] = u;
  const find = (x: number): number => {
    let r = x;
    while (parent[r] !== r) r = parent[r] as number;
    while (parent[x] !== r) {
      const next = parent[x] as number;
      parent[x] = r;
      x = next;
    }
    return r;
  };
  if (maxDistance > 0) forEachPairWithin(unique, maxDistance, (a, b) => {
    const ra = find(a);
    const rb = find(b);
    if (ra !== rb) parent[Math.max(ra, rb)] = Math.min(ra, rb);
  });

  // 3. Collect components of ≥ 2 samples.
  const members = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const root = find(uniqueOf[i] as number);
    let list = members.get(root);
    if (!list) members.set(root, (list = []));
    list.push(i);
  }
  const groups: DuplicateGroup[] = [];
  for (const list of members.values()) {
    if (list.length < 2) continue;
    list.sort((a, b) => (ids[a] as number) - (ids[b] as number));
    const byHash = new Map<number, number[]>();
    for (const i of list) {
      const u = uniqueOf[i] as number;
      let same = byHash.get(u);
      if (!same) byHash.set(u, (same = []));
      same.push(ids[i] as number);
    }
    const { distance: groupMax, exact: maxDistanceExact } = diameter(unique, [...byHash.keys()]);
    groups.push({
      ids: list.map((i) => ids[i] as number),
      splits: list.map((i) => splits[i] as Split),
      maxDistance: groupMax,
      maxDistanceExact,
      exact: [...byHash.values()].filter((s) => s.length > 1),
    });
  }
  groups.sort((a, b) => b.ids.length - a.ids.length || (a.ids[0] as number) - (b.ids[0] as number));
  const leaks = groups
    .filter((g) => new Set(g.splits.filter((s) => EVALUATION_SPLITS.includes(s))).size > 1)
    .map((g) => ({ ids: g.ids, splits: g.splits }));
  return { groups, leaks };
}

/**
 * Largest pairwise distance among the hashes `members` (indices into `unique`): exact up to
 * EXACT_DIAMETER_MAX_HASHES members; beyond, a lower bound by farthest-point sweeps, because
 * all pairs of the 23k-member chain that MNIST forms at distance 4 take seconds for one number.
 */
function diameter(unique: Uint32Array, members: number[]): { distance: number; exact: boolean } {
  let best = 0;
  if (members.length <= EXACT_DIAMETER_MAX_HASHES) {
    for (let a = 0; a < members.length; a++) {
      for (let b = a + 1; b < members.length; b++) {
        best = Math.max(best, hammingDistance(unique, members[a] as number, unique, members[b] as number));
      }
    }
    return { distance: best, exact: true };
  }
  // Each sweep goes to the member farthest from the current one: a classic 2-approximation.
  let from = members[0] as number;
  for (let sweep = 0; sweep < DIAMETER_SWEEPS; sweep++) {
    let farthest = from;
    let far = -1;
    for (const m of members) {
      const d = hammingDistance(unique, from, unique, m);
      if (d > far) {
        far = d;
        farthest = m;
      }
    }
    best = Math.max(best, far);
    from = farthest;
  }
  return { distance: best, exact: false };
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
}

/**
 * pHashes of every sample of a dataset version, reading pixels in chunks so memory stays
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
  const reporter = new ProgressReporter(opts.onProgress);
  reporter.report(0, n, 'Hashing images', true);
  for (let startAt = 0; startAt < n; startAt += HASH_CHUNK_SAMPLES) {
    cancel.throwIfCancelled();
    const ids = Array.from(version.sampleIds.subarray(startAt, Math.min(n, startAt + HASH_CHUNK_SAMPLES)));
    const pixels = await getPixels(db, ids);
    for (const [k, px] of pixels.entries()) pHashInto(px, width, height, channels, hashes, startAt + k);
    reporter.report(startAt + ids.length, n, 'Hashing images', startAt + ids.length === n);
  }
  const splits = Array.from(version.splits, (code) => SPLITS[code] as Split);
  return { versionId, sampleIds: version.sampleIds, splits, hashes };
}
