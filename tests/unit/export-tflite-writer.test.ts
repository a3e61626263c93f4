import { describe, expect, it } from 'vitest';
import type { QGraph, QOp, QTensor } from '../../src/lib/export/qgraph';
import {
  readTfliteSummary,
  TFLITE_BUILTIN,
  TFLITE_FILE_IDENTIFIER,
  TFLITE_TENSOR_TYPE,
  writeTflite,
  type TfliteSummary,
} from '../../src/lib/export/tflite-writer';
import { randomQGraph } from '../helpers/random-qgraph';

const SEEDS = [1, 2, 3, 4, 5];

const CODE_OF: Record<QOp['kind'], number> = {
  conv2d: TFLITE_BUILTIN.CONV_2D,
  'depthwise-conv2d': TFLITE_BUILTIN.DEPTHWISE_CONV_2D,
  'fully-connected': TFLITE_BUILTIN.FULLY_CONNECTED,
  'max-pool2d': TFLITE_BUILTIN.MAX_POOL_2D,
  'average-pool2d': TFLITE_BUILTIN.AVERAGE_POOL_2D,
  add: TFLITE_BUILTIN.ADD,
  reshape: TFLITE_BUILTIN.RESHAPE,
};

/** Versions TFLite's op_version.cc gives int8 kernels. */
const INT8_VERSION: Record<number, number> = {
  [TFLITE_BUILTIN.CONV_2D]: 3,
  [TFLITE_BUILTIN.DEPTHWISE_CONV_2D]: 3,
  [TFLITE_BUILTIN.FULLY_CONNECTED]: 4,
  [TFLITE_BUILTIN.ADD]: 2,
  [TFLITE_BUILTIN.MAX_POOL_2D]: 2,
  [TFLITE_BUILTIN.AVERAGE_POOL_2D]: 2,
  [TFLITE_BUILTIN.RESHAPE]: 1,
};

function tensorOf(s: TfliteSummary, index: number | undefined): TfliteSummary['tensors'][number] {
  const t = s.tensors[index ?? -1];
  if (!t) throw new Error(`no tensor ${index}`);
  return t;
}

function bufferBytes(bytes: Uint8Array, s: TfliteSummary, bufferIndex: number): Uint8Array {
  const b = s.buffers[bufferIndex];
  if (!b) throw new Error(`no buffer ${bufferIndex}`);
  return bytes.subarray(b.offset, b.offset + b.length);
}

function expectActivation(s: TfliteSummary, index: number | undefined, q: QTensor): void {
  const t = tensorOf(s, index);
  expect(t.name).toBe(q.name);
  expect(t.shape).toEqual(q.shape);
  expect(t.type).toBe(TFLITE_TENSOR_TYPE.INT8);
  expect(t.buffer).toBe(0);
  // Scales are stored as float32; the graph's scales are float32 values already.
  expect(t.scale).toEqual([Math.fround(q.scale)]);
  expect(t.zeroPoint).toEqual([q.zeroPoint]);
}

