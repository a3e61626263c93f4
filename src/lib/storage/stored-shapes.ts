/**
 * The plain data that run and model records store, defined here so that storage can type
 * its records without importing the areas that write them (storage imports no other area
 * but jobs; see scripts/check-imports.mjs). Each area re-exports the types it owns from
 * here under the names it always used, so its callers import them from the area as before.
 */

// ---- the project's input contract (records.ts Project.input; models are built for it) ----

/** Number of colour channels a project stores per pixel (HWC layout, uint8). */
export type Channels = 1 | 3;

/**
 * The input contract of a project, fixed at creation: every sample's pixels are stored
 * resized to it. `resize: 'stretch'` ignores aspect ratio (the usual TinyML contract);
 * the export step pins this contract so firmware preprocesses the same way.
 */
export interface InputSpec {
  width: number;
  height: number;
  channels: Channels;
  resize: 'stretch';
}

// ---- train: models, optimizer, loop (train/models.ts, train/optim.ts, train/train.ts, train/runs.ts) ----

export type ModelKind = 'lenet' | 'resnet-small' | 'mobilenet-v1';

export interface ModelSpec {
  kind: ModelKind;
  input: InputSpec;
  numClasses: number;
  /** MobileNet only: scales every layer's channel count; default 0.25, at least 8 channels. */
  widthMultiplier?: number;
  /** Every initialiser derives its own seed from this one (Rng.fork by layer name). */
  seed: number;
}

export interface SgdConfig {
  kind: 'sgd';
  lr: number;
  /** 0 = plain SGD. */
  momentum: number;
  nesterov: boolean;
}

export interface AdamConfig {
  kind: 'adam';
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
}

export type OptimizerConfig = SgdConfig | AdamConfig;

export type ScheduleConfig =
  | { kind: 'constant' }
  /** lr · gamma^⌊epoch / everyEpochs⌋ (PyTorch `StepLR` stepped once per epoch). */
  | { kind: 'step'; everyEpochs: number; gamma: number }
  /**
   * Linear warm-up over the first `warmupEpochs` epochs (lr · (s+1)/W at step s < W, so the
   * first step is not wasted at lr 0), then half a cosine from lr towards 0 over the remaining steps.
   */
  | { kind: 'cosine'; warmupEpochs: number };

/** One slot tensor of optimizer state, read out for a checkpoint. */
export interface SlotState {
  /** `${slot}/${index of the variable}`: stable across sessions, unlike tf variable names. */
  name: string;
  shape: number[];
  values: Float32Array;
}

export interface OptimizerState {
  kind: OptimizerConfig['kind'];
  /** Updates applied so far (Adam's bias correction uses it). */
  stepCount: number;
  slots: SlotState[];
}

export interface TrainConfig {
  epochs: number;
  batchSize: number;
  optimizer: OptimizerConfig;
  /** SGD: L2 added to the gradient; Adam: decoupled (AdamW). See optim.ts. */
  weightDecay: number;
  schedule: ScheduleConfig;
  /** Seeds the per-epoch shuffles. */
  seed: number;
  /** Validate every this many epochs (and always after the last); default 1. */
  valEvery?: number;
  /**
   * With no validation split in the version: this share of each class's labelled training
   * samples is held out for validation (seeded by `seed`, train/holdout.ts). Ignored when
   * the version has validation samples. Absent: no hold-out.
   */
  holdout?: { fraction: number };
  /**
   * Stop once the validation loss has not improved for `patience` validated epochs in a
   * row (Keras' EarlyStopping on val_loss, min_delta 0; the last weights are kept). Needs
   * validation samples; absent: train every epoch.
   */
  earlyStop?: { patience: number };
}

export interface EpochMetrics {
  kind: 'epoch';
  /** 0-based epoch index. */
  epoch: number;
  trainLoss: number;
  trainAccuracy: number;
  /** null when the version has no labeled val samples, or the epoch was not validated. */
  valLoss: number | null;
  valAccuracy: number | null;
  /** The learning rate of the epoch's last step. */
  lr: number;
  seconds: number;
}

