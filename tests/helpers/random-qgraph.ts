/**
 * Seeded random int8 graphs that use every op kind of `QGraph`, with every padding and
 * activation case that the writers and the interpreter must agree on:
 *
 *   input [1,12,12,3]
 *   → conv 3×3 stride 1 'same' relu (8)                      c1
 *   → depthwise 3×3 stride 2 'same' relu6 (8, multiplier 1)   d1   (12 → 6: asymmetric pad)
 *   → conv 1×1 'valid' none (8)                               c2
 *   → add(c2, d1) relu                                        a1
 *   → max-pool 2×2 stride 2 'valid'                           p1   (6 → 3)
 *   → depthwise 2×2 stride 1 'same' none (16, multiplier 2)   d2
 *   → conv 3×3 stride 2 'same' relu (4)                       c3   (3 → 2)
 *   → average-pool 2×2 'valid' (global)                       p2   [1,1,1,4]
 *   → reshape [1,4]                                           r1
 *   → fully-connected 10 none                                 logits
 *
 * Weights are uniform int8, and each output scale is chosen so that a typical output
 * spans about ±30 steps: neither saturated nor all zero, so a wrong rounding rule shows.
 */
import { Rng } from '../../src/lib/data/rng';
import type { FusedActivation, QGraph, QOp, QTensor } from '../../src/lib/export/qgraph';
import { INPUT_SCALE, INPUT_ZERO_POINT } from '../../src/lib/export/qgraph';

/** Typical |q − zeroPoint| of an int8 activation, and of a uniform int8 weight. */
const TYPICAL_INPUT_STEPS = 50;
const TYPICAL_WEIGHT_STEPS = 73;
const TARGET_OUTPUT_STEPS = 30;

