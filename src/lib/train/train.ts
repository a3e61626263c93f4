/**
 * The training loop: mini-batch training of a HearthModel on one dataset version,
 * streamed from IndexedDB, with per-step learning-rate schedules, explicit weight decay,
 * a hook for per-sample augmentation / weights / soft labels, validation every epoch,
 * a checkpoint every epoch, and a RunRecord of what was done.
 *
 * Reproducibility: with the same model spec (initial weights come from its seed), the
 * same config (shuffles come from `config.seed`) and the same backend, two runs end with
 * bitwise-identical weights; cpu and wasm compute deterministically. A hook that draws
 * random numbers must derive them from (epoch, step, ids) for this to hold.
 */
import { tf } from '../compute/register';
import { describeError, InvalidInputError, isCancelled, NotFoundError } from '../jobs/errors';
import { NEVER_CANCELLED, ProgressReporter, type CancelToken, type ProgressFn } from '../jobs/progress';
import { canonicalJson } from '../data/canonical-json';
import type { DatasetVersion, TrainHookKey, TrainRun, TrainRunConfig, TrainRunHooks, TrainRunResult } from '../storage/records';
import { getRunOfKind, putRun as putStoredRun } from '../storage/runs';
import type { HearthDb } from '../storage/schema';
import { listModelRecords } from '../storage/models';
import { stratifiedHoldout } from './holdout';
import { getVersion } from '../storage/versions';
import { batchCount, labeledIndices, streamBatches, type Batch } from './batches';
import { deleteCheckpoints, loadCheckpoint, restoreWeights, saveCheckpoint, saveModel, type CheckpointId } from './checkpoint';
import { predictIndices } from './predict';
import { pixelsToInput, type HearthModel } from './models';
import { learningRateAt, Optimizer, validateOptimization } from './optim';
import type { TrainConfig, EpochMetrics } from '../storage/stored-shapes';
export type { TrainConfig, EpochMetrics } from '../storage/stored-shapes';

export interface StepMetrics {
  kind: 'step';
  /** 0-based epoch index. */
  epoch: number;
  /** Global step index, 0-based. */
  step: number;
  totalSteps: number;
  loss: number;
  accuracy: number;
  lr: number;
  /** Training images per second in this epoch so far (hook and optimiser steps included). */
  imgPerSec: number;
}

/** What the hook sees of one training step. */
export interface HookBatch {
  /** NHWC float32 in [0, 1]: `pixels` / 255, on the backend. */
  x: tf.Tensor4D;
  /** int32 class indices. */
  labels: tf.Tensor1D;
  /** The same batch as the loop read it: HWC uint8 per sample, and the class indices. */
  pixels: readonly Uint8Array[];
  labelIndices: Int32Array;
  ids: Uint32Array;
  epoch: number;
  step: number;
}

export interface HookResult {
  /** Replacement input (augmented), same shape as `x`. */
  x?: tf.Tensor4D;
  /** Soft labels [N, numClasses], rows summing to 1; default one-hot of `labels`. */
  targets?: tf.Tensor2D;
  /** Per-sample loss weights [N], ≥ 0; default all 1. */
  weights?: tf.Tensor1D;
}

/**
 * Called once per step, before the forward pass, outside gradient recording. Ownership:
 * the loop owns `batch.x` and `batch.labels` and disposes them after the step (the hook
 * must not); every tensor the hook returns becomes the loop's and is disposed after the
 * step too (returning `batch.x` itself is allowed and disposed once).
 */
export type BatchHook = (batch: HookBatch) => HookResult | Promise<HookResult>;

/**
 * What a hook adds to the run's record. `config` is stored in the run's config under
 * `key` (so a resume with another hook configuration is refused, like any other config
 * change), `report()` in its result under `key` at every checkpoint and at the end, and
 * `describe()` is appended to the job's progress messages.
 */
export type HookRecord = {
  [K in TrainHookKey]: { key: K; config: TrainRunHooks[K]['config']; report(): TrainRunHooks[K]['report']; describe(): string };
}[TrainHookKey];

