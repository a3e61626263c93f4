/**
 * Neighbourhood filters with OpenCV 4.x's 8-bit semantics: box (cv2.blur), Gaussian
 * (cv2.GaussianBlur), median (cv2.medianBlur) and bilateral (cv2.bilateralFilter).
 *
 * OpenCV's 8-bit paths are mostly integer maths, and matching them means porting the
 * integer recipe, not the textbook formula: blur divides by k² with a multiply-and-shift,
 * GaussianBlur runs a bit-exact separable filter with 8-bit fixed-point taps (rounded per
 * tap, so the taps of a wide kernel need not sum to exactly 1), bilateral accumulates in
 * float32. Each kernel below names the OpenCV routine it follows.
 */
import { InvalidInputError } from '../jobs/errors';
import { OUTSIDE, borderIndex, readBorderMode } from './border';
import { checkImageU8, clampU8, defineTransform, readRange, roundHalfEven, sampleOddInt, sampleUniform } from './sample';
import {
  MAX_BILATERAL_D,
  MAX_BOX_KSIZE,
  MAX_GAUSSIAN_KSIZE,
  MAX_MEDIAN_KSIZE,
  MAX_SIGMA,
  MAX_SIGMA_COLOR,
  MIN_BILATERAL_SIGMA,
  MIN_MEDIAN_KSIZE,
} from './spec';
import type { BorderMode, ImageU8 } from './types';


function checkOddKsize(ksize: number, max: number, what: string): void {
  if (!Number.isInteger(ksize) || ksize < 1 || ksize % 2 === 0 || ksize > max) {
    throw new InvalidInputError(`${what} kernel size must be an odd whole number from 1 to ${max}; got ${ksize}.`);
  }
}

/** Source index per tap offset and position: `map[i * k + t]` reads index i + t - r. */
function tapIndices(len: number, ksize: number, border: BorderMode): Int32Array {
  const r = (ksize - 1) / 2;
  const map = new Int32Array(len * ksize);
  for (let i = 0; i < len; i++) {
    for (let t = 0; t < ksize; t++) map[i * ksize + t] = borderIndex(i + t - r, len, border);
  }
  return map;
}

// ---------------------------------------------------------------------------------------
// Box

export interface BoxParams {
  ksize: number;
  border: BorderMode;
}

/** ColumnSum<ushort, uchar>'s shift: the divide by k² becomes (sum + delta)·scale >> 23. */
const BOX_DIV_SHIFT = 23;
/** boxFilter sums in 16 bits (and divides in fixed point) only while k² ≤ 256. */
const BOX_U16_MAX_AREA = 256;

/** cv2.blur(src, (k, k), borderType): the mean of a k×k window; constant borders read 0. */
export function boxBlurU8(img: ImageU8, p: BoxParams): ImageU8 {
  checkImageU8(img);
  checkOddKsize(p.ksize, MAX_BOX_KSIZE, 'Box blur');
  const { width: w, height: h, channels: cn, data: src } = img;
  const k = p.ksize;
  const area = k * k;
  const xs = tapIndices(w, k, p.border);
  const ys = tapIndices(h, k, p.border);
  // Horizontal sums per row, then vertical sums: integers, so the order does not matter.
  const rows = new Int32Array(w * h * cn);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < cn; c++) {
        let s = 0;
        for (let t = 0; t < k; t++) {
          const ix = xs[x * k + t] as number;
          if (ix !== OUTSIDE) s += src[(y * w + ix) * cn + c] as number;
        }
        rows[(y * w + x) * cn + c] = s;
      }
    }
  }
  let divScale = 1;
  let divDelta = 0;
  if (area <= BOX_U16_MAX_AREA && area !== 1) {
    let scalef = 2 ** BOX_DIV_SHIFT / area;
    divScale = Math.floor(scalef);
    scalef -= divScale;
    divDelta = Math.floor(area / 2);
    if (scalef < 0.5) divDelta++;
    else divScale++;
  }
  const scale = 1 / area;
  const out = new Uint8Array(src.length);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < cn; c++) {
        let s = 0;
        for (let t = 0; t < k; t++) {
          const iy = ys[y * k + t] as number;
          if (iy !== OUTSIDE) s += rows[(iy * w + x) * cn + c] as number;
        }
        const i = (y * w + x) * cn + c;
        if (area === 1) out[i] = s;
        else if (area <= BOX_U16_MAX_AREA) out[i] = Math.floor(((s + divDelta) * divScale) / 2 ** BOX_DIV_SHIFT);
        else out[i] = clampU8(roundHalfEven(s * scale));
      }
    }
  }
  return { width: w, height: h, channels: cn, data: out };
}

