import { getContext, setContext } from 'svelte';
import type { ModelBiasReport } from '../../lib/analysis/model-bias';
import type { AttributeAccuracyGap } from '../../lib/analysis/group-gaps';
import type { Slice, SliceResult } from '../../lib/evaluate/slices';
import type { ClassStats } from '../../lib/evaluate/evaluate';
import type { EvalSplit, EvaluationSummary, evaluateStored } from '../../lib/evaluate/evaluations';
import { describeError } from '../../lib/jobs/errors';
// Type-only: saliency.ts pulls in tfjs, which must stay out of the main thread's bundle.
import type { SaliencyMap } from '../../lib/evaluate/saliency';
import type { JobError, JobManager } from '../shell/jobs.svelte';
import type { ComputeApi, DataApi, Methods } from '../shell/service-types';

export type { EvalSplit };
export const EVAL_SPLITS: readonly EvalSplit[] = ['val', 'test'];

export type SaliencyMethod = 'vanilla' | 'smoothgrad' | 'gradcam';
export const SALIENCY_METHODS: readonly { id: SaliencyMethod; label: string }[] = [
  { id: 'vanilla', label: 'Vanilla gradient' },
  { id: 'smoothgrad', label: 'SmoothGrad' },
  { id: 'gradcam', label: 'Grad-CAM' },
];

/** A trained model as the picker lists it. */
export interface ModelInfo {
  modelId: string;
  runId: string;
  name: string;
  createdAt: number;
  /** The dataset version it was trained on, and evaluated on. */
  versionId: number;
  backend: string;
  seed: number;
}

/** One class's one-vs-rest metrics; a metric with no samples to divide by is undefined with its reason. */
export type ClassMetrics = ClassStats;
export type { EvaluationSummary };
export type EvaluateRequest = Parameters<typeof evaluateStored>[1];

export interface ModelBiasRequest {
  attribute: string;
  favourableClass: number;
  privileged: string[];
}

export interface SliceHistoryEntry {
  evaluationId: string;
  createdAt: number;
  results: SliceResult[];
}

export interface SliceRun {
  results: SliceResult[];
  /** Earlier evaluations' results for this project's slices, oldest first, this one included. */
  history: SliceHistoryEntry[];
}

export interface SaliencyRequest {
  modelId: string;
  sampleId: number;
  method: SaliencyMethod;
  /** Left out: the model's prediction for the sample. */
  targetClass?: number;
}

export interface SaliencyResult {
  map: SaliencyMap;
  /** The sample with the map laid over it (overlayHeatmap), width × height × 4. */
  overlayRgba: Uint8ClampedArray;
  width: number;
  height: number;
  predicted: number;
  /** Softmax over the classes, in class order. */
  probabilities: number[];
}

/**
 * What the Evaluate page needs of the workers, typed by their APIs: the compute worker's
 * models, evaluation, slices and saliency, and the data worker's pixels for thumbnails.
 */
export interface EvaluateService
  extends Methods<ComputeApi, 'listModels' | 'evaluate' | 'modelBias' | 'groupGaps' | 'runSlices' | 'getSlices' | 'saveSlices' | 'saliency'>,
    Methods<DataApi, 'getPixels'> {
  /** Stops the evaluate job `jobId` (it runs in the compute worker, not the data worker). */
  cancel(jobId: string): Promise<void>;
}

function saliencyKey(req: SaliencyRequest): string {
  return `${req.modelId}|${req.sampleId}|${req.method}|${req.targetClass ?? 'predicted'}`;
}

/** Enough entries for a session of clicking through misclassified samples with all three methods. */
const SALIENCY_CACHE_MAX_ENTRIES = 60;

/**
 * The Evaluate page's state: the project's models, the evaluation shown, its slice
 * results, and saliency maps already computed. One instance per app, handed out by
 * context, so switching pages keeps the evaluation.
 */
export class EvaluateState {
  models = $state.raw<ModelInfo[]>([]);
  modelsProjectId = $state<string | null>(null);
  modelsLoading = $state(false);
  modelsError = $state<JobError | null>(null);

  /** Raw: the prediction columns are big typed arrays. */
  evaluation = $state.raw<EvaluationSummary | null>(null);
  evaluating = $state(false);
  evaluateError = $state<JobError | null>(null);

  slices = $state.raw<Slice[]>([]);
  slicesError = $state<JobError | null>(null);
  sliceRun = $state.raw<SliceRun | null>(null);
  slicesRunning = $state(false);

  /** The sample whose saliency is shown, or null. */
  saliencySample = $state<number | null>(null);

  readonly #service: EvaluateService;
  readonly #jobs: JobManager;
  // A cache, never rendered itself: components read results through saliency().
  // eslint-disable-next-line svelte/prefer-svelte-reactivity
  readonly #saliency = new Map<string, Promise<SaliencyResult>>();

  constructor(service: EvaluateService, jobs: JobManager) {
    this.#service = service;
    this.#jobs = jobs;
  }

  /** Sample pixels (HWC uint8) for the page's thumbnails and saliency overlays. */
  readonly getPixels: EvaluateService['getPixels'] = (ids) => this.#service.getPixels(ids);

