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
import type { RunRecord, TrainHookKey, TrainRun, TrainRunConfig, TrainRunHooks, TrainRunResult } from '../storage/records';
import { getRunOfKind, putRun as putStoredRun } from '../storage/runs';
import type { HearthDb } from '../storage/schema';
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
  const stepsPerEpoch = batchCount(trainIndices.length, config.batchSize);
  const totalSteps = stepsPerEpoch * config.epochs;
  const backend = tf.getBackend();
  const hookRecord = opts.hookRecord;
  const runConfig: TrainRunConfig = { train: config, model: model.spec };
  if (hookRecord) runConfig[hookRecord.key] = hookRecord.config;
  /**
   * The hook's report as of the latest checkpoint: what a cancelled run stores, since a
   * resume redoes the epoch it was cancelled in from that checkpoint.
   */
  let reportAtCheckpoint = hookRecord?.report();
  /** The run's result with the hook's report folded in (the live one, or `report`). */
  const withReport = (result: TrainRunResult | null, report = hookRecord?.report()): TrainRunResult | null =>
    hookRecord ? { ...result, [hookRecord.key]: report } : result;
  /** A progress message with the hook's line, when there is a hook. */
  const say = (message: string): string => (hookRecord ? `${message} · ${hookRecord.describe()}` : message);

  const variables = model.model.trainableWeights.map((w) => w.read() as tf.Variable);
  const optimizer = new Optimizer(config.optimizer, config.weightDecay, variables);
  let history: EpochMetrics[] = [];
  let startEpoch = 0;
  let run: RunRecord;

  try {
    if (opts.resumeFrom !== undefined) {
      const { record, meta } = await loadCheckpoint(db, opts.resumeFrom);
      const previous = await getRunOfKind(db, meta.checkpointOf, 'train');
      if (!previous) throw new NotFoundError(`The run of checkpoint ${opts.resumeFrom} no longer exists: start a new training run.`);
      if (previous.datasetVersionId !== opts.versionId || canonicalJson(previous.config) !== canonicalJson(runConfig)) {
        throw new InvalidInputError('The checkpoint was made with another dataset version, model or training configuration: resume with the run\'s own settings, or start a new run.');
      }
      restoreWeights(model, record);
      optimizer.setState(meta.optimizer);
      history = meta.history;
      startEpoch = meta.epoch;
      run = { ...previous, status: 'running', finishedAt: null, result: { resumedAtEpoch: startEpoch, resumedOnBackend: backend } };
    } else {
      run = {
        id: opts.runId ?? crypto.randomUUID(),
        projectId: opts.projectId,
        kind: 'train',
        datasetVersionId: opts.versionId,
        seed: config.seed,
        backend,
        config: runConfig,
        status: 'running',
        createdAt: Date.now(),
        finishedAt: null,
        result: null,
      };
    }
  } catch (err) {
    optimizer.dispose();
    throw err;
  }
  await putRun(db, run);

  const progress = new ProgressReporter(opts.onProgress);
  progress.restart(startEpoch * stepsPerEpoch);
  const valEvery = config.valEvery ?? 1;
  let lastStepReportMs = -Infinity;

  try {
    for (let epoch = startEpoch; epoch < config.epochs; epoch++) {
      const epochStartMs = performance.now();
      let lossSum = tf.scalar(0);
      let correctSum = tf.scalar(0);
      let seen = 0;
      let step = epoch * stepsPerEpoch;
      let lr = 0;
      try {
        for await (const batch of streamBatches(db, version, {
          indices: trainIndices,
          batchSize: config.batchSize,
          shuffle: { seed: config.seed, epoch },
        })) {
          cancel.throwIfCancelled();
          lr = learningRateAt(config.optimizer.lr, config.schedule, { step, stepsPerEpoch, epochs: config.epochs });
          const n = batch.ids.length;
          const { loss, correct } = await trainStep(model, optimizer, batch, epoch, step, lr, opts.hook);
          const nextLoss = tf.tidy((): tf.Scalar => lossSum.add(loss.mul(n)));
          const nextCorrect = tf.tidy((): tf.Scalar => correctSum.add(correct));
          tf.dispose([lossSum, correctSum]);
          lossSum = nextLoss;
          correctSum = nextCorrect;
          seen += n;
          const now = performance.now();
          if (opts.onMetrics && now - lastStepReportMs >= STEP_METRICS_INTERVAL_MS) {
            lastStepReportMs = now;
            const [l, c] = await Promise.all([loss.data(), correct.data()]);
            opts.onMetrics({ kind: 'step', epoch, step, totalSteps, loss: l[0] as number, accuracy: (c[0] as number) / n, lr });
          }
          tf.dispose([loss, correct]);
          step++;
          progress.report(step, totalSteps, say(`Epoch ${epoch + 1} of ${config.epochs}`));
        }
        const [lossTotal, correctTotal] = await Promise.all([lossSum.data(), correctSum.data()]);
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
        history = [...history, metrics];
        await saveCheckpoint(db, {
          projectId: opts.projectId,
          runId: run.id,
          model,
          epochsDone: epoch + 1,
          optimizer: await optimizer.state(),
          seed: config.seed,
          history,
        });
        // The record follows the checkpoints, so a reload shows what the hook did so far.
        if (hookRecord) {
          reportAtCheckpoint = hookRecord.report();
          await putRun(db, { ...run, result: withReport(run.result, reportAtCheckpoint) });
        }
        opts.onMetrics?.(metrics);
        progress.report(step, totalSteps, say(`Epoch ${epoch + 1} of ${config.epochs} done`), true);
      } finally {
        tf.dispose([lossSum, correctSum]);
      }
    }

    const modelId = await saveModel(db, {
      projectId: opts.projectId,
      runId: run.id,
      name: `${model.spec.kind} on version ${version.number}`,
      model,
      meta: { datasetVersionId: opts.versionId, classes: version.classes, config, backend, history },
    });
    await deleteCheckpoints(db, run.id);
    const last = history[history.length - 1];
    await putRun(db, {
      ...run,
      status: 'done',
      finishedAt: Date.now(),
      result: withReport({ ...run.result, modelId, history, final: last ?? null, steps: totalSteps }),
    });
    return { runId: run.id, modelId, history, backend, steps: totalSteps };
  } catch (err) {
    const status = isCancelled(err) ? 'cancelled' : 'failed';
    // The run's own error is what the caller needs; a failure to record it must not hide it.
    await putRun(db, {
      ...run,
      status,
      finishedAt: Date.now(),
      result: withReport({ ...run.result, history, error: status === 'failed' ? describeError(err) : null }, status === 'cancelled' ? reportAtCheckpoint : undefined),
    }).catch(() => undefined);
    throw err;
  } finally {
    optimizer.dispose();
  }
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
