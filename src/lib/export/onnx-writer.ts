/**
 * Writes a `QGraph` as an ONNX model in QDQ form (QuantizeLinear / DequantizeLinear pairs
 * around float operators), the format that onnxruntime's quantizer produces and that its
 * graph optimiser folds back into integer kernels.
 *
 * The model's contract is the one Hearth trains with, in ONNX's layout:
 * - input: float32 NCHW `[N, C, H, W]`, the value pixel / 255 (batch `N` symbolic);
 * - output: float32 logits `[N, classes]`, the dequantized int8 output tensor.
 *
 * Every activation passes through QuantizeLinear → DequantizeLinear with the QGraph
 * tensor's scale and zero point, so each float value the next operator sees is exactly
 * one the int8 model can hold. Weights are int8 initializers and biases int32
 * initializers, each behind a DequantizeLinear, so the file holds the same integers as
 * the `.tflite` and the C array.
 *
 * Encoding: protobuf written field by field with protobufjs's minimal `Writer`; field
 * numbers and enums are those of onnx.proto (ONNX 1.12, the version Debian's checker runs).
 * IR version 7 and opset 13: the first opset with per-channel (axis) DequantizeLinear,
 * and within what python3-onnx 1.12 (IR ≤ 8, opset ≤ 17) and onnxruntime-web accept.
 */
import { Writer } from 'protobufjs/minimal.js';
import { HearthError } from '../jobs/errors';
import type { FusedActivation, Padding, QGraph, QOp, QTensor } from './qgraph';

export const ONNX_IR_VERSION = 7;
export const ONNX_OPSET_VERSION = 13;
export const ONNX_PRODUCER_NAME = 'Hearth';
/** The symbolic batch dimension of the model's input and output. */
export const ONNX_BATCH_DIM = 'N';

/** The QGraph cannot be written as ONNX; it is a bug in the graph that export produced. */
export class OnnxExportError extends HearthError {
  constructor(message: string) {
    super(message, 'OnnxExportError');
  }
}

// ---------------------------------------------------------------------------------------
// onnx.proto numbers

/** TensorProto.DataType */
const DataType = { FLOAT: 1, INT8: 3, INT32: 6, INT64: 7 } as const;
type DataTypeCode = (typeof DataType)[keyof typeof DataType];

/** AttributeProto.AttributeType */
const AttributeType = { FLOAT: 1, INT: 2, INTS: 7 } as const;

/** Protobuf wire types. */
const WIRE_VARINT = 0;
const WIRE_FIXED32 = 5;
const WIRE_LENGTH_DELIMITED = 2;

const Field = {
  model: { irVersion: 1, producerName: 2, producerVersion: 3, docString: 6, graph: 7, opsetImport: 8 },
  opset: { domain: 1, version: 2 },
  graph: { node: 1, name: 2, initializer: 5, input: 11, output: 12, valueInfo: 13 },
  node: { input: 1, output: 2, name: 3, opType: 4, attribute: 5 },
  attribute: { name: 1, f: 2, i: 3, ints: 8, type: 20 },
  tensor: { dims: 1, dataType: 2, name: 8, rawData: 9 },
  valueInfo: { name: 1, type: 2 },
  typeProto: { tensorType: 1 },
  typeTensor: { elemType: 1, shape: 2 },
  shape: { dim: 1 },
  dimension: { dimValue: 1, dimParam: 2 },
} as const;

// ---------------------------------------------------------------------------------------
// An in-memory ONNX graph, encoded at the end

type OnnxAttribute = { name: string; int: number } | { name: string; ints: readonly number[] } | { name: string; float: number };

interface OnnxNode {
  name: string;
  opType: string;
  inputs: string[];
  outputs: string[];
  attributes: OnnxAttribute[];
}

interface OnnxInitializer {
  name: string;
  dataType: DataTypeCode;
  dims: number[];
  /** Little-endian bytes, as raw_data stores them. */
  raw: Uint8Array;
}

/** A dimension is a size, or a name for a size known only at run time. */
type OnnxDim = number | string;

