/**
 * The labeling loop with a simulated oracle, in memory: what the studio does with stored
 * data and a person (select → label → retrain with a warm start), with the person replaced
 * by the pool's true labels. It is how the active-learning methods are compared
 * (bench/al-mnist.bench.ts) and how the loop itself is tested.
 *
 * The protocol follows the released code (gudovskiy/al-fk-self-supervision mnist/run.py
 * and main_descr.py):
 *  - the loop starts with no labels (`initialLabeled` 0): round 1 selects with the
 *    initial model, a fresh one or a rotation-pretrained body with a fresh head;
 *  - each round selects `budget` (b = 125) pool images with the round's model, adds them
 *    with their true labels, and retrains from that model's weights (warm start) with a
 *    fresh SGD (momentum 0.5, lr 0.05, ×0.1 every 15 of 50 epochs, batch 25);
 *  - the uncertainty methods (varR, entropy) pick at random in the first round, as the
 *    reference does ("random sampling is better initially"): a model that has seen no
 *    label has no uncertainty worth ranking;
 *  - the round's model is the checkpoint with the best accuracy among the warm start and
 *    the validated epochs. The reference picks it on the test set; here it is picked on
 *    VALIDATION, and the test set is only measured.
 */
import { tf } from '../../src/lib/compute/register';
import { Rng } from '../../src/lib/data/rng';
import { InvalidInputError } from '../../src/lib/jobs/errors';
import { NEVER_CANCELLED, ProgressReporter, type CancelToken, type ProgressFn } from '../../src/lib/jobs/progress';
import { buildModel, pixelsToInput, type HearthModel, type ModelSpec } from '../../src/lib/train/models';
import { learningRateAt, Optimizer } from '../../src/lib/train/optim';
import { weightedCrossEntropy } from '../../src/lib/train/train';
import { pretrainRotation, type RotationOptions } from '../../src/lib/select/rotation';
import { selectBatch } from '../../src/lib/select/select';
import type { ImageSet, SelectMethod, SelectRequest } from '../../src/lib/select/types';

/** An ImageSet whose labels are known: the oracle's pool, validation and test sets. */
export type LabeledImageSet = ImageSet & { labels: Int16Array };

export interface OracleData {
  /** The unlabeled pool; its labels are the oracle's answers and are never shown to selection (except 'true' pseudo-labels). */
  pool: LabeledImageSet;
  /** Picks the checkpoint of each round, and gives selection its misclassified examples. */
  val: LabeledImageSet;
  /** Only measured, never used to choose anything. */
  test: LabeledImageSet;
}

/** Retraining after each round: SGD with momentum and a step schedule, on the labeled set. */
export interface RetrainConfig {
  epochs: number;
  batchSize: number;
  lr: number;
  momentum: number;
  /** The learning rate is multiplied by `lrDecay` every this many epochs. */
  lrDecayEveryEpochs: number;
  lrDecay: number;
  /** Validate (a checkpoint candidate) every this many epochs, and always after the last; default 1. */
  valEvery?: number;
}

/** main_descr.py's defaults. */
export const REFERENCE_RETRAIN: Readonly<RetrainConfig> = {
  epochs: 50,
  batchSize: 25,
  lr: 0.05,
  momentum: 0.5,
  lrDecayEveryEpochs: 15,
  lrDecay: 0.1,
};

/** unsup.py's defaults (8 epochs of batch 25, lr 0.05, momentum 0.5, ×0.1 every 3 epochs). */
export const REFERENCE_PRETRAIN: Readonly<Omit<RotationOptions, 'seed'>> = { epochs: 8, batchSize: 25, lr: 0.05, momentum: 0.5 };

export interface OracleLoopOptions {
  spec: ModelSpec;
  method: SelectMethod;
  seed: number;
  rounds: number;
  /** Images picked and labeled per round (b). */
  budget: number;
  retrain: RetrainConfig;
  /** Random labels before round 1; default 0, as the reference. */
  initialLabeled?: number;
  /** Weights to start from (e.g. pretrainRotation's); copied, the caller keeps it. Default buildModel(spec). */
  initialModel?: HearthModel;
  /** Selection settings beyond method, budget and seed (layers, pseudo-labels, MC samples…). */
  select?: Omit<SelectRequest, 'method' | 'budget' | 'seed'>;
  /** Uncertainty methods pick at random while nothing is labeled; default true (the reference). */
  randomFirstRoundForUncertainty?: boolean;
  /** Classes whose pooled test accuracy is reported apart (the paper's digits {5, 8, 9}). */
  subsetClasses?: readonly number[];
  /** Images per forward pass when evaluating; default 500. */
  evalBatchSize?: number;
  cancel?: CancelToken;
  onProgress?: ProgressFn;
  onRound?: (round: OracleRound) => void;
}

