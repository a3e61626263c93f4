import type { IDBPObjectStore, StoreNames } from 'idb';
import type { HearthDB } from './schema';

/**
 * A store handle from any transaction that includes it, so a helper can run inside a
 * caller's larger transaction (an import commits samples and its own bookkeeping together).
 */
export type Store<Name extends StoreNames<HearthDB>, Mode extends IDBTransactionMode = 'readwrite'> = IDBPObjectStore<
  HearthDB,
  ArrayLike<StoreNames<HearthDB>>,
  Name,
  Mode
>;

/** Range over a compound `[prefix, string]` key or index: `[p]` sorts before and `[p, []]` after every `[p, string]`. */
export function prefixRange(prefix: string): IDBKeyRange {
  return IDBKeyRange.bound([prefix], [prefix, []]);
}
