import { wrap, type Remote } from 'comlink';
import { HearthError } from '../lib/jobs/errors';

/**
 * After this many deaths in a row without one successful call, stop restarting: something
 * deterministic is wrong (a module that fails to load, a backend that crashes on init),
 * and a restart loop only burns CPU.
 */
export const MAX_CONSECUTIVE_DEATHS = 3;

/** The worker stopped under a call; the message says whether it restarts. */
export class WorkerDiedError extends HearthError {
  constructor(message: string) {
    super(message, 'WorkerDiedError');
  }
}

/** What the owner tells its user when a worker dies. */
export interface WorkerDeath {
  /** What a call in flight rejected with. */
  error: WorkerDiedError;
  /** Deaths since the last call that succeeded (a worker stopped by `cancel` is not counted). */
  deaths: number;
  /** False once MAX_CONSECUTIVE_DEATHS is reached: later calls reject without starting a worker. */
  restarts: boolean;
}

export interface WorkerOwnerHooks<T extends Cancellable> {
  /** A fresh worker was created (the first one, or one after a death); runs before any call reaches it. */
  onStart?: (remote: Remote<T>) => void;
  /** The worker died, or `cancel` stopped it. The next call starts a fresh one unless `restarts` is false. */
  onDeath?: (death: WorkerDeath) => void;
  /** A call succeeded after deaths: the count is back to zero. */
  onRecovered?: () => void;
}

export interface CallOptions {
  /** The job this call runs, so `cancel(jobId, graceMs)` knows when it has settled. */
  jobId?: string;
}

/** A worker API with a job registry's cancel (both workers have one). */
export interface Cancellable {
  cancel(jobId: string): unknown;
}

interface Generation<T extends Cancellable> {
  worker: Worker;
  remote: Remote<T>;
  /** Rejects when this worker dies, so calls in flight fail instead of hanging forever. */
  died: Promise<never>;
  kill: (err: WorkerDiedError) => void;
}

/**
 * The one main-thread owner of a worker: creates it lazily, forwards calls, and restarts
 * it after it dies (an out-of-memory decode, a crashed GPU process) — but gives up after
 * MAX_CONSECUTIVE_DEATHS. It serialises nothing: calls go to the worker as they come, as
 * comlink sends them. `cancel` stops a job, and the worker too if the job does not stop.
 *
 * No `releaseProxy` anywhere: it posts a release message and waits for the worker's
 * answer, which a dead or terminated worker never sends, so it would leave a promise
 * pending forever. Terminating the worker frees both ends of the channel anyway.
 */
export class WorkerOwner<T extends Cancellable> {
  readonly #create: () => Worker;
  readonly #label: string;
  readonly #hooks: WorkerOwnerHooks<T>;
  #generation: Generation<T> | null = null;
  #deaths = 0;
  #terminated = false;
  /** The calls in flight that run a job, by job id, settled or not. */
  readonly #jobs = new Map<string, Promise<unknown>>();

  constructor(label: string, create: () => Worker, hooks: WorkerOwnerHooks<T> = {}) {
    this.#label = label;
    this.#create = create;
    this.#hooks = hooks;
  }

  /** Deaths since the last call that succeeded. */
  get deaths(): number {
    return this.#deaths;
  }

