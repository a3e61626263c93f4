/**
 * cv2.GaussianBlur(src, (k, k), sigma, borderType) on 8-bit images, exact against
 * filter.ts' gaussianBlurU8: the same 8-bit fixed-point taps (gaussianKernelFixed, made
 * on the CPU and passed as params) and the same integer accumulation, rows in 8.8 fixed
 * point saturating at 16 bits, then columns in 16.16 rounded half up.
 */
import { InvalidInputError } from '../../../jobs/errors';
import { gaussianKernelFixed, type GaussianParams } from '../../filter';
import type { GpuProgram, ImageShape } from '../runner';
import borderWgsl from './border-index.wgsl?raw';
import { borderCode, checkOddKsize } from './gpu-common';
import wgsl from './gaussian-blur.wgsl?raw';

const MAX_GAUSSIAN_KSIZE = 31;
/** Words before the taps: ksize, border code. */
const HEADER_WORDS = 2;

export const gaussianBlurProgram: GpuProgram<GaussianParams> = {
  cacheKey: 'gaussian-blur',
  label: 'augment:gaussian-blur',
  wgsl: `${borderWgsl}\n${wgsl}`,
  outputShape: (input: ImageShape): ImageShape => input,
  paramWords: (_input, _output, p) => {
    checkOddKsize(p.ksize, MAX_GAUSSIAN_KSIZE, 'Gaussian blur');
    if (!(Number.isFinite(p.sigma) && p.sigma >= 0)) throw new InvalidInputError(`Gaussian sigma must be 0 or more; got ${p.sigma}.`);
    // Every image of a batch must give the same number of words, whatever its ksize.
    const words = new Uint32Array(HEADER_WORDS + MAX_GAUSSIAN_KSIZE);
    words[0] = p.ksize;
    words[1] = borderCode(p.border, 'Gaussian blur');
    words.set(gaussianKernelFixed(p.ksize, p.sigma), HEADER_WORDS);
    return words;
  },
};
