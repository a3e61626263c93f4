/** RGB → YCrCb (cv2.cvtColor COLOR_RGB2YCrCb), OpenCV's 14-bit integer path: exact. */
import type { GpuProgram, ImageShape } from '../runner';
import wgsl from './rgb-to-ycrcb.wgsl?raw';

export const rgbToYcrcbProgram: GpuProgram<void> = {
  cacheKey: 'rgb-to-ycrcb',
  label: 'augment:rgb-to-ycrcb',
  wgsl,
  outputShape: (input: ImageShape): ImageShape => input,
  paramWords: () => new Uint32Array(0),
};
