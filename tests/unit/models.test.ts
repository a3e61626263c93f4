/**
 * The three model families on the cpu backend (the wasm backend cannot yet take
 * convolution gradients in Node, and these tests also exercise training-mode BatchNorm).
 * Batches and sizes are tiny: correctness lives here, speed in benchmarks.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../src/lib/compute/backends';
import { tf } from '../../src/lib/compute/register';
import { Rng } from '../../src/lib/data/rng';
import type { Channels, InputSpec } from '../../src/lib/storage/records';
import {
  buildModel,
  mobileNetStrides,
  pixelsToInput,
  type HearthModel,
  type ModelSpec,
} from '../../src/lib/train/models';
import type { ModelKind } from '../../src/lib/train/spec';

const BATCH = 2;
const CLASSES = 10;

function inputSpec(side: number, channels: Channels): InputSpec {
  return { width: side, height: side, channels, resize: 'stretch' };
}

function spec(kind: ModelKind, side: number, channels: Channels, seed = 7): ModelSpec {
  return { kind, input: inputSpec(side, channels), numClasses: CLASSES, seed };
}

/** Seeded uniform pixels in [0, 1], NHWC. */
function randomBatch(input: InputSpec, n: number, seed: number): tf.Tensor4D {
  const rng = new Rng(seed);
  const values = new Float32Array(n * input.height * input.width * input.channels);
  for (let i = 0; i < values.length; i++) values[i] = rng.next();
  return tf.tensor4d(values, [n, input.height, input.width, input.channels]);
}

/** Every weight of the model, by its layer-qualified order, as plain arrays. */
function weightValues(m: HearthModel): Float32Array[] {
  return m.model.getWeights().map((w) => w.dataSync() as Float32Array);
}

function disposeResult(r: ReturnType<HearthModel['forward']>): void {
  tf.dispose([r.logits, r.features, ...Object.values(r.activations)]);
}

const built: HearthModel[] = [];
function build(s: ModelSpec): HearthModel {
  const m = buildModel(s);
  built.push(m);
  return m;
}

beforeAll(async () => {
  await useBackend('cpu');
});

afterEach(() => {
  for (const m of built.splice(0)) m.dispose();
});

describe('output shapes', () => {
  const cases: [ModelKind, number, Channels, number][] = [
    // [kind, side, channels, penultimate feature width]
    ['lenet', 28, 1, 50],
    ['lenet', 32, 3, 50],
    ['resnet-small', 28, 1, 64],
    ['resnet-small', 32, 3, 64],
    ['mobilenet-v1', 28, 1, 256],
    ['mobilenet-v1', 32, 3, 256],
    ['mobilenet-v1', 96, 3, 256],
  ];
  for (const [kind, side, channels, featureWidth] of cases) {
    it(`${kind} on ${side}×${side}×${channels} gives logits [N, ${CLASSES}] and features [N, ${featureWidth}]`, () => {
      const m = build(spec(kind, side, channels));
      const x = randomBatch(m.spec.input, BATCH, 1);
      const r = m.forward(x);
      expect(r.logits.shape).toEqual([BATCH, CLASSES]);
      expect(r.features.shape).toEqual([BATCH, featureWidth]);
      expect(Object.keys(r.activations)).toEqual([...m.activationLayers]);
      const logits = r.logits.dataSync();
      expect(logits.every(Number.isFinite)).toBe(true);
      // Two different images must not collapse to the same logits (a dead network would).
      expect(Array.from(logits.slice(0, CLASSES))).not.toEqual(Array.from(logits.slice(CLASSES)));
      // The plain model computes the same logits as the multi-output view.
      const direct = m.model.predict(x) as tf.Tensor;
      expect(tf.max(tf.abs(tf.sub(direct, r.logits))).dataSync()[0]).toBeLessThan(1e-5);
      tf.dispose([x, direct]);
      disposeResult(r);
    });
  }
});