function checkRoundTrip(graph: QGraph): void {
  const bytes = writeTflite(graph, { description: 'round trip' });
  const s = readTfliteSummary(bytes);
  const tensor = (name: string): QTensor => graph.tensors[name] as QTensor;

  expect(s.version).toBe(3);
  expect(s.description).toBe('round trip');
  expect(s.buffers[0]).toEqual({ offset: 0, length: 0 });
  expect(s.inputs).toHaveLength(1);
  expect(s.outputs).toHaveLength(1);
  expectActivation(s, s.inputs[0], tensor(graph.input));
  expectActivation(s, s.outputs[0], tensor(graph.output));

  // One operator per op, in order, each with its own builtin code and int8 version.
  expect(s.operators).toHaveLength(graph.ops.length);
  const kindsInOrder = [...new Set(graph.ops.map((op) => CODE_OF[op.kind]))];
  expect(s.operatorCodes).toEqual(kindsInOrder);
  expect(s.operatorVersions).toEqual(kindsInOrder.map((c) => INT8_VERSION[c]));

  graph.ops.forEach((op, i) => {
    const o = s.operators[i];
    if (!o) throw new Error(`operator ${i} missing`);
    expect(s.operatorCodes[o.opcodeIndex]).toBe(CODE_OF[op.kind]);
    expect(o.outputs).toHaveLength(1);
    expectActivation(s, o.outputs[0], tensor(op.output));
    const inputName = op.kind === 'add' ? op.inputs[0] : op.input;
    expectActivation(s, o.inputs[0], tensor(inputName));
    if (op.kind === 'add') {
      expect(o.inputs).toHaveLength(2);
      expectActivation(s, o.inputs[1], tensor(op.inputs[1]));
    } else if (op.kind === 'conv2d' || op.kind === 'depthwise-conv2d' || op.kind === 'fully-connected') {
      expect(o.inputs).toHaveLength(3);
      const [weights, weightsShape, weightScales] =
        op.kind === 'fully-connected' ? [op.weights, op.weightsShape, op.weightScales] : [op.filter, op.filterShape, op.filterScales];
      const w = tensorOf(s, o.inputs[1]);
      expect(w.type).toBe(TFLITE_TENSOR_TYPE.INT8);
      expect(w.shape).toEqual([...weightsShape]);
      expect(w.scale).toEqual(Array.from(weightScales));
      expect(w.zeroPoint).toEqual(Array.from(weightScales, () => 0));
      expect(w.quantizedDimension).toBe(op.kind === 'depthwise-conv2d' ? 3 : 0);
      expect(new Int8Array(bufferBytes(bytes, s, w.buffer).slice().buffer)).toEqual(weights);

      const inScale = tensor(inputName).scale;
      const bias = tensorOf(s, o.inputs[2]);
      expect(bias.type).toBe(TFLITE_TENSOR_TYPE.INT32);
      expect(bias.shape).toEqual([op.bias.length]);
      expect(bias.scale).toEqual(Array.from(weightScales, (ws) => Math.fround(inScale * ws)));
      expect(bias.zeroPoint.every((z) => z === 0)).toBe(true);
      const biasBytes = bufferBytes(bytes, s, bias.buffer);
      const view = new DataView(biasBytes.buffer, biasBytes.byteOffset, biasBytes.byteLength);
      expect(Int32Array.from({ length: op.bias.length }, (_, k) => view.getInt32(4 * k, true))).toEqual(op.bias);
    } else if (op.kind === 'reshape') {
      expect(o.inputs).toHaveLength(2);
      const shape = tensorOf(s, o.inputs[1]);
      expect(shape.type).toBe(TFLITE_TENSOR_TYPE.INT32);
      const shapeBytes = bufferBytes(bytes, s, shape.buffer);
      const view = new DataView(shapeBytes.buffer, shapeBytes.byteOffset, shapeBytes.byteLength);
      expect(Array.from({ length: shape.shape[0] ?? 0 }, (_, k) => view.getInt32(4 * k, true))).toEqual(tensor(op.output).shape);
    } else {
      expect(o.inputs).toHaveLength(1);
    }
  });

  // Every constant's data starts on a 16-byte boundary (TFLite Micro reads it in place).
  for (const b of s.buffers.slice(1)) {
    expect(b.length).toBeGreaterThan(0);
    expect(b.offset % 16).toBe(0);
  }
}

describe('writeTflite', () => {
  it('starts with the TFL3 file identifier after the root offset', () => {
    const bytes = writeTflite(randomQGraph(1));
    expect(new TextDecoder().decode(bytes.subarray(4, 8))).toBe(TFLITE_FILE_IDENTIFIER);
    expect(bytes.byteOffset).toBe(0);
    expect(bytes.byteLength).toBe(bytes.buffer.byteLength);
  });

  it.each(SEEDS)('round-trips the structure of randomQGraph(%i)', (seed) => {
    checkRoundTrip(randomQGraph(seed));
  });

  it('writes the same bytes for the same graph, and different bytes for another', () => {
    const a = writeTflite(randomQGraph(7));
    const b = writeTflite(randomQGraph(7));
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    expect(Buffer.from(a).equals(Buffer.from(writeTflite(randomQGraph(8))))).toBe(false);
  });

  it('names an op whose tensor is missing', () => {
    const graph = randomQGraph(1);
    delete graph.tensors.d1;
    expect(() => writeTflite(graph)).toThrow(/op 'd1'.*'d1'/);
  });
});

describe('readTfliteSummary', () => {
  it('refuses a file that is not TFLite, by name', () => {
    const notTflite = new TextEncoder().encode('PK\u0003\u0004 this is a zip file, not a model');
    expect(() => readTfliteSummary(notTflite)).toThrow(expect.objectContaining({ name: 'InvalidInputError' }));
    expect(() => readTfliteSummary(new Uint8Array(3))).toThrow(/too short/);
  });
});
