/**
 * The `.tflite` files Hearth writes, run by TensorFlow Lite's own interpreter (WASM, in
 * Chromium), must compute what Hearth's int8 reference interpreter computes.
 *
 * Every op is checked, not only the model's output: for each k the graph cut after its
 * k-th op is written and run in TFLite, which gives TFLite's value of every tensor. Then
 * - propagated: each tensor against the reference interpreter's value of it;
 * - op-local: each op, fed TFLite's own values of its input, against TFLite's output of
 *   it, so a difference upstream does not count again downstream (ADD, which has two
 *   inputs and cannot be fed that way, is checked propagated only).
 * The random graphs squeeze their signal through relu layers, so their logits vary little
 * with the input; the op-by-op checks make a wrong option, scale or layout show where it is.
 *
 * Tolerance: TFLite in the browser runs int8 kernels through XNNPACK, which requantizes
 * with one rounding (float32 multiply, round to nearest), where TFLite's reference kernels
 * (and so `runInt8`) round twice (SaturatingRoundingDoublingHighMul, then
 * RoundingDivideByPOT). A value within a hair of a half step can round either way: an
 * accumulator of −6448 times the multiplier 0.0041095890 is −26.49863, which XNNPACK rounds
 * to −26 and the reference, via −3392 / 2^7 = −26.5, to −27. So a value may differ by one
 * step, and at least 99% of all tensor values must be equal; every difference in a
 * fully-connected output must be such a tie.
 */
import type { Page } from '@playwright/test';
import { Int8Interpreter } from '../../src/lib/export/int8-interpreter';
import type { QFullyConnected, QGraph, QOp, QTensor } from '../../src/lib/export/qgraph';
import { writeTflite } from '../../src/lib/export/tflite-writer';
import { randomInputs, randomQGraph } from '../helpers/random-qgraph';
import { expect, test } from './fixtures';
import { openTfliteRuntime, runTflite } from './tflite-runtime';

const SEEDS = [1, 2, 3, 4, 5];
const INPUTS_PER_GRAPH = 20;
/** Largest allowed difference between the two interpreters, in int8 steps. */
const MAX_DIFF_STEPS = 1;
const MIN_EQUAL_FRACTION = 0.99;
/** How close to a half step an exact value must be for the two rounding rules to differ. */
const TIE_STEPS = 0.01;

class Agreement {
  total = 0;
  equal = 0;
  maxDiff = 0;
  /** Values that differ, per op name. */
  readonly differingByOp = new Map<string, number>();

  add(opName: string, actual: Int8Array, expected: Int8Array): void {
    expect(actual.length, `${opName}: output length`).toBe(expected.length);
    for (let i = 0; i < expected.length; i++) {
      const diff = Math.abs((actual[i] as number) - (expected[i] as number));
      this.total++;
      if (diff === 0) this.equal++;
      else this.differingByOp.set(opName, (this.differingByOp.get(opName) ?? 0) + 1);
      this.maxDiff = Math.max(this.maxDiff, diff);
    }
  }

  describe(): string {
    const differing = [...this.differingByOp].map(([op, n]) => `${op}: ${n}`).join(', ');
    return `${this.equal}/${this.total} equal (${((100 * this.equal) / this.total).toFixed(2)}%), max difference ${this.maxDiff}${differing ? `; differing values by op: ${differing}` : ''}`;
  }
}

/**
 * For each output where TFLite and the reference differ, the distance in steps of the
 * exact result acc · multiplier from the nearest half step; a rounding-rule difference
 * can only show there. The multiplier is TFLite's for per-tensor weights:
 * double(float32(inScale · weightScale)) / outScale (GetQuantizedConvolutionMultipler).
 */
function tieDistances(graph: QGraph, op: QFullyConnected, x: Int8Array, actual: Int8Array, expected: Int8Array): number[] {
  const inT = graph.tensors[op.input] as QTensor;
  const outT = graph.tensors[op.output] as QTensor;
  const [outputs, inputs] = op.weightsShape;
  const distances: number[] = [];
  for (let o = 0; o < outputs; o++) {
    if (actual[o] === expected[o]) continue;
    let acc = op.bias[o] as number;
    for (let j = 0; j < inputs; j++) acc += ((x[j] as number) - inT.zeroPoint) * (op.weights[o * inputs + j] as number);
    const weightScale = (op.weightScales.length === 1 ? op.weightScales[0] : op.weightScales[o]) as number;
    const exact = (acc * Math.fround(inT.scale * weightScale)) / outT.scale;
    distances.push(Math.abs(exact - Math.floor(exact) - 0.5));
  }
  return distances;
}

