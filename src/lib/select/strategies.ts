/**
 * The pieces the selection methods are built from: pseudo-labels for the pool's
 * gradients, the baselines' scores (softmax entropy, MC-dropout variation ratio), seeded
 * random sampling, and the Fisher-kernel method's rank-by-rank gathering of neighbours.
 */
import { tf } from '../compute/register';
import { Rng } from '../data/rng';
import { InvalidInputError } from '../jobs/errors';
import { NEVER_CANCELLED, type CancelToken } from '../jobs/progress';
import { pixelsToInput, type HearthModel } from '../train/models';
import type { Descriptors, LossLabelRule } from './descriptors';
import type { Neighbours } from './similarity';
import type { ImageSet, PseudoLabelMode } from './types';

// ---------------------------------------------------------------------------------------
// Predictions.

/** The predicted class of each row of n·C logits (ties: the lower class). */
export function argmaxRows(logits: Float32Array, numClasses: number): Int16Array {
  const n = Math.floor(logits.length / numClasses);
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    let bestValue = -Infinity;
    for (let c = 0; c < numClasses; c++) {
      const v = logits[i * numClasses + c] as number;
      if (v > bestValue) {
        bestValue = v;
        best = c;
      }
    }
    out[i] = best;
  }
  return out;
}

/** Rows whose prediction differs from a known label (label ≥ 0), in row order. */
export function misclassifiedRows(logits: Float32Array, labels: Int16Array, numClasses: number): number[] {
  const predicted = argmaxRows(logits, numClasses);
  const out: number[] = [];
  predicted.forEach((p, i) => {
    const label = labels[i] as number;
    if (label >= 0 && p !== label) out.push(i);
  });
  return out;
}

