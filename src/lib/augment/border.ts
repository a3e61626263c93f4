/**
 * OpenCV's border modes as an index mapping, shared by the geometric kernels (warps read
 * outside the image when a corner rotates in) and the filters (a window hangs over the
 * edge). One function, `borderIndex`, is cv::borderInterpolate: given a coordinate that
 * may lie outside [0, len), it returns the source index to read, or -1 for "use the
 * constant border value". The GPU kernels use the same rule, so keep it in one place.
 */
import { InvalidInputError } from '../jobs/errors';
import { BORDER_MODES, isChoice } from './spec';
import type { BorderMode } from './types';

/** Returned by `borderIndex` in constant mode for a coordinate outside the image. */
export const OUTSIDE = -1;

/**
 * cv::borderInterpolate. Modes, for a row `abcdefgh` (OpenCV's own pictures):
 *   replicate  aaaaaa|abcdefgh|hhhhhhh
 *   reflect    fedcba|abcdefgh|hgfedcb   (BORDER_REFLECT: the edge pixel repeats)
 *   reflect101 gfedcb|abcdefgh|gfedcba   (BORDER_REFLECT_101: it does not)
 *   constant   OUTSIDE (-1): the caller substitutes its border value.
 * Reflection loops, so coordinates several image-lengths away (a large kernel over a tiny
 * image) still land inside, exactly as OpenCV's `do … while` does.
 */
export function borderIndex(p: number, len: number, mode: BorderMode): number {
  if (p >= 0 && p < len) return p;
  switch (mode) {
    case 'constant':
      return OUTSIDE;
    case 'replicate':
      return p < 0 ? 0 : len - 1;
    case 'reflect':
    case 'reflect101': {
      if (len === 1) return 0;
      const delta = mode === 'reflect101' ? 1 : 0;
      let q = p;
      do {
        q = q < 0 ? -q - 1 + delta : len - 1 - (q - len) - delta;
      } while (q < 0 || q >= len);
      return q;
    }
  }
}

/** Reads an optional border mode from a spec; names the key when it is not one of the four. */
export function readBorderMode(spec: Readonly<Record<string, unknown>>, key: string, fallback: BorderMode): BorderMode {
  const value = spec[key];
  if (value === undefined) return fallback;
  if (isChoice(value, BORDER_MODES)) return value;
  throw new InvalidInputError(`"${key}" must be one of ${BORDER_MODES.join(', ')}; got ${JSON.stringify(value)}.`);
}