interface OnnxValueInfo {
  name: string;
  elemType: DataTypeCode;
  dims: OnnxDim[];
}

class OnnxGraphBuilder {
  readonly nodes: OnnxNode[] = [];
  readonly initializers: OnnxInitializer[] = [];
  readonly valueInfos: OnnxValueInfo[] = [];
  /** ONNX graphs are single-assignment: a name produced twice is an invalid model. */
  private readonly defined = new Set<string>();

  define(name: string): void {
    if (this.defined.has(name)) {
      throw new OnnxExportError(`The ONNX tensor name '${name}' would be defined twice; rename the layer or tensor that produces it and export again.`);
    }
    this.defined.add(name);
  }

  has(name: string): boolean {
    return this.defined.has(name);
  }

  node(opType: string, name: string, inputs: string[], outputs: string[], attributes: OnnxAttribute[] = []): void {
    for (const output of outputs) this.define(output);
    this.nodes.push({ name, opType, inputs, outputs, attributes });
  }

  initializer(name: string, dataType: DataTypeCode, dims: number[], raw: Uint8Array): string {
    this.define(name);
    this.initializers.push({ name, dataType, dims, raw });
    return name;
  }

  int8(name: string, dims: number[], values: Int8Array): string {
    return this.initializer(name, DataType.INT8, dims, new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength)));
  }

  int32(name: string, dims: number[], values: ArrayLike<number>): string {
    const view = new DataView(new ArrayBuffer(values.length * 4));
    for (let i = 0; i < values.length; i++) view.setInt32(i * 4, values[i] as number, true);
    return this.initializer(name, DataType.INT32, dims, new Uint8Array(view.buffer));
  }

  float32(name: string, dims: number[], values: ArrayLike<number>): string {
    const view = new DataView(new ArrayBuffer(values.length * 4));
    for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i] as number, true);
    return this.initializer(name, DataType.FLOAT, dims, new Uint8Array(view.buffer));
  }

  int64(name: string, dims: number[], values: readonly number[]): string {
    const view = new DataView(new ArrayBuffer(values.length * 8));
    for (let i = 0; i < values.length; i++) view.setBigInt64(i * 8, BigInt(values[i] as number), true);
    return this.initializer(name, DataType.INT64, dims, new Uint8Array(view.buffer));
  }
}

// ---------------------------------------------------------------------------------------
// Layout and padding

/** QGraph shape (NHWC, batch 1) → ONNX shape (NCHW, symbolic batch). */
function onnxDims(shape: readonly number[]): OnnxDim[] {
  if (shape.length === 4) {
    const [, h, w, c] = shape as [number, number, number, number];
    return [ONNX_BATCH_DIM, c, h, w];
  }
  return [ONNX_BATCH_DIM, ...shape.slice(1)];
}

/**
 * TensorFlow's padding for one spatial axis as ONNX [before, after]. 'same' pads
 * floor(total / 2) before and the rest after; ONNX's SAME_UPPER means the same thing but
 * explicit pads leave no reader room to disagree about it.
 */
function axisPads(size: number, kernel: number, stride: number, padding: Padding): [number, number] {
  if (padding === 'valid') return [0, 0];
  const out = Math.ceil(size / stride);
  const total = Math.max((out - 1) * stride + kernel - size, 0);
  const before = Math.floor(total / 2);
  return [before, total - before];
}

/** ONNX `pads` for a 2-D window: [top, left, bottom, right]. */
function windowPads(input: QTensor, kernel: [number, number], strides: [number, number], padding: Padding): number[] {
  const [, h, w] = input.shape as [number, number, number, number];
  const [top, bottom] = axisPads(h, kernel[0], strides[0], padding);
  const [left, right] = axisPads(w, kernel[1], strides[1], padding);
  return [top, left, bottom, right];
}

// ---------------------------------------------------------------------------------------
// QGraph → ONNX graph

class QdqEmitter {
  readonly b = new OnnxGraphBuilder();
  private clipBounds: [string, string] | null = null;

