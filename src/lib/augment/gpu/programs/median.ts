/**
 * cv2.medianBlur(src, k), k = 1, 3, 5 or 7, exact: the median of each k×k window per
 * channel, the edge replicated (medianBlur has no border option).
 */
import type { MedianParams } from '../../filter';
import type { GpuProgram, ImageShape } from '../runner';
import { checkOddKsize } from './gpu-common';
import wgsl from './median.wgsl?raw';

/** median.wgsl holds the window in a private array of 7² values. */
const MAX_MEDIAN_KSIZE = 7;

export const medianProgram: GpuProgram<MedianParams> = {
  cacheKey: 'median',
  label: 'augment:median',
  wgsl,
  outputShape: (input: ImageShape): ImageShape => input,
  paramWords: (_input, _output, p) => {
    checkOddKsize(p.ksize, MAX_MEDIAN_KSIZE, 'Median blur');
    return new Uint32Array([p.ksize]);
  },
};
