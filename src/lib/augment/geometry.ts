/**
 * Geometric transforms with OpenCV 4.x semantics, bit for bit where we could: flip, crop,
 * resize (INTER_NEAREST / INTER_LINEAR / INTER_AREA) and the affine family (rotate,
 * translate, shear, scale, affine) that all go through one `warpAffineU8`, the kernel the
 * GPU path fuses. Each transform is a seeded `sample` (spec ranges → concrete params)
 * plus a pure `cpu` kernel; tests/fixtures/augment/geometry holds OpenCV's goldens.
 *
 * Why the fixed-point detail matters: OpenCV does not interpolate in floating point for
 * 8-bit images. warpAffine quantises every source coordinate to 1/32 pixel (INTER_BITS = 5)
 * and blends with 15-bit integer weights; resize blends with 11-bit weights per axis. A
 * float implementation differs from cv2 by 1 on a few percent of pixels, which a golden
 * test (and a user comparing against their Python pipeline) would notice.
 */
import { InvalidInputError } from '../jobs/errors';
import { OUTSIDE, borderIndex, readBorderMode } from './border';
import { checkImageU8, clampU8, defineTransform, readChoice, readInt, readRange, roundHalfEven, sampleUniform, type Spec } from './sample';
import {
  CROP_POSITIONS,
  FLIP_MODES,
  MAX_ANGLE_DEG,
  MAX_RESIZE_SIDE_PX,
  MAX_SCALE,
  MAX_SHEAR_DEG,
  MAX_SHIFT_FRACTION,
  MIN_SCALE,
  RESIZE_INTERPOLATIONS,
  WARP_INTERPOLATIONS,
  type FlipMode,
  type ResizeInterpolation,
  type WarpInterpolation,
} from './spec';
import type { BorderMode, ImageU8 } from './types';

// ---------------------------------------------------------------------------------------
// Flip and crop (exact)

export interface FlipParams {
  mode: FlipMode;
}

/** cv2.flip: 1 = horizontal (mirror columns), 0 = vertical (rows), -1 = both. */
export function flipU8(img: ImageU8, mode: FlipMode): ImageU8 {
  checkImageU8(img);
  const { width: w, height: h, channels: cn } = img;
  const out = new Uint8Array(img.data.length);
  const flipX = mode !== 'vertical';
  const flipY = mode !== 'horizontal';
  for (let y = 0; y < h; y++) {
    const sy = flipY ? h - 1 - y : y;
    for (let x = 0; x < w; x++) {
      const sx = flipX ? w - 1 - x : x;
      const s = (sy * w + sx) * cn;
      const d = (y * w + x) * cn;
      for (let c = 0; c < cn; c++) out[d + c] = img.data[s + c] as number;
    }
  }
  return { width: w, height: h, channels: cn, data: out };
}