  /** Runs `fn` against the live worker; rejects with WorkerDiedError if the worker dies meanwhile. */
  async call<R>(fn: (remote: Remote<T>) => Promise<R>, opts: CallOptions = {}): Promise<R> {
    const gen = this.#live();
    const result = Promise.race([fn(gen.remote), gen.died]);
    const { jobId } = opts;
    if (jobId !== undefined) {
      const settled = result.then(
        () => undefined,
        () => undefined,
      );
      this.#jobs.set(jobId, settled);
      void settled.then(() => {
        if (this.#jobs.get(jobId) === settled) this.#jobs.delete(jobId);
      });
    }
    const value = await result;
    if (this.#deaths !== 0) {
      this.#deaths = 0;
      this.#hooks.onRecovered?.();
    }
    return value;
  }

  /**
   * Asks the worker to cancel job `jobId`; if the job's call (made with `{ jobId }`) has not
   * settled `graceMs` later, the worker is stuck (a long GPU kernel, a loop that never
   * checks the cancel flag): it is terminated, the call rejects with WorkerDiedError, and
   * the next call starts a fresh worker. Resolves once the job has stopped either way.
   */
  async cancel(jobId: string, graceMs: number): Promise<void> {
    const gen = this.#generation;
    if (!gen) return;
    const job = this.#jobs.get(jobId);
    // A stuck worker never answers the cancel either, so it is not awaited on its own.
    const asked = Promise.race([(gen.remote.cancel as (id: string) => Promise<unknown>)(jobId), gen.died]).catch(() => undefined);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), graceMs);
    });
    // Without a call to watch there is nothing to tell a stuck worker by: just ask.
    const outcome = await Promise.race([job ? job.then(() => 'settled' as const) : asked.then(() => 'settled' as const), late]);
    clearTimeout(timer);
    if (!job || outcome === 'settled' || this.#generation !== gen) return;
    const grace = graceMs >= 1000 ? `${Math.round(graceMs / 1000)} s` : `${graceMs} ms`;
    this.#kill(
      gen,
      new WorkerDiedError(
        `The ${this.#label} worker was stopped because it did not answer cancel within ${grace}; it restarts on the next call.`,
      ),
    );
  }

  /** Stops the worker for good: a call in flight rejects with WorkerDiedError, and so does every later call. */
  terminate(): void {
    this.#terminated = true;
    const gen = this.#generation;
    this.#generation = null;
    if (gen) this.#dispose(gen, new WorkerDiedError(`The ${this.#label} worker was stopped.`));
  }

  #live(): Generation<T> {
    if (this.#generation) return this.#generation;
    if (this.#terminated) {
      throw new WorkerDiedError(`The ${this.#label} worker was stopped: reload the page to use it again.`);
    }
    if (this.#deaths >= MAX_CONSECUTIVE_DEATHS) {
      throw new WorkerDiedError(`The ${this.#label} worker kept crashing and was not restarted: reload the page.`);
    }
    const worker = this.#create();
    let kill: (err: WorkerDiedError) => void = () => {};
    const died = new Promise<never>((_, reject) => {
      kill = reject;
    });
    // Nobody may be awaiting `died` when it rejects; that is not an unhandled error.
    died.catch(() => {});
    const gen: Generation<T> = { worker, remote: wrap<T>(worker), died, kill };
    // 'error' reaches the owner for what comlink cannot catch: a module that fails to load
    // or an exception outside any call. Either way the worker's state is unknown: replace it.
    worker.addEventListener('error', (e) => this.#onDeath(gen, (e as ErrorEvent).message || 'it failed to load'));
    worker.addEventListener('messageerror', () => this.#onDeath(gen, 'a message could not be read'));
    this.#generation = gen;
    this.#hooks.onStart?.(gen.remote);
    return gen;
  }

  #onDeath(gen: Generation<T>, why: string): void {
    if (gen !== this.#generation) return;
    const deaths = this.#deaths + 1;
    const restarts = deaths < MAX_CONSECUTIVE_DEATHS;
    const err = new WorkerDiedError(
      restarts
        ? `The ${this.#label} worker stopped (${why}) and was restarted: run the job again.`
        : `The ${this.#label} worker stopped ${deaths} times in a row (last: ${why}) and was not restarted: reload the page.`,
    );
    this.#deaths = deaths;
    this.#kill(gen, err);
  }

  #kill(gen: Generation<T>, error: WorkerDiedError): void {
    this.#generation = null;
    this.#dispose(gen, error);
    this.#hooks.onDeath?.({ error, deaths: this.#deaths, restarts: this.#deaths < MAX_CONSECUTIVE_DEATHS });
  }

  #dispose(gen: Generation<T>, err: WorkerDiedError): void {
    gen.kill(err);
    gen.worker.terminate();
  }
}