  constructor(private readonly graph: QGraph) {}

  tensor(name: string, op?: QOp): QTensor {
    const t = this.graph.tensors[name];
    if (!t) {
      const where = op ? `op '${op.name}' names tensor '${name}'` : `the graph names tensor '${name}'`;
      throw new OnnxExportError(`Cannot write ONNX: ${where}, which the quantized graph does not define. Export again from the trained model.`);
    }
    return t;
  }

  /** The float (dequantized) ONNX name of a QGraph tensor; the graph output keeps its own name. */
  floatName(tensor: string): string {
    return tensor === this.graph.output ? tensor : `${tensor}/dequantized`;
  }

  /** QuantizeLinear → DequantizeLinear with the tensor's own scale and zero point. */
  quantizeDequantize(tensorName: string, floatSource: string, nodePrefix: string): void {
    const t = this.tensor(tensorName);
    const scale = this.b.float32(`${tensorName}/scale`, [], [t.scale]);
    const zeroPoint = this.b.int8(`${tensorName}/zero_point`, [], Int8Array.of(t.zeroPoint));
    const quantized = `${tensorName}/quantized`;
    this.b.node('QuantizeLinear', `${nodePrefix}/quantize`, [floatSource, scale, zeroPoint], [quantized]);
    this.b.node('DequantizeLinear', `${nodePrefix}/dequantize`, [quantized, scale, zeroPoint], [this.floatName(tensorName)]);
  }

  /** The fused activation as its own node; returns the name of the activated tensor. */
  activation(opName: string, activation: FusedActivation, source: string): string {
    if (activation === 'none') return source;
    const output = `${opName}/${activation}`;
    if (activation === 'relu') {
      this.b.node('Relu', `${opName}/relu`, [source], [output]);
    } else {
      // Since opset 11 Clip takes its bounds as inputs, not attributes.
      this.clipBounds ??= [this.b.float32('relu6/min', [], [0]), this.b.float32('relu6/max', [], [6])];
      this.b.node('Clip', `${opName}/relu6`, [source, ...this.clipBounds], [output]);
    }
    return output;
  }

  /**
   * int8 weights behind a DequantizeLinear: per channel along axis 0 when there is one
   * scale per output channel, per tensor (scalar scale) when there is one scale.
   */
  weights(opName: string, dims: number[], values: Int8Array, scales: Float32Array): string {
    const perChannel = scales.length > 1;
    const scaleDims = perChannel ? [scales.length] : [];
    const q = this.b.int8(`${opName}/weight_quantized`, dims, values);
    const scale = this.b.float32(`${opName}/weight_scale`, scaleDims, scales);
    const zeroPoint = this.b.int8(`${opName}/weight_zero_point`, scaleDims, new Int8Array(scales.length));
    const output = `${opName}/weight`;
    this.b.node('DequantizeLinear', `${opName}/weight_dequantize`, [q, scale, zeroPoint], [output], perChannel ? [{ name: 'axis', int: 0 }] : []);
    return output;
  }

  /** int32 bias with scale inputScale · weightScale[c] and zero point 0 (TFLite's rule). */
  bias(opName: string, bias: Int32Array, inputScale: number, weightScales: Float32Array): string {
    if (weightScales.length !== 1 && weightScales.length !== bias.length) {
      throw new OnnxExportError(`Cannot write ONNX: op '${opName}' has ${bias.length} biases but ${weightScales.length} weight scales. Export again from the trained model.`);
    }
    const perChannel = weightScales.length > 1;
    const scales = Float32Array.from(weightScales, (s) => Math.fround(inputScale * s));
    const scaleDims = perChannel ? [bias.length] : [];
    const q = this.b.int32(`${opName}/bias_quantized`, [bias.length], bias);
    const scale = this.b.float32(`${opName}/bias_scale`, scaleDims, scales);
    const zeroPoint = this.b.int32(`${opName}/bias_zero_point`, scaleDims, new Int32Array(scales.length));
    const output = `${opName}/bias`;
    this.b.node('DequantizeLinear', `${opName}/bias_dequantize`, [q, scale, zeroPoint], [output], perChannel ? [{ name: 'axis', int: 0 }] : []);
    return output;
  }

