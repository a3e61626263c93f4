/**
 * Post-training quantization: a lowered float graph plus calibrated activation ranges
 * become a `QGraph` that follows TFLite's int8 specification (see qgraph.ts):
 * per-channel symmetric convolution weights, per-tensor symmetric dense weights,
 * per-tensor asymmetric activations, int32 biases at inputScale · weightScale.
 */
import type { Range } from './calibrate';
import type { FloatGraph, FOp } from './float-graph';
import { INPUT_SCALE, INPUT_ZERO_POINT, type QGraph, type QOp, type QTensor } from './qgraph';

const INT8_MIN = -128;
const INT8_MAX = 127;
/** Symmetric weights use [-127, 127], so negation never overflows (TFLite's spec). */
const WEIGHT_MAX = 127;
const INT32_MAX = 2147483647;
const INT32_MIN = -2147483648;
/**
 * The scale of an all-zero weight channel or constant activation: any positive value
 * represents zero exactly; TFLite rejects a scale of 0.
 */
const DEGENERATE_SCALE = 1e-6;

/** Asymmetric int8 parameters for a real range that includes 0. */
export function activationParams([lo, hi]: Range): { scale: number; zeroPoint: number } {
  const low = Math.min(lo, 0);
  const high = Math.max(hi, 0);
  const scale = Math.fround(high > low ? (high - low) / (INT8_MAX - INT8_MIN) : DEGENERATE_SCALE);
  const zeroPoint = Math.max(INT8_MIN, Math.min(INT8_MAX, Math.round(INT8_MIN - low / scale))) + 0; // + 0: no -0
  return { scale, zeroPoint };
}

/**
 * Symmetric int8 weights with one scale per channel, where element j belongs to channel
 * `channelOf(j)`; `channels` = 1 gives one scale for the tensor.
 */
function symmetricWeights(values: Float32Array, channels: number, channelOf: (j: number) => number): { q: Int8Array; scales: Float32Array } {
  const maxAbs = new Float64Array(channels);
  for (let j = 0; j < values.length; j++) {
    const c = channelOf(j);
    maxAbs[c] = Math.max(maxAbs[c] as number, Math.abs(values[j] as number));
  }
  const scales = Float32Array.from(maxAbs, (m) => Math.fround(m > 0 ? m / WEIGHT_MAX : DEGENERATE_SCALE));
  const q = new Int8Array(values.length);
  for (let j = 0; j < values.length; j++) {
    const v = Math.round((values[j] as number) / (scales[channelOf(j)] as number));
    q[j] = Math.max(-WEIGHT_MAX, Math.min(WEIGHT_MAX, v));
  }
  return { q, scales };
}

function int32Bias(bias: Float32Array, inputScale: number, weightScales: Float32Array): Int32Array {
  return Int32Array.from(bias, (b, c) => {
    const s = inputScale * (weightScales[weightScales.length === 1 ? 0 : c] as number);
    return Math.max(INT32_MIN, Math.min(INT32_MAX, Math.round(b / s)));
  });
}

/** Builds the QGraph. `ranges` must hold every tensor `calibratedTensors(graph)` names. */
export function quantizeGraph(graph: FloatGraph, ranges: Record<string, Range>): QGraph {
  const tensors: Record<string, QTensor> = {};
  const shape = (name: string): number[] => {
    const s = graph.shapes[name];
    if (!s) throw new Error(`Float graph ${graph.name} has no shape for ${name}.`);
    return s;
  };
  tensors[graph.input] = { name: graph.input, shape: shape(graph.input), scale: INPUT_SCALE, zeroPoint: INPUT_ZERO_POINT };
  const params = (name: string): QTensor => {
    const t = tensors[name];
    if (!t) throw new Error(`Tensor ${name} is read before it is quantized.`);
    return t;
  };
  const calibrated = (op: FOp): QTensor => {
    const range = ranges[op.output];
    if (!range) throw new Error(`No calibration range for ${op.output}: calibrate the graph before quantizing it.`);
    return (tensors[op.output] = { name: op.output, shape: shape(op.output), ...activationParams(range) });
  };
  const inherited = (op: FOp & { input: string }): QTensor => {
    const inT = params(op.input);
    return (tensors[op.output] = { name: op.output, shape: shape(op.output), scale: inT.scale, zeroPoint: inT.zeroPoint });
  };

  const ops: QOp[] = graph.ops.map((op): QOp => {
    switch (op.kind) {
      case 'conv2d': {
        const [kh, kw, inC, outC] = op.kernelShape;
        // HWIO → OHWI: element (y, x, i, o) moves to ((o·kh + y)·kw + x)·inC + i.
        const ohwi = new Float32Array(op.kernel.length);
        for (let y = 0; y < kh; y++)
          for (let x = 0; x < kw; x++)
            for (let i = 0; i < inC; i++)
              for (let o = 0; o < outC; o++) ohwi[((o * kh + y) * kw + x) * inC + i] = op.kernel[((y * kw + x) * inC + i) * outC + o] as number;
        const perO = kh * kw * inC;
        const { q, scales } = symmetricWeights(ohwi, outC, (j) => Math.floor(j / perO));
        calibrated(op);
        return {
          kind: 'conv2d',
          name: op.name,
          input: op.input,
          output: op.output,
          filter: q,
          filterShape: [outC, kh, kw, inC],
          filterScales: scales,
          bias: int32Bias(op.bias, params(op.input).scale, scales),
          strides: op.strides,
          padding: op.padding,
          activation: op.activation,
        };
      }
      case 'depthwise-conv2d': {
        const [kh, kw, inC, mult] = op.kernelShape;
        const outC = inC * mult;
        // [kH, kW, inC, mult] and [1, kH, kW, inC·mult] are the same order in memory.
        const { q, scales } = symmetricWeights(op.kernel, outC, (j) => j % outC);
        calibrated(op);
        return {
          kind: 'depthwise-conv2d',
          name: op.name,
          input: op.input,
          output: op.output,
          filter: q,
          filterShape: [1, kh, kw, outC],
          depthMultiplier: mult,
          filterScales: scales,
          bias: int32Bias(op.bias, params(op.input).scale, scales),
          strides: op.strides,
          padding: op.padding,
          activation: op.activation,
        };
      }
      case 'fully-connected': {
        const [inN, outN] = op.kernelShape;
        const oi = new Float32Array(op.kernel.length);
        for (let i = 0; i < inN; i++) for (let o = 0; o < outN; o++) oi[o * inN + i] = op.kernel[i * outN + o] as number;
        const { q, scales } = symmetricWeights(oi, 1, () => 0);
        calibrated(op);
        return {
          kind: 'fully-connected',
          name: op.name,
          input: op.input,
          output: op.output,
          weights: q,
          weightsShape: [outN, inN],
          weightScales: scales,
          bias: int32Bias(op.bias, params(op.input).scale, scales),
          activation: op.activation,
        };
      }
      case 'max-pool2d':
      case 'average-pool2d':
        inherited(op);
        return { ...op };
      case 'reshape':
        inherited(op);
        return { ...op };
      case 'add':
        calibrated(op);
        return { ...op, inputs: [...op.inputs] };
    }
  });
  return { name: graph.name, input: graph.input, output: graph.output, tensors, ops };
}
