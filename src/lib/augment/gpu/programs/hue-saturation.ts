/**
 * Hue / saturation jitter (photometric.ts' hueSaturation) in one pass: RGB → HSV exactly,
 * shift H modulo 180, S through a table built here as the CPU kernel computes it
 * (float32 product, half-even rounding, saturation), back to RGB as hsv-to-rgb does. Same bytes as the CPU
 * kernel (whose tolerance of 1 against OpenCV is OpenCV's own scalar row tail).
 */
import { clampU8, roundHalfEven } from '../../sample';
import type { GpuProgram, ImageShape } from '../runner';
import { packBytes } from './colour-tables';
import hsvWgsl from './hsv.wgsl?raw';
import wgsl from './hue-saturation.wgsl?raw';

export interface HueSaturationProgramParams {
  /** Whole OpenCV hue units (2° each), any sign; added modulo 180. */
  hueShift: number;
  /** Factor ≥ 0 on the saturation byte. */
  saturationScale: number;
}

const HUE_RANGE_U8 = 180;
const LEVELS = 256;

/** What each saturation byte becomes: saturate(round-half-even(float32(S · scale))). */
export function saturationTable(saturationScale: number): Uint8Array {
  const scale = Math.fround(saturationScale);
  const table = new Uint8Array(LEVELS);
  for (let s = 0; s < LEVELS; s++) table[s] = clampU8(roundHalfEven(Math.fround(s * scale)));
  return table;
}

export const hueSaturationProgram: GpuProgram<HueSaturationProgramParams> = {
  cacheKey: 'hue-saturation',
  label: 'augment:hue-saturation',
  wgsl: `${hsvWgsl}\n${wgsl}`,
  outputShape: (input: ImageShape): ImageShape => input,
  paramWords: (_input, _output, params) => {
    const words = new Uint32Array(1 + LEVELS / 4);
    // JS `%` keeps the sign of a negative shift: bring it into [0, 180) first.
    words[0] = ((Math.round(params.hueShift) % HUE_RANGE_U8) + HUE_RANGE_U8) % HUE_RANGE_U8;
    words.set(packBytes(saturationTable(params.saturationScale)), 1);
    return words;
  },
};
