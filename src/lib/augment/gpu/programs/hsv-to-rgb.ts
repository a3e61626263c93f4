/**
 * OpenCV 8-bit HSV → RGB (cv2.cvtColor COLOR_HSV2RGB) as colour.ts replays OpenCV's AVX2
 * body: float32 with one fused multiply-add and truncation. The products that round (and
 * the fused 1 − s·h) are done in integers in hsv.wgsl, because WGSL lets a driver fuse or
 * split float operations; the same bytes as colour.ts on all 2^24 inputs (SwiftShader).
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
