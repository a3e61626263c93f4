/**
 * Training runs as the studio sees them: start one for a project's dataset version,
 * resume an interrupted one from its latest checkpoint, list them, and load the models
 * they produced. The compute worker exposes these functions as they are.
 */
import { getSavedPipeline } from '../augment/pipelines';
import { describeAugmentation, type AugmentationReport } from '../augment/report';
import { augmentationHook } from './augment-hook';
import type { FinalModelMeta, ModelRecord, RunRecord, TrainRun, TrainRunConfig } from '../storage/records';
import { describeError, InvalidInputError, NotFoundError } from '../jobs/errors';
import type { CancelToken, ProgressFn } from '../jobs/progress';
import { getModel, listModelRecords } from '../storage/models';
import { getProject } from '../storage/projects';
import { getRun as getStoredRun, listRunsOfKind } from '../storage/runs';
import type { HearthDb } from '../storage/schema';
import { getVersion } from '../storage/versions';
import { latestCheckpoint, loadCheckpoint, restoreWeights } from './checkpoint';
import { buildModel, type HearthModel, type ModelSpec } from './models';
import type { ModelKind } from './spec';
import { trainModel, type BatchHook, type EpochMetrics, type HookRecord, type StepMetrics, type TrainConfig } from './train';
import type { RunAugmentation } from '../storage/stored-shapes';
export type { RunAugmentation } from '../storage/stored-shapes';

export interface ModelChoice {
  kind: ModelKind;
  widthMultiplier?: number;
}

export interface TrainRequest {
  runId: string;
  projectId: string;
  versionId: number;
  model: ModelChoice;
  config: TrainConfig;
  /** Augment every training batch on the fly with this saved pipeline of the project; none when absent. */
  augmentation?: { pipelineId: string } | null;
}

/** The key the augmentation takes in a run's config and result. */
const AUGMENTATION_KEY = 'augmentation';

export interface TrainRunSummary {
  runId: string;
  projectId: string;
  versionId: number;
  modelKind: ModelKind;
  widthMultiplier?: number;
  config: TrainConfig;
  seed: number;
  backend: string;
  status: RunRecord['status'];
  epochsDone: number;
  history: EpochMetrics[];
  createdAt: number;
  finishedAt: number | null;
  modelId: string | null;
  error: { name: string; message: string } | null;
  /** The pipeline the run augments with, or null for none. */
  augmentation: RunAugmentation | null;
  /** What the augmentation did so far: which path ran, CPU fallbacks (updated every epoch). */
  augmentationReport: AugmentationReport | null;
  /** Set when early stopping ended the run: after which epoch, and the best one (0-based). */
  stoppedEarly: { afterEpoch: number; bestEpoch: number } | null;
}

export interface RunJobOptions {
  onProgress?: ProgressFn;
  onMetrics?: (m: StepMetrics | EpochMetrics) => void;
  cancel?: CancelToken;
}

/** A run's training config, with `augmentation: null` for a run without one. */
type StoredRunConfig = Omit<TrainRunConfig, 'augmentation'> & { augmentation: RunAugmentation | null };

const NOT_TRAINING = (run: RunRecord): InvalidInputError =>
  new InvalidInputError(`Run ${run.id} has no training configuration: it was not made by the training loop.`);

function asTrainRun(run: RunRecord): TrainRun {
  if (run.kind !== 'train') throw NOT_TRAINING(run);
  return run;
}

function runConfig(run: TrainRun): StoredRunConfig {
  const config = run.config;
  // Stored data is checked, not trusted: a record written by hand or an old build may lack these.
  if (!config.train || !config.model) {
    throw NOT_TRAINING(run);
  }
  return { train: config.train, model: config.model, augmentation: config.augmentation ?? null };
}

/**
 * The hook that augments a run's batches and what it records with the run. `previous` is
 * the report a resumed run had stored, so its counts carry on.
 */
