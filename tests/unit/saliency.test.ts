/**
 * Saliency maps on the cpu backend: the wasm backend lacks convolution gradients in Node
 * until the custom kernels land, and every method here takes a gradient. Tiny sizes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../src/lib/compute/backends';
import { tf } from '../../src/lib/compute/register';
import { Rng } from '../../src/lib/data/rng';
import type { InputSpec } from '../../src/lib/storage/records';
import { buildModel, type HearthModel } from '../../src/lib/train/models';
import {
  gradCam,
  inferno,
  overlayHeatmap,
  smoothGrad,
  vanillaGradient,
  type SaliencyMap,
} from '../../src/lib/evaluate/saliency';

const MNIST: InputSpec = { width: 28, height: 28, channels: 1, resize: 'stretch' };
const CIFAR: InputSpec = { width: 32, height: 32, channels: 3, resize: 'stretch' };
const CLASSES = 10;
/**
 * The input region that feeds pool2's top-left cell in LeNet on 28×28:
 * pool2[0,0] ← conv2 rows/cols 0–1 ← (5×5) pool1 0–5 ← (×2) conv1 0–11 ← (5×5) input 0–15.
 */
const REGION_SIDE_PX = 16;
const CONV2_FILTERS = 20;

function randomBatch(input: InputSpec, n: number, seed: number): tf.Tensor4D {
  const rng = new Rng(seed);
  const values = new Float32Array(n * input.height * input.width * input.channels);
  for (let i = 0; i < values.length; i++) values[i] = rng.next();
  return tf.tensor4d(values, [n, input.height, input.width, input.channels]);
}

/** Runs `fn` and checks it left the live tensor count as it found it. */
function noLeak<T>(fn: () => T): T {
  const before = tf.memory().numTensors;
  const out = fn();
  expect(tf.memory().numTensors).toBe(before);
  return out;
}

function expectUnitRange(map: SaliencyMap, input: InputSpec): void {
  expect(map.width).toBe(input.width);
  expect(map.height).toBe(input.height);
  expect(map.values).toBeInstanceOf(Float32Array);
  expect(map.values.length).toBe(input.width * input.height);
  let max = -Infinity;
  for (const v of map.values) {
    expect(v).toBeGreaterThanOrEqual(0);
    expect(v).toBeLessThanOrEqual(1);
    max = Math.max(max, v);
  }
  expect(max).toBeCloseTo(1, 6);
}

/**
 * A LeNet whose dense1 reads only the top-left cell of pool2 (every other row of its
 * kernel zeroed) and whose dense1 units are all switched on (bias +10, so that layer is
 * linear): only the top-left 16×16 pixels can move the logits.
 */
function regionLeNet(): HearthModel {
  const m = buildModel({ kind: 'lenet', input: MNIST, numClasses: CLASSES, seed: 3 });
  const dense1 = m.model.getLayer('dense1');
  const [kernel, bias] = dense1.getWeights();
  const masked = tf.tidy(() => {
    // NHWC flatten: row (h·4 + w)·20 + c, so the cell (0, 0) is rows 0–19.
    const keep = tf.concat([tf.ones([CONV2_FILTERS, 1]), tf.zeros([(kernel?.shape[0] ?? 0) - CONV2_FILTERS, 1])]);
    return [tf.mul(kernel as tf.Tensor, keep), tf.add(bias as tf.Tensor, 10)];
  });
  dense1.setWeights(masked);
  tf.dispose(masked);
  return m;
}

let lenet: HearthModel;
let regional: HearthModel;
let resnet: HearthModel;
let mobilenet: HearthModel;

beforeAll(async () => {
  await useBackend('cpu');
  lenet = buildModel({ kind: 'lenet', input: MNIST, numClasses: CLASSES, seed: 1 });
  regional = regionLeNet();
  resnet = buildModel({ kind: 'resnet-small', input: CIFAR, numClasses: CLASSES, seed: 2 });
  mobilenet = buildModel({ kind: 'mobilenet-v1', input: MNIST, numClasses: CLASSES, seed: 4 });
});

afterAll(() => {
  for (const m of [lenet, regional, resnet, mobilenet]) m.dispose();
});

