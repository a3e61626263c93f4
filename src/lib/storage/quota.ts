/**
 * Storage space and persistence, for the status bar. Browser APIs are touched only when
 * a function is called, so this module imports cleanly in Node, where every answer is null.
 */
export interface StorageInfo {
  usageBytes: number | null;
  quotaBytes: number | null;
  persisted: boolean | null;
}

/** `navigator.storage` when this runtime has it (window or worker), else null. */
function storageManager(): StorageManager | null {
  if (typeof navigator === 'undefined') return null;
  return (navigator as { storage?: StorageManager }).storage ?? null;
}

export async function storageInfo(): Promise<StorageInfo> {
  const storage = storageManager();
  if (!storage) return { usageBytes: null, quotaBytes: null, persisted: null };
  const [estimate, persisted] = await Promise.all([
    typeof storage.estimate === 'function' ? storage.estimate() : Promise.resolve(null),
    // Workers have no `persisted()` in some browsers; unknown is not the same as "no".
    typeof storage.persisted === 'function' ? storage.persisted() : Promise.resolve(null),
  ]);
  return {
    usageBytes: estimate?.usage ?? null,
    quotaBytes: estimate?.quota ?? null,
    persisted,
  };
}

/**
 * Asks the browser to keep Hearth's data under storage pressure (`navigator.storage.persist()`).
 * Resolves false where the browser refuses or has no such API (Node, workers in some browsers).
 */
export async function requestPersistence(): Promise<boolean> {
  const storage = storageManager();
  if (!storage || typeof storage.persist !== 'function') return false;
  return storage.persist();
}
