import type { RunRecord, StoredSession } from './run-records';

/**
 * Record conversions of the schema's `if (oldVersion < N)` steps (schema.ts). Pure
 * functions of one record, so they run inside the versionchange transaction without
 * awaiting anything but its requests, and are tested on their own.
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
