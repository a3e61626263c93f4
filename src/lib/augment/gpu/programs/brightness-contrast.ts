/**
 * Brightness and contrast as OpenCV's `src.convertTo(dst, -1, alpha, beta)`:
 * saturate(round(alpha * x + beta)). OpenCV computes it in float32 with a fused
 * multiply-add and rounds half to even; a 256-entry table built here does the same in
 * exact arithmetic, which WGSL's f32 (fused or not, by driver) could not promise.
 */
import type { GpuProgram, ImageShape } from '../runner';
import wgsl from './brightness-contrast.wgsl?raw';
import { roundHalfEven } from '../../sample';

export interface BrightnessContrastParams {
  /** Contrast gain (1 = unchanged). */
  alpha: number;
  /** Brightness offset in grey levels (0 = unchanged). */
  beta: number;
}

const LEVELS = 256;

/** The value `x` (0..255) becomes; the reference the GPU table is made of. */
export function brightnessContrastValue(x: number, alpha: number, beta: number): number {
  // float32 alpha times an 8-bit x is exact in a double, so one fround after the add is
  // the single rounding of a float32 fused multiply-add.
  const value = Math.fround(Math.fround(alpha) * x + Math.fround(beta));
  return Math.max(0, Math.min(255, roundHalfEven(value)));
}

export function brightnessContrastTable(alpha: number, beta: number): Uint32Array {
  const table = new Uint32Array(LEVELS);
  for (let x = 0; x < LEVELS; x++) table[x] = brightnessContrastValue(x, alpha, beta);
  return table;
}

export const brightnessContrastProgram: GpuProgram<BrightnessContrastParams> = {
  cacheKey: 'brightness-contrast-lut',
  label: 'augment:brightness-contrast',
  wgsl,
  outputShape: (input: ImageShape): ImageShape => input,
  paramWords: (_input, _output, params) => brightnessContrastTable(params.alpha, params.beta),
};
