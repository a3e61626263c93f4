/**
 * Perceptual hash (pHash) of an image: 64 bits that change little when the image changes
 * little, so near-duplicates (re-encoded, slightly brightened, noised, resized copies) are
 * found by Hamming distance instead of by exact bytes.
 *
 * Algorithm (the DCT pHash of Zauner 2010 / libpHash `ph_dct_imagehash`):
 * 1. luma Y = 0.299 R + 0.587 G + 0.114 B (gray images: the value itself);
 * 2. resize to 32×32 by area averaging: each output pixel is the mean of the input area it
 *    covers, with fractional overlaps weighted (any input size, up- or downscaling). This
 *    is the low-pass step (libpHash uses a 7×7 mean filter plus a resize for the same end);
 * 3. 2-D DCT-II of the 32×32 plane (orthonormal; only the rows / columns needed are made);
 * 4. keep the 8×8 block of frequencies (1..8) × (1..8): the lowest frequencies without the
 *    first row and column, so the DC term (mean brightness) never enters;
 * 5. bit k = coefficient k > median of the 64 coefficients (row-major, bit 0 = (1, 1)).
 *
 * Invariances, by construction:
 * - exact under a uniform brightness offset (it only moves DC) as long as nothing clips at
 *   0 or 255, and under a positive contrast gain (the median test is scale-free);
 * - near-invariant to size and aspect ratio (everything is resampled to 32×32), mild noise,
 *   blur and JPEG re-encoding (they live in the high frequencies that are dropped);
 * - NOT invariant to flips, rotations, large crops or shifts: those are different images
 *   for the purpose of leak detection, and augmented copies are found through provenance.
 * A flat image has no structure: its coefficients are all zero (after snapping float noise
 * below COEFFICIENT_EPSILON), so every flat image hashes to 0 rather than to random bits.
 *
 * Representation: two uint32 words (hi = bits 32..63, lo = bits 0..31), stored for many
 * images side by side in one Uint32Array (`[hi0, lo0, hi1, lo1, …]`): no BigInt allocation,
 * and the Hamming distance is two popcounts.
 */
import type { Channels } from '../data/types';
import { lumaPlane } from './image-stats';

/** Side of the plane the DCT runs on. */
export const PHASH_PLANE_SIZE = 32;
/** Side of the low-frequency block that becomes the hash: 8×8 = 64 bits. */
const BLOCK_SIZE = 8;
/** Words per hash in a packed Uint32Array. */
export const PHASH_WORDS = 2;
/**
 * DCT coefficients of a 32×32 plane of 0..255 values are at most ~8,160 in magnitude;
 * rounding error of the float sums is ~1e-12. Below this they are taken as exactly 0, so
 * flat images (all zero) hash deterministically instead of by the sign of float noise.
 */
const COEFFICIENT_EPSILON = 1e-7;

/** cos rows k = 1..8 of the orthonormal DCT-II of size 32: COS[(k-1) * 32 + n]. */
const COS = (() => {
  const n = PHASH_PLANE_SIZE;
  const table = new Float64Array(BLOCK_SIZE * n);
  const scale = Math.sqrt(2 / n);
  for (let k = 1; k <= BLOCK_SIZE; k++) {
    for (let x = 0; x < n; x++) table[(k - 1) * n + x] = scale * Math.cos((Math.PI * (2 * x + 1) * k) / (2 * n));
  }
  return table;
})();

/** Sparse area-averaging weights from `inSize` samples to PHASH_PLANE_SIZE. */
interface AreaWeights {
  /** First input index that output j reads. */
  start: Int32Array;
  /** Number of input indices output j reads. */
  length: Int32Array;
  /** Weights, `maxLength` per output, summing to 1. */
  weights: Float64Array;
  maxLength: number;
}

const weightsCache = new Map<number, AreaWeights>();

/**
 * Output pixel j covers input interval [j·s, (j+1)·s) with s = inSize / 32; input pixel i
 * covers [i, i+1). Its weight is the overlap length over s. For upscaling (s < 1) this is
 * one or two inputs per output; for downscaling, ceil(s)+1 at most.
 */
function areaWeights(inSize: number): AreaWeights {
  const cached = weightsCache.get(inSize);
  if (cached) return cached;
  const out = PHASH_PLANE_SIZE;
  const s = inSize / out;
  const maxLength = Math.ceil(s) + 1;
  const start = new Int32Array(out);
  const length = new Int32Array(out);
  const weights = new Float64Array(out * maxLength);
  for (let j = 0; j < out; j++) {
    const lo = j * s;
    const hi = (j + 1) * s;
    const first = Math.floor(lo);
    const last = Math.min(inSize - 1, Math.ceil(hi) - 1);
    start[j] = first;
    length[j] = last - first + 1;
    for (let i = first; i <= last; i++) {
      const overlap = Math.min(hi, i + 1) - Math.max(lo, i);
      weights[j * maxLength + (i - first)] = overlap / s;
    }
  }
  const w = { start, length, weights, maxLength };
  weightsCache.set(inSize, w);
  return w;
}

