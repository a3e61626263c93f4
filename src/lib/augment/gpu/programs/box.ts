/**
 * cv2.blur(src, (k, k), borderType) on 8-bit images, exact against filter.ts' boxBlurU8:
 * the window sum is an integer, and the divide by k² is OpenCV's own multiply-and-shift
 * (k² ≤ 256) or, for larger windows, a rounding that integer maths reproduces exactly.
 */
import type { BoxParams } from '../../filter';
import type { GpuProgram, ImageShape } from '../runner';
import borderWgsl from './border-index.wgsl?raw';
import { borderCode, checkOddKsize } from './gpu-common';
import wgsl from './box.wgsl?raw';

const MAX_BOX_KSIZE = 31;
/** ColumnSum<ushort, uchar>: the divide becomes (sum + delta)·scale >> 23 while k² ≤ 256. */
const BOX_DIV_SHIFT = 23;
const BOX_U16_MAX_AREA = 256;
/** How outputValue divides: 0 none (k = 1), 1 OpenCV's fixed point, 2 rounded integer division. */
const DIVIDE_NONE = 0;
const DIVIDE_FIXED = 1;
const DIVIDE_ROUNDED = 2;

export const boxProgram: GpuProgram<BoxParams> = {
  cacheKey: 'box',
  label: 'augment:box',
  wgsl: `${borderWgsl}\n${wgsl}`,
  outputShape: (input: ImageShape): ImageShape => input,
  paramWords: (_input, _output, p) => {
    checkOddKsize(p.ksize, MAX_BOX_KSIZE, 'Box blur');
    const area = p.ksize * p.ksize;
    let divide = DIVIDE_ROUNDED;
    let divScale = 1;
    let divDelta = 0;
    if (area === 1) divide = DIVIDE_NONE;
    else if (area <= BOX_U16_MAX_AREA) {
      // The same arithmetic as boxBlurU8 (and OpenCV's ColumnSum constructor).
      divide = DIVIDE_FIXED;
      let scalef = 2 ** BOX_DIV_SHIFT / area;
      divScale = Math.floor(scalef);
      scalef -= divScale;
      divDelta = Math.floor(area / 2);
      if (scalef < 0.5) divDelta++;
      else divScale++;
    }
    return new Uint32Array([p.ksize, borderCode(p.border, 'Box blur'), divide, divScale, divDelta, area]);
  },
};