// ---------------------------------------------------------------------------------------
// Gaussian

export interface GaussianParams {
  ksize: number;
  /** Standard deviation in pixels; 0 lets OpenCV derive it from ksize. */
  sigma: number;
  border: BorderMode;
}

/** ufixedpoint16's fraction bits (8) and ufixedpoint32's (16), OpenCV's fixedpoint.inl.hpp. */
const GAUSS_FRAC_BITS = 8;
const GAUSS_ONE = 1 << GAUSS_FRAC_BITS;
const U16_MAX = 0xffff;
const U32_MAX = 0xffffffff;

/**
 * OpenCV's 8-bit Gaussian taps (getGaussianKernelBitExact + getGaussianKernelFixedPoint_ED):
 * binomial tables for sigma ≤ 0 and k ≤ 9, otherwise exp() taps normalised in double.
 * They become 1/256ths by error diffusion over the left half (each rounding error carries
 * into the next tap), the right half mirrors it, and the centre takes whatever makes the
 * sum exactly 256. Rounding each tap on its own instead gives sums of 253–258 and outputs
 * off by up to 5 against cv2.
 */
export function gaussianKernelFixed(ksize: number, sigma: number): Uint16Array {
  const half = (ksize - 1) / 2;
  const tables: Record<number, number[]> = {
    1: [1],
    3: [0.25, 0.5],
    5: [0.0625, 0.25, 0.375],
    7: [0.03125, 0.109375, 0.21875, 0.28125],
    9: [0.015625, 0.05078125, 0.1171875, 0.19921875, 0.234375],
  };
  let values = sigma <= 0 ? tables[ksize] : undefined;
  if (!values) {
    // OpenCV's default sigma for a kernel size: ((k-1)/2 - 1)·0.3 + 0.8 = 0.15·k + 0.35.
    const s = sigma > 0 ? sigma : ksize * 0.15 + 0.35;
    const scale2X = -0.125 / (s * s);
    const raw: number[] = [];
    let sum = 0;
    for (let i = 0, x = 1 - ksize; i < half; i++, x += 2) {
      const t = Math.exp(x * x * scale2X);
      raw.push(t);
      sum += t;
    }
    const mul = 1 / (sum * 2 + 1);
    values = [...raw.map((t) => t * mul), mul];
  }
  const kernel = new Uint16Array(ksize);
  let err = 0;
  let sideSum = 0;
  for (let i = 0; i < half; i++) {
    const adjusted = (values[i] as number) * GAUSS_ONE + err;
    const v = roundHalfEven(adjusted);
    err = adjusted - v;
    kernel[i] = v;
    kernel[ksize - 1 - i] = v;
    sideSum += v;
  }
  kernel[half] = GAUSS_ONE - 2 * sideSum;
  return kernel;
}

/**
 * cv2.GaussianBlur(src, (k, k), sigma, borderType) on 8-bit images: OpenCV's bit-exact
 * path (GaussianBlurFixedPoint). Rows: Σ tap·pixel in 8.8 fixed point, saturating at
 * 16 bits; columns: Σ tap·row in 16.16, then rounded half up to a byte. Constant
 * borders contribute zeros.
 */
export function gaussianBlurU8(img: ImageU8, p: GaussianParams): ImageU8 {
  checkImageU8(img);
  checkOddKsize(p.ksize, MAX_GAUSSIAN_KSIZE, 'Gaussian blur');
  if (!(Number.isFinite(p.sigma) && p.sigma >= 0)) throw new InvalidInputError(`Gaussian sigma must be 0 or more; got ${p.sigma}.`);
  const { width: w, height: h, channels: cn, data: src } = img;
  const k = p.ksize;
  if (k === 1) return { width: w, height: h, channels: cn, data: src.slice() };
  const kernel = gaussianKernelFixed(k, p.sigma);
  const xs = tapIndices(w, k, p.border);
  const ys = tapIndices(h, k, p.border);
  const rows = new Uint32Array(w * h * cn);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < cn; c++) {
        let s = 0;
        for (let t = 0; t < k; t++) {
          const ix = xs[x * k + t] as number;
          if (ix !== OUTSIDE) s = Math.min(U16_MAX, s + (kernel[t] as number) * (src[(y * w + ix) * cn + c] as number));
        }
        rows[(y * w + x) * cn + c] = s;
      }
    }
  }
  const out = new Uint8Array(src.length);
  const half = 1 << (2 * GAUSS_FRAC_BITS - 1);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < cn; c++) {
        let s = 0;
        for (let t = 0; t < k; t++) {
          const iy = ys[y * k + t] as number;
          if (iy !== OUTSIDE) s = Math.min(U32_MAX, s + (kernel[t] as number) * (rows[(iy * w + x) * cn + c] as number));
        }
        out[(y * w + x) * cn + c] = clampU8(Math.floor((s + half) / 2 ** (2 * GAUSS_FRAC_BITS)));
      }
    }
  }
  return { width: w, height: h, channels: cn, data: out };
}

