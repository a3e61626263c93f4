/**
 * Colour-space transforms with OpenCV's 8-bit conventions, bit-exact with OpenCV 4.6's
 * `cvtColor` for 8-bit RGB input (Hearth images are RGB, so these are the COLOR_RGB2* and
 * COLOR_*2RGB codes):
 *
 * - HSV: H in [0, 180) (degrees / 2), S and V in [0, 255].
 * - YCrCb: Y, then Cr and Cb offset by 128 (channel order Y, Cr, Cb as in OpenCV).
 * - Lab: L·255/100, a + 128, b + 128, D65 white, sRGB gamma; OpenCV's fixed-point tables.
 * - Gray: (9798·R + 19235·G + 3735·B + 2^14) >> 15 (0.299, 0.587, 0.114 in 15-bit fixed point).
 *
 * OpenCV computes 8-bit conversions in fixed point or float32, not in real arithmetic,
 * so a textbook formula differs from its output by one level in a few per cent of
 * pixels. The kernels below replay its integer constants, its tables (built here the way
 * OpenCV builds them) and its float32 rounding (`Math.fround`) so the CPU reference
 * produces the same bytes. The shared sampling helpers live in sample.ts.
 */
import { clampU8, defineTransform, requireChannels, roundHalfEven, type NoParams } from './sample';
import type { ImageU8, TransformDef } from './types';

function mapPixels3(input: ImageU8, kernel: (a: number, b: number, c: number, out: Uint8Array, o: number) => void): ImageU8 {
  const src = input.data;
  const data = new Uint8Array(src.length);
  for (let i = 0; i < src.length; i += 3) kernel(src[i] as number, src[i + 1] as number, src[i + 2] as number, data, i);
  return { width: input.width, height: input.height, channels: 3, data };
}

const noParams = (): NoParams => ({});

// ---- HSV --------------------------------------------------------------------------------

const HSV_SHIFT = 12;
const HSV_HALF = 1 << (HSV_SHIFT - 1);
/** OpenCV's hue range for 8-bit HSV: degrees halved so 360° fits in a byte. */
export const HUE_RANGE_U8 = 180;

/** sdiv_table / hdiv_table180 of OpenCV's RGB2HSV_b: 255·2^12/v and 180·2^12/(6·diff), rounded half to even. */
const HSV_SDIV = new Int32Array(256);
const HSV_HDIV = new Int32Array(256);
for (let i = 1; i < 256; i++) {
  HSV_SDIV[i] = roundHalfEven((255 << HSV_SHIFT) / i);
  HSV_HDIV[i] = roundHalfEven((HUE_RANGE_U8 << HSV_SHIFT) / (6 * i));
}

function rgbToHsvPixel(r: number, g: number, b: number, out: Uint8Array, o: number): void {
  const v = Math.max(r, g, b);
  const diff = v - Math.min(r, g, b);
  const s = (diff * (HSV_SDIV[v] as number) + HSV_HALF) >> HSV_SHIFT;
  // OpenCV's branch order: red is the max first, then green (so ties pick red, then green).
  const hNum = v === r ? g - b : v === g ? b - r + 2 * diff : r - g + 4 * diff;
  let h = (hNum * (HSV_HDIV[diff] as number) + HSV_HALF) >> HSV_SHIFT;
  if (h < 0) h += HUE_RANGE_U8;
  out[o] = h;
  out[o + 1] = s;
  out[o + 2] = v;
}

const F32_ONE = 1;
const F32_INV_255 = Math.fround(1 / 255);
const F32_HUE_SCALE = Math.fround(6 / HUE_RANGE_U8);
/** Which of v, v(1−s), v(1−s·f), v(1−s(1−f)) is R, G, B in each 60° sector (OpenCV's sector_data, reordered for RGB). */
const HSV_SECTOR_RGB: readonly (readonly [number, number, number])[] = [
  [0, 3, 1],
  [2, 0, 1],
  [1, 0, 3],
  [1, 2, 0],
  [3, 1, 0],
  [0, 1, 2],
];

