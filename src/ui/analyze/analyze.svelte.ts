import { getContext, setContext } from 'svelte';
// Type-only imports of the analysis code: it runs in the data worker, and nothing of it
// (nor of what it imports) belongs in the main thread's bundle.
import type { DataBiasReport } from '../../lib/analysis/analyze-job';
import type { SplitLeak } from '../../lib/analysis/duplicates';
import type { RebalanceAction, RebalancePlan, RebalanceTarget } from '../../lib/analysis/rebalance';
import type { Split } from '../../lib/storage/records';
import { describeError } from '../../lib/jobs/errors';
import { leakCopies, withoutSamples, type DuplicatesReport } from './leaks';
// rebalance.ts is plain TypeScript over idb: no tfjs enters the main bundle through it.
import { overrideAction } from '../../lib/analysis/rebalance';
import type { JobError, JobManager } from '../shell/jobs.svelte';
import type { DataApi, Methods } from '../shell/service-types';
import type { StudioState } from '../shell/studio.svelte';

export type { DuplicatesReport } from './leaks';

/** Which samples the analysis looks at: one split, or the whole version. */
export type AnalyzeSplit = Split | 'all';
export const ANALYZE_SPLITS: readonly AnalyzeSplit[] = ['all', 'train', 'val', 'test'];

export interface AnalyzeRequest {
  versionId: number;
  split: AnalyzeSplit;
  /** Seeds the shortcut detector's permutation baseline; the report records it. */
  seed: number;
}

/** The seed the page analyses with: fixed, so the same version gives the same report. */
export const ANALYZE_SEED = 1;

export interface DuplicatesRequest {
  versionId: number;
  /** Largest Hamming distance, in bits of the 64-bit pHash, for two images to count as near-duplicates. */
  maxDistance: number;
}

/** The version a removal made. */
export interface RemovedVersion {
  versionId: number;
  /** Its number within the project (v1, v2…). */
  number: number;
}

/**
 * What the Analyze page needs of the data worker, typed by its API: the data-bias analysis
 * and duplicate search (jobs), sample removal, rebalancing plans, and pixels for thumbnails.
 */
export interface AnalyzeService
  extends Methods<DataApi, 'analyze' | 'findDuplicates' | 'removeSamples' | 'planRebalance' | 'getPlan' | 'savePlan' | 'getPixels'> {
  /** Stops the analyze or duplicates job `jobId`. */
  cancel(jobId: string): Promise<void>;
}

/** pHash bits two images may differ in and still be near-duplicates (duplicates.ts DEFAULT_MAX_DISTANCE). */
export const DEFAULT_DUPLICATE_DISTANCE_BITS = 4;
/** The most the search allows (duplicates.ts MAX_SEARCH_DISTANCE). */
export const MAX_DUPLICATE_DISTANCE_BITS = 24;

/**
 * The Analyze page's state: the analysis shown, the duplicates found, and the project's
 * rebalancing plan (the saved one, or a draft being edited). One instance per app, handed
 * out by context, so switching pages keeps the results.
 */
export class AnalyzeState {
  projectId = $state<string | null>(null);

  /** Raw: reports are big, read-only structures. */
  report = $state.raw<DataBiasReport | null>(null);
  /** What `report` was computed for. */
  reportRequest = $state.raw<AnalyzeRequest | null>(null);
  analyzing = $state(false);
  analyzeError = $state<JobError | null>(null);

  duplicates = $state.raw<DuplicatesReport | null>(null);
  findingDuplicates = $state(false);
  duplicatesError = $state<JobError | null>(null);
  removing = $state(false);
  removeError = $state<JobError | null>(null);
  /** What the last removal did, for the page to say so. */
  lastRemoval = $state.raw<{ removed: number; version: RemovedVersion } | null>(null);

  /** The plan on screen: the saved one after openProject, or a new draft. */
  plan = $state.raw<RebalancePlan | null>(null);
  /** The plan as last saved (null: none saved), to tell whether `plan` has unsaved changes. */
  savedPlan = $state.raw<RebalancePlan | null>(null);
  planning = $state(false);
  saving = $state(false);
  planError = $state<JobError | null>(null);

  readonly #service: AnalyzeService;
  readonly #jobs: JobManager;
  readonly #studio: StudioState;

  constructor(service: AnalyzeService, jobs: JobManager, studio: StudioState) {
    this.#service = service;
    this.#jobs = jobs;
    this.#studio = studio;
  }

  /** Sample pixels (HWC uint8) for the duplicate groups' thumbnails. */
  readonly getPixels: AnalyzeService['getPixels'] = (ids) => this.#service.getPixels(ids);

  get planDirty(): boolean {
    return this.plan !== null && this.plan !== this.savedPlan;
  }

  /** Reads the project's saved plan; a different project drops the results of the last one. */
  async openProject(projectId: string): Promise<void> {
    if (this.projectId === projectId) return;
    this.projectId = projectId;
    this.report = null;
    this.reportRequest = null;
    this.analyzeError = null;
    this.duplicates = null;
    this.duplicatesError = null;
    this.removeError = null;
    this.lastRemoval = null;
    this.plan = null;
    this.savedPlan = null;
    this.planError = null;
    try {
      const saved = await this.#service.getPlan(projectId);
      if (this.projectId !== projectId) return;
      this.savedPlan = saved;
      this.plan = saved;
    } catch (err) {
      if (this.projectId === projectId) this.planError = describeError(err);
    }
  }

