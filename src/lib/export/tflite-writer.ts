/**
 * Writes a `QGraph` as a TensorFlow Lite flatbuffer (`.tflite`), and reads one back as a
 * summary.
 *
 * The tables are written by hand from TFLite's schema (tensorflow/lite/schema/schema.fbs)
 * rather than from flatc-generated code: Hearth needs a dozen tables out of hundreds, and
 * the schema only ever appends fields, so the field ids below stay valid. A field's
 * vtable slot is its id (unions take two ids: the type byte, then the table).
 *
 * What the file holds, and why:
 * - schema version 3, file identifier "TFL3", one subgraph, buffer 0 empty (TFLite's
 *   convention: a tensor with buffer 0 has no constant data);
 * - int8 activations with per-tensor scale and zero point; conv and depthwise filters
 *   per-channel (quantized_dimension 0 for OHWI, 3 for 1HWC); int32 biases with scale
 *   inputScale · filterScale[c], as TFLite's converter writes them;
 * - operator codes with both the old byte field and the int32 one, and the versions that
 *   TFLite's own versioning rules (tools/versioning/op_version.cc) give int8 kernels, so
 *   TFLite Micro's op resolver and the full runtime both accept them;
 * - constant data 16-byte aligned inside the file (schema: `force_align: 16`), which
 *   TFLite Micro relies on when it reads weights in place from flash.
 *
 * No metadata (such as `min_runtime_version`) is written: readers treat it as optional.
 */
import { Builder, ByteBuffer, type Offset } from 'flatbuffers';
import { InvalidInputError } from '../jobs/errors';
import type { FusedActivation, Padding, QAdd, QConv2D, QDepthwiseConv2D, QFullyConnected, QGraph, QOp, QPool2D, QReshape, QTensor } from './qgraph';

export const TFLITE_FILE_IDENTIFIER = 'TFL3';
export const TFLITE_SCHEMA_VERSION = 3;

/** schema.fbs `enum TensorType`. */
export const TFLITE_TENSOR_TYPE = { INT32: 2, INT8: 9 } as const;

/** schema.fbs `enum BuiltinOperator` (the codes Hearth writes). */
export const TFLITE_BUILTIN = {
  ADD: 0,
  AVERAGE_POOL_2D: 1,
  CONV_2D: 3,
  DEPTHWISE_CONV_2D: 4,
  FULLY_CONNECTED: 9,
  MAX_POOL_2D: 17,
  RESHAPE: 22,
} as const;

/**
 * Operator versions for int8 inputs, weights and outputs, from op_version.cc: a runtime
 * refuses a model whose version is newer than the kernel it has, and an int8 kernel
 * needs at least these.
 */
const OP_VERSION_INT8: Record<number, number> = {
  [TFLITE_BUILTIN.ADD]: 2,
  [TFLITE_BUILTIN.AVERAGE_POOL_2D]: 2,
  [TFLITE_BUILTIN.CONV_2D]: 3,
  [TFLITE_BUILTIN.DEPTHWISE_CONV_2D]: 3,
  [TFLITE_BUILTIN.FULLY_CONNECTED]: 4,
  [TFLITE_BUILTIN.MAX_POOL_2D]: 2,
  [TFLITE_BUILTIN.RESHAPE]: 1,
};

/**
 * The old `deprecated_builtin_code` is a byte; codes from 127 up live only in the int32
 * `builtin_code` (schema: PLACEHOLDER_FOR_GREATER_OP_CODES = 127).
 */
const PLACEHOLDER_FOR_GREATER_OP_CODES = 127;

/** schema.fbs `union BuiltinOptions` type ids (0 is NONE). */
const BUILTIN_OPTIONS = {
  Conv2DOptions: 1,
  DepthwiseConv2DOptions: 2,
  Pool2DOptions: 5,
  FullyConnectedOptions: 8,
  AddOptions: 11,
  ReshapeOptions: 17,
} as const;

const PADDING: Record<Padding, number> = { same: 0, valid: 1 };
const ACTIVATION: Record<FusedActivation, number> = { none: 0, relu: 1, relu6: 3 };

