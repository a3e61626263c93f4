import { proxy } from 'comlink';
import { getContext, setContext } from 'svelte';
import { describeError } from '../../lib/jobs/errors';
import type { ProgressFn } from '../../lib/jobs/progress';
// Type-only: models.ts, train.ts and the augmentation hook import tfjs, which must stay out
// of the main thread's bundle.
import type { AugmentationReport } from '../../lib/augment/report';
import type { TrainPreview, TrainPreviewRequest } from '../../lib/train/augment-preview';
import type { RunAugmentation, TrainRunSummary } from '../../lib/train/runs';
import type { EpochMetrics, StepMetrics, TrainConfig } from '../../lib/train/train';
import { Smoother, stepX, type StepPoint } from './curves';
import { defaultForm, type ModelChoice, type TrainForm } from './train-form';
export type { ModelChoice };
import type { Job, JobError, JobManager } from '../shell/jobs.svelte';
import type { ComputeApi, Methods, Renamed } from '../shell/service-types';
import type { StudioState } from '../shell/studio.svelte';

export type { AugmentationReport, EpochMetrics, RunAugmentation, StepMetrics, TrainConfig, TrainPreview, TrainPreviewRequest };

export type TrainMetrics = StepMetrics | EpochMetrics;

export type TrainRunStatus = 'running' | 'done' | 'failed' | 'cancelled';

/**
 * One stored training run, as listed and as returned when its job ends ('running' with no
 * live job means a reload or a crash cut it off: it can be resumed).
 */
export type { TrainRunSummary };

export interface TrainRequest {
  /**
   * Chosen by the page rather than the worker, so the job can be tied to its run from
   * the first moment (a run listed as 'running' without a job is an interrupted one).
   */
  runId: string;
  projectId: string;
  versionId: number;
  model: ModelChoice;
  config: TrainConfig;
  /** A saved pipeline of the project to augment every batch with; null for none. */
  augmentation: { pipelineId: string } | null;
}

/**
 * What the Train page needs of the compute worker: its methods, typed by the worker's API.
 * `onMetrics` arrives as a Comlink proxy.
 */
export interface TrainService
  extends Methods<ComputeApi, 'startTraining' | 'resumeTraining' | 'listRuns'>,
    Renamed<ComputeApi, { previewAugmentation: 'trainAugmentPreview' }> {
  cancel(jobId: string): Promise<unknown>;
}

export const TRAIN_JOB_KIND = 'train';

/**
 * The curves of one run trained in this session (started or resumed here). Step points
 * go into a plain array with a reactive count beside it: copying a growing array at every
 * step would be quadratic over a long run, and only the count needs to wake the charts.
 */
export class LiveRun {
  readonly runId: string;
  readonly projectId: string;
  readonly config: TrainConfig;
  stepCount = $state(0);
  epochs = $state.raw<EpochMetrics[]>([]);
  last = $state.raw<StepMetrics | null>(null);
  /** A step reported a non-finite loss: the rate is too high for this model and data. */
  diverged = $state(false);
  readonly #steps: StepPoint[] = [];
  readonly #loss = new Smoother();
  readonly #accuracy = new Smoother();

  constructor(runId: string, projectId: string, config: TrainConfig, history: readonly EpochMetrics[] = []) {
    this.runId = runId;
    this.projectId = projectId;
    this.config = config;
    this.epochs = [...history];
  }

  /** Every step point so far; reading it subscribes to new steps. */
  get steps(): readonly StepPoint[] {
    void this.stepCount;
    return this.#steps;
  }

  push(m: TrainMetrics): void {
    if (m.kind === 'step') {
      if (!Number.isFinite(m.loss)) this.diverged = true;
      this.#steps.push({
        x: stepX(m, this.config.epochs),
        loss: m.loss,
        accuracy: m.accuracy,
        smoothLoss: this.#loss.push(m.loss),
        smoothAccuracy: this.#accuracy.push(m.accuracy),
      });
      this.last = m;
      this.stepCount = this.#steps.length;
    } else {
      // A resumed run may repeat the epoch it was cut off in: the newer report wins.
      this.epochs = [...this.epochs.filter((e) => e.epoch !== m.epoch), m].sort((a, b) => a.epoch - b.epoch);
    }
  }
}

