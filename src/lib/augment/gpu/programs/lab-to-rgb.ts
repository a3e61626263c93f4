/**
 * OpenCV 8-bit Lab → RGB (cv2.cvtColor COLOR_Lab2RGB): Lab2RGBinteger with OpenCV's
 * L and inverse-gamma tables built on the CPU (colour-tables.ts). Exact.
 */
import type { GpuProgram, ImageShape } from '../runner';
import { labToRgbParamWords } from './colour-tables';
import wgsl from './lab-to-rgb.wgsl?raw';

export const labToRgbProgram: GpuProgram<void> = {
  cacheKey: 'lab-to-rgb',
  label: 'augment:lab-to-rgb',
  wgsl,
  outputShape: (input: ImageShape): ImageShape => input,
  paramWords: () => labToRgbParamWords(),
};
