/**
 * The Analyze page's "find duplicates": hash every sample of a version, group the
 * near-duplicates, and list the groups that leak across train / val / test.
 */
import type { CancelToken, ProgressFn } from '../jobs/progress';
import type { HearthDb } from '../storage/schema';
import { findVerifiedDuplicates, hashVersion, type DuplicateGroup, type SplitLeak } from './duplicates';

export interface DuplicatesReport {
  versionId: number;
  maxDistance: number;
  /** Samples hashed (the whole version). */
  samples: number;
  /** Groups of ≥ 2 samples, largest first. */
  groups: DuplicateGroup[];
  /** The groups that span more than one of train / val / test. */
  leaks: SplitLeak[];
}

export async function findVersionDuplicates(
  db: HearthDb,
  versionId: number,
  opts: { maxDistance: number; onProgress?: ProgressFn; cancel?: CancelToken },
): Promise<DuplicatesReport> {
  const hashed = await hashVersion(db, versionId, { onProgress: opts.onProgress, cancel: opts.cancel });
  // Candidates by pHash, each pair confirmed on 16×16 thumbnails: pHash alone groups
  // look-alike digits (70k MNIST: a 23k-image group at 4 bits); verified, it finds none.
  const found = findVerifiedDuplicates(hashed, { maxDistance: opts.maxDistance });
  return { versionId, maxDistance: opts.maxDistance, samples: hashed.sampleIds.length, ...found };
}
