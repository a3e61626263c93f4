/**
 * Gray → three equal channels, exact: what a pipeline's one-channel output (to-gray, Otsu)
 * becomes in a three-channel project. Not a registered transform — nobody asks for it in
 * a pipeline — but the last step of bringing a result back to the project's input.
 */
import { InvalidInputError } from '../../../jobs/errors';
import type { GpuProgram, ImageShape } from '../runner';
import wgsl from './gray-to-rgb.wgsl?raw';

export const grayToRgbProgram: GpuProgram<void> = {
  cacheKey: 'gray-to-rgb',
  label: 'augment:gray-to-rgb',
  wgsl,
  outputShape: (input: ImageShape): ImageShape => {
    if (input.channels !== 1) throw new InvalidInputError(`augment:gray-to-rgb takes one-channel images; this batch has ${input.channels}.`);
    return { width: input.width, height: input.height, channels: 3 };
  },
  paramWords: () => new Uint32Array(0),
};
