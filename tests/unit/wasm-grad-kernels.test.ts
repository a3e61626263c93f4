/**
 * The wasm training kernels against the cpu backend's, which tfjs ships and tests.
 *
 * Tolerance: |wasm − cpu| ≤ 1e-4 · max(1, max|cpu|) for every element, where max|cpu| is
 * over the whole gradient tensor. A gradient element is a float32 sum of up to a few
 * thousand products, summed in a different order by XNNPACK than by the cpu loops, so the
 * rounding error scales with the tensor's magnitude, not with the element's (an element
 * near zero can be the difference of large terms). A wrong tap, pad or stride moves
 * elements by O(max|cpu|), 10⁴ times more.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/lib/compute/register';
import {
  UnsupportedConvolutionError,
  WASM_GRAD_KERNEL_NAMES,
  registerWasmGradKernels,
} from '../../src/lib/compute/wasm-grad-kernels';
import { Rng } from '../../src/lib/data/rng';

const RELATIVE_TOLERANCE = 1e-4;
const CASES_PER_KIND = 40;
const SEED = 0x5747_4b31; // "WGK1"

type Pair = [number, number];
type Shape4 = [number, number, number, number];
type ExplicitPad = [Pair, Pair, Pair, Pair];
type Pad = 'valid' | 'same' | number | ExplicitPad;

interface ConvCase {
  xShape: Shape4;
  /** conv2d: [fh, fw, Cin, Cout]; depthwise: [fh, fw, Cin, multiplier]. */
  filterShape: Shape4;
  strides: Pair;
  pad: Pad;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  x: Float32Array;
  filter: Float32Array;
  dy: Float32Array;
  dyShape: Shape4;
}

interface Gradients {
  dx: Float32Array;
  dFilter: Float32Array;
}

function uniform(rng: Rng, count: number): Float32Array {
  const v = new Float32Array(count);
  for (let i = 0; i < count; i++) v[i] = rng.next() * 2 - 1;
  return v;
}

const size = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);

/**
 * A random case whose forward output is at least 1×1; retries draws that are not.
 * `withRounding` draws a dimRoundingMode for numeric pads. Only kernel-level cases use
 * it: tfjs-core's conv2d gradient drops dimRoundingMode when it calls
 * Conv2DBackpropFilter, so for a 'ceil' forward the cpu kernel then loops over the
 * floor-rounded output and returns a wrong dW (checked against a brute-force sum once:
 * x=[2,6,6,1] f=[1,5,1,3] s=[2,1] pad=2 ceil), which no backend should be held to.
 */
function drawCase(rng: Rng, depthwise: boolean, withRounding: boolean): ConvCase {
  for (;;) {
    const padKind = rng.int(5);
    const numericPad = padKind === 3;
    const fh = 1 + rng.int(5);
    // tfjs 4.22 computes the output size for a numeric pad from the filter height and
    // stride height alone (conv_util computeOutputShape2D), so a numeric pad with a
    // non-square filter or unequal strides gets a wrong output width, and the wasm
    // forward conv then writes past its output buffer (seen as "memory access out of
    // bounds"). Not a gradient matter: such cases use a square filter and equal strides.
    const fw = numericPad ? fh : 1 + rng.int(5);
    const strideH = 1 + rng.int(2);
    const strides: Pair = [strideH, numericPad ? strideH : 1 + rng.int(2)];
    const n = 1 + rng.int(3);
    const h = Math.max(1, fh - 2) + rng.int(10);
    const w = Math.max(1, fw - 2) + rng.int(10);
    const cin = 1 + rng.int(4);
    const last = depthwise ? 1 + rng.int(2) : 1 + rng.int(4);
    let pad: Pad;
    let dimRoundingMode: ConvCase['dimRoundingMode'];
    if (padKind === 0 || padKind === 1) pad = 'valid';
    else if (padKind === 2) pad = 'same';
    else if (numericPad) {
      pad = rng.int(3);
      // tfjs allows a rounding mode only with a numeric pad.
      if (withRounding && rng.int(2) === 1) dimRoundingMode = (['floor', 'round', 'ceil'] as const)[rng.int(3)];
    } else {
      pad = [[0, 0], [rng.int(3), rng.int(3)], [rng.int(3), rng.int(3)], [0, 0]];
    }
    const xShape: Shape4 = [n, h, w, cin];
    const filterShape: Shape4 = [fh, fw, cin, last];
    const info = tf.backend_util.computeConv2DInfo(xShape, filterShape, strides, 1, pad, dimRoundingMode, depthwise);
    if (info.outHeight < 1 || info.outWidth < 1) continue;
    const dyShape = info.outShape as Shape4;
    return {
      xShape,
      filterShape,
      strides,
      pad,
      dimRoundingMode,
      x: uniform(rng, size(xShape)),
      filter: uniform(rng, size(filterShape)),
      dy: uniform(rng, size(dyShape)),
      dyShape,
    };
  }
}

