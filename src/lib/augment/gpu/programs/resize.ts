/**
 * cv2.resize(src, (width, height), interpolation=INTER_NEAREST | INTER_LINEAR | INTER_AREA)
 * on 8-bit images, following geometry.ts' resizeU8 path for path: every per-column and
 * per-row table (source indices, 11-bit weights, area coverage) is made here on the CPU
 * with the same float32 steps, and WGSL only gathers and blends.
 *
 * Exact against resizeU8 for nearest, bilinear (OpenCV's fixed point and its x86
 * vertical-pass rounding, in integers) and whole-factor area. The general area path sums
 * float32 products in the CPU's order; WGSL's + and × are correctly rounded, but a driver
 * may fuse a multiply-add, so it is held to the transform's tolerance (1).
 *
 * The axis tables repeat geometry.ts' private linearAxis and areaTab line for line: the
 * GPU tables must be the CPU's, and those helpers are not exported.
 */
import { InvalidInputError } from '../../../jobs/errors';
import { linearAxis, type ResizeParams } from '../../geometry';
import { roundHalfEven } from '../../sample';
import type { GpuProgram, ImageShape } from '../runner';
import wgsl from './resize.wgsl?raw';

const MAX_RESIZE_SIDE_PX = 4096;
/** resize.wgsl's path codes (params word 0). */
const PATH_NEAREST = 0;
const PATH_LINEAR = 1;
const PATH_AREA_FAST = 2;
const PATH_AREA = 3;
/** Area coverage below this is dropped, as computeResizeAreaTab does. */
const AREA_EPSILON = 1e-3;

/** computeResizeAreaTab, grouped per destination index: [source index, float32 weight] in order. */
function areaTab(srcSize: number, dstSize: number, scale: number): Array<Array<[number, number]>> {
  const tab: Array<Array<[number, number]>> = [];
  for (let dx = 0; dx < dstSize; dx++) {
    const taps: Array<[number, number]> = [];
    const fsx1 = dx * scale;
    const fsx2 = fsx1 + scale;
    const cellWidth = Math.min(scale, srcSize - fsx1);
    let sx1 = Math.ceil(fsx1);
    let sx2 = Math.floor(fsx2);
    sx2 = Math.min(sx2, srcSize - 1);
    sx1 = Math.min(sx1, sx2);
    if (sx1 - fsx1 > AREA_EPSILON) taps.push([sx1 - 1, Math.fround((sx1 - fsx1) / cellWidth)]);
    for (let sx = sx1; sx < sx2; sx++) taps.push([sx, Math.fround(1 / cellWidth)]);
    if (fsx2 - sx2 > AREA_EPSILON) taps.push([sx2, Math.fround(Math.min(Math.min(fsx2 - sx2, 1), cellWidth) / cellWidth)]);
    tab.push(taps);
  }
  return tab;
}

/** Words of one axis of the general area path: dstSize + 1 start offsets (relative to `tapsAt`), then taps. */
function areaWords(tab: Array<Array<[number, number]>>, tapsAt: number): { starts: number[]; taps: number[] } {
  const starts: number[] = [];
  const taps: number[] = [];
  const f32 = new Float32Array(1);
  const u32 = new Uint32Array(f32.buffer);
  let at = tapsAt;
  for (const cell of tab) {
    starts.push(at);
    for (const [si, alpha] of cell) {
      f32[0] = alpha;
      taps.push(si, u32[0] as number);
      at += 2;
    }
  }
  starts.push(at);
  return { starts, taps };
}

function checkSize(p: ResizeParams): void {
  const ok = [p.width, p.height].every((v) => Number.isInteger(v) && v >= 1 && v <= MAX_RESIZE_SIDE_PX);
  if (!ok) throw new InvalidInputError(`Resize needs whole-number sides from 1 to ${MAX_RESIZE_SIDE_PX}, got ${p.width}x${p.height}.`);
}

/** resizeU8's choice of path and its tables, as parameter words. */
function resizeWords(input: ImageShape, p: ResizeParams): number[] {
  const { width: sw, height: sh } = input;
  const dw = p.width;
  const dh = p.height;
  if (dw === sw && dh === sh) {
    // resizeU8 copies; nearest with identity tables is that copy.
    return [PATH_NEAREST, ...Array.from({ length: dw }, (_, x) => x), ...Array.from({ length: dh }, (_, y) => y)];
  }
  const invScaleX = dw / sw;
  const invScaleY = dh / sh;
  const scaleX = 1 / invScaleX;
  const scaleY = 1 / invScaleY;
  if (p.interpolation === 'nearest') {
    const ifx = 1 / invScaleX;
    const ify = 1 / invScaleY;
    const xs = Array.from({ length: dw }, (_, x) => Math.min(Math.floor(x * ifx), sw - 1));
    const ys = Array.from({ length: dh }, (_, y) => Math.min(Math.floor(y * ify), sh - 1));
    return [PATH_NEAREST, ...xs, ...ys];
  }
  const iscaleX = roundHalfEven(scaleX);
  const iscaleY = roundHalfEven(scaleY);
  const isAreaFast = Math.abs(scaleX - iscaleX) < Number.EPSILON && Math.abs(scaleY - iscaleY) < Number.EPSILON;
  const interpolation = p.interpolation === 'bilinear' && isAreaFast && iscaleX === 2 && iscaleY === 2 ? 'area' : p.interpolation;
  if (interpolation === 'area' && scaleX >= 1 && scaleY >= 1) {
    if (isAreaFast) {
      const f32 = new Float32Array([1 / (iscaleX * iscaleY)]);
      return [PATH_AREA_FAST, iscaleX, iscaleY, new Uint32Array(f32.buffer)[0] as number];
    }
    const xTapsAt = 1 + (dw + 1) + (dh + 1);
    const x = areaWords(areaTab(sw, dw, scaleX), xTapsAt);
    const y = areaWords(areaTab(sh, dh, scaleY), xTapsAt + x.taps.length);
    return [PATH_AREA, ...x.starts, ...y.starts, ...x.taps, ...y.taps];
  }
  const ax = linearAxis(sw, dw, scaleX, invScaleX, interpolation === 'area', true);
  const ay = linearAxis(sh, dh, scaleY, invScaleY, interpolation === 'area', false);
  const words = [PATH_LINEAR];
  for (let i = 0; i < dw; i++) words.push(ax.s0[i] as number, ax.s1[i] as number, ax.a0[i] as number, ax.a1[i] as number);
  for (let i = 0; i < dh; i++) words.push(ay.s0[i] as number, ay.s1[i] as number, ay.a0[i] as number, ay.a1[i] as number);
  return words;
}

/**
 * Each image's words name their own path (word 0), so a batch may mix interpolations as
 * long as their tables have one length; otherwise the runner refuses the batch by name.
 */
export const resizeProgram: GpuProgram<ResizeParams> = {
  cacheKey: 'resize',
  label: 'augment:resize',
  wgsl,
  outputShape: (input: ImageShape, p: ResizeParams): ImageShape => {
    checkSize(p);
    return { width: p.width, height: p.height, channels: input.channels };
  },
  paramWords: (input, _output, p) => {
    checkSize(p);
    return new Uint32Array(resizeWords(input, p));
  },
};
