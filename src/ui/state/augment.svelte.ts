import { getContext, setContext } from 'svelte';
// Type-only imports of the augmentation engine: it runs in the workers, and nothing of it
// (nor tfjs behind its GPU path) belongs in the main thread's bundle.
import type { RebalancePlan } from '../../lib/analysis/rebalance';
import type { PipelineSpec } from '../../lib/augment/pipeline';
import type { PreviewImage, PreviewRequest } from '../../lib/augment/preview';
import type { AugmentTarget } from '../../lib/augment/rebalance-augment';
import type { TransformInfo } from '../../lib/augment/registry';
import { describeError, InvalidInputError } from '../../lib/jobs/errors';
import type { ProgressFn } from '../../lib/jobs/progress';
import type { JobError, JobManager } from './jobs.svelte';
import type { StudioState } from './studio.svelte';

export type { TransformInfo, PreviewRequest, AugmentTarget };
/** One previewed image: the sample, the seed, the result and the steps that fired with their drawn params. */
export type PreviewResult = PreviewImage;

export interface AugmentRebalanceRequest {
  projectId: string;
  /** The version to augment; the new version's parent. */
  versionId: number;
  pipeline: PipelineSpec;
  seed: number;
  targets: AugmentTarget[];
}

/** The version the rebalance made. */
export interface AugmentedVersion {
  versionId: number;
  /** Its number within the project (v1, v2…). */
  number: number;
  /** Augmented samples written. */
  added: number;
}

/** What the Augment page needs of the workers. */
export interface AugmentService {
  /** The registered transforms (registry.ts listTransforms()). */
  transforms(): Promise<TransformInfo[]>;
  /** Runs the pipeline on each (sample, seed) pair on the CPU path in the data worker. */
  preview(req: PreviewRequest): Promise<PreviewResult[]>;
  /** Writes augmented samples into a new version as job `jobId` (kind 'augment'). */
  rebalance(jobId: string, req: AugmentRebalanceRequest, onProgress: ProgressFn): Promise<AugmentedVersion>;
  /** The project's saved rebalancing plan (analysis/rebalance.ts getPlan). */
  getPlan(projectId: string): Promise<RebalancePlan | null>;
  savePipeline(projectId: string, pipeline: PipelineSpec): Promise<void>;
  getPipeline(projectId: string): Promise<PipelineSpec | null>;
  /** Stops the rebalance job `jobId`. */
  cancel(jobId: string): Promise<void>;
}

/** Seeds a preview shows one sample under. */
export const PREVIEW_SEED_COUNT = 12;
/** Samples a batch preview shows, one seed each. */
export const PREVIEW_BATCH_SIZE = 16;

export type PreviewMode = 'seeds' | 'batch';

export const EMPTY_PIPELINE: PipelineSpec = { version: 1, steps: [] };

/**
 * Mixing transforms take a partner image and give soft labels, which a stored sample
 * (one image, one hard label) cannot hold: rebalancing refuses them. The page says so
 * before a job starts, in the words the worker would use (rebalance-augment.ts
 * MIXING_REFUSED, repeated here because that module is not in the main bundle).
 */
export const MIXING_REFUSED =
  'mixup/cutmix make soft labels: use them on the fly during training, not to write samples. Remove the step from this pipeline.';

/** The mixing steps of `pipeline` as (index, name), by the registry's kinds. */
export function mixingSteps(pipeline: PipelineSpec, transforms: readonly TransformInfo[]): { index: number; transform: string }[] {
  const mixing = transforms.filter((t) => t.kind === 'mixing').map((t) => t.name);
  return pipeline.steps.flatMap((s, index) => (mixing.includes(s.transform) ? [{ index, transform: s.transform }] : []));
}

/** The refusal for the first mixing step, as rebalance-augment.ts words it. */
export function mixingRefusal(steps: readonly { index: number; transform: string }[]): string {
  const first = steps[0];
  return first ? `steps[${first.index}] (${first.transform}): ${MIXING_REFUSED}` : '';
}

/** A new 32-bit seed for "Reseed": shown on the page, so what the user saw can be drawn again. */
export function freshSeed(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0] ?? 0;
}

/**
 * The Augment page's state: the pipeline being built (and the saved one), the preview
 * drawn from it, the saved rebalancing plan, and the last rebalance by augmentation. One
 * instance per app, handed out by context, so switching pages keeps the work.
 */
export class AugmentState {
  projectId = $state<string | null>(null);

  transforms = $state.raw<TransformInfo[]>([]);
  transformsError = $state<JobError | null>(null);

  /** The pipeline on screen; replaced whole on each edit so `$state.raw` stays cheap. */
  pipeline = $state.raw<PipelineSpec>(EMPTY_PIPELINE);
  savedPipeline = $state.raw<PipelineSpec | null>(null);
  saving = $state(false);
  pipelineError = $state<JobError | null>(null);

  previews = $state.raw<PreviewResult[]>([]);
  previewing = $state(false);
  previewError = $state<JobError | null>(null);

  plan = $state.raw<RebalancePlan | null>(null);
  planError = $state<JobError | null>(null);

  rebalancing = $state(false);
  rebalanceError = $state<JobError | null>(null);
  lastRebalance = $state.raw<AugmentedVersion | null>(null);

  readonly #service: AugmentService;
  readonly #jobs: JobManager;
  readonly #studio: StudioState;
  /** Only the newest preview request may land: an older, slower one would show stale images. */
  #previewTicket = 0;