export interface TrainOptions {
  projectId: string;
  versionId: number;
  /** Built with the spec to train (buildModel); trained in place. */
  model: HearthModel;
  config: TrainConfig;
  hook?: BatchHook;
  /** What `hook` records with the run; see HookRecord. */
  hookRecord?: HookRecord;
  onProgress?: ProgressFn;
  onMetrics?: (m: EpochMetrics | StepMetrics) => void;
  cancel?: CancelToken;
  /**
   * Continue an interrupted run from its latest checkpoint: `model` must be built with the
   * same spec and `config` must be the run's config. Training restarts at the next epoch.
   */
  resumeFrom?: CheckpointId;
  /** The new run's id (the caller may need it before the first metric); random by default. */
  runId?: string;
}

export interface TrainResult {
  runId: string;
  /** The saved final model (ModelRecord id). */
  modelId: string;
  history: EpochMetrics[];
  backend: string;
  steps: number;
  /** Set when early stopping ended the run before its last epoch. */
  stoppedEarly: EarlyStop | null;
}

/** Step metrics are read back (a GPU sync) at most this often. */
const STEP_METRICS_INTERVAL_MS = 250;
/** Keeps a zero total weight (every sample weighted 0) from dividing by zero. */
const MIN_WEIGHT_SUM = 1e-12;

function validateConfig(config: TrainConfig): void {
  if (!(Number.isInteger(config.epochs) && config.epochs >= 1)) {
    throw new InvalidInputError(`Train for a whole number of epochs, at least 1 (got ${config.epochs}).`);
  }
  if (!(Number.isInteger(config.batchSize) && config.batchSize >= 1)) {
    throw new InvalidInputError(`The batch size must be a whole number of at least 1, got ${config.batchSize}: 32 or 64 suit most models.`);
  }
  if (!Number.isInteger(config.seed)) throw new InvalidInputError(`The seed must be an integer, got ${config.seed}.`);
  const valEvery = config.valEvery ?? 1;
  if (!(Number.isInteger(valEvery) && valEvery >= 1)) throw new InvalidInputError(`Validate every 1 or more whole epochs, got ${valEvery}.`);
  const patience = config.earlyStop?.patience;
  if (patience !== undefined && !(Number.isInteger(patience) && patience >= 1)) {
    throw new InvalidInputError(`Early stopping waits a whole number of epochs, at least 1 (got ${patience}).`);
  }
  validateOptimization(config.optimizer, config.schedule, config.weightDecay);
}

async function putRun(db: HearthDb, run: TrainRun): Promise<void> {
  await putStoredRun(db, run);
}

/**
 * Weighted mean softmax cross-entropy, Σ wᵢ·CEᵢ / Σ wᵢ (PyTorch's weighted 'mean'), with
 * CEᵢ = −Σ_c tᵢc · log softmax(zᵢ)_c against one-hot or soft targets.
 */
export function weightedCrossEntropy(logits: tf.Tensor2D, targets: tf.Tensor2D, weights?: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => {
    const ce = tf.neg(tf.sum(tf.mul(targets, tf.logSoftmax(logits)), 1));
    if (!weights) return tf.mean(ce) as tf.Scalar;
    return tf.div(tf.sum(tf.mul(ce, weights)), tf.maximum(tf.sum(weights), MIN_WEIGHT_SUM)) as tf.Scalar;
  });
}

export async function trainModel(db: HearthDb, opts: TrainOptions): Promise<TrainResult> {
  const { model, config } = opts;
  const cancel = opts.cancel ?? NEVER_CANCELLED;
  validateConfig(config);
  const { version, trainIndices, valIndices } = await loadTrainingSplits(db, opts);
  const stepsPerEpoch = batchCount(trainIndices.length, config.batchSize);
  const totalSteps = stepsPerEpoch * config.epochs;
  const backend = tf.getBackend();
  const runConfig = runConfigOf(opts);
  const hookReports = new HookReports(opts.hookRecord);

  const variables = model.model.trainableWeights.map((w) => w.read() as tf.Variable);
  const optimizer = new Optimizer(config.optimizer, config.weightDecay, variables);
  let opened: OpenedRun;
  try {
    opened = opts.resumeFrom !== undefined ? await resumeRun(db, opts.resumeFrom, opts, runConfig, optimizer, backend) : newRun(opts, runConfig, backend);
  } catch (err) {
    optimizer.dispose();
    throw err;
  }
  const { run, startEpoch } = opened;
  await putRun(db, run);

  const progress = new ProgressReporter(opts.onProgress);
  progress.restart(startEpoch * stepsPerEpoch);
  const loop: TrainLoop = {
    db,
    opts,
    cancel,
    version,
    trainIndices,
    valIndices,
    stepsPerEpoch,
    totalSteps,
    backend,
    optimizer,
    progress,
    hookReports,
    run,
    history: opened.history,
    lastStepReportMs: -Infinity,
  };

  try {
    let stoppedEarly: EarlyStop | null = null;
    for (let epoch = startEpoch; epoch < config.epochs && !stoppedEarly; epoch++) {
      await trainEpoch(loop, epoch);
      stoppedEarly = earlyStopAfter(loop.history, config.earlyStop?.patience);
      if (stoppedEarly) progress.report(totalSteps, totalSteps, `Stopped early after epoch ${epoch + 1}: validation loss last improved in epoch ${stoppedEarly.bestEpoch + 1}`, true);
    }
    return await finishRun(loop, stoppedEarly);
  } catch (err) {
    await recordFailure(loop, err);
    throw err;
  } finally {
    optimizer.dispose();
  }
}

