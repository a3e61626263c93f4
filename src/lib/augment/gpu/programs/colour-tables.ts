/**
 * Tables and packing shared by the colour programs. WGSL has no f64 and no guarantee about
 * fusing float operations, so every step of OpenCV's colour code that rounds a double or
 * float32 is done here on the CPU, once, and travels to the GPU as integer table entries
 * in the per-image parameter words (the runner has one parameter buffer per dispatch, no
 * shared constant buffer, so each image carries its own copy: ~6.5 KiB for rgb-to-lab,
 * ~5 KiB for lab-to-rgb, against 27 KiB for a 96×96 RGB image).
 *
 * The Lab tables are colour.ts' own (OpenCV 4.6 color_lab.cpp, soft-float steps replayed
 * with Math.fround): one builder for the CPU kernel and the GPU programs.
 */
// OpenCV's 8-bit Lab tables live with the CPU kernel; the GPU programs upload the very same ones.
import { getLabTables, INV_GAMMA_TAB_SIZE, LAB_CBRT_TAB_SIZE_B, LAB_L_SCALE, LAB_L_SHIFT, type LabTables } from '../../colour';

export { getLabTables, type LabTables };

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
// OpenCV's RGB2Lab_b / Lab2RGBinteger (color_lab.cpp), as parameter words.

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
