/**
 * Training kernels that `@tensorflow/tfjs-backend-wasm` 4.22 does not ship:
 * `Conv2DBackpropFilter`, `DepthwiseConv2dNativeBackpropFilter` and
 * `DepthwiseConv2dNativeBackpropInput`. Without them a gradient through any convolution
 * throws "Kernel '…' not registered for backend 'wasm'", and a CPU-only machine trains
 * on the pure-JavaScript cpu backend, about 100 times slower (DESIGN.md, "Compute").
 *
 * Each kernel is a composition of kernels the wasm backend does have (XNNPACK
 * convolutions, transposes, reshapes, pads, sums), called directly through the kernel
 * registry with the backend the engine hands us. Calling kernels rather than tf ops keeps
 * the engine out of the loop: no tensors are tracked, nothing is taped, and every
 * intermediate is released with `backend.disposeData`, which is how tfjs's own backends
 * compose kernels and what the engine's leak check (`IS_TEST`) counts.
 *
 * Limits, the same as the gradients tfjs-core defines: NHWC data, dilations 1.
 *
 * This module imports tfjs directly rather than through ./register because register.ts
 * calls `registerWasmGradKernels()`: importing it back would be a cycle. It is the same
 * tfjs module, so the same engine and kernel registry.
 */
import * as tf from '@tensorflow/tfjs';
import { HearthError } from '../jobs/errors';

const WASM_BACKEND = 'wasm';

/** The kernels this module registers for the wasm backend. */
export const WASM_GRAD_KERNEL_NAMES = [
  tf.Conv2DBackpropFilter,
  tf.DepthwiseConv2dNativeBackpropFilter,
  tf.DepthwiseConv2dNativeBackpropInput,
] as const;

/** A convolution gradient was asked for with settings these wasm kernels do not cover. */
export class UnsupportedConvolutionError extends HearthError {
  constructor(message: string) {
    super(message, 'UnsupportedConvolutionError');
  }
}

type Pair = [number, number];
type Shape4 = [number, number, number, number];
/** tfjs's explicit padding, NHWC: [[0,0],[top,bottom],[left,right],[0,0]]. */
type ExplicitPadding4 = [Pair, Pair, Pair, Pair];
type PadAttr = 'valid' | 'same' | number | ExplicitPadding4;

/** The attributes tfjs-core passes to the gradient kernels (kernel_names.d.ts). */
interface GradAttrs {
  strides: number | Pair;
  pad: PadAttr;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  dilations?: number | Pair;
  dataFormat?: 'NHWC' | 'NCHW';
  filterShape?: Shape4;
  inputShape?: Shape4;
}

/** Refuses what these kernels cannot compute, naming the fix. */
function checkSupported(kernelName: string, attrs: GradAttrs): void {
  if (attrs.dataFormat === 'NCHW') {
    throw new UnsupportedConvolutionError(
      `${kernelName} on the wasm backend supports only NHWC (channels-last) data: build the model with ` +
        `dataFormat 'channelsLast', or train on the cpu backend.`,
    );
  }
  const [dh, dw] = asPair(attrs.dilations ?? 1);
  if (dh !== 1 || dw !== 1) {
    throw new UnsupportedConvolutionError(
      `${kernelName} on the wasm backend supports only dilations of 1 (got ${dh}×${dw}), as tfjs's own ` +
        `gradients do: use an undilated convolution to train.`,
    );
  }
}

function asPair(v: number | Pair): Pair {
  return typeof v === 'number' ? [v, v] : v;
}

function shape4(t: tf.TensorInfo, what: string): Shape4 {
  if (t.shape.length !== 4) {
    throw new UnsupportedConvolutionError(`${what} must be rank 4 (NHWC), got shape [${t.shape.join(', ')}].`);
  }
  return t.shape as Shape4;
}

function requiredShape(shape: Shape4 | undefined, attrName: string, kernelName: string): Shape4 {
  if (!shape) throw new UnsupportedConvolutionError(`${kernelName} was called without its '${attrName}' attribute.`);
  return shape;
}

/**
 * Runs wasm kernels on one backend and remembers every tensor it made, so a kernel body
 * can free all its intermediates in one place, also when it throws half-way.
 */
class KernelCalls {
  readonly #made: tf.TensorInfo[] = [];