describe('parameter counts', () => {
  it('LeNet on 28×28×1 has 21,840 parameters', () => {
    // conv1: 5·5·1·10 + 10 = 260; conv2: 5·5·10·20 + 20 = 5,020;
    // 28 → conv 24 → pool 12 → conv 8 → pool 4, so flatten = 4·4·20 = 320;
    // dense1: 320·50 + 50 = 16,050; head: 50·10 + 10 = 510.
    // 260 + 5,020 + 16,050 + 510 = 21,840.
    expect(build(spec('lenet', 28, 1)).paramCount()).toBe(21_840);
  });

  it('LeNet on 32×32×3 has 31,340 parameters', () => {
    // conv1: 5·5·3·10 + 10 = 760; conv2: 5,020; 32 → 28 → 14 → 10 → 5, flatten 5·5·20 = 500;
    // dense1: 500·50 + 50 = 25,050; head: 510. 760 + 5,020 + 25,050 + 510 = 31,340.
    expect(build(spec('lenet', 32, 3)).paramCount()).toBe(31_340);
  });

  it('the small ResNet on 28×28×1 has 176,090 parameters', () => {
    // BatchNorm holds 4 numbers per channel (γ, β, moving mean, moving variance).
    // stem: 3·3·1·16 + BN 64 = 208.
    // stage 1, per block: 2 convs 3·3·16·16 = 2·2,304 + 2 BN 2·64 = 4,736; ×2 = 9,472.
    // stage 2 block 1: 3·3·16·32 = 4,608 + 3·3·32·32 = 9,216 + 2 BN 256 + proj 16·32 = 512
    //   + BN 128 = 14,720; block 2: 2·9,216 + 256 = 18,688. Stage: 33,408.
    // stage 3 block 1: 18,432 + 36,864 + 512 + proj 2,048 + 256 = 58,112; block 2:
    //   2·36,864 + 512 = 74,240. Stage: 132,352.
    // head: 64·10 + 10 = 650. Total 208 + 9,472 + 33,408 + 132,352 + 650 = 176,090.
    expect(build(spec('resnet-small', 28, 1)).paramCount()).toBe(176_090);
  });
});

describe('seeded initialisation', () => {
  for (const kind of ['lenet', 'resnet-small', 'mobilenet-v1'] as const) {
    it(`${kind}: the same spec gives bitwise-identical weights, another seed different ones`, () => {
      const a = weightValues(build(spec(kind, 28, 1, 42)));
      const b = weightValues(build(spec(kind, 28, 1, 42)));
      const c = weightValues(build(spec(kind, 28, 1, 43)));
      expect(a.length).toBe(b.length);
      a.forEach((w, i) => {
        expect(Buffer.from(w.buffer).equals(Buffer.from((b[i] as Float32Array).buffer))).toBe(true);
      });
      // Every randomly initialised weight changes with the seed (BatchNorm's constants do not).
      const randomIndices = a.map((w, i) => i).filter((i) => new Set(a[i]).size > 1);
      expect(randomIndices.length).toBeGreaterThan(1);
      for (const i of randomIndices) expect(Array.from(c[i] as Float32Array)).not.toEqual(Array.from(a[i] as Float32Array));
    });
  }

  it('layers of the same shape get different initial weights (a seed per layer)', () => {
    const m = build(spec('resnet-small', 28, 1));
    const first = m.model.getLayer('s1b1_conv1').getWeights()[0]?.dataSync();
    const second = m.model.getLayer('s1b1_conv2').getWeights()[0]?.dataSync();
    expect(first?.length).toBe(3 * 3 * 16 * 16);
    expect(Array.from(first ?? [])).not.toEqual(Array.from(second ?? []));
  });
});

