/**
 * cv2.bilateralFilter(src, d, sigmaColor, sigmaSpace, borderType) on 8-bit images, within
 * the transform's golden tolerance (1) of filter.ts' bilateralU8. The weight tables are
 * the CPU's float32 values, made here and passed as params; the sums run in WGSL f32.
 * What can differ: the CPU rounds `sum + value·w` once (OpenCV's FMA), WGSL's fma() may
 * or may not fuse on a given driver, and WGSL's f32 division is accurate to 2.5 ulp
 * rather than correctly rounded, so an output sitting on a .5 boundary can move by 1.
 */
import { InvalidInputError } from '../../../jobs/errors';
import type { BilateralParams } from '../../filter';
import type { GpuProgram, ImageShape } from '../runner';
import borderWgsl from './border-index.wgsl?raw';
import { borderCode } from './gpu-common';
import wgsl from './bilateral.wgsl?raw';

const MAX_BILATERAL_D = 15;
const MAX_RADIUS = Math.floor(MAX_BILATERAL_D / 2);
/** Largest disc of offsets: the (2r + 1)² square bounds it. */
const MAX_OFFSETS = (2 * MAX_RADIUS + 1) ** 2;
/** Colour weights for |Δ| summed over up to 3 channels: 256·3 entries. */
const COLOUR_TABLE_WORDS = 256 * 3;
const HEADER_WORDS = 2;
const OFFSETS_BASE = HEADER_WORDS + COLOUR_TABLE_WORDS;
const WORDS_PER_OFFSET = 3;

export const bilateralProgram: GpuProgram<BilateralParams> = {
  cacheKey: 'bilateral',
  label: 'augment:bilateral',
  wgsl: `${borderWgsl}\n${wgsl}`,
  outputShape: (input: ImageShape): ImageShape => input,
  paramWords: (input, _output, p) => {
    if (!Number.isInteger(p.d) || p.d < 1 || p.d > MAX_BILATERAL_D) {
      throw new InvalidInputError(`Bilateral diameter must be a whole number from 1 to ${MAX_BILATERAL_D}; got ${p.d}.`);
    }
    if (!(p.sigmaColor > 0 && p.sigmaSpace > 0)) {
      throw new InvalidInputError(`Bilateral sigmas must be above 0; got sigmaColor ${p.sigmaColor}, sigmaSpace ${p.sigmaSpace}.`);
    }
    // The float32 words are written through a Float32Array view of the same buffer.
    const words = new Uint32Array(OFFSETS_BASE + WORDS_PER_OFFSET * MAX_OFFSETS);
    const floats = new Float32Array(words.buffer);
    const ints = new Int32Array(words.buffer);
    const radius = Math.max(Math.floor(p.d / 2), 1);
    const gaussColor = -0.5 / (p.sigmaColor * p.sigmaColor);
    const gaussSpace = -0.5 / (p.sigmaSpace * p.sigmaSpace);
    words[1] = borderCode(p.border, 'Bilateral filter');
    for (let i = 0; i < 256 * input.channels; i++) floats[HEADER_WORDS + i] = Math.exp(i * i * gaussColor);
    // The same disc, in the same order, as bilateralU8: the sums are order-dependent.
    let n = 0;
    for (let i = -radius; i <= radius; i++) {
      for (let j = -radius; j <= radius; j++) {
        const r = Math.sqrt(i * i + j * j);
        if (r > radius) continue;
        const at = OFFSETS_BASE + WORDS_PER_OFFSET * n;
        ints[at] = j;
        ints[at + 1] = i;
        floats[at + 2] = Math.exp(r * r * gaussSpace);
        n++;
      }
    }
    words[0] = n;
    return words;
  },
};
