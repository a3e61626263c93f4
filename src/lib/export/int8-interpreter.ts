/**
 * The int8 reference interpreter: runs a `QGraph` with TensorFlow Lite's integer
 * arithmetic, value for value (the reference kernels of TFLite and TFLite Micro, default
 * double-rounding build). It is the oracle the exporters are checked against: a `.tflite`,
 * an ONNX QDQ model or the C array must give the same int8 outputs as this.
 *
 * What "the same" rests on, kernel by kernel (tensorflow/lite/kernels/...):
 * - conv / depthwise (reference_integer_ops/conv.h, depthwise_conv.h): acc = bias +
 *   Σ filter · (input − inputZeroPoint) over in-image taps only; per-channel multiplier
 *   double(inScale) · double(filterScale[c]) / double(outScale) (kernel_util.cc,
 *   PopulateConvolutionQuantizationParams);
 * - fully connected (reference_integer_ops/fully_connected.h): the same sum; a per-tensor
 *   weight scale goes through GetQuantizedConvolutionMultipler, whose product
 *   inScale · weightScale is taken in float32 before the division in double;
 * - average pool (reference_integer_ops/pooling.h): the raw int8 values of the in-image
 *   taps are summed and divided by their count with ties away from zero, no rescaling;
 * - add (add.cc, reference_integer_ops/add.h): both inputs are shifted left by 20 bits,
 *   rescaled to twice the larger input scale, summed and rescaled to the output;
 * - padding (padding.h): 'same' pads floor(total/2) before, the rest after, with
 *   total = max((out − 1)·stride + k − in, 0).
 *
 * Speed: convolutions copy their input once per run into a zero-bordered buffer with the
 * zero point already subtracted, so padded taps contribute 0 (exactly what skipping them
 * does in TFLite) and the inner loop has no bounds tests and no allocation.
 * Accumulators are JS numbers (exact below 2^53) wrapped to int32 once per output, which
 * equals int32 wrap-around accumulation since addition modulo 2^32 is associative.
 */
import { InvalidInputError } from '../jobs/errors';
import type { FusedActivation, Padding, QAdd, QConv2D, QDepthwiseConv2D, QFullyConnected, QGraph, QOp, QPool2D, QReshape, QTensor } from './qgraph';
import {
  INT8_MAX,
  INT8_MIN,
  activationRange,
  multiplyByQuantizedMultiplier,
  multiplyByQuantizedMultiplierSingleRounding,
  quantizeMultiplier,
} from './fixed-point';

/** TFLite's ADD shifts both int8 inputs left by this many bits before rescaling (add.cc). */
export const ADD_LEFT_SHIFT_BITS = 20;
/**
 * The largest left shift a requantization multiplier may carry: TFLite computes
 * `x * (1 << shift)` in int32, so a larger shift means scales that no runtime can use.
 */
const MAX_MULTIPLIER_SHIFT = 30;

/** TFLite's output size for a spatial dimension (padding.h / ComputeOutSize, dilation 1). */
export function outputSize(padding: Padding, inSize: number, filterSize: number, stride: number): number {
  return padding === 'same' ? Math.floor((inSize + stride - 1) / stride) : Math.floor((inSize - filterSize + stride) / stride);
}

/**
 * Padding before the first input row/column (padding.h, ComputePaddingWithOffset):
 * floor(total / 2) with total = max((outSize − 1)·stride + filterSize − inSize, 0); the
 * odd remainder goes after. For 'valid' outputs the total is never positive.
 */
export function paddingBefore(inSize: number, filterSize: number, stride: number, outSize: number): number {
  const total = Math.max((outSize - 1) * stride + filterSize - inSize, 0);
  return Math.floor(total / 2);
}

interface Kernel {
  execute(): void;
}

/** Per-output-channel requantization: multipliers, shifts, bias, output offset and clamp. */
/** x · multiplier · 2^shift / 2^31 rounded as the chosen TFLite build does. */
type Requantize = (x: number, multiplier: number, shift: number) => number;

/**
 * Whose integer arithmetic to follow.
 * - 'tflite-micro' (the default): TFLite's reference kernels as TFLite Micro and CMSIS-NN
 *   build them, what a microcontroller computes. Requantization rounds twice
 *   (SaturatingRoundingDoublingHighMul, then RoundingDivideByPOT); ADD rescales both
 *   inputs to a common 2^20 fixed point first.
 * - 'xnnpack': TFLite's default CPU path on desktops and in the browser (the XNNPACK
 *   delegate), which is what @tensorflow/tfjs-tflite runs. Requantization rounds once
 *   (as TFLITE_SINGLE_ROUNDING); ADD is XNNPACK's qs8 kernel: each input's scale ratio
 *   as a fixed-point multiplier below 2^21, one shift, one rounding.
 * The two agree on most values and differ by one step next to a half step; over a deep
 * network those differences can grow by a step or two.
 */
export type Int8Arithmetic = 'tflite-micro' | 'xnnpack';

interface Requant {
  /** An output channel's int32 accumulator → its value in output steps (before the zero point). */
  requantize: (acc: number, channel: number) => number;
  outputZeroPoint: number;
  min: number;
  max: number;
}