/**
 * What a run records of its augmentation (run.config.augmentation): the saved pipeline it
 * was started with, copied whole, so a resume (and anyone reading the run later) uses
 * exactly that pipeline even if the saved one has been edited or deleted since.
 */
export interface RunAugmentation {
  pipelineId: string;
  name: string;
  /** sha256 of the spec's canonical JSON (augment/pipelines.ts pipelineHash). */
  hash: string;
  spec: PipelineSpec;
  /** The hook's seed: the run's own seed. */
  seed: number;
}

// ---- augment: pipelines and what the training hook reports (augment/pipeline.ts, augment/report.ts, augment/gpu/execute.ts) ----

/** One step of a pipeline spec: a registered transform, a probability, and its options. */
export interface PipelineStep {
  transform: string;
  /** Chance that the step fires for a given image, in [0, 1]; default 1. */
  p?: number;
  /** The transform's own options: `…Range` keys and fixed choices (border, interpolation…). */
  params?: Record<string, unknown>;
}

export interface PipelineSpec {
  version: 1;
  steps: PipelineStep[];
}

/** Where a step's augmentation ran: fused GPU dispatches on tfjs' WebGPU device, or the CPU kernels. */
export type AugmentationPath = 'gpu' | 'cpu';

/** What the hook did over a run: the job's report and the run record's. */
export interface AugmentationReport {
  /** The path every step took; 'mixed' when a run resumed on another backend; 'none' before the first step. */
  path: AugmentationPath | 'mixed' | 'none';
  /** Why the CPU path ran, when it did. */
  cpuPathReason: string | null;
  /** Training steps (batches) augmented on each path. */
  gpuSteps: number;
  cpuSteps: number;
  /** GPU steps in which some image had a step run on its CPU kernel. */
  stepsWithFallback: number;
  /** Those image-steps, by transform and reason. */
  fallbacks: CpuFallback[];
  /** Mid-pipeline readbacks of GPU batches (each for a CPU step). */
  readbacks: number;
  /** GPU dispatches, summed over steps. */
  dispatches: number;
}

/** Why a step ran on its CPU kernel, and how many image-steps did. */
export interface CpuFallback {
  transform: string;
  reason: string;
  steps: number;
}

// ---- analysis and evaluate: metrics, group metrics, slices, evaluations (analysis/model-bias.ts, evaluate/*.ts) ----

/** A number, or why there is none. */
export type Metric = { value: number; reason?: undefined } | { value: undefined; reason: string };

/** Disparate impact, flagged when outside the four-fifths band [0.8, 1.25]. */
export type DisparateImpactMetric = Metric & { flag?: 'outside-four-fifths' };

export interface GroupStats {
  /** Attribute value, or for the pooled privileged group the values joined by " | ". */
  group: string;
  privileged: boolean;
  n: number;
  /** Samples whose true class is the favourable one. */
  positives: number;
  negatives: number;
  predictedFavourable: number;
  truePositives: number;
  falsePositives: number;
  trueNegatives: number;
  falseNegatives: number;
  /** Samples whose predicted class equals the true class (multi-class, not one versus rest). */
  correct: number;
  /** P(ŷ = fav | group). */
  selectionRate: Metric;
  /** P(ŷ = fav | y = fav, group). */
  tpr: Metric;
  /** P(ŷ = fav | y ≠ fav, group). */
  fpr: Metric;
  /** Multi-class accuracy: correct / n. */
  accuracy: Metric;
}

/** One unprivileged group against the pooled privileged group (AIF360 signs). */
export interface GroupComparison {
  unprivileged: string;
  statisticalParityDifference: Metric;
  disparateImpact: DisparateImpactMetric;
  equalOpportunityDifference: Metric;
  averageOddsDifference: Metric;
}

/** Fairlearn-style spread of one rate over the groups where it is defined. */
export interface Spread {
  /** max − min. */
  difference: Metric;
  /** Groups the spread was taken over (those with the rate defined). */
  over: string[];
}