describe('vanillaGradient', () => {
  it('is zero outside the only region that matters and peaks inside it', () => {
    const x = randomBatch(MNIST, 1, 10);
    const [map] = noLeak(() => vanillaGradient(regional, x, 3));
    tf.dispose(x);
    if (!map) throw new Error('no map');
    expectUnitRange(map, MNIST);
    expect(map.targetClass).toBe(3);
    let insideNonZero = 0;
    let argMax = 0;
    map.values.forEach((v, i) => {
      const row = Math.floor(i / MNIST.width);
      const col = i % MNIST.width;
      if (row < REGION_SIDE_PX && col < REGION_SIDE_PX) {
        if (v > 0) insideNonZero++;
      } else {
        expect(v).toBe(0);
      }
      if (v > (map.values[argMax] as number)) argMax = i;
    });
    expect(Math.floor(argMax / MNIST.width)).toBeLessThan(REGION_SIDE_PX);
    expect(argMax % MNIST.width).toBeLessThan(REGION_SIDE_PX);
    // Not a single lucky pixel: the gradient spreads over the region.
    expect(insideNonZero).toBeGreaterThan(20);
  });

  it('explains the predicted class by default, one map per image, and takes per-image classes', () => {
    const x = randomBatch(MNIST, 2, 11);
    const predicted = tf.tidy(() => {
      const { logits, features } = lenet.forward(x, { activations: [] });
      features.dispose();
      return Array.from(tf.argMax(logits, 1).dataSync());
    });
    const maps = noLeak(() => vanillaGradient(lenet, x));
    expect(maps.map((m) => m.targetClass)).toEqual(predicted);
    maps.forEach((m) => expectUnitRange(m, MNIST));
    const explicit = noLeak(() => vanillaGradient(lenet, x, [0, 9]));
    expect(explicit.map((m) => m.targetClass)).toEqual([0, 9]);
    // Different classes of the same image lean on different pixels.
    expect(Array.from(explicit[0]?.values ?? [])).not.toEqual(Array.from(explicit[1]?.values ?? []));
    // Each map is its own buffer, so one can be transferred without the other.
    expect(maps[0]?.values.buffer).not.toBe(maps[1]?.values.buffer);
    tf.dispose(x);
  });

  it('on colour input is the max over channels of |∂logit/∂x| through the plain model, normalised', () => {
    // LeNet, not the ResNet: an input gradient through the ResNet takes seconds on cpu.
    const colour = buildModel({ kind: 'lenet', input: CIFAR, numClasses: CLASSES, seed: 8 });
    const x = randomBatch(CIFAR, 1, 13);
    const cls = 5;
    const [map] = noLeak(() => vanillaGradient(colour, x, cls));
    // The reference goes through `colour.model` directly, not through forward().
    const expected = tf.tidy(() => {
      const g = tf.grad((xi: tf.Tensor) => tf.slice(colour.model.apply(xi) as tf.Tensor2D, [0, cls], [1, 1]).sum())(x);
      const perPixel = tf.max(tf.abs(g), 3);
      return tf.div(perPixel, tf.max(perPixel)).dataSync();
    });
    let maxDiff = 0;
    map?.values.forEach((v, i) => (maxDiff = Math.max(maxDiff, Math.abs(v - (expected[i] as number)))));
    expect(maxDiff).toBeLessThan(1e-5);
    tf.dispose(x);
    colour.dispose();
  });

  it('refuses a class the model does not have and an input of the wrong size', () => {
    const x = randomBatch(MNIST, 1, 12);
    const wrong = randomBatch(CIFAR, 1, 12);
    noLeak(() => {
      expect(() => vanillaGradient(lenet, x, 10)).toThrow(expect.objectContaining({ name: 'InvalidInputError' }));
      expect(() => vanillaGradient(lenet, x, [1, 2])).toThrow(expect.objectContaining({ name: 'InvalidInputError' }));
      expect(() => vanillaGradient(lenet, wrong)).toThrow(expect.objectContaining({ name: 'InvalidInputError' }));
    });
    tf.dispose([x, wrong]);
  });
});

