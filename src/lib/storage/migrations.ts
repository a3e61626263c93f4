import type { Project, SampleMeta } from './records';
import type { RunRecord, StoredSession } from './run-records';

/**
 * Record conversions of the schema's `if (oldVersion < N)` steps (schema.ts). Synchronous
 * code over one record at a time, so they run inside the versionchange transaction
 * without awaiting anything but its requests, and are tested on their own.
 */

/**
 * Version 2 types run records by kind. Version-1 records already carry each kind's fields
 * under the same names; what the types now promise and version 1 did not is that a label
 * session's result is never null and always has `rounds` and `open` (readers used to fill
 * in `{ rounds: [], open: null }` themselves). Returns the record itself when unchanged.
 */
export function normalizeRunV2(run: RunRecord): RunRecord {
  if (run.kind === 'label-session') {
    // Read as version 1 may have stored it: null, or an object without one of the fields.
    const stored: Partial<StoredSession> | null = run.result;
    const rounds = stored && Array.isArray(stored.rounds) ? stored.rounds : null;
    const open = stored && stored.open !== undefined ? stored.open : undefined;
    if (rounds && open !== undefined) return run;
    return { ...run, result: { rounds: rounds ?? [], open: open ?? null } };
  }
  return run;
}

/**
 * Version 3 gives every sample a number within its project (SampleRecord.number), where
 * version 2 showed the user the global id (#2176 in a 14-sample project). Fed a store's
 * samples in ascending id, it numbers each project's 1, 2, 3… in that order; then each
 * project's counter continues after its last number. Only samples stored now are counted:
 * numbers of samples deleted before the upgrade are not held back.
 */
export class SampleNumbering {
  readonly #next = new Map<string, number>();

  /** The sample with its number (samples must come in ascending id). */
  number(sample: SampleMeta): SampleMeta {
    const next = this.#next.get(sample.projectId) ?? 1;
    this.#next.set(sample.projectId, next + 1);
    return { ...sample, number: next };
  }

  /** The project with the counter its next new sample takes its number from. */
  counted(project: Project): Project {
    return { ...project, nextSampleNumber: this.#next.get(project.id) ?? 1 };
  }
}
