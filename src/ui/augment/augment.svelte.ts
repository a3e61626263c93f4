import { getContext, setContext } from 'svelte';
import { SvelteMap } from 'svelte/reactivity';
// Type-only imports of the augmentation engine: it runs in the workers, and nothing of it
// (nor tfjs behind its GPU path) belongs in the main thread's bundle.
import type { RebalancePlan } from '../../lib/analysis/rebalance';
import type { PipelineSpec } from '../../lib/augment/pipeline';
import type { PipelineDraft, SavedPipeline } from '../../lib/augment/pipelines';
import type { AugmentPlacement } from '../../lib/augment/placement';
import type { PreviewImage, PreviewRequest } from '../../lib/augment/preview';
import type { AugmentTarget } from '../../lib/augment/rebalance-augment';
import type { TransformInfo } from '../../lib/augment/registry';
import { describeError, InvalidInputError } from '../../lib/jobs/errors';
import type { JobError, JobManager } from '../shell/jobs.svelte';
import type { Called, ComputeApi, DataApi, Methods, Renamed } from '../shell/service-types';
import type { StudioState } from '../shell/studio.svelte';

export type { TransformInfo, PreviewRequest, AugmentTarget, SavedPipeline, PipelineDraft, AugmentPlacement };
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

type DataPreview = DataApi['augmentPreview'];
type DataRebalance = DataApi['augmentRebalance'];

/**
 * What the Augment page needs of the workers, typed by their APIs. Previews and
 * rebalancing take where to run (the compute worker's GPU or the data worker's CPU
 * kernels: the same bytes); the rest is the data worker's, under the page's names.
 */
export interface AugmentService
  extends Methods<DataApi, 'getPlan' | 'filterVersion' | 'getPixels'>,
    Renamed<DataApi, {
      /** The registered transforms (registry.ts listTransforms()). */
      transforms: 'augmentTransforms';
      listPipelines: 'listAugmentPipelines';
      /** Saves a new pipeline, or overwrites `draft.id` (augment/pipelines.ts savePipeline). */
      savePipeline: 'saveAugmentPipeline';
      deletePipeline: 'deleteAugmentPipeline';
    }>,
    Renamed<ComputeApi, {
      /** Where previews and rebalancing run fastest now (augment/placement.ts). */
      placement: 'augmentPlacement';
    }> {
  /** Runs the pipeline on each (sample, seed) pair, on the GPU or the CPU kernels: the same bytes. */
  preview(req: Parameters<DataPreview>[0], where: AugmentPlacement['where']): ReturnType<Called<DataPreview>>;
  /** Writes augmented samples into a new version as job `jobId` (kind 'augment'). */
  rebalance(
    jobId: string,
    req: Parameters<DataRebalance>[1],
    where: AugmentPlacement['where'],
    onProgress: Parameters<DataRebalance>[2],
  ): ReturnType<Called<DataRebalance>>;
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

/** "Pipeline 3": the first "Pipeline N" no saved pipeline is named (names compare case-insensitively). */
export function freshPipelineName(pipelines: readonly Pick<SavedPipeline, 'name'>[]): string {
  // A local lookup, not state.
  // eslint-disable-next-line svelte/prefer-svelte-reactivity
  const taken = new Set(pipelines.map((p) => p.name.toLowerCase()));
  let n = pipelines.length + 1;
  while (taken.has(`pipeline ${n}`)) n++;
  return `Pipeline ${n}`;
}

/** The name "Save as new" stores: the name on screen, with " copy" when it is still the original's. */
export function saveAsName(name: string, original: Pick<SavedPipeline, 'name'> | null): string {
  return original && name.trim().toLowerCase() === original.name.toLowerCase() ? `${name.trim()} copy` : name;
}

/** Where an unsaved new pipeline's draft is kept among the saved ones' drafts. */
const NEW_DRAFT = '';

/** A new 32-bit seed for "Reseed": shown on the page, so what the user saw can be drawn again. */
export function freshSeed(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0] ?? 0;
}

/**
 * The Augment page's state: the project's saved pipelines and the one being built, the preview
 * drawn from it, the saved rebalancing plan, and the last rebalance by augmentation. One
 * instance per app, handed out by context, so switching pages keeps the work.
 */