/** The spatial geometry shared by conv, depthwise and pooling. */
interface Geometry {
  inH: number;
  inW: number;
  inC: number;
  outH: number;
  outW: number;
  outC: number;
  kH: number;
  kW: number;
  strideH: number;
  strideW: number;
  padTop: number;
  padLeft: number;
}

/**
 * Copies an int8 NHWC image into a zero-bordered int32 buffer with `zeroPoint` subtracted,
 * so that taps in the padding read 0. Only the interior is rewritten; the border stays 0.
 */
class PaddedInput {
  readonly data: Int32Array;
  readonly paddedW: number;
  readonly #source: Int8Array;
  readonly #zeroPoint: number;
  readonly #g: Geometry;
  readonly #paddedH: number;

  constructor(source: Int8Array, zeroPoint: number, g: Geometry) {
    this.#source = source;
    this.#zeroPoint = zeroPoint;
    this.#g = g;
    // Exactly the extent the taps reach: rows and columns past it are never read.
    this.#paddedH = (g.outH - 1) * g.strideH + g.kH;
    this.paddedW = (g.outW - 1) * g.strideW + g.kW;
    this.data = new Int32Array(this.#paddedH * this.paddedW * g.inC);
  }

  fill(): void {
    const { inH, inW, inC, padTop, padLeft } = this.#g;
    const src = this.#source;
    const dst = this.data;
    const zp = this.#zeroPoint;
    const rows = Math.min(inH, this.#paddedH - padTop);
    const cols = Math.min(inW, this.paddedW - padLeft);
    const span = cols * inC;
    for (let y = 0; y < rows; y++) {
      let s = y * inW * inC;
      let d = ((y + padTop) * this.paddedW + padLeft) * inC;
      for (let i = 0; i < span; i++) dst[d++] = (src[s++] as number) - zp;
    }
  }
}

function clampToRange(value: number, min: number, max: number): number {
  return value < min ? min : value > max ? max : value;
}

/** Output channels computed together, so each input value is loaded once per block. */
const CONV_CHANNEL_BLOCK = 4;

class ConvKernel implements Kernel {
  readonly #padded: PaddedInput;
  readonly #output: Int8Array;
  readonly #filter: Int8Array;
  readonly #bias: Int32Array;
  readonly #g: Geometry;
  readonly #q: Requant;
  /** The receptive field of one output pixel, gathered contiguously (OHWI order of one filter). */
  readonly #patch: Int32Array;

  constructor(op: QConv2D, input: Int8Array, output: Int8Array, inputZeroPoint: number, g: Geometry, q: Requant) {
    this.#padded = new PaddedInput(input, inputZeroPoint, g);
    this.#output = output;
    this.#filter = op.filter;
    this.#bias = op.bias;
    this.#g = g;
    this.#q = q;
    this.#patch = new Int32Array(g.kH * g.kW * g.inC);
  }

  execute(): void {
    this.#padded.fill();
    const x = this.#padded.data;
    const pw = this.#padded.paddedW;
    const w = this.#filter;
    const bias = this.#bias;
    const out = this.#output;
    const patch = this.#patch;
    const { inC, outH, outW, outC, kH, kW, strideH, strideW } = this.#g;
    const { requantize, outputZeroPoint, min, max } = this.#q;
    // One filter row (kW taps × inC channels) is contiguous in the padded NHWC input, so
    // the patch is kH contiguous copies; then each output channel is one dot product.
    const rowSpan = kW * inC;
    const rowStride = pw * inC;
    const k = patch.length;
    const blockEnd = outC - (outC % CONV_CHANNEL_BLOCK);
    let o = 0;
    for (let oy = 0; oy < outH; oy++) {
      for (let ox = 0; ox < outW; ox++) {
        const base = (oy * strideH * pw + ox * strideW) * inC;
        for (let ky = 0, p = 0; ky < kH; ky++) {
          let xi = base + ky * rowStride;
          for (let i = 0; i < rowSpan; i++) patch[p++] = x[xi++] as number;
        }
        // Sums wrap to int32 as they go (`| 0`), which keeps V8 on integer arithmetic and is
        // exactly TFLite's int32 accumulation.
        let oc = 0;
        for (; oc < blockEnd; oc += CONV_CHANNEL_BLOCK) {
          let a0 = bias[oc] as number;
          let a1 = bias[oc + 1] as number;
          let a2 = bias[oc + 2] as number;
          let a3 = bias[oc + 3] as number;
          const w0 = oc * k;
          const w1 = w0 + k;
          const w2 = w1 + k;
          const w3 = w2 + k;
          for (let i = 0; i < k; i++) {
            const v = patch[i] as number;
            a0 = (a0 + v * (w[w0 + i] as number)) | 0;
            a1 = (a1 + v * (w[w1 + i] as number)) | 0;
            a2 = (a2 + v * (w[w2 + i] as number)) | 0;
            a3 = (a3 + v * (w[w3 + i] as number)) | 0;
          }
          out[o++] = clampToRange(requantize(a0, oc) + outputZeroPoint, min, max);
          out[o++] = clampToRange(requantize(a1, oc + 1) + outputZeroPoint, min, max);
          out[o++] = clampToRange(requantize(a2, oc + 2) + outputZeroPoint, min, max);
          out[o++] = clampToRange(requantize(a3, oc + 3) + outputZeroPoint, min, max);
        }
        for (; oc < outC; oc++) {
          let acc = bias[oc] as number;
          const w0 = oc * k;
          for (let i = 0; i < k; i++) acc = (acc + (patch[i] as number) * (w[w0 + i] as number)) | 0;
          out[o++] = clampToRange(requantize(acc, oc) + outputZeroPoint, min, max);
        }
      }
    }
  }
}

class DepthwiseKernel implements Kernel {
  readonly #padded: PaddedInput;
  readonly #output: Int8Array;
  readonly #filter: Int8Array;
  readonly #bias: Int32Array;
  readonly #g: Geometry;
  readonly #q: Requant;
  readonly #depthMultiplier: number;
  /** Accumulators of one output pixel, reused across pixels. */
  readonly #acc: Float64Array;

  constructor(op: QDepthwiseConv2D, input: Int8Array, output: Int8Array, inputZeroPoint: number, g: Geometry, q: Requant) {
    this.#padded = new PaddedInput(input, inputZeroPoint, g);
    this.#output = output;
    this.#filter = op.filter;
    this.#bias = op.bias;
    this.#g = g;
    this.#q = q;
    this.#depthMultiplier = op.depthMultiplier;
    this.#acc = new Float64Array(g.outC);
  }

  execute(): void {
    this.#padded.fill();
    const x = this.#padded.data;
    const pw = this.#padded.paddedW;
    const w = this.#filter;
    const bias = this.#bias;
    const out = this.#output;
    const acc = this.#acc;
    const m = this.#depthMultiplier;
    const { inC, outH, outW, outC, kH, kW, strideH, strideW } = this.#g;
    const { requantize, outputZeroPoint, min, max } = this.#q;
    let o = 0;
    for (let oy = 0; oy < outH; oy++) {
      for (let ox = 0; ox < outW; ox++) {
        acc.fill(0);
        for (let ky = 0; ky < kH; ky++) {
          for (let kx = 0; kx < kW; kx++) {
            const xi = ((oy * strideH + ky) * pw + ox * strideW + kx) * inC;
            const wi = (ky * kW + kx) * outC;
            // Output channel oc = ic · multiplier + j reads input channel ic.
            let oc = 0;
            for (let ic = 0; ic < inC; ic++) {
              const xv = x[xi + ic] as number;
              for (let j = 0; j < m; j++, oc++) acc[oc] = (acc[oc] as number) + xv * (w[wi + oc] as number);
            }
          }
        }
        for (let oc = 0; oc < outC; oc++) {
          const total = ((acc[oc] as number) + (bias[oc] as number)) | 0;
          const scaled = requantize(total, oc) + outputZeroPoint;
          out[o++] = clampToRange(scaled, min, max);
        }
      }
    }
  }
}

class FullyConnectedKernel implements Kernel {
  readonly #input: Int8Array;
  readonly #output: Int8Array;
  readonly #weights: Int8Array;
  readonly #bias: Int32Array;
  readonly #inputZeroPoint: number;
  readonly #q: Requant;
  /** The input with its zero point subtracted, refreshed each run. */
  readonly #shifted: Int32Array;

  constructor(op: QFullyConnected, input: Int8Array, output: Int8Array, inputZeroPoint: number, q: Requant) {
    this.#input = input;
    this.#output = output;
    this.#weights = op.weights;
    this.#bias = op.bias;
    this.#inputZeroPoint = inputZeroPoint;
    this.#q = q;
    this.#shifted = new Int32Array(input.length);
  }

  execute(): void {
    const x = this.#shifted;
    const n = x.length;
    const src = this.#input;
    const zp = this.#inputZeroPoint;
    for (let i = 0; i < n; i++) x[i] = (src[i] as number) - zp;
    const w = this.#weights;
    const bias = this.#bias;
    const out = this.#output;
    const { requantize, outputZeroPoint, min, max } = this.#q;
    for (let oc = 0, wi = 0; oc < out.length; oc++) {
      let acc = 0;
      for (let i = 0; i < n; i++) acc += (x[i] as number) * (w[wi++] as number);
      acc = (acc + (bias[oc] as number)) | 0;
      const scaled = requantize(acc, oc) + outputZeroPoint;
      out[oc] = clampToRange(scaled, min, max);
    }
  }
}

class PoolKernel implements Kernel {
  readonly #input: Int8Array;
  readonly #output: Int8Array;
  readonly #g: Geometry;
  readonly #average: boolean;
  readonly #min: number;
  readonly #max: number;

  constructor(op: QPool2D, input: Int8Array, output: Int8Array, g: Geometry, range: [number, number]) {
    this.#input = input;
    this.#output = output;
    this.#g = g;
    this.#average = op.kind === 'average-pool2d';
    [this.#min, this.#max] = range;
  }

  execute(): void {
    const x = this.#input;
    const out = this.#output;
    const { inH, inW, inC, outH, outW, kH, kW, strideH, strideW, padTop, padLeft } = this.#g;
    const average = this.#average;
    const min = this.#min;
    const max = this.#max;
    let o = 0;
    for (let oy = 0; oy < outH; oy++) {
      const y0 = oy * strideH - padTop;
      const yStart = Math.max(0, y0);
      const yEnd = Math.min(inH, y0 + kH);
      for (let ox = 0; ox < outW; ox++) {
        const x0 = ox * strideW - padLeft;
        const xStart = Math.max(0, x0);
        const xEnd = Math.min(inW, x0 + kW);
        // Only in-image taps count, for the maximum and for the average's divisor.
        const count = (yEnd - yStart) * (xEnd - xStart);
        for (let c = 0; c < inC; c++) {
          let value: number;
          if (average) {
            let sum = 0;
            for (let y = yStart; y < yEnd; y++) for (let xx = xStart; xx < xEnd; xx++) sum += x[(y * inW + xx) * inC + c] as number;
            // C integer division truncates, so ±count/2 makes ties round away from zero.
            const half = Math.trunc(count / 2);
            value = Math.trunc(sum > 0 ? (sum + half) / count : (sum - half) / count);
          } else {
            value = INT8_MIN;
            for (let y = yStart; y < yEnd; y++) {
              for (let xx = xStart; xx < xEnd; xx++) {
                const v = x[(y * inW + xx) * inC + c] as number;
                if (v > value) value = v;
              }
            }
          }
          out[o++] = clampToRange(value, min, max);
        }
      }
    }
  }
}

/** Per-input rescaling of TFLite's int8 ADD (add.cc): offsets, multipliers and shifts. */
/** XNNPACK's qs8 add: out = ((a−za)·ma + (b−zb)·mb + 2^(shift−1)) >> shift, plus zo. */
interface XnnpackAddParams {
  zeroPoint1: number;
  zeroPoint2: number;
  multiplier1: number;
  multiplier2: number;
  shift: number;
}

interface AddParams {
  requantize: Requantize;
  xnnpack: XnnpackAddParams | null;
  offset1: number;
  offset2: number;
  multiplier1: number;
  shift1: number;
  multiplier2: number;
  shift2: number;
  outputMultiplier: number;
  outputShift: number;
  outputZeroPoint: number;
  min: number;
  max: number;
}

class AddKernel implements Kernel {
  readonly #a: Int8Array;
  readonly #b: Int8Array;
  readonly #output: Int8Array;
  readonly #p: AddParams;

  constructor(a: Int8Array, b: Int8Array, output: Int8Array, p: AddParams) {
    this.#a = a;
    this.#b = b;
    this.#output = output;
    this.#p = p;
  }

  execute(): void {
    const a = this.#a;
    const b = this.#b;
    const out = this.#output;
    const p = this.#p;
    const x = p.xnnpack;
    if (x) {
      const rounding = 2 ** (x.shift - 1);
      const divisor = 2 ** x.shift;
      for (let i = 0; i < out.length; i++) {
        // |(a − za)·ma| < 255 · 2^21: exact in doubles; floor division is the arithmetic shift.
        const acc = ((a[i] as number) - x.zeroPoint1) * x.multiplier1 + ((b[i] as number) - x.zeroPoint2) * x.multiplier2 + rounding;
        out[i] = clampToRange(Math.floor(acc / divisor) + p.outputZeroPoint, p.min, p.max);
      }
      return;
    }
    for (let i = 0; i < out.length; i++) {
      const shifted1 = ((a[i] as number) + p.offset1) << ADD_LEFT_SHIFT_BITS;
      const shifted2 = ((b[i] as number) + p.offset2) << ADD_LEFT_SHIFT_BITS;
      // MultiplyByQuantizedMultiplierSmallerThanOneExp: with shifts ≤ 0 it is
      // MultiplyByQuantizedMultiplier, RoundingDivideByPOT(SRDHM(x, m), −shift) when rounding twice.
      const scaled1 = p.requantize(shifted1, p.multiplier1, p.shift1);
      const scaled2 = p.requantize(shifted2, p.multiplier2, p.shift2);
      const sum = (scaled1 + scaled2) | 0;
      const raw = p.requantize(sum, p.outputMultiplier, p.outputShift) + p.outputZeroPoint;
      out[i] = clampToRange(raw, p.min, p.max);
    }
  }
}

class CopyKernel implements Kernel {
  readonly #input: Int8Array;
  readonly #output: Int8Array;

  constructor(input: Int8Array, output: Int8Array) {
    this.#input = input;
    this.#output = output;
  }

  execute(): void {
    this.#output.set(this.#input);
  }
}

const ACTIVATIONS: readonly FusedActivation[] = ['none', 'relu', 'relu6'];
const PADDINGS: readonly Padding[] = ['same', 'valid'];

function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function isPositiveInt(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n > 0;
}

/**
 * Checks a graph and builds its kernels. Every failure is an `InvalidInputError` naming
 * the graph, the op and the tensor involved: a graph that fails here would also be
 * refused (or silently misread) by TFLite.
 */
/** The float32 value whose bits are `bits`. */
function floatFromBits(bits: number): number {
  const view = new DataView(new ArrayBuffer(4));
  view.setUint32(0, bits >>> 0);
  return view.getFloat32(0);
}

function floatBits(value: number): number {
  const view = new DataView(new ArrayBuffer(4));
  view.setFloat32(0, value);
  return view.getUint32(0);
}

/**
 * xnn_init_qs8_add_minmax_scalar_params: each input's scale ratio (float32 a/out) as an
 * integer multiplier with 20 to 21 significant bits, all sharing one shift chosen from the
 * larger ratio's exponent; the multiplier is lrintf(ratio · 2^shift), done on the float's
 * exponent bits (exact), rounding half to even.
 */
function xnnpackAddParams(a: QTensor, b: QTensor, out: QTensor): XnnpackAddParams {
  const ratio1 = Math.fround(Math.fround(a.scale) / Math.fround(out.scale));
  const ratio2 = Math.fround(Math.fround(b.scale) / Math.fround(out.scale));
  const maxExponent = (floatBits(Math.max(ratio1, ratio2)) >>> 23) - 127;
  const shift = 20 - maxExponent;
  const multiplier = (ratio: number): number => roundHalfToEven(floatFromBits(floatBits(ratio) + (shift << 23)));
  return { zeroPoint1: a.zeroPoint, zeroPoint2: b.zeroPoint, multiplier1: multiplier(ratio1), multiplier2: multiplier(ratio2), shift };
}

/** lrintf in the default rounding mode. */
function roundHalfToEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  return d > 0.5 || (d === 0.5 && f % 2 !== 0) ? f + 1 : f;
}

class GraphBuilder {
  readonly buffers = new Map<string, Int8Array>();
  readonly kernels: Kernel[] = [];
  readonly #graph: QGraph;
  readonly #requantize: Requantize;
  readonly #arithmetic: Int8Arithmetic;

  constructor(graph: QGraph, arithmetic: Int8Arithmetic) {
    this.#graph = graph;
    this.#arithmetic = arithmetic;
    this.#requantize = arithmetic === 'xnnpack' ? multiplyByQuantizedMultiplierSingleRounding : multiplyByQuantizedMultiplier;
    this.#checkTensors();
    const input = this.#tensor(graph.input, 'the graph input');
    this.buffers.set(input.name, new Int8Array(elementCount(input.shape)));
    for (const op of graph.ops) this.kernels.push(this.#build(op));
    if (!this.buffers.has(graph.output)) {
      this.#fail(`its output tensor '${graph.output}' is not produced by any op.`);
    }
  }

  #fail(detail: string): never {
    throw new InvalidInputError(`The int8 model '${this.#graph.name}' cannot be run: ${detail} Re-run the export; if it fails again, report it as a bug.`);
  }

  #opFail(op: QOp, detail: string): never {
    this.#fail(`op '${op.name}' (${op.kind}) ${detail}`);
  }

  #checkTensors(): void {
    for (const [key, t] of Object.entries(this.#graph.tensors)) {
      if (t.name !== key) this.#fail(`tensor '${key}' is stored under a different name ('${t.name}').`);
      if (!Array.isArray(t.shape) || t.shape.length === 0 || !t.shape.every(isPositiveInt)) {
        this.#fail(`tensor '${key}' has shape [${String(t.shape)}]; every dimension must be a positive integer.`);
      }
      if (t.shape[0] !== 1) this.#fail(`tensor '${key}' has batch ${t.shape[0]}; only batch 1 is supported.`);
      if (!Number.isFinite(t.scale) || t.scale <= 0) this.#fail(`tensor '${key}' has scale ${t.scale}; scales must be finite and positive.`);
      if (!Number.isInteger(t.zeroPoint) || t.zeroPoint < INT8_MIN || t.zeroPoint > INT8_MAX) {
        this.#fail(`tensor '${key}' has zero point ${t.zeroPoint}; it must be an integer in [-128, 127].`);
      }
    }
  }

  #tensor(name: string, role: string): QTensor {
    const t = this.#graph.tensors[name];
    if (t === undefined) this.#fail(`${role} names tensor '${name}', which is not in the graph's tensor list.`);
    return t;
  }

