/**
 * The compute worker's client: its owner (worker-owner.ts) forwards calls and restarts
 * it when it dies; this keeps a snapshot of its backend state for the UI and starts each
 * fresh worker on the backend in use. Plain TypeScript, so the UI can wrap it in a rune
 * class through `subscribe`.
 */
import type { Remote } from 'comlink';
import type { BackendName, BackendReport } from '$lib/compute/backends';
import { describeError } from '$lib/jobs/errors';
import type { ComputeApi, ComputeState } from '../../workers/compute.worker';
import { WorkerOwner, type CallOptions, type WorkerDeath } from './worker-owner';

export { MAX_CONSECUTIVE_DEATHS, WorkerDiedError } from './worker-owner';
export type { ComputeApi };

export type ComputeStatus = 'starting' | 'ready' | 'failed' | 'terminated';

export interface ComputeClientState {
  status: ComputeStatus;
  /** The backend the worker computes on; null until it has started. */
  active: BackendName | null;
  /** The latest probe; empty when a forced start skipped it. */
  reports: readonly BackendReport[];
  /** When `reports` were measured; null without reports. */
  measuredAt: number | null;
  /** True when the start reused an earlier visit's measurement on this browser and device. */
  reused: boolean;
  /** The last error, as a plain `{name, message}` for the UI. */
  error: { name: string; message: string } | null;
  /** Deaths since the last call that succeeded. */
  consecutiveDeaths: number;
}

export interface ComputeClientOptions {
  /** Start on this backend without probing (e.g. the user's saved choice). */
  force?: BackendName;
  /** Measurement time per backend for the start-up probe. */
  probeBudgetMs?: number;
  /** Makes the worker; tests pass a stand-in. */
  createWorker?: () => Worker;
}

function createComputeWorker(): Worker {
  return new Worker(new URL('../../workers/compute.worker.ts', import.meta.url), { type: 'module', name: 'hearth-compute' });
}

type Listener = (state: ComputeClientState) => void;

export class ComputeClient {
  #state: ComputeClientState = { status: 'starting', active: null, reports: [], measuredAt: null, reused: false, error: null, consecutiveDeaths: 0 };
  readonly #listeners = new Set<Listener>();
  readonly #options: ComputeClientOptions;
  readonly #owner: WorkerOwner<ComputeApi>;
  #started: Promise<ComputeClientState>;
  #startupReportsUnused = true;

  constructor(options: ComputeClientOptions = {}) {
    this.#options = options;
    this.#owner = new WorkerOwner<ComputeApi>('compute', options.createWorker ?? createComputeWorker, {
      onDeath: (death) => this.#onDeath(death),
      onRecovered: () => this.#set({ consecutiveDeaths: 0 }),
    });
    this.#started = this.#start(options.force);
  }

  get state(): ComputeClientState {
    return this.#state;
  }

  /** Calls `listener` now and after every change; returns the unsubscribe function. */
  subscribe(listener: Listener): () => void {
    this.#listeners.add(listener);
    listener(this.#state);
    return () => this.#listeners.delete(listener);
  }

  /** Resolves once the worker has chosen its backend (after the start-up probe). */
  ready(): Promise<ComputeClientState> {
    return this.#started;
  }

  /**
   * Measures every backend; the active one stays. The first call with no options after a
   * start that probed returns the start-up measurements instead of measuring again: on a
   * machine without a GPU one probe takes about ten seconds (SwiftShader compiles WebGPU
   * shaders slowly), and a UI that probes on load would otherwise double that.
   */
  async probe(opts: { names?: BackendName[]; timeBudgetMs?: number } = {}): Promise<BackendReport[]> {
    const unused = this.#startupReportsUnused;
    this.#startupReportsUnused = false;
    if (unused && opts.names === undefined && opts.timeBudgetMs === undefined) {
      const started = await this.#started.catch(() => null);
      // Reused measurements are an earlier visit's: asking to measure means measure now.
      if (started && started.reports.length > 0 && !started.reused) return [...started.reports];
    }
    const state = await this.#owner.call((r) => r.probe(opts));
    this.#apply(state);
    return [...state.reports];
  }

  /** Compute on `name` from now on; rejects with BackendUnavailableError when it cannot run. */
  async use(name: BackendName): Promise<void> {
    this.#apply(await this.#owner.call((r) => r.use(name)));
  }

  /**
   * Any other worker call (training, evaluation…), once the worker has chosen its backend.
   * A job's call passes `{ jobId }`, so `cancel` can tell whether the job stopped.
   */
  async call<T>(fn: (remote: Remote<ComputeApi>) => Promise<T>, opts?: CallOptions): Promise<T> {
    await this.#started.catch(() => undefined);
    return this.#owner.call(fn, opts);
  }

  /** Cancels job `jobId`; restarts the worker if the job has not stopped `graceMs` later (worker-owner.ts). */
  cancel(jobId: string, graceMs: number): Promise<void> {
    return this.#owner.cancel(jobId, graceMs);
  }

  /** Live tensors in the worker, for leak checks. */
  memory(): Promise<{ numTensors: number; numBytes: number }> {
    return this.#owner.call((r) => r.memory());
  }

  terminate(): void {
    this.#owner.terminate();
    this.#set({ status: 'terminated' });
  }

  /** Starts the worker (a fresh one after a death) on `force`, or on the fastest backend measured. */
  #start(force: BackendName | undefined): Promise<ComputeClientState> {
    this.#set({ status: 'starting' });
    const started = this.#owner.call((r) => r.start({ force, timeBudgetMs: this.#options.probeBudgetMs })).then(
      (state) => {
        this.#apply(state);
        return this.#state;
      },
      (err: unknown) => {
        this.#set({ status: 'failed', error: describeError(err) });
        throw err;
      },
    );
    // The caller sees failures through ready() or state; nobody may be awaiting this one.
    started.catch(() => {});
    return started;
  }

  #onDeath({ error, deaths, restarts }: WorkerDeath): void {
    if (!restarts) {
      this.#set({ status: 'failed', consecutiveDeaths: deaths, error: describeError(error) });
      return;
    }
    this.#set({ consecutiveDeaths: deaths, error: describeError(error) });
    // Keep the backend that was in use, so a restart does not silently change what
    // computes (and skips a second probe); before a first start, start as asked.
    this.#started = this.#start(this.#state.active ?? this.#options.force);
  }

  #apply(state: ComputeState): void {
    this.#set({ status: 'ready', active: state.active, reports: state.reports, measuredAt: state.measuredAt, reused: state.reused, error: null });
  }

  #set(patch: Partial<ComputeClientState>): void {
    this.#state = { ...this.#state, ...patch };
    for (const listener of this.#listeners) listener(this.#state);
  }
}