export interface OracleRound {
  /** 1-based. */
  round: number;
  method: SelectMethod;
  /** The method that actually picked (differs in an uncertainty method's random first round). */
  pickedBy: SelectMethod;
  seed: number;
  /** Labeled images after this round. */
  labelCount: number;
  /** Pool positions picked this round, in the order selection returned them. */
  picks: number[];
  /** Picks per true class this round, and labeled images per class after it. */
  pickedPerClass: number[];
  labeledPerClass: number[];
  /** Validation examples the selecting model got wrong (Fisher-kernel and R_z methods), else 0. */
  misclassified: number;
  /** 0 = the warm-start weights were kept; e = after epoch e. */
  bestEpoch: number;
  valAccuracy: number;
  testAccuracy: number;
  /** Pooled accuracy over the test images of `subsetClasses`; null without a subset. */
  testSubsetAccuracy: number | null;
  /** Recall per class on test; null for a class with no test images. */
  testPerClass: (number | null)[];
  selectMs: number;
  trainMs: number;
}

const DEFAULT_EVAL_BATCH = 500;
const UNCERTAINTY_METHODS: readonly SelectMethod[] = ['varr', 'entropy'];

// ---------------------------------------------------------------------------------------
// In-memory image sets.

/** An ImageSet over images held in memory (each HWC bytes), with optional labels. */
export function memoryImageSet(pixels: readonly Uint8Array[], labels?: Int16Array): ImageSet {
  if (labels && labels.length !== pixels.length) {
    throw new InvalidInputError(`Got ${pixels.length} images but ${labels.length} labels: they must be parallel.`);
  }
  return {
    count: pixels.length,
    read: (start, end) => Promise.resolve(pixels.slice(start, end)),
    ...(labels ? { labels } : {}),
  };
}

/**
 * The images of `set` at `positions`, in that order, as an ImageSet. Consecutive
 * positions are read in one range. Labels are carried only when asked for, so a pool
 * handed to selection cannot leak the oracle's answers.
 */
export function subsetImageSet(set: ImageSet, positions: ArrayLike<number>, withLabels: boolean): ImageSet {
  const pos = Array.from(positions);
  const read = async (start: number, end: number): Promise<Uint8Array[]> => {
    const out: Uint8Array[] = [];
    let i = start;
    while (i < end) {
      let j = i + 1;
      while (j < end && (pos[j] as number) === (pos[j - 1] as number) + 1) j++;
      out.push(...(await set.read(pos[i] as number, (pos[j - 1] as number) + 1)));
      i = j;
    }
    return out;
  };
  if (!withLabels) return { count: pos.length, read };
  if (!set.labels) throw new InvalidInputError('The image set has no labels to carry into its subset.');
  const source = set.labels;
  return { count: pos.length, read, labels: Int16Array.from(pos, (p) => source[p] as number) };
}

/** Keeps the labels type: a subset of a labeled set. */
export function labeledSubset(set: LabeledImageSet, positions: ArrayLike<number>): LabeledImageSet {
  return subsetImageSet(set, positions, true) as LabeledImageSet;
}

/** A sample as the sample-dataset builders and the stored dataset give it. */
export interface SplitSample {
  split: string;
  label: string | null;
  pixelsHwc: Uint8Array;
}

/**
 * The train, val and test splits of a sample stream as labeled in-memory sets (class
 * index = position of the label in `classes`; an unlabeled or unknown label is -1).
 */
export function imageSetsBySplit(samples: Iterable<SplitSample>, classes: readonly string[]): Record<'train' | 'val' | 'test', LabeledImageSet> {
  const index = new Map(classes.map((c, i) => [c, i]));
  const parts = { train: { pixels: [] as Uint8Array[], labels: [] as number[] }, val: { pixels: [] as Uint8Array[], labels: [] as number[] }, test: { pixels: [] as Uint8Array[], labels: [] as number[] } };
  for (const s of samples) {
    if (s.split !== 'train' && s.split !== 'val' && s.split !== 'test') continue;
    parts[s.split].pixels.push(s.pixelsHwc);
    parts[s.split].labels.push(s.label === null ? -1 : (index.get(s.label) ?? -1));
  }
  const make = (p: { pixels: Uint8Array[]; labels: number[] }): LabeledImageSet => memoryImageSet(p.pixels, Int16Array.from(p.labels)) as LabeledImageSet;
  return { train: make(parts.train), val: make(parts.val), test: make(parts.test) };
}

