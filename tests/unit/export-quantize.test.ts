/**
 * Lowering tfjs models to the float graph (batch-norm folding, activation fusion), the
 * calibration methods and the quantizer's parameter rules.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../src/lib/compute/backends';
import { tf } from '../../src/lib/compute/register';
import { Rng } from '../../src/lib/data/rng';
import { calibrate, calibratedTensors, quantizationMse } from '../../src/lib/export/calibrate';
import { extractFloatGraph, floatGraphLogits, UnsupportedOperatorError } from '../../src/lib/export/float-graph';
import { Int8Interpreter } from '../../src/lib/export/int8-interpreter';
import { pixelsToInt8 } from '../../src/lib/export/qgraph';
import { activationParams, quantizeGraph } from '../../src/lib/export/quantize';
import { buildModel } from '../../src/lib/train/models';
import type { ModelKind } from '../../src/lib/train/spec';

beforeAll(async () => {
  await useBackend('wasm');
});

/** Gives every batch norm non-trivial statistics, so folding is really exercised. */
function randomizeBatchNorms(model: tf.LayersModel, seed: number): void {
  const rng = new Rng(seed);
  for (const layer of model.layers) {
    if (layer.getClassName() !== 'BatchNormalization') continue;
    const ws = layer.getWeights();
    const n = ws[0]?.shape[0] ?? 0;
    const vec = (f: () => number): tf.Tensor => tf.tensor1d(Float32Array.from({ length: n }, f));
    // gamma, beta, moving mean, moving variance
    const fresh = [vec(() => 0.5 + rng.next()), vec(() => rng.next() - 0.5), vec(() => (rng.next() - 0.5) * 0.2), vec(() => 0.5 + rng.next())];
    layer.setWeights(fresh);
    tf.dispose(fresh);
  }
}

function randomImages(n: number, side: number, seed: number): tf.Tensor4D {
  const rng = new Rng(seed);
  return tf.tensor4d(Float32Array.from({ length: n * side * side }, () => rng.next()), [n, side, side, 1]);
}

describe('extractFloatGraph', () => {
  it.each<[ModelKind, number]>([
    ['lenet', 28],
    ['resnet-small', 28],
    ['mobilenet-v1', 32],
  ])('%s: the lowered graph gives the model its own logits', async (kind, side) => {
    const m = buildModel({ kind, input: { width: side, height: side, channels: 1, resize: 'stretch' }, numClasses: 10, seed: 7 });
    randomizeBatchNorms(m.model, 3);
    const graph = await extractFloatGraph(m.model);
    const x = randomImages(4, side, 11);
    const expected = (m.model.predict(x) as tf.Tensor).arraySync() as number[][];
    const got = floatGraphLogits(graph, x);
    const gotValues = got.arraySync();
    const scale = Math.max(...expected.flat().map(Math.abs));
    expected.forEach((row, i) => row.forEach((v, j) => expect(Math.abs((gotValues[i]?.[j] ?? NaN) - v)).toBeLessThan(1e-4 * Math.max(1, scale))));
    // No batch norm or stand-alone activation survives lowering.
    const kinds = new Set(graph.ops.map((op) => op.kind));
    expect([...kinds].every((k) => ['conv2d', 'depthwise-conv2d', 'fully-connected', 'max-pool2d', 'average-pool2d', 'add', 'reshape'].includes(k))).toBe(true);
    tf.dispose([x, got]);
    m.dispose();
  });

  it('fuses LeNet into conv+relu, pool, conv+relu, pool, reshape, dense+relu, dense', async () => {
    const m = buildModel({ kind: 'lenet', input: { width: 28, height: 28, channels: 1, resize: 'stretch' }, numClasses: 10, seed: 1 });
    const graph = await extractFloatGraph(m.model);
    expect(graph.ops.map((op) => `${op.kind}${'activation' in op && op.activation !== 'none' ? `+${op.activation}` : ''}`)).toEqual([
      'conv2d+relu',
      'max-pool2d',
      'conv2d+relu',
      'max-pool2d',
      'reshape',
      'fully-connected+relu',
      'fully-connected',
    ]);
    expect(graph.shapes[graph.output]).toEqual([1, 10]);
    m.dispose();
  });

  it('names the layer that has no int8 TFLite Micro kernel', async () => {
    const input = tf.input({ shape: [8, 8, 1] });
    const conv = tf.layers.conv2d({ filters: 4, kernelSize: 3, name: 'features' }).apply(input) as tf.SymbolicTensor;
    const norm = tf.layers.layerNormalization({ name: 'norm' }).apply(conv) as tf.SymbolicTensor;
    const flat = tf.layers.flatten().apply(norm) as tf.SymbolicTensor;
    const out = tf.layers.dense({ units: 2 }).apply(flat) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: out });
    const err = await extractFloatGraph(model).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnsupportedOperatorError);
    expect((err as Error).name).toBe('UnsupportedOperatorError');
    expect((err as Error).message).toContain('"norm" (LayerNormalization)');
    model.dispose();
  });

  it('names an activation that cannot be fused', async () => {
    const model = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [8, 8, 1], filters: 2, kernelSize: 3, activation: 'softplus', name: 'soft' }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 2 }),
      ],
    });
    await expect(extractFloatGraph(model)).rejects.toThrow(/"soft" \(Conv2D\) uses the activation "softplus"/);
    model.dispose();
  });
});

