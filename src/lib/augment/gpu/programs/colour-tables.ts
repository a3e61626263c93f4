/**
 * Tables and packing shared by the colour programs. WGSL has no f64 and no guarantee about
 * fusing float operations, so every step of OpenCV's colour code that rounds a double or
 * float32 is done here on the CPU, once, and travels to the GPU as integer table entries
 * in the per-image parameter words (the runner has one parameter buffer per dispatch, no
 * shared constant buffer, so each image carries its own copy: ~6.5 KiB for rgb-to-lab,
 * ~5 KiB for lab-to-rgb, against 27 KiB for a 96×96 RGB image).
 *
 * The Lab tables are built exactly as colour.ts builds them (OpenCV 4.6 color_lab.cpp,
 * soft-float steps replayed with Math.fround). colour.ts keeps its builder private, so it
 * is repeated here; augment-gpu-colour.test.ts checks the GPU programs against colour.ts'
 * kernels over every 8-bit colour, which would catch the two copies drifting apart.
 */
import { roundHalfEven } from '../../sample';

/** Four bytes to a u32, little end first, as prelude.wgsl packs images. */
export function packBytes(values: ArrayLike<number>): Uint32Array {
  const words = new Uint32Array(Math.ceil(values.length / 4));
  for (let i = 0; i < values.length; i++) words[i >> 2] = ((words[i >> 2] as number) | (((values[i] as number) & 0xff) << ((i & 3) * 8))) >>> 0;
  return words;
}

/** Two 16-bit values to a u32, low half first. */
export function packU16(values: ArrayLike<number>): Uint32Array {
  const words = new Uint32Array(Math.ceil(values.length / 2));
  for (let i = 0; i < values.length; i++) words[i >> 1] = ((words[i >> 1] as number) | (((values[i] as number) & 0xffff) << ((i & 1) * 16))) >>> 0;
  return words;
}

// ---- Lab --------------------------------------------------------------------------------
// OpenCV's RGB2Lab_b / Lab2RGBinteger (color_lab.cpp). Its tables are built with
// soft-float arithmetic: float32 steps are replayed with Math.fround, double steps in
// plain JS numbers, so each table entry rounds where OpenCV's does.

const LAB_SHIFT = 12;
const GAMMA_SHIFT = 3;
const LAB_SHIFT2 = LAB_SHIFT + GAMMA_SHIFT;
const LAB_CBRT_TAB_SIZE_B = (256 * 3) / 2 * (1 << GAMMA_SHIFT);
const INV_GAMMA_SHIFT = 12;
const INV_GAMMA_TAB_SIZE = 1 << INV_GAMMA_SHIFT;
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


/** OpenCV's L scale for 8-bit Lab, (116·255 + 50)/100 in integers, and its offset of 16·255/100 in 2^15ths. */
const LAB_L_SCALE = Math.trunc((116 * 255 + 50) / 100);
const LAB_L_SHIFT = -Math.trunc((16 * 255 * (1 << LAB_SHIFT2) + 50) / 100);

/**
 * rgb-to-lab's parameter words, the same for every image: [0..8] the RGB → XYZ matrix
 * (2^12ths, white folded in), [9] L scale, [10] L offset, then the sRGB gamma table
 * (256 × u16) and the cube-root table (3072 × u16), two entries to a word.
 */
export const RGB_TO_LAB_GAMMA_WORD = 11;
export const RGB_TO_LAB_CBRT_WORD = RGB_TO_LAB_GAMMA_WORD + 128;
let rgbToLabWords: Uint32Array | null = null;

export function rgbToLabParamWords(): Uint32Array {
  if (!rgbToLabWords) {
    const t = getLabTables();
    const words = new Uint32Array(RGB_TO_LAB_CBRT_WORD + LAB_CBRT_TAB_SIZE_B / 2);
    words.set(new Uint32Array(t.rgbToXyz.buffer.slice(0)), 0);
    words[9] = LAB_L_SCALE;
    words[10] = LAB_L_SHIFT >>> 0;
    words.set(packU16(t.gamma), RGB_TO_LAB_GAMMA_WORD);
    words.set(packU16(t.cbrt), RGB_TO_LAB_CBRT_WORD);
    rgbToLabWords = words;
  }
  // A copy: the cached words must not change under a caller that edits its parameters.
  return rgbToLabWords.slice();
}

/**
 * lab-to-rgb's parameter words: [0..8] the XYZ → RGB matrix (2^12ths), then per L byte a
 * word holding y (low 16 bits) and f(y) (high 16 bits), both in 2^14ths, then the inverse
 * sRGB gamma table (4096 bytes, four to a word). The a/b cube table is not sent: its
 * entries are integer arithmetic the WGSL repeats exactly.
 */
export const LAB_TO_RGB_YF_WORD = 9;
export const LAB_TO_RGB_INV_GAMMA_WORD = LAB_TO_RGB_YF_WORD + 256;
let labToRgbWords: Uint32Array | null = null;

export function labToRgbParamWords(): Uint32Array {
  if (!labToRgbWords) {
    const t = getLabTables();
    const words = new Uint32Array(LAB_TO_RGB_INV_GAMMA_WORD + INV_GAMMA_TAB_SIZE / 4);
    words.set(new Uint32Array(t.xyzToRgb.buffer.slice(0)), 0);
    for (let l = 0; l < 256; l++) words[LAB_TO_RGB_YF_WORD + l] = ((t.labToYF[l * 2] as number) | ((t.labToYF[l * 2 + 1] as number) << 16)) >>> 0;
    words.set(packBytes(t.invGamma), LAB_TO_RGB_INV_GAMMA_WORD);
    labToRgbWords = words;
  }
  return labToRgbWords.slice();
}