/** A seeded uniform sample of `count` images of `set`, kept in their original order. */
export function seededSample(set: LabeledImageSet, count: number, seed: number): LabeledImageSet {
  const order = new Rng(seed).fork('sample').shuffle(Array.from({ length: set.count }, (_, i) => i));
  return labeledSubset(set, order.slice(0, Math.min(count, set.count)).sort((a, b) => a - b));
}

/** The first `perClass` images of each class of `set`, in their original order. */
export function firstPerClass(set: LabeledImageSet, perClass: number): LabeledImageSet {
  const taken = new Map<number, number>();
  const positions: number[] = [];
  set.labels.forEach((label, i) => {
    const n = taken.get(label) ?? 0;
    if (label >= 0 && n < perClass) {
      taken.set(label, n + 1);
      positions.push(i);
    }
  });
  return labeledSubset(set, positions);
}

/** `set` read once into memory, so later reads of a scattered subset cost nothing. */
export async function inMemory(set: LabeledImageSet): Promise<LabeledImageSet> {
  return memoryImageSet(await readAll(set), set.labels) as LabeledImageSet;
}

async function readAll(set: ImageSet): Promise<Uint8Array[]> {
  return set.count === 0 ? [] : set.read(0, set.count);
}

// ---------------------------------------------------------------------------------------
// Evaluation and retraining.

/** Predicted class per image of `set`. */
export async function predictSet(model: HearthModel, set: ImageSet, batchSize = DEFAULT_EVAL_BATCH): Promise<Int32Array> {
  const out = new Int32Array(set.count);
  for (let start = 0; start < set.count; start += batchSize) {
    const end = Math.min(set.count, start + batchSize);
    const pixels = await set.read(start, end);
    const pred = tf.tidy(() => tf.argMax(model.model.predict(pixelsToInput(pixels, model.spec.input)) as tf.Tensor2D, 1));
    out.set(await pred.data(), start);
    pred.dispose();
  }
  return out;
}

export interface SetAccuracy {
  accuracy: number;
  /** Pooled over the images whose true class is in the subset; null without one (or when none are). */
  subsetAccuracy: number | null;
  /** Recall per class; null for a class with no images. */
  perClass: (number | null)[];
}

export function accuracyOf(trueLabels: Int16Array, predicted: Int32Array, numClasses: number, subset: readonly number[] = []): SetAccuracy {
  const hits = new Array<number>(numClasses).fill(0);
  const totals = new Array<number>(numClasses).fill(0);
  for (let i = 0; i < trueLabels.length; i++) {
    const t = trueLabels[i] as number;
    if (t < 0 || t >= numClasses) continue;
    totals[t] = (totals[t] as number) + 1;
    if (predicted[i] === t) hits[t] = (hits[t] as number) + 1;
  }
  const sum = (a: number[], classes: readonly number[]): number => classes.reduce((s, c) => s + (a[c] ?? 0), 0);
  const all = Array.from({ length: numClasses }, (_, c) => c);
  const total = sum(totals, all);
  const subsetTotal = sum(totals, subset);
  return {
    accuracy: total === 0 ? 0 : sum(hits, all) / total,
    subsetAccuracy: subset.length === 0 || subsetTotal === 0 ? null : sum(hits, subset) / subsetTotal,
    perClass: all.map((c) => ((totals[c] as number) === 0 ? null : (hits[c] as number) / (totals[c] as number))),
  };
}

async function accuracyOn(model: HearthModel, set: LabeledImageSet, subset: readonly number[], batchSize: number): Promise<SetAccuracy> {
  return accuracyOf(set.labels, await predictSet(model, set, batchSize), model.spec.numClasses, subset);
}