  /** The buffer of an op input: it must already have been produced (ops are in execution order). */
  #read(op: QOp, name: string): { t: QTensor; data: Int8Array } {
    const t = this.#tensor(name, `op '${op.name}' (${op.kind})`);
    const data = this.buffers.get(name);
    if (data === undefined) this.#opFail(op, `reads tensor '${name}' before any op produces it; ops must be listed in execution order.`);
    return { t, data };
  }

  #write(op: QOp, name: string): { t: QTensor; data: Int8Array } {
    const t = this.#tensor(name, `op '${op.name}' (${op.kind})`);
    if (this.buffers.has(name)) this.#opFail(op, `writes tensor '${name}', which is already the graph input or another op's output.`);
    const data = new Int8Array(elementCount(t.shape));
    this.buffers.set(name, data);
    return { t, data };
  }

  #checkActivation(op: QOp & { activation: FusedActivation }): void {
    if (!ACTIVATIONS.includes(op.activation)) this.#opFail(op, `has unknown fused activation '${String(op.activation)}'.`);
  }

  #rank4(op: QOp, t: QTensor): [number, number, number, number] {
    if (t.shape.length !== 4) this.#opFail(op, `needs a [1, H, W, C] tensor but '${t.name}' has shape [${t.shape.join(', ')}].`);
    return t.shape as [number, number, number, number];
  }

  #geometry(
    op: QConv2D | QDepthwiseConv2D | QPool2D,
    inT: QTensor,
    outT: QTensor,
    kH: number,
    kW: number,
    outC: number,
  ): Geometry {
    const [, inH, inW, inC] = this.#rank4(op, inT);
    const [, outH, outW, outCActual] = this.#rank4(op, outT);
    const [strideH, strideW] = op.strides;
    if (!isPositiveInt(strideH) || !isPositiveInt(strideW)) this.#opFail(op, `has strides [${String(op.strides)}]; strides must be positive integers.`);
    if (!isPositiveInt(kH) || !isPositiveInt(kW)) this.#opFail(op, `has a ${kH}×${kW} window; window sizes must be positive integers.`);
    if (!PADDINGS.includes(op.padding)) this.#opFail(op, `has unknown padding '${String(op.padding)}'.`);
    const expectH = outputSize(op.padding, inH, kH, strideH);
    const expectW = outputSize(op.padding, inW, kW, strideW);
    if (expectH < 1 || expectW < 1) this.#opFail(op, `has a ${kH}×${kW} window larger than its ${inH}×${inW} input with 'valid' padding.`);
    if (outH !== expectH || outW !== expectW || outCActual !== outC) {
      this.#opFail(op, `should produce [1, ${expectH}, ${expectW}, ${outC}] but its output '${outT.name}' has shape [${outT.shape.join(', ')}].`);
    }
    return {
      inH,
      inW,
      inC,
      outH,
      outW,
      outC,
      kH,
      kW,
      strideH,
      strideW,
      padTop: paddingBefore(inH, kH, strideH, outH),
      padLeft: paddingBefore(inW, kW, strideW, outW),
    };
  }

  /** Quantized multipliers from real ones, refusing shifts no int32 runtime can apply. */
  #multipliers(op: QOp, reals: readonly number[]): { multipliers: Int32Array; shifts: Int32Array } {
    const multipliers = new Int32Array(reals.length);
    const shifts = new Int32Array(reals.length);
    reals.forEach((real, i) => {
      const q = quantizeMultiplier(real);
      if (q.shift > MAX_MULTIPLIER_SHIFT) {
        this.#opFail(op, `needs a requantization multiplier of ${real}, too large for int32 arithmetic; the calibration ranges are inconsistent.`);
      }
      multipliers[i] = q.multiplier;
      shifts[i] = q.shift;
    });
    return { multipliers, shifts };
  }

  #checkWeights(op: QOp, what: string, length: number, expected: number): void {
    if (length !== expected) this.#opFail(op, `has ${length} ${what} values; its shape needs ${expected}.`);
  }

  #checkScales(op: QOp, scales: Float32Array, expected: readonly number[]): void {
    if (!expected.includes(scales.length)) this.#opFail(op, `has ${scales.length} weight scales; expected ${expected.join(' or ')}.`);
    for (const s of scales) if (!Number.isFinite(s) || s <= 0) this.#opFail(op, `has weight scale ${s}; scales must be finite and positive.`);
  }

  #build(op: QOp): Kernel {
    switch (op.kind) {
      case 'conv2d':
        return this.#conv(op);
      case 'depthwise-conv2d':
        return this.#depthwise(op);
      case 'fully-connected':
        return this.#fullyConnected(op);
      case 'max-pool2d':
      case 'average-pool2d':
        return this.#pool(op);
      case 'add':
        return this.#add(op);
      case 'reshape':
        return this.#reshape(op);
      default: {
        const unknown: { kind?: unknown; name?: unknown } = op;
        this.#fail(`op '${String(unknown.name)}' has unsupported kind '${String(unknown.kind)}'.`);
      }
    }
  }

  /** Per-channel multipliers as TFLite's PopulateConvolutionQuantizationParams: in double. */
  #convRequant(op: QConv2D | QDepthwiseConv2D, inT: QTensor, outT: QTensor): Requant {
    const inScale = Math.fround(inT.scale);
    const outScale = Math.fround(outT.scale);
    const reals = Array.from(op.filterScales, (s) => (inScale * s) / outScale);
    const [min, max] = activationRange(op.activation, outT.scale, outT.zeroPoint);
    return { requantize: this.#channelRequant(op, reals, inScale, op.filterScales, outScale), outputZeroPoint: outT.zeroPoint, min, max };
  }

  /**
   * tflite-micro: fixed-point multipliers from `reals` (as TFLite derives them), rounding
   * twice. xnnpack: its fp32 requantization, lrintf(float(acc) · scale) with the scale
   * computed in float32 as the XNNPACK delegate does: inScale · weightScale / outScale.
   */
  #channelRequant(op: QOp, reals: readonly number[], inScale: number, weightScales: Float32Array, outScale: number): Requant['requantize'] {
    if (this.#arithmetic === 'xnnpack') {
      const scales = Float32Array.from(reals, (_, c) => Math.fround(Math.fround(inScale * (weightScales[weightScales.length === 1 ? 0 : c] as number)) / outScale));
      return (acc, c) => roundHalfToEven(Math.fround(Math.fround(acc) * (scales[c] as number)));
    }
    const { multipliers, shifts } = this.#multipliers(op, reals);
    return (acc, c) => multiplyByQuantizedMultiplier(acc, multipliers[c] as number, shifts[c] as number);
  }

  #conv(op: QConv2D): Kernel {
    this.#checkActivation(op);
    const input = this.#read(op, op.input);
    const [outC, kH, kW, filterInC] = op.filterShape;
    if (![outC, kH, kW, filterInC].every(isPositiveInt)) this.#opFail(op, `has filter shape [${op.filterShape.join(', ')}].`);
    const inC = this.#rank4(op, input.t)[3];
    if (filterInC !== inC) this.#opFail(op, `has filters for ${filterInC} input channels but its input '${input.t.name}' has ${inC}.`);
    this.#checkWeights(op, 'filter', op.filter.length, outC * kH * kW * inC);
    this.#checkWeights(op, 'bias', op.bias.length, outC);
    this.#checkScales(op, op.filterScales, [outC]);
    const output = this.#write(op, op.output);
    const g = this.#geometry(op, input.t, output.t, kH, kW, outC);
    return new ConvKernel(op, input.data, output.data, input.t.zeroPoint, g, this.#convRequant(op, input.t, output.t));
  }

  #depthwise(op: QDepthwiseConv2D): Kernel {
    this.#checkActivation(op);
    const input = this.#read(op, op.input);
    const [one, kH, kW, outC] = op.filterShape;
    if (one !== 1 || ![kH, kW, outC].every(isPositiveInt)) this.#opFail(op, `has filter shape [${op.filterShape.join(', ')}]; expected [1, kH, kW, C].`);
    const inC = this.#rank4(op, input.t)[3];
    if (!isPositiveInt(op.depthMultiplier) || inC * op.depthMultiplier !== outC) {
      this.#opFail(op, `has ${outC} filter channels, which is not its input's ${inC} channels × depth multiplier ${op.depthMultiplier}.`);
    }
    this.#checkWeights(op, 'filter', op.filter.length, kH * kW * outC);
    this.#checkWeights(op, 'bias', op.bias.length, outC);
    this.#checkScales(op, op.filterScales, [outC]);
    const output = this.#write(op, op.output);
    const g = this.#geometry(op, input.t, output.t, kH, kW, outC);
    return new DepthwiseKernel(op, input.data, output.data, input.t.zeroPoint, g, this.#convRequant(op, input.t, output.t));
  }

  #fullyConnected(op: QFullyConnected): Kernel {
    this.#checkActivation(op);
    const input = this.#read(op, op.input);
    const [outN, inN] = op.weightsShape;
    if (!isPositiveInt(outN) || !isPositiveInt(inN)) this.#opFail(op, `has weights shape [${op.weightsShape.join(', ')}].`);
    if (input.data.length !== inN) this.#opFail(op, `takes ${inN} inputs but its input '${input.t.name}' has ${input.data.length} values.`);
    this.#checkWeights(op, 'weight', op.weights.length, outN * inN);
    this.#checkWeights(op, 'bias', op.bias.length, outN);
    this.#checkScales(op, op.weightScales, outN === 1 ? [1] : [1, outN]);
    const output = this.#write(op, op.output);
    if (output.data.length !== outN) this.#opFail(op, `has ${outN} outputs but its output '${output.t.name}' holds ${output.data.length} values.`);
    const inScale = Math.fround(input.t.scale);
    const outScale = Math.fround(output.t.scale);
    const reals =
      op.weightScales.length === 1
        ? // GetQuantizedConvolutionMultipler: static_cast<double>(inScale * weightScale), a float32 product.
          [Math.fround(inScale * (op.weightScales[0] as number)) / outScale]
        : Array.from(op.weightScales, (s) => (inScale * s) / outScale);
    const [min, max] = activationRange(op.activation, output.t.scale, output.t.zeroPoint);
    const perChannel = reals.length === 1 ? Array.from({ length: outN }, () => reals[0] as number) : reals;
    const q: Requant = { requantize: this.#channelRequant(op, perChannel, inScale, op.weightScales, outScale), outputZeroPoint: output.t.zeroPoint, min, max };
    return new FullyConnectedKernel(op, input.data, output.data, input.t.zeroPoint, q);
  }

  #sameQuantization(op: QPool2D | QReshape, inT: QTensor, outT: QTensor): void {
    if (Math.fround(inT.scale) !== Math.fround(outT.scale) || inT.zeroPoint !== outT.zeroPoint) {
      this.#opFail(
        op,
        `must keep its input's quantization (scale ${inT.scale}, zero point ${inT.zeroPoint}) but its output '${outT.name}' has scale ${outT.scale}, zero point ${outT.zeroPoint}; TFLite requires them equal.`,
      );
    }
  }

  #pool(op: QPool2D): Kernel {
    this.#checkActivation(op);
    const input = this.#read(op, op.input);
    const output = this.#write(op, op.output);
    this.#sameQuantization(op, input.t, output.t);
    const [kH, kW] = op.filter;
    const g = this.#geometry(op, input.t, output.t, kH, kW, this.#rank4(op, input.t)[3]);
    return new PoolKernel(op, input.data, output.data, g, activationRange(op.activation, output.t.scale, output.t.zeroPoint));
  }

  #add(op: QAdd): Kernel {
    this.#checkActivation(op);
    const a = this.#read(op, op.inputs[0]);
    const b = this.#read(op, op.inputs[1]);
    const output = this.#write(op, op.output);
    const same = (x: QTensor, y: QTensor): boolean => x.shape.length === y.shape.length && x.shape.every((d, i) => d === y.shape[i]);
    if (!same(a.t, b.t) || !same(a.t, output.t)) {
      this.#opFail(
        op,
        `adds [${a.t.shape.join(', ')}] and [${b.t.shape.join(', ')}] into [${output.t.shape.join(', ')}]; all three shapes must be equal (no broadcasting).`,
      );
    }
    // add.cc: 2 · max(scale1, scale2) is a float32 product (exact: a doubling), the rest double.
    const scale1 = Math.fround(a.t.scale);
    const scale2 = Math.fround(b.t.scale);
    const twiceMaxInputScale = 2 * Math.max(scale1, scale2);
    const outputScaleShifted = Math.fround(2 ** ADD_LEFT_SHIFT_BITS * Math.fround(output.t.scale));
    const realOutput = twiceMaxInputScale / outputScaleShifted;
    if (!(realOutput < 1)) {
      this.#opFail(op, `has output scale ${output.t.scale}, far smaller than its inputs' scales; TFLite's ADD cannot represent that rescaling.`);
    }
    const [m1, m2, mOut] = [scale1 / twiceMaxInputScale, scale2 / twiceMaxInputScale, realOutput].map((r) => quantizeMultiplier(r)) as [
      ReturnType<typeof quantizeMultiplier>,
      ReturnType<typeof quantizeMultiplier>,
      ReturnType<typeof quantizeMultiplier>,
    ];
    const [min, max] = activationRange(op.activation, output.t.scale, output.t.zeroPoint);
    return new AddKernel(a.data, b.data, output.data, {
      requantize: this.#requantize,
      xnnpack: this.#arithmetic === 'xnnpack' ? xnnpackAddParams(a.t, b.t, output.t) : null,
      offset1: -a.t.zeroPoint,
      offset2: -b.t.zeroPoint,
      multiplier1: m1.multiplier,
      shift1: m1.shift,
      multiplier2: m2.multiplier,
      shift2: m2.shift,
      outputMultiplier: mOut.multiplier,
      outputShift: mOut.shift,
      outputZeroPoint: output.t.zeroPoint,
      min,
      max,
    });
  }

  #reshape(op: QReshape): Kernel {
    const input = this.#read(op, op.input);
    const output = this.#write(op, op.output);
    this.#sameQuantization(op, input.t, output.t);
    if (input.data.length !== output.data.length) {
      this.#opFail(op, `reshapes [${input.t.shape.join(', ')}] into [${output.t.shape.join(', ')}], which holds a different number of values.`);
    }
    return new CopyKernel(input.data, output.data);
  }
}

