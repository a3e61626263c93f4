/** RGB → OpenCV 8-bit HSV (cv2.cvtColor COLOR_RGB2HSV), integer only: exact on any GPU. */
import type { GpuProgram, ImageShape } from '../runner';
import hsvWgsl from './hsv.wgsl?raw';
import wgsl from './rgb-to-hsv.wgsl?raw';

export const rgbToHsvProgram: GpuProgram<void> = {
  cacheKey: 'rgb-to-hsv',
  label: 'augment:rgb-to-hsv',
  wgsl: `${hsvWgsl}\n${wgsl}`,
  outputShape: (input: ImageShape): ImageShape => input,
  paramWords: () => new Uint32Array(0),
};