  /** Lists the project's models and reads its slices; a different project drops the evaluation. */
  async openProject(projectId: string): Promise<void> {
    if (this.modelsProjectId !== projectId) {
      this.evaluation = null;
      this.sliceRun = null;
      this.saliencySample = null;
      this.evaluateError = null;
      this.#saliency.clear();
    }
    this.modelsProjectId = projectId;
    this.modelsLoading = true;
    try {
      const [models, slices] = await Promise.all([this.#service.listModels(projectId), this.#service.getSlices(projectId)]);
      if (this.modelsProjectId !== projectId) return;
      this.models = [...models].sort((a, b) => b.createdAt - a.createdAt);
      this.slices = slices;
      this.modelsError = null;
    } catch (err) {
      if (this.modelsProjectId === projectId) this.modelsError = describeError(err);
    } finally {
      if (this.modelsProjectId === projectId) this.modelsLoading = false;
    }
  }

  /** Evaluates `model` on a split as an 'evaluate' job, then runs the project's slices on it. */
  async evaluate(projectId: string, model: ModelInfo, split: EvalSplit): Promise<void> {
    this.evaluating = true;
    this.evaluateError = null;
    try {
      const req: EvaluateRequest = { modelId: model.modelId, versionId: model.versionId, split };
      const result = await this.#jobs.start(
        'evaluate',
        `Evaluate ${model.name} on ${split}`,
        (jobId, onProgress) => this.#service.evaluate(jobId, req, onProgress),
        { subject: projectId, cancel: (jobId) => this.#service.cancel(jobId) },
      );
      if (!result.ok) {
        // A cancel is the user's own doing: the drawer already says so, no error here.
        if (result.status === 'failed') this.evaluateError = result.error;
        return;
      }
      if (this.modelsProjectId !== projectId) return;
      this.evaluation = result.value;
      this.sliceRun = null;
      this.saliencySample = null;
      if (this.slices.length > 0) await this.runSlices();
    } finally {
      this.evaluating = false;
    }
  }

  async modelBias(req: ModelBiasRequest): Promise<ModelBiasReport> {
    const evaluation = this.evaluation;
    if (!evaluation) throw new Error('modelBias() needs an evaluation: run one first.');
    return this.#service.modelBias(evaluation.evaluationId, req);
  }

  /** Accuracy per group of the shown evaluation, for every attribute, with each one's worst-off group. */
  async groupGaps(): Promise<AttributeAccuracyGap[]> {
    const evaluation = this.evaluation;
    if (!evaluation) throw new Error('groupGaps() needs an evaluation: run one first.');
    return this.#service.groupGaps(evaluation.evaluationId);
  }

  /** Saves the slice list; with an evaluation shown, its results are run again. */
  async saveSlices(projectId: string, slices: Slice[]): Promise<boolean> {
    try {
      await this.#service.saveSlices(projectId, slices);
      this.slices = slices;
      this.slicesError = null;
    } catch (err) {
      this.slicesError = describeError(err);
      return false;
    }
    if (this.evaluation) await this.runSlices();
    return true;
  }

  async runSlices(): Promise<void> {
    const evaluation = this.evaluation;
    if (!evaluation) return;
    this.slicesRunning = true;
    try {
      const run = await this.#service.runSlices(evaluation.evaluationId);
      if (this.evaluation?.evaluationId === evaluation.evaluationId) {
        this.sliceRun = run;
        this.slicesError = null;
      }
    } catch (err) {
      this.slicesError = describeError(err);
    } finally {
      this.slicesRunning = false;
    }
  }

  /** One saliency map, computed once per model, sample, method and target class. */
  saliency(req: SaliencyRequest): Promise<SaliencyResult> {
    const key = saliencyKey(req);
    const hit = this.#saliency.get(key);
    if (hit) return hit;
    const pending = this.#service.saliency(req);
    this.#saliency.set(key, pending);
    // A failure is not cached: the user may retry after fixing the cause (e.g. a backend).
    pending.catch(() => this.#saliency.delete(key));
    for (const old of this.#saliency.keys()) {
      if (this.#saliency.size <= SALIENCY_CACHE_MAX_ENTRIES) break;
      this.#saliency.delete(old);
    }
    return pending;
  }
}

/** Sample ids whose true class is `trueClass` and predicted class `predictedClass`, in evaluation order. */
export function samplesFor(evaluation: EvaluationSummary, trueClass: number, predictedClass: number): number[] {
  const { ids, predicted, trueLabels } = evaluation.predictions;
  const out: number[] = [];
  for (let i = 0; i < ids.length; i++) {
    if (trueLabels[i] === trueClass && predicted[i] === predictedClass) out.push(ids[i] as number);
  }
  return out;
}

const EVALUATE_KEY = Symbol('hearth.evaluate');

export function setEvaluate(state: EvaluateState): EvaluateState {
  return setContext(EVALUATE_KEY, state);
}

export function getEvaluate(): EvaluateState {
  const state = getContext<EvaluateState | undefined>(EVALUATE_KEY);
  if (!state) throw new Error('getEvaluate() called outside the studio: App.svelte sets the EvaluateState context.');
  return state;
}
