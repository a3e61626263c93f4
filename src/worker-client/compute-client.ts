/**
 * The one main-thread owner of the compute worker: starts it, forwards calls, keeps a
 * snapshot of its state for the UI, and restarts it when it dies. Plain TypeScript, so
 * the UI can wrap it in a rune class through `subscribe`.
 */
import { wrap, type Remote } from 'comlink';
import type { BackendName, BackendReport } from '$lib/compute/backends';
import { HearthError, describeError } from '$lib/jobs/errors';
import type { ComputeApi, ComputeState } from '../../workers/compute.worker';

/**
 * A worker that dies this many times in a row (without one call succeeding in between)
 * is not restarted again: something deterministic is wrong (a module that fails to load,
 * a backend that crashes on init), and a restart loop would only burn CPU.
 */
export const MAX_CONSECUTIVE_DEATHS = 3;

/** The compute worker stopped; the message says whether it was restarted. */
export class ComputeWorkerDiedError extends HearthError {
  constructor(message: string) {
    super(message, 'ComputeWorkerDiedError');
  }
}

export type ComputeStatus = 'starting' | 'ready' | 'failed' | 'terminated';

export interface ComputeClientState {
  status: ComputeStatus;
  /** The backend the worker computes on; null until it has started. */
  active: BackendName | null;
  /** The latest probe; empty when a forced start skipped it. */
  reports: readonly BackendReport[];
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
}

interface Generation {
  worker: Worker;
  remote: Remote<ComputeApi>;
  /** Rejects when this worker dies, so calls in flight fail instead of hanging. */
  died: Promise<never>;
  kill: (err: ComputeWorkerDiedError) => void;
}

type Listener = (state: ComputeClientState) => void;

export class ComputeClient {
  #state: ComputeClientState = { status: 'starting', active: null, reports: [], error: null, consecutiveDeaths: 0 };
  readonly #listeners = new Set<Listener>();
  readonly #options: ComputeClientOptions;
  #generation: Generation | null = null;
  #started: Promise<ComputeClientState>;
  #startupReportsUnused = true;

  constructor(options: ComputeClientOptions = {}) {
    this.#options = options;
    this.#started = this.#spawn(options.force);
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
      if (started && started.reports.length > 0) return [...started.reports];
    }
    const state = await this.#call((r) => r.probe(opts));
    this.#apply(state);
    return [...state.reports];
  }

  /** Compute on `name` from now on; rejects with BackendUnavailableError when it cannot run. */
  async use(name: BackendName): Promise<void> {
    this.#apply(await this.#call((r) => r.use(name)));
  }

  /** Any other worker call (training, evaluation…), once the worker has chosen its backend. */
  async call<T>(fn: (remote: Remote<ComputeApi>) => Promise<T>): Promise<T> {
    await this.#started.catch(() => undefined);
    return this.#call(fn);
  }

  /** Live tensors in the worker, for leak checks. */
  memory(): Promise<{ numTensors: number; numBytes: number }> {
    return this.#call((r) => r.memory());
  }

  terminate(): void {
    const gen = this.#generation;
    this.#generation = null;
    if (gen) this.#dispose(gen, new ComputeWorkerDiedError('The compute worker was stopped.'));
    this.#set({ status: 'terminated' });
  }

  #spawn(force: BackendName | undefined): Promise<ComputeClientState> {
    const worker = new Worker(new URL('../../workers/compute.worker.ts', import.meta.url), {
      type: 'module',
      name: 'hearth-compute',
    });
    let kill: (err: ComputeWorkerDiedError) => void = () => {};
    const died = new Promise<never>((_, reject) => {
      kill = reject;
    });
    // A death with no call waiting must not surface as an unhandled rejection.
    died.catch(() => {});
    const gen: Generation = { worker, remote: wrap<ComputeApi>(worker), died, kill };
    this.#generation = gen;
    // 'error' reaches the owner for what comlink cannot catch: a module that fails to load
    // or an exception outside any call. Either way the worker's state is unknown: replace it.
    worker.addEventListener('error', (ev) => this.#onDeath(gen, ev.message || 'it failed to load'));
    worker.addEventListener('messageerror', () => this.#onDeath(gen, 'a message could not be read'));

    this.#set({ status: 'starting' });
    const started = this.#call((r) => r.start({ force, timeBudgetMs: this.#options.probeBudgetMs })).then(
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

  async #call<T>(fn: (remote: Remote<ComputeApi>) => Promise<T>): Promise<T> {
    const gen = this.#generation;
    if (!gen) {
      throw new ComputeWorkerDiedError(
        this.#state.status === 'terminated'
          ? 'The compute worker was stopped: reload the page to compute again.'
          : 'The compute worker kept crashing and was not restarted: reload the page.',
      );
    }
    const result = await Promise.race([fn(gen.remote), gen.died]);
    if (this.#state.consecutiveDeaths !== 0) this.#set({ consecutiveDeaths: 0 });
    return result;
  }

  #onDeath(gen: Generation, why: string): void {
    if (gen !== this.#generation) return;
    const deaths = this.#state.consecutiveDeaths + 1;
    if (deaths >= MAX_CONSECUTIVE_DEATHS) {
      this.#generation = null;
      const err = new ComputeWorkerDiedError(
        `The compute worker stopped ${deaths} times in a row (last: ${why}) and was not restarted: reload the page.`,
      );
      this.#dispose(gen, err);
      this.#set({ status: 'failed', consecutiveDeaths: deaths, error: describeError(err) });
      return;
    }
    const err = new ComputeWorkerDiedError(`The compute worker stopped (${why}) and was restarted: run the job again.`);
    this.#dispose(gen, err);
    this.#set({ consecutiveDeaths: deaths, error: describeError(err) });
    // Keep the backend that was in use, so a restart does not silently change what
    // computes (and skips a second probe); before a first start, start as asked.
    this.#started = this.#spawn(this.#state.active ?? this.#options.force);
  }

  #dispose(gen: Generation, err: ComputeWorkerDiedError): void {
    gen.kill(err);
    // No releaseProxy: it waits for the worker's answer, which a terminated worker never sends.
    gen.worker.terminate();
  }

  #apply(state: ComputeState): void {
    this.#set({ status: 'ready', active: state.active, reports: state.reports, error: null });
  }

  #set(patch: Partial<ComputeClientState>): void {
    this.#state = { ...this.#state, ...patch };
    for (const listener of this.#listeners) listener(this.#state);
  }
}
