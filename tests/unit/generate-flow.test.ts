import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../src/lib/compute/backends';
import { tf } from '../../src/lib/compute/register';
import { Rng } from '../../src/lib/data/rng';
import {
  DEFAULT_FLOW,
  DEFAULT_FLOW_TRAINING,
  balancedSigmas,
  clipByGlobalNorm,
  createFlow,
  disposeFlow,
  editLatents,
  flowForward,
  flowInverse,
  flowLoss,
  sampleLatents,
  sigmaAt,
  trainFlow,
} from '../../src/lib/generate/flow';

const LOG_SQRT_2PI = 0.5 * Math.log(2 * Math.PI);

function normals(n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => rng.normal());
}

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] as number);
}

beforeAll(async () => {
  await useBackend('cpu');
});

describe('the NICE flow', () => {
  it('is invertible to 1e-5 with the issue’s shape (4 couplings, 4-layer MLPs, 256 hidden)', () => {
    const flow = createFlow({ dim: 64, attributes: 3, ...DEFAULT_FLOW, seed: 3 });
    const w = tf.tensor2d(normals(16 * 64, 1), [16, 64]);
    const z = flowForward(flow, w);
    const back = flowInverse(flow, z);
    expect(maxAbsDiff(back, w)).toBeLessThan(1e-5);
    expect(maxAbsDiff(flowForward(flow, flowInverse(flow, w)), w)).toBeLessThan(1e-5);
    // …and it is not the identity: every coupling moves the other parity.
    expect(maxAbsDiff(z, w)).toBeGreaterThan(0.05);
    expect(flow.variables.length).toBe(4 * 4 * 2);
    tf.dispose([w, z, back]);
    disposeFlow(flow);
  });

  it('is the same for the same seed', () => {
    const a = createFlow({ dim: 8, attributes: 2, couplings: 2, layers: 3, hidden: 16, seed: 9 });
    const b = createFlow({ dim: 8, attributes: 2, couplings: 2, layers: 3, hidden: 16, seed: 9 });
    a.variables.forEach((v, i) => expect(Array.from(v.dataSync())).toEqual(Array.from((b.variables[i] as tf.Variable).dataSync())));
    disposeFlow(a);
    disposeFlow(b);
  });

  it('refuses a shape it cannot build, saying why', () => {
    expect(() => createFlow({ dim: 8, attributes: 8, ...DEFAULT_FLOW, seed: 1 })).toThrow(/control 1 to 7 attributes, not 8/);
  });
});