/** Constant data alignment in bytes (schema.fbs: `data:[ubyte] (force_align: 16)`). */
const BUFFER_ALIGN_BYTES = 16;

/** Field ids, per table, in schema order. */
const MODEL = { version: 0, operatorCodes: 1, subgraphs: 2, description: 3, buffers: 4 } as const;
const MODEL_FIELDS = 8;
const SUBGRAPH = { tensors: 0, inputs: 1, outputs: 2, operators: 3, name: 4 } as const;
const SUBGRAPH_FIELDS = 5;
const TENSOR = { shape: 0, type: 1, buffer: 2, name: 3, quantization: 4 } as const;
const TENSOR_FIELDS = 5;
const QUANT = { scale: 2, zeroPoint: 3, quantizedDimension: 6 } as const;
const QUANT_FIELDS = 7;
const OPERATOR = { opcodeIndex: 0, inputs: 1, outputs: 2, builtinOptionsType: 3, builtinOptions: 4 } as const;
const OPERATOR_FIELDS = 5;
const OPCODE = { deprecatedBuiltinCode: 0, version: 2, builtinCode: 3 } as const;
const OPCODE_FIELDS = 4;
const BUFFER = { data: 0 } as const;
const BUFFER_FIELDS = 1;

interface Quantization {
  scale: number[];
  zeroPoint: number[];
  quantizedDimension: number;
}

interface TensorSpec {
  name: string;
  shape: number[];
  type: number;
  buffer: number;
  quantization?: Quantization;
}

interface OperatorSpec {
  opcodeIndex: number;
  inputs: number[];
  outputs: number[];
  optionsType: number;
  /** Writes the options table; runs before the Operator table is started. */
  writeOptions: (b: Builder) => Offset;
}

/** Serialises `graph` as a `.tflite` file. Same graph in, same bytes out. */
export function writeTflite(graph: QGraph, opts: { description?: string } = {}): Uint8Array {
  const tables = new SubgraphTables(graph);
  const input = tables.activation(graph.input, null);
  for (const op of graph.ops) addOperator(tables, op);
  const output = tables.tensorIndex.get(graph.output);
  if (output === undefined) {
    throw new InvalidInputError(`Cannot write TFLite: no op produces the output tensor '${graph.output}'. Export the model again; if it repeats, report it as a bug.`);
  }

  return serialise({
    description: opts.description ?? `Hearth int8 model '${graph.name}'`,
    subgraphName: graph.name,
    tensors: tables.tensors,
    buffers: tables.buffers,
    opcodes: tables.opcodes,
    operators: tables.operators,
    inputs: [input],
    outputs: [output],
  });
}

/**
 * The subgraph's tables as the ops add to them, in the order they are needed: the
 * tensors (each activation once, by name), their constant buffers (buffer 0 empty), the
 * operator codes (each once) and the operators.
 */
class SubgraphTables {
  readonly tensors: TensorSpec[] = [];
  readonly tensorIndex = new Map<string, number>();
  readonly buffers: (Uint8Array | null)[] = [null];
  readonly opcodes: number[] = [];
  readonly operators: OperatorSpec[] = [];

  constructor(private readonly graph: QGraph) {}

  qtensor(name: string, op: QOp | null): QTensor {
    const t = this.graph.tensors[name];
    if (!t) {
      const where = op ? `op '${op.name}' uses tensor '${name}'` : `the graph names tensor '${name}'`;
      throw new InvalidInputError(`Cannot write TFLite: ${where}, which the graph does not define. Export the model again; if it repeats, report it as a bug.`);
    }
    return t;
  }

  activation(name: string, op: QOp | null): number {
    const known = this.tensorIndex.get(name);
    if (known !== undefined) return known;
    const t = this.qtensor(name, op);
    this.tensorIndex.set(name, this.tensors.length);
    this.tensors.push({
      name,
      shape: [...t.shape],
      type: TFLITE_TENSOR_TYPE.INT8,
      buffer: 0,
      quantization: { scale: [Math.fround(t.scale)], zeroPoint: [t.zeroPoint], quantizedDimension: 0 },
    });
    return this.tensors.length - 1;
  }