export interface ModelBiasReport {
  favourableClass: number;
  privileged: string[];
  /** One entry per attribute value, privileged values included, in groupValues order then sorted. */
  groups: GroupStats[];
  /** The privileged values pooled: the reference every comparison is made against. */
  privilegedPooled: GroupStats;
  /** One per unprivileged value. */
  comparisons: GroupComparison[];
  /** All unprivileged values pooled against the privileged pool (AIF360's binary view). */
  pooledComparison: GroupComparison;
  /** Over every group separately (privileged values included). */
  spreads: {
    selectionRate: Spread & { /** min / max. */ ratio: Metric };
    tpr: Spread;
    fpr: Spread;
  };
  excluded: { missingAttribute: number; unlabeled: number };
}

export interface ClassStats {
  cls: number;
  /** TP / (TP + FP); undefined when the class was never predicted. */
  precision: Metric;
  /** TP / (TP + FN); undefined when the class has no samples. */
  recall: Metric;
  /**
   * 2TP / (2TP + FP + FN), the harmonic mean of precision and recall written so that it
   * stays defined (0) when the class has samples but no predictions or the reverse;
   * undefined only when the class is neither present nor predicted.
   */
  f1: Metric;
  /** Samples whose true label is this class. */
  support: number;
}

export type SliceStatus = 'pass' | 'fail' | 'undefined';

export interface SliceResult {
  sliceId: string;
  name: string;
  /** Labeled samples the predicate selects. */
  n: number;
  correct: number;
  accuracy: Metric;
  minAccuracy: number;
  status: SliceStatus;
  /** Unlabeled samples the predicate selects: they cannot be scored, so they are not in n. */
  unlabeled: number;
  /** Samples lacking a statistic this slice's predicate reads (computed or not, e.g. a gray image's hue). */
  missingStats: number;
}

export type EvalSplit = 'val' | 'test';

export interface EvaluationSummary {
  evaluationId: string;
  modelId: string;
  versionId: number;
  split: EvalSplit;
  accuracy: Metric;
  perClass: ClassStats[];
  confusion: number[][];
  classes: string[];
  predictions: { ids: Uint32Array; predicted: Int16Array; trueLabels: Int16Array };
}

// ---- export: the export report (export/calibrate.ts, export/arena.ts, export/boards.ts, export/export-job.ts) ----

export type CalibrationMethod = 'minmax' | 'percentile' | 'mse';

/**
 * Which kernels the firmware links. TFLM's reference kernels need no scratch buffer for
 * the ops Hearth writes. The optimized CMSIS-NN kernels (used by the Arduino TFLM
 * libraries on Cortex-M4/M7 boards with the DSP extension) ask for scratch buffers:
 * `arm_convolve_s8` an im2col buffer of 2·C·kH·kW int16 values (none for the 1×1
 * stride-1 unpadded fast path), `arm_depthwise_conv_s8_opt` C·kH·kW int16 values
 * (multiplier 1 only), `arm_avgpool_s8` C int32 values. Planning with them is the safe
 * default: a reference build then has a little room to spare.
 */
export type ArenaKernels = 'reference' | 'cmsis-nn';

export interface ArenaEstimate {
  /** Greedy plan of the activation tensors alone (bytes). */
  activationBytes: number;
  /** What kernel scratch buffers add to the planned head (bytes); 0 for reference kernels. */
  scratchBytes: number;
  /** Persistent runtime structs in the arena's tail (bytes). */
  overheadBytes: number;
  /** The arena size to declare: tail + the larger of the head and the planning temporaries. */
  totalBytes: number;
  /** The op during which the planned head is highest: the one to shrink first. */
  peakOp: string;
  kernels: ArenaKernels;
}

export interface BoardFit {
  fits: boolean;
  /** Model plus the firmware reserve. */
  flashUsed: number;
  /** Arena plus the firmware reserve. */
  ramUsed: number;
  flashFraction: number;
  ramFraction: number;
  /** What does not fit, or is tight, and what to do; empty when there is room to spare. */
  problems: string[];
}