function augmentationFor(
  augmentation: RunAugmentation,
  spec: ModelSpec,
  previous: AugmentationReport | null,
): { hook: BatchHook; hookRecord: HookRecord } {
  const hook = augmentationHook(augmentation.spec, { seed: augmentation.seed, numClasses: spec.numClasses, input: spec.input }, previous ?? undefined);
  return {
    hook: hook.apply,
    hookRecord: { key: AUGMENTATION_KEY, config: augmentation, report: hook.report, describe: () => describeAugmentation(hook.report()) },
  };
}

async function getRun(db: HearthDb, runId: string): Promise<RunRecord> {
  const run = await getStoredRun(db, runId);
  if (!run) throw new NotFoundError(`Training run ${runId} no longer exists: start a new run.`);
  return run;
}

/** A run's epoch history: from its result when it ended, else from its latest checkpoint. */
async function runHistory(db: HearthDb, run: TrainRun): Promise<EpochMetrics[]> {
  const fromResult = run.result?.history;
  if (fromResult) return fromResult;
  const checkpoint = await latestCheckpoint(db, run.id);
  if (!checkpoint) return [];
  const { meta } = await loadCheckpoint(db, checkpoint);
  return meta.history;
}

export async function summarizeRun(db: HearthDb, record: RunRecord): Promise<TrainRunSummary> {
  const run = asTrainRun(record);
  const { train, model, augmentation } = runConfig(run);
  const history = await runHistory(db, run);
  const result = run.result ?? {};
  return {
    runId: run.id,
    projectId: run.projectId,
    versionId: run.datasetVersionId ?? -1,
    modelKind: model.kind,
    ...(model.widthMultiplier === undefined ? {} : { widthMultiplier: model.widthMultiplier }),
    config: train,
    seed: run.seed,
    backend: run.backend,
    status: run.status,
    epochsDone: history.length,
    history,
    createdAt: run.createdAt,
    finishedAt: run.finishedAt,
    modelId: result.modelId ?? null,
    error: result.error ?? null,
    augmentation,
    augmentationReport: augmentation ? (result.augmentation ?? null) : null,
    stoppedEarly: result.stoppedEarly ?? null,
  };
}

/** Training runs of a project, newest first. */
export async function listRuns(db: HearthDb, projectId: string): Promise<TrainRunSummary[]> {
  const runs = await listRunsOfKind(db, projectId, 'train');
  runs.sort((a, b) => b.createdAt - a.createdAt);
  return Promise.all(runs.map((r) => summarizeRun(db, r)));
}

async function withModel<T>(spec: ModelSpec, fn: (model: HearthModel) => Promise<T>): Promise<T> {
  const model = buildModel(spec);
  try {
    return await fn(model);
  } finally {
    model.dispose();
  }
}

export async function startTraining(db: HearthDb, req: TrainRequest, opts: RunJobOptions = {}): Promise<TrainRunSummary> {
  const project = await getProject(db, req.projectId);
  const version = await getVersion(db, req.versionId);
  if (version.projectId !== project.id) {
    throw new InvalidInputError(`Dataset version ${req.versionId} belongs to another project: pick a version of ${project.name}.`);
  }
  if (version.classes.length < 2) {
    throw new InvalidInputError(`${project.name} has ${version.classes.length} class(es): a classifier needs at least two. Import labelled images first.`);
  }
  const spec: ModelSpec = {
    kind: req.model.kind,
    input: project.input,
    numClasses: version.classes.length,
    ...(req.model.widthMultiplier === undefined ? {} : { widthMultiplier: req.model.widthMultiplier }),
    seed: req.config.seed,
  };
  let augmentation: RunAugmentation | null = null;
  if (req.augmentation) {
    const saved = await getSavedPipeline(db, project.id, req.augmentation.pipelineId);
    augmentation = { pipelineId: saved.id, name: saved.name, hash: saved.hash, spec: saved.spec, seed: req.config.seed };
  }
  const augment = augmentation ? augmentationFor(augmentation, spec, null) : {};
  await withModel(spec, (model) =>
    trainModel(db, { projectId: project.id, versionId: version.id ?? req.versionId, model, config: req.config, runId: req.runId, ...augment, ...opts }),
  );
  return summarizeRun(db, await getRun(db, req.runId));
}