export class AugmentState {
  projectId = $state<string | null>(null);

  transforms = $state.raw<TransformInfo[]>([]);
  transformsError = $state<JobError | null>(null);

  /** The project's saved pipelines, by name. */
  pipelines = $state.raw<SavedPipeline[]>([]);
  /** The saved pipeline on screen, or null for a new one not saved yet. */
  currentId = $state<string | null>(null);
  /** The pipeline on screen; replaced whole on each edit so `$state.raw` stays cheap. */
  pipeline = $state.raw<PipelineSpec>(EMPTY_PIPELINE);
  /** The name in the name field. */
  name = $state('');
  saving = $state(false);
  pipelineError = $state<JobError | null>(null);
  /** Where previews and rebalancing run, as of the last ask. */
  placement = $state.raw<AugmentPlacement | null>(null);

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
  /**
   * Unsaved edits of pipelines the user switched away from, by id (NEW_DRAFT for the new
   * one), so switching to another pipeline and back loses nothing. Reactive: the picker
   * marks pipelines with drafts.
   */
  #drafts = new SvelteMap<string, { name: string; spec: PipelineSpec }>();

  constructor(service: AugmentService, jobs: JobManager, studio: StudioState) {
    this.#service = service;
    this.#jobs = jobs;
    this.#studio = studio;
  }

  /** The indices of a version's samples that pass `filter`, for picking preview samples. */
  readonly filterVersion: AugmentService['filterVersion'] = (versionId, filter) => this.#service.filterVersion(versionId, filter);
  /** Sample pixels (HWC uint8) for the previews' originals. */
  readonly getPixels: AugmentService['getPixels'] = (ids) => this.#service.getPixels(ids);

  /** The saved pipeline on screen, or null for a new one. */
  get current(): SavedPipeline | null {
    return this.pipelines.find((p) => p.id === this.currentId) ?? null;
  }

  /** Whether the screen differs from what is saved (a new pipeline is dirty once it has steps). */
  get dirty(): boolean {
    const saved = this.current;
    if (!saved) return this.pipeline.steps.length > 0;
    return this.name.trim() !== saved.name || JSON.stringify(this.pipeline) !== JSON.stringify(saved.spec);
  }

