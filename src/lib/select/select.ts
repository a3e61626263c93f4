/**
 * One active-learning selection: which `budget` pool images to ask the user to label,
 * by any of the methods of types.ts, in one code path so the baselines and the method
 * are compared on equal terms.
 *
 * The Fisher-kernel methods ('ours', 'ours-hadamard', 'rz'), as the released code's
 * main_descr.py 'topK' does them:
 *  1. descriptors of the validation set (loss against the true labels) and of the pool
 *     (loss against pseudo-labels; 'rz' needs no gradients and takes no backward pass),
 *     at `req.layers` or else `defaultDescriptorLayers` (LeNet: pool1, pool2, dense1);
 *  2. the validation images the model gets wrong are the candidates; if there are more
 *     than the budget b, k-centre greedy keeps b of them, else all are centres;
 *  3. each centre's top `neighbours` pool images by R, taken rank by rank until b unique
 *     picks, filled by best similarity to any centre if the lists run out.
 * With no misclassified validation image there is nothing to match: the method falls back
 * to entropy, and the result says so.
 */
import { Rng } from '../data/rng';
import { InvalidInputError } from '../jobs/errors';
import { NEVER_CANCELLED, ProgressReporter, type CancelToken, type ProgressFn } from '../jobs/progress';
import type { HearthModel } from '../train/models';
import { computeDescriptors, defaultDescriptorLayers } from './descriptors';
import { kCenterGreedy } from './kcenter';
import { topNeighbours, type DescriptorRows, type SimilarityKind } from './similarity';
import { entropyScores, gatherNeighbourPicks, misclassifiedRows, pseudoLabelRule, randomSample, topScoring, variationRatios } from './strategies';
import { SELECT_METHODS, type ImageSet, type SelectMethod, type SelectRequest, type SelectResult } from './types';

export const DEFAULT_MC_SAMPLES = 128;
export const DEFAULT_NEIGHBOURS = 32;
export const DEFAULT_BATCH_SIZE = 256;

export interface SelectOptions {
  cancel?: CancelToken;
  onProgress?: ProgressFn;
}

/** SelectResult plus what the caller should show about how the picks were made. */
export interface SelectBatchResult extends SelectResult {
  /** The method that made the picks: 'entropy' when a Fisher-kernel method had no misclassified validation image. */
  usedMethod: SelectMethod;
  /** Plain sentences for the user (a fallback, a fill); empty when the method ran as asked. */
  notes: string[];
  /** Share of the pool whose pseudo-label equals its true label, when the pool's labels are known and the method took gradients; else null. */
  pseudoLabelAccuracy: number | null;
}

const FISHER_SIMILARITY: Partial<Record<SelectMethod, SimilarityKind>> = {
  ours: 'sum',
  'ours-hadamard': 'hadamard',
  rz: 'z',
};

function positiveInteger(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 1) throw new InvalidInputError(`${what} must be a positive whole number, got ${value}.`);
  return value;
}

/** Rows `which` of a descriptor set, as DescriptorRows. */
function takeRows(d: { length: number; z: Float32Array; g: Float32Array | null }, which: readonly number[]): DescriptorRows {
  const L = d.length;
  const z = new Float32Array(which.length * L);
  const g = d.g ? new Float32Array(which.length * L) : null;
  which.forEach((row, i) => {
    z.set(d.z.subarray(row * L, (row + 1) * L), i * L);
    if (g && d.g) g.set(d.g.subarray(row * L, (row + 1) * L), i * L);
  });
  return { rows: which.length, length: L, z, g };
}

export async function selectBatch(model: HearthModel, val: ImageSet, pool: ImageSet, req: SelectRequest, opts: SelectOptions = {}): Promise<SelectBatchResult> {
  const t0 = performance.now();
  const cancel = opts.cancel ?? NEVER_CANCELLED;
  const progress = new ProgressReporter(opts.onProgress);
  if (!SELECT_METHODS.includes(req.method)) {
    throw new InvalidInputError(`Unknown selection method "${String(req.method)}": pick one of ${SELECT_METHODS.join(', ')}.`);
  }
  if (!Number.isInteger(req.budget) || req.budget < 0) throw new InvalidInputError(`The budget must be a whole number of images ≥ 0, got ${req.budget}.`);
  if (!Number.isInteger(req.seed)) throw new InvalidInputError(`The seed must be an integer, got ${req.seed}.`);
  const batchSize = positiveInteger(req.batchSize ?? DEFAULT_BATCH_SIZE, 'The batch size');
  const budget = Math.min(req.budget, pool.count);
  const rng = new Rng(req.seed);
  const timings = { descriptorsMs: 0, similarityMs: 0, selectMs: 0, totalMs: 0 };
  const result = (picks: number[], extra: Partial<SelectBatchResult> = {}): SelectBatchResult => {
    timings.totalMs = performance.now() - t0;
    progress.report(1, 1, 'Selection done', true);
    return { picks, centres: [], misclassified: 0, timings, usedMethod: req.method, notes: [], pseudoLabelAccuracy: null, ...extra };
  };
  cancel.throwIfCancelled();
  if (budget === 0) return result([]);

  /** Entropy over the pool: the baseline, and the fallback of the Fisher-kernel methods. */
  const byEntropy = async (): Promise<number[]> => {
    const tD = performance.now();
    const d = await computeDescriptors(model, pool, null, {
      layers: [],
      batchSize,
      cancel,
      onBatch: (done) => progress.report(done, pool.count, 'Predicting the pool'),
    });
    timings.descriptorsMs += performance.now() - tD;
    const tS = performance.now();
    const picks = topScoring(entropyScores(d.logits, d.numClasses), budget, rng.fork('entropy'));
    timings.selectMs += performance.now() - tS;
    return picks;
  };

  switch (req.method) {
    case 'random': {
      const tS = performance.now();
      const picks = randomSample(pool.count, budget, rng.fork('random'));
      timings.selectMs = performance.now() - tS;
      return result(picks);
    }
    case 'entropy':
      return result(await byEntropy());
    case 'varr': {
      const samples = positiveInteger(req.mcSamples ?? DEFAULT_MC_SAMPLES, 'The number of MC-dropout passes');
      const tD = performance.now();
      const ratios = await variationRatios(model, pool, {
        samples,
        seed: rng.fork('varr').nextUint32(),
        batchSize,
        cancel,
        onBatch: (done) => progress.report(done, pool.count, `MC dropout, ${samples} passes per image`),
      });
      timings.descriptorsMs = performance.now() - tD;
      const tS = performance.now();
      const picks = topScoring(ratios, budget, rng.fork('varr-ties'));
      timings.selectMs = performance.now() - tS;
      return result(picks);
    }
    case 'ours':
    case 'ours-hadamard':
    case 'rz':
      return fisherSelect(model, val, pool, req, { budget, batchSize, rng, cancel, progress, timings, result, byEntropy });
  }
}