  /** The common tail of every op: fused activation, then requantize to the output tensor. */
  finish(op: QOp, result: string, activation: FusedActivation): void {
    this.quantizeDequantize(op.output, this.activation(op.name, activation, result), op.name);
  }

  emit(op: QOp): void {
    const result = `${op.output}/result`;
    switch (op.kind) {
      case 'conv2d': {
        const input = this.tensor(op.input, op);
        const [outC, kH, kW, inC] = op.filterShape;
        // TFLite OHWI → ONNX OIHW.
        const oihw = new Int8Array(op.filter.length);
        for (let o = 0; o < outC; o++)
          for (let y = 0; y < kH; y++)
            for (let x = 0; x < kW; x++)
              for (let i = 0; i < inC; i++) oihw[((o * inC + i) * kH + y) * kW + x] = op.filter[((o * kH + y) * kW + x) * inC + i] as number;
        const weight = this.weights(op.name, [outC, inC, kH, kW], oihw, op.filterScales);
        const bias = this.bias(op.name, op.bias, input.scale, op.filterScales);
        this.b.node('Conv', op.name, [this.floatName(op.input), weight, bias], [result], [
          { name: 'dilations', ints: [1, 1] },
          { name: 'group', int: 1 },
          { name: 'kernel_shape', ints: [kH, kW] },
          { name: 'pads', ints: windowPads(input, [kH, kW], op.strides, op.padding) },
          { name: 'strides', ints: op.strides },
        ]);
        this.finish(op, result, op.activation);
        return;
      }
      case 'depthwise-conv2d': {
        const input = this.tensor(op.input, op);
        const [, kH, kW, outC] = op.filterShape;
        const inC = input.shape[3] as number;
        if (outC !== inC * op.depthMultiplier) {
          throw new OnnxExportError(`Cannot write ONNX: depthwise op '${op.name}' has ${outC} filters for ${inC} input channels × multiplier ${op.depthMultiplier}. Export again from the trained model.`);
        }
        // TFLite 1HWC (C = inC · multiplier) → a grouped Conv's [C, 1, kH, kW]; output
        // channel o reads input channel floor(o / multiplier) in both layouts.
        const weightsChw = new Int8Array(op.filter.length);
        for (let o = 0; o < outC; o++)
          for (let y = 0; y < kH; y++) for (let x = 0; x < kW; x++) weightsChw[(o * kH + y) * kW + x] = op.filter[(y * kW + x) * outC + o] as number;
        const weight = this.weights(op.name, [outC, 1, kH, kW], weightsChw, op.filterScales);
        const bias = this.bias(op.name, op.bias, input.scale, op.filterScales);
        this.b.node('Conv', op.name, [this.floatName(op.input), weight, bias], [result], [
          { name: 'dilations', ints: [1, 1] },
          { name: 'group', int: inC },
          { name: 'kernel_shape', ints: [kH, kW] },
          { name: 'pads', ints: windowPads(input, [kH, kW], op.strides, op.padding) },
          { name: 'strides', ints: op.strides },
        ]);
        this.finish(op, result, op.activation);
        return;
      }
      case 'fully-connected': {
        const input = this.tensor(op.input, op);
        if (input.shape.length !== 2) {
          throw new OnnxExportError(`Cannot write ONNX: fully-connected op '${op.name}' reads a tensor of shape [${input.shape.join(', ')}]; it needs a flattened [1, n] input. Export again from the trained model.`);
        }
        const weight = this.weights(op.name, [...op.weightsShape], op.weights, op.weightScales);
        const bias = this.bias(op.name, op.bias, input.scale, op.weightScales);
        // Weights are [out, in]: Gemm computes A · Bᵀ + C with transB.
        this.b.node('Gemm', op.name, [this.floatName(op.input), weight, bias], [result], [{ name: 'transB', int: 1 }]);
        this.finish(op, result, op.activation);
        return;
      }
      case 'max-pool2d':
      case 'average-pool2d': {
        const input = this.tensor(op.input, op);
        const attributes: OnnxAttribute[] = [
          { name: 'kernel_shape', ints: op.filter },
          { name: 'pads', ints: windowPads(input, op.filter, op.strides, op.padding) },
          { name: 'strides', ints: op.strides },
        ];
        // TensorFlow averages over the window's real pixels only.
        if (op.kind === 'average-pool2d') attributes.push({ name: 'count_include_pad', int: 0 });
        this.b.node(op.kind === 'max-pool2d' ? 'MaxPool' : 'AveragePool', op.name, [this.floatName(op.input)], [result], attributes);
        this.finish(op, result, op.activation);
        return;
      }
      case 'add': {
        for (const name of op.inputs) this.tensor(name, op);
        this.b.node('Add', op.name, op.inputs.map((name) => this.floatName(name)), [result]);
        this.finish(op, result, op.activation);
        return;
      }
      case 'reshape': {
        const input = this.tensor(op.input, op);
        const output = this.tensor(op.output, op);
        // QGraph reshapes flatten in NHWC order; the ONNX tensors are NCHW, so go back to
        // NHWC before reshaping, or a flatten would interleave channels differently and the
        // fully-connected weights would meet the wrong features.
        let source = this.floatName(op.input);
        if (input.shape.length === 4) {
          this.b.node('Transpose', `${op.name}/to_nhwc`, [source], [`${op.name}/nhwc`], [{ name: 'perm', ints: [0, 2, 3, 1] }]);
          source = `${op.name}/nhwc`;
        }
        // 0 copies the batch dimension (opset 13 has no allowzero).
        const shape = this.b.int64(`${op.name}/shape`, [output.shape.length], [0, ...output.shape.slice(1)]);
        const reshaped = output.shape.length === 4 ? `${op.name}/reshaped_nhwc` : result;
        this.b.node('Reshape', op.name, [source, shape], [reshaped]);
        if (output.shape.length === 4) {
          this.b.node('Transpose', `${op.name}/to_nchw`, [reshaped], [result], [{ name: 'perm', ints: [0, 3, 1, 2] }]);
        }
        this.finish(op, result, 'none');
        return;
      }
    }
  }
}