  constant(name: string, shape: number[], type: number, data: Uint8Array, quantization?: Quantization): number {
    this.buffers.push(data);
    this.tensors.push({ name, shape, type, buffer: this.buffers.length - 1, quantization });
    return this.tensors.length - 1;
  }

  opcode(code: number): number {
    const at = this.opcodes.indexOf(code);
    if (at >= 0) return at;
    this.opcodes.push(code);
    return this.opcodes.length - 1;
  }

  /** Bias scale is inputScale · weightScale[c] in float32, as the converter computes it. */
  biasTensor(op: QOp & { bias: Int32Array }, inputScale: number, weightScales: Float32Array): number {
    const scale = Array.from(weightScales, (s) => Math.fround(inputScale * s));
    return this.constant(`${op.name}/bias`, [op.bias.length], TFLITE_TENSOR_TYPE.INT32, int32Bytes(op.bias), {
      scale,
      zeroPoint: scale.map(() => 0),
      quantizedDimension: 0,
    });
  }
}

/** Adds one op's operator, with the tensors, buffers and operator code it needs. */
function addOperator(tables: SubgraphTables, op: QOp): void {
  switch (op.kind) {
    case 'conv2d':
    case 'depthwise-conv2d':
      addConv2D(tables, op);
      break;
    case 'fully-connected':
      addFullyConnected(tables, op);
      break;
    case 'max-pool2d':
    case 'average-pool2d':
      addPool2D(tables, op);
      break;
    case 'add':
      addAdd(tables, op);
      break;
    case 'reshape':
      addReshape(tables, op);
      break;
  }
}

function addConv2D(tables: SubgraphTables, op: QConv2D | QDepthwiseConv2D): void {
  const x = tables.activation(op.input, op);
  const inScale = tables.qtensor(op.input, op).scale;
  const isDepthwise = op.kind === 'depthwise-conv2d';
  const filter = tables.constant(`${op.name}/filter`, [...op.filterShape], TFLITE_TENSOR_TYPE.INT8, int8Bytes(op.filter), {
    scale: Array.from(op.filterScales),
    zeroPoint: Array.from(op.filterScales, () => 0),
    // The output-channel axis: O of OHWI, C of 1HWC.
    quantizedDimension: isDepthwise ? 3 : 0,
  });
  const bias = tables.biasTensor(op, inScale, op.filterScales);
  const y = tables.activation(op.output, op);
  const [strideH, strideW] = op.strides;
  const padding = PADDING[op.padding];
  const fused = ACTIVATION[op.activation];
  if (op.kind === 'depthwise-conv2d') {
    const depthMultiplier = op.depthMultiplier;
    tables.operators.push({
      opcodeIndex: tables.opcode(TFLITE_BUILTIN.DEPTHWISE_CONV_2D),
      inputs: [x, filter, bias],
      outputs: [y],
      optionsType: BUILTIN_OPTIONS.DepthwiseConv2DOptions,
      // DepthwiseConv2DOptions: padding, stride_w, stride_h, depth_multiplier, fused_activation_function.
      writeOptions: (b) => table(b, 7, () => {
        b.addFieldInt8(0, padding, null);
        b.addFieldInt32(1, strideW, null);
        b.addFieldInt32(2, strideH, null);
        b.addFieldInt32(3, depthMultiplier, null);
        b.addFieldInt8(4, fused, null);
      }),
    });
  } else {
    tables.operators.push({
      opcodeIndex: tables.opcode(TFLITE_BUILTIN.CONV_2D),
      inputs: [x, filter, bias],
      outputs: [y],
      optionsType: BUILTIN_OPTIONS.Conv2DOptions,
      // Conv2DOptions: padding, stride_w, stride_h, fused_activation_function.
      writeOptions: (b) => table(b, 6, () => {
        b.addFieldInt8(0, padding, null);
        b.addFieldInt32(1, strideW, null);
        b.addFieldInt32(2, strideH, null);
        b.addFieldInt8(3, fused, null);
      }),
    });
  }
}