function validateRetrain(c: RetrainConfig): void {
  const wholeAtLeastOne = (v: number): boolean => Number.isInteger(v) && v >= 1;
  if (!wholeAtLeastOne(c.epochs)) throw new InvalidInputError(`Retrain for a whole number of epochs, at least 1 (got ${c.epochs}).`);
  if (!wholeAtLeastOne(c.batchSize)) throw new InvalidInputError(`The retraining batch size must be a whole number of at least 1, got ${c.batchSize}.`);
  if (!(Number.isFinite(c.lr) && c.lr > 0)) throw new InvalidInputError(`The retraining learning rate must be positive, got ${c.lr}: the reference uses 0.05.`);
  if (!(c.momentum >= 0 && c.momentum < 1)) throw new InvalidInputError(`SGD momentum must be in [0, 1), got ${c.momentum}.`);
  if (!wholeAtLeastOne(c.lrDecayEveryEpochs) || !(c.lrDecay > 0)) {
    throw new InvalidInputError('The learning-rate decay needs a whole number of epochs ≥ 1 between steps and a positive factor (the reference: every 15 epochs, ×0.1).');
  }
  if (!wholeAtLeastOne(c.valEvery ?? 1)) throw new InvalidInputError(`Validate every 1 or more whole epochs, got ${c.valEvery}.`);
}

/**
 * Trains `model` in place on the labeled images from its current weights, validating as
 * configured, and leaves it holding the best validated weights (the starting weights
 * count as epoch 0). Returns that epoch and its validation accuracy.
 */
export async function retrainWarm(
  model: HearthModel,
  images: readonly Uint8Array[],
  labels: Int32Array,
  val: LabeledImageSet,
  config: RetrainConfig,
  seed: number,
  opts: { cancel?: CancelToken; evalBatchSize?: number } = {},
): Promise<{ bestEpoch: number; valAccuracy: number }> {
  validateRetrain(config);
  const cancel = opts.cancel ?? NEVER_CANCELLED;
  const evalBatch = opts.evalBatchSize ?? DEFAULT_EVAL_BATCH;
  const numClasses = model.spec.numClasses;
  const variables = model.model.trainableWeights.map((w) => w.read() as tf.Variable);
  // A fresh optimizer each round, as main_descr.py builds a new SGD per iteration.
  const optimizer = new Optimizer({ kind: 'sgd', lr: config.lr, momentum: config.momentum, nesterov: false }, 0, variables);
  const schedule = { kind: 'step', everyEpochs: config.lrDecayEveryEpochs, gamma: config.lrDecay } as const;
  const stepsPerEpoch = Math.ceil(images.length / config.batchSize);
  const valEvery = config.valEvery ?? 1;
  const rng = new Rng(seed).fork('retrain');
  let best = { epoch: 0, accuracy: (await accuracyOn(model, val, [], evalBatch)).accuracy };
  let bestWeights: tf.Tensor[] = model.model.getWeights().map((w) => tf.clone(w));
  try {
    let step = 0;
    for (let epoch = 1; epoch <= config.epochs; epoch++) {
      const order = rng.fork(`epoch/${epoch}`).shuffle(Array.from({ length: images.length }, (_, i) => i));
      for (let b = 0; b < order.length; b += config.batchSize) {
        cancel.throwIfCancelled();
        const idx = order.slice(b, b + config.batchSize);
        const lr = learningRateAt(config.lr, schedule, { step, stepsPerEpoch, epochs: config.epochs });
        const x = pixelsToInput(idx.map((i) => images[i] as Uint8Array), model.spec.input);
        const y = tf.tensor1d(Int32Array.from(idx, (i) => labels[i] as number), 'int32');
        try {
          const { value, grads } = tf.variableGrads(
            () => weightedCrossEntropy(model.model.apply(x, { training: true }) as tf.Tensor2D, tf.oneHot(y, numClasses).toFloat() as tf.Tensor2D),
            variables,
          );
          optimizer.step(
            variables.map((v) => grads[v.name] as tf.Tensor),
            lr,
          );
          tf.dispose([value, ...Object.values(grads)]);
        } finally {
          tf.dispose([x, y]);
        }
        step++;
      }
      if (epoch % valEvery === 0 || epoch === config.epochs) {
        const accuracy = (await accuracyOn(model, val, [], evalBatch)).accuracy;
        // Strictly better, as the reference's `acc > best_acc`: ties keep the earlier weights.
        if (accuracy > best.accuracy) {
          best = { epoch, accuracy };
          tf.dispose(bestWeights);
          bestWeights = model.model.getWeights().map((w) => tf.clone(w));
        }
      }
    }
    model.model.setWeights(bestWeights);
    return { bestEpoch: best.epoch, valAccuracy: best.accuracy };
  } finally {
    tf.dispose(bestWeights);
    optimizer.dispose();
  }
}

