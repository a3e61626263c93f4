import type { HearthDb } from './schema';
import { runTx } from './tx';

/** A stored setting (`forcedBackend`, UI choices…), or undefined when never set. */
export async function getSetting<T>(db: HearthDb, key: string): Promise<T | undefined> {
  const row = await db.get('settings', key);
  // The caller names the type it stored under this key; settings are plain data.
  return row?.value as T | undefined;
}

export async function setSetting(db: HearthDb, key: string, value: unknown): Promise<void> {
  const tx = db.transaction('settings', 'readwrite');
  await runTx(tx, () => tx.store.put({ key, value }));
}