describe('forward', () => {
  it('LeNet exposes conv1/conv2 (ReLU before pooling), the pools and dense1', () => {
    const m = build(spec('lenet', 28, 1));
    const x = randomBatch(m.spec.input, BATCH, 2);
    const r = m.forward(x, { activations: ['conv1', 'pool1', 'conv2', 'pool2', 'dense1'] });
    const shapes = Object.fromEntries(Object.entries(r.activations).map(([k, v]) => [k, v.shape]));
    expect(shapes).toEqual({
      conv1: [BATCH, 24, 24, 10],
      pool1: [BATCH, 12, 12, 10],
      conv2: [BATCH, 8, 8, 20],
      pool2: [BATCH, 4, 4, 20],
      dense1: [BATCH, 50],
    });
    expect(r.features.shape).toEqual([BATCH, 50]);
    // dense1 is also the penultimate layer: same values, but separate handles to dispose.
    expect(r.activations.dense1).not.toBe(r.features);
    expect(Array.from(r.activations.dense1?.dataSync() ?? [])).toEqual(Array.from(r.features.dataSync()));
    // ReLU fused before the pool: activations are never negative.
    expect(tf.min(r.activations.conv1 as tf.Tensor).dataSync()[0]).toBeGreaterThanOrEqual(0);
    tf.dispose(x);
    disposeResult(r);
  });

  it('the ResNet and MobileNet taps have the documented shapes', () => {
    const res = build(spec('resnet-small', 32, 3));
    const mob = build(spec('mobilenet-v1', 96, 3));
    const xr = randomBatch(res.spec.input, 1, 3);
    const xm = randomBatch(mob.spec.input, 1, 3);
    const rr = res.forward(xr);
    const rm = mob.forward(xm);
    const shapes = (r: typeof rr): Record<string, number[]> =>
      Object.fromEntries(Object.entries(r.activations).map(([k, v]) => [k, v.shape]));
    expect(shapes(rr)).toEqual({ stem: [1, 32, 32, 16], stage1: [1, 32, 32, 16], stage2: [1, 16, 16, 32], stage3: [1, 8, 8, 64] });
    expect(shapes(rm)).toEqual({
      conv1_relu: [1, 48, 48, 8],
      conv_pw_1_relu: [1, 48, 48, 16],
      conv_pw_3_relu: [1, 24, 24, 32],
      conv_pw_5_relu: [1, 12, 12, 64],
      conv_pw_11_relu: [1, 6, 6, 128],
      conv_pw_13_relu: [1, 3, 3, 256],
    });
    expect(res.gradCamLayer).toBe('stage3');
    expect(mob.gradCamLayer).toBe('conv_pw_13_relu');
    tf.dispose([xr, xm]);
    disposeResult(rr);
    disposeResult(rm);
  });

  it('leaves no tensor behind once the caller disposes what it returned', () => {
    const m = build(spec('resnet-small', 28, 1));
    const x = randomBatch(m.spec.input, BATCH, 4);
    // The first call builds the cached view; count after it and across repeated calls.
    disposeResult(m.forward(x));
    const before = tf.memory().numTensors;
    for (const activations of [undefined, [], ['stage2'], ['pool', 'head', 'stem']]) {
      disposeResult(m.forward(x, activations ? { activations } : {}));
      expect(tf.memory().numTensors).toBe(before);
    }
    tf.dispose(x);
  });

  it('building and disposing a model releases every weight', () => {
    const before = tf.memory().numTensors;
    for (const kind of ['lenet', 'resnet-small', 'mobilenet-v1'] as const) {
      const m = buildModel(spec(kind, 28, 1));
      const x = randomBatch(m.spec.input, 1, 5);
      disposeResult(m.forward(x));
      tf.dispose(x);
      m.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('training mode uses batch statistics and updates BatchNorm moving averages', () => {
    const m = build(spec('resnet-small', 28, 1));
    const x = randomBatch(m.spec.input, BATCH, 6);
    const movingMean = (): number[] => Array.from(m.model.getLayer('stem_bn').getWeights()[2]?.dataSync() ?? []);
    const meanBefore = movingMean();
    expect(meanBefore.every((v) => v === 0)).toBe(true);
    const inference = m.forward(x, { activations: [] });
    expect(movingMean()).toEqual(meanBefore);
    const training = m.forward(x, { training: true, activations: [] });
    expect(movingMean().some((v) => v !== 0)).toBe(true);
    expect(tf.max(tf.abs(tf.sub(inference.logits, training.logits))).dataSync()[0]).toBeGreaterThan(1e-3);
    tf.dispose(x);
    disposeResult(inference);
    disposeResult(training);
  });

  it('refuses an input of the wrong size and an unknown layer, naming the error', () => {
    const m = build(spec('lenet', 28, 1));
    const wrong = tf.zeros([1, 32, 32, 1]) as tf.Tensor4D;
    const right = tf.zeros([1, 28, 28, 1]) as tf.Tensor4D;
    expect(() => m.forward(wrong)).toThrow(expect.objectContaining({ name: 'InvalidInputError', message: expect.stringMatching(/28×28×1/) }));
    expect(() => m.forward(right, { activations: ['nope'] })).toThrow(expect.objectContaining({ name: 'InvalidInputError' }));
    tf.dispose([wrong, right]);
  });
});

describe('logitsWithActivation', () => {
  const cases: [ModelKind, string][] = [
    ['lenet', 'conv2'],
    // Inside a residual block: the shortcut still runs from the real input.
    ['resnet-small', 's2b1_relu1'],
    ['mobilenet-v1', 'conv_dw_4_relu'],
  ];
  for (const [kind, layer] of cases) {
    it(`${kind}: with ${layer}'s own output it reproduces the forward logits`, () => {
      const m = build(spec(kind, 28, 1));
      const x = randomBatch(m.spec.input, BATCH, 8);
      const r = m.forward(x, { activations: [layer] });
      const again = m.logitsWithActivation(x, layer, r.activations[layer] as tf.Tensor);
      expect(tf.max(tf.abs(tf.sub(again, r.logits))).dataSync()[0]).toBeLessThan(1e-5);
      // And the replacement is used: zeroing it changes the logits.
      const zeroed = m.logitsWithActivation(x, layer, tf.zerosLike(r.activations[layer] as tf.Tensor));
      expect(tf.max(tf.abs(tf.sub(zeroed, r.logits))).dataSync()[0]).toBeGreaterThan(1e-4);
      tf.dispose([x, again, zeroed]);
      disposeResult(r);
    });
  }

  it('refuses an activation of the wrong shape', () => {
    const m = build(spec('lenet', 28, 1));
    const x = tf.zeros([1, 28, 28, 1]) as tf.Tensor4D;
    const a = tf.zeros([1, 4, 4, 20]);
    expect(() => m.logitsWithActivation(x, 'conv2', a)).toThrow(expect.objectContaining({ name: 'InvalidInputError' }));
    tf.dispose([x, a]);
  });
});

describe('head', () => {
  it('hands out the live head variables: changing the bias moves the logits by as much', () => {
    const m = build(spec('lenet', 28, 1));
    const { kernel, bias } = m.head();
    expect(kernel.shape).toEqual([50, CLASSES]);
    expect(bias.shape).toEqual([CLASSES]);
    const x = randomBatch(m.spec.input, 1, 9);
    const before = m.forward(x, { activations: [] });
    const shifted = tf.tidy(() => tf.add(bias, 1));
    bias.assign(shifted);
    const after = m.forward(x, { activations: [] });
    const diff = tf.sub(after.logits, before.logits).dataSync();
    for (const d of diff) expect(d).toBeCloseTo(1, 5);
    tf.dispose([x, shifted]);
    disposeResult(before);
    disposeResult(after);
  });
});

describe('MobileNet stride rule', () => {
  it('keeps all five stride-2 layers at 96×96 (final 3×3) and drops the ones that would go below 3 px', () => {
    const count2 = (s: number[]): number => s.filter((v) => v === 2).length;
    const s96 = mobileNetStrides({ width: 96, height: 96 });
    expect(s96).toHaveLength(14);
    expect(count2(s96)).toBe(5);
    // 28 → 14 → 7 → 4, then 4 → 2 would fall below 3: the last two run at stride 1.
    const s28 = mobileNetStrides({ width: 28, height: 28 });
    expect(count2(s28)).toBe(3);
    expect(s28[6]).toBe(1);
    expect(s28[12]).toBe(1);
    // The smaller side decides.
    expect(count2(mobileNetStrides({ width: 96, height: 28 }))).toBe(3);
  });
});

describe('spec validation', () => {
  it('refuses inputs too small for LeNet, one class, and a bad width multiplier', () => {
    expect(() => buildModel(spec('lenet', 12, 1))).toThrow(expect.objectContaining({ name: 'InvalidInputError', message: expect.stringMatching(/16×16/) }));
    expect(() => buildModel({ ...spec('resnet-small', 28, 1), numClasses: 1 })).toThrow(expect.objectContaining({ name: 'InvalidInputError' }));
    expect(() => buildModel({ ...spec('mobilenet-v1', 28, 1), widthMultiplier: 0 })).toThrow(expect.objectContaining({ name: 'InvalidInputError' }));
  });

  it('scales MobileNet channels by the width multiplier, never below 8', () => {
    const half = build({ ...spec('mobilenet-v1', 28, 1), widthMultiplier: 0.5 });
    const x = randomBatch(half.spec.input, 1, 10);
    const r = half.forward(x, { activations: ['conv1_relu'] });
    expect(r.activations.conv1_relu?.shape).toEqual([1, 14, 14, 16]);
    expect(r.features.shape).toEqual([1, 512]);
    tf.dispose(x);
    disposeResult(r);
    const thin = build({ ...spec('mobilenet-v1', 28, 1), widthMultiplier: 0.1 });
    const y = randomBatch(thin.spec.input, 1, 11);
    const t = thin.forward(y, { activations: ['conv1_relu'] });
    expect(t.activations.conv1_relu?.shape[3]).toBe(8);
    tf.dispose(y);
    disposeResult(t);
  });
});

describe('pixelsToInput', () => {
  it('turns uint8 HWC images into float NHWC in [0, 1]', () => {
    const input = inputSpec(2, 3);
    const a = Uint8Array.from({ length: 12 }, (_, i) => i * 20);
    const b = new Uint8Array(12).fill(255);
    const t = pixelsToInput([a, b], input);
    expect(t.shape).toEqual([2, 2, 2, 3]);
    const v = t.dataSync();
    expect(v[0]).toBe(0);
    expect(v[11]).toBeCloseTo(220 / 255, 6);
    expect(v[12]).toBe(1);
    tf.dispose(t);
  });

  it('refuses an image of the wrong byte length', () => {
    expect(() => pixelsToInput([new Uint8Array(11)], inputSpec(2, 3))).toThrow(expect.objectContaining({ name: 'InvalidInputError' }));
  });
});
