import { CancelledError } from './errors';

/**
 * The job protocol every worker job follows: it reports progress through a callback
 * (a `Comlink.proxy` across the worker boundary) and polls a cancel token between
 * units of work.
 */
export interface Progress {
  /** Units done so far. */
  done: number;
  /** Units in all, or null while unknown. */
  total: number | null;
  /** What is happening now, for the user. */
  message: string;
  /** Estimated milliseconds left, or null while there is too little to go on. */
  etaMs: number | null;
}

export type ProgressFn = (p: Progress) => void;

/** Cooperative cancellation: the job checks it between units of work. */
export interface CancelToken {
  readonly cancelled: boolean;
  /** Throws CancelledError when cancelled. */
  throwIfCancelled(): void;
}

export class CancelSource implements CancelToken {
  #cancelled = false;
  get cancelled(): boolean {
    return this.#cancelled;
  }
  cancel(): void {
    this.#cancelled = true;
  }
  throwIfCancelled(): void {
    if (this.#cancelled) throw new CancelledError();
  }
}

export const NEVER_CANCELLED: CancelToken = {
  cancelled: false,
  throwIfCancelled() {},
};

/** Minimum time between two progress reports, so a fast loop does not flood the UI. */
const REPORT_INTERVAL_MS = 100;
/** Below this elapsed time an ETA is noise. */
const MIN_ETA_ELAPSED_MS = 500;

/**
 * Turns a stream of `done` counts into throttled Progress reports with an ETA from the
 * average rate since start (stable enough for import-like jobs with uniform units).
 */
export class ProgressReporter {
  readonly #onProgress: ProgressFn | undefined;
  readonly #now: () => number;
  #start: number;
  #startDone = 0;
  #lastReport = -Infinity;

  constructor(onProgress: ProgressFn | undefined, now: () => number = () => performance.now()) {
    this.#onProgress = onProgress;
    this.#now = now;
    this.#start = now();
  }

  /** Restart the rate measurement (e.g. a new phase, or a resume from `done`). */
  restart(done = 0): void {
    this.#start = this.#now();
    this.#startDone = done;
  }

  report(done: number, total: number | null, message: string, force = false): void {
    if (!this.#onProgress) return;
    const now = this.#now();
    if (!force && now - this.#lastReport < REPORT_INTERVAL_MS) return;
    this.#lastReport = now;
    this.#onProgress({ done, total, message, etaMs: this.eta(done, total, now) });
  }

  eta(done: number, total: number | null, now = this.#now()): number | null {
    const elapsed = now - this.#start;
    const progressed = done - this.#startDone;
    if (total === null || elapsed < MIN_ETA_ELAPSED_MS || progressed <= 0) return null;
    return Math.max(0, ((total - done) * elapsed) / progressed);
  }
}