/**
 * The Train page's state: the open project's runs, the curves of runs trained in this
 * session, and starting, resuming and cancelling training jobs. One instance per app,
 * so a run keeps its curves while the user looks at another page, and interrupted runs
 * resume after a reload whichever page is open.
 */
export class TrainState {
  /** The runs of `runsProjectId`, newest first. */
  runs = $state.raw<TrainRunSummary[]>([]);
  runsProjectId = $state<string | null>(null);
  loadingRuns = $state(false);
  runsError = $state<JobError | null>(null);
  /** Runs trained in this session, by run id. */
  live = $state<Record<string, LiveRun>>({});
  /** The run whose curves the page shows; null shows the newest. */
  selectedRunId = $state<string | null>(null);
  /** The form's values live here so they survive a visit to another page. */
  form = $state<TrainForm>(defaultForm('lenet'));
  /** The augmentation preview of the form's pipeline, seed and batch size. */
  preview = $state.raw<TrainPreview | null>(null);
  /** What `preview` was drawn for, so the page can tell a stale one. */
  previewKey = $state<string | null>(null);
  previewing = $state(false);
  previewError = $state<JobError | null>(null);
  /** Only the newest preview request may land: an older, slower one would show stale images. */
  #previewTicket = 0;

  readonly #service: TrainService;
  readonly #jobs: JobManager;
  readonly #studio: StudioState;

  constructor(service: TrainService, jobs: JobManager, studio: StudioState) {
    this.#service = service;
    this.#jobs = jobs;
    this.#studio = studio;
  }

  /** The running training job, if any: one at a time, since runs would share the same GPU. */
  get activeJob(): Job | undefined {
    return this.#jobs.running.find((j) => j.kind === TRAIN_JOB_KIND);
  }

  /** The running job of `runId` (a training job's subject is its run id). */
  jobFor(runId: string): Job | undefined {
    return this.#jobs.running.find((j) => j.kind === TRAIN_JOB_KIND && j.subject === runId);
  }

  /** Stored as running but no job here trains it: a reload or a crash cut it off. */
  isInterrupted(run: TrainRunSummary): boolean {
    return run.status === 'running' && !this.jobFor(run.runId);
  }

  canResume(run: TrainRunSummary): boolean {
    return (run.status === 'cancelled' || this.isInterrupted(run)) && !this.activeJob;
  }

  async refreshRuns(projectId: string): Promise<void> {
    if (this.runsProjectId !== projectId) {
      this.runs = [];
      this.selectedRunId = null;
    }
    this.runsProjectId = projectId;
    this.loadingRuns = true;
    try {
      const runs = await this.#service.listRuns(projectId);
      // The user may have opened another project while this was loading.
      if (this.runsProjectId === projectId) this.runs = runs;
      this.runsError = null;
    } catch (err) {
      this.runsError = describeError(err);
    } finally {
      this.loadingRuns = false;
    }
  }

