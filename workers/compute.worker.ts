/**
 * The compute worker: owns the tfjs engine's backend choice. On start it probes every
 * backend and uses the fastest, unless the caller forces one. Wiring only: the logic is
 * in src/lib/compute.
 */
import { expose } from 'comlink';
// The app's CSP allows only its own origin, so the wasm binaries are bundled assets.
import wasmUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimdUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreadedSimdUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import { chooseFastest, probeBackends, useBackend, type BackendName, type BackendReport, type ProbeOptions } from '$lib/compute/backends';
import { configureWasmPaths, tf } from '$lib/compute/register';

configureWasmPaths({
  'tfjs-backend-wasm.wasm': wasmUrl,
  'tfjs-backend-wasm-simd.wasm': wasmSimdUrl,
  'tfjs-backend-wasm-threaded-simd.wasm': wasmThreadedSimdUrl,
});

export interface ComputeState {
  /** The backend every later computation in this worker runs on. */
  active: BackendName;
  /** The latest probe, empty when a forced start skipped it. */
  reports: BackendReport[];
}

export interface StartOptions {
  /** Use this backend without probing (the user's choice, or a restart keeping its backend). */
  force?: BackendName;
  timeBudgetMs?: number;
}

let state: ComputeState | null = null;
let started: Promise<ComputeState> | null = null;

async function begin(opts: StartOptions): Promise<ComputeState> {
  if (opts.force) {
    await useBackend(opts.force);
    return (state = { active: opts.force, reports: [] });
  }
  const reports = await probeBackends({ timeBudgetMs: opts.timeBudgetMs });
  const active = chooseFastest(reports);
  await useBackend(active);
  return (state = { active, reports });
}

const api = {
  /**
   * The first call decides; later calls (and every other method) wait for it. A failed
   * start is forgotten, so the caller can start again with another backend.
   */
  start(opts: StartOptions = {}): Promise<ComputeState> {
    started ??= begin(opts).catch((err: unknown) => {
      started = null;
      throw err;
    });
    return started;
  },
  /** Measure again; the active backend stays as it is. */
  async probe(opts: Pick<ProbeOptions, 'names' | 'timeBudgetMs'> = {}): Promise<ComputeState> {
    const current = await api.start();
    return (state = { ...current, reports: await probeBackends(opts) });
  },
  async use(name: BackendName): Promise<ComputeState> {
    const current = await api.start();
    await useBackend(name);
    return (state = { ...current, active: name });
  },
  async current(): Promise<ComputeState> {
    await api.start();
    return state ?? api.start();
  },
  async memory(): Promise<{ numTensors: number; numBytes: number }> {
    await api.start();
    const { numTensors, numBytes } = tf.memory();
    return { numTensors, numBytes };
  },
};

expose(api);
export type ComputeApi = typeof api;
