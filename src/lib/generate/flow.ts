/**
 * PluGeN's plug-in flow (Wołczyk et al., AAAI 2022), as its reference code (gmum/plugen,
 * StyleGAN/NICE.py and StyleGAN/train.py) builds and trains it: a NICE flow F of additive
 * couplings maps a frozen generator's latent w to z = (c, s), where c = z[:K] are the K
 * attribute coordinates and s the rest. Training pulls each c_k toward its attribute's value
 * (±1 for a binary attribute, a ∈ [−1, 1] for a continuous one) and s toward N(0, I);
 * sampling sets c to the values asked for, draws s ~ N(0, τ²I), and decodes G(F⁻¹(c, s)).
 *
 * As the reference:
 * - a coupling keeps one parity of coordinates (even, then odd, alternating; no permutation,
 *   no scaling layer) and adds m(z ⊙ mask) ⊙ (1 − mask), m a `layers`-Linear MLP whose input
 *   and output are all D coordinates, LeakyReLU(0.1) between the Linears and none after;
 * - weights and biases start U(±1/√fan_in), PyTorch's Linear default;
 * - additive couplings have log-det 0, so the likelihood is that of z alone;
 * - the loss is −mean over the batch of Σ over dimensions of log-densities (not a mean over
 *   dimensions: that would shrink the gradients D-fold);
 * - Adam (lr 1e-4, ε 1e-8), the gradient clipped to global norm 1; σ = σ₀ · decay^epoch.
 */
import { tf } from '../compute/register';
import { InvalidInputError } from '../jobs/errors';
import { Rng } from '../data/rng';

export interface FlowSpec {
  /** Latent size D of the generator. */
  dim: number;
  /** Attribute coordinates K (the first K of z). */
  attributes: number;
  couplings: number;
  /** Linear layers per coupling MLP. */
  layers: number;
  hidden: number;
  seed: number;
}

/** The flow: 4 couplings of 4-Linear MLPs with 256 hidden units. */
export const DEFAULT_FLOW = { couplings: 4, layers: 4, hidden: 256 } as const;
/** The reference's LeakyReLU slope (tfjs' own default is 0.2). */
export const LEAKY_SLOPE = 0.1;

interface Linear {
  w: tf.Variable;
  b: tf.Variable;
}

export interface Flow {
  spec: FlowSpec;
  /** Per coupling, its Linears and its mask (1 = kept). */
  couplings: { linears: Linear[]; mask: tf.Tensor1D }[];
  variables: tf.Variable[];
}

function uniform(rng: Rng, n: number, bound: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (rng.next() * 2 - 1) * bound;
  return out;
}

export function createFlow(spec: FlowSpec): Flow {
  if (!Number.isInteger(spec.dim) || spec.dim < 2) throw new InvalidInputError(`A flow needs a latent of at least 2 numbers, got ${spec.dim}.`);
  if (!Number.isInteger(spec.attributes) || spec.attributes < 1 || spec.attributes >= spec.dim) {
    throw new InvalidInputError(`A flow on a ${spec.dim}-number latent can control 1 to ${spec.dim - 1} attributes, not ${spec.attributes}.`);
  }
  if (spec.layers < 2) throw new InvalidInputError(`A coupling MLP needs at least 2 layers, got ${spec.layers}.`);
  const rng = new Rng(spec.seed).fork('flow');
  const variables: tf.Variable[] = [];
  const couplings = Array.from({ length: spec.couplings }, (_, k) => {
    const maskValues = Float32Array.from({ length: spec.dim }, (_, i) => (i % 2 === k % 2 ? 1 : 0));
    const sizes = [spec.dim, ...Array.from({ length: spec.layers - 1 }, () => spec.hidden), spec.dim];
    const linears = sizes.slice(0, -1).map((fanIn, l) => {
      const fanOut = sizes[l + 1] as number;
      const bound = 1 / Math.sqrt(fanIn);
      const w = tf.variable(tf.tensor2d(uniform(rng, fanIn * fanOut, bound), [fanIn, fanOut]));
      const b = tf.variable(tf.tensor1d(uniform(rng, fanOut, bound)));
      variables.push(w, b);
      return { w, b };
    });
    return { linears, mask: tf.tensor1d(maskValues) };
  });
  return { spec, couplings, variables };
}

export function disposeFlow(flow: Flow): void {
  for (const v of flow.variables) v.dispose();
  for (const c of flow.couplings) c.mask.dispose();
}

function shift(linears: Linear[], x: tf.Tensor2D): tf.Tensor2D {
  let h: tf.Tensor2D = x;
  linears.forEach((l, i) => {
    h = tf.add(tf.matMul(h, l.w), l.b);
    if (i < linears.length - 1) h = tf.leakyRelu(h, LEAKY_SLOPE);
  });
  return h;
}

function coupling(c: Flow['couplings'][number], z: tf.Tensor2D, sign: 1 | -1): tf.Tensor2D {
  const kept = tf.mul(z, c.mask);
  const m = tf.mul(shift(c.linears, kept as tf.Tensor2D), tf.sub(1, c.mask));
  return (sign === 1 ? tf.add(z, m) : tf.sub(z, m)) as tf.Tensor2D;
}