function describeCase(c: ConvCase): string {
  return `x=${c.xShape} f=${c.filterShape} s=${c.strides} pad=${JSON.stringify(c.pad)} round=${c.dimRoundingMode ?? '-'}`;
}

/** dx and dFilter of the forward conv for an upstream gradient dy, on the active backend. */
function gradients(c: ConvCase, depthwise: boolean): Gradients {
  const x = tf.tensor4d(c.x, c.xShape);
  const filter = tf.tensor4d(c.filter, c.filterShape);
  const dy = tf.tensor4d(c.dy, c.dyShape);
  const forward = (xIn: tf.Tensor, fIn: tf.Tensor): tf.Tensor4D => {
    const x4 = xIn as tf.Tensor4D;
    const f4 = fIn as tf.Tensor4D;
    return depthwise
      ? tf.depthwiseConv2d(x4, f4, c.strides, c.pad, 'NHWC', 1, c.dimRoundingMode)
      : tf.conv2d(x4, f4, c.strides, c.pad, 'NHWC', 1, c.dimRoundingMode);
  };
  const [dx, dFilter] = tf.grads(forward)([x, filter], dy);
  const result = { dx: dx!.dataSync() as Float32Array, dFilter: dFilter!.dataSync() as Float32Array };
  tf.dispose([x, filter, dy, dx!, dFilter!]);
  return result;
}

/** The largest |a − b| over max(1, max|b|): the quantity the tolerance bounds. */
function scaledError(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let maxAbs = 0;
  let maxDiff = 0;
  for (let i = 0; i < b.length; i++) {
    maxAbs = Math.max(maxAbs, Math.abs(b[i]!));
    maxDiff = Math.max(maxDiff, Math.abs(a[i]! - b[i]!));
  }
  return maxDiff / Math.max(1, maxAbs);
}

/** One gradient kernel run on the active backend with the attributes tfjs-core would pass. */
function runGradKernel(name: (typeof WASM_GRAD_KERNEL_NAMES)[number], c: ConvCase): Float32Array {
  const x = tf.tensor4d(c.x, c.xShape);
  const filter = tf.tensor4d(c.filter, c.filterShape);
  const dy = tf.tensor4d(c.dy, c.dyShape);
  const attrs = {
    strides: c.strides,
    pad: c.pad,
    dimRoundingMode: c.dimRoundingMode,
    dilations: [1, 1],
    dataFormat: 'NHWC',
    filterShape: c.filterShape,
    inputShape: c.xShape,
  };
  const inputs: tf.NamedTensorMap = name === tf.DepthwiseConv2dNativeBackpropInput ? { dy, filter } : { x, dy };
  // NamedAttrMap has no `undefined` member, yet tfjs-core itself passes an unset
  // dimRoundingMode as undefined.
  const out = tf.engine().runKernel(name, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
  const values = out.dataSync() as Float32Array;
  tf.dispose([x, filter, dy, out]);
  return values;
}

async function onBackend<T>(name: 'cpu' | 'wasm', fn: () => T): Promise<T> {
  await tf.setBackend(name);
  return fn();
}

/** Removes the kernels wherever they came from, so "before registration" holds in any test order. */
function unregisterGradKernels(): void {
  for (const name of WASM_GRAD_KERNEL_NAMES) {
    if (tf.getKernel(name, 'wasm') as tf.KernelConfig | undefined) tf.unregisterKernel(name, 'wasm');
  }
}

// ----- LeNet, the model the DESIGN.md throughput figures are for -----

const LENET_BATCH = 8;
const IMAGE_SIDE_PX = 28;
const CLASSES = 10;

function leNet(): tf.Sequential {
  const model = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [IMAGE_SIDE_PX, IMAGE_SIDE_PX, 1], filters: 10, kernelSize: 5, activation: 'relu' }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.conv2d({ filters: 20, kernelSize: 5, activation: 'relu' }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 50, activation: 'relu' }),
      tf.layers.dense({ units: CLASSES, activation: 'softmax' }),
    ],
  });
  model.compile({ optimizer: tf.train.sgd(0.1), loss: 'categoricalCrossentropy' });
  return model;
}

