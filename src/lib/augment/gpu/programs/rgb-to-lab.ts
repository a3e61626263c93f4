/**
 * RGB → OpenCV 8-bit Lab (cv2.cvtColor COLOR_RGB2Lab): the integer path of RGB2Lab_b
 * with OpenCV's gamma and cube-root tables, built on the CPU (colour-tables.ts) and sent
 * as parameter words. Exact.
 */
import type { GpuProgram, ImageShape } from '../runner';
import { rgbToLabParamWords } from './colour-tables';
import wgsl from './rgb-to-lab.wgsl?raw';

export const rgbToLabProgram: GpuProgram<void> = {
  cacheKey: 'rgb-to-lab',
  label: 'augment:rgb-to-lab',
  wgsl,
  outputShape: (input: ImageShape): ImageShape => input,
  paramWords: () => rgbToLabParamWords(),
};
