import { getContext, setContext } from 'svelte';
import { describeError } from '../../lib/jobs/errors';
// Type-only: the selection code pulls in tfjs, which must stay out of the main thread's bundle.
import type { LabelRound, SelectMethod } from '../../lib/select/types';
import {
  draftCounts,
  draftFromRound,
  goTo,
  keyAction,
  labelCurrent,
  moveCursor,
  skipCurrent,
  undo,
  type RoundDraft,
} from './labeling';
import { methodLabel, roundsWithDraft } from './label-view';
import type { Job, JobError, JobManager } from '../shell/jobs.svelte';
import type { ComputeApi, DataApi, Methods, Renamed } from '../shell/service-types';
import type { StudioState } from '../shell/studio.svelte';

export const LABEL_SELECT_JOB_KIND = 'label-select';
export const LABEL_PRETRAIN_JOB_KIND = 'label-pretrain';
export const LABEL_RETRAIN_JOB_KIND = 'label-retrain';
/**
 * Answers are written this long after the last one: a burst of keypresses is one write
 * to IndexedDB rather than one per image, and a reload loses at most this much.
 */
export const SAVE_DEBOUNCE_MS = 500;

export interface LabelSessionView {
  projectId: string;
  /** The model selections are made with (the newest trained one), or null when none is trained yet. */
  modelId: string | null;
  rounds: LabelRound[]; // from src/lib/select/types.ts, oldest first
  /** The open round being labeled, if any (picks shown, not yet retrained). */
  open: LabelRound | null;
  unlabeledPool: number; // train samples without a label
  classes: string[];
}

/**
 * What the Label page needs of the workers, typed by their APIs: selection and retraining
 * in the compute worker (under the page's names), pixels for thumbnails from the data worker.
 */
export interface LabelService
  extends Renamed<ComputeApi, {
      session: 'labelSession';
      /** Job: picks `budget` images from the unlabeled train pool with `method`; opens a round. */
      select: 'selectForLabeling';
      /** Saves the labels given so far in the open round (sample id → class index; skipped ids). */
      saveLabels: 'saveLabels';
      /** Job: writes the labels as a new dataset version, retrains from the previous model's weights (warm start), evaluates on val, closes the round. */
      retrain: 'retrainWithLabels';
      /**
       * Job: the paper's self-supervised start. Rotation pretraining on every train image, a
       * fresh head, then training on the labelled ones; the result becomes the model picks use.
       */
      pretrain: 'selfSupervisedStart';
    }>,
    Methods<DataApi, 'getPixels'> {
  cancel(jobId: string): Promise<void>;
}

export type SaveStatus = 'saved' | 'unsaved' | 'saving' | 'failed';

/** Edit counters of one draft: answers given, and how many of them are stored. */
interface SaveTrack {
  edits: number;
  saved: number;
}

/**
 * The Label page's state: the project's labeling session (rounds, open round, pool),
 * the open round as the user answers it, and the pick and retrain jobs. One instance
 * per app, handed out by context, so leaving the page keeps the round where it was.
 */
export class LabelState {
  session = $state.raw<LabelSessionView | null>(null);
  projectId = $state<string | null>(null);
  loading = $state(false);
  loadError = $state<JobError | null>(null);

  /** The open round as answered on this page; its answers are saved through saveLabels. */
  draft = $state.raw<RoundDraft | null>(null);
  saveStatus = $state<SaveStatus>('saved');
  saveError = $state<JobError | null>(null);
  /** The class index typed so far, when there are more classes than single keys. */
  typed = $state('');

  selecting = $state(false);
  pretraining = $state(false);
  pretrainError = $state<JobError | null>(null);
  selectError = $state<JobError | null>(null);
  retraining = $state(false);
  retrainError = $state<JobError | null>(null);

  /** Every round, oldest first, the open one with the page's answers. */
  readonly rounds = $derived(roundsWithDraft(this.session?.rounds ?? [], this.session?.open ?? null, this.draft));
  readonly classes = $derived(this.session?.classes ?? []);
  readonly counts = $derived(this.draft ? draftCounts(this.draft) : null);
  /** Answers can change: a round is open and no retrain is taking it. */
  readonly editable = $derived(this.draft !== null && !this.retraining);

  readonly #service: LabelService;
  readonly #jobs: JobManager;
  readonly #studio: StudioState | null;
  #track: SaveTrack = { edits: 0, saved: 0 };
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Saves run one after another, so an older snapshot never lands after a newer one. */
  #chain: Promise<void> = Promise.resolve();