/**
 * Continues a run a reload or a cancel stopped, from its latest checkpoint; with no
 * checkpoint yet (stopped inside the first epoch) it starts that run over, same id.
 */
export async function resumeTraining(db: HearthDb, runId: string, opts: RunJobOptions = {}): Promise<TrainRunSummary> {
  const run = await getRun(db, runId);
  if (run.status === 'done') return summarizeRun(db, run);
  const trainRun = asTrainRun(run);
  const { train, model: spec, augmentation } = runConfig(trainRun);
  if (run.datasetVersionId === null) throw new InvalidInputError(`Run ${runId} names no dataset version: start a new run.`);
  const checkpoint = await latestCheckpoint(db, runId);
  // The pipeline comes from the run's own record, not the saved one, which may have changed.
  const previous = trainRun.result?.augmentation ?? null;
  const augment = augmentation ? augmentationFor(augmentation, spec, checkpoint === null ? null : previous) : {};
  await withModel(spec, (model) =>
    trainModel(db, {
      projectId: run.projectId,
      versionId: run.datasetVersionId ?? -1,
      model,
      config: train,
      runId,
      ...(checkpoint === null ? {} : { resumeFrom: checkpoint }),
      ...augment,
      ...opts,
    }),
  );
  return summarizeRun(db, await getRun(db, runId));
}

export interface ModelInfo {
  modelId: string;
  runId: string;
  name: string;
  createdAt: number;
  versionId: number;
  backend: string;
  seed: number;
}

/** A trained model's record, as opposed to a checkpoint's. */
type FinalModelRecord = ModelRecord & { meta: FinalModelMeta };

function isFinalModel(record: ModelRecord): record is FinalModelRecord {
  // `spec` is checked too: a record written by an older build may lack it.
  return record.meta.checkpointOf === undefined && record.meta.spec !== undefined;
}

/** Trained models of a project (checkpoints left out), newest first. */
export async function listModels(db: HearthDb, projectId: string): Promise<ModelInfo[]> {
  const records = await listModelRecords(db, projectId);
  return records
    .filter(isFinalModel)
    .sort((a, b) => b.createdAt - a.createdAt)
    .map((r) => ({
      modelId: r.id,
      runId: r.runId ?? '',
      name: r.name,
      createdAt: r.createdAt,
      versionId: r.meta.datasetVersionId,
      backend: r.meta.backend,
      seed: r.meta.spec.seed,
    }));
}

export interface LoadedModel {
  model: HearthModel;
  record: ModelRecord;
  classes: string[];
  versionId: number;
}

/** Rebuilds a stored model with its weights; the caller disposes `model`. */
export async function loadStoredModel(db: HearthDb, modelId: string): Promise<LoadedModel> {
  const record = await getModel(db, modelId);
  if (!record) throw new NotFoundError(`Model ${modelId} no longer exists: train it again.`);
  if (record.meta.checkpointOf !== undefined) {
    throw new InvalidInputError(`${record.name} is a checkpoint of an unfinished training run, not a trained model: resume the run, or pick a trained model.`);
  }
  const meta = record.meta;
  const model = buildModel(meta.spec);
  try {
    restoreWeights(model, record);
  } catch (err) {
    model.dispose();
    throw new InvalidInputError(`Model ${record.name} could not be restored (${describeError(err).message}): train it again.`);
  }
  return { model, record, classes: meta.classes, versionId: meta.datasetVersionId };
}

/**
 * Keeps the last model used for saliency in memory, so clicking through samples does not
 * rebuild it each time; one entry, since models can be large.
 */
export class ModelCache {
  #entry: LoadedModel | null = null;

  async get(db: HearthDb, modelId: string): Promise<LoadedModel> {
    if (this.#entry?.record.id === modelId) return this.#entry;
    this.clear();
    this.#entry = await loadStoredModel(db, modelId);
    return this.#entry;
  }

  clear(): void {
    this.#entry?.model.dispose();
    this.#entry = null;
  }
}