export interface CropParams {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** img[y:y+height, x:x+width]; the rectangle must lie inside the image. */
export function cropU8(img: ImageU8, p: CropParams): ImageU8 {
  checkImageU8(img);
  const { x, y, width, height } = p;
  if (!(Number.isInteger(x) && Number.isInteger(y) && x >= 0 && y >= 0 && width >= 1 && height >= 1 && x + width <= img.width && y + height <= img.height)) {
    throw new InvalidInputError(`Crop ${width}x${height} at (${x}, ${y}) does not fit a ${img.width}x${img.height} image.`);
  }
  const cn = img.channels;
  const out = new Uint8Array(width * height * cn);
  for (let r = 0; r < height; r++) {
    const start = ((y + r) * img.width + x) * cn;
    out.set(img.data.subarray(start, start + width * cn), r * width * cn);
  }
  return { width, height, channels: cn, data: out };
}

// ---------------------------------------------------------------------------------------
// warpAffine

/** A 2x3 forward matrix [a, b, c, d, e, f]: output (x, y) = (a x + b y + c, d x + e y + f). */
export type AffineMatrix = readonly [number, number, number, number, number, number];

export interface WarpOptions {
  border: BorderMode;
  /** The constant border's value for every channel (OpenCV's borderValue), 0–255. */
  borderValue: number;
  interpolation: WarpInterpolation;
}

/** warpAffine's fixed-point constants (imgwarp.cpp). */
const INTER_BITS = 5;
const INTER_TAB_SIZE = 1 << INTER_BITS;
const AB_BITS = 10;
const AB_SCALE = 1 << AB_BITS;
const INTER_REMAP_COEF_BITS = 15;
const INTER_REMAP_COEF_SCALE = 1 << INTER_REMAP_COEF_BITS;
const SHORT_MIN = -32768;
const SHORT_MAX = 32767;

/**
 * OpenCV's BilinearTab_i: for each of the 32x32 sub-pixel positions, four 15-bit weights.
 * Ported with its quirk: the weight 1.0 (32768) saturates to 32767 in a short, and the
 * correction step then adds the missing unit to the bottom-right tap instead (it scans
 * indices past its own 2x2 block, which are still zero). The result for an integer
 * position is 32767·p00 + 1·p11, which still rounds to p00, but porting it keeps us exact.
 */
const BILINEAR_TAB: Int32Array = (() => {
  const tab = new Int32Array(INTER_TAB_SIZE * INTER_TAB_SIZE * 4 + 8);
  const oneD = new Float32Array(INTER_TAB_SIZE * 2);
  for (let i = 0; i < INTER_TAB_SIZE; i++) {
    const x = Math.fround(i * Math.fround(1 / INTER_TAB_SIZE));
    oneD[i * 2] = Math.fround(1 - x);
    oneD[i * 2 + 1] = x;
  }
  for (let i = 0; i < INTER_TAB_SIZE; i++) {
    for (let j = 0; j < INTER_TAB_SIZE; j++) {
      const base = (i * INTER_TAB_SIZE + j) * 4;
      let isum = 0;
      for (let k1 = 0; k1 < 2; k1++) {
        const vy = oneD[i * 2 + k1] as number;
        for (let k2 = 0; k2 < 2; k2++) {
          const v = Math.fround(vy * (oneD[j * 2 + k2] as number));
          const iv = Math.min(SHORT_MAX, Math.max(SHORT_MIN, roundHalfEven(Math.fround(v * INTER_REMAP_COEF_SCALE))));
          tab[base + k1 * 2 + k2] = iv;
          isum += iv;
        }
      }
      if (isum !== INTER_REMAP_COEF_SCALE) {
        const diff = isum - INTER_REMAP_COEF_SCALE;
        let mk = 3;
        let bigK = 3;
        for (let k1 = 1; k1 < 3; k1++) {
          for (let k2 = 1; k2 < 3; k2++) {
            const k = k1 * 2 + k2;
            if ((tab[base + k] as number) < (tab[base + mk] as number)) mk = k;
            else if ((tab[base + k] as number) > (tab[base + bigK] as number)) bigK = k;
          }
        }
        if (diff < 0) tab[base + bigK] = (tab[base + bigK] as number) - diff;
        else tab[base + mk] = (tab[base + mk] as number) - diff;
      }
    }
  }
  return tab;
})();

/** cv::invertAffineTransform as warpAffine does it (same operation order, same doubles). */
export function invertAffine(m: AffineMatrix): AffineMatrix {
  let d = m[0] * m[4] - m[1] * m[3];
  d = d !== 0 ? 1 / d : 0;
  const a11 = m[4] * d;
  const a22 = m[0] * d;
  const a12 = m[1] * -d;
  const a21 = m[3] * -d;
  const b1 = -a11 * m[2] - a12 * m[5];
  const b2 = -a21 * m[2] - a22 * m[5];
  return [a11, a12, b1, a21, a22, b2];
}

function saturateShort(v: number): number {
  return v < SHORT_MIN ? SHORT_MIN : v > SHORT_MAX ? SHORT_MAX : v;
}

/**
 * cv2.warpAffine(src, M, (w, h), flags=INTER_LINEAR|INTER_NEAREST, borderMode, borderValue)
 * with the output the size of the input. The matrix is the forward map; like OpenCV we
 * invert it and, for every output pixel centre, fetch the source at the inverse image.
 */
export function warpAffineU8(img: ImageU8, forward: AffineMatrix, opts: WarpOptions): ImageU8 {
  checkImageU8(img);
  const { width: w, height: h, channels: cn, data: src } = img;
  const out = new Uint8Array(src.length);
  const m = invertAffine(forward);
  const linear = opts.interpolation === 'bilinear';
  const cval = clampU8(roundHalfEven(opts.borderValue));
  const border = opts.border;
  const adelta = new Int32Array(w);
  const bdelta = new Int32Array(w);
  for (let x = 0; x < w; x++) {
    adelta[x] = roundHalfEven(m[0] * x * AB_SCALE);
    bdelta[x] = roundHalfEven(m[3] * x * AB_SCALE);
  }
  const roundDelta = linear ? AB_SCALE / INTER_TAB_SIZE / 2 : AB_SCALE / 2;
  const w1 = Math.max(w - 1, 0);
  const h1 = Math.max(h - 1, 0);
  for (let y = 0; y < h; y++) {
    const x0 = roundHalfEven((m[1] * y + m[2]) * AB_SCALE) + roundDelta;
    const y0 = roundHalfEven((m[4] * y + m[5]) * AB_SCALE) + roundDelta;
    for (let x = 0; x < w; x++) {
      const d = (y * w + x) * cn;
      if (!linear) {
        const sx = saturateShort((x0 + (adelta[x] as number)) >> AB_BITS);
        const sy = saturateShort((y0 + (bdelta[x] as number)) >> AB_BITS);
        const ix = borderIndex(sx, w, border);
        const iy = borderIndex(sy, h, border);
        for (let c = 0; c < cn; c++) out[d + c] = ix === OUTSIDE || iy === OUTSIDE ? cval : (src[(iy * w + ix) * cn + c] as number);
        continue;
      }
      const X = (x0 + (adelta[x] as number)) >> (AB_BITS - INTER_BITS);
      const Y = (y0 + (bdelta[x] as number)) >> (AB_BITS - INTER_BITS);
      const sx = saturateShort(X >> INTER_BITS);
      const sy = saturateShort(Y >> INTER_BITS);
      const t = ((Y & (INTER_TAB_SIZE - 1)) * INTER_TAB_SIZE + (X & (INTER_TAB_SIZE - 1))) * 4;
      const w00 = BILINEAR_TAB[t] as number;
      const w01 = BILINEAR_TAB[t + 1] as number;
      const w10 = BILINEAR_TAB[t + 2] as number;
      const w11 = BILINEAR_TAB[t + 3] as number;
      if (sx >= 0 && sx < w1 && sy >= 0 && sy < h1) {
        const s0 = (sy * w + sx) * cn;
        const s1 = s0 + w * cn;
        for (let c = 0; c < cn; c++) {
          const v =
            (src[s0 + c] as number) * w00 + (src[s0 + cn + c] as number) * w01 + (src[s1 + c] as number) * w10 + (src[s1 + cn + c] as number) * w11;
          out[d + c] = clampU8((v + (INTER_REMAP_COEF_SCALE >> 1)) >> INTER_REMAP_COEF_BITS);
        }
        continue;
      }
      // remapBilinear's border branch: a constant border short-circuits when the whole
      // 2x2 neighbourhood is outside; otherwise each tap is mapped on its own.
      if (border === 'constant' && (sx >= w || sx + 1 < 0 || sy >= h || sy + 1 < 0)) {
        for (let c = 0; c < cn; c++) out[d + c] = cval;
        continue;
      }
      const ix0 = borderIndex(sx, w, border);
      const ix1 = borderIndex(sx + 1, w, border);
      const iy0 = borderIndex(sy, h, border);
      const iy1 = borderIndex(sy + 1, h, border);
      for (let c = 0; c < cn; c++) {
        const tap = (ix: number, iy: number): number => (ix === OUTSIDE || iy === OUTSIDE ? cval : (src[(iy * w + ix) * cn + c] as number));
        const v = tap(ix0, iy0) * w00 + tap(ix1, iy0) * w01 + tap(ix0, iy1) * w10 + tap(ix1, iy1) * w11;
        out[d + c] = clampU8((v + (INTER_REMAP_COEF_SCALE >> 1)) >> INTER_REMAP_COEF_BITS);
      }
    }
  }
  return { width: w, height: h, channels: cn, data: out };
}

/** cv2.getRotationMatrix2D(center, angle, scale): positive angles turn counter-clockwise. */
export function rotationMatrix(cx: number, cy: number, angleDeg: number, scale: number): AffineMatrix {
  const angle = angleDeg * (Math.PI / 180);
  const alpha = Math.cos(angle) * scale;
  const beta = Math.sin(angle) * scale;
  return [alpha, beta, (1 - alpha) * cx - beta * cy, -beta, alpha, beta * cx + (1 - alpha) * cy];
}

/**
 * The image centre in pixel-centre coordinates, ((w-1)/2, (h-1)/2). With it a 180°
 * rotation is exactly a double flip and a scale keeps the picture centred; (w/2, h/2),
 * which many tutorials pass to getRotationMatrix2D, shifts the result by half a pixel.
 */
export function imageCentre(w: number, h: number): [number, number] {
  return [(w - 1) / 2, (h - 1) / 2];
}

export interface AffineParams extends WarpOptions {
  angleDeg: number;
  scale: number;
  /** Translation in pixels (after rotation, scale and shear about the centre). */
  dx: number;
  dy: number;
  /** Horizontal shear: x moves by tan(shearXDeg)·(y - cy). */
  shearXDeg: number;
  /** Vertical shear: y moves by tan(shearYDeg)·(x - cx). */
  shearYDeg: number;
}

/**
 * The forward matrix of `affine`: about the centre c, shear then scale-and-rotate, then
 * shift: x' = L (x - c) + c + d with L = R(angle)·scale·Shear. The golden script builds
 * it with the same operations in the same order.
 */
export function affineMatrix(p: Pick<AffineParams, 'angleDeg' | 'scale' | 'dx' | 'dy' | 'shearXDeg' | 'shearYDeg'>, w: number, h: number): AffineMatrix {
  const [cx, cy] = imageCentre(w, h);
  const angle = p.angleDeg * (Math.PI / 180);
  const ca = Math.cos(angle) * p.scale;
  const sa = Math.sin(angle) * p.scale;
  const tx = Math.tan(p.shearXDeg * (Math.PI / 180));
  const ty = Math.tan(p.shearYDeg * (Math.PI / 180));
  // [[ca, sa], [-sa, ca]] · [[1, tx], [ty, 1]]
  const a = ca + sa * ty;
  const b = ca * tx + sa;
  const d = -sa + ca * ty;
  const e = -sa * tx + ca;
  return [a, b, cx + p.dx - (a * cx + b * cy), d, e, cy + p.dy - (d * cx + e * cy)];
}

// ---------------------------------------------------------------------------------------
// resize

export interface ResizeParams {
  width: number;
  height: number;
  interpolation: ResizeInterpolation;
}

const INTER_RESIZE_COEF_BITS = 11;
const INTER_RESIZE_COEF_SCALE = 1 << INTER_RESIZE_COEF_BITS;
/**
 * The vertical pass of resize's linear path on x86 (VResizeLinearVec_32s8u): the 11-bit
 * row sums are cut to 16 bits (>> 4), multiplied by the 11-bit weights keeping the high
 * half (v_mul_hi: >> 16), summed and rounded with (+2) >> 2. This loses up to one grey
 * level against the exact (Σ + 2^21) >> 22, and cv2 4.6 uses it on every column (the goldens
 * include rows narrower than one SIMD vector), so we do too.
 */
const VRESIZE_PRE_SHIFT = 4;
const VRESIZE_MULHI_SHIFT = 16;
const VRESIZE_ROUND_SHIFT = 2;

/** cv2.resize(src, (width, height), interpolation=INTER_NEAREST | INTER_LINEAR | INTER_AREA). */
export function resizeU8(img: ImageU8, p: ResizeParams): ImageU8 {
  checkImageU8(img);
  if (!(Number.isInteger(p.width) && Number.isInteger(p.height) && p.width >= 1 && p.height >= 1)) {
    throw new InvalidInputError(`Resize needs whole-number sides of at least 1, got ${p.width}x${p.height}.`);
  }
  if (p.width === img.width && p.height === img.height) {
    return { width: img.width, height: img.height, channels: img.channels, data: img.data.slice() };
  }
  const invScaleX = p.width / img.width;
  const invScaleY = p.height / img.height;
  const scaleX = 1 / invScaleX;
  const scaleY = 1 / invScaleY;
  if (p.interpolation === 'nearest') return resizeNearest(img, p.width, p.height, invScaleX, invScaleY);
  const iscaleX = roundHalfEven(scaleX);
  const iscaleY = roundHalfEven(scaleY);
  const isAreaFast = Math.abs(scaleX - iscaleX) < Number.EPSILON && Math.abs(scaleY - iscaleY) < Number.EPSILON;
  // OpenCV: "in case of scale_x && scale_y is equal to 2, INTER_AREA (fast) also is equal
  // to INTER_LINEAR", and it takes that path.
  const interpolation = p.interpolation === 'bilinear' && isAreaFast && iscaleX === 2 && iscaleY === 2 ? 'area' : p.interpolation;
  if (interpolation === 'area' && scaleX >= 1 && scaleY >= 1) {
    return isAreaFast ? resizeAreaFast(img, p.width, p.height, iscaleX, iscaleY) : resizeArea(img, p.width, p.height, scaleX, scaleY);
  }
  return resizeLinear(img, p.width, p.height, scaleX, scaleY, invScaleX, invScaleY, interpolation === 'area');
}

function resizeNearest(img: ImageU8, dw: number, dh: number, invScaleX: number, invScaleY: number): ImageU8 {
  const { width: sw, height: sh, channels: cn, data: src } = img;
  const ifx = 1 / invScaleX;
  const ify = 1 / invScaleY;
  const out = new Uint8Array(dw * dh * cn);
  const xofs = new Int32Array(dw);
  for (let x = 0; x < dw; x++) xofs[x] = Math.min(Math.floor(x * ifx), sw - 1);
  for (let y = 0; y < dh; y++) {
    const sy = Math.min(Math.floor(y * ify), sh - 1);
    for (let x = 0; x < dw; x++) {
      const s = (sy * sw + (xofs[x] as number)) * cn;
      const d = (y * dw + x) * cn;
      for (let c = 0; c < cn; c++) out[d + c] = src[s + c] as number;
    }
  }
  return { width: dw, height: dh, channels: cn, data: out };
}

/** One axis of the linear pass: source index pair and 11-bit weights per output index. */
export interface LinearAxis {
  s0: Int32Array;
  s1: Int32Array;
  a0: Int32Array;
  a1: Int32Array;
}

/**
 * Coefficients of resize's linear pass (also INTER_AREA when enlarging, OpenCV's
 * "area_mode"). Float32 like OpenCV: fx is a float, and each weight is rounded to 11 bits
 * on its own, so a pair may sum to 2047 or 2049 exactly as in cv2. `clampIndex` is the
 * x-axis rule (out-of-range taps collapse to the edge with weight 1); the y axis keeps
 * its weights and only clamps the row indices.
 */
export function linearAxis(srcSize: number, dstSize: number, scale: number, invScale: number, areaMode: boolean, clampIndex: boolean): LinearAxis {
  const axis: LinearAxis = { s0: new Int32Array(dstSize), s1: new Int32Array(dstSize), a0: new Int32Array(dstSize), a1: new Int32Array(dstSize) };
  for (let i = 0; i < dstSize; i++) {
    let s: number;
    let f: number;
    if (!areaMode) {
      f = Math.fround((i + 0.5) * scale - 0.5);
      s = Math.floor(f);
      f = Math.fround(f - s);
    } else {
      s = Math.floor(i * scale);
      f = Math.fround(i + 1 - (s + 1) * invScale);
      f = f <= 0 ? 0 : Math.fround(f - Math.floor(f));
    }
    if (clampIndex) {
      if (s < 0) {
        f = 0;
        s = 0;
      }
      if (s >= srcSize - 1) {
        f = 0;
        s = srcSize - 1;
      }
    }
    axis.s0[i] = Math.min(Math.max(s, 0), srcSize - 1);
    axis.s1[i] = Math.min(Math.max(s + 1, 0), srcSize - 1);
    axis.a0[i] = roundHalfEven(Math.fround(Math.fround(1 - f) * INTER_RESIZE_COEF_SCALE));
    axis.a1[i] = roundHalfEven(Math.fround(f * INTER_RESIZE_COEF_SCALE));
  }
  return axis;
}

function resizeLinear(img: ImageU8, dw: number, dh: number, scaleX: number, scaleY: number, invScaleX: number, invScaleY: number, areaMode: boolean): ImageU8 {
  const { width: sw, height: sh, channels: cn, data: src } = img;
  const ax = linearAxis(sw, dw, scaleX, invScaleX, areaMode, true);
  const ay = linearAxis(sh, dh, scaleY, invScaleY, areaMode, false);
  const rowLen = dw * cn;
  const out = new Uint8Array(rowLen * dh);
  const hrow = (sy: number): Int32Array => {
    const row = new Int32Array(rowLen);
    const base = sy * sw * cn;
    for (let x = 0; x < dw; x++) {
      const p0 = base + (ax.s0[x] as number) * cn;
      const p1 = base + (ax.s1[x] as number) * cn;
      const a0 = ax.a0[x] as number;
      const a1 = ax.a1[x] as number;
      for (let c = 0; c < cn; c++) row[x * cn + c] = (src[p0 + c] as number) * a0 + (src[p1 + c] as number) * a1;
    }
    return row;
  };
  const cache = new Map<number, Int32Array>();
  for (let y = 0; y < dh; y++) {
    const r0 = ay.s0[y] as number;
    const r1 = ay.s1[y] as number;
    const h0 = cache.get(r0) ?? hrow(r0);
    const h1 = cache.get(r1) ?? hrow(r1);
    cache.clear();
    cache.set(r0, h0);
    cache.set(r1, h1);
    const b0 = ay.a0[y] as number;
    const b1 = ay.a1[y] as number;
    const o = y * rowLen;
    for (let x = 0; x < rowLen; x++) {
      const v0 = h0[x] as number;
      const v1 = h1[x] as number;
      const v = (((v0 >> VRESIZE_PRE_SHIFT) * b0) >> VRESIZE_MULHI_SHIFT) + (((v1 >> VRESIZE_PRE_SHIFT) * b1) >> VRESIZE_MULHI_SHIFT);
      out[o + x] = clampU8((v + (1 << (VRESIZE_ROUND_SHIFT - 1))) >> VRESIZE_ROUND_SHIFT);
    }
  }
  return { width: dw, height: dh, channels: cn, data: out };
}

/** resizeAreaFast_: whole-number shrink factors, mean of each block. */
function resizeAreaFast(img: ImageU8, dw: number, dh: number, kx: number, ky: number): ImageU8 {
  const { width: sw, channels: cn, data: src } = img;
  const out = new Uint8Array(dw * dh * cn);
  // OpenCV's 2x2 specialisation rounds half up with integer maths; the general case
  // multiplies by the float 1/area and rounds half to even.
  const twoByTwo = kx === 2 && ky === 2;
  const invArea = Math.fround(1 / (kx * ky));
  for (let y = 0; y < dh; y++) {
    for (let x = 0; x < dw; x++) {
      for (let c = 0; c < cn; c++) {
        let sum = 0;
        for (let j = 0; j < ky; j++) {
          for (let i = 0; i < kx; i++) sum += src[((y * ky + j) * sw + x * kx + i) * cn + c] as number;
        }
        out[(y * dw + x) * cn + c] = twoByTwo ? (sum + 2) >> 2 : clampU8(roundHalfEven(Math.fround(sum * invArea)));
      }
    }
  }
  return { width: dw, height: dh, channels: cn, data: out };
}

interface AreaTap {
  di: number;
  si: number;
  alpha: number;
}

/** computeResizeAreaTab: which source pixels each output pixel covers, and by how much (float32). */
function areaTab(srcSize: number, dstSize: number, scale: number): AreaTap[] {
  const tab: AreaTap[] = [];
  for (let dx = 0; dx < dstSize; dx++) {
    const fsx1 = dx * scale;
    const fsx2 = fsx1 + scale;
    const cellWidth = Math.min(scale, srcSize - fsx1);
    let sx1 = Math.ceil(fsx1);
    let sx2 = Math.floor(fsx2);
    sx2 = Math.min(sx2, srcSize - 1);
    sx1 = Math.min(sx1, sx2);
    if (sx1 - fsx1 > 1e-3) tab.push({ di: dx, si: sx1 - 1, alpha: Math.fround((sx1 - fsx1) / cellWidth) });
    for (let sx = sx1; sx < sx2; sx++) tab.push({ di: dx, si: sx, alpha: Math.fround(1 / cellWidth) });
    if (fsx2 - sx2 > 1e-3) tab.push({ di: dx, si: sx2, alpha: Math.fround(Math.min(Math.min(fsx2 - sx2, 1), cellWidth) / cellWidth) });
  }
  return tab;
}

/** ResizeArea_Invoker: float32 sums of covered fractions, rows then columns, like OpenCV. */
function resizeArea(img: ImageU8, dw: number, dh: number, scaleX: number, scaleY: number): ImageU8 {
  const { width: sw, height: sh, channels: cn, data: src } = img;
  const xtab = areaTab(sw, dw, scaleX);
  const ytab = areaTab(sh, dh, scaleY);
  const rowLen = dw * cn;
  const out = new Uint8Array(rowLen * dh);
  const buf = new Float32Array(rowLen);
  const sum = new Float32Array(rowLen);
  let prevDy = ytab[0]?.di ?? 0;
  const flush = (dy: number): void => {
    for (let i = 0; i < rowLen; i++) out[dy * rowLen + i] = clampU8(roundHalfEven(sum[i] as number));
  };
  for (const yt of ytab) {
    const beta = yt.alpha;
    buf.fill(0);
    const rowBase = yt.si * sw * cn;
    for (const xt of xtab) {
      for (let c = 0; c < cn; c++) {
        const di = xt.di * cn + c;
        buf[di] = (buf[di] as number) + Math.fround((src[rowBase + xt.si * cn + c] as number) * xt.alpha);
      }
    }
    if (yt.di !== prevDy) {
      flush(prevDy);
      for (let i = 0; i < rowLen; i++) sum[i] = beta * (buf[i] as number);
      prevDy = yt.di;
    } else {
      for (let i = 0; i < rowLen; i++) sum[i] = (sum[i] as number) + Math.fround(beta * (buf[i] as number));
    }
  }
  flush(prevDy);
  return { width: dw, height: dh, channels: cn, data: out };
}

// ---------------------------------------------------------------------------------------
// Transform definitions

type ImageShape = Readonly<Pick<ImageU8, 'width' | 'height' | 'channels'>>;


/** The fixed warp options every affine transform reads: border, borderValue, interpolation. */
function readWarpOptions(spec: Spec): WarpOptions {
  return {
    border: readBorderMode(spec, 'border', 'constant'),
    borderValue: readInt(spec, 'borderValue', 0, 255, 0),
    interpolation: readChoice(spec, 'interpolation', WARP_INTERPOLATIONS, 'bilinear'),
  };
}

/** Golden tolerance of the warps: exact in our runs; ≤ 1 allows libm's cos/sin/tan last-ulp differences. */
const WARP_TOLERANCE = 1;

export interface RotateParams extends WarpOptions {
  angleDeg: number;
}
export interface TranslateParams extends WarpOptions {
  dx: number;
  dy: number;
}
export interface ShearParams extends WarpOptions {
  shearXDeg: number;
  shearYDeg: number;
}
export interface ScaleParams extends WarpOptions {
  scale: number;
}

export const flipTransform = defineTransform<FlipParams>({
  name: 'flip',
  kind: 'geometric',
  description: 'Mirror the image horizontally, vertically or both (cv2.flip).',
  sample: (_rng, spec) => ({ mode: readChoice(spec, 'mode', FLIP_MODES, 'horizontal') }),
  cpu: (img, p) => flipU8(img, p.mode),
  goldenTolerance: 0,
});

export const rotateTransform = defineTransform<RotateParams>({
  name: 'rotate',
  kind: 'geometric',
  description: 'Rotate about the centre by an angle in degrees, counter-clockwise (getRotationMatrix2D + warpAffine).',
  sample: (rng, spec) => {
    const angle = readRange(spec, 'angleRange', { min: -MAX_ANGLE_DEG, max: MAX_ANGLE_DEG });
    return { ...readWarpOptions(spec), angleDeg: sampleUniform(rng, angle) };
  },
  cpu: (img, p) => warpAffineU8(img, rotationMatrix(...imageCentre(img.width, img.height), p.angleDeg, 1), p),
  goldenTolerance: WARP_TOLERANCE,
});

export const translateTransform = defineTransform<TranslateParams>({
  name: 'translate',
  kind: 'geometric',
  description: 'Shift by a fraction of the width and height (warpAffine; sub-pixel shifts interpolate).',
  sample: (rng, spec, image) => {
    const fx = readRange(spec, 'shiftXRange', { min: -MAX_SHIFT_FRACTION, max: MAX_SHIFT_FRACTION, fallback: 0 });
    const fy = readRange(spec, 'shiftYRange', { min: -MAX_SHIFT_FRACTION, max: MAX_SHIFT_FRACTION, fallback: 0 });
    const dx = sampleUniform(rng, fx) * image.width;
    const dy = sampleUniform(rng, fy) * image.height;
    return { ...readWarpOptions(spec), dx, dy };
  },
  cpu: (img, p) => warpAffineU8(img, [1, 0, p.dx, 0, 1, p.dy], p),
  goldenTolerance: WARP_TOLERANCE,
});

export const shearTransform = defineTransform<ShearParams>({
  name: 'shear',
  kind: 'geometric',
  description: 'Shear about the centre by angles in degrees along x and y (warpAffine).',
  sample: (rng, spec) => {
    const sx = readRange(spec, 'shearXRange', { min: -MAX_SHEAR_DEG, max: MAX_SHEAR_DEG, fallback: 0 });
    const sy = readRange(spec, 'shearYRange', { min: -MAX_SHEAR_DEG, max: MAX_SHEAR_DEG, fallback: 0 });
    return { ...readWarpOptions(spec), shearXDeg: sampleUniform(rng, sx), shearYDeg: sampleUniform(rng, sy) };
  },
  cpu: (img, p) => warpAffineU8(img, affineMatrix({ angleDeg: 0, scale: 1, dx: 0, dy: 0, shearXDeg: p.shearXDeg, shearYDeg: p.shearYDeg }, img.width, img.height), p),
  goldenTolerance: WARP_TOLERANCE,
});

export const scaleTransform = defineTransform<ScaleParams>({
  name: 'scale',
  kind: 'geometric',
  description: 'Zoom about the centre, keeping the image size (getRotationMatrix2D with angle 0 + warpAffine).',
  sample: (rng, spec) => {
    const s = readRange(spec, 'scaleRange', { min: MIN_SCALE, max: MAX_SCALE });
    return { ...readWarpOptions(spec), scale: sampleUniform(rng, s) };
  },
  cpu: (img, p) => warpAffineU8(img, rotationMatrix(...imageCentre(img.width, img.height), 0, p.scale), p),
  goldenTolerance: WARP_TOLERANCE,
});

export const affineTransform = defineTransform<AffineParams>({
  name: 'affine',
  kind: 'geometric',
  description: 'Rotate, scale, shear and shift in one warp (one resampling instead of several).',
  sample: (rng, spec, image) => {
    const angle = readRange(spec, 'angleRange', { min: -MAX_ANGLE_DEG, max: MAX_ANGLE_DEG, fallback: 0 });
    const scale = readRange(spec, 'scaleRange', { min: MIN_SCALE, max: MAX_SCALE, fallback: 1 });
    const fx = readRange(spec, 'shiftXRange', { min: -MAX_SHIFT_FRACTION, max: MAX_SHIFT_FRACTION, fallback: 0 });
    const fy = readRange(spec, 'shiftYRange', { min: -MAX_SHIFT_FRACTION, max: MAX_SHIFT_FRACTION, fallback: 0 });
    const shx = readRange(spec, 'shearXRange', { min: -MAX_SHEAR_DEG, max: MAX_SHEAR_DEG, fallback: 0 });
    const shy = readRange(spec, 'shearYRange', { min: -MAX_SHEAR_DEG, max: MAX_SHEAR_DEG, fallback: 0 });
    return {
      ...readWarpOptions(spec),
      angleDeg: sampleUniform(rng, angle),
      scale: sampleUniform(rng, scale),
      dx: sampleUniform(rng, fx) * image.width,
      dy: sampleUniform(rng, fy) * image.height,
      shearXDeg: sampleUniform(rng, shx),
      shearYDeg: sampleUniform(rng, shy),
    };
  },
  cpu: (img, p) => warpAffineU8(img, affineMatrix(p, img.width, img.height), p),
  goldenTolerance: WARP_TOLERANCE,
});

export const resizeTransform = defineTransform<ResizeParams>({
  name: 'resize',
  kind: 'geometric',
  description: 'Resize to a fixed size, or by a factor, with nearest, bilinear or area interpolation (cv2.resize).',
  sample: (rng, spec, image: ImageShape) => {
    const interpolation = readChoice(spec, 'interpolation', RESIZE_INTERPOLATIONS, 'bilinear');
    if (spec.scaleRange !== undefined) {
      if (spec.width !== undefined || spec.height !== undefined) {
        throw new InvalidInputError('"scaleRange" and "width"/"height" both given to resize; keep one of them.');
      }
      const s = sampleUniform(rng, readRange(spec, 'scaleRange', { min: MIN_SCALE, max: MAX_SCALE }));
      const width = Math.max(1, Math.round(image.width * s));
      const height = Math.max(1, Math.round(image.height * s));
      if (width > MAX_RESIZE_SIDE_PX || height > MAX_RESIZE_SIDE_PX) {
        throw new InvalidInputError(`"scaleRange" would make a ${width}x${height} image; keep both sides at most ${MAX_RESIZE_SIDE_PX}.`);
      }
      return { width, height, interpolation };
    }
    return {
      width: readInt(spec, 'width', 1, MAX_RESIZE_SIDE_PX),
      height: readInt(spec, 'height', 1, MAX_RESIZE_SIDE_PX),
      interpolation,
    };
  },
  cpu: (img, p) => resizeU8(img, p),
  // Exact against cv2 on x86 for all three (nearest is exact everywhere); ≤ 1 because the
  // linear and area paths' rounding is OpenCV's SIMD recipe, which other builds (ARM) and
  // the GPU kernel need not share.
  goldenTolerance: 1,
});

export const cropTransform = defineTransform<CropParams>({
  name: 'crop',
  kind: 'geometric',
  description: 'Cut a fixed-size window at a random or centred position.',
  sample: (rng, spec, image: ImageShape) => {
    const width = readInt(spec, 'width', 1, image.width);
    const height = readInt(spec, 'height', 1, image.height);
    const position = readChoice(spec, 'position', CROP_POSITIONS, 'random');
    if (position === 'center') return { x: Math.floor((image.width - width) / 2), y: Math.floor((image.height - height) / 2), width, height };
    return { x: rng.int(image.width - width + 1), y: rng.int(image.height - height + 1), width, height };
  },
  cpu: (img, p) => cropU8(img, p),
  goldenTolerance: 0,
});

/**
 * The geometric transforms, one entry per registry name. A tuple rather than an array of
 * a union, so each keeps its own parameter type.
 */
export const GEOMETRY_TRANSFORMS = [
  flipTransform,
  rotateTransform,
  translateTransform,
  shearTransform,
  scaleTransform,
  affineTransform,
  resizeTransform,
  cropTransform,
] as const;