// ---------------------------------------------------------------------------------------
// The loop.

function validateLoop(data: OracleData, opts: OracleLoopOptions): void {
  if (!(Number.isInteger(opts.rounds) && opts.rounds >= 1)) throw new InvalidInputError(`Run a whole number of rounds, at least 1 (got ${opts.rounds}).`);
  if (!(Number.isInteger(opts.budget) && opts.budget >= 1)) throw new InvalidInputError(`The budget b must be a whole number of at least 1, got ${opts.budget}.`);
  const initial = opts.initialLabeled ?? 0;
  if (!(Number.isInteger(initial) && initial >= 0)) throw new InvalidInputError(`The initial labeled set must be 0 or more images, got ${initial}.`);
  const needed = initial + opts.rounds * opts.budget;
  if (needed > data.pool.count) {
    throw new InvalidInputError(`${opts.rounds} rounds of ${opts.budget} (plus ${initial} initial labels) need ${needed} pool images, but the pool has ${data.pool.count}: use fewer rounds or a smaller budget.`);
  }
  if (data.val.count === 0) throw new InvalidInputError('The oracle loop picks checkpoints on validation: give it a non-empty validation set.');
  validateRetrain(opts.retrain);
}

/** Runs `rounds` rounds of select → label → retrain for one method and seed. */
export async function runOracleLoop(data: OracleData, opts: OracleLoopOptions): Promise<OracleRound[]> {
  validateLoop(data, opts);
  const cancel = opts.cancel ?? NEVER_CANCELLED;
  const subset = opts.subsetClasses ?? [];
  const evalBatch = opts.evalBatchSize ?? DEFAULT_EVAL_BATCH;
  const numClasses = opts.spec.numClasses;
  const rng = new Rng(opts.seed).fork(`oracle/${opts.method}`);
  const progress = new ProgressReporter(opts.onProgress);

  const model = buildModel(opts.spec);
  const rounds: OracleRound[] = [];
  try {
    // Copied (setWeights assigns values), so the caller's model is not trained by the loop.
    if (opts.initialModel) model.model.setWeights(opts.initialModel.model.getWeights());
    const labeled: number[] = [];
    const isLabeled = new Uint8Array(data.pool.count);
    const initial = opts.initialLabeled ?? 0;
    if (initial > 0) {
      const order = rng.fork('initial').shuffle(Array.from({ length: data.pool.count }, (_, i) => i));
      for (const p of order.slice(0, initial)) {
        labeled.push(p);
        isLabeled[p] = 1;
      }
    }
    const labeledPixels: Uint8Array[] = labeled.length > 0 ? await readAll(subsetImageSet(data.pool, labeled, false)) : [];

    for (let round = 1; round <= opts.rounds; round++) {
      cancel.throwIfCancelled();
      progress.report(round - 1, opts.rounds, `Round ${round} of ${opts.rounds}: selecting ${opts.budget}`, true);
      const unlabeled: number[] = [];
      for (let p = 0; p < data.pool.count; p++) if (!isLabeled[p]) unlabeled.push(p);
      const randomFirst = (opts.randomFirstRoundForUncertainty ?? true) && labeled.length === 0 && UNCERTAINTY_METHODS.includes(opts.method);
      const pickedBy: SelectMethod = randomFirst ? 'random' : opts.method;
      const withTrueLabels = opts.select?.pseudoLabels === 'true';
      const selectStart = performance.now();
      const result = await selectBatch(
        model,
        data.val,
        subsetImageSet(data.pool, unlabeled, withTrueLabels),
        { ...opts.select, method: pickedBy, budget: opts.budget, seed: rng.fork(`select/${round}`).nextUint32() },
        { cancel },
      );
      const selectMs = performance.now() - selectStart;
      const picks = result.picks.map((p) => unlabeled[p] as number);
      const pickedPerClass = new Array<number>(numClasses).fill(0);
      for (const p of picks) {
        if (isLabeled[p]) throw new Error(`Selection returned pool image ${p} twice.`);
        isLabeled[p] = 1;
        labeled.push(p);
        const label = data.pool.labels[p] as number;
        pickedPerClass[label] = (pickedPerClass[label] as number) + 1;
      }
      labeledPixels.push(...(await readAll(subsetImageSet(data.pool, picks, false))));

      progress.report(round - 0.5, opts.rounds, `Round ${round} of ${opts.rounds}: retraining on ${labeled.length} labels`, true);
      const trainStart = performance.now();
      const labels = Int32Array.from(labeled, (p) => data.pool.labels[p] as number);
      const { bestEpoch, valAccuracy } = await retrainWarm(model, labeledPixels, labels, data.val, opts.retrain, rng.fork(`train/${round}`).nextUint32(), {
        cancel,
        evalBatchSize: evalBatch,
      });
      const trainMs = performance.now() - trainStart;
      const test = await accuracyOn(model, data.test, subset, evalBatch);
      const labeledPerClass = new Array<number>(numClasses).fill(0);
      for (const l of labels) labeledPerClass[l] = (labeledPerClass[l] as number) + 1;
      const record: OracleRound = {
        round,
        method: opts.method,
        pickedBy,
        seed: opts.seed,
        labelCount: labeled.length,
        picks,
        pickedPerClass,
        labeledPerClass,
        misclassified: result.misclassified,
        bestEpoch,
        valAccuracy,
        testAccuracy: test.accuracy,
        testSubsetAccuracy: test.subsetAccuracy,
        testPerClass: test.perClass,
        selectMs,
        trainMs,
      };
      rounds.push(record);
      opts.onRound?.(record);
    }
    progress.report(opts.rounds, opts.rounds, 'Done', true);
    return rounds;
  } finally {
    model.dispose();
  }
}

