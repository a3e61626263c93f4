import type { RunKind, RunOfKind, RunRecord } from './run-records';
import type { HearthDb } from './schema';
import { runTx } from './tx';

/** The `runs` store: every kind of run record (run-records.ts RunKinds). */

function isKind<K extends RunKind>(run: RunRecord, kind: K): run is RunOfKind<K> {
  return run.kind === kind;
}

/** A run of any kind, or undefined when there is none with that id. */
export async function getRun(db: HearthDb, id: string): Promise<RunRecord | undefined> {
  return db.get('runs', id);
}

/** The run with this id if it is of `kind`; undefined when absent or of another kind. */
export async function getRunOfKind<K extends RunKind>(db: HearthDb, id: string, kind: K): Promise<RunOfKind<K> | undefined> {
  const run = await db.get('runs', id);
  return run && isKind(run, kind) ? run : undefined;
}

/** The project's runs of `kind`, in key order. */
export async function listRunsOfKind<K extends RunKind>(db: HearthDb, projectId: string, kind: K): Promise<RunOfKind<K>[]> {
  const runs = await db.getAllFromIndex('runs', 'by-project', projectId);
  return runs.filter((r): r is RunOfKind<K> => isKind(r, kind));
}

/** Writes (creates or replaces) a run record. */
export async function putRun(db: HearthDb, run: RunRecord): Promise<void> {
  const tx = db.transaction('runs', 'readwrite');
  await runTx(tx, () => tx.store.put(run));
}
