/**
 * Gamma, 255·(x/255)^gamma, through photometric.ts' own 256-entry table (pow in double
 * precision, half-even rounding) sent as 64 parameter words. Exact.
 */
import { gammaLut } from '../../photometric';
import type { GpuProgram, ImageShape } from '../runner';
import { packBytes } from './colour-tables';
import wgsl from './gamma.wgsl?raw';

export interface GammaProgramParams {
  /** Exponent > 0; below 1 brightens. */
  gamma: number;
}

export const gammaProgram: GpuProgram<GammaProgramParams> = {
  cacheKey: 'gamma-lut',
  label: 'augment:gamma',
  wgsl,
  outputShape: (input: ImageShape): ImageShape => input,
  paramWords: (_input, _output, params) => packBytes(gammaLut(params.gamma)),
};