interface FisherContext {
  budget: number;
  batchSize: number;
  rng: Rng;
  cancel: CancelToken;
  progress: ProgressReporter;
  timings: SelectResult['timings'];
  result: (picks: number[], extra?: Partial<SelectBatchResult>) => SelectBatchResult;
  byEntropy: () => Promise<number[]>;
}

async function fisherSelect(model: HearthModel, val: ImageSet, pool: ImageSet, req: SelectRequest, ctx: FisherContext): Promise<SelectBatchResult> {
  const { budget, batchSize, rng, cancel, progress, timings } = ctx;
  const kind = FISHER_SIMILARITY[req.method] as SimilarityKind;
  const useGradients = kind !== 'z';
  const layers = req.layers ?? defaultDescriptorLayers(model);
  const neighbours = positiveInteger(req.neighbours ?? DEFAULT_NEIGHBOURS, 'The number of neighbours per centre');
  const valLabels = val.labels;
  if (!valLabels || valLabels.length !== val.count) {
    throw new InvalidInputError('The Fisher-kernel selection needs the labels of the validation images: label the validation split first.');
  }
  if (valLabels.some((l) => l < 0)) {
    throw new InvalidInputError('Every validation image needs a label for the Fisher-kernel selection: label them or move the unlabeled ones out of the validation split.');
  }
  if (layers.length === 0) throw new InvalidInputError('The Fisher-kernel selection needs at least one descriptor layer.');
  const total = val.count + pool.count;

  const tD = performance.now();
  const valD = await computeDescriptors(model, val, useGradients ? valLabels : null, {
    layers,
    batchSize,
    cancel,
    onBatch: (done) => progress.report(done, total, 'Describing the validation images'),
  });
  timings.descriptorsMs += performance.now() - tD;
  const missed = misclassifiedRows(valD.logits, valLabels, valD.numClasses);
  if (missed.length === 0) {
    const picks = await ctx.byEntropy();
    return ctx.result(picks, {
      usedMethod: 'entropy',
      notes: ['The model gets every validation image right, so there is no mistake to find more of: these picks are by prediction entropy instead.'],
    });
  }

  const tP = performance.now();
  const poolD = await computeDescriptors(model, pool, useGradients ? pseudoLabelRule(req.pseudoLabels ?? 'nearest-val', valD, valLabels, pool) : null, {
    layers,
    batchSize,
    cancel,
    onBatch: (done) => progress.report(val.count + done, total, 'Describing the pool'),
  });
  timings.descriptorsMs += performance.now() - tP;
  let pseudoLabelAccuracy: number | null = null;
  if (poolD.lossLabels && pool.labels && pool.labels.length === pool.count) {
    let known = 0;
    let right = 0;
    pool.labels.forEach((l, i) => {
      if (l < 0) return;
      known++;
      if (poolD.lossLabels?.[i] === l) right++;
    });
    pseudoLabelAccuracy = known > 0 ? right / known : null;
  }

  const tK = performance.now();
  const valRows: DescriptorRows = { rows: valD.n, length: valD.length, z: valD.z, g: valD.g };
  const centres = budget < missed.length ? kCenterGreedy(valRows, missed, budget, { useGradients, rng: rng.fork('k-centre') }) : missed;
  timings.selectMs += performance.now() - tK;

  const tS = performance.now();
  progress.report(total, total, 'Matching the mistakes to the pool', true);
  const found = await topNeighbours(takeRows(valD, centres), { rows: poolD.n, length: poolD.length, z: poolD.z, g: poolD.g }, { kind, k: neighbours, cancel });
  timings.similarityMs = performance.now() - tS;

  const tG = performance.now();
  const { picks, filled } = gatherNeighbourPicks(found, budget);
  timings.selectMs += performance.now() - tG;
  const notes =
    filled > 0
      ? [`The ${centres.length} centres' top-${found.k} neighbour lists held only ${picks.length - filled} distinct pool images; the other ${filled} picks are the pool images most similar to any centre.`]
      : [];
  return ctx.result(picks, { centres, misclassified: missed.length, notes, pseudoLabelAccuracy });
}