/** The graph that ends with op `k` (0-based): same ops up to it, its output as the graph's. */
function cutAfter(graph: QGraph, k: number): QGraph {
  const ops = graph.ops.slice(0, k + 1);
  return { ...graph, ops, output: (ops[k] as QOp).output };
}

/** TFLite's value of every tensor of `graph`, per input, by running each cut graph. */
async function tfliteTensors(page: Page, graph: QGraph, inputs: Int8Array[]): Promise<Map<string, Int8Array[]>> {
  const shape = (graph.tensors[graph.input] as QTensor).shape;
  const values = new Map<string, Int8Array[]>([[graph.input, inputs]]);
  for (let k = 0; k < graph.ops.length; k++) {
    const op = graph.ops[k] as QOp;
    const outputs = await runTflite(page, writeTflite(cutAfter(graph, k)), inputs, shape);
    expect(outputs, `${graph.name}, op ${op.name}: one output per input`).toHaveLength(inputs.length);
    values.set(op.output, outputs);
  }
  return values;
}

test("TFLite's interpreter computes what Hearth's int8 interpreter computes, op by op", async ({ page }) => {
  await openTfliteRuntime(page);
  const modelOutputs = new Agreement();
  const propagated = new Agreement();
  const opLocal = new Agreement();
  /** For each model output where the two differ: how far its exact value is from a half step. */
  const fcTies: number[] = [];

  for (const seed of SEEDS) {
    const graph = randomQGraph(seed);
    const inputs = randomInputs(graph, INPUTS_PER_GRAPH, 1000 + seed);
    const tflite = await tfliteTensors(page, graph, inputs);
    const get = (tensor: string, i: number): Int8Array => (tflite.get(tensor) as Int8Array[])[i] as Int8Array;

    const reference = new Int8Interpreter(graph);
    inputs.forEach((x, i) => {
      modelOutputs.add(graph.output, get(graph.output, i), reference.run(x));
      const tensors = reference.lastTensors();
      for (const op of graph.ops) propagated.add(op.name, get(op.output, i), tensors.get(op.output) as Int8Array);
    });

    for (const op of graph.ops) {
      if (op.kind === 'add') continue;
      const alone = new Int8Interpreter({ ...graph, input: op.input, output: op.output, ops: [op] });
      inputs.forEach((_, i) => {
        const expected = alone.run(get(op.input, i));
        const actual = get(op.output, i);
        opLocal.add(op.name, actual, expected);
        if (op.kind === 'fully-connected') fcTies.push(...tieDistances(graph, op, get(op.input, i), actual, expected));
      });
    }
  }

  console.log(`  fully-connected differences, distance of the exact value from a half step: ${fcTies.map((d) => d.toFixed(5)).join(', ') || 'none'}`);
  expect(Math.max(0, ...fcTies), 'every fully-connected difference is a rounding tie').toBeLessThan(TIE_STEPS);
  const header = `TFLite vs Hearth's int8 interpreter, ${SEEDS.length} random graphs × ${INPUTS_PER_GRAPH} inputs`;
  console.log(`${header}\n  model outputs: ${modelOutputs.describe()}\n  every tensor, propagated: ${propagated.describe()}\n  every op, fed TFLite's inputs: ${opLocal.describe()}`);
  for (const [what, a] of [
    ['model outputs', modelOutputs],
    ['every tensor, propagated', propagated],
    ["every op, fed TFLite's inputs", opLocal],
  ] as const) {
    expect(a.maxDiff, `${what}: ${a.describe()}`).toBeLessThanOrEqual(MAX_DIFF_STEPS);
  }
  // The share of equal values is asserted over every tensor, not over the 1,000 logits
  // alone: in these graphs the fully-connected input saturates to the same vector for
  // most inputs of a seed, so a single tie there (checked above) counts once per input.
  for (const [what, a] of [
    ['every tensor, propagated', propagated],
    ["every op, fed TFLite's inputs", opLocal],
  ] as const) {
    expect(a.equal / a.total, `${what}: ${a.describe()}`).toBeGreaterThanOrEqual(MIN_EQUAL_FRACTION);
  }
});