  constructor(private readonly backend: tf.KernelBackend) {}

  run(kernelName: string, inputs: tf.NamedTensorInfoMap, attrs: Record<string, tf.Attribute> = {}): tf.TensorInfo {
    // getKernel's declared return type omits the undefined it returns for a missing kernel.
    const kernel = tf.getKernel(kernelName, WASM_BACKEND) as tf.KernelConfig | undefined;
    if (!kernel) {
      throw new UnsupportedConvolutionError(
        `The wasm backend has no '${kernelName}' kernel, which the wasm training kernels build on: ` +
          `check that @tensorflow/tfjs-backend-wasm matches @tensorflow/tfjs.`,
      );
    }
    const out = kernel.kernelFunc({ inputs, backend: this.backend, attrs });
    if (Array.isArray(out)) throw new UnsupportedConvolutionError(`'${kernelName}' returned several tensors where one was expected.`);
    this.#made.push(out);
    return out;
  }

  reshape(x: tf.TensorInfo, shape: number[]): tf.TensorInfo {
    return this.run(tf.Reshape, { x }, { shape });
  }

  transpose(x: tf.TensorInfo, perm: number[]): tf.TensorInfo {
    return this.run(tf.Transpose, { x }, { perm });
  }

  /** The rank-4 window `begin`…`begin + size` of `x`; `x` itself when that is all of it. */
  crop(x: tf.TensorInfo, begin: Shape4, size: Shape4): tf.TensorInfo {
    const same = size.every((s, i) => s === x.shape[i] && begin[i] === 0);
    return same ? x : this.run(tf.Slice, { x }, { begin, size });
  }