/**
 * OpenCV 4.6's HSV2RGB_b as its AVX2 build runs it: float32 throughout; the compiler
 * fuses `1 − s·h` into one multiply-add (GCC contracts the SIMD intrinsics), and x·255 is
 * truncated (v_trunc), not rounded. Replaying the plain float32 steps instead differs by
 * one level on ~1 800 of the 2^24 inputs; rounding instead of truncating, on half of them.
 * OpenCV's scalar tail (the last width mod 32 pixels of each row) rounds instead of
 * truncating, so OpenCV disagrees with itself there by one level; this kernel follows
 * the SIMD body, which is what nearly every pixel goes through.
 */
/** Scratch for the four candidate values; reused so the per-pixel kernel allocates nothing. */
const hsvTab = new Float64Array(4);

function hsvToRgbPixel(hByte: number, sByte: number, vByte: number, out: Uint8Array, o: number): void {
  const fr = Math.fround;
  const s = fr(sByte * F32_INV_255);
  const v = fr(vByte * F32_INV_255);
  const hScaled = fr(hByte * F32_HUE_SCALE);
  const whole = Math.trunc(hScaled);
  const h = fr(hScaled - whole);
  // Bytes above 179 wrap around the hue circle (whole sectors past 6), as in OpenCV.
  const sector = whole % 6;
  // s·h and s·(1 − h) are exact in a double (24 + 24 bits): one rounding = the fused op.
  const tab = hsvTab;
  tab[0] = v;
  tab[1] = fr(v * fr(F32_ONE - s));
  tab[2] = fr(v * fr(F32_ONE - s * h));
  tab[3] = fr(v * fr(F32_ONE - s * fr(F32_ONE - h)));
  const idx = HSV_SECTOR_RGB[sector] as readonly [number, number, number];
  out[o] = Math.min(255, Math.trunc(fr((tab[idx[0]] as number) * 255)));
  out[o + 1] = Math.min(255, Math.trunc(fr((tab[idx[1]] as number) * 255)));
  out[o + 2] = Math.min(255, Math.trunc(fr((tab[idx[2]] as number) * 255)));
}

/** RGB → OpenCV 8-bit HSV (COLOR_RGB2HSV). */
export function rgbToHsv(input: ImageU8): ImageU8 {
  requireChannels('rgb-to-hsv', input, 3);
  return mapPixels3(input, rgbToHsvPixel);
}

/** OpenCV 8-bit HSV → RGB (COLOR_HSV2RGB); H bytes ≥ 180 wrap like OpenCV's fmod. */
export function hsvToRgb(input: ImageU8): ImageU8 {
  requireChannels('hsv-to-rgb', input, 3);
  return mapPixels3(input, hsvToRgbPixel);
}

// ---- YCrCb and gray ---------------------------------------------------------------------

const YUV_SHIFT = 14;
const YUV_HALF = 1 << (YUV_SHIFT - 1);
/** OpenCV's R2Y, G2Y, B2Y: 0.299, 0.587, 0.114 times 2^14. */
const R2Y = 4899;
const G2Y = 9617;
const B2Y = 1868;
/** 0.713 and 0.564 times 2^14: Cr = (R − Y)·0.713, Cb = (B − Y)·0.564. */
const YCR = 11682;
const YCB = 9241;
/** Inverse: 1.403, −0.714, −0.344, 1.773 times 2^14. */
const CR2R = 22987;
const CR2G = -11698;
const CB2G = -5636;
const CB2B = 29049;
const CHROMA_OFFSET = 128;

/**
 * cvtColor(RGB2GRAY) on 8-bit uses 15-bit weights (RY15, GY15, BY15 in OpenCV's
 * color.hpp), not the 14-bit ones of YCrCb's Y: the two disagree by one level on ~44 000
 * of the 2^24 colours, so gray and Y are computed separately, as OpenCV does.
 */
const GRAY_SHIFT = 15;
const R2Y15 = 9798;
const G2Y15 = 19235;
const B2Y15 = 3735;

function grayOf(r: number, g: number, b: number): number {
  return (r * R2Y15 + g * G2Y15 + b * B2Y15 + (1 << (GRAY_SHIFT - 1))) >> GRAY_SHIFT;
}

function lumaOf(r: number, g: number, b: number): number {
  return (r * R2Y + g * G2Y + b * B2Y + YUV_HALF) >> YUV_SHIFT;
}

