/**
 * Split leaks in a duplicates report, as plain functions (no runes), so they are tested
 * in Node and shared by the Analyze page's state and components.
 */
import type { SplitLeak } from '../../lib/analysis/duplicates';
import { SPLITS, type Split } from '../../lib/storage/records';
// remove.ts is plain TypeScript over idb: no tfjs enters the main bundle through it.
import { resolveLeaks } from '../../lib/storage/remove';

export type { DuplicatesReport } from '../../lib/analysis/find-duplicates';
import type { DuplicatesReport } from '../../lib/analysis/find-duplicates';

/** Splits whose overlap is a leak; `unassigned` samples are in no evaluation. */
const EVALUATION_SPLITS: readonly Split[] = SPLITS.filter((s) => s !== 'unassigned');

/**
 * The ids that "remove the val/test copies" deletes from these leaks: the library's rule
 * (storage/remove.ts), keeping each group's training copy. Ascending, without repeats.
 */
export function leakCopies(leaks: readonly SplitLeak[]): number[] {
  return resolveLeaks(leaks, 'keep-train');
}

/**
 * The duplicates report after `removed` ids were deleted, without hashing again: pHashes
 * of the remaining samples do not change, so the groups are the old ones minus the removed
 * members (a group left with one member is no group). Exact for the leaks: removing the
 * val/test copies leaves a group's other members in one evaluation split, and none of the
 * untouched groups changes. Approximate only for a group that lost members and kept ≥ 2:
 * when it was a chain (a~b~c, a and c further apart) through a removed member, its rest is
 * still shown as one group; its `maxDistance` can only shrink, so it stays an upper bound.
 * Finding duplicates again gives the exact groups.
 */
export function withoutSamples(report: DuplicatesReport, removed: readonly number[], versionId: number): DuplicatesReport {
  const gone = new Set(removed);
  const keep = (g: { ids: number[]; splits: Split[] }): { ids: number[]; splits: Split[] } => {
    const ids: number[] = [];
    const splits: Split[] = [];
    g.ids.forEach((id, k) => {
      const s = g.splits[k];
      if (!gone.has(id) && s !== undefined) {
        ids.push(id);
        splits.push(s);
      }
    });
    return { ids, splits };
  };
  const spansSplits = (splits: Split[]): boolean => new Set(splits.filter((s) => EVALUATION_SPLITS.includes(s))).size > 1;
  const groups = report.groups
    .map((g) => ({
      ...g,
      ...keep(g),
      exact: g.exact.map((set) => set.filter((id) => !gone.has(id))).filter((set) => set.length > 1),
    }))
    .filter((g) => g.ids.length > 1)
    // Largest first, ties by first id, as findNearDuplicates orders them.
    .sort((a, b) => b.ids.length - a.ids.length || (a.ids[0] ?? 0) - (b.ids[0] ?? 0));
  const leaks = report.leaks.map(keep).filter((l) => l.ids.length > 1 && spansSplits(l.splits));
  return { ...report, versionId, samples: report.samples - gone.size, groups, leaks };
}

/** Key of a duplicate group or leak (its first id: groups are disjoint). */
export function groupKey(g: { ids: readonly number[] }): number {
  return g.ids[0] ?? -1;
}