  /** Draws the preview for `req` (whose identity is `key`, see previewKey); a newer call supersedes this one. */
  async refreshPreview(req: TrainPreviewRequest, key: string): Promise<void> {
    const ticket = ++this.#previewTicket;
    this.previewing = true;
    try {
      const preview = await this.#service.previewAugmentation(req);
      if (ticket !== this.#previewTicket) return;
      this.preview = preview;
      this.previewKey = key;
      this.previewError = null;
    } catch (err) {
      if (ticket !== this.#previewTicket) return;
      this.preview = null;
      this.previewKey = key;
      this.previewError = describeError(err);
    } finally {
      if (ticket === this.#previewTicket) this.previewing = false;
    }
  }

  /** Forgets the preview (no pipeline chosen). */
  clearPreview(): void {
    this.#previewTicket++;
    this.preview = null;
    this.previewKey = null;
    this.previewError = null;
    this.previewing = false;
  }

  /** Trains a new run as a job; resolves when it ends (done, failed or cancelled). */
  async start(
    projectId: string,
    versionId: number,
    model: ModelChoice,
    config: TrainConfig,
    augmentation: TrainRequest['augmentation'],
    title: string,
  ): Promise<void> {
    if (this.activeJob) return;
    const runId = crypto.randomUUID();
    const req: TrainRequest = { runId, projectId, versionId, model, config, augmentation };
    await this.#run(new LiveRun(runId, projectId, config), title, (jobId, onProgress, onMetrics) =>
      this.#service.startTraining(jobId, req, onProgress, onMetrics),
    );
  }

  /** Continues a cancelled or interrupted run from its last checkpoint, as a job. */
  async resume(run: TrainRunSummary): Promise<void> {
    // A click that races the automatic resume after a reload must not start a second job.
    if (this.jobFor(run.runId) || this.activeJob) return;
    const live = new LiveRun(run.runId, run.projectId, run.config, run.history);
    const name = this.#studio.projects.find((p) => p.id === run.projectId)?.name ?? 'a project';
    await this.#run(live, `Resume training on ${name}`, (jobId, onProgress, onMetrics) =>
      this.#service.resumeTraining(jobId, run.runId, onProgress, onMetrics),
    );
  }

  /** Asks the worker to stop the run's job; the run keeps its checkpoint and can be resumed. */
  async cancel(runId: string): Promise<void> {
    const job = this.jobFor(runId);
    if (job) await this.#jobs.cancel(job.id);
  }

  /**
   * A reload mid-training must continue by itself, like an import: every run stored as
   * running (in any project) has lost its worker, so each becomes a job again, one after
   * another. Call after the studio has listed the projects.
   */
  async resumeInterrupted(): Promise<void> {
    const interrupted: TrainRunSummary[] = [];
    try {
      for (const project of this.#studio.projects) {
        const runs = await this.#service.listRuns(project.id);
        interrupted.push(...runs.filter((r) => this.isInterrupted(r)));
      }
    } catch (err) {
      const e = describeError(err);
      this.#studio.notify('error', `Could not look for interrupted training runs (${e.name}): ${e.message}`);
      return;
    }
    if (interrupted.length === 0) return;
    this.#studio.notify(
      'info',
      interrupted.length === 1
        ? 'A training run was interrupted by a reload; it is continuing from its last checkpoint.'
        : `${interrupted.length} training runs were interrupted by a reload; they continue one after another from their last checkpoints.`,
    );
    for (const run of interrupted) await this.resume(run);
  }

  async #run(
    live: LiveRun,
    title: string,
    call: (jobId: string, onProgress: ProgressFn, onMetrics: (m: TrainMetrics) => void) => Promise<TrainRunSummary>,
  ): Promise<void> {
    this.live[live.runId] = live;
    // Read back through the record so writes go through Svelte's proxy of it.
    const tracked = this.live[live.runId] ?? live;
    if (this.runsProjectId === live.projectId) this.selectedRunId = live.runId;
    let listed = false;
    const onMetrics = proxy((m: TrainMetrics) => {
      tracked.push(m);
      // The worker stores the run before its first step and updates it after each epoch:
      // re-list then, so the row appears and its epoch count follows.
      if (!listed || m.kind === 'epoch') {
        listed = true;
        if (this.runsProjectId === live.projectId) void this.refreshRuns(live.projectId);
      }
    });
    await this.#jobs.start(TRAIN_JOB_KIND, title, (jobId, onProgress) => call(jobId, onProgress, onMetrics), {
      subject: live.runId,
      cancel: (jobId) => this.#service.cancel(jobId),
      // A cancelled run resolves with its summary (it keeps its checkpoint) rather than throwing.
      cancelledWhen: (summary) => summary.status === 'cancelled',
    });
    if (this.runsProjectId === live.projectId) await this.refreshRuns(live.projectId);
  }
}

/** Which preview a request draws for a pipeline of `pipelineHash`: equal keys, equal images. */
export function previewKey(req: TrainPreviewRequest, pipelineHash: string): string {
  return [req.projectId, req.versionId, req.pipelineId, pipelineHash, req.seed, req.batchSize, req.count].join('|');
}

const TRAIN_KEY = Symbol('hearth.train');

export function setTrain(train: TrainState): TrainState {
  return setContext(TRAIN_KEY, train);
}

export function getTrain(): TrainState {
  const train = getContext<TrainState | undefined>(TRAIN_KEY);
  if (!train) throw new Error('getTrain() called outside the studio: App.svelte sets the TrainState context.');
  return train;
}
