import { CancelSource, type CancelToken } from './progress';

/**
 * The jobs a worker is running, by id, so a `cancel(jobId)` message that arrives while
 * a job awaits storage or decoding reaches that job's token.
 */
export class JobRegistry {
  readonly #running = new Map<string, CancelSource>();

  async run<T>(jobId: string, job: (cancel: CancelToken) => Promise<T>): Promise<T> {
    if (this.#running.has(jobId)) throw new Error(`Job ${jobId} is already running.`);
    const source = new CancelSource();
    this.#running.set(jobId, source);
    try {
      return await job(source);
    } finally {
      this.#running.delete(jobId);
    }
  }

  /** True when a running job was told to stop; false when no such job runs (already over). */
  cancel(jobId: string): boolean {
    const source = this.#running.get(jobId);
    source?.cancel();
    return source !== undefined;
  }

  get size(): number {
    return this.#running.size;
  }
}
