import type { Remote } from 'comlink';
import type { DataApi } from '../../workers/data.worker';
import { WorkerOwner } from './worker-owner';

export type { DataApi };

/** The data worker (decoding and storage), one per page. */
export const dataWorker = new WorkerOwner<DataApi>(
  'data',
  () => new Worker(new URL('../../workers/data.worker.ts', import.meta.url), { type: 'module', name: 'hearth-data' }),
);

/**
 * The data worker's API. A Proxy, so every call goes to the live worker even after a
 * restart, and a successful call resets the death counter.
 */
export const dataClient: Remote<DataApi> = new Proxy({} as Remote<DataApi>, {
  get(_target, prop) {
    // Not a thenable: `await dataClient` must not look like a pending call.
    if (typeof prop !== 'string' || prop === 'then') return undefined;
    return async (...args: unknown[]) => {
      const fn = (dataWorker.remote as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[prop];
      if (!fn) throw new Error(`The data worker has no method ${prop}.`);
      const result = await fn(...args);
      dataWorker.markHealthy();
      return result;
    };
  },
});
