/**
 * CutMix (mixing.ts' cutmix): the partner's pixels inside a box, the input's outside,
 * exact. The partner travels in the parameter words (packed like the input), so the
 * runner's one-input layout serves a two-image transform: partners are drawn and held on
 * the CPU (the pipeline supplies `otherImage`), and each image of a batch has its own.
 */
import type { CutmixParams } from '../../mixing';
import type { GpuProgram, ImageShape } from '../runner';
import { checkBox, checkPartner, packBytes } from './gpu-common';
import wgsl from './cutmix.wgsl?raw';

/** Box words before the packed partner. */
const HEADER_WORDS = 4;

export const cutmixProgram: GpuProgram<CutmixParams> = {
  cacheKey: 'cutmix',
  label: 'augment:cutmix',
  wgsl,
  outputShape: (input: ImageShape): ImageShape => input,
  paramWords: (input, _output, p) => {
    checkPartner('cutmix', p.other, input);
    checkBox('cutmix', p, input, 0);
    const partner = packBytes(p.other.data);
    const words = new Uint32Array(HEADER_WORDS + partner.length);
    words.set([p.x, p.y, p.width, p.height], 0);
    words.set(partner, HEADER_WORDS);
    return words;
  },
};