/** z = F(w), shape [n, D]. */
export function flowForward(flow: Flow, w: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => flow.couplings.reduce((z, c) => coupling(c, z, 1), w));
}

/** w = F⁻¹(z), shape [n, D]. */
export function flowInverse(flow: Flow, z: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => [...flow.couplings].reverse().reduce((w, c) => coupling(c, w, -1), z));
}

/** One attribute the flow is trained to control. */
export type AttributeSpec =
  /** Binary, labelled ±1 (0 = unlabelled); `positiveShare` is p of the balanced prior. */
  | { kind: 'binary'; positiveShare: number }
  /** Continuous, scaled to [−1, 1]; NaN = unlabelled. */
  | { kind: 'continuous' };

const LOG_SQRT_2PI = 0.5 * Math.log(2 * Math.PI);

function logNormal(x: tf.Tensor, mean: tf.Tensor | number, sigma: number): tf.Tensor {
  const d = tf.div(tf.sub(x, mean), sigma);
  return tf.sub(tf.mul(-0.5, tf.square(d)), Math.log(sigma) + LOG_SQRT_2PI);
}

/**
 * σ of the balanced prior for a binary attribute with positive share p: the rarer value gets
 * the narrower Gaussian, σ₊ = σ·√(2p), σ₋ = σ·√(2(1 − p)) (the reference's `--balanced-prior`).
 */
export function balancedSigmas(sigma: number, positiveShare: number): { positive: number; negative: number } {
  return { positive: sigma * Math.sqrt(2 * positiveShare), negative: sigma * Math.sqrt(2 * (1 - positiveShare)) };
}

/**
 * −mean over the batch of log p(z): per attribute coordinate, log N(c; +1, σ₊) or
 * log N(c; −1, σ₋) by label, the two-Gaussian mixture log((N₊ + N₋)/2 + 1e-6) where the
 * label is missing, log N(c; a, σ) for a continuous value a; log N(s; 0, 1) for the rest.
 * `labels` is [n, K]: ±1 / 0 for binary attributes, a value / NaN for continuous ones.
 */
export function flowLoss(z: tf.Tensor2D, labels: tf.Tensor2D, attributes: readonly AttributeSpec[], sigma: number): tf.Scalar {
  return tf.tidy(() => {
    const k = attributes.length;
    const [n, dim] = z.shape;
    const c = tf.slice(z, [0, 0], [n, k]);
    const s = tf.slice(z, [0, k], [n, dim - k]);
    const terms: tf.Tensor[] = [];
    attributes.forEach((a, j) => {
      const cj = tf.squeeze(tf.slice(c, [0, j], [n, 1]), [1]);
      const yj = tf.squeeze(tf.slice(labels, [0, j], [n, 1]), [1]);
      if (a.kind === 'binary') {
        const { positive, negative } = balancedSigmas(sigma, a.positiveShare);
        const logPos = logNormal(cj, 1, positive);
        const logNeg = logNormal(cj, -1, negative);
        const mixture = tf.log(tf.add(tf.div(tf.add(tf.exp(logPos), tf.exp(logNeg)), 2), 1e-6));
        terms.push(tf.where(tf.greater(yj, 0), logPos, tf.where(tf.less(yj, 0), logNeg, mixture)));
      } else {
        const known = tf.logicalNot(tf.isNaN(yj));
        const safe = tf.where(known, yj, tf.zerosLike(yj));
        terms.push(tf.where(known, logNormal(cj, safe, sigma), tf.zerosLike(cj)));
      }
    });
    const attrLog = terms.length > 0 ? tf.addN(terms) : tf.zeros([n]);
    const styleLog = tf.sum(logNormal(s, 0, 1), 1);
    return tf.neg(tf.mean(tf.add(attrLog, styleLog))) as tf.Scalar;
  });
}

export interface FlowTraining {
  epochs: number;
  batchSize: number;
  /** σ₀ and its per-epoch decay (reference: 0.4 and 0.999). */
  sigma0: number;
  sigmaDecay: number;
  lr: number;
  clipNorm: number;
  seed: number;
}

export const DEFAULT_FLOW_TRAINING: Omit<FlowTraining, 'epochs' | 'seed'> = {
  batchSize: 32,
  sigma0: 0.4,
  sigmaDecay: 0.999,
  lr: 1e-4,
  clipNorm: 1,
};

export function sigmaAt(t: Pick<FlowTraining, 'sigma0' | 'sigmaDecay'>, epoch: number): number {
  return t.sigma0 * t.sigmaDecay ** epoch;
}

/** Scales gradients so that their global L2 norm is at most `maxNorm` (PyTorch's clip_grad_norm_). */
export function clipByGlobalNorm(grads: Record<string, tf.Tensor>, maxNorm: number): Record<string, tf.Tensor> {
  return tf.tidy(() => {
    const names = Object.keys(grads);
    const squares = names.map((k) => tf.sum(tf.square(grads[k] as tf.Tensor)));
    const total = Math.sqrt(squares.length === 0 ? 0 : (tf.addN(squares).dataSync()[0] as number));
    const scale = total > maxNorm ? maxNorm / (total + 1e-6) : 1;
    const out: Record<string, tf.Tensor> = {};
    for (const k of names) out[k] = scale === 1 ? tf.clone(grads[k] as tf.Tensor) : tf.mul(grads[k] as tf.Tensor, scale);
    return out;
  });
}