function addFullyConnected(tables: SubgraphTables, op: QFullyConnected): void {
  const x = tables.activation(op.input, op);
  const inScale = tables.qtensor(op.input, op).scale;
  const weights = tables.constant(`${op.name}/weights`, [...op.weightsShape], TFLITE_TENSOR_TYPE.INT8, int8Bytes(op.weights), {
    scale: Array.from(op.weightScales),
    zeroPoint: Array.from(op.weightScales, () => 0),
    quantizedDimension: 0,
  });
  // Per-tensor weights give one bias scale, per-channel weights one per output.
  const bias = tables.biasTensor(op, inScale, op.weightScales);
  const y = tables.activation(op.output, op);
  const fused = ACTIVATION[op.activation];
  tables.operators.push({
    opcodeIndex: tables.opcode(TFLITE_BUILTIN.FULLY_CONNECTED),
    inputs: [x, weights, bias],
    outputs: [y],
    optionsType: BUILTIN_OPTIONS.FullyConnectedOptions,
    // FullyConnectedOptions: fused_activation_function (weights_format DEFAULT, keep_num_dims false).
    writeOptions: (b) => table(b, 1, () => b.addFieldInt8(0, fused, null)),
  });
}

function addPool2D(tables: SubgraphTables, op: QPool2D): void {
  const x = tables.activation(op.input, op);
  const y = tables.activation(op.output, op);
  const [strideH, strideW] = op.strides;
  const [filterH, filterW] = op.filter;
  const padding = PADDING[op.padding];
  const fused = ACTIVATION[op.activation];
  tables.operators.push({
    opcodeIndex: tables.opcode(op.kind === 'max-pool2d' ? TFLITE_BUILTIN.MAX_POOL_2D : TFLITE_BUILTIN.AVERAGE_POOL_2D),
    inputs: [x],
    outputs: [y],
    optionsType: BUILTIN_OPTIONS.Pool2DOptions,
    // Pool2DOptions: padding, stride_w, stride_h, filter_width, filter_height, fused_activation_function.
    writeOptions: (b) => table(b, 6, () => {
      b.addFieldInt8(0, padding, null);
      b.addFieldInt32(1, strideW, null);
      b.addFieldInt32(2, strideH, null);
      b.addFieldInt32(3, filterW, null);
      b.addFieldInt32(4, filterH, null);
      b.addFieldInt8(5, fused, null);
    }),
  });
}

function addAdd(tables: SubgraphTables, op: QAdd): void {
  const a = tables.activation(op.inputs[0], op);
  const c = tables.activation(op.inputs[1], op);
  const y = tables.activation(op.output, op);
  const fused = ACTIVATION[op.activation];
  tables.operators.push({
    opcodeIndex: tables.opcode(TFLITE_BUILTIN.ADD),
    inputs: [a, c],
    outputs: [y],
    optionsType: BUILTIN_OPTIONS.AddOptions,
    // AddOptions: fused_activation_function.
    writeOptions: (b) => table(b, 1, () => b.addFieldInt8(0, fused, null)),
  });
}

function addReshape(tables: SubgraphTables, op: QReshape): void {
  const x = tables.activation(op.input, op);
  const newShape = [...tables.qtensor(op.output, op).shape];
  // The new shape goes both in the options and as a constant second input: the
  // full runtime prefers the tensor, some TFLite Micro builds read only one of them.
  const shape = tables.constant(`${op.name}/shape`, [newShape.length], TFLITE_TENSOR_TYPE.INT32, int32Bytes(Int32Array.from(newShape)));
  const y = tables.activation(op.output, op);
  tables.operators.push({
    opcodeIndex: tables.opcode(TFLITE_BUILTIN.RESHAPE),
    inputs: [x, shape],
    outputs: [y],
    optionsType: BUILTIN_OPTIONS.ReshapeOptions,
    // ReshapeOptions: new_shape.
    writeOptions: (b) => {
      const vec = intVector(b, newShape);
      return table(b, 1, () => b.addFieldOffset(0, vec, 0));
    },
  });
}

function int8Bytes(values: Int8Array): Uint8Array {
  return new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));
}

/** Little-endian, whatever the host's byte order: the schema says so. */
function int32Bytes(values: Int32Array): Uint8Array {
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  values.forEach((v, i) => view.setInt32(i * 4, v, true));
  return bytes;
}

