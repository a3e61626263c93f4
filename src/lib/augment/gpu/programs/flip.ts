/** cv2.flip: horizontal, vertical or both, exact. */
import type { GpuProgram, ImageShape } from '../runner';
import wgsl from './flip.wgsl?raw';

export interface FlipParams {
  horizontal: boolean;
  vertical: boolean;
}

export const flipProgram: GpuProgram<FlipParams> = {
  cacheKey: 'flip',
  label: 'augment:flip',
  wgsl,
  outputShape: (input: ImageShape): ImageShape => input,
  paramWords: (_input, _output, params) => new Uint32Array([(params.horizontal ? 1 : 0) | (params.vertical ? 2 : 0)]),
};
