/** Cutout (mixing.ts' cutout): one value in every channel inside a box, exact. */
import { InvalidInputError } from '../../../jobs/errors';
import type { CutoutParams } from '../../mixing';
import type { GpuProgram, ImageShape } from '../runner';
import { checkBox } from './gpu-common';
import wgsl from './cutout.wgsl?raw';

export const cutoutProgram: GpuProgram<CutoutParams> = {
  cacheKey: 'cutout',
  label: 'augment:cutout',
  wgsl,
  outputShape: (input: ImageShape): ImageShape => input,
  paramWords: (input, _output, p) => {
    checkBox('cutout', p, input, 0);
    if (!(Number.isInteger(p.fill) && p.fill >= 0 && p.fill <= 255)) throw new InvalidInputError(`cutout: fill must be a whole number in [0, 255]; got ${p.fill}.`);
    return new Uint32Array([p.x, p.y, p.width, p.height, p.fill]);
  },
};