/** Area-averages a width×height luma plane to 32×32 (rows first, then columns). */
function resizeToPlane(luma: Float32Array, width: number, height: number): Float64Array {
  const n = PHASH_PLANE_SIZE;
  const wx = areaWeights(width);
  const wy = areaWeights(height);
  // Horizontal pass: height × 32.
  const rows = new Float64Array(height * n);
  for (let y = 0; y < height; y++) {
    const rowOffset = y * width;
    for (let j = 0; j < n; j++) {
      const first = wx.start[j] as number;
      const len = wx.length[j] as number;
      let acc = 0;
      for (let t = 0; t < len; t++) acc += (wx.weights[j * wx.maxLength + t] as number) * (luma[rowOffset + first + t] as number);
      rows[y * n + j] = acc;
    }
  }
  // Vertical pass: 32 × 32.
  const plane = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const first = wy.start[i] as number;
    const len = wy.length[i] as number;
    for (let j = 0; j < n; j++) {
      let acc = 0;
      for (let t = 0; t < len; t++) acc += (wy.weights[i * wy.maxLength + t] as number) * (rows[(first + t) * n + j] as number);
      plane[i * n + j] = acc;
    }
  }
  return plane;
}

/** The 64 coefficients (1..8)×(1..8) of the 2-D DCT-II of a 32×32 plane, row-major. */
function lowFrequencyBlock(plane: Float64Array): Float64Array {
  const n = PHASH_PLANE_SIZE;
  // Column transform first, only for the 8 frequencies kept: tmp[k][x] = Σ_y C[k][y] plane[y][x].
  const tmp = new Float64Array(BLOCK_SIZE * n);
  for (let k = 0; k < BLOCK_SIZE; k++) {
    for (let y = 0; y < n; y++) {
      const c = COS[k * n + y] as number;
      const rowOffset = y * n;
      for (let x = 0; x < n; x++) tmp[k * n + x] = (tmp[k * n + x] as number) + c * (plane[rowOffset + x] as number);
    }
  }
  const block = new Float64Array(BLOCK_SIZE * BLOCK_SIZE);
  for (let k = 0; k < BLOCK_SIZE; k++) {
    for (let l = 0; l < BLOCK_SIZE; l++) {
      let acc = 0;
      for (let x = 0; x < n; x++) acc += (tmp[k * n + x] as number) * (COS[l * n + x] as number);
      block[k * BLOCK_SIZE + l] = Math.abs(acc) < COEFFICIENT_EPSILON ? 0 : acc;
    }
  }
  return block;
}

/**
 * Writes the pHash of one HWC uint8 image (1 or 3 channels, any size) into
 * `out[2·index]` (hi word) and `out[2·index + 1]` (lo word).
 */
export function pHashInto(
  pixelsHwc: Uint8Array,
  width: number,
  height: number,
  channels: Channels,
  out: Uint32Array,
  index: number,
): void {
  const block = lowFrequencyBlock(resizeToPlane(lumaPlane(pixelsHwc, width, height, channels), width, height));
  const sorted = block.slice().sort();
  const median = ((sorted[31] as number) + (sorted[32] as number)) / 2;
  let hi = 0;
  let lo = 0;
  for (let b = 0; b < 32; b++) if ((block[b] as number) > median) lo |= 1 << b;
  for (let b = 0; b < 32; b++) if ((block[32 + b] as number) > median) hi |= 1 << b;
  out[PHASH_WORDS * index] = hi >>> 0;
  out[PHASH_WORDS * index + 1] = lo >>> 0;
}

/** The pHash of one image as `[hi, lo]` words. */
export function pHash(pixelsHwc: Uint8Array, width: number, height: number, channels: Channels): Uint32Array {
  const out = new Uint32Array(PHASH_WORDS);
  pHashInto(pixelsHwc, width, height, channels, out, 0);
  return out;
}

/** Number of set bits of a 32-bit word (SWAR popcount: no loop, no table). */
export function popcount32(x: number): number {
  let v = x >>> 0;
  v -= (v >>> 1) & 0x55555555;
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  v = (v + (v >>> 4)) & 0x0f0f0f0f;
  return Math.imul(v, 0x01010101) >>> 24;
}

/** Hamming distance (0..64) between hash i of `a` and hash j of `b` (packed arrays). */
export function hammingDistance(a: Uint32Array, i: number, b: Uint32Array, j: number): number {
  return (
    popcount32((a[PHASH_WORDS * i] as number) ^ (b[PHASH_WORDS * j] as number)) +
    popcount32((a[PHASH_WORDS * i + 1] as number) ^ (b[PHASH_WORDS * j + 1] as number))
  );
}

/** The hash as 16 hex digits (hi then lo), for display and stable test fixtures. */
export function pHashHex(hashes: Uint32Array, index = 0): string {
  const hex = (w: number): string => w.toString(16).padStart(8, '0');
  return hex(hashes[PHASH_WORDS * index] as number) + hex(hashes[PHASH_WORDS * index + 1] as number);
}
