/** RGB → gray with OpenCV 4.6's integer weights (cv2.cvtColor COLOR_RGB2GRAY), exact: checked on all 2^24 colours. */
import type { GpuProgram, ImageShape } from '../runner';
import wgsl from './to-gray.wgsl?raw';

export const toGrayProgram: GpuProgram<void> = {
  cacheKey: 'to-gray',
  label: 'augment:to-gray',
  wgsl,
  outputShape: (input: ImageShape): ImageShape => ({ width: input.width, height: input.height, channels: 1 }),
  paramWords: () => new Uint32Array(0),
};