  /** Whether pipeline `id` (null: the new one) has unsaved edits, for the picker's mark. */
  hasDraft(id: string | null): boolean {
    if (id === this.currentId) return this.dirty;
    return this.#drafts.has(id ?? NEW_DRAFT);
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
    this.pipelines = [];
    this.#drafts.clear();
    this.#show(null);
    this.pipelineError = null;
    this.previews = [];
    this.previewError = null;
    this.plan = null;
    this.planError = null;
    this.rebalanceError = null;
    this.lastRebalance = null;
    const [pipelines, plan] = await Promise.allSettled([this.#service.listPipelines(projectId), this.#service.getPlan(projectId)]);
    if (this.projectId !== projectId) return;
    if (pipelines.status === 'fulfilled') {
      this.pipelines = pipelines.value;
      // Open the one last worked on, unless the user has started a new one meanwhile.
      const latest = [...pipelines.value].sort((a, b) => b.updatedAt - a.updatedAt)[0];
      if (latest && this.currentId === null && !this.dirty) this.#show(latest);
    } else {
      this.pipelineError = describeError(pipelines.reason);
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

  setName(name: string): void {
    this.name = name;
  }

  /** Shows saved pipeline `saved` (its draft when it has one), or a new one for null. */
  #show(saved: SavedPipeline | null): void {
    const draft = this.#drafts.get(saved?.id ?? NEW_DRAFT);
    this.currentId = saved?.id ?? null;
    this.pipeline = draft?.spec ?? saved?.spec ?? EMPTY_PIPELINE;
    this.name = draft?.name ?? saved?.name ?? freshPipelineName(this.pipelines);
    this.previews = [];
    this.previewError = null;
  }

  /** Keeps the screen's unsaved edits as a draft before showing another pipeline. */
  #stash(): void {
    const key = this.currentId ?? NEW_DRAFT;
    if (this.dirty) this.#drafts.set(key, { name: this.name, spec: this.pipeline });
    else this.#drafts.delete(key);
  }

  /** Opens saved pipeline `id` of `projectId` (loading the project first when needed), or a new one for null. */
  async openSaved(projectId: string, id: string | null): Promise<void> {
    await this.openProject(projectId);
    if (this.projectId !== projectId || id === this.currentId) return;
    const saved = id === null ? null : (this.pipelines.find((p) => p.id === id) ?? null);
    if (id !== null && !saved) {
      this.pipelineError = describeError(new InvalidInputError('That pipeline is no longer saved in this project: pick another.'));
      return;
    }
    this.#stash();
    this.pipelineError = null;
    this.#show(saved);
  }

  /** Starts a new, empty pipeline (the one being edited keeps its unsaved edits as a draft). */
  newPipeline(): void {
    this.#stash();
    this.#drafts.delete(NEW_DRAFT);
    this.pipelineError = null;
    this.#show(null);
  }

  /**
   * Saves the screen: over the saved pipeline on screen, or as a new one when there is
   * none or `asNew` (keeping the original as it was saved).
   */
  async savePipeline(projectId: string, asNew = false): Promise<boolean> {
    const replacing = asNew ? null : this.currentId;
    const draftKey = this.currentId ?? NEW_DRAFT;
    const name = asNew ? saveAsName(this.name, this.current) : this.name;
    this.saving = true;
    this.pipelineError = null;
    try {
      const saved = await this.#service.savePipeline(projectId, { ...(replacing ? { id: replacing } : {}), name, spec: this.pipeline });
      if (this.projectId !== projectId) return true;
      this.pipelines = [...this.pipelines.filter((p) => p.id !== saved.id), saved].sort((a, b) => a.name.localeCompare(b.name));
      // Save-as leaves the original's edits behind: the original stays as it was saved.
      this.#drafts.delete(draftKey);
      this.currentId = saved.id;
      this.name = saved.name;
      this.pipeline = saved.spec;
      return true;
    } catch (err) {
      this.pipelineError = describeError(err);
      return false;
    } finally {
      this.saving = false;
    }
  }

  /** Deletes the saved pipeline on screen and opens another (runs that used it keep their copy). */
  async deletePipeline(projectId: string): Promise<boolean> {
    const id = this.currentId;
    if (id === null) return false;
    this.pipelineError = null;
    try {
      await this.#service.deletePipeline(projectId, id);
      if (this.projectId !== projectId) return true;
      this.pipelines = this.pipelines.filter((p) => p.id !== id);
      this.#drafts.delete(id);
      this.#show(this.pipelines[0] ?? null);
      return true;
    } catch (err) {
      this.pipelineError = describeError(err);
      return false;
    }
  }

  /** Back to the saved pipeline on screen (the empty one for a new pipeline). */
  revertPipeline(): void {
    this.#drafts.delete(this.currentId ?? NEW_DRAFT);
    const saved = this.current;
    this.pipeline = saved?.spec ?? EMPTY_PIPELINE;
    this.name = saved?.name ?? this.name;
    this.pipelineError = null;
  }

  /** Asks where previews and rebalancing run now (the backend may have changed since). */
  async #place(): Promise<AugmentPlacement> {
    try {
      this.placement = await this.#service.placement();
    } catch (err) {
      // The compute worker could not say: the CPU kernels in the data worker always can.
      this.placement = { where: 'cpu', reason: `on the CPU kernels: the compute worker could not say where (${describeError(err).message})` };
    }
    return this.placement;
  }

  /** Draws the pipeline on each (sample, seed) pair; a newer call supersedes this one. */
  async preview(projectId: string, sampleIds: number[], seeds: number[]): Promise<void> {
    const ticket = ++this.#previewTicket;
    this.previewing = true;
    try {
      const { where } = await this.#place();
      const results = await this.#service.preview({ projectId, sampleIds, pipeline: this.pipeline, seeds }, where);
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
      const { where } = await this.#place();
      const result = await this.#jobs.start(
        'augment',
        `Augment ${total} samples from ${this.#versionName(req.versionId)}`,
        (jobId, onProgress) => this.#service.rebalance(jobId, req, where, onProgress),
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
