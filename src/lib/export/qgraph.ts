/**
 * The quantized graph: the one description of an int8 model that the reference
 * interpreter runs and every writer (TFLite, ONNX, C array) serialises. It follows the
 * TFLite int8 quantization specification (https://www.tensorflow.org/lite/performance/quantization_spec)
 * so that writing a `.tflite` is a change of encoding, never of numbers:
 *
 * - activations: int8, per-tensor asymmetric (`scale`, `zeroPoint` in [-128, 127]);
 * - convolution and depthwise weights: int8 in [-127, 127], per-channel symmetric
 *   (zero point 0), one scale per output channel;
 * - fully-connected weights: int8 in [-127, 127], symmetric, one scale per tensor (the
 *   kernels of deployed TFLite Micro builds older than 2023 reject per-channel FC);
 * - biases: int32 with scale = inputScale · weightScale[c] and zero point 0;
 * - pooling and reshape: the output has the input's scale and zero point (TFLite requires
 *   it for MAX_POOL_2D, AVERAGE_POOL_2D and RESHAPE on int8).
 *
 * Every scale is a float32 value (`Math.fround`): the flatbuffer stores float32, and
 * TFLite derives its fixed-point multipliers from those float32 values in double
 * precision. An interpreter that used unrounded doubles could differ by one step.
 *
 * Layouts are TFLite's: activations NHWC with batch 1; conv filters OHWI; depthwise
 * filters 1HWC (C = inChannels · depthMultiplier); fully-connected weights [out, in].
 * Ops are listed in execution (topological) order.
 */

export type FusedActivation = 'none' | 'relu' | 'relu6';
/** TensorFlow's padding: 'same' pads floor(total/2) before and the rest after. */
export type Padding = 'same' | 'valid';

export interface QTensor {
  name: string;
  /** NHWC for images ([1, H, W, C]), [1, N] for vectors. Batch is always 1. */
  shape: number[];
  /** float32 value (Math.fround). real = scale · (q − zeroPoint). */
  scale: number;
  /** int8 zero point, in [-128, 127]. */
  zeroPoint: number;
}

interface QOpBase {
  /** Unique, for error messages and as the node name in ONNX. */
  name: string;
}

export interface QConv2D extends QOpBase {
  kind: 'conv2d';
  input: string;
  output: string;
  /** int8, layout [outC, kH, kW, inC]. */
  filter: Int8Array;
  filterShape: [number, number, number, number];
  /** One float32 scale per output channel; zero points are 0. */
  filterScales: Float32Array;
  /** int32, one per output channel, scale inputScale · filterScales[c]. */
  bias: Int32Array;
  /** [strideH, strideW] */
  strides: [number, number];
  padding: Padding;
  activation: FusedActivation;
}

export interface QDepthwiseConv2D extends QOpBase {
  kind: 'depthwise-conv2d';
  input: string;
  output: string;
  /** int8, layout [1, kH, kW, inC · depthMultiplier]. */
  filter: Int8Array;
  filterShape: [1, number, number, number];
  depthMultiplier: number;
  /** One float32 scale per output channel (inC · depthMultiplier). */
  filterScales: Float32Array;
  bias: Int32Array;
  strides: [number, number];
  padding: Padding;
  activation: FusedActivation;
}

export interface QFullyConnected extends QOpBase {
  kind: 'fully-connected';
  /** A [1, in] tensor. */
  input: string;
  output: string;
  /** int8, layout [out, in]. */
  weights: Int8Array;
  weightsShape: [number, number];
  /** Length 1 (per tensor, what Hearth writes) or `out` (per channel). */
  weightScales: Float32Array;
  bias: Int32Array;
  activation: FusedActivation;
}

export interface QPool2D extends QOpBase {
  kind: 'max-pool2d' | 'average-pool2d';
  input: string;
  output: string;
  /** [filterH, filterW] */
  filter: [number, number];
  strides: [number, number];
  padding: Padding;
  activation: FusedActivation;
}

export interface QAdd extends QOpBase {
  kind: 'add';
  inputs: [string, string];
  output: string;
  activation: FusedActivation;
}

/** Same data, new shape (flatten; global pooling's [1,1,1,C] → [1,C]). */
export interface QReshape extends QOpBase {
  kind: 'reshape';
  input: string;
  output: string;
}

export type QOp = QConv2D | QDepthwiseConv2D | QFullyConnected | QPool2D | QAdd | QReshape;
export type QOpKind = QOp['kind'];

export interface QGraph {
  /** The model's name (the model kind, e.g. 'lenet'). */
  name: string;
  /** Name of the int8 input tensor [1, H, W, C]. */
  input: string;
  /** Name of the int8 output tensor [1, numClasses] (logits). */
  output: string;
  tensors: Record<string, QTensor>;
  ops: QOp[];
}

/**
 * The input contract Hearth trains with: float input = pixel / 255. With scale 1/255 and
 * zero point −128 the int8 input is exactly `pixel − 128`, so firmware needs no
 * floating point to prepare an image.
 */
export const INPUT_SCALE = Math.fround(1 / 255);
export const INPUT_ZERO_POINT = -128;

/** uint8 pixels (HWC) → the int8 input tensor's values. */
export function pixelsToInt8(pixelsHwc: Uint8Array): Int8Array {
  const out = new Int8Array(pixelsHwc.length);
  for (let i = 0; i < pixelsHwc.length; i++) out[i] = (pixelsHwc[i] as number) - 128;
  return out;
}

/** The tensors an op reads. */
export function opInputs(op: QOp): string[] {
  return op.kind === 'add' ? [...op.inputs] : [op.input];
}

/** Real value of a quantized one: scale · (q − zeroPoint). */
export function dequantize(t: Pick<QTensor, 'scale' | 'zeroPoint'>, q: number): number {
  return t.scale * (q - t.zeroPoint);
}

/** Total size in bytes of the constant data (weights and biases) of a graph. */
export function constantBytes(graph: QGraph): number {
  let bytes = 0;
  for (const op of graph.ops) {
    if (op.kind === 'conv2d' || op.kind === 'depthwise-conv2d') bytes += op.filter.length + op.bias.byteLength;
    else if (op.kind === 'fully-connected') bytes += op.weights.length + op.bias.byteLength;
  }
  return bytes;
}