function rgbToYcrcbPixel(r: number, g: number, b: number, out: Uint8Array, o: number): void {
  const y = lumaOf(r, g, b);
  const delta = CHROMA_OFFSET << YUV_SHIFT;
  out[o] = y;
  out[o + 1] = clampU8(((r - y) * YCR + delta + YUV_HALF) >> YUV_SHIFT);
  out[o + 2] = clampU8(((b - y) * YCB + delta + YUV_HALF) >> YUV_SHIFT);
}

function ycrcbToRgbPixel(y: number, cr: number, cb: number, out: Uint8Array, o: number): void {
  const dcr = cr - CHROMA_OFFSET;
  const dcb = cb - CHROMA_OFFSET;
  // `>>` is an arithmetic shift, as CV_DESCALE's is on int: negatives floor.
  out[o] = clampU8(y + ((dcr * CR2R + YUV_HALF) >> YUV_SHIFT));
  out[o + 1] = clampU8(y + ((dcb * CB2G + dcr * CR2G + YUV_HALF) >> YUV_SHIFT));
  out[o + 2] = clampU8(y + ((dcb * CB2B + YUV_HALF) >> YUV_SHIFT));
}

/** RGB → YCrCb (COLOR_RGB2YCrCb), channels Y, Cr, Cb. */
export function rgbToYcrcb(input: ImageU8): ImageU8 {
  requireChannels('rgb-to-ycrcb', input, 3);
  return mapPixels3(input, rgbToYcrcbPixel);
}

/** YCrCb → RGB (COLOR_YCrCb2RGB). */
export function ycrcbToRgb(input: ImageU8): ImageU8 {
  requireChannels('ycrcb-to-rgb', input, 3);
  return mapPixels3(input, ycrcbToRgbPixel);
}

/** RGB → gray (COLOR_RGB2GRAY), one channel; a 1-channel image is returned as a copy. */
export function toGray(input: ImageU8): ImageU8 {
  if (input.channels === 1) return { ...input, data: input.data.slice() };
  const src = input.data;
  const data = new Uint8Array(input.width * input.height);
  for (let p = 0, i = 0; p < data.length; p++, i += 3) data[p] = grayOf(src[i] as number, src[i + 1] as number, src[i + 2] as number);
  return { width: input.width, height: input.height, channels: 1, data };
}

// ---- Lab --------------------------------------------------------------------------------
// OpenCV's RGB2Lab_b / Lab2RGBinteger (color_lab.cpp). Its tables are built with
// soft-float arithmetic: float32 steps are replayed with Math.fround, double steps in
// plain JS numbers, so each table entry rounds where OpenCV's does.

const LAB_SHIFT = 12;
const GAMMA_SHIFT = 3;
const LAB_SHIFT2 = LAB_SHIFT + GAMMA_SHIFT;
export const LAB_CBRT_TAB_SIZE_B = (256 * 3) / 2 * (1 << GAMMA_SHIFT);
const INV_GAMMA_SHIFT = 12;
export const INV_GAMMA_TAB_SIZE = 1 << INV_GAMMA_SHIFT;
const LAB_BASE_SHIFT = 14;
const LAB_BASE = 1 << LAB_BASE_SHIFT;
const MIN_AB_VALUE = -8145;

/** sRGB → XYZ (D65) and back, as OpenCV stores them (its doubles are these decimals). */
const SRGB_TO_XYZ_D65 = [0.412453, 0.35758, 0.180423, 0.212671, 0.71516, 0.072169, 0.019334, 0.119193, 0.950227];
const XYZ_TO_SRGB_D65 = [3.240479, -1.53715, -0.498535, -0.969256, 1.875991, 0.041556, 0.055648, -0.204043, 1.057311];
const D65_WHITE = [0.950456, 1, 1.088754];

export interface LabTables {
  gamma: Uint16Array;
  cbrt: Uint16Array;
  invGamma: Uint16Array;
  labToYF: Int32Array;
  abToXZ: Int32Array;
  rgbToXyz: Int32Array;
  xyzToRgb: Int32Array;
}

let labTables: LabTables | null = null;

/** sRGB companding inverse (display → linear), double precision like OpenCV's softdouble. */
function srgbToLinear(x: number): number {
  return x <= 809 / 20000 ? x / (323 / 25) : Math.pow((x + 11 / 200) / (1 + 11 / 200), 12 / 5);
}

