/**
 * cv2.warpAffine(src, M, (width, height), flags=INTER_LINEAR | WARP_INVERSE_MAP,
 * borderMode, borderValue) on 8-bit images, bit-exact with OpenCV 4.6's fixed-point path.
 */
import { InvalidInputError } from '../../../jobs/errors';
import type { BorderMode } from '../../types';
import type { GpuProgram, ImageShape } from '../runner';
import type { AffineMatrix } from '../../geometry';
import { roundHalfEven } from '../../sample';
import wgsl from './warp-affine.wgsl?raw';

/** A 2×3 affine matrix, row-major: [a, b, c, d, e, f] maps (x, y) to (ax+by+c, dx+ey+f). */
export type Affine2x3 = AffineMatrix;

export interface WarpAffineParams {
  /** The inverse map, as WARP_INVERSE_MAP: output pixel (x, y) samples the input at M·(x, y, 1). */
  inverseMatrix: Affine2x3;
  /** Output size in pixels (cv2's dsize). */
  width: number;
  height: number;
  border: BorderMode;
  /** For `constant`: one grey level for every channel, or one per channel. */
  borderValue?: number | readonly [number, number, number];
}

/** imgwarp.cpp: AB_BITS = max(10, INTER_BITS); coordinates are rounded in 1/1024 pixel. */
const AB_SCALE = 1024;
/** AB_SCALE / INTER_TAB_SIZE / 2: rounds the 1/1024 position to the nearest 1/32. */
const ROUND_DELTA = 16;
const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;
const BORDER_CODES: Record<BorderMode, number> = { constant: 0, replicate: 1, reflect: 2, reflect101: 3 };

/** OpenCV's saturate_cast<int>(double): round half to even, clamp to int32. */
function saturateInt(value: number): number {
  return Math.max(INT32_MIN, Math.min(INT32_MAX, roundHalfEven(value)));
}

/** cv2.invertAffineTransform (the CPU warp's own): turns a forward matrix into the inverse map this program takes. */
export { invertAffine } from '../../geometry';

function borderValues(value: WarpAffineParams['borderValue']): [number, number, number] {
  const clampByte = (v: number): number => Math.max(0, Math.min(255, roundHalfEven(v)));
  if (value === undefined) return [0, 0, 0];
  if (typeof value === 'number') return [clampByte(value), clampByte(value), clampByte(value)];
  return [clampByte(value[0]), clampByte(value[1]), clampByte(value[2])];
}

export const warpAffineProgram: GpuProgram<WarpAffineParams> = {
  cacheKey: 'warp-affine-bilinear',
  label: 'augment:warp-affine',
  wgsl,
  outputShape: (input: ImageShape, params: WarpAffineParams): ImageShape => {
    if (!Number.isInteger(params.width) || !Number.isInteger(params.height) || params.width < 1 || params.height < 1) {
      throw new InvalidInputError(`warp-affine: output size ${params.width}×${params.height} must be whole pixels, at least 1×1.`);
    }
    return { width: params.width, height: params.height, channels: input.channels };
  },
  paramWords: (_input, output, params) => {
    const m = params.inverseMatrix;
    if (m.length !== 6 || m.some((v) => !Number.isFinite(v))) {
      throw new InvalidInputError('warp-affine: the matrix needs six finite numbers [a, b, c, d, e, f].');
    }
    const [a, b, c, d, e, f] = m;
    const { width, height } = output;
    const words = new Int32Array(4 + 2 * width + 2 * height);
    words.set(borderValues(params.borderValue), 0);
    words[3] = BORDER_CODES[params.border];
    // Rounded separately per column and per row, exactly as OpenCV does: rounding the
    // sum instead moves some samples by 1/32 pixel and changes output values.
    for (let x = 0; x < width; x++) {
      words[4 + x] = saturateInt(a * x * AB_SCALE);
      words[4 + width + x] = saturateInt(d * x * AB_SCALE);
    }
    for (let y = 0; y < height; y++) {
      words[4 + 2 * width + y] = saturateInt((b * y + c) * AB_SCALE) + ROUND_DELTA;
      words[4 + 2 * width + height + y] = saturateInt((e * y + f) * AB_SCALE) + ROUND_DELTA;
    }
    return new Uint32Array(words.buffer);
  },
};