describe('smoothGrad', () => {
  it('is deterministic for a seed and changes with it', () => {
    const x = randomBatch(MNIST, 1, 20);
    const opts = { samples: 4, noiseStd: 0.15 };
    const a = noLeak(() => smoothGrad(lenet, x, 2, { ...opts, seed: 5 }));
    const b = noLeak(() => smoothGrad(lenet, x, 2, { ...opts, seed: 5 }));
    const c = noLeak(() => smoothGrad(lenet, x, 2, { ...opts, seed: 6 }));
    expectUnitRange(a[0] as SaliencyMap, MNIST);
    expect(Array.from(a[0]?.values ?? [])).toEqual(Array.from(b[0]?.values ?? []));
    expect(Array.from(a[0]?.values ?? [])).not.toEqual(Array.from(c[0]?.values ?? []));
    tf.dispose(x);
  });

  it('with one noiseless sample is the vanilla gradient', () => {
    const x = randomBatch(MNIST, 1, 21);
    const [smooth] = smoothGrad(lenet, x, 4, { samples: 1, noiseStd: 0, seed: 1 });
    const [vanilla] = vanillaGradient(lenet, x, 4);
    const s = smooth?.values ?? new Float32Array();
    const v = vanilla?.values ?? new Float32Array();
    expect(s.length).toBe(v.length);
    s.forEach((value, i) => expect(value).toBeCloseTo(v[i] as number, 6));
    tf.dispose(x);
  });

  it('keeps the region property of the crafted model under noise', () => {
    const x = randomBatch(MNIST, 1, 22);
    const [map] = noLeak(() => smoothGrad(regional, x, 1, { samples: 3, seed: 9 }));
    map?.values.forEach((v, i) => {
      if (Math.floor(i / MNIST.width) >= REGION_SIDE_PX || i % MNIST.width >= REGION_SIDE_PX) expect(v).toBe(0);
    });
    expect(Math.max(...(map?.values ?? []))).toBeCloseTo(1, 6);
    tf.dispose(x);
  });

  it('refuses a sample count below 1 and a negative noise level', () => {
    const x = randomBatch(MNIST, 1, 23);
    expect(() => smoothGrad(lenet, x, 0, { samples: 0, seed: 1 })).toThrow(expect.objectContaining({ name: 'InvalidInputError' }));
    expect(() => smoothGrad(lenet, x, 0, { noiseStd: -0.1, seed: 1 })).toThrow(expect.objectContaining({ name: 'InvalidInputError' }));
    tf.dispose(x);
  });
});

describe('gradCam', () => {
  it('gives maps of the input size in [0, 1] for every model kind', () => {
    const cases: [HearthModel, InputSpec][] = [
      [lenet, MNIST],
      [resnet, CIFAR],
      [mobilenet, MNIST],
    ];
    for (const [m, input] of cases) {
      const x = randomBatch(input, 2, 30);
      const maps = noLeak(() => gradCam(m, x));
      expect(maps).toHaveLength(2);
      maps.forEach((map) => expectUnitRange(map, input));
      tf.dispose(x);
    }
  });

  it('equals CAM on the ResNet, whose head is linear after global average pooling', () => {
    // With logits = W·GAP(A) + b, ∂logit_c/∂A^k_ij = W[k,c]/(h·w), so α_k ∝ W[k,c] and
    // Grad-CAM reduces to CAM (Zhou et al. 2016), as Selvaraju et al. show: an
    // independent computation from the head weights and the stage3 activations.
    const x = randomBatch(CIFAR, 1, 31);
    const cls = 7;
    const [map] = noLeak(() => gradCam(resnet, x, cls));
    const expected = tf.tidy(() => {
      const { logits, features, activations } = resnet.forward(x, { activations: ['stage3'] });
      tf.dispose([logits, features]);
      const a = activations.stage3 as tf.Tensor4D;
      const w = tf.reshape(tf.slice(resnet.head().kernel, [0, cls], [-1, 1]), [1, 1, 1, -1]);
      const cam = tf.relu(tf.sum(tf.mul(a, w), 3, true)) as tf.Tensor4D;
      const up = tf.image.resizeBilinear(cam, [CIFAR.height, CIFAR.width], false, true);
      return tf.div(up, tf.max(up)).dataSync();
    });
    expect(map?.targetClass).toBe(cls);
    const got = map?.values ?? new Float32Array();
    expect(got.length).toBe(expected.length);
    let maxDiff = 0;
    got.forEach((v, i) => (maxDiff = Math.max(maxDiff, Math.abs(v - (expected[i] as number)))));
    expect(maxDiff).toBeLessThan(1e-4);
    tf.dispose(x);
  });

  it('takes another convolutional layer and refuses one without a spatial output', () => {
    const x = randomBatch(MNIST, 1, 32);
    const [early] = noLeak(() => gradCam(lenet, x, 1, { layer: 'conv1' }));
    const [late] = gradCam(lenet, x, 1);
    expectUnitRange(early as SaliencyMap, MNIST);
    expect(Array.from(early?.values ?? [])).not.toEqual(Array.from(late?.values ?? []));
    noLeak(() => {
      expect(() => gradCam(lenet, x, 1, { layer: 'dense1' })).toThrow(
        expect.objectContaining({ name: 'InvalidInputError', message: expect.stringMatching(/conv2/) }),
      );
      expect(() => gradCam(lenet, x, 1, { layer: 'nope' })).toThrow(expect.objectContaining({ name: 'InvalidInputError' }));
    });
    tf.dispose(x);
  });
});