// ---------------------------------------------------------------------------------------
// Median

export interface MedianParams {
  ksize: number;
}

/** cv2.medianBlur(src, k): the exact median of each k×k window, per channel; OpenCV always replicates the edge. */
export function medianBlurU8(img: ImageU8, p: MedianParams): ImageU8 {
  checkImageU8(img);
  checkOddKsize(p.ksize, MAX_MEDIAN_KSIZE, 'Median blur');
  const { width: w, height: h, channels: cn, data: src } = img;
  const k = p.ksize;
  const xs = tapIndices(w, k, 'replicate');
  const ys = tapIndices(h, k, 'replicate');
  const out = new Uint8Array(src.length);
  // A 256-bin histogram per window: k² ≤ 49 values, and no sort allocation per pixel.
  const hist = new Uint16Array(256);
  const mid = (k * k - 1) / 2;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < cn; c++) {
        hist.fill(0);
        for (let ty = 0; ty < k; ty++) {
          const row = (ys[y * k + ty] as number) * w;
          for (let tx = 0; tx < k; tx++) {
            const v = src[(row + (xs[x * k + tx] as number)) * cn + c] as number;
            hist[v] = (hist[v] as number) + 1;
          }
        }
        let seen = 0;
        let v = 0;
        for (; v < 256; v++) {
          seen += hist[v] as number;
          if (seen > mid) break;
        }
        out[(y * w + x) * cn + c] = v;
      }
    }
  }
  return { width: w, height: h, channels: cn, data: out };
}

// ---------------------------------------------------------------------------------------
// Bilateral

export interface BilateralParams {
  /** Window diameter in pixels; OpenCV uses radius = floor(d / 2) and a round window. */
  d: number;
  sigmaColor: number;
  sigmaSpace: number;
  border: BorderMode;
}

/**
 * cv2.bilateralFilter(src, d, sigmaColor, sigmaSpace, borderType) on 8-bit images
 * (BilateralFilter_8u_Invoker). Weights are float32 tables: colour by |Δ| (the sum of
 * |Δ| over channels for RGB), space over a disc of radius d/2. Sums are float32 too, each
 * step `sum + value·w` rounded once as OpenCV's FMA (v_muladd) does on AVX2 machines.
 */
export function bilateralU8(img: ImageU8, p: BilateralParams): ImageU8 {
  checkImageU8(img);
  if (!Number.isInteger(p.d) || p.d < 1 || p.d > MAX_BILATERAL_D) {
    throw new InvalidInputError(`Bilateral diameter must be a whole number from 1 to ${MAX_BILATERAL_D}; got ${p.d}.`);
  }
  if (!(p.sigmaColor > 0 && p.sigmaSpace > 0)) {
    throw new InvalidInputError(`Bilateral sigmas must be above 0; got sigmaColor ${p.sigmaColor}, sigmaSpace ${p.sigmaSpace}.`);
  }
  const { width: w, height: h, channels: cn, data: src } = img;
  const radius = Math.max(Math.floor(p.d / 2), 1);
  const gaussColor = -0.5 / (p.sigmaColor * p.sigmaColor);
  const gaussSpace = -0.5 / (p.sigmaSpace * p.sigmaSpace);
  const colorWeight = new Float32Array(256 * cn);
  for (let i = 0; i < colorWeight.length; i++) colorWeight[i] = Math.exp(i * i * gaussColor);
  const spaceWeight: number[] = [];
  const offX: number[] = [];
  const offY: number[] = [];
  for (let i = -radius; i <= radius; i++) {
    for (let j = -radius; j <= radius; j++) {
      const r = Math.sqrt(i * i + j * j);
      if (r > radius) continue;
      spaceWeight.push(Math.fround(Math.exp(r * r * gaussSpace)));
      offY.push(i);
      offX.push(j);
    }
  }
  const xMap = new Int32Array(w + 2 * radius);
  const yMap = new Int32Array(h + 2 * radius);
  for (let x = -radius; x < w + radius; x++) xMap[x + radius] = borderIndex(x, w, p.border);
  for (let y = -radius; y < h + radius; y++) yMap[y + radius] = borderIndex(y, h, p.border);
  // copyMakeBorder with BORDER_CONSTANT pads with 0.
  const at = (x: number, y: number, c: number): number => {
    const ix = xMap[x + radius] as number;
    const iy = yMap[y + radius] as number;
    return ix === OUTSIDE || iy === OUTSIDE ? 0 : (src[(iy * w + ix) * cn + c] as number);
  };
  const out = new Uint8Array(src.length);
  const sums = new Float64Array(cn);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const d = (y * w + x) * cn;
      sums.fill(0);
      let wsum = 0;
      for (let k = 0; k < spaceWeight.length; k++) {
        const nx = x + (offX[k] as number);
        const ny = y + (offY[k] as number);
        let diff = 0;
        for (let c = 0; c < cn; c++) diff += Math.abs(at(nx, ny, c) - (src[d + c] as number));
        const wk = Math.fround((spaceWeight[k] as number) * (colorWeight[diff] as number));
        wsum = Math.fround(wsum + wk);
        for (let c = 0; c < cn; c++) sums[c] = Math.fround((sums[c] as number) + at(nx, ny, c) * wk);
      }
      if (cn === 1) {
        out[d] = clampU8(roundHalfEven(Math.fround((sums[0] as number) / wsum)));
      } else {
        const inv = Math.fround(1 / wsum);
        for (let c = 0; c < cn; c++) out[d + c] = clampU8(roundHalfEven(Math.fround((sums[c] as number) * inv)));
      }
    }
  }
  return { width: w, height: h, channels: cn, data: out };
}

