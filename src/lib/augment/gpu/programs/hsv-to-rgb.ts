/**
 * OpenCV 8-bit HSV → RGB (cv2.cvtColor COLOR_HSV2RGB) in float32 with OpenCV's fused
 * multiply-add and truncation. Exact where the GPU neither contracts nor reorders the
 * other float steps (SwiftShader: checked on all 2^24 inputs by the tests); elsewhere
 * within the transform's tolerance of one level.
 */
import type { GpuProgram, ImageShape } from '../runner';
import hsvWgsl from './hsv.wgsl?raw';
import wgsl from './hsv-to-rgb.wgsl?raw';

export const hsvToRgbProgram: GpuProgram<void> = {
  cacheKey: 'hsv-to-rgb',
  label: 'augment:hsv-to-rgb',
  wgsl: `${hsvWgsl}\n${wgsl}`,
  outputShape: (input: ImageShape): ImageShape => input,
  paramWords: () => new Uint32Array(0),
};
