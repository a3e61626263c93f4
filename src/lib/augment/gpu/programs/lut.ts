/**
 * A 256-entry lookup table applied to every value of every channel, exact: the program
 * that runs a fused chain of per-value pointwise steps (execute.ts) in one dispatch. Each
 * image of a batch carries its own table, packed four bytes to a word (64 words).
 */
import { InvalidInputError } from '../../../jobs/errors';
import type { GpuProgram, ImageShape } from '../runner';
import { packBytes } from './gpu-common';
import wgsl from './lut.wgsl?raw';

/** Values an 8-bit lookup table maps. */
export const LUT_LEVELS = 256;

export interface LutParams {
  /** Entry v is what input value v becomes; exactly LUT_LEVELS bytes. */
  table: Uint8Array;
}

export const lutProgram: GpuProgram<LutParams> = {
  cacheKey: 'lut-u8',
  label: 'augment:lut',
  wgsl,
  outputShape: (input: ImageShape): ImageShape => input,
  paramWords: (_input, _output, params) => {
    if (params.table.length !== LUT_LEVELS) {
      throw new InvalidInputError(`lut: a lookup table needs ${LUT_LEVELS} entries, got ${params.table.length}.`);
    }
    return packBytes(params.table);
  },
};