describe('the loss', () => {
  it('is −Σ log N over the coordinates, by label, with the balanced prior', () => {
    // p = 0.5: σ₊ = σ₋ = σ. z = (c, s) = (1, 0) labelled +1 with σ = 0.5:
    //   log N(1; 1, 0.5) = −ln 0.5 − ln√(2π);  log N(0; 0, 1) = −ln√(2π).
    const z = tf.tensor2d([[1, 0]]);
    const pos = flowLoss(z, tf.tensor2d([[1]]), [{ kind: 'binary', positiveShare: 0.5 }], 0.5).dataSync()[0] as number;
    expect(pos).toBeCloseTo(-(-Math.log(0.5) - LOG_SQRT_2PI - LOG_SQRT_2PI), 5);
    // Labelled −1: log N(1; −1, 0.5) = −½·16 − ln 0.5 − ln√(2π).
    const neg = flowLoss(z, tf.tensor2d([[-1]]), [{ kind: 'binary', positiveShare: 0.5 }], 0.5).dataSync()[0] as number;
    expect(neg).toBeCloseTo(-(-8 - Math.log(0.5) - LOG_SQRT_2PI - LOG_SQRT_2PI), 4);
    // Unlabelled (0): log((N₊ + N₋)/2 + 1e-6).
    const nPos = Math.exp(-Math.log(0.5) - LOG_SQRT_2PI);
    const nNeg = Math.exp(-8 - Math.log(0.5) - LOG_SQRT_2PI);
    const none = flowLoss(z, tf.tensor2d([[0]]), [{ kind: 'binary', positiveShare: 0.5 }], 0.5).dataSync()[0] as number;
    expect(none).toBeCloseTo(-(Math.log((nPos + nNeg) / 2 + 1e-6) - LOG_SQRT_2PI), 4);
    // Continuous 0.2 with σ = 0.5; NaN means unlabelled and adds nothing.
    const cont = flowLoss(z, tf.tensor2d([[0.2]]), [{ kind: 'continuous' }], 0.5).dataSync()[0] as number;
    expect(cont).toBeCloseTo(-(-0.5 * (0.8 / 0.5) ** 2 - Math.log(0.5) - LOG_SQRT_2PI - LOG_SQRT_2PI), 4);
    const nan = flowLoss(z, tf.tensor2d([[Number.NaN]]), [{ kind: 'continuous' }], 0.5).dataSync()[0] as number;
    expect(nan).toBeCloseTo(LOG_SQRT_2PI, 5);
  });

  it('gives the rarer value the narrower Gaussian, and decays σ per epoch', () => {
    const s = balancedSigmas(0.4, 0.1);
    expect(s.positive).toBeCloseTo(0.4 * Math.sqrt(0.2), 12);
    expect(s.negative).toBeCloseTo(0.4 * Math.sqrt(1.8), 12);
    expect(sigmaAt(DEFAULT_FLOW_TRAINING, 0)).toBe(0.4);
    expect(sigmaAt(DEFAULT_FLOW_TRAINING, 1000)).toBeCloseTo(0.4 * 0.999 ** 1000, 12);
  });

  it('clips the gradient to a global norm', () => {
    const clipped = clipByGlobalNorm({ a: tf.tensor1d([3]), b: tf.tensor1d([4]) }, 1);
    expect(clipped.a?.dataSync()[0]).toBeCloseTo(0.6, 5);
    expect(clipped.b?.dataSync()[0]).toBeCloseTo(0.8, 5);
    const kept = clipByGlobalNorm({ a: tf.tensor1d([0.3]) }, 1);
    expect(kept.a?.dataSync()[0]).toBeCloseTo(0.3, 6);
  });

  it('moves c toward ±1 by label on a toy 2-D case', async () => {
    // Two clusters in a 2-D latent, label +1 around (1.5, 1), −1 around (−1, −1.5).
    const n = 256;
    const rng = new Rng(5);
    const latents = new Float32Array(n * 2);
    const labels = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const y = i % 2 === 0 ? 1 : -1;
      labels[i] = y;
      latents[i * 2] = (y > 0 ? 1.5 : -1) + 0.3 * rng.normal();
      latents[i * 2 + 1] = (y > 0 ? 1 : -1.5) + 0.3 * rng.normal();
    }
    const flow = createFlow({ dim: 2, attributes: 1, couplings: 4, layers: 3, hidden: 32, seed: 2 });
    const cByLabel = (): { pos: number; neg: number } =>
      tf.tidy(() => {
        const c = flowForward(flow, tf.tensor2d(latents, [n, 2])).dataSync();
        let pos = 0;
        let neg = 0;
        for (let i = 0; i < n; i++) {
          if ((labels[i] as number) > 0) pos += (c[i * 2] as number) / (n / 2);
          else neg += (c[i * 2] as number) / (n / 2);
        }
        return { pos, neg };
      });
    const before = cByLabel();
    const tensors = tf.memory().numTensors;
    const history = await trainFlow(
      flow,
      { latents, labels, attributes: [{ kind: 'binary', positiveShare: 0.5 }] },
      { ...DEFAULT_FLOW_TRAINING, lr: 3e-3, epochs: 40, seed: 1 },
    );
    // Training leaves no tensor behind (Adam's slots go with its optimizer).
    expect(tf.memory().numTensors).toBe(tensors);
    const after = cByLabel();
    expect((history.at(-1)?.loss ?? Infinity) < (history[0]?.loss ?? -Infinity)).toBe(true);
    expect(Math.abs(after.pos - 1)).toBeLessThan(Math.abs(before.pos - 1));
    expect(Math.abs(after.neg + 1)).toBeLessThan(Math.abs(before.neg + 1));
    expect(after.pos).toBeGreaterThan(0.6);
    expect(after.neg).toBeLessThan(-0.6);
    disposeFlow(flow);
  });
});

describe('sampling and editing', () => {
  it('decodes to latents whose attribute coordinates are the values asked for', () => {
    const flow = createFlow({ dim: 16, attributes: 2, couplings: 4, layers: 3, hidden: 32, seed: 4 });
    const asked = [
      [1, -1],
      [-1, 1],
      [0.3, 0.7],
    ];
    const w = sampleLatents(flow, asked, 0.7, 11);
    const c = tf.tidy(() => tf.slice(flowForward(flow, w), [0, 0], [3, 2]).arraySync()) as number[][];
    c.forEach((row, i) => row.forEach((v, j) => expect(v).toBeCloseTo(asked[i]?.[j] as number, 4)));
    // Same seed, same latents.
    expect(maxAbsDiff(sampleLatents(flow, asked, 0.7, 11), w)).toBe(0);
    disposeFlow(flow);
  });

  it('edits one attribute and keeps every other coordinate', () => {
    const flow = createFlow({ dim: 16, attributes: 3, couplings: 4, layers: 3, hidden: 32, seed: 6 });
    const w = tf.tensor2d(normals(4 * 16, 8), [4, 16]);
    const edited = editLatents(flow, w, 1, 1);
    const before = flowForward(flow, w).arraySync() as number[][];
    const after = flowForward(flow, edited).arraySync() as number[][];
    after.forEach((row, i) =>
      row.forEach((v, j) => expect(v).toBeCloseTo(j === 1 ? 1 : (before[i]?.[j] as number), 4)),
    );
    expect(() => editLatents(flow, w, 3, 1)).toThrow(/not one of the flow's 3 attributes/);
    disposeFlow(flow);
  });
});