/** Seeded weights (uniform ±1/√fanIn) for every variable of `model`, as plain arrays. */
function leNetWeightValues(model: tf.Sequential, rng: Rng): { values: Float32Array; shape: number[] }[] {
  return model.getWeights().map((w) => {
    const fanIn = w.shape.length === 1 ? 1 : size(w.shape.slice(0, -1));
    const scale = 1 / Math.sqrt(fanIn);
    const values = uniform(rng, w.size).map((v) => v * scale);
    return { values, shape: w.shape };
  });
}

/** A fixed batch: images uniform in [0, 1), labels one-hot from the same seed. */
function leNetBatch(rng: Rng): { images: Float32Array; labels: Float32Array } {
  const images = new Float32Array(LENET_BATCH * IMAGE_SIDE_PX * IMAGE_SIDE_PX);
  for (let i = 0; i < images.length; i++) images[i] = rng.next();
  const labels = new Float32Array(LENET_BATCH * CLASSES);
  for (let i = 0; i < LENET_BATCH; i++) labels[i * CLASSES + rng.int(CLASSES)] = 1;
  return { images, labels };
}

/** One SGD step of LeNet from the given weights; returns the loss and the new weights. */
async function leNetStep(
  weights: { values: Float32Array; shape: number[] }[],
  batch: { images: Float32Array; labels: Float32Array },
): Promise<{ loss: number; weights: Float32Array[] }> {
  const model = leNet();
  const initial = weights.map((w) => tf.tensor(w.values, w.shape));
  model.setWeights(initial);
  tf.dispose(initial);
  const xs = tf.tensor4d(batch.images, [LENET_BATCH, IMAGE_SIDE_PX, IMAGE_SIDE_PX, 1]);
  const ys = tf.tensor2d(batch.labels, [LENET_BATCH, CLASSES]);
  try {
    const loss = (await model.trainOnBatch(xs, ys)) as number;
    return { loss, weights: model.getWeights().map((w) => w.dataSync() as Float32Array) };
  } finally {
    tf.dispose([xs, ys]);
    // model.dispose() leaves an optimizer it was handed (not named by string) alone, and
    // SGD keeps its learning rate as a tensor.
    model.optimizer.dispose();
    model.dispose();
  }
}

beforeAll(async () => {
  await tf.setBackend('wasm');
});

afterAll(async () => {
  registerWasmGradKernels();
  await tf.setBackend('cpu');
});

describe('before registration', () => {
  it('a LeNet training step on wasm fails naming the missing kernel', async () => {
    unregisterGradKernels();
    await tf.setBackend('wasm');
    const rng = new Rng(SEED).fork('lenet-before');
    const model = leNet();
    const batch = leNetBatch(rng);
    const xs = tf.tensor4d(batch.images, [LENET_BATCH, IMAGE_SIDE_PX, IMAGE_SIDE_PX, 1]);
    const ys = tf.tensor2d(batch.labels, [LENET_BATCH, CLASSES]);
    const err: unknown = await model.trainOnBatch(xs, ys).catch((e: unknown) => e);
    tf.dispose([xs, ys]);
    model.dispose();
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/Conv2DBackpropFilter.*wasm/);
  });
});