function linearToSrgb(x: number): number {
  return x <= 7827 / 2500000 ? x * (323 / 25) : Math.pow(x, 1 / (12 / 5)) * (1 + 11 / 200) - 11 / 200;
}

const f64Scratch = new Float64Array(1);
const f64Words = new Uint32Array(f64Scratch.buffer);
const f32Scratch = new Float32Array(1);
const f32Word = new Uint32Array(f32Scratch.buffer);
/** Little-endian hosts (every JS engine Hearth runs on) keep a double's high word second. */
const HI = 1;
const LO = 0;

function f64FromWords(hi: number, lo: number): number {
  f64Words[HI] = hi;
  f64Words[LO] = lo;
  return f64Scratch[0] as number;
}

/** Ken Turkowski's rational approximation of cbrt on [0.125, 1), OpenCV's raw constants. */
const CBRT_NUM = [f64FromWords(0x4046a09e, 0x6653ba70), f64FromWords(0x406808f4, 0x6c6116e0), f64FromWords(0x405dca97, 0x439cae14), f64FromWords(0x402add70, 0xd2827500), f64FromWords(0x3fc4f15f, 0x83f55d2d)] as const;
const CBRT_DEN = [f64FromWords(0x402d9e20, 0x660edb21), f64FromWords(0x4062ff15, 0xc0285815), f64FromWords(0x406510d0, 0x6a8112ce), f64FromWords(0x4040fecb, 0xc9e2c375), 1] as const;

/**
 * OpenCV's soft-float cbrt (f32_cbrt in softfloat.cpp), bit for bit. It is not correctly
 * rounded: the double result's mantissa is truncated to 23 bits, so Math.cbrt rounded to
 * float32 differs in the last bit for some inputs, and that moved one entry of the Lab
 * cube-root table (index 324) by one, which shifted L by one level for ~17 000 colours.
 * Defined for positive normal floats, the only inputs the Lab tables give it.
 */
function opencvCbrtF32(x: number): number {
  f32Scratch[0] = x;
  const bits = f32Word[0] as number;
  const exponent = ((bits >>> 23) & 0xff) - 127;
  let shx = exponent % 3;
  if (shx >= 0) shx -= 3;
  const ex = (exponent - shx) / 3 - 1;
  const fr = (1 + (bits & 0x7fffff) / 0x800000) * 2 ** shx;
  const [a1, a2, a3, a4, a5] = CBRT_NUM;
  const [a6, a7, a8, a9, a10] = CBRT_DEN;
  f64Scratch[0] = ((((a1 * fr + a2) * fr + a3) * fr + a4) * fr + a5) / ((((a6 * fr + a7) * fr + a8) * fr + a9) * fr + a10);
  const mantissa23 = (((f64Words[HI] as number) & 0xfffff) << 3) | ((f64Words[LO] as number) >>> 29);
  return (1 + mantissa23 / 0x800000) * 2 ** ex;
}

