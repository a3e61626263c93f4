/**
 * The records of the `runs` and `models` stores: a run is a discriminated union on `kind`,
 * each kind with its own config and result, so a reader narrows on `kind` (or asks the
 * repository for one kind, storage/runs.ts) instead of casting `result`.
 */
import type {
  AugmentationReport,
  EpochMetrics,
  EvalSplit,
  EvaluationSummary,
  ExportRequest,
  ExportResult,
  LabelRound,
  ModelSpec,
  OptimizerState,
  RunAugmentation,
  SliceResult,
  TrainConfig,
} from './stored-shapes';

export type RunStatus = 'running' | 'done' | 'failed' | 'cancelled';

/** What every run holds, whatever its kind: the reproducibility record of a job. */
export interface RunRecordBase<Kind extends string, Config, Result> {
  id: string;
  projectId: string;
  kind: Kind;
  datasetVersionId: number | null;
  seed: number;
  backend: string;
  config: Config;
  status: RunStatus;
  createdAt: number;
  finishedAt: number | null;
  result: Result;
}

/**
 * What a training hook records with its run, by the key it records under: its config in
 * `config[key]` (fixed when the run starts) and its report in `result[key]` (updated every
 * epoch). train/train.ts HookRecord is built from this.
 */
export interface TrainRunHooks {
  augmentation: { config: RunAugmentation; report: AugmentationReport };
}
export type TrainHookKey = keyof TrainRunHooks;

/** What `trainModel` stores as a run's config: compared whole (canonical JSON) on resume. */
export type TrainRunConfig = { train: TrainConfig; model: ModelSpec } & { [K in TrainHookKey]?: TrainRunHooks[K]['config'] };

/**
 * A training run's result: null until its first checkpoint record; `resumed…` while a
 * resumed run trains; `modelId`, `history`, `final`, `steps` once done; `history` and
 * `error` (null when cancelled) when it stopped early.
 */
export type TrainRunResult = {
  resumedAtEpoch?: number;
  resumedOnBackend?: string;
  modelId?: string;
  history?: EpochMetrics[];
  final?: EpochMetrics | null;
  steps?: number;
  error?: { name: string; message: string } | null;
  /** Set when early stopping ended the run: after which epoch (0-based), and the epoch with the best validation loss. */
  stoppedEarly?: { afterEpoch: number; bestEpoch: number } | null;
} & { [K in TrainHookKey]?: TrainRunHooks[K]['report'] };

/** An evaluation as stored: its summary, plus the data unit tests' results once run on it. */
export interface StoredEvaluation extends EvaluationSummary {
  sliceResults?: SliceResult[];
}

/** The labeling loop of a project (one run per project): closed rounds and the open one. */
export interface StoredSession {
  rounds: LabelRound[];
  open: LabelRound | null;
}

/**
 * Every kind of run, by its `kind` string, with what it stores as config and result.
 * This is the one place to add a kind (generation, autodo, firmware build, flash,
 * bundle…): add an entry here and RunRecord, RunKind, RunOfKind and the repository
 * (storage/runs.ts) take it in; if records of the kind already exist in users'
 * databases under another shape, add a migration step in schema.ts too.
 */
export interface RunKinds {
  train: { config: TrainRunConfig; result: TrainRunResult | null };
  evaluate: { config: { modelId: string; split: EvalSplit }; result: StoredEvaluation };
  export: { config: ExportRequest; result: ExportResult };
  /** Config is always `{}`; the result is never null (the v2 migration fills it in). */
  'label-session': { config: Record<string, never>; result: StoredSession };
}

export type RunKind = keyof RunKinds;
export const RUN_KINDS: readonly RunKind[] = ['train', 'evaluate', 'export', 'label-session'];

/** A job run with its reproducibility record, one member per kind in RunKinds. */
export type RunRecord = { [K in RunKind]: RunRecordBase<K, RunKinds[K]['config'], RunKinds[K]['result']> }[RunKind];
/** The member of RunRecord of one kind (a generic `K` narrows through it, see storage/runs.ts). */
export type RunOfKind<K extends RunKind> = Extract<RunRecord, { kind: K }>;
export type TrainRun = RunOfKind<'train'>;
export type EvaluationRun = RunOfKind<'evaluate'>;
export type ExportRun = RunOfKind<'export'>;
export type LabelSessionRun = RunOfKind<'label-session'>;

/** What a trained model's `meta` holds (train/checkpoint.ts saveModel). */
export interface FinalModelMeta {
  spec: ModelSpec;
  datasetVersionId: number;
  classes: string[];
  config: TrainConfig;
  backend: string;
  history: EpochMetrics[];
  checkpointOf?: undefined;
}

/** What a checkpoint's `meta` holds besides the weights (train/checkpoint.ts saveCheckpoint). */
export interface CheckpointMeta {
  checkpointOf: string;
  /** Epochs completed; training resumes at this (0-based) epoch index. */
  epoch: number;
  spec: ModelSpec;
  optimizer: OptimizerState;
  /**
   * The randomness of the run: the seed, and how each epoch's shuffle stream is derived
   * from it. Nothing else is drawn in the loop, so there is no stream position to keep.
   */
  rng: { seed: number; shuffleStream: string };
  history: EpochMetrics[];
}

/** A checkpoint has `checkpointOf`; a trained model has not. */
export type ModelMeta = FinalModelMeta | CheckpointMeta;

/** A stored model: tfjs artifacts plus what made it. */
export interface ModelRecord {
  id: string;
  projectId: string;
  runId: string | null;
  name: string;
  createdAt: number;
  /** tfjs `ModelArtifacts` minus weightData, plus weights as one buffer. */
  topology: unknown;
  weightSpecs: unknown[];
  weightData: ArrayBuffer;
  meta: ModelMeta;
}