describe('registerWasmGradKernels', () => {
  beforeAll(() => {
    registerWasmGradKernels();
  });

  it('registers all three kernels for wasm and is idempotent', () => {
    const first = WASM_GRAD_KERNEL_NAMES.map((n) => tf.getKernel(n, 'wasm').kernelFunc);
    registerWasmGradKernels();
    const second = WASM_GRAD_KERNEL_NAMES.map((n) => tf.getKernel(n, 'wasm').kernelFunc);
    expect(first.every((f) => typeof f === 'function')).toBe(true);
    expect(second).toEqual(first);
  });

  for (const depthwise of [false, true]) {
    const kind = depthwise ? 'depthwiseConv2d' : 'conv2d';
    it(`tf.grads of ${kind}: ${CASES_PER_KIND} seeded cases match the cpu backend`, async () => {
      const rng = new Rng(SEED).fork(kind);
      let worst = 0;
      const seen = { stride2: 0, same: 0, valid: 0, multiplier2: 0 };
      for (let i = 0; i < CASES_PER_KIND; i++) {
        const c = drawCase(rng, depthwise, false);
        if (c.strides.includes(2)) seen.stride2++;
        if (c.pad === 'same') seen.same++;
        if (c.pad === 'valid') seen.valid++;
        if (depthwise && c.filterShape[3] === 2) seen.multiplier2++;
        const want = await onBackend('cpu', () => gradients(c, depthwise));
        const got = await onBackend('wasm', () => gradients(c, depthwise));
        const errFilter = scaledError(got.dFilter, want.dFilter);
        const errInput = scaledError(got.dx, want.dx);
        expect(errFilter, `dFilter ${describeCase(c)}`).toBeLessThanOrEqual(RELATIVE_TOLERANCE);
        expect(errInput, `dx ${describeCase(c)}`).toBeLessThanOrEqual(RELATIVE_TOLERANCE);
        worst = Math.max(worst, errFilter, errInput);
      }
      console.log(`tf.grads ${kind}: worst scaled error ${worst.toExponential(2)} over ${CASES_PER_KIND} cases`, seen);
      // The sweep must really cover what the kernels claim to support.
      expect(seen.stride2).toBeGreaterThan(0);
      expect(seen.same).toBeGreaterThan(0);
      expect(seen.valid).toBeGreaterThan(0);
      if (depthwise) expect(seen.multiplier2).toBeGreaterThan(0);
    });
  }

  for (const name of WASM_GRAD_KERNEL_NAMES) {
    it(`${name} called directly: ${CASES_PER_KIND} seeded cases, rounding modes included, match cpu`, async () => {
      const depthwise = name !== tf.Conv2DBackpropFilter;
      const rng = new Rng(SEED).fork(`kernel-${name}`);
      let worst = 0;
      let rounded = 0;
      for (let i = 0; i < CASES_PER_KIND; i++) {
        const c = drawCase(rng, depthwise, true);
        if (c.dimRoundingMode) rounded++;
        const want = await onBackend('cpu', () => runGradKernel(name, c));
        const got = await onBackend('wasm', () => runGradKernel(name, c));
        const err = scaledError(got, want);
        expect(err, describeCase(c)).toBeLessThanOrEqual(RELATIVE_TOLERANCE);
        worst = Math.max(worst, err);
      }
      console.log(`${name}: worst scaled error ${worst.toExponential(2)} over ${CASES_PER_KIND} cases, ${rounded} with a rounding mode`);
      expect(rounded).toBeGreaterThan(0);
    });
  }

  it('each kernel leaves no tensor and no wasm data behind', async () => {
    await tf.setBackend('wasm');
    // With IS_TEST the engine also counts the backend's data ids around every kernel and
    // throws when one leaks. Only for this test: tfjs-backend-wasm's own fusedMatMul trips
    // that check (3 data ids) during LeNet training.
    tf.env().set('IS_TEST', true);
    const backend = tf.backend();
    const x = tf.tensor4d(uniform(new Rng(SEED), 2 * 9 * 9 * 3), [2, 9, 9, 3]);
    const dy = tf.zeros([2, 5, 5, 6]);
    const depthwiseFilter = tf.ones([3, 3, 3, 2]);
    const attrs = { strides: [2, 2], pad: 'same', dilations: [1, 1] };
    const calls: [string, tf.NamedTensorMap, tf.NamedAttrMap][] = [
      [tf.Conv2DBackpropFilter, { x, dy }, { ...attrs, dataFormat: 'NHWC', filterShape: [3, 3, 3, 6] }],
      [tf.DepthwiseConv2dNativeBackpropFilter, { x, dy }, { ...attrs, filterShape: [3, 3, 3, 2] }],
      [tf.DepthwiseConv2dNativeBackpropInput, { dy, filter: depthwiseFilter }, { ...attrs, inputShape: [2, 9, 9, 3] }],
    ];
    for (const [name, inputs, kernelAttrs] of calls) {
      const tensorsBefore = tf.memory().numTensors;
      const dataBefore = backend.numDataIds();
      const out = tf.engine().runKernel(name, inputs, kernelAttrs) as tf.Tensor;
      expect(tf.memory().numTensors, name).toBe(tensorsBefore + 1);
      out.dispose();
      expect(tf.memory().numTensors, name).toBe(tensorsBefore);
      expect(backend.numDataIds(), name).toBe(dataBefore);
    }
    tf.env().set('IS_TEST', false);
    tf.dispose([x, dy, depthwiseFilter]);
  });

  it('refuses NCHW and dilated gradients with a named error that says what to do', async () => {
    await tf.setBackend('wasm');
    const x = tf.zeros([1, 6, 6, 2]);
    const dy = tf.zeros([1, 4, 4, 2]);
    try {
      const nchw = () =>
        tf.engine().runKernel(tf.Conv2DBackpropFilter, { x, dy }, { strides: 1, pad: 'valid', dataFormat: 'NCHW', filterShape: [3, 3, 2, 2] });
      expect(nchw).toThrow(UnsupportedConvolutionError);
      expect(nchw).toThrow(expect.objectContaining({ name: 'UnsupportedConvolutionError', message: expect.stringMatching(/NHWC.*channelsLast/) }));
      const dilated = () =>
        tf.engine().runKernel(tf.DepthwiseConv2dNativeBackpropFilter, { x, dy }, { strides: 1, pad: 'valid', dilations: 2, filterShape: [2, 2, 2, 1] });
      expect(dilated).toThrow(expect.objectContaining({ name: 'UnsupportedConvolutionError', message: expect.stringMatching(/dilations of 1/) }));
    } finally {
      tf.dispose([x, dy]);
    }
  });

  it('a LeNet SGD step on wasm matches the same step on cpu', async () => {
    const rng = new Rng(SEED).fork('lenet-step');
    await tf.setBackend('cpu');
    const weights = leNetWeightValues(leNet(), rng);
    const batch = leNetBatch(rng);
    const want = await leNetStep(weights, batch);
    await tf.setBackend('wasm');
    const tensorsBefore = tf.memory().numTensors;
    const got = await leNetStep(weights, batch);
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    expect(Number.isFinite(got.loss)).toBe(true);
    expect(Math.abs(got.loss - want.loss)).toBeLessThanOrEqual(RELATIVE_TOLERANCE * Math.max(1, Math.abs(want.loss)));
    expect(got.weights.length).toBe(want.weights.length);
    got.weights.forEach((w, i) => {
      expect(scaledError(w, want.weights[i]!), `weight ${i}`).toBeLessThanOrEqual(RELATIVE_TOLERANCE);
    });
    // The step moved the conv filters: their gradients were not zero.
    const conv1Before = weights[0]!.values;
    expect(scaledError(got.weights[0]!, conv1Before)).toBeGreaterThan(1e-6);
  });

  it('LeNet model.fit on wasm lowers the loss on a fixed batch', async () => {
    await tf.setBackend('wasm');
    const rng = new Rng(SEED).fork('lenet-fit');
    const model = leNet();
    const initial = leNetWeightValues(model, rng).map((w) => tf.tensor(w.values, w.shape));
    model.setWeights(initial);
    tf.dispose(initial);
    const batch = leNetBatch(rng);
    const xs = tf.tensor4d(batch.images, [LENET_BATCH, IMAGE_SIDE_PX, IMAGE_SIDE_PX, 1]);
    const ys = tf.tensor2d(batch.labels, [LENET_BATCH, CLASSES]);
    const history = await model.fit(xs, ys, { epochs: 5, batchSize: LENET_BATCH, shuffle: false, verbose: 0 });
    tf.dispose([xs, ys]);
    model.dispose();
    const losses = history.history.loss as number[];
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses.at(-1)!).toBeLessThan(losses[0]!);
  });
});