  /** Runs the analysis as an 'analyze' job. */
  async analyze(projectId: string, req: AnalyzeRequest): Promise<void> {
    this.analyzing = true;
    this.analyzeError = null;
    try {
      const splitName = req.split === 'all' ? 'all splits' : `the ${req.split} split`;
      const result = await this.#jobs.start(
        'analyze',
        `Analyze ${splitName} of ${this.#versionName(req.versionId)}`,
        (jobId, onProgress) => this.#service.analyze(jobId, req, onProgress),
        { subject: projectId, cancel: (jobId) => this.#service.cancel(jobId) },
      );
      if (this.projectId !== projectId) return;
      if (!result.ok) {
        // A cancel is the user's own doing: the drawer already says so.
        if (result.status === 'failed') this.analyzeError = result.error;
        return;
      }
      this.report = result.value;
      this.reportRequest = req;
    } finally {
      this.analyzing = false;
    }
  }

  /** Finds near-duplicates and split leaks as a 'duplicates' job. */
  async findDuplicates(projectId: string, req: DuplicatesRequest): Promise<void> {
    this.findingDuplicates = true;
    this.duplicatesError = null;
    this.lastRemoval = null;
    try {
      const result = await this.#jobs.start(
        'duplicates',
        `Find near-duplicates in ${this.#versionName(req.versionId)}`,
        (jobId, onProgress) => this.#service.findDuplicates(jobId, req, onProgress),
        { subject: projectId, cancel: (jobId) => this.#service.cancel(jobId) },
      );
      if (this.projectId !== projectId) return;
      if (!result.ok) {
        if (result.status === 'failed') this.duplicatesError = result.error;
        return;
      }
      this.duplicates = result.value;
    } finally {
      this.findingDuplicates = false;
    }
  }

  /**
   * Removes the val/test copies of `leaks` (all of them when left out): a new version
   * without them, which the studio then opens, and the duplicates list minus them.
   */
  async removeLeakCopies(projectId: string, leaks?: readonly SplitLeak[]): Promise<boolean> {
    const report = this.duplicates;
    if (!report) return false;
    const chosen = leaks ?? report.leaks;
    const ids = leakCopies(chosen);
    if (ids.length === 0) return false;
    this.removing = true;
    this.removeError = null;
    try {
      const note =
        chosen.length === 1
          ? `Removed ${ids.length} val/test ${ids.length === 1 ? 'copy' : 'copies'} of a training image (split leak)`
          : `Removed ${ids.length} val/test copies of training images (${chosen.length} split leaks)`;
      const version = await this.#service.removeSamples(projectId, ids, note);
      if (this.projectId !== projectId) return true;
      this.duplicates = withoutSamples(report, ids, version.versionId);
      this.lastRemoval = { removed: ids.length, version };
      // The status bar and every page read the studio's version: open the new one.
      await this.#studio.reloadProject();
      void this.#studio.refreshStorage();
      return true;
    } catch (err) {
      this.removeError = describeError(err);
      return false;
    } finally {
      this.removing = false;
    }
  }

  /** Makes a new draft plan for the version (not saved until savePlan). */
  async planRebalance(versionId: number, target: RebalanceTarget): Promise<void> {
    this.planning = true;
    this.planError = null;
    try {
      this.plan = await this.#service.planRebalance(versionId, target);
    } catch (err) {
      this.planError = describeError(err);
    } finally {
      this.planning = false;
    }
  }

  /** The user's action for one cell of the draft (saved with the plan by savePlan). */
  overrideAction(key: string, action: RebalanceAction): void {
    if (!this.plan) return;
    try {
      this.plan = overrideAction(this.plan, key, action);
    } catch (err) {
      this.planError = describeError(err);
    }
  }

  async savePlan(projectId: string): Promise<boolean> {
    const plan = this.plan;
    if (!plan) return false;
    this.saving = true;
    this.planError = null;
    try {
      await this.#service.savePlan(projectId, plan);
      if (this.projectId === projectId) this.savedPlan = plan;
      return true;
    } catch (err) {
      this.planError = describeError(err);
      return false;
    } finally {
      this.saving = false;
    }
  }

  /** Drops the draft and shows the saved plan again. */
  revertPlan(): void {
    this.plan = this.savedPlan;
    this.planError = null;
  }

  #versionName(versionId: number): string {
    const v = this.#studio.version;
    return v && v.id === versionId ? `v${v.number}` : `version ${versionId}`;
  }
}

const ANALYZE_KEY = Symbol('hearth.analyze');

export function setAnalyze(state: AnalyzeState): AnalyzeState {
  return setContext(ANALYZE_KEY, state);
}

export function getAnalyze(): AnalyzeState {
  const state = getContext<AnalyzeState | undefined>(ANALYZE_KEY);
  if (!state) throw new Error('getAnalyze() called outside the studio: App.svelte sets the AnalyzeState context.');
  return state;
}