describe('quantization parameters', () => {
  it('activationParams: the range maps onto [-128, 127] with 0 exact', () => {
    // [0, 2.55]: scale 2.55/255 = 0.01, zero point −128 − 0/0.01 = −128.
    expect(activationParams([0, 2.55])).toEqual({ scale: Math.fround(0.01), zeroPoint: -128 });
    // [−1, 1]: scale float32(2/255) = 0.0078431377 (a hair above 2/255), so
    // 1/scale = 127.4999996 and the zero point is round(−128 + 127.4999996) = round(−0.5000004) = −1.
    expect(activationParams([-1, 1])).toEqual({ scale: Math.fround(2 / 255), zeroPoint: -1 });
    // [1, 3] widens to [0, 3] so zero is representable: scale 3/255, zero point −128.
    expect(activationParams([1, 3])).toEqual({ scale: Math.fround(3 / 255), zeroPoint: -128 });
    // [−5.1, 0]: scale 0.02; zero point −128 + 255 = 127.
    expect(activationParams([-5.1, 0])).toEqual({ scale: Math.fround(0.02), zeroPoint: 127 });
  });

  it('quantizationMse: rounding noise inside the range, squared distance outside', () => {
    // Range [0, 2.55] → step 0.01. Bin at 1.0 (3 values): 3·0.01²/12 = 2.5e-5.
    // Bin at 3.55 (1 value) is 1.0 past the top: 1.0² = 1.
    const err = quantizationMse(Float64Array.of(1, 3.55), Float64Array.of(3, 1), 0, 2.55);
    expect(err).toBeCloseTo(2.5e-5 + 1, 9);
  });

  it('per-channel weights and int32 biases follow TFLite’s rules', async () => {
    // One 1×1 conv, 2 input channels → 2 output channels, kernel HWIO [1,1,2,2]:
    //   out0 weights (in0, in1) = (0.5, −1.27); out1 = (2.54, −0.5).
    // out0 scale = 1.27/127 = 0.01 → q = (50, −127); out1 scale = 2.54/127 = 0.02 → q = (127, −25).
    const model = tf.sequential({
      layers: [tf.layers.conv2d({ inputShape: [2, 2, 2], filters: 2, kernelSize: 1, name: 'c' }), tf.layers.flatten({ name: 'f' }), tf.layers.dense({ units: 2, name: 'd' })],
    });
    const conv = model.getLayer('c');
    const kernel = tf.tensor4d([0.5, 2.54, -1.27, -0.5], [1, 1, 2, 2]);
    const bias = tf.tensor1d([0.1, -0.2]);
    conv.setWeights([kernel, bias]);
    const graph = await extractFloatGraph(model);
    const ranges = Object.fromEntries(calibratedTensors(graph).map((n) => [n, [-1, 1] as [number, number]]));
    const q = quantizeGraph(graph, ranges);
    const op = q.ops[0];
    if (op?.kind !== 'conv2d') throw new Error('expected a conv first');
    expect(Array.from(op.filter)).toEqual([50, -127, 127, -25]);
    expect(Array.from(op.filterScales)).toEqual([Math.fround(Math.fround(1.27) / 127), Math.fround(Math.fround(2.54) / 127)]);
    // The model input is not the image contract here, so the input scale is 1/255:
    // bias0 = round(0.1 / (1/255 · 0.01)) ≈ 2550 (float32 scales move it by at most a unit or so).
    expect(op.bias[0]).toBe(Math.round(Math.fround(0.1) / (Math.fround(1 / 255) * (op.filterScales[0] as number))));
    expect(op.bias[0]).toBeCloseTo(2550, -1);
    expect(op.filterShape).toEqual([2, 1, 1, 2]);
    tf.dispose([kernel, bias]);
    model.dispose();
  });

  it('the three calibration methods give nested ranges on a tensor with an outlier', async () => {
    const m = buildModel({ kind: 'lenet', input: { width: 28, height: 28, channels: 1, resize: 'stretch' }, numClasses: 10, seed: 2 });
    const graph = await extractFloatGraph(m.model);
    const batches = async function* (): AsyncIterable<tf.Tensor4D> {
      for (let b = 0; b < 3; b++) yield randomImages(16, 28, 100 + b);
    };
    const minmax = await calibrate(graph, batches, 'minmax');
    const percentile = await calibrate(graph, batches, 'percentile');
    const mse = await calibrate(graph, batches, 'mse');
    for (const name of calibratedTensors(graph)) {
      const [lo, hi] = minmax[name] as [number, number];
      for (const r of [percentile[name], mse[name]] as [number, number][]) {
        expect(r[0]).toBeGreaterThanOrEqual(lo - 1e-6);
        expect(r[1]).toBeLessThanOrEqual(hi + 1e-6);
        expect(r[1]).toBeGreaterThan(r[0]);
      }
    }
    expect(tf.memory().numTensors).toBeLessThan(50);
    m.dispose();
  });
});