export function randomQGraph(seed: number): QGraph {
  const rng = new Rng(seed);
  const tensors: Record<string, QTensor> = {};
  const ops: QOp[] = [];
  const f32 = Math.fround;
  const int = (lo: number, hi: number): number => lo + rng.int(hi - lo + 1);

  const tensor = (name: string, shape: number[], scale: number, zeroPoint: number): QTensor =>
    (tensors[name] = { name, shape, scale: f32(scale), zeroPoint });
  const zpFor = (activation: FusedActivation): number => (activation === 'none' ? int(-20, 20) : int(-128, -100));
  const weights = (n: number): Int8Array => Int8Array.from({ length: n }, () => int(-127, 127));
  const channelScales = (n: number, base: number): Float32Array =>
    Float32Array.from({ length: n }, () => f32(base * (0.5 + 1.5 * rng.next())));
  const meanOf = (a: Float32Array): number => a.reduce((s, v) => s + v, 0) / a.length;
  /** Output scale so that a sum of `k` typical products lands near ±TARGET_OUTPUT_STEPS. */
  const outScale = (inScale: number, wScale: number, k: number): number =>
    (inScale * wScale * Math.sqrt(k) * TYPICAL_INPUT_STEPS * TYPICAL_WEIGHT_STEPS) / TARGET_OUTPUT_STEPS;
  const biases = (n: number, k: number): Int32Array =>
    Int32Array.from({ length: n }, () => Math.round((rng.next() * 2 - 1) * Math.sqrt(k) * TYPICAL_INPUT_STEPS * TYPICAL_WEIGHT_STEPS));

  tensor('input', [1, 12, 12, 3], INPUT_SCALE, INPUT_ZERO_POINT);

  const conv = (
    name: string,
    input: string,
    outC: number,
    k: number,
    stride: number,
    padding: 'same' | 'valid',
    activation: FusedActivation,
  ): void => {
    const inT = tensors[input] as QTensor;
    const [, h, w, inC] = inT.shape as [number, number, number, number];
    const outH = padding === 'same' ? Math.ceil(h / stride) : Math.floor((h - k) / stride) + 1;
    const outW = padding === 'same' ? Math.ceil(w / stride) : Math.floor((w - k) / stride) + 1;
    const filterScales = channelScales(outC, 0.01);
    const kk = k * k * inC;
    tensor(name, [1, outH, outW, outC], outScale(inT.scale, meanOf(filterScales), kk), zpFor(activation));
    ops.push({
      kind: 'conv2d',
      name,
      input,
      output: name,
      filter: weights(outC * k * k * inC),
      filterShape: [outC, k, k, inC],
      filterScales,
      bias: biases(outC, kk),
      strides: [stride, stride],
      padding,
      activation,
    });
  };

  const depthwise = (
    name: string,
    input: string,
    multiplier: number,
    k: number,
    stride: number,
    activation: FusedActivation,
  ): void => {
    const inT = tensors[input] as QTensor;
    const [, h, w, inC] = inT.shape as [number, number, number, number];
    const outC = inC * multiplier;
    const filterScales = channelScales(outC, 0.01);
    tensor(name, [1, Math.ceil(h / stride), Math.ceil(w / stride), outC], outScale(inT.scale, meanOf(filterScales), k * k), zpFor(activation));
    ops.push({
      kind: 'depthwise-conv2d',
      name,
      input,
      output: name,
      filter: weights(k * k * outC),
      filterShape: [1, k, k, outC],
      depthMultiplier: multiplier,
      filterScales,
      bias: biases(outC, k * k),
      strides: [stride, stride],
      padding: 'same',
      activation,
    });
  };

  conv('c1', 'input', 8, 3, 1, 'same', 'relu');
  depthwise('d1', 'c1', 1, 3, 2, 'relu6');
  conv('c2', 'd1', 8, 1, 1, 'valid', 'none');
  const d1 = tensors.d1 as QTensor;
  const c2 = tensors.c2 as QTensor;
  tensor('a1', d1.shape, Math.max(d1.scale, c2.scale) * 1.5, zpFor('relu'));
  ops.push({ kind: 'add', name: 'a1', inputs: ['c2', 'd1'], output: 'a1', activation: 'relu' });
  const a1 = tensors.a1 as QTensor;
  tensor('p1', [1, 3, 3, 8], a1.scale, a1.zeroPoint);
  ops.push({ kind: 'max-pool2d', name: 'p1', input: 'a1', output: 'p1', filter: [2, 2], strides: [2, 2], padding: 'valid', activation: 'none' });
  depthwise('d2', 'p1', 2, 2, 1, 'none');
  conv('c3', 'd2', 4, 3, 2, 'same', 'relu');
  const c3 = tensors.c3 as QTensor;
  tensor('p2', [1, 1, 1, 4], c3.scale, c3.zeroPoint);
  ops.push({ kind: 'average-pool2d', name: 'p2', input: 'c3', output: 'p2', filter: [2, 2], strides: [2, 2], padding: 'valid', activation: 'none' });
  tensor('r1', [1, 4], c3.scale, c3.zeroPoint);
  ops.push({ kind: 'reshape', name: 'r1', input: 'p2', output: 'r1' });
  const r1 = tensors.r1 as QTensor;
  const fcScale = Float32Array.of(f32(0.01));
  tensor('logits', [1, 10], outScale(r1.scale, 0.01, 4), int(-20, 20));
  ops.push({
    kind: 'fully-connected',
    name: 'logits',
    input: 'r1',
    output: 'logits',
    weights: weights(10 * 4),
    weightsShape: [10, 4],
    weightScales: fcScale,
    bias: biases(10, 4),
    activation: 'none',
  });
  return { name: `random-${seed}`, input: 'input', output: 'logits', tensors, ops };
}

/** `count` seeded random int8 inputs for a graph's input tensor. */
export function randomInputs(graph: QGraph, count: number, seed: number): Int8Array[] {
  const rng = new Rng(seed);
  const size = (graph.tensors[graph.input] as QTensor).shape.reduce((a, b) => a * b, 1);
  return Array.from({ length: count }, () => Int8Array.from({ length: size }, () => rng.int(256) - 128));
}