// ---------------------------------------------------------------------------------------
// Protobuf encoding

function tag(field: number, wireType: number): number {
  return ((field << 3) | wireType) >>> 0;
}

function writeString(w: Writer, field: number, value: string): void {
  w.uint32(tag(field, WIRE_LENGTH_DELIMITED)).string(value);
}

function writeInt64(w: Writer, field: number, value: number): void {
  w.uint32(tag(field, WIRE_VARINT)).int64(value);
}

function writeMessage(w: Writer, field: number, body: (w: Writer) => void): void {
  w.uint32(tag(field, WIRE_LENGTH_DELIMITED)).fork();
  body(w);
  w.ldelim();
}

function writeAttribute(w: Writer, a: OnnxAttribute): void {
  const F = Field.attribute;
  writeString(w, F.name, a.name);
  if ('int' in a) {
    writeInt64(w, F.i, a.int);
    writeInt64(w, F.type, AttributeType.INT);
  } else if ('float' in a) {
    w.uint32(tag(F.f, WIRE_FIXED32)).float(a.float);
    writeInt64(w, F.type, AttributeType.FLOAT);
  } else {
    // proto2 `repeated int64` without [packed]: one tagged varint per element.
    for (const v of a.ints) writeInt64(w, F.ints, v);
    writeInt64(w, F.type, AttributeType.INTS);
  }
}

function writeNode(w: Writer, n: OnnxNode): void {
  const F = Field.node;
  for (const input of n.inputs) writeString(w, F.input, input);
  for (const output of n.outputs) writeString(w, F.output, output);
  writeString(w, F.name, n.name);
  writeString(w, F.opType, n.opType);
  for (const a of n.attributes) writeMessage(w, F.attribute, (w) => writeAttribute(w, a));
}