describe('inferno', () => {
  it("matches matplotlib's inferno within 12 of 255", () => {
    // /usr/bin/python3 -c "from matplotlib import cm; print([cm.inferno(t)[:3] for t in
    //   (0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0)])"  (matplotlib 3.6.3), ×255.
    const golden: [number, [number, number, number]][] = [
      [0.0, [0.4, 0.1, 3.5]],
      [0.1, [22.3, 11.4, 57.3]],
      [0.25, [87.1, 15.9, 109.5]],
      [0.5, [187.6, 55.1, 84.2]],
      [0.75, [249.5, 142.3, 8.9]],
      [0.9, [245.9, 215.2, 69.7]],
      [1.0, [252.0, 254.6, 164.5]],
    ];
    for (const [t, rgb] of golden) {
      const got = inferno(t);
      rgb.forEach((v, ch) => expect(Math.abs((got[ch] as number) - v), `t=${t} channel ${ch}`).toBeLessThan(12));
    }
  });

  it('grows brighter monotonically, so heat reads as brightness in grey too', () => {
    let previous = -1;
    for (let t = 0; t <= 1.0001; t += 0.02) {
      const [r, g, b] = inferno(t);
      const luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b;
      expect(luminance).toBeGreaterThan(previous);
      previous = luminance;
    }
  });

  it('clamps outside [0, 1]', () => {
    expect(inferno(-3)).toEqual(inferno(0));
    expect(inferno(7)).toEqual(inferno(1));
  });
});

describe('overlayHeatmap', () => {
  const input: InputSpec = { width: 2, height: 2, channels: 3, resize: 'stretch' };
  const pixels = Uint8Array.from([10, 20, 30, 40, 50, 60, 70, 80, 90, 200, 210, 220]);
  const heat: SaliencyMap = { width: 2, height: 2, values: Float32Array.from([0, 0.25, 0.75, 1]), targetClass: 0 };

  it('with alpha 0 is the image, with alpha 1 the colour map, always opaque', () => {
    const image = overlayHeatmap(pixels, heat, input, { alpha: 0 });
    expect(Array.from(image)).toEqual([10, 20, 30, 255, 40, 50, 60, 255, 70, 80, 90, 255, 200, 210, 220, 255]);
    const colours = overlayHeatmap(pixels, heat, input, { alpha: 1 });
    heat.values.forEach((h, p) => {
      const [r, g, b] = inferno(h);
      expect(Math.abs((colours[p * 4] as number) - r)).toBeLessThanOrEqual(0.5);
      expect(Math.abs((colours[p * 4 + 1] as number) - g)).toBeLessThanOrEqual(0.5);
      expect(Math.abs((colours[p * 4 + 2] as number) - b)).toBeLessThanOrEqual(0.5);
      expect(colours[p * 4 + 3]).toBe(255);
    });
  });

  it('blends in between and shows a grey image as grey RGB', () => {
    const grey: InputSpec = { ...input, channels: 1 };
    const out = overlayHeatmap(Uint8Array.from([0, 100, 200, 255]), heat, grey, { alpha: 0.5 });
    const [r, g, b] = inferno(1);
    expect(out[12]).toBeCloseTo((255 + r) / 2, 0);
    expect(out[13]).toBeCloseTo((255 + g) / 2, 0);
    expect(out[14]).toBeCloseTo((255 + b) / 2, 0);
    expect(out.length).toBe(16);
  });

  it('refuses a heat map of another size and an alpha outside [0, 1]', () => {
    const small: SaliencyMap = { width: 1, height: 1, values: new Float32Array(1), targetClass: 0 };
    expect(() => overlayHeatmap(pixels, small, input)).toThrow(expect.objectContaining({ name: 'InvalidInputError' }));
    expect(() => overlayHeatmap(pixels, heat, input, { alpha: 2 })).toThrow(expect.objectContaining({ name: 'InvalidInputError' }));
    expect(() => overlayHeatmap(pixels.subarray(1), heat, input)).toThrow(expect.objectContaining({ name: 'InvalidInputError' }));
  });
});
