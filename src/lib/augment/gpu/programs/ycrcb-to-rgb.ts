/** YCrCb → RGB (cv2.cvtColor COLOR_YCrCb2RGB), OpenCV's 14-bit integer path: exact. */
import type { GpuProgram, ImageShape } from '../runner';
import wgsl from './ycrcb-to-rgb.wgsl?raw';

export const ycrcbToRgbProgram: GpuProgram<void> = {
  cacheKey: 'ycrcb-to-rgb',
  label: 'augment:ycrcb-to-rgb',
  wgsl,
  outputShape: (input: ImageShape): ImageShape => input,
  paramWords: () => new Uint32Array(0),
};