/** The dataset version, checked against the project and the model, with its labeled train and val samples. */
async function loadTrainingSplits(db: HearthDb, opts: TrainOptions): Promise<{ version: DatasetVersion; trainIndices: Uint32Array; valIndices: Uint32Array }> {
  const { model } = opts;
  const version = await getVersion(db, opts.versionId);
  if (version.projectId !== opts.projectId) {
    throw new InvalidInputError(`Dataset version ${opts.versionId} belongs to another project: pick a version of this project.`);
  }
  if (version.classes.length !== model.spec.numClasses) {
    throw new InvalidInputError(
      `The model has ${model.spec.numClasses} outputs but dataset version ${version.number} has ${version.classes.length} classes: build the model for this version's classes.`,
    );
  }
  const trainIndices = labeledIndices(version, 'train');
  if (trainIndices.length === 0) {
    throw new InvalidInputError(`Dataset version ${version.number} has no labeled training samples: label some samples and put them in the train split.`);
  }
  const valIndices = labeledIndices(version, 'val');
  const { holdout } = opts.config;
  if (valIndices.length === 0 && holdout) {
    const split = stratifiedHoldout(trainIndices, version.labels, holdout.fraction, opts.config.seed);
    return { version, trainIndices: split.train, valIndices: split.val };
  }
  return { version, trainIndices, valIndices };
}

/** What the run record stores as its config: the training config, the model spec and the hook's config. */
function runConfigOf(opts: TrainOptions): TrainRunConfig {
  const hookRecord = opts.hookRecord;
  const runConfig: TrainRunConfig = { train: opts.config, model: opts.model.spec };
  if (hookRecord) runConfig[hookRecord.key] = hookRecord.config;
  return runConfig;
}

/** The hook's part of the run's record and of the progress messages; nothing without a hook. */
class HookReports {
  /**
   * The hook's report as of the latest checkpoint: what a cancelled run stores, since a
   * resume redoes the epoch it was cancelled in from that checkpoint.
   */
  atCheckpoint: ReturnType<HookRecord['report']> | undefined;

  constructor(readonly record: HookRecord | undefined) {
    this.atCheckpoint = record?.report();
  }

  /** The run's result with the hook's report folded in (the live one, or `report`). */
  withReport(result: TrainRunResult | null, report = this.record?.report()): TrainRunResult | null {
    return this.record ? { ...result, [this.record.key]: report } : result;
  }

  /** A progress message with the hook's line, when there is a hook. */
  say(message: string): string {
    return this.record ? `${message} · ${this.record.describe()}` : message;
  }
}

/** The run record to train under, and where training starts. */
interface OpenedRun {
  run: TrainRun;
  history: EpochMetrics[];
  startEpoch: number;
}

function newRun(opts: TrainOptions, runConfig: TrainRunConfig, backend: string): OpenedRun {
  const run: TrainRun = {
    id: opts.runId ?? crypto.randomUUID(),
    projectId: opts.projectId,
    kind: 'train',
    datasetVersionId: opts.versionId,
    seed: opts.config.seed,
    backend,
    config: runConfig,
    status: 'running',
    createdAt: Date.now(),
    finishedAt: null,
    result: null,
  };
  return { run, history: [], startEpoch: 0 };
}

