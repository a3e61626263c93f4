import type { ModelRecord } from './run-records';
import type { HearthDb } from './schema';
import { runTx } from './tx';

/**
 * The `models` store: trained models and training checkpoints. A checkpoint's id is
 * `${runId}/checkpoint-<epochs done, zero-padded>`, so that string order is epoch order
 * and a run's checkpoints are one key range.
 */

/** Epoch numbers are zero-padded in ids so that string order is epoch order (key ranges). */
const EPOCH_DIGITS = 6;

export function checkpointId(runId: string, epochsDone: number): string {
  return `${runId}/checkpoint-${String(epochsDone).padStart(EPOCH_DIGITS, '0')}`;
}

/** Every checkpoint id of `runId` sorts inside this range. */
function checkpointRange(runId: string): IDBKeyRange {
  return IDBKeyRange.bound(`${runId}/checkpoint-`, `${runId}/checkpoint-\uffff`);
}

export async function getModel(db: HearthDb, id: string): Promise<ModelRecord | undefined> {
  return db.get('models', id);
}

/** Every model record of a project, checkpoints included, in key order. */
export async function listModelRecords(db: HearthDb, projectId: string): Promise<ModelRecord[]> {
  return db.getAllFromIndex('models', 'by-project', projectId);
}

export async function putModel(db: HearthDb, record: ModelRecord): Promise<void> {
  const tx = db.transaction('models', 'readwrite');
  await runTx(tx, () => tx.store.put(record));
}

/** Writes a run's checkpoint and deletes the run's earlier ones, in one transaction. */
export async function putCheckpoint(db: HearthDb, runId: string, record: ModelRecord): Promise<void> {
  const tx = db.transaction('models', 'readwrite');
  await runTx(tx, async () => {
    await tx.store.delete(IDBKeyRange.bound(`${runId}/checkpoint-`, record.id, false, true));
    await tx.store.put(record);
  });
}

/** The id of a run's latest checkpoint, or null when it has none. */
export async function latestCheckpointId(db: HearthDb, runId: string): Promise<string | null> {
  const tx = db.transaction('models', 'readonly');
  return runTx(tx, async () => {
    const cursor = await tx.store.openKeyCursor(checkpointRange(runId), 'prev');
    return cursor ? String(cursor.key) : null;
  });
}

export async function deleteCheckpoints(db: HearthDb, runId: string): Promise<void> {
  const tx = db.transaction('models', 'readwrite');
  await runTx(tx, () => tx.store.delete(checkpointRange(runId)));
}