function writeTensor(w: Writer, t: OnnxInitializer): void {
  const F = Field.tensor;
  for (const d of t.dims) writeInt64(w, F.dims, d);
  writeInt64(w, F.dataType, t.dataType);
  writeString(w, F.name, t.name);
  w.uint32(tag(F.rawData, WIRE_LENGTH_DELIMITED)).bytes(t.raw);
}

function writeValueInfo(w: Writer, v: OnnxValueInfo): void {
  writeString(w, Field.valueInfo.name, v.name);
  writeMessage(w, Field.valueInfo.type, (w) =>
    writeMessage(w, Field.typeProto.tensorType, (w) => {
      writeInt64(w, Field.typeTensor.elemType, v.elemType);
      writeMessage(w, Field.typeTensor.shape, (w) => {
        for (const d of v.dims) {
          writeMessage(w, Field.shape.dim, (w) => {
            if (typeof d === 'number') writeInt64(w, Field.dimension.dimValue, d);
            else writeString(w, Field.dimension.dimParam, d);
          });
        }
      });
    }),
  );
}

// ---------------------------------------------------------------------------------------

/** Serialises a quantized graph as an ONNX QDQ model (see the file comment for its contract). */
export function writeOnnx(graph: QGraph, opts: { producerVersion?: string; docString?: string } = {}): Uint8Array {
  const emitter = new QdqEmitter(graph);
  const b = emitter.b;
  const input = emitter.tensor(graph.input);
  const output = emitter.tensor(graph.output);
  if (input.shape.length !== 4 && input.shape.length !== 2) {
    throw new OnnxExportError(`Cannot write ONNX: the input tensor has shape [${input.shape.join(', ')}]; Hearth exports image [1, H, W, C] or vector [1, n] inputs.`);
  }

  // The float input is the graph's input name; it is quantized once, like TFLite's input.
  b.define(graph.input);
  emitter.quantizeDequantize(graph.input, graph.input, graph.input);
  for (const op of graph.ops) emitter.emit(op);
  if (!b.has(graph.output)) {
    throw new OnnxExportError(`Cannot write ONNX: no op produces the output tensor '${graph.output}'. Export again from the trained model.`);
  }

  // Shapes of the dequantized activations, so viewers show them and the checker's strict
  // shape inference cross-checks them against what each operator computes.
  for (const op of graph.ops) {
    if (op.output === graph.output) continue;
    b.valueInfos.push({ name: emitter.floatName(op.output), elemType: DataType.FLOAT, dims: onnxDims(emitter.tensor(op.output).shape) });
  }

  const w = Writer.create();
  writeInt64(w, Field.model.irVersion, ONNX_IR_VERSION);
  writeString(w, Field.model.producerName, ONNX_PRODUCER_NAME);
  if (opts.producerVersion !== undefined) writeString(w, Field.model.producerVersion, opts.producerVersion);
  if (opts.docString !== undefined) writeString(w, Field.model.docString, opts.docString);
  writeMessage(w, Field.model.graph, (w) => {
    const F = Field.graph;
    for (const n of b.nodes) writeMessage(w, F.node, (w) => writeNode(w, n));
    writeString(w, F.name, graph.name);
    for (const t of b.initializers) writeMessage(w, F.initializer, (w) => writeTensor(w, t));
    writeMessage(w, F.input, (w) => writeValueInfo(w, { name: graph.input, elemType: DataType.FLOAT, dims: onnxDims(input.shape) }));
    writeMessage(w, F.output, (w) => writeValueInfo(w, { name: graph.output, elemType: DataType.FLOAT, dims: onnxDims(output.shape) }));
    for (const v of b.valueInfos) writeMessage(w, F.valueInfo, (w) => writeValueInfo(w, v));
  });
  // The default ('') domain: the standard ONNX operators.
  writeMessage(w, Field.model.opsetImport, (w) => writeInt64(w, Field.opset.version, ONNX_OPSET_VERSION));
  return w.finish();
}