// ---------------------------------------------------------------------------------------
// Several methods and seeds.

export interface OracleArm {
  /** A name for reports, e.g. 'ours' or 'random'. */
  name: string;
  method: SelectMethod;
  /** Start from the rotation-pretrained body (with a fresh head) instead of a fresh model. */
  pretrain: boolean;
  select?: Omit<SelectRequest, 'method' | 'budget' | 'seed'>;
}

export interface OracleExperimentOptions extends Omit<OracleLoopOptions, 'method' | 'seed' | 'initialModel' | 'select' | 'onRound'> {
  arms: readonly OracleArm[];
  seeds: readonly number[];
  /** Rotation pretraining settings, used when any arm pretrains; default REFERENCE_PRETRAIN. */
  pretrain?: Omit<RotationOptions, 'seed' | 'cancel' | 'onProgress'>;
  /** Images the rotation task trains on; default the whole pool (the reference). */
  pretrainPool?: ImageSet;
  onRound?: (arm: OracleArm, round: OracleRound) => void;
  onPretrained?: (seed: number, ms: number) => void;
}

export interface OracleArmRun {
  arm: OracleArm;
  seed: number;
  rounds: OracleRound[];
}

/**
 * Every arm for every seed. A seed replaces spec.seed: it fixes the model's initial weights, the
 * pretraining and every selection and shuffle, so arms of one seed differ only in how
 * they pick; the pretrained body is trained once per seed and shared by the arms that use it.
 */
export async function runOracleExperiment(data: OracleData, opts: OracleExperimentOptions): Promise<OracleArmRun[]> {
  const runs: OracleArmRun[] = [];
  const { arms, seeds, pretrain, pretrainPool, onRound, onPretrained, ...loop } = opts;
  for (const seed of seeds) {
    const spec = { ...opts.spec, seed };
    let pretrained: HearthModel | null = null;
    try {
      if (arms.some((a) => a.pretrain)) {
        const start = performance.now();
        pretrained = await pretrainRotation(spec, pretrainPool ?? data.pool, { ...REFERENCE_PRETRAIN, ...pretrain, seed, ...(opts.cancel ? { cancel: opts.cancel } : {}) });
        onPretrained?.(seed, performance.now() - start);
      }
      for (const arm of arms) {
        const rounds = await runOracleLoop(data, {
          ...loop,
          spec,
          method: arm.method,
          seed,
          ...(arm.pretrain && pretrained ? { initialModel: pretrained } : {}),
          ...(arm.select ? { select: arm.select } : {}),
          ...(onRound ? { onRound: (r: OracleRound) => onRound(arm, r) } : {}),
        });
        runs.push({ arm, seed, rounds });
      }
    } finally {
      pretrained?.dispose();
    }
  }
  return runs;
}
