/**
 * MixUp (mixing.ts' mixup, cv2.addWeighted(a, λ, b, 1 − λ, 0)), exact. OpenCV rounds a
 * float32 fused multiply-add, which WGSL cannot promise (fma() may be unfused), so the
 * CPU makes the whole 256×256 answer table for this λ in exact arithmetic, 64 KiB per
 * image, and WGSL looks up (a, b). The partner travels in the parameter words too.
 */
import { InvalidInputError } from '../../../jobs/errors';
import { mixup, type MixupParams } from '../../mixing';
import type { GpuProgram, ImageShape } from '../runner';
import { checkPartner, packBytes } from './gpu-common';
import wgsl from './mixup.wgsl?raw';

const LEVELS = 256;
/** The 256×256-byte table, packed four bytes to a word. */
const TABLE_WORDS = (LEVELS * LEVELS) / 4;

/** Entry a·256 + b is mixup's output for input value a and partner value b. */
export function mixupTable(lambda: number): Uint8Array {
  const a = new Uint8Array(LEVELS * LEVELS);
  const b = new Uint8Array(LEVELS * LEVELS);
  for (let i = 0; i < a.length; i++) {
    a[i] = i >> 8;
    b[i] = i & (LEVELS - 1);
  }
  // The CPU kernel itself on every (a, b) pair: the table cannot drift from it.
  return mixup({ width: LEVELS * LEVELS, height: 1, channels: 1, data: a }, { lambda, other: { width: LEVELS * LEVELS, height: 1, channels: 1, data: b } }).data;
}

export const mixupProgram: GpuProgram<MixupParams> = {
  cacheKey: 'mixup',
  label: 'augment:mixup',
  wgsl,
  outputShape: (input: ImageShape): ImageShape => input,
  paramWords: (input, _output, p) => {
    checkPartner('mixup', p.other, input);
    if (!(p.lambda >= 0 && p.lambda <= 1)) throw new InvalidInputError(`mixup: lambda must lie in [0, 1]; got ${p.lambda}.`);
    const partner = packBytes(p.other.data);
    const words = new Uint32Array(TABLE_WORDS + partner.length);
    words.set(packBytes(mixupTable(p.lambda)), 0);
    words.set(partner, TABLE_WORDS);
    return words;
  },
};