/** Shannon entropy (nats) of each row's softmax, computed stably (max subtracted). */
export function entropyScores(logits: Float32Array, numClasses: number): Float64Array {
  const n = Math.floor(logits.length / numClasses);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const o = i * numClasses;
    let max = -Infinity;
    for (let c = 0; c < numClasses; c++) max = Math.max(max, logits[o + c] as number);
    // H = log Σe^{u_c} − Σ e^{u_c}·u_c / Σ e^{u_c}, with u = logits − max.
    let sum = 0;
    let weighted = 0;
    for (let c = 0; c < numClasses; c++) {
      const u = (logits[o + c] as number) - max;
      const e = Math.exp(u);
      sum += e;
      weighted += e * u;
    }
    out[i] = Math.log(sum) - weighted / sum;
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Picking by score, and at random.

/**
 * The `count` highest-scoring positions, best first. Equal scores are ordered by a seeded
 * shuffle, not by position: a confident model gives many pool images the same variation
 * ratio (0, or k/K), and taking the first ones in storage order would pick by import
 * order, not by chance.
 */
export function topScoring(scores: ArrayLike<number>, count: number, rng: Rng): number[] {
  const order = rng.shuffle(Array.from({ length: scores.length }, (_, i) => i));
  const rank = new Int32Array(scores.length);
  order.forEach((position, r) => (rank[position] = r));
  order.sort((a, b) => (scores[b] as number) - (scores[a] as number) || (rank[a] as number) - (rank[b] as number));
  return order.slice(0, Math.min(count, scores.length));
}

/** `count` distinct positions of [0, n), uniformly at random (a partial Fisher–Yates). */
export function randomSample(n: number, count: number, rng: Rng): number[] {
  const take = Math.min(count, n);
  const positions = new Int32Array(n);
  for (let i = 0; i < n; i++) positions[i] = i;
  for (let i = 0; i < take; i++) {
    const j = i + rng.int(n - i);
    const tmp = positions[i] as number;
    positions[i] = positions[j] as number;
    positions[j] = tmp;
  }
  return Array.from(positions.subarray(0, take));
}

// ---------------------------------------------------------------------------------------
// Pseudo-labels.

/**
 * The labels the pool's gradients are taken against:
 * - 'nearest-val': the label of the validation image whose standardised z is most similar
 *   (largest dot product), the paper's 1-NN label transfer (reference: `gradFmap`);
 * - 'argmax': the model's own prediction (reference: `grad`);
 * - 'true': the pool's real labels, the oracle limit (reference: `gradAbl`), for benchmarks.
 */
export function pseudoLabelRule(mode: PseudoLabelMode, val: Descriptors, valLabels: Int16Array, pool: ImageSet): Int16Array | LossLabelRule {
  switch (mode) {
    case 'nearest-val':
      return { kind: 'nearest', reference: val, labels: valLabels };
    case 'argmax':
      return { kind: 'argmax' };
    case 'true':
      if (!pool.labels || pool.labels.length !== pool.count) {
        throw new InvalidInputError("'true' pseudo-labels need the pool's labels: use 'nearest-val' or 'argmax' on an unlabeled pool.");
      }
      return pool.labels;
  }
}

// ---------------------------------------------------------------------------------------
// The Fisher-kernel method's picks from the centres' neighbours.

export interface GatheredPicks {
  picks: number[];
  /** How many picks came from the fill (by best similarity to any centre) after the neighbour lists ran out. */
  filled: number;
}

/**
 * Takes the centres' neighbours rank by rank, as the released code does: every centre's
 * best neighbour, then every centre's second, and so on; within one rank the centres are
 * taken in decreasing order of that neighbour's similarity (the reference sorts each rank
 * row by value). A pool image already taken is skipped, until `count` unique picks.
 *
 * When the lists run out first (few centres, a small `k`, many shared neighbours) the rest
 * is filled with the pool images of highest similarity to any centre (`poolBest`) not yet
 * taken. The reference has no such step: it assumes the lists are long enough.
 */
export function gatherNeighbourPicks(neighbours: Neighbours, count: number): GatheredPicks {
  const { queries, k, indices, scores, poolBest } = neighbours;
  const target = Math.min(count, poolBest.length);
  const taken = new Set<number>();
  const picks: number[] = [];
  for (let r = 0; r < k && picks.length < target; r++) {
    const centres = Array.from({ length: queries }, (_, q) => q);
    centres.sort((a, b) => (scores[b * k + r] as number) - (scores[a * k + r] as number) || a - b);
    for (const q of centres) {
      const p = indices[q * k + r] as number;
      if (taken.has(p)) continue;
      taken.add(p);
      picks.push(p);
      if (picks.length === target) break;
    }
  }
  const fromNeighbours = picks.length;
  if (picks.length < target) {
    const order = Array.from({ length: poolBest.length }, (_, i) => i).sort((a, b) => (poolBest[b] as number) - (poolBest[a] as number) || a - b);
    for (const p of order) {
      if (picks.length === target) break;
      if (taken.has(p)) continue;
      taken.add(p);
      picks.push(p);
    }
  }
  return { picks, filled: picks.length - fromNeighbours };
}

// ---------------------------------------------------------------------------------------
// MC-dropout variation ratio.

/**
 * Where dropout is applied at inference for the variation ratio. LeNet follows the released
 * code's MC model (custom_models/model.py `NetMC`): element-wise dropout, p = 0.25 on the
 * pooled outputs of both convolutions (x1, x2) and p = 0.5 on the hidden dense layer (x4).
 * Our LeNet has no dropout layers (they would be inert at inference anyway), so the masks
 * are applied by hand: the layers up to `frozenThrough` run once per batch, and the layers
 * after it run `K` times with fresh masks.
 */
export interface McDropoutPlan {
  /** The last layer that runs once per batch: no dropout acts before its output. */
  frozenThrough: string;
  /** Dropout rate on `frozenThrough`'s output, applied in every pass. */
  frozenDropout: number;
  /** The layers after it, in order, each with the dropout rate on its output (0: none). */
  rest: readonly { layer: string; dropout: number }[];
}

export const LENET_MC_DROPOUT: McDropoutPlan = {
  frozenThrough: 'pool1',
  frozenDropout: 0.25,
  rest: [
    { layer: 'conv2', dropout: 0 },
    { layer: 'pool2', dropout: 0.25 },
    { layer: 'flatten', dropout: 0 },
    { layer: 'dense1', dropout: 0.5 },
    { layer: 'head', dropout: 0 },
  ],
};

/** For models the reference has no MC variant of: dropout p = 0.5 on the head's input only. */
export function headOnlyMcDropout(model: HearthModel): McDropoutPlan {
  return { frozenThrough: model.penultimateLayer, frozenDropout: 0.5, rest: [{ layer: model.headLayer, dropout: 0 }] };
}

export function mcDropoutPlan(model: HearthModel): McDropoutPlan {
  return model.spec.kind === 'lenet' ? LENET_MC_DROPOUT : headOnlyMcDropout(model);
}

/**
 * Rows in each bank of dropout masks, at least. See `variationRatios`: a prime, so the
 * stride walk that picks an image's masks visits distinct rows.
 */
const MC_MASK_BANK_MIN_ROWS = 1021;

function isPrime(n: number): boolean {
  if (n < 2) return false;
  for (let d = 2; d * d <= n; d++) if (n % d === 0) return false;
  return true;
}

function primeAtLeast(n: number): number {
  let p = Math.max(2, n);
  while (!isPrime(p)) p++;
  return p;
}

export interface VariationOptions {
  /** Stochastic passes K. */
  samples: number;
  seed: number;
  batchSize: number;
  /** Default `mcDropoutPlan(model)`. */
  plan?: McDropoutPlan;
  cancel?: CancelToken;
  onBatch?: (done: number) => void;
}

/**
 * Variation ratio 1 − (count of the modal predicted class)/K over K dropout passes (Gal et
 * al. 2017; reference `gen_mc` 'var'), per pool image.
 *
 * Masks: drawing fresh uniform masks in JavaScript for every pass of every batch would cost
 * more than the network (K·N·1,810 numbers for LeNet), so each dropout point has a bank of
 * R seeded masks on the backend (R prime, ≥ K), and image j in pass k takes row
 * (a_j + k·c_j) mod R, with a_j and c_j ≠ 0 drawn per image. For k < K ≤ R those rows are
 * distinct, so an image's K masks are K distinct independent draws: its score has exactly
 * the distribution of fresh masks. Images share rows with one another, which correlates
 * their noise but not any one image's score.
 */
export async function variationRatios(model: HearthModel, images: ImageSet, opts: VariationOptions): Promise<Float32Array> {
  const { samples: K, batchSize } = opts;
  const cancel = opts.cancel ?? NEVER_CANCELLED;
  if (!Number.isInteger(K) || K < 1) throw new InvalidInputError(`The number of MC-dropout passes must be a positive whole number, got ${K}.`);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new InvalidInputError(`The batch size must be a positive whole number, got ${batchSize}.`);
  const plan = opts.plan ?? mcDropoutPlan(model);
  const n = images.count;
  const numClasses = model.spec.numClasses;
  const rng = new Rng(opts.seed);
  const bankRows = primeAtLeast(Math.max(K, MC_MASK_BANK_MIN_ROWS));
  const layerOf = (name: string): ReturnType<HearthModel['model']['getLayer']> => {
    try {
      return model.model.getLayer(name);
    } catch {
      throw new InvalidInputError(`The MC-dropout plan names a layer "${name}" this model does not have.`);
    }
  };
  const restLayers = plan.rest.map((s) => layerOf(s.layer));

  // Masks hold 0 or 1/(1 − p) (inverted dropout, as PyTorch's F.dropout), so the expected
  // activation is unchanged.
  const banks = new Map<string, tf.Tensor2D>();
  const ratios = new Float32Array(n);
  let pending: Promise<Uint8Array[]> | null = null;
  try {
    const dropPoints = [{ layer: plan.frozenThrough, p: plan.frozenDropout }, ...plan.rest.map((s) => ({ layer: s.layer, p: s.dropout }))];
    for (const { layer, p } of dropPoints) {
      if (p <= 0) continue;
      if (p >= 1) throw new InvalidInputError(`A dropout rate must be below 1, got ${p} on ${layer}.`);
      const shape = layerOf(layer).outputShape as (number | null)[];
      const width = shape.slice(1).reduce<number>((a, d) => a * (d ?? 1), 1);
      const maskRng = rng.fork(`mask/${layer}`);
      const values = new Float32Array(bankRows * width);
      const keep = 1 / (1 - p);
      for (let i = 0; i < values.length; i++) values[i] = maskRng.next() < p ? 0 : keep;
      banks.set(layer, tf.tensor2d(values, [bankRows, width]));
    }
    const drop = (layer: string, x: tf.Tensor, rowsIdx: tf.Tensor1D): tf.Tensor => {
      const bank = banks.get(layer);
      return bank ? tf.mul(x, tf.reshape(tf.gather(bank, rowsIdx), x.shape)) : x;
    };

    const walkRng = rng.fork('walk');
    pending = n > 0 ? images.read(0, Math.min(batchSize, n)) : null;
    for (let start = 0; start < n; start += batchSize) {
      const end = Math.min(start + batchSize, n);
      const count = end - start;
      const pixels = await (pending as Promise<Uint8Array[]>);
      pending = end < n ? images.read(end, Math.min(end + batchSize, n)) : null;
      const offset = new Int32Array(count);
      const stride = new Int32Array(count);
      for (let j = 0; j < count; j++) {
        offset[j] = walkRng.int(bankRows);
        stride[j] = 1 + walkRng.int(bankRows - 1);
      }
      const frozen = tf.tidy(() => {
        const r = model.forward(pixelsToInput(pixels, model.spec.input), { activations: [plan.frozenThrough] });
        return r.activations[plan.frozenThrough] as tf.Tensor;
      });
      let votes = tf.zeros([count, numClasses]) as tf.Tensor2D;
      try {
        for (let k = 0; k < K; k++) {
          cancel.throwIfCancelled();
          const rows = new Int32Array(count);
          // (a + k·c) mod R, exact in doubles: a, c < R ≈ 1e3 and k < R.
          for (let j = 0; j < count; j++) rows[j] = ((offset[j] as number) + k * (stride[j] as number)) % bankRows;
          const next = tf.tidy(() => {
            const rowsIdx = tf.tensor1d(rows, 'int32');
            let h = drop(plan.frozenThrough, frozen, rowsIdx);
            plan.rest.forEach((s, i) => {
              h = (restLayers[i] as (typeof restLayers)[number]).apply(h, { training: false }) as tf.Tensor;
              h = drop(s.layer, h, rowsIdx);
            });
            // int32 one-hot, then cast: tfjs-backend-wasm 4.22's OneHot writes all zeros when
            // asked for float32 output directly.
            return tf.add(votes, tf.cast(tf.oneHot(tf.argMax(h, 1), numClasses), 'float32')) as tf.Tensor2D;
          });
          votes.dispose();
          votes = next;
          // Yield between passes so a cancel from the worker's message loop is seen.
          if (k % 16 === 15) await new Promise((resolve) => setTimeout(resolve, 0));
        }
        const modal = tf.max(votes, 1);
        try {
          const m = (await modal.data()) as Float32Array;
          for (let j = 0; j < count; j++) ratios[start + j] = 1 - (m[j] as number) / K;
        } finally {
          modal.dispose();
        }
      } finally {
        frozen.dispose();
        votes.dispose();
      }
      opts.onBatch?.(end);
    }
  } finally {
    for (const bank of banks.values()) bank.dispose();
    // A read still in flight after a cancel or an error: its failure is no longer news.
    pending?.catch(() => undefined);
  }
  return ratios;
}
