import { StorageFullError } from '../jobs/errors';

/**
 * Transaction plumbing shared by the repositories in this folder: every write goes
 * through `runTx`, so a failure half-way aborts the whole transaction (IndexedDB would
 * otherwise commit the requests already placed) and a full disk surfaces as
 * StorageFullError rather than a bare DOMException.
 */

/** What `runTx` needs of an idb transaction; structural so any store tuple fits. */
export interface TxLike {
  readonly done: Promise<void>;
  readonly error: DOMException | null;
  abort(): void;
}

const STORAGE_FULL_MESSAGE =
  'The browser has no more room for Hearth\'s data. Delete projects you no longer need, ' +
  'or free disk space on this device (the browser gives each site a share of the free disk), ' +
  'then try again: what was saved before this step is kept.';

/** Maps IndexedDB's quota failure to StorageFullError; other errors pass unchanged. */
export function mapStorageError(err: unknown, txError: DOMException | null = null): unknown {
  const isQuota = (e: unknown): boolean =>
    typeof e === 'object' && e !== null && (e as { name?: unknown }).name === 'QuotaExceededError';
  // Chromium reports quota at commit: the request that failed says AbortError, the
  // transaction's own error says QuotaExceededError, so look at both.
  if (isQuota(err) || isQuota(txError)) return new StorageFullError(STORAGE_FULL_MESSAGE);
  return err;
}

/**
 * Runs `body` against an open transaction and waits for it to commit. If `body` throws
 * (one of our named errors, or a failed request), the transaction is aborted so none of
 * its writes land, and `done` is observed so its rejection is not reported as unhandled.
 */
export async function runTx<T>(tx: TxLike, body: () => Promise<T>): Promise<T> {
  try {
    const result = await body();
    await tx.done;
    return result;
  } catch (err) {
    tx.done.catch(() => undefined);
    try {
      tx.abort();
    } catch {
      // Already committed or aborted (the failed request aborted it): nothing left to undo.
    }
    throw mapStorageError(err, tx.error);
  }
}
