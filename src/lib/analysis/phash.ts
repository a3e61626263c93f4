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
 * Beside the hash, `signatureInto` keeps a 16×16 gray thumbnail (the same luma, area-averaged,
 * rounded to uint8): 64 low-frequency bits cannot tell two look-alike small images apart
 * (on MNIST, 790 hash values are shared by different digits), so duplicates.ts verifies
 * every pHash candidate pair on the thumbnails (`thumbnailRmsDifference`) before joining it.
 *
 * Representation: two uint32 words (hi = bits 32..63, lo = bits 0..31), stored for many
 * images side by side in one Uint32Array (`[hi0, lo0, hi1, lo1, …]`): no BigInt allocation,
 * and the Hamming distance is two popcounts.
 */
import type { Channels } from '../storage/records';
import { lumaPlane } from './image-stats';

/** Side of the plane the DCT runs on. */
export const PHASH_PLANE_SIZE = 32;
/** Side of the low-frequency block that becomes the hash: 8×8 = 64 bits. */
const BLOCK_SIZE = 8;
/** Words per hash in a packed Uint32Array. */
export const PHASH_WORDS = 2;
/**
 * Side of the gray thumbnail that verifies pHash candidates (see duplicates.ts). 16×16 is
 * independent of the project's input size, keeps the stroke layout of a 28×28 digit that
 * the 8×8 DCT block blurs away, and costs 256 bytes per sample (18 MB for 70k samples).
 */
export const THUMBNAIL_SIDE = 16;
/** Bytes per thumbnail in a packed Uint8Array. */
export const THUMBNAIL_BYTES = THUMBNAIL_SIDE * THUMBNAIL_SIDE;
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

/** Sparse area-averaging weights from `inSize` samples to `outSize`. */
interface AreaWeights {
  /** First input index that output j reads. */
  start: Int32Array;
  /** Number of input indices output j reads. */
  length: Int32Array;
  /** Weights, `maxLength` per output, summing to 1. */
  weights: Float64Array;
  maxLength: number;
}

/** Keyed by `inSize * 1024 + outSize` (both sides are far below 1024 · 2^20). */
const weightsCache = new Map<number, AreaWeights>();

/**
 * Output pixel j covers input interval [j·s, (j+1)·s) with s = inSize / outSize; input
 * pixel i covers [i, i+1). Its weight is the overlap length over s. For upscaling (s < 1)
 * this is one or two inputs per output; for downscaling, ceil(s)+1 at most.
 */