  constructor(service: AugmentService, jobs: JobManager, studio: StudioState) {
    this.#service = service;
    this.#jobs = jobs;
    this.#studio = studio;
  }

  get dirty(): boolean {
    return JSON.stringify(this.pipeline) !== JSON.stringify(this.savedPipeline ?? EMPTY_PIPELINE);
  }

  async loadTransforms(): Promise<void> {
    if (this.transforms.length > 0) return;
    try {
      this.transforms = await this.#service.transforms();
      this.transformsError = null;
    } catch (err) {
      this.transformsError = describeError(err);
    }
  }

  /** Reads the project's saved pipeline and plan; a different project drops the last one's work. */
  async openProject(projectId: string): Promise<void> {
    if (this.projectId === projectId) return;
    this.projectId = projectId;
    this.pipeline = EMPTY_PIPELINE;
    this.savedPipeline = null;
    this.pipelineError = null;
    this.previews = [];
    this.previewError = null;
    this.plan = null;
    this.planError = null;
    this.rebalanceError = null;
    this.lastRebalance = null;
    const [pipeline, plan] = await Promise.allSettled([this.#service.getPipeline(projectId), this.#service.getPlan(projectId)]);
    if (this.projectId !== projectId) return;
    if (pipeline.status === 'fulfilled') {
      this.savedPipeline = pipeline.value;
      if (pipeline.value) this.pipeline = pipeline.value;
    } else {
      this.pipelineError = describeError(pipeline.reason);
    }
    if (plan.status === 'fulfilled') this.plan = plan.value;
    else this.planError = describeError(plan.reason);
  }

  /** Re-reads the saved plan (the Analyze page may have saved a new one since). */
  async refreshPlan(projectId: string): Promise<void> {
    try {
      const plan = await this.#service.getPlan(projectId);
      if (this.projectId === projectId) {
        this.plan = plan;
        this.planError = null;
      }
    } catch (err) {
      if (this.projectId === projectId) this.planError = describeError(err);
    }
  }

  setPipeline(pipeline: PipelineSpec): void {
    this.pipeline = pipeline;
  }

  async savePipeline(projectId: string): Promise<boolean> {
    const pipeline = this.pipeline;
    this.saving = true;
    this.pipelineError = null;
    try {
      await this.#service.savePipeline(projectId, pipeline);
      if (this.projectId === projectId) this.savedPipeline = pipeline;
      return true;
    } catch (err) {
      this.pipelineError = describeError(err);
      return false;
    } finally {
      this.saving = false;
    }
  }

  /** Back to the saved pipeline (the empty one when none is saved). */
  revertPipeline(): void {
    this.pipeline = this.savedPipeline ?? EMPTY_PIPELINE;
    this.pipelineError = null;
  }

  /** Draws the pipeline on each (sample, seed) pair; a newer call supersedes this one. */
  async preview(projectId: string, sampleIds: number[], seeds: number[]): Promise<void> {
    const ticket = ++this.#previewTicket;
    this.previewing = true;
    try {
      const results = await this.#service.preview({ projectId, sampleIds, pipeline: this.pipeline, seeds });
      if (ticket !== this.#previewTicket || this.projectId !== projectId) return;
      this.previews = results;
      this.previewError = null;
    } catch (err) {
      if (ticket === this.#previewTicket) this.previewError = describeError(err);
    } finally {
      if (ticket === this.#previewTicket) this.previewing = false;
    }
  }

  /**
   * Writes augmented samples for `targets` into a new version as an 'augment' job, then
   * opens that version in the studio. Refuses mixing steps before starting.
   */
  async rebalance(req: AugmentRebalanceRequest): Promise<boolean> {
    const mixing = mixingSteps(req.pipeline, this.transforms);
    if (mixing.length > 0) {
      this.rebalanceError = describeError(new InvalidInputError(mixingRefusal(mixing)));
      return false;
    }
    this.rebalancing = true;
    this.rebalanceError = null;
    this.lastRebalance = null;
    try {
      const total = req.targets.reduce((a, t) => a + t.count, 0);
      const result = await this.#jobs.start(
        'augment',
        `Augment ${total} samples from ${this.#versionName(req.versionId)}`,
        (jobId, onProgress) => this.#service.rebalance(jobId, req, onProgress),
        { subject: req.projectId, cancel: (jobId) => this.#service.cancel(jobId) },
      );
      if (this.projectId !== req.projectId) return result.ok;
      if (!result.ok) {
        // A cancel is the user's own doing: the drawer already says so.
        if (result.status === 'failed') this.rebalanceError = result.error;
        return false;
      }
      this.lastRebalance = result.value;
      // The status bar and every page read the studio's version: open the new one.
      await this.#studio.reloadProject();
      void this.#studio.refreshStorage();
      return true;
    } finally {
      this.rebalancing = false;
    }
  }

  #versionName(versionId: number): string {
    const v = this.#studio.version;
    return v && v.id === versionId ? `v${v.number}` : `version ${versionId}`;
  }
}

const AUGMENT_KEY = Symbol('hearth.augment');

export function setAugment(state: AugmentState): AugmentState {
  return setContext(AUGMENT_KEY, state);
}

export function getAugment(): AugmentState {
  const state = getContext<AugmentState | undefined>(AUGMENT_KEY);
  if (!state) throw new Error('getAugment() called outside the studio: App.svelte sets the AugmentState context.');
  return state;
}