  /**
   * `studio` is reopened after a retrain, because the retrain writes a dataset version
   * that the status bar and the other pages read from it; without it they show the old
   * version until the project is opened again.
   */
  constructor(service: LabelService, jobs: JobManager, studio: StudioState | null = null) {
    this.#service = service;
    this.#jobs = jobs;
    this.#studio = studio;
  }

  /** The pick or retrain job running for `projectId`, for the page's progress line. */
  jobFor(projectId: string): Job | undefined {
    return this.#jobs.running.find(
      (j) => (j.kind === LABEL_SELECT_JOB_KIND || j.kind === LABEL_RETRAIN_JOB_KIND || j.kind === LABEL_PRETRAIN_JOB_KIND) && j.subject === projectId,
    );
  }

  /** Reads the project's session; another project first saves this one's answers, then starts afresh. */
  async openProject(projectId: string): Promise<void> {
    if (this.projectId !== projectId) {
      void this.flush();
      this.session = null;
      this.#replaceDraft(null);
      this.selectError = null;
      this.retrainError = null;
      this.loadError = null;
    }
    this.projectId = projectId;
    this.loading = true;
    try {
      const view = await this.#service.session(projectId);
      if (this.projectId !== projectId) return;
      this.#adopt(view);
      this.loadError = null;
    } catch (err) {
      if (this.projectId === projectId) this.loadError = describeError(err);
    } finally {
      if (this.projectId === projectId) this.loading = false;
    }
  }

  /** Picks images to label as a job; the round it opens becomes the draft. */
  async pick(req: { method: SelectMethod; budget: number; seed: number }): Promise<void> {
    const projectId = this.projectId;
    if (!projectId || this.selecting || this.retraining || this.session?.open) return;
    this.selecting = true;
    this.selectError = null;
    try {
      const result = await this.#jobs.start(
        LABEL_SELECT_JOB_KIND,
        `Pick ${req.budget} images to label (${methodLabel(req.method)})`,
        (jobId, onProgress) => this.#service.select(jobId, { projectId, ...req }, onProgress),
        { subject: projectId, cancel: (jobId) => this.#service.cancel(jobId) },
      );
      if (!result.ok) {
        // A cancel is the user's own doing: the drawer already says so, no error here.
        if (result.status === 'failed') this.selectError = result.error;
        return;
      }
      if (this.projectId === projectId) this.#adopt(result.value);
    } finally {
      this.selecting = false;
    }
  }

  /** Runs the self-supervised start as a job; the new model becomes the one picks are made with. */
  async pretrain(req: { rotationEpochs: number; epochs: number; seed: number }): Promise<void> {
    const projectId = this.projectId;
    if (!projectId || this.selecting || this.retraining || this.pretraining) return;
    this.pretraining = true;
    this.pretrainError = null;
    try {
      const result = await this.#jobs.start(
        LABEL_PRETRAIN_JOB_KIND,
        `Self-supervised start: rotation pretraining (${req.rotationEpochs} epochs), then ${req.epochs} on the labels`,
        (jobId, onProgress) => this.#service.pretrain(jobId, { projectId, ...req }, onProgress),
        { subject: projectId, cancel: (jobId) => this.#service.cancel(jobId) },
      );
      if (!result.ok) {
        if (result.status === 'failed') this.pretrainError = result.error;
        return;
      }
      if (this.projectId === projectId) this.#adopt(result.value);
    } finally {
      this.pretraining = false;
    }
  }

  /**
   * Saves the answers, then retrains as a job: a new dataset version with the labels, a
   * warm start from the previous model, validation accuracy for the chart. The round
   * closes when it succeeds.
   */
  async retrain(epochs: number): Promise<void> {
    const projectId = this.projectId;
    const draft = this.draft;
    if (!projectId || !draft || this.retraining || this.selecting) return;
    const labelled = draftCounts(draft).labelled;
    if (labelled === 0) return;
    this.retraining = true;
    this.retrainError = null;
    this.typed = '';
    try {
      await this.flush();
      const saveError = this.saveError;
      if (saveError) {
        this.retrainError = {
          name: saveError.name,
          message: `The labels could not be saved, so the retrain did not start: ${saveError.message}`,
        };
        return;
      }
      const result = await this.#jobs.start(
        LABEL_RETRAIN_JOB_KIND,
        `Retrain with ${labelled} new ${labelled === 1 ? 'label' : 'labels'}`,
        (jobId, onProgress) => this.#service.retrain(jobId, { projectId, epochs }, onProgress),
        { subject: projectId, cancel: (jobId) => this.#service.cancel(jobId) },
      );
      if (!result.ok) {
        if (result.status === 'failed') this.retrainError = result.error;
        return;
      }
      if (this.projectId !== projectId) return;
      this.#adopt(result.value);
      await this.#afterNewVersion(projectId);
    } finally {
      this.retraining = false;
    }
  }

  label(cls: number): void {
    if (cls >= this.classes.length) return;
    this.#answer((d) => labelCurrent(d, cls));
  }

  skip(): void {
    this.#answer(skipCurrent);
  }

  undo(): void {
    if (!this.draft || this.draft.history.length === 0) return;
    this.#answer(undo);
  }

  move(delta: number): void {
    if (this.draft) this.draft = moveCursor(this.draft, delta);
  }

  goTo(index: number): void {
    if (this.draft) this.draft = goTo(this.draft, index);
  }

  /** Applies a labeling shortcut; true when the key was one (the caller then prevents its default). */
  handleKey(key: string): boolean {
    if (!this.editable) return false;
    const action = keyAction(key, this.classes, this.typed);
    switch (action.kind) {
      case 'label':
        this.typed = '';
        this.label(action.cls);
        return true;
      case 'skip':
        this.typed = '';
        this.skip();
        return true;
      case 'undo':
        this.undo();
        return true;
      case 'move':
        this.move(action.delta);
        return true;
      case 'typed':
        this.typed = action.typed;
        return true;
      case 'none':
        return false;
    }
  }

  /** Pixels of picked samples, for the current image and the strip. */
  pixels(sampleIds: number[]): Promise<Uint8Array[]> {
    return this.#service.getPixels(sampleIds);
  }

  /** Saves unsaved answers now rather than after the debounce: before a retrain, and when the page is left. */
  flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const draft = this.draft;
    const projectId = this.projectId;
    const track = this.#track;
    if (!draft || !projectId || track.edits === track.saved) return this.#chain;
    const edits = track.edits;
    const labels = { ...draft.labels };
    const skipped = [...draft.skipped];
    this.#chain = this.#chain.then(async () => {
      const current = () => this.#track === track;
      if (current()) this.saveStatus = 'saving';
      try {
        const view = await this.#service.saveLabels(projectId, labels, skipped);
        track.saved = Math.max(track.saved, edits);
        if (!current()) return;
        // The rounds and pool may have changed; the draft stays, it is as new or newer.
        this.session = view;
        this.saveError = null;
      } catch (err) {
        if (current()) this.saveError = describeError(err);
      } finally {
        if (current()) this.saveStatus = this.saveError ? 'failed' : track.edits === track.saved ? 'saved' : 'unsaved';
      }
    });
    return this.#chain;
  }

  #answer(change: (d: RoundDraft) => RoundDraft): void {
    const draft = this.draft;
    if (!draft || !this.editable) return;
    const next = change(draft);
    if (next === draft) return;
    this.draft = next;
    this.#track.edits++;
    if (this.saveStatus !== 'failed') this.saveStatus = 'unsaved';
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.flush(), SAVE_DEBOUNCE_MS);
  }

  #adopt(view: LabelSessionView): void {
    this.session = view;
    const open = view.open;
    // The page's draft of the same round stays: it may hold answers not saved yet.
    if (open && this.draft?.round === open.round) return;
    this.#replaceDraft(open ? draftFromRound(open) : null);
  }

  #replaceDraft(draft: RoundDraft | null): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.draft = draft;
    this.#track = { edits: 0, saved: 0 };
    this.saveStatus = 'saved';
    this.saveError = null;
    this.typed = '';
  }

  /** The retrain wrote a dataset version: the status bar and every page read the studio's. */
  async #afterNewVersion(projectId: string): Promise<void> {
    const studio = this.#studio;
    if (!studio) return;
    try {
      if (studio.project?.id === projectId) await studio.reloadProject();
    } catch (err) {
      const e = describeError(err);
      studio.notify('error', `The retrain finished, but the new dataset version could not be opened (${e.name}): ${e.message}`);
    }
    void studio.refreshStorage();
  }
}

const LABEL_KEY = Symbol('hearth.label');

export function setLabel(state: LabelState): LabelState {
  return setContext(LABEL_KEY, state);
}

export function getLabel(): LabelState {
  const state = getContext<LabelState | undefined>(LABEL_KEY);
  if (!state) throw new Error('getLabel() called outside the studio: App.svelte sets the LabelState context.');
  return state;
}
