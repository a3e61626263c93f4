/**
 * Gaussian noise (photometric.ts' gaussianNoise): the noise field is drawn on the CPU from
 * `new Rng(seed)` in HWC order, exactly as the CPU kernel draws it, and each value's
 * rounding is decided there too; the GPU only adds and saturates. The field travels as
 * parameter words, one i16 per value (half the image's size).
 *
 * Same bytes as the CPU kernel except where src + noise, summed in double precision, lands
 * on a half by rounding (noise within ~2^-44 of k + ½, odds ~1e-13 per value): one level at
 * most, inside the transform's tolerance of 1.
 */
import { Rng } from '../../../data/rng';
import type { GpuProgram, ImageShape } from '../runner';
import wgsl from './gaussian-noise.wgsl?raw';

export interface GaussianNoiseProgramParams {
  /** Standard deviation in 8-bit levels. */
  sigma: number;
  /** 32-bit seed of the noise field. */
  seed: number;
}

/** Beyond ±256 levels every 8-bit value saturates, so larger offsets need not be sent. */
const MAX_OFFSET_LEVELS = 256;

/**
 * The code the WGSL reads for one noise value n: 2q + h with q = n rounded to the nearest
 * integer (either way when n ends in exactly .5, which the WGSL settles by the parity of
 * src + q, as half-even rounding of src + n does) and h = 1 for that exact-half case.
 */
export function noiseCode(noise: number): number {
  const floor = Math.floor(noise);
  const fraction = noise - floor;
  const isHalf = fraction === 0.5;
  const q = Math.max(-MAX_OFFSET_LEVELS, Math.min(MAX_OFFSET_LEVELS, fraction > 0.5 ? floor + 1 : floor));
  return 2 * q + (isHalf ? 1 : 0);
}

export function noiseParamWords(input: ImageShape, params: GaussianNoiseProgramParams): Uint32Array {
  const values = input.width * input.height * input.channels;
  const rng = new Rng(params.seed);
  const codes = new Int16Array(2 * Math.ceil(values / 2));
  for (let i = 0; i < values; i++) codes[i] = noiseCode(params.sigma * rng.normal());
  return new Uint32Array(codes.buffer);
}

export const gaussianNoiseProgram: GpuProgram<GaussianNoiseProgramParams> = {
  cacheKey: 'gaussian-noise-field',
  label: 'augment:gaussian-noise',
  wgsl,
  outputShape: (input: ImageShape): ImageShape => input,
  paramWords: (input, _output, params) => noiseParamWords(input, params),
};
