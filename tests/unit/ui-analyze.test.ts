import { describe, expect, it } from 'vitest';
import { findNearDuplicates } from '../../src/lib/analysis/duplicates';
import { PHASH_WORDS } from '../../src/lib/analysis/phash';
import { Rng } from '../../src/lib/data/rng';
import type { Split } from '../../src/lib/storage/records';
import { resolveLeaks } from '../../src/lib/storage/remove';
import { groupKey, leakCopies, withoutSamples, type DuplicatesReport } from '../../src/ui/analyze/leaks';

const SPLIT_CHOICES: Split[] = ['train', 'train', 'train', 'val', 'test', 'unassigned'];
const MAX_DISTANCE_BITS = 3;

/**
 * Tight clusters of hashes (every member at most 1 bit from its cluster's centre, so at
 * most 2 bits from each other, and clusters ≥ 20 bits apart in expectation) plus singletons,
 * with seeded random splits: a report whose groups are all-pairs close, where removal cannot
 * break a chain.
 */
function makeDataset(seed: number): { hashes: Uint32Array; ids: number[]; splits: Split[] } {
  const rng = new Rng(seed);
  const words: number[] = [];
  const ids: number[] = [];
  const splits: Split[] = [];
  let id = 10;
  const CLUSTERS = 12;
  for (let c = 0; c < CLUSTERS; c++) {
    const hi = rng.int(2 ** 31) >>> 0;
    const lo = rng.int(2 ** 31) >>> 0;
    const members = 1 + rng.int(4);
    for (let m = 0; m < members; m++) {
      // Member m > 0 flips one low bit of the centre: distinct from the others, 1 bit from the centre.
      words.push(hi, m === 0 ? lo : (lo ^ (1 << (m + 2))) >>> 0);
      ids.push(id);
      splits.push(SPLIT_CHOICES[rng.int(SPLIT_CHOICES.length)] as Split);
      id += 1 + rng.int(3);
    }
  }
  return { hashes: Uint32Array.from(words), ids, splits };
}

function reportOf(data: { hashes: Uint32Array; ids: number[]; splits: Split[] }, versionId: number): DuplicatesReport {
  const found = findNearDuplicates(data.hashes, data.ids, data.splits, { maxDistance: MAX_DISTANCE_BITS });
  return { versionId, maxDistance: MAX_DISTANCE_BITS, samples: data.ids.length, ...found };
}

/** The same data without the samples `removed`. */
function minus(data: { hashes: Uint32Array; ids: number[]; splits: Split[] }, removed: number[]) {
  const gone = new Set(removed);
  const keep = data.ids.flatMap((id, i) => (gone.has(id) ? [] : [i]));
  const hashes = new Uint32Array(keep.length * PHASH_WORDS);
  keep.forEach((i, k) => {
    hashes[k * PHASH_WORDS] = data.hashes[i * PHASH_WORDS] as number;
    hashes[k * PHASH_WORDS + 1] = data.hashes[i * PHASH_WORDS + 1] as number;
  });
  return { hashes, ids: keep.map((i) => data.ids[i] as number), splits: keep.map((i) => data.splits[i] as Split) };
}

describe('leakCopies', () => {
  it('removes the same ids as storage/remove.ts resolveLeaks with keep-train', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const report = reportOf(makeDataset(seed), 1);
      expect(leakCopies(report.leaks)).toEqual(resolveLeaks(report.leaks, 'keep-train'));
    }
  });

  it('keeps the train copy, then val, and never touches unassigned members', () => {
    const leaks = [
      { ids: [1, 2, 3, 4], splits: ['train', 'val', 'test', 'unassigned'] as Split[] },
      { ids: [5, 6, 7], splits: ['val', 'test', 'test'] as Split[] },
    ];
    expect(leakCopies(leaks)).toEqual([2, 3, 6, 7]);
    expect(leakCopies([])).toEqual([]);
  });
});

describe('withoutSamples', () => {
  it('matches finding the duplicates again on the reduced dataset, for all-pairs-close groups', () => {
    let leaksSeen = 0;
    for (let seed = 1; seed <= 20; seed++) {
      const data = makeDataset(seed);
      const before = reportOf(data, 1);
      leaksSeen += before.leaks.length;
      // Remove the copies of the first leak only, as the per-leak button does.
      const removed = leakCopies(before.leaks.slice(0, 1));
      const updated = withoutSamples(before, removed, 2);
      const again = reportOf(minus(data, removed), 2);
      expect(updated.leaks).toEqual(again.leaks);
      expect(updated.groups.map((g) => ({ ids: g.ids, splits: g.splits, exact: g.exact }))).toEqual(
        again.groups.map((g) => ({ ids: g.ids, splits: g.splits, exact: g.exact })),
      );
      updated.groups.forEach((g, k) => expect(g.maxDistance).toBeGreaterThanOrEqual(again.groups[k]?.maxDistance ?? 0));
      expect(updated.samples).toBe(data.ids.length - removed.length);
      expect(updated.versionId).toBe(2);
    }
    // The generator must actually produce leaks, or the comparison above proves little.
    expect(leaksSeen).toBeGreaterThan(10);
  });

  it('leaves no leak after removing the copies of all of them', () => {
    const before = reportOf(makeDataset(7), 1);
    expect(before.leaks.length).toBeGreaterThan(0);
    const after = withoutSamples(before, leakCopies(before.leaks), 2);
    expect(after.leaks).toEqual([]);
    expect(after.groups.every((g) => g.ids.length >= 2)).toBe(true);
  });

  it('keys groups by their first id', () => {
    expect(groupKey({ ids: [4, 9] })).toBe(4);
  });
});

