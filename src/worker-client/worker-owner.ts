import { wrap, releaseProxy, type Remote } from 'comlink';
import { HearthError } from '../lib/jobs/errors';

/**
 * After this many deaths in a row without one successful call, stop restarting: something
 * deterministic is wrong (a module that fails to load), and a restart loop only burns CPU.
 */
const MAX_CONSECUTIVE_DEATHS = 3;

/** The worker stopped under a call; the message says whether it restarts. */
export class WorkerDiedError extends HearthError {
  constructor(message: string) {
    super(message, 'WorkerDiedError');
  }
}

interface Generation<T> {
  worker: Worker;
  remote: Remote<T>;
  /** Rejects when this worker dies, so calls in flight fail instead of hanging forever. */
  died: Promise<never>;
}

/**
 * The one main-thread owner of a worker: creates it lazily, forwards calls, and restarts
 * it after it dies (an out-of-memory decode, a crashed GPU process) — but gives up after
 * MAX_CONSECUTIVE_DEATHS. The compute worker has its own owner (compute-client.ts) because
 * it also carries backend state across restarts.
 */
export class WorkerOwner<T> {
  readonly #create: () => Worker;
  readonly #label: string;
  #generation: Generation<T> | null = null;
  #deaths = 0;

  constructor(label: string, create: () => Worker) {
    this.#label = label;
    this.#create = create;
  }

  /** Runs `fn` against the live worker; rejects with WorkerDiedError if the worker dies meanwhile. */
  async call<R>(fn: (remote: Remote<T>) => Promise<R>): Promise<R> {
    const gen = this.#live();
    const result = await Promise.race([fn(gen.remote), gen.died]);
    this.#deaths = 0;
    return result;
  }

  /** Stops the worker now; the next call starts a fresh one. */
  terminate(): void {
    const gen = this.#generation;
    this.#generation = null;
    if (!gen) return;
    gen.remote[releaseProxy]();
    gen.worker.terminate();
  }

  #live(): Generation<T> {
    if (this.#generation) return this.#generation;
    if (this.#deaths >= MAX_CONSECUTIVE_DEATHS) {
      throw new WorkerDiedError(
        `The ${this.#label} worker died ${this.#deaths} times in a row and was not restarted. Reload the page; if it keeps happening, the browser may be out of memory.`,
      );
    }
    const worker = this.#create();
    let kill: (err: WorkerDiedError) => void = () => {};
    const died = new Promise<never>((_, reject) => {
      kill = reject;
    });
    // Nobody may be awaiting `died` when it rejects; that is not an unhandled error.
    died.catch(() => {});
    const gen: Generation<T> = { worker, remote: wrap<T>(worker), died };
    worker.addEventListener('error', (e) => {
      if (this.#generation !== gen) return;
      this.#deaths += 1;
      this.terminate();
      kill(new WorkerDiedError(`The ${this.#label} worker stopped (${e.message || 'uncaught error'}); it restarts on the next call.`));
    });
    this.#generation = gen;
    return gen;
  }
}