describe('quantized models against their float graph', () => {
  it.each<[ModelKind, number]>([
    ['lenet', 28],
    ['resnet-small', 28],
    ['mobilenet-v1', 32],
  ])('%s: int8 logits track the float logits', async (kind, side) => {
    const m = buildModel({ kind, input: { width: side, height: side, channels: 1, resize: 'stretch' }, numClasses: 10, seed: 5 });
    randomizeBatchNorms(m.model, 9);
    const graph = await extractFloatGraph(m.model);
    // Whole-pixel images, so the int8 input (pixel − 128) is exactly the float input.
    const images = (n: number, seed: number): Uint8Array[] => {
      const rng = new Rng(seed);
      return Array.from({ length: n }, () => Uint8Array.from({ length: side * side }, () => rng.int(256)));
    };
    const toTensor = (px: Uint8Array[]): tf.Tensor4D => tf.tensor4d(Float32Array.from(px.flatMap((p) => Array.from(p, (v) => v / 255))), [px.length, side, side, 1]);
    const batches = async function* (): AsyncIterable<tf.Tensor4D> {
      for (let b = 0; b < 2; b++) yield toTensor(images(32, 200 + b));
    };
    const q = quantizeGraph(graph, await calibrate(graph, batches, 'minmax'));
    const interpreter = new Int8Interpreter(q);
    const test = images(8, 999);
    const x = toTensor(test);
    const floatLogits = floatGraphLogits(graph, x);
    const expected = floatLogits.arraySync();
    const out = q.tensors[q.output];
    if (!out) throw new Error('no output tensor');
    let sumAbs = 0;
    let sumSq = 0;
    let n = 0;
    test.forEach((pixels, i) => {
      const got = interpreter.run(pixelsToInt8(pixels));
      got.forEach((v, j) => {
        const f = expected[i]?.[j] ?? NaN;
        sumAbs += Math.abs(out.scale * (v - out.zeroPoint) - f);
        sumSq += f * f;
        n++;
      });
    });
    // Mean |int8 − float| under 10 % of the logits' RMS: quantization noise, not a wrong op.
    const rms = Math.sqrt(sumSq / n);
    console.log(`${kind}: mean |int8 − float| = ${(sumAbs / n).toExponential(3)}, logit RMS = ${rms.toExponential(3)}`);
    expect(sumAbs / n).toBeLessThan(0.1 * rms);
    tf.dispose([x, floatLogits]);
    m.dispose();
  });
});