export interface ExportRequest {
  exportId: string;
  modelId: string;
  calibration: { method: CalibrationMethod; samples: number; seed: number };
  /** Samples per split evaluated with both models (seeded subset); null = all. */
  maxEvalPerSplit: number | null;
  boardId: string;
  /** The class whose prediction is the favourable outcome in group metrics. */
  favourableClass: number;
}

export interface ModelScore {
  accuracy: number;
  perClassAccuracy: (number | null)[];
}

export interface SplitComparison {
  split: 'val' | 'test';
  evaluated: number;
  total: number;
  float: ModelScore;
  int8: ModelScore;
  /** Fraction of samples where the two models predict the same class. */
  agreement: number;
}

export interface GroupComparisonReport {
  attribute: string;
  privileged: string[];
  float: ModelBiasReport;
  int8: ModelBiasReport;
  /** Groups whose accuracy dropped GROUP_DROP_FLAG_POINTS more than the overall drop. */
  flagged: string[];
}

export interface ExportFileInfo {
  name: string;
  bytes: number;
  sha256: string;
  /** What the file is for, shown next to its download button. */
  description: string;
}

export interface ExportReport {
  exportId: string;
  modelId: string;
  modelName: string;
  modelKind: string;
  projectId: string;
  versionId: number;
  versionNumber: number;
  classes: string[];
  createdAt: number;
  backend: string;
  calibration: ExportRequest['calibration'] & { used: number; strata: number };
  sizes: { floatBytes: number; int8TfliteBytes: number; ratio: number; onnxBytes: number; parameters: number };
  arena: ArenaEstimate;
  boards: (BoardFit & { id: string; name: string })[];
  boardId: string;
  splits: SplitComparison[];
  groups: GroupComparisonReport[];
  slices: { float: SliceResult[]; int8: SliceResult[] };
  /** Why the download is held back (failing data unit tests on the int8 model); empty = not blocked. */
  blocked: string[];
  override: { at: number } | null;
  checks: { loweringMaxAbsDiff: number; tfjsReloadMaxAbsDiff: number };
  ops: string[];
  files: ExportFileInfo[];
}

export interface ExportResult {
  report: ExportReport;
  files: Record<string, Uint8Array>;
}

// ---- select: the labeling loop (select/types.ts) ----

/**
 * - 'ours': Fisher-kernel similarity R = Ẑ_V Ẑ_Pᵀ + Ĝ_V Ĝ_Pᵀ (the released code's sum)
 *   between misclassified validation examples and the pool, k-centre over them, top
 *   neighbours each.
 * - 'ours-hadamard': the same with the paper's formula, R = (Ẑ_V Ẑ_Pᵀ) ∘ (Ĝ_V Ĝ_Pᵀ).
 * - 'rz': feature-only similarity R_z = Ẑ_V Ẑ_Pᵀ, same selection.
 * - 'random': a seeded uniform sample of the pool.
 * - 'entropy': highest predictive entropy.
 * - 'varr': MC-dropout variation ratio with K stochastic passes.
 */
export type SelectMethod = 'ours' | 'ours-hadamard' | 'rz' | 'random' | 'entropy' | 'varr';

/** One round of the labeling loop as the studio stores it. */
export interface LabelRound {
  round: number;
  method: SelectMethod;
  seed: number;
  budget: number;
  /** Sample ids picked, in the order shown. */
  picks: number[];
  /** Sample id → class index the user gave; skipped ones are absent. */
  labels: Record<number, number>;
  skipped: number[];
  /** The model the picks were selected with, and the model retrained after labeling. */
  selectedWith: string | null;
  retrainedModelId: string | null;
  /** Labelled train samples after this round, and the retrained model's validation accuracy. */
  labelCount: number;
  accuracy: number | null;
  perClassAccuracy: (number | null)[];
  createdAt: number;
}