function areaWeights(inSize: number, outSize: number): AreaWeights {
  const key = inSize * 1024 + outSize;
  const cached = weightsCache.get(key);
  if (cached) return cached;
  const s = inSize / outSize;
  const maxLength = Math.ceil(s) + 1;
  const start = new Int32Array(outSize);
  const length = new Int32Array(outSize);
  const weights = new Float64Array(outSize * maxLength);
  for (let j = 0; j < outSize; j++) {
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
  weightsCache.set(key, w);
  return w;
}

/** Area-averages a width×height luma plane to outSize×outSize (rows first, then columns). */
function resizeToPlane(luma: Float32Array, width: number, height: number, outSize: number): Float64Array {
  const n = outSize;
  const wx = areaWeights(width, n);
  const wy = areaWeights(height, n);
  // Horizontal pass: height × n.
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
  // Vertical pass: n × n.
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

/** Writes the pHash of a luma plane into `out` at `index`. */
function pHashOfLumaInto(luma: Float32Array, width: number, height: number, out: Uint32Array, index: number): void {
  const block = lowFrequencyBlock(resizeToPlane(luma, width, height, PHASH_PLANE_SIZE));
  const sorted = block.slice().sort();
  const median = ((sorted[31] as number) + (sorted[32] as number)) / 2;
  let hi = 0;
  let lo = 0;
  for (let b = 0; b < 32; b++) if ((block[b] as number) > median) lo |= 1 << b;
  for (let b = 0; b < 32; b++) if ((block[32 + b] as number) > median) hi |= 1 << b;
  out[PHASH_WORDS * index] = hi >>> 0;
  out[PHASH_WORDS * index + 1] = lo >>> 0;
}

/** Writes the THUMBNAIL_SIDE² thumbnail of a luma plane into `out` at `index`. */
function thumbnailOfLumaInto(luma: Float32Array, width: number, height: number, out: Uint8Array, index: number): void {
  const plane = resizeToPlane(luma, width, height, THUMBNAIL_SIDE);
  const offset = THUMBNAIL_BYTES * index;
  // Area means of 0..255 values stay in 0..255 up to float error: the clamp is for that error.
  for (let k = 0; k < THUMBNAIL_BYTES; k++) out[offset + k] = Math.min(255, Math.max(0, Math.round(plane[k] as number)));
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
  pHashOfLumaInto(lumaPlane(pixelsHwc, width, height, channels), width, height, out, index);
}

/** The pHash of one image as `[hi, lo]` words. */
export function pHash(pixelsHwc: Uint8Array, width: number, height: number, channels: Channels): Uint32Array {
  const out = new Uint32Array(PHASH_WORDS);
  pHashInto(pixelsHwc, width, height, channels, out, 0);
  return out;
}

/**
 * The pHash (into `hashes` at `index`, PHASH_WORDS words) and the gray thumbnail (into
 * `thumbnails` at `index`, THUMBNAIL_BYTES bytes) of one image, from one luma plane.
 */
export function signatureInto(
  pixelsHwc: Uint8Array,
  width: number,
  height: number,
  channels: Channels,
  hashes: Uint32Array,
  thumbnails: Uint8Array,
  index: number,
): void {
  const luma = lumaPlane(pixelsHwc, width, height, channels);
  pHashOfLumaInto(luma, width, height, hashes, index);
  thumbnailOfLumaInto(luma, width, height, thumbnails, index);
}

/** The THUMBNAIL_SIDE×THUMBNAIL_SIDE gray thumbnail of one image (row-major luma, uint8). */
export function thumbnail(pixelsHwc: Uint8Array, width: number, height: number, channels: Channels): Uint8Array {
  const out = new Uint8Array(THUMBNAIL_BYTES);
  thumbnailOfLumaInto(lumaPlane(pixelsHwc, width, height, channels), width, height, out, 0);
  return out;
}

/**
 * Mean thumbnail brightness per sample (THUMBNAIL_BYTES bytes each in `thumbnails`): what
 * `thumbnailRmsDifference` subtracts, computed once per sample rather than once per pair.
 */
export function thumbnailMeans(thumbnails: Uint8Array): Float64Array {
  const n = thumbnails.length / THUMBNAIL_BYTES;
  const means = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let sum = 0;
    for (let k = i * THUMBNAIL_BYTES, end = k + THUMBNAIL_BYTES; k < end; k++) sum += thumbnails[k] as number;
    means[i] = sum / THUMBNAIL_BYTES;
  }
  return means;
}

/**
 * Difference of thumbnails i and j in gray levels (0..255): the root mean square of the
 * pixel differences after each thumbnail's own mean is subtracted.
 * - Mean-centred, so a uniform brightness offset costs nothing (pHash ignores it too).
 * - Root mean square, not mean absolute: two different MNIST "1"s that overlap except
 *   along one stroke edge differ by ~30 gray levels on a few pixels and by 0 on the black
 *   background. A mean absolute difference averages that down to ~1.4 (as low as a noised
 *   copy's); the square keeps it at ≥ 4.2, while copies whose change is spread thinly over
 *   every pixel (noise, re-encoding, brightening) stay near 1.
 * - An L2 norm of centred thumbnails, so it is a metric: "every pair within t" bounds a
 *   group.
 * `means` from `thumbnailMeans` (the same `thumbnails`).
 */
export function thumbnailRmsDifference(thumbnails: Uint8Array, means: Float64Array, i: number, j: number): number {
  const shift = (means[j] as number) - (means[i] as number);
  const a = THUMBNAIL_BYTES * i;
  const b = THUMBNAIL_BYTES * j;
  let sum = 0;
  for (let k = 0; k < THUMBNAIL_BYTES; k++) {
    const d = (thumbnails[a + k] as number) - (thumbnails[b + k] as number) + shift;
    sum += d * d;
  }
  return Math.sqrt(sum / THUMBNAIL_BYTES);
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