/** Built on first use: ~40 KB of tables that most pipelines never need. */
export function getLabTables(): LabTables {
  if (labTables) return labTables;
  const fr = Math.fround;
  const gamma = new Uint16Array(256);
  const gammaScale = fr(255 * (1 << GAMMA_SHIFT));
  for (let i = 0; i < 256; i++) {
    const x = fr(i / 255);
    gamma[i] = roundHalfEven(fr(gammaScale * fr(srgbToLinear(x))));
  }
  const lthresh = fr(216 / 24389);
  const lscale = fr(841 / 108);
  const lbias = fr(16 / 116);
  const cbrt = new Uint16Array(LAB_CBRT_TAB_SIZE_B);
  const cbScale = fr(1 / fr(255 * (1 << GAMMA_SHIFT)));
  const lshift2 = 1 << LAB_SHIFT2;
  for (let i = 0; i < LAB_CBRT_TAB_SIZE_B; i++) {
    const x = fr(cbScale * i);
    // mulAdd is a fused multiply-add: x·lscale is exact in a double, one rounding after.
    const f = x < lthresh ? fr(x * lscale + lbias) : opencvCbrtF32(x);
    cbrt[i] = roundHalfEven(fr(lshift2 * f));
  }
  const invGamma = new Uint16Array(INV_GAMMA_TAB_SIZE);
  for (let i = 0; i < INV_GAMMA_TAB_SIZE; i++) {
    const x = fr(i / INV_GAMMA_TAB_SIZE);
    invGamma[i] = roundHalfEven(fr(255 * fr(linearToSrgb(x))));
  }
  const labToYF = new Int32Array(512);
  for (let i = 0; i < 256; i++) {
    let y: number;
    let ify: number;
    if (i <= 20) {
      // Below L = 8 (8·255/100 = 20.4) Lab's linear segment: y = L/903.3.
      y = roundHalfEven(fr((i * LAB_BASE * 20 * 9) / (17 * 29 * 29 * 29)));
      ify = roundHalfEven(fr(LAB_BASE * fr(fr(16 / 116) + fr((i * 5) / (3 * 17 * 29)))));
    } else {
      const fy = fr(fr((i * 100 * LAB_BASE) / (255 * 116)) + fr((16 * LAB_BASE) / 116));
      ify = roundHalfEven(fy);
      y = roundHalfEven(fr(fr(fr(fy * fy) * fy) / (LAB_BASE * LAB_BASE)));
    }
    labToYF[i * 2] = y;
    labToYF[i * 2 + 1] = ify;
  }
  const abToXZ = new Int32Array((LAB_BASE * 9) / 4);
  const linearOffset = Math.trunc((Math.trunc((LAB_BASE * 16) / 116) * 108) / 841);
  for (let i = MIN_AB_VALUE; i < (LAB_BASE * 9) / 4 + MIN_AB_VALUE; i++) {
    // C integer division truncates toward zero; Math.trunc keeps that for negative i.
    abToXZ[i - MIN_AB_VALUE] = i <= 3390 ? Math.trunc((i * 108) / 841) - linearOffset : Math.trunc((Math.trunc((i * i) / LAB_BASE) * i) / LAB_BASE);
  }
  const rgbToXyz = new Int32Array(9);
  const xyzToRgb = new Int32Array(9);
  for (let row = 0; row < 3; row++) {
    const white = D65_WHITE[row] as number;
    for (let col = 0; col < 3; col++) {
      rgbToXyz[row * 3 + col] = roundHalfEven(((1 << LAB_SHIFT) * (SRGB_TO_XYZ_D65[row * 3 + col] as number)) / white);
      // Lab2RGBinteger folds the white point into the columns of the inverse matrix.
      xyzToRgb[row * 3 + col] = roundHalfEven((1 << LAB_SHIFT) * (XYZ_TO_SRGB_D65[row * 3 + col] as number) * (D65_WHITE[col] as number));
    }
  }
  labTables = { gamma, cbrt, invGamma, labToYF, abToXZ, rgbToXyz, xyzToRgb };
  return labTables;
}

/** L·296 − 16·255/100·2^15: OpenCV's L scale for 8-bit Lab ((116·255 + 50)/100, integer). */
export const LAB_L_SCALE = Math.trunc((116 * 255 + 50) / 100);
export const LAB_L_SHIFT = -Math.trunc((16 * 255 * (1 << LAB_SHIFT2) + 50) / 100);

/** RGB → OpenCV 8-bit Lab (COLOR_RGB2Lab): L·255/100, a + 128, b + 128. */
export function rgbToLab(input: ImageU8): ImageU8 {
  requireChannels('rgb-to-lab', input, 3);
  const t = getLabTables();
  const c = t.rgbToXyz;
  const half = 1 << (LAB_SHIFT - 1);
  const half2 = 1 << (LAB_SHIFT2 - 1);
  const abOffset = 128 << LAB_SHIFT2;
  return mapPixels3(input, (rByte, gByte, bByte, out, o) => {
    const R = t.gamma[rByte] as number;
    const G = t.gamma[gByte] as number;
    const B = t.gamma[bByte] as number;
    const fX = t.cbrt[(R * (c[0] as number) + G * (c[1] as number) + B * (c[2] as number) + half) >> LAB_SHIFT] as number;
    const fY = t.cbrt[(R * (c[3] as number) + G * (c[4] as number) + B * (c[5] as number) + half) >> LAB_SHIFT] as number;
    const fZ = t.cbrt[(R * (c[6] as number) + G * (c[7] as number) + B * (c[8] as number) + half) >> LAB_SHIFT] as number;
    out[o] = clampU8((LAB_L_SCALE * fY + LAB_L_SHIFT + half2) >> LAB_SHIFT2);
    out[o + 1] = clampU8((500 * (fX - fY) + abOffset + half2) >> LAB_SHIFT2);
    out[o + 2] = clampU8((200 * (fY - fZ) + abOffset + half2) >> LAB_SHIFT2);
  });
}

