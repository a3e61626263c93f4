import { proxy } from 'comlink';
import { getContext, setContext } from 'svelte';
import { describeError, isCancelled } from '../../lib/jobs/errors';
import type { Progress, ProgressFn } from '../../lib/jobs/progress';

export type JobStatus = 'running' | 'done' | 'failed' | 'cancelled';

/** Runs one job: forwards `jobId` to the worker (for cancel) and calls `onProgress`. */
export type JobRunner<T> = (jobId: string, onProgress: ProgressFn) => Promise<T>;

/** Tells whichever worker runs the job to stop it. */
export type JobCanceller = (jobId: string) => Promise<unknown> | unknown;

export interface JobError {
  name: string;
  message: string;
}

/** `ok` means the runner resolved (a job that keeps partial results may still be `cancelled`). */
export type JobResult<T> =
  | { ok: true; value: T }
  | { ok: false; status: 'failed' | 'cancelled'; error: JobError };

/** One job as the drawer shows it; every field is reactive. */
export class Job {
  readonly id: string;
  readonly kind: string;
  readonly title: string;
  readonly startedAt: number;
  /** What the job works on (a dataset id, a project id), so the UI can tell it is busy. */
  readonly subject: string | null;
  /** The compute backend in use when the job started, recorded with every job. */
  readonly backend: string | null;
  status = $state<JobStatus>('running');
  done = $state(0);
  total = $state<number | null>(null);
  message = $state('Starting…');
  etaMs = $state<number | null>(null);
  error = $state<JobError | null>(null);
  finishedAt = $state<number | null>(null);
  cancelRequested = $state(false);

  constructor(id: string, kind: string, title: string, startedAt: number, subject: string | null, backend: string | null) {
    this.id = id;
    this.backend = backend;
    this.subject = subject;
    this.kind = kind;
    this.title = title;
    this.startedAt = startedAt;
  }

  /** 0..1, or null while the total is unknown. */
  get fraction(): number | null {
    if (this.total === null || this.total <= 0) return null;
    return Math.min(1, this.done / this.total);
  }
}

/**
 * Starts jobs in workers and tracks them for the jobs drawer. The progress callback
 * handed to the runner is already a `Comlink.proxy`, so the runner passes it straight
 * through to the worker; errors are recorded by `name` because comlink rebuilds only
 * `{name, message}` on this side of the boundary.
 */
export class JobManager {
  /** Newest first. */
  jobs = $state<Job[]>([]);
  running = $derived(this.jobs.filter((j) => j.status === 'running'));
  failed = $derived(this.jobs.filter((j) => j.status === 'failed'));

  readonly #defaultCancel: JobCanceller;
  readonly #backend: () => string | null;
  // Bookkeeping only, never rendered, so it need not be reactive.
  // eslint-disable-next-line svelte/prefer-svelte-reactivity
  readonly #cancellers = new Map<string, JobCanceller>();

  /** `backend` tells which compute backend is active, to record it with each job. */
  constructor(defaultCancel: JobCanceller, backend: () => string | null = () => null) {
    this.#defaultCancel = defaultCancel;
    this.#backend = backend;
  }

  async start<T>(
    kind: string,
    title: string,
    run: JobRunner<T>,
    options: {
      cancel?: JobCanceller;
      subject?: string;
      /** For jobs that resolve (keeping partial results) instead of throwing when cancelled. */
      cancelledWhen?: (value: T) => boolean;
    } = {},
  ): Promise<JobResult<T>> {
    const job = new Job(crypto.randomUUID(), kind, title, Date.now(), options.subject ?? null, this.#backend());
    this.jobs.unshift(job);
    // Read back through the array so later writes go through Svelte's proxy of it.
    const tracked = this.jobs[0] ?? job;
    this.#cancellers.set(job.id, options.cancel ?? this.#defaultCancel);
    const onProgress = proxy((p: Progress) => {
      if (tracked.status !== 'running') return;
      tracked.done = p.done;
      tracked.total = p.total;
      tracked.message = p.message;
      tracked.etaMs = p.etaMs;
    });
    try {
      const value = await run(job.id, onProgress);
      tracked.etaMs = null;
      if (options.cancelledWhen?.(value)) {
        tracked.status = 'cancelled';
      } else {
        tracked.status = 'done';
        if (tracked.total !== null) tracked.done = tracked.total;
      }
      return { ok: true, value };
    } catch (err) {
      const error = describeError(err);
      tracked.error = error;
      tracked.etaMs = null;
      const status = isCancelled(err) ? 'cancelled' : 'failed';
      tracked.status = status;
      return { ok: false, status, error };
    } finally {
      tracked.finishedAt = Date.now();
      this.#cancellers.delete(job.id);
    }
  }

  /** Asks the worker to stop; the job turns `cancelled` when the worker's CancelledError arrives. */
  async cancel(jobId: string): Promise<void> {
    const job = this.jobs.find((j) => j.id === jobId);
    const cancel = this.#cancellers.get(jobId);
    if (!job || job.status !== 'running' || !cancel) return;
    job.cancelRequested = true;
    job.message = 'Cancelling…';
    await cancel(jobId);
  }

  /** Drops finished jobs from the list (running ones stay). */
  clearFinished(): void {
    this.jobs = this.jobs.filter((j) => j.status === 'running');
  }
}

const JOBS_KEY = Symbol('hearth.jobs');

export function setJobs(jobs: JobManager): JobManager {
  return setContext(JOBS_KEY, jobs);
}

export function getJobs(): JobManager {
  const jobs = getContext<JobManager | undefined>(JOBS_KEY);
  if (!jobs) throw new Error('getJobs() called outside the studio: App.svelte sets the JobManager context.');
  return jobs;
}