/** Starts a table, lets `fill` add its fields, ends it. Children must exist already. */
function table(b: Builder, numFields: number, fill: () => void): Offset {
  b.startObject(numFields);
  fill();
  return b.endObject();
}

function intVector(b: Builder, values: readonly number[]): Offset {
  b.startVector(4, values.length, 4);
  for (let i = values.length - 1; i >= 0; i--) b.addInt32(values[i] as number);
  return b.endVector();
}

function floatVector(b: Builder, values: readonly number[]): Offset {
  b.startVector(4, values.length, 4);
  for (let i = values.length - 1; i >= 0; i--) b.addFloat32(values[i] as number);
  return b.endVector();
}

function longVector(b: Builder, values: readonly number[]): Offset {
  b.startVector(8, values.length, 8);
  for (let i = values.length - 1; i >= 0; i--) b.addInt64(BigInt(values[i] as number));
  return b.endVector();
}

function offsetVector(b: Builder, offsets: readonly Offset[]): Offset {
  b.startVector(4, offsets.length, 4);
  for (let i = offsets.length - 1; i >= 0; i--) b.addOffset(offsets[i] as Offset);
  return b.endVector();
}

/**
 * A [ubyte] vector whose first byte is 16-byte aligned in the finished file: `prep`
 * pads so that the position after the data is aligned, and the builder aligns the whole
 * file to its largest alignment when it finishes.
 */
function alignedByteVector(b: Builder, data: Uint8Array): Offset {
  b.prep(BUFFER_ALIGN_BYTES, data.length);
  return b.createByteVector(data);
}

interface ModelSpec {
  description: string;
  subgraphName: string;
  tensors: TensorSpec[];
  buffers: (Uint8Array | null)[];
  opcodes: number[];
  operators: OperatorSpec[];
  inputs: number[];
  outputs: number[];
}