/** The interrupted run, its weights and optimizer state restored from the checkpoint; refused if its settings differ. */
async function resumeRun(
  db: HearthDb,
  resumeFrom: CheckpointId,
  opts: TrainOptions,
  runConfig: TrainRunConfig,
  optimizer: Optimizer,
  backend: string,
): Promise<OpenedRun> {
  const { record, meta } = await loadCheckpoint(db, resumeFrom);
  const previous = await getRunOfKind(db, meta.checkpointOf, 'train');
  if (!previous) throw new NotFoundError(`The run of checkpoint ${resumeFrom} no longer exists: start a new training run.`);
  if (previous.datasetVersionId !== opts.versionId || canonicalJson(previous.config) !== canonicalJson(runConfig)) {
    throw new InvalidInputError('The checkpoint was made with another dataset version, model or training configuration: resume with the run\'s own settings, or start a new run.');
  }
  restoreWeights(opts.model, record);
  optimizer.setState(meta.optimizer);
  const startEpoch = meta.epoch;
  return {
    run: { ...previous, status: 'running', finishedAt: null, result: { resumedAtEpoch: startEpoch, resumedOnBackend: backend } },
    history: meta.history,
    startEpoch,
  };
}

/** What every step of one training run reads, and what it carries from epoch to epoch. */
interface TrainLoop {
  db: HearthDb;
  opts: TrainOptions;
  cancel: CancelToken;
  version: DatasetVersion;
  trainIndices: Uint32Array;
  valIndices: Uint32Array;
  stepsPerEpoch: number;
  totalSteps: number;
  backend: string;
  optimizer: Optimizer;
  progress: ProgressReporter;
  hookReports: HookReports;
  run: TrainRun;
  /** Every epoch's metrics so far (a resumed run's earlier epochs included). */
  history: EpochMetrics[];
  /** When step metrics were last read back. */
  lastStepReportMs: number;
}

/** The epoch's running sums (on the backend): loss · samples, and correct predictions. */
interface EpochSums {
  loss: tf.Scalar;
  correct: tf.Scalar;
}

/** One epoch: its steps, validation when due, its metrics, and a checkpoint. */
async function trainEpoch(loop: TrainLoop, epoch: number): Promise<void> {
  const { opts, progress, hookReports, totalSteps } = loop;
  const { config } = opts;
  const epochStartMs = performance.now();
  const sums: EpochSums = { loss: tf.scalar(0), correct: tf.scalar(0) };
  try {
    const { step, lr, seen } = await trainBatches(loop, epoch, sums);
    const [lossTotal, correctTotal] = await Promise.all([sums.loss.data(), sums.correct.data()]);
    const { valLoss, valAccuracy } = await validateEpoch(loop, epoch, step);
    const metrics: EpochMetrics = {
      kind: 'epoch',
      epoch,
      trainLoss: (lossTotal[0] as number) / seen,
      trainAccuracy: (correctTotal[0] as number) / seen,
      valLoss,
      valAccuracy,
      lr,
      seconds: (performance.now() - epochStartMs) / 1000,
    };
    loop.history = [...loop.history, metrics];
    await checkpointEpoch(loop, epoch);
    opts.onMetrics?.(metrics);
    progress.report(step, totalSteps, hookReports.say(`Epoch ${epoch + 1} of ${config.epochs} done`), true);
  } finally {
    tf.dispose([sums.loss, sums.correct]);
  }
}

