import { wrap, releaseProxy, type Remote } from 'comlink';

/** After this many deaths in a row without one successful call, stop restarting. */
const MAX_CONSECUTIVE_DEATHS = 3;

export class WorkerDiedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WorkerDiedError';
  }
}

/**
 * The one main-thread owner of a worker: creates it lazily, hands out its comlink
 * remote, and restarts it after it dies (an out-of-memory decode, a crashed GPU
 * process) — but gives up after MAX_CONSECUTIVE_DEATHS so a worker that dies on start
 * does not loop forever.
 */
export class WorkerOwner<T> {
  readonly #create: () => Worker;
  readonly #label: string;
  #worker: Worker | null = null;
  #remote: Remote<T> | null = null;
  #deaths = 0;
  readonly #onDeath = new Set<(err: WorkerDiedError) => void>();

  constructor(label: string, create: () => Worker) {
    this.#label = label;
    this.#create = create;
  }

  /** The live remote; starts (or restarts) the worker when needed. */
  get remote(): Remote<T> {
    if (this.#remote) return this.#remote;
    if (this.#deaths >= MAX_CONSECUTIVE_DEATHS) {
      throw new WorkerDiedError(
        `The ${this.#label} worker died ${this.#deaths} times in a row and was not restarted. Reload the page; if it keeps happening, the browser may be out of memory.`,
      );
    }
    const worker = this.#create();
    worker.addEventListener('error', (e) => this.#died(worker, e.message || 'uncaught error'));
    this.#worker = worker;
    this.#remote = wrap<T>(worker);
    return this.#remote;
  }

  /** A call finished normally: the worker is healthy again. */
  markHealthy(): void {
    this.#deaths = 0;
  }

  onDeath(fn: (err: WorkerDiedError) => void): () => void {
    this.#onDeath.add(fn);
    return () => this.#onDeath.delete(fn);
  }

  /** Stops the worker now (a cancel that cooperative cancellation could not honour). */
  terminate(): void {
    this.#remote?.[releaseProxy]();
    this.#worker?.terminate();
    this.#worker = null;
    this.#remote = null;
  }

  #died(worker: Worker, reason: string): void {
    if (worker !== this.#worker) return;
    this.#deaths += 1;
    this.terminate();
    const err = new WorkerDiedError(`The ${this.#label} worker stopped (${reason}); it restarts on the next call.`);
    for (const fn of this.#onDeath) fn(err);
  }
}