function serialise(m: ModelSpec): Uint8Array {
  const dataBytes = m.buffers.reduce((sum, d) => sum + (d?.length ?? 0), 0);
  const b = new Builder(dataBytes + 4096);

  // Flatbuffers are built back to front: every child (vector, string, table) is
  // written before the table that points at it.
  const bufferOffsets = m.buffers.map((data) => {
    const vec = data && data.length > 0 ? alignedByteVector(b, data) : 0;
    return table(b, BUFFER_FIELDS, () => {
      if (vec) b.addFieldOffset(BUFFER.data, vec, 0);
    });
  });

  const tensorOffsets = m.tensors.map((t) => {
    const shape = intVector(b, t.shape);
    const name = b.createString(t.name);
    let quant = 0;
    if (t.quantization) {
      const q = t.quantization;
      const scale = floatVector(b, q.scale);
      const zeroPoint = longVector(b, q.zeroPoint);
      quant = table(b, QUANT_FIELDS, () => {
        b.addFieldOffset(QUANT.scale, scale, 0);
        b.addFieldOffset(QUANT.zeroPoint, zeroPoint, 0);
        b.addFieldInt32(QUANT.quantizedDimension, q.quantizedDimension, 0);
      });
    }
    return table(b, TENSOR_FIELDS, () => {
      b.addFieldOffset(TENSOR.shape, shape, 0);
      b.addFieldInt8(TENSOR.type, t.type, 0);
      b.addFieldInt32(TENSOR.buffer, t.buffer, 0);
      b.addFieldOffset(TENSOR.name, name, 0);
      if (quant) b.addFieldOffset(TENSOR.quantization, quant, 0);
    });
  });

  const operatorOffsets = m.operators.map((op) => {
    const inputs = intVector(b, op.inputs);
    const outputs = intVector(b, op.outputs);
    const options = op.writeOptions(b);
    return table(b, OPERATOR_FIELDS, () => {
      b.addFieldInt32(OPERATOR.opcodeIndex, op.opcodeIndex, 0);
      b.addFieldOffset(OPERATOR.inputs, inputs, 0);
      b.addFieldOffset(OPERATOR.outputs, outputs, 0);
      b.addFieldInt8(OPERATOR.builtinOptionsType, op.optionsType, 0);
      b.addFieldOffset(OPERATOR.builtinOptions, options, 0);
    });
  });

  const tensorsVec = offsetVector(b, tensorOffsets);
  const inputsVec = intVector(b, m.inputs);
  const outputsVec = intVector(b, m.outputs);
  const operatorsVec = offsetVector(b, operatorOffsets);
  const subgraphName = b.createString(m.subgraphName);
  const subgraph = table(b, SUBGRAPH_FIELDS, () => {
    b.addFieldOffset(SUBGRAPH.tensors, tensorsVec, 0);
    b.addFieldOffset(SUBGRAPH.inputs, inputsVec, 0);
    b.addFieldOffset(SUBGRAPH.outputs, outputsVec, 0);
    b.addFieldOffset(SUBGRAPH.operators, operatorsVec, 0);
    b.addFieldOffset(SUBGRAPH.name, subgraphName, 0);
  });

  const opcodeOffsets = m.opcodes.map((code) =>
    table(b, OPCODE_FIELDS, () => {
      // Written even when 0 (ADD): readers take max(deprecated, builtin_code).
      b.addFieldInt8(OPCODE.deprecatedBuiltinCode, Math.min(code, PLACEHOLDER_FOR_GREATER_OP_CODES), null);
      b.addFieldInt32(OPCODE.version, OP_VERSION_INT8[code] ?? 1, null);
      b.addFieldInt32(OPCODE.builtinCode, code, null);
    }),
  );

  const opcodesVec = offsetVector(b, opcodeOffsets);
  const subgraphsVec = offsetVector(b, [subgraph]);
  const description = b.createString(m.description);
  const buffersVec = offsetVector(b, bufferOffsets);
  const model = table(b, MODEL_FIELDS, () => {
    b.addFieldInt32(MODEL.version, TFLITE_SCHEMA_VERSION, null);
    b.addFieldOffset(MODEL.operatorCodes, opcodesVec, 0);
    b.addFieldOffset(MODEL.subgraphs, subgraphsVec, 0);
    b.addFieldOffset(MODEL.description, description, 0);
    b.addFieldOffset(MODEL.buffers, buffersVec, 0);
  });
  b.finish(model, TFLITE_FILE_IDENTIFIER);
  // A copy, so the caller owns an exact-size buffer that starts at byte 0 (the
  // builder's view starts wherever its back-to-front writing stopped).
  return b.asUint8Array().slice();
}

// ---------------------------------------------------------------------------
// Reading

export interface TfliteTensorSummary {
  name: string;
  shape: number[];
  /** schema.fbs TensorType (INT8 = 9, INT32 = 2). */
  type: number;
  /** Index into `buffers`; 0 means no constant data. */
  buffer: number;
  scale: number[];
  zeroPoint: number[];
  quantizedDimension: number;
}

export interface TfliteSummary {
  version: number;
  description: string;
  /** Builtin operator code of each operator code entry. */
  operatorCodes: number[];
  operatorVersions: number[];
  tensors: TfliteTensorSummary[];
  operators: { opcodeIndex: number; inputs: number[]; outputs: number[] }[];
  inputs: number[];
  outputs: number[];
  /** Where each buffer's data lies in the file (byte offset and length; 0, 0 if empty). */
  buffers: { offset: number; length: number }[];
}