export interface FlowEpoch {
  epoch: number;
  sigma: number;
  /** Mean loss over the epoch's batches. */
  loss: number;
}

/**
 * Trains the flow on (w, label) pairs: `latents` is [n, D] row-major, `labels` [n, K] in the
 * form flowLoss takes. Shuffles every epoch with the seed; keeps the last partial batch.
 */
export async function trainFlow(
  flow: Flow,
  data: { latents: Float32Array; labels: Float32Array; attributes: readonly AttributeSpec[] },
  t: FlowTraining,
  opts: { onEpoch?: (e: FlowEpoch) => void; cancelled?: () => boolean } = {},
): Promise<FlowEpoch[]> {
  const { dim, attributes: k } = flow.spec;
  if (data.attributes.length !== k) throw new InvalidInputError(`The flow controls ${k} attributes, but ${data.attributes.length} were described.`);
  const n = data.latents.length / dim;
  if (!Number.isInteger(n) || data.labels.length !== n * k) {
    throw new InvalidInputError(`The training pairs do not line up: ${data.latents.length} latent numbers (${dim} each) and ${data.labels.length} labels (${k} each).`);
  }
  const optimizer = tf.train.adam(t.lr, 0.9, 0.999, 1e-8);
  const rng = new Rng(t.seed).fork('flow-training');
  const order = Array.from({ length: n }, (_, i) => i);
  const history: FlowEpoch[] = [];
  try {
    for (let epoch = 0; epoch < t.epochs; epoch++) {
      const sigma = sigmaAt(t, epoch);
      rng.fork(`epoch-${epoch}`).shuffle(order);
      let sum = 0;
      let batches = 0;
      for (let start = 0; start < n; start += t.batchSize) {
        if (opts.cancelled?.()) return history;
        const rows = order.slice(start, start + t.batchSize);
        const w = new Float32Array(rows.length * dim);
        const y = new Float32Array(rows.length * k);
        rows.forEach((r, i) => {
          w.set(data.latents.subarray(r * dim, (r + 1) * dim), i * dim);
          y.set(data.labels.subarray(r * k, (r + 1) * k), i * k);
        });
        const wt = tf.tensor2d(w, [rows.length, dim]);
        const yt = tf.tensor2d(y, [rows.length, k]);
        const { value, grads } = tf.variableGrads(() => flowLoss(flowForward(flow, wt), yt, data.attributes, sigma), flow.variables);
        const clipped = clipByGlobalNorm(grads, t.clipNorm);
        optimizer.applyGradients(Object.entries(clipped).map(([name, tensor]) => ({ name, tensor })));
        sum += (await value.data())[0] as number;
        batches++;
        tf.dispose([wt, yt, value, ...Object.values(grads), ...Object.values(clipped)]);
      }
      const e = { epoch, sigma, loss: sum / Math.max(1, batches) };
      history.push(e);
      opts.onEpoch?.(e);
    }
    return history;
  } finally {
    optimizer.dispose();
  }
}

/**
 * Latents for the attribute values asked for: c = `values` (one row per sample, K numbers),
 * s ~ N(0, τ²I) from the seed, w = F⁻¹(c, s). Returns [n, D].
 */
export function sampleLatents(flow: Flow, values: readonly (readonly number[])[], tau: number, seed: number): tf.Tensor2D {
  const { dim, attributes: k } = flow.spec;
  const rng = new Rng(seed).fork('flow-sample');
  const z = new Float32Array(values.length * dim);
  values.forEach((row, i) => {
    if (row.length !== k) throw new InvalidInputError(`Sample ${i + 1} asks for ${row.length} attribute values; the flow controls ${k}.`);
    for (let j = 0; j < dim; j++) z[i * dim + j] = j < k ? (row[j] as number) : tau * rng.normal();
  });
  return tf.tidy(() => flowInverse(flow, tf.tensor2d(z, [values.length, dim])));
}

/**
 * Editing: w' = F⁻¹(c', s) where (c, s) = F(w) and c' is c with `attribute` set to `value`,
 * every other coordinate kept.
 */
export function editLatents(flow: Flow, w: tf.Tensor2D, attribute: number, value: number): tf.Tensor2D {
  const { attributes: k } = flow.spec;
  if (!Number.isInteger(attribute) || attribute < 0 || attribute >= k) {
    throw new InvalidInputError(`Attribute ${attribute} is not one of the flow's ${k} attributes.`);
  }
  return tf.tidy(() => {
    const z = flowForward(flow, w);
    const [n, dim] = z.shape;
    const column = tf.oneHot(tf.fill([n], attribute, 'int32'), dim) as tf.Tensor2D;
    const edited = tf.add(tf.mul(z, tf.sub(1, column)), tf.mul(column, value));
    return flowInverse(flow, edited as tf.Tensor2D);
  });
}
