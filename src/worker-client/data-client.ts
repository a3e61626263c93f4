import type { Remote } from 'comlink';
import type { DataApi } from '../../workers/data.worker';
import { WorkerOwner } from './worker-owner';

export type { DataApi };

/** The data worker (decoding and storage), one per page. */
export const dataWorker = new WorkerOwner<DataApi>(
  'data',
  () => new Worker(new URL('../../workers/data.worker.ts', import.meta.url), { type: 'module', name: 'hearth-data' }),
);

type AnyRemoteFn = (...args: unknown[]) => Promise<unknown>;

/**
 * The data worker's API. A Proxy, so every call goes to the live worker even after a
 * restart, and a call in flight when the worker dies rejects instead of hanging.
 */
export const dataClient: Remote<DataApi> = new Proxy({} as Remote<DataApi>, {
  get(_target, prop) {
    // Not a thenable: `await dataClient` must not look like a pending call.
    if (typeof prop !== 'string' || prop === 'then') return undefined;
    return (...args: unknown[]) =>
      dataWorker.call((remote) => (remote as unknown as Record<string, AnyRemoteFn>)[prop]!(...args));
  },
});