/** Reads the structure of a `.tflite` file (first subgraph): what the UI shows and tests check. */
export function readTfliteSummary(bytes: Uint8Array): TfliteSummary {
  const notTflite = (why: string): InvalidInputError =>
    new InvalidInputError(`This file is not a TensorFlow Lite model (${why}). Choose a .tflite file exported by Hearth or by the TensorFlow Lite converter.`);
  if (bytes.length < 8) throw notTflite('it is too short');
  const bb = new ByteBuffer(bytes);
  if (bb.getBufferIdentifier() !== TFLITE_FILE_IDENTIFIER) throw notTflite(`its identifier is not ${TFLITE_FILE_IDENTIFIER}`);

  const r = new Reader(bb);
  const model = r.root();
  const subgraph = r.tables(model, MODEL.subgraphs)[0];
  if (subgraph === undefined) throw notTflite('it has no subgraph');

  const tensors = r.tables(subgraph, SUBGRAPH.tensors).map((t): TfliteTensorSummary => {
    const q = r.table(t, TENSOR.quantization);
    return {
      name: r.string(t, TENSOR.name),
      shape: r.int32s(t, TENSOR.shape),
      type: r.int8(t, TENSOR.type, 0),
      buffer: r.uint32(t, TENSOR.buffer, 0),
      scale: q === null ? [] : r.float32s(q, QUANT.scale),
      zeroPoint: q === null ? [] : r.int64s(q, QUANT.zeroPoint),
      quantizedDimension: q === null ? 0 : r.int32(q, QUANT.quantizedDimension, 0),
    };
  });
  const opcodeTables = r.tables(model, MODEL.operatorCodes);
  return {
    version: r.uint32(model, MODEL.version, 0),
    description: r.string(model, MODEL.description),
    operatorCodes: opcodeTables.map((c) =>
      Math.max(r.int8(c, OPCODE.deprecatedBuiltinCode, 0), r.int32(c, OPCODE.builtinCode, 0)),
    ),
    operatorVersions: opcodeTables.map((c) => r.int32(c, OPCODE.version, 1)),
    tensors,
    operators: r.tables(subgraph, SUBGRAPH.operators).map((o) => ({
      opcodeIndex: r.uint32(o, OPERATOR.opcodeIndex, 0),
      inputs: r.int32s(o, OPERATOR.inputs),
      outputs: r.int32s(o, OPERATOR.outputs),
    })),
    inputs: r.int32s(subgraph, SUBGRAPH.inputs),
    outputs: r.int32s(subgraph, SUBGRAPH.outputs),
    buffers: r.tables(model, MODEL.buffers).map((buf) => r.vectorExtent(buf, BUFFER.data)),
  };
}

/** Minimal table access over flatbuffers' ByteBuffer, by field id. */
class Reader {
  constructor(private readonly bb: ByteBuffer) {}

  root(): number {
    return this.bb.readInt32(this.bb.position()) + this.bb.position();
  }

  /** Position of the field's value, or 0 when absent. */
  private field(tablePos: number, id: number): number {
    const o = this.bb.__offset(tablePos, 4 + 2 * id);
    return o === 0 ? 0 : tablePos + o;
  }

  int8(t: number, id: number, dflt: number): number {
    const at = this.field(t, id);
    return at ? this.bb.readInt8(at) : dflt;
  }

  int32(t: number, id: number, dflt: number): number {
    const at = this.field(t, id);
    return at ? this.bb.readInt32(at) : dflt;
  }

  uint32(t: number, id: number, dflt: number): number {
    const at = this.field(t, id);
    return at ? this.bb.readUint32(at) : dflt;
  }

  string(t: number, id: number): string {
    const at = this.field(t, id);
    return at ? (this.bb.__string(at) as string) : '';
  }

  table(t: number, id: number): number | null {
    const at = this.field(t, id);
    return at ? this.bb.__indirect(at) : null;
  }

  private vector(t: number, id: number): { start: number; length: number } {
    const at = this.field(t, id);
    return at ? { start: this.bb.__vector(at), length: this.bb.__vector_len(at) } : { start: 0, length: 0 };
  }

  vectorExtent(t: number, id: number): { offset: number; length: number } {
    const v = this.vector(t, id);
    return { offset: v.start, length: v.length };
  }

  tables(t: number, id: number): number[] {
    const v = this.vector(t, id);
    return Array.from({ length: v.length }, (_, i) => this.bb.__indirect(v.start + 4 * i));
  }

  int32s(t: number, id: number): number[] {
    const v = this.vector(t, id);
    return Array.from({ length: v.length }, (_, i) => this.bb.readInt32(v.start + 4 * i));
  }

  float32s(t: number, id: number): number[] {
    const v = this.vector(t, id);
    return Array.from({ length: v.length }, (_, i) => this.bb.readFloat32(v.start + 4 * i));
  }

  int64s(t: number, id: number): number[] {
    const v = this.vector(t, id);
    return Array.from({ length: v.length }, (_, i) => Number(this.bb.readInt64(v.start + 8 * i)));
  }
}