/**
 * Runs one `QGraph` many times. The constructor validates the graph and precomputes every
 * multiplier and buffer, so `run` allocates only its result.
 */
export class Int8Interpreter {
  readonly #graph: QGraph;
  readonly #buffers: Map<string, Int8Array>;
  readonly #kernels: Kernel[];
  readonly #input: Int8Array;
  readonly #output: Int8Array;
  #hasRun = false;

  /** `arithmetic`: 'tflite-micro' (default), what the board computes; see Int8Arithmetic. */
  constructor(graph: QGraph, opts: { arithmetic?: Int8Arithmetic } = {}) {
    const built = new GraphBuilder(graph, opts.arithmetic ?? 'tflite-micro');
    this.#graph = graph;
    this.#buffers = built.buffers;
    this.#kernels = built.kernels;
    this.#input = built.buffers.get(graph.input) as Int8Array;
    this.#output = built.buffers.get(graph.output) as Int8Array;
  }

  /** Runs the graph on one int8 input (NHWC, batch 1) and returns a copy of its output. */
  run(input: Int8Array): Int8Array {
    if (input.length !== this.#input.length) {
      throw new InvalidInputError(
        `The int8 model '${this.#graph.name}' takes ${this.#input.length} input values but was given ${input.length}; pass one image of the model's input size.`,
      );
    }
    this.#input.set(input);
    for (const kernel of this.#kernels) kernel.execute();
    this.#hasRun = true;
    return this.#output.slice();
  }

  /** Every tensor of the last run (the input included), by name; copies, safe to keep. Empty before the first run. */
  lastTensors(): Map<string, Int8Array> {
    const tensors = new Map<string, Int8Array>();
    if (!this.#hasRun) return tensors;
    for (const [name, data] of this.#buffers) tensors.set(name, data.slice());
    return tensors;
  }
}

/** One-shot convenience: validates the graph, runs it once on `input`, returns its output. */
export function runInt8(graph: QGraph, input: Int8Array): Int8Array {
  return new Int8Interpreter(graph).run(input);
}
