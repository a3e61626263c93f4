import type { IDBPObjectStore } from 'idb';
import type { HearthDB, HearthDb } from './schema';

type SettingsStore = IDBPObjectStore<HearthDB, ['settings'], 'settings', 'readonly' | 'readwrite'>;
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

/** Reads of the settings store inside one transaction. */
export interface SettingsReader {
  has(key: string): Promise<boolean>;
  /** The value under `key`, typed as the caller stored it, or undefined when never set. */
  get<T>(key: string): Promise<T | undefined>;
}

/** Reads and writes of the settings store that commit together or not at all. */
export interface SettingsWriter extends SettingsReader {
  put(key: string, value: unknown): Promise<void>;
  delete(key: string): Promise<void>;
}

/** The reads of a settings store opened by a transaction, read-only or read-write. */
function readerOf(store: Pick<SettingsStore, 'get' | 'getKey'>): SettingsReader {
  return {
    has: async (key) => (await store.getKey(key)) !== undefined,
    get: async <T>(key: string) => (await store.get(key))?.value as T | undefined,
  };
}

/** Runs `body` against the settings store in one read-only transaction. */
export async function readSettings<R>(db: HearthDb, body: (settings: SettingsReader) => Promise<R>): Promise<R> {
  const tx = db.transaction('settings', 'readonly');
  return runTx(tx, () => body(readerOf(tx.store)));
}

/**
 * Runs `body` against the settings store in one read-write transaction: a throw aborts it,
 * so none of its writes land. `body` may await only these calls (a transaction commits
 * on the first idle tick).
 */
export async function updateSettings<R>(db: HearthDb, body: (settings: SettingsWriter) => Promise<R>): Promise<R> {
  const tx = db.transaction('settings', 'readwrite');
  return runTx(tx, () =>
    body({
      ...readerOf(tx.store),
      put: async (key, value) => {
        await tx.store.put({ key, value });
      },
      delete: (key) => tx.store.delete(key),
    }),
  );
}