/** OpenCV 8-bit Lab → RGB (COLOR_Lab2RGB), OpenCV's bit-exact integer path. */
export function labToRgb(input: ImageU8): ImageU8 {
  requireChannels('lab-to-rgb', input, 3);
  const t = getLabTables();
  const c = t.xyzToRgb;
  const shift = LAB_SHIFT + (LAB_BASE_SHIFT - INV_GAMMA_SHIFT);
  const half = 1 << (shift - 1);
  const aOffset = Math.trunc((128 * LAB_BASE) / 500);
  const bOffset = Math.trunc((128 * LAB_BASE) / 200) - 1;
  const maxIndex = INV_GAMMA_TAB_SIZE - 1;
  return mapPixels3(input, (l, a, b, out, o) => {
    const y = t.labToYF[l * 2] as number;
    const ify = t.labToYF[l * 2 + 1] as number;
    // a·2^14/500 and b·2^14/200 by OpenCV's multiply-shift approximations.
    const adiv = ((5 * a * 53687 + (1 << 7)) >> 13) - aOffset;
    const bdiv = ((b * 41943 + (1 << 4)) >> 9) - bOffset;
    const x = t.abToXZ[ify + adiv - MIN_AB_VALUE] as number;
    const z = t.abToXZ[ify - bdiv - MIN_AB_VALUE] as number;
    const ro = ((c[0] as number) * x + (c[1] as number) * y + (c[2] as number) * z + half) >> shift;
    const go = ((c[3] as number) * x + (c[4] as number) * y + (c[5] as number) * z + half) >> shift;
    const bo = ((c[6] as number) * x + (c[7] as number) * y + (c[8] as number) * z + half) >> shift;
    out[o] = t.invGamma[Math.max(0, Math.min(maxIndex, ro))] as number;
    out[o + 1] = t.invGamma[Math.max(0, Math.min(maxIndex, go))] as number;
    out[o + 2] = t.invGamma[Math.max(0, Math.min(maxIndex, bo))] as number;
  });
}

// ---- registry ---------------------------------------------------------------------------

function conversion(name: string, description: string, kernel: (img: ImageU8) => ImageU8, goldenTolerance = 0): TransformDef<NoParams> {
  return defineTransform<NoParams>({
    name,
    kind: 'pointwise',
    description,
    sample: noParams,
    cpu: (img) => kernel(img),
    goldenTolerance,
  });
}

export const rgbToHsvTransform = conversion('rgb-to-hsv', 'RGB to HSV, OpenCV 8-bit (H in [0, 180)).', rgbToHsv);
/** Tolerance 1: OpenCV's own scalar row tail rounds where its SIMD body truncates (see hsvToRgbPixel). */
export const hsvToRgbTransform = conversion('hsv-to-rgb', 'OpenCV 8-bit HSV back to RGB.', hsvToRgb, 1);
export const rgbToYcrcbTransform = conversion('rgb-to-ycrcb', 'RGB to YCrCb (Y, Cr, Cb), OpenCV 8-bit.', rgbToYcrcb);
export const ycrcbToRgbTransform = conversion('ycrcb-to-rgb', 'YCrCb back to RGB.', ycrcbToRgb);
export const rgbToLabTransform = conversion('rgb-to-lab', 'RGB to Lab, OpenCV 8-bit (L·255/100, a+128, b+128; D65, sRGB).', rgbToLab);
export const labToRgbTransform = conversion('lab-to-rgb', 'OpenCV 8-bit Lab back to RGB.', labToRgb);
export const toGrayTransform = conversion('to-gray', 'Grayscale, 0.299 R + 0.587 G + 0.114 B (one channel).', toGray);

export const COLOUR_TRANSFORMS: readonly TransformDef<NoParams>[] = [
  rgbToHsvTransform,
  hsvToRgbTransform,
  rgbToYcrcbTransform,
  ycrcbToRgbTransform,
  rgbToLabTransform,
  labToRgbTransform,
  toGrayTransform,
];