  /** Frees every tensor made here except `result`, which the caller hands to the engine. */
  release(result: tf.TensorInfo | null): void {
    for (const t of this.#made) if (t !== result) this.backend.disposeData(t.dataId);
    this.#made.length = 0;
  }
}

/** Runs `body` with a fresh KernelCalls and frees its intermediates whatever happens. */
function withKernelCalls(backend: object, body: (k: KernelCalls) => tf.TensorInfo): tf.TensorInfo {
  // The registry types the backend as `{}`; a kernel registered for 'wasm' is only ever
  // handed the wasm backend, which is a KernelBackend.
  const calls = new KernelCalls(backend as tf.KernelBackend);
  let result: tf.TensorInfo | null = null;
  try {
    result = body(calls);
    return result;
  } finally {
    calls.release(result);
  }
}

function explicitPad(top: number, bottom: number, left: number, right: number): ExplicitPadding4 {
  return [[0, 0], [top, bottom], [left, right], [0, 0]];
}

/**
 * The padding below/right of the input that makes a stride-1 correlation with a kernel
 * of extent `kernelExtent` produce at least `wanted` outputs, given `before` padding
 * above/left: never negative (a longer output is cropped afterwards instead).
 */
function padAfter(inSize: number, before: number, kernelExtent: number, wanted: number): number {
  return Math.max(0, wanted + kernelExtent - 1 - inSize - before);
}

/**
 * dW of conv2d. dW[i,j,ci,co] = Σ_{n,ho,wo} x[n, ho·s+i−pad, wo·s+j−pad, ci]·dy[n,ho,wo,co]:
 * a forward convolution whose "batch" is the input channels of x, whose "channels" are
 * the batch, and whose filter is dy laid out (Ho, Wo, N, Cout), dilated by the stride.
 */
function conv2dBackpropFilter({ inputs, backend, attrs }: Parameters<tf.KernelFunc>[0]): tf.TensorInfo {
  const a = attrs as unknown as GradAttrs;
  const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  checkSupported(tf.Conv2DBackpropFilter, a);
  const filterShape = requiredShape(a.filterShape, 'filterShape', tf.Conv2DBackpropFilter);
  const xShape = shape4(x, 'x');
  const [, inH, inW, inC] = xShape;
  const [, outH, outW, outC] = shape4(dy, 'dy');
  const info = tf.backend_util.computeConv2DInfo(xShape, filterShape, a.strides, 1, a.pad, a.dimRoundingMode, false, 'channelsLast');
  const { strideHeight: sh, strideWidth: sw, filterHeight: fh, filterWidth: fw } = info;
  const { top, left } = info.padInfo;
  const dyExtentH = (outH - 1) * sh + 1;
  const dyExtentW = (outW - 1) * sw + 1;
  const bottom = padAfter(inH, top, dyExtentH, fh);
  const right = padAfter(inW, left, dyExtentW, fw);

  return withKernelCalls(backend, (k) => {
    const xCHWN = k.transpose(x, [3, 1, 2, 0]);
    const dyHWNC = k.transpose(dy, [1, 2, 0, 3]);
    const dwCHWO = k.run(tf.Conv2D, { x: xCHWN, filter: dyHWNC }, {
      strides: [1, 1],
      dilations: [sh, sw],
      pad: explicitPad(top, bottom, left, right),
      dataFormat: 'NHWC',
    });
    // Rows past fh exist only when the forward pass dropped input rows (valid padding
    // whose stride does not divide the input): those rows belong to no filter tap.
    const cropped = k.crop(dwCHWO, [0, 0, 0, 0], [inC, fh, fw, outC]);
    return k.transpose(cropped, [1, 2, 0, 3]);
  });
}

/**
 * dW of a depthwise conv (multiplier m): the same correlation as conv2d's, but per input
 * channel. Putting (channel, batch) pairs on the channel axis of a single image and
 * running a depthwise convolution with dy as the filter gives every channel × sample its
 * own correlation; summing over the batch afterwards gives dW.
 */
function depthwiseBackpropFilter({ inputs, backend, attrs }: Parameters<tf.KernelFunc>[0]): tf.TensorInfo {
  const a = attrs as unknown as GradAttrs;
  const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  checkSupported(tf.DepthwiseConv2dNativeBackpropFilter, a);
  const filterShape = requiredShape(a.filterShape, 'filterShape', tf.DepthwiseConv2dNativeBackpropFilter);
  const [batch, inH, inW, inC] = shape4(x, 'x');
  const [, outH, outW] = shape4(dy, 'dy');
  const info = tf.backend_util.computeConv2DInfo([batch, inH, inW, inC], filterShape, a.strides, 1, a.pad, a.dimRoundingMode, true);
  const { strideHeight: sh, strideWidth: sw, filterHeight: fh, filterWidth: fw } = info;
  const multiplier = filterShape[3];
  const { top, left } = info.padInfo;
  const bottom = padAfter(inH, top, (outH - 1) * sh + 1, fh);
  const right = padAfter(inW, left, (outW - 1) * sw + 1, fw);

  return withKernelCalls(backend, (k) => {
    // x: (N,H,W,C) → one image (1,H,W,C·N), channel index c·N + n.
    const xHWCN = k.transpose(x, [1, 2, 3, 0]);
    const xOneImage = k.reshape(xHWCN, [1, inH, inW, inC * batch]);
    // dy: (N,Ho,Wo,C·m) → filter (Ho,Wo,C·N,m), matching x's channel order.
    const dyHWCNM = k.transpose(k.reshape(dy, [batch, outH, outW, inC, multiplier]), [1, 2, 3, 0, 4]);
    const dyFilter = k.reshape(dyHWCNM, [outH, outW, inC * batch, multiplier]);
    const perSample = k.run(tf.DepthwiseConv2dNative, { x: xOneImage, filter: dyFilter }, {
      strides: [1, 1],
      dilations: [sh, sw],
      pad: explicitPad(top, bottom, left, right),
    });
    const [, gotH, gotW] = perSample.shape as Shape4;
    const split = k.reshape(perSample, [gotH, gotW, inC, batch, multiplier]);
    const summed = k.run(tf.Sum, { x: split }, { axis: [3], keepDims: false });
    return k.crop(summed, [0, 0, 0, 0], [fh, fw, inC, multiplier]);
  });
}

/**
 * dx of a depthwise conv: a stride-1 depthwise correlation of dy (zero-dilated by the
 * stride, padded by filter−1−pad) with the spatially flipped filter, as tfjs-backend-cpu's
 * DepthwiseConv2dNativeBackpropInput computes it. Every one of the C·m dy channels is
 * correlated with its own flipped filter slice (multiplier 1), then the m slices of each
 * input channel are summed.
 */
function depthwiseBackpropInput({ inputs, backend, attrs }: Parameters<tf.KernelFunc>[0]): tf.TensorInfo {
  const a = attrs as unknown as GradAttrs;
  const { dy, filter } = inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
  checkSupported(tf.DepthwiseConv2dNativeBackpropInput, a);
  const inputShape = requiredShape(a.inputShape, 'inputShape', tf.DepthwiseConv2dNativeBackpropInput);
  const [batch, inH, inW, inC] = inputShape;
  const [, outH, outW, dyC] = shape4(dy, 'dy');
  const [fh, fw, , multiplier] = shape4(filter, 'filter');
  const info = tf.backend_util.computeConv2DInfo(inputShape, [fh, fw, inC, multiplier], a.strides, 1, a.pad, a.dimRoundingMode, true);
  const { strideHeight: sh, strideWidth: sw } = info;

  return withKernelCalls(backend, (k) => {
    let dyDilated = dy;
    if (sh > 1 || sw > 1) {
      // Zero insertion: give every dy pixel an (sh × sw) cell whose other entries are 0.
      const cells = k.reshape(dy, [batch, outH, 1, outW, 1, dyC]);
      const padded = k.run(tf.PadV2, { x: cells }, {
        paddings: [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]],
        constantValue: 0,
      });
      dyDilated = k.reshape(padded, [batch, outH * sh, outW * sw, dyC]);
    }
    // dx[y] = Σ_w u[y + w]·flip(W)[w], where u is dyDilated with (fh−1−padTop) rows above
    // it and enough below for H outputs. A negative amount means dy rows whose receptive
    // field lies wholly in the padding: they touch no input pixel and are cropped.
    const [, dilH, dilW] = dyDilated.shape as Shape4;
    const above = fh - 1 - info.padInfo.top;
    const before = fw - 1 - info.padInfo.left;
    const below = inH + fh - 1 - above - dilH;
    const after = inW + fw - 1 - before - dilW;
    const cropTop = Math.max(0, -above);
    const cropLeft = Math.max(0, -before);
    const keptH = dilH - cropTop - Math.max(0, -below);
    const keptW = dilW - cropLeft - Math.max(0, -after);
    if (keptH <= 0 || keptW <= 0) {
      // Every output pixel read only padding (a numeric pad wider than the input): no
      // input pixel influenced the loss.
      return k.run(tf.Fill, {}, { shape: inputShape, value: 0, dtype: 'float32' });
    }
    const dyCropped = k.crop(dyDilated, [0, cropTop, cropLeft, 0], [batch, keptH, keptW, dyC]);

    const flipped = k.run(tf.Reverse, { x: filter }, { dims: [0, 1] });
    const perSlice = k.run(
      tf.DepthwiseConv2dNative,
      { x: dyCropped, filter: k.reshape(flipped, [fh, fw, dyC, 1]) },
      {
        strides: [1, 1],
        dilations: [1, 1],
        pad: explicitPad(Math.max(0, above), Math.max(0, below), Math.max(0, before), Math.max(0, after)),
      },
    );
    if (multiplier === 1) return perSlice;
    const split = k.reshape(perSlice, [batch, inH, inW, inC, multiplier]);
    return k.run(tf.Sum, { x: split }, { axis: [4], keepDims: false });
  });
}

const KERNEL_FUNCS: Record<(typeof WASM_GRAD_KERNEL_NAMES)[number], tf.KernelFunc> = {
  [tf.Conv2DBackpropFilter]: conv2dBackpropFilter,
  [tf.DepthwiseConv2dNativeBackpropFilter]: depthwiseBackpropFilter,
  [tf.DepthwiseConv2dNativeBackpropInput]: depthwiseBackpropInput,
};

/**
 * Registers the three kernels for the wasm backend. Idempotent, and it never replaces a
 * kernel that is already registered: a later tfjs release that ships its own native
 * kernel keeps it (and tfjs would otherwise log an "already registered" warning).
 * Registration only fills the kernel registry, so it may run before or after the wasm
 * backend initialises.
 */
export function registerWasmGradKernels(): void {
  for (const kernelName of WASM_GRAD_KERNEL_NAMES) {
    if (tf.getKernel(kernelName, WASM_BACKEND) as tf.KernelConfig | undefined) continue;
    tf.registerKernel({ kernelName, backendName: WASM_BACKEND, kernelFunc: KERNEL_FUNCS[kernelName] });
  }
}