/** The epoch's optimisation steps, each batch's loss and correct count added to `sums`; returns the next step and the last learning rate. */
async function trainBatches(loop: TrainLoop, epoch: number, sums: EpochSums): Promise<{ step: number; lr: number; seen: number }> {
  const { db, opts, cancel, version, trainIndices, stepsPerEpoch, totalSteps, optimizer, progress, hookReports } = loop;
  const { model, config } = opts;
  let seen = 0;
  let step = epoch * stepsPerEpoch;
  let lr = 0;
  const startMs = performance.now();
  for await (const batch of streamBatches(db, version, {
    indices: trainIndices,
    batchSize: config.batchSize,
    shuffle: { seed: config.seed, epoch },
  })) {
    cancel.throwIfCancelled();
    lr = learningRateAt(config.optimizer.lr, config.schedule, { step, stepsPerEpoch, epochs: config.epochs });
    const n = batch.ids.length;
    const { loss, correct } = await trainStep(model, optimizer, batch, epoch, step, lr, opts.hook);
    const nextLoss = tf.tidy((): tf.Scalar => sums.loss.add(loss.mul(n)));
    const nextCorrect = tf.tidy((): tf.Scalar => sums.correct.add(correct));
    tf.dispose([sums.loss, sums.correct]);
    sums.loss = nextLoss;
    sums.correct = nextCorrect;
    seen += n;
    const now = performance.now();
    if (opts.onMetrics && now - loop.lastStepReportMs >= STEP_METRICS_INTERVAL_MS) {
      loop.lastStepReportMs = now;
      const [l, c] = await Promise.all([loss.data(), correct.data()]);
      const imgPerSec = seen / Math.max((now - startMs) / 1000, 1e-3);
      opts.onMetrics({ kind: 'step', epoch, step, totalSteps, loss: l[0] as number, accuracy: (c[0] as number) / n, lr, imgPerSec });
    }
    tf.dispose([loss, correct]);
    step++;
    progress.report(step, totalSteps, hookReports.say(`Epoch ${epoch + 1} of ${config.epochs}`));
  }
  return { step, lr, seen };
}

/** Validation loss and accuracy when the epoch validates (every `valEvery` epochs and the last, given val samples); null otherwise. */
async function validateEpoch(loop: TrainLoop, epoch: number, step: number): Promise<{ valLoss: number | null; valAccuracy: number | null }> {
  const { db, opts, cancel, version, valIndices, totalSteps, progress } = loop;
  const { model, config } = opts;
  const valEvery = config.valEvery ?? 1;
  let valLoss: number | null = null;
  let valAccuracy: number | null = null;
  if (valIndices.length > 0 && ((epoch + 1) % valEvery === 0 || epoch + 1 === config.epochs)) {
    progress.report(step, totalSteps, `Validating epoch ${epoch + 1}`, true);
    const val = await predictIndices(db, model, version, valIndices, config.batchSize, undefined, cancel);
    let correct = 0;
    val.predicted.forEach((p, i) => (correct += p === val.trueLabels[i] ? 1 : 0));
    valLoss = val.lossSum / valIndices.length;
    valAccuracy = correct / valIndices.length;
  }
  return { valLoss, valAccuracy };
}

/** Saves the checkpoint after `epoch`, and the hook's report with the run record. */
async function checkpointEpoch(loop: TrainLoop, epoch: number): Promise<void> {
  const { db, opts, optimizer, hookReports, run } = loop;
  await saveCheckpoint(db, {
    projectId: opts.projectId,
    runId: run.id,
    model: opts.model,
    epochsDone: epoch + 1,
    optimizer: await optimizer.state(),
    seed: opts.config.seed,
    history: loop.history,
  });
  // The record follows the checkpoints, so a reload shows what the hook did so far.
  if (hookReports.record) {
    hookReports.atCheckpoint = hookReports.record.report();
    await putRun(db, { ...run, result: hookReports.withReport(run.result, hookReports.atCheckpoint) });
  }
}

/**
 * `base`, or `base (2)`, `base (3)`… when a model of the project already has that name:
 * the Evaluate, Export and Label pickers list models by name, so two must not read alike.
 */
export function uniqueModelName(base: string, taken: readonly string[]): string {
  const names = new Set(taken);
  if (!names.has(base)) return base;
  let k = 2;
  while (names.has(`${base} (${k})`)) k++;
  return `${base} (${k})`;
}

export interface EarlyStop {
  afterEpoch: number;
  bestEpoch: number;
}

/**
 * Whether to stop after the last epoch of `history`: the validation loss has not improved
 * on its best for `patience` validated epochs (epochs without validation do not count).
 * Read from the history, so a resumed run stops where an uninterrupted one would.
 */
export function earlyStopAfter(history: readonly EpochMetrics[], patience: number | undefined): EarlyStop | null {
  if (patience === undefined) return null;
  let best: EpochMetrics | null = null;
  let since = 0;
  for (const m of history) {
    if (m.valLoss === null || !Number.isFinite(m.valLoss)) continue;
    if (best === null || (m.valLoss as number) < (best.valLoss as number)) {
      best = m;
      since = 0;
    } else {
      since++;
    }
  }
  const last = history.at(-1);
  return best && last && since >= patience ? { afterEpoch: last.epoch, bestEpoch: best.epoch } : null;
}