// ---------------------------------------------------------------------------------------
// Transform definitions

export const boxTransform = defineTransform<BoxParams>({
  name: 'box',
  kind: 'neighbourhood',
  description: 'Average over a k×k window (cv2.blur).',
  sample: (rng, spec) => ({
    ksize: sampleOddInt(rng, 'ksizeRange', readRange(spec, 'ksizeRange', { min: 1, max: MAX_BOX_KSIZE })),
    border: readBorderMode(spec, 'border', 'reflect101'),
  }),
  cpu: (img, p) => boxBlurU8(img, p),
  goldenTolerance: 0,
});

export const gaussianBlurTransform = defineTransform<GaussianParams>({
  name: 'gaussian-blur',
  kind: 'neighbourhood',
  description: 'Gaussian blur with an odd kernel size and a sigma in pixels (cv2.GaussianBlur).',
  sample: (rng, spec) => ({
    ksize: sampleOddInt(rng, 'ksizeRange', readRange(spec, 'ksizeRange', { min: 1, max: MAX_GAUSSIAN_KSIZE })),
    sigma: sampleUniform(rng, readRange(spec, 'sigmaRange', { min: 0, max: MAX_SIGMA, fallback: 0 })),
    border: readBorderMode(spec, 'border', 'reflect101'),
  }),
  cpu: (img, p) => gaussianBlurU8(img, p),
  goldenTolerance: 1,
});

export const medianTransform = defineTransform<MedianParams>({
  name: 'median',
  kind: 'neighbourhood',
  description: 'Median of a k×k window, k = 3, 5 or 7 (cv2.medianBlur).',
  sample: (rng, spec) => ({
    ksize: sampleOddInt(rng, 'ksizeRange', readRange(spec, 'ksizeRange', { min: MIN_MEDIAN_KSIZE, max: MAX_MEDIAN_KSIZE })),
  }),
  cpu: (img, p) => medianBlurU8(img, p),
  goldenTolerance: 0,
});

export const bilateralTransform = defineTransform<BilateralParams>({
  name: 'bilateral',
  kind: 'neighbourhood',
  description: 'Edge-preserving smoothing: neighbours weigh by distance and by colour difference (cv2.bilateralFilter).',
  sample: (rng, spec) => ({
    d: sampleOddInt(rng, 'dRange', readRange(spec, 'dRange', { min: 1, max: MAX_BILATERAL_D })),
    sigmaColor: sampleUniform(rng, readRange(spec, 'sigmaColorRange', { min: MIN_BILATERAL_SIGMA, max: MAX_SIGMA_COLOR })),
    sigmaSpace: sampleUniform(rng, readRange(spec, 'sigmaSpaceRange', { min: MIN_BILATERAL_SIGMA, max: MAX_SIGMA })),
    border: readBorderMode(spec, 'border', 'reflect101'),
  }),
  cpu: (img, p) => bilateralU8(img, p),
  goldenTolerance: 1,
});

export const FILTER_TRANSFORMS = [boxTransform, gaussianBlurTransform, medianTransform, bilateralTransform] as const;
