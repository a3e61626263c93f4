/** img[y:y+height, x:x+width] (geometry.ts' cropU8), exact. */
import type { CropParams } from '../../geometry';
import type { GpuProgram, ImageShape } from '../runner';
import { checkBox } from './gpu-common';
import wgsl from './crop.wgsl?raw';

export const cropProgram: GpuProgram<CropParams> = {
  cacheKey: 'crop',
  label: 'augment:crop',
  wgsl,
  outputShape: (input: ImageShape, p: CropParams): ImageShape => {
    checkBox('crop', p, input, 1);
    return { width: p.width, height: p.height, channels: input.channels };
  },
  paramWords: (_input, _output, p) => new Uint32Array([p.x, p.y]),
};