/** Saves the trained model, drops the run's checkpoints and records the run as done. */
async function finishRun(loop: TrainLoop, stoppedEarly: EarlyStop | null): Promise<TrainResult> {
  const { db, opts, version, run, history, stepsPerEpoch, backend, hookReports } = loop;
  const steps = history.length * stepsPerEpoch;
  const { model, config } = opts;
  const taken = (await listModelRecords(db, opts.projectId)).filter((m) => m.meta.checkpointOf === undefined).map((m) => m.name);
  const modelId = await saveModel(db, {
    projectId: opts.projectId,
    runId: run.id,
    name: uniqueModelName(`${model.spec.kind} on version ${version.number}`, taken),
    model,
    meta: { datasetVersionId: opts.versionId, classes: version.classes, config, backend, history },
  });
  await deleteCheckpoints(db, run.id);
  const last = history[history.length - 1];
  await putRun(db, {
    ...run,
    status: 'done',
    finishedAt: Date.now(),
    result: hookReports.withReport({ ...run.result, modelId, history, final: last ?? null, steps, stoppedEarly }),
  });
  return { runId: run.id, modelId, history, backend, steps, stoppedEarly };
}

/** Records the run as cancelled or failed, with the epochs it finished. */
async function recordFailure(loop: TrainLoop, err: unknown): Promise<void> {
  const { db, run, history, hookReports } = loop;
  const status = isCancelled(err) ? 'cancelled' : 'failed';
  // The run's own error is what the caller needs; a failure to record it must not hide it.
  await putRun(db, {
    ...run,
    status,
    finishedAt: Date.now(),
    result: hookReports.withReport({ ...run.result, history, error: status === 'failed' ? describeError(err) : null }, status === 'cancelled' ? hookReports.atCheckpoint : undefined),
  }).catch(() => undefined);
}

/**
 * One optimisation step. Returns the batch's loss and its number of correct predictions
 * (scalars owned by the caller); everything else it made is disposed.
 */
async function trainStep(
  model: HearthModel,
  optimizer: Optimizer,
  batch: Batch,
  epoch: number,
  step: number,
  lr: number,
  hook: BatchHook | undefined,
): Promise<{ loss: tf.Scalar; correct: tf.Scalar }> {
  const x = pixelsToInput(batch.pixels, model.spec.input);
  const labels = tf.tensor1d(batch.labels, 'int32');
  let hooked: HookResult = {};
  try {
    if (hook) hooked = await hook({ x, labels, pixels: batch.pixels, labelIndices: batch.labels, ids: batch.ids, epoch, step });
    const input = hooked.x ?? x;
    const variables = model.model.trainableWeights.map((w) => w.read() as tf.Variable);
    const kept: { correct?: tf.Scalar } = {};
    const { value, grads } = tf.variableGrads(() => {
      const logits = model.model.apply(input, { training: true }) as tf.Tensor2D;
      const targets = hooked.targets ?? (tf.oneHot(labels, model.spec.numClasses).toFloat() as tf.Tensor2D);
      // Accuracy against the true labels, whatever the targets: computed here from the
      // same logits rather than by a second forward pass.
      kept.correct = tf.keep(tf.sum(tf.equal(tf.argMax(logits, 1), labels).toFloat()) as tf.Scalar);
      return weightedCrossEntropy(logits, targets, hooked.weights);
    }, variables);
    try {
      const ordered = variables.map((v) => grads[v.name] ?? tf.zerosLike(v));
      optimizer.step(ordered, lr);
      tf.dispose(ordered.filter((g) => !Object.values(grads).includes(g)));
    } finally {
      tf.dispose(Object.values(grads));
    }
    if (!kept.correct) throw new Error('The training step computed no accuracy.');
    return { loss: value, correct: kept.correct };
  } finally {
    const owned = new Set<tf.Tensor>([x, labels]);
    for (const t of [hooked.x, hooked.targets, hooked.weights]) if (t) owned.add(t);
    tf.dispose([...owned]);
  }
}
