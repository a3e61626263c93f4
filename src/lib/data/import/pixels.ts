/**
 * Decoded RGBA at any size → the project's stored input (HWC uint8, `input.channels`
 * channels, `input.width` x `input.height`). Everything happens in floating point and is
 * rounded once at the end, so the result does not depend on the order of compositing,
 * graying and resizing; the same bytes give the same pixels in Node, a worker or a test.
 *
 * The resize is separable, one axis at a time, each with its own filter: an axis that
 * shrinks uses area averaging (OpenCV INTER_AREA: every source pixel weighs by how much
 * of it an output pixel covers), an axis that grows uses bilinear interpolation with
 * half-pixel centres and edge replication (OpenCV INTER_LINEAR). Area averaging is what
 * keeps thin strokes (MNIST digits) from aliasing away when a photo is shrunk to 28x28.
 */
import { InvalidInputError } from '../../jobs/errors';
import type { InputSpec } from '../../storage/records';

/** OpenCV's RGB→gray weights (ITU-R BT.601 luma), used by cv2.COLOR_RGB2GRAY. */
const GRAY_WEIGHT_R = 0.299;
const GRAY_WEIGHT_G = 0.587;
const GRAY_WEIGHT_B = 0.114;
const MAX_ALPHA = 255;

/** One output index of one axis: source indices and their weights (summing to 1). */
interface Taps {
  index: Int32Array;
  weight: Float64Array;
}

export function rgbaToInput(rgba: Uint8Array | Uint8ClampedArray, width: number, height: number, input: InputSpec): Uint8Array {
  checkSizes(rgba, width, height, input);
  const channels = input.channels;
  const outW = input.width;
  const outH = input.height;
  const tapsX = axisTaps(width, outW);
  const tapsY = axisTaps(height, outH);

  // Resize along x first when that leaves the smaller intermediate buffer (srcH x outW
  // vs outH x srcW): a 16384-tall strip otherwise costs hundreds of MB.
  const xFirst = height * outW <= outH * width;
  const out = new Uint8Array(outW * outH * channels);
  const value = new Float64Array(channels);

  /** Composited (over black), optionally grayed, value of one source pixel into `value`. */
  const sourcePixel = (x: number, y: number): void => {
    const p = (y * width + x) * 4;
    const a = (rgba[p + 3] as number) / MAX_ALPHA;
    const r = (rgba[p] as number) * a;
    const g = (rgba[p + 1] as number) * a;
    const b = (rgba[p + 2] as number) * a;
    if (channels === 1) {
      value[0] = GRAY_WEIGHT_R * r + GRAY_WEIGHT_G * g + GRAY_WEIGHT_B * b;
    } else {
      value[0] = r;
      value[1] = g;
      value[2] = b;
    }
  };

  if (xFirst) {
    // mid: height rows x outW columns.
    const mid = new Float32Array(height * outW * channels);
    for (let y = 0; y < height; y++) {
      for (let ox = 0; ox < outW; ox++) {
        const taps = tapsX[ox] as Taps;
        const base = (y * outW + ox) * channels;
        for (let t = 0; t < taps.index.length; t++) {
          sourcePixel(taps.index[t] as number, y);
          const w = taps.weight[t] as number;
          for (let c = 0; c < channels; c++) mid[base + c] = (mid[base + c] as number) + w * (value[c] as number);
        }
      }
    }
    for (let oy = 0; oy < outH; oy++) {
      const taps = tapsY[oy] as Taps;
      for (let ox = 0; ox < outW; ox++) {
        for (let c = 0; c < channels; c++) {
          let sum = 0;
          for (let t = 0; t < taps.index.length; t++) {
            sum += (taps.weight[t] as number) * (mid[((taps.index[t] as number) * outW + ox) * channels + c] as number);
          }
          out[(oy * outW + ox) * channels + c] = toByte(sum);
        }
      }
    }
  } else {
    // mid: outH rows x width columns.
    const mid = new Float32Array(outH * width * channels);
    for (let oy = 0; oy < outH; oy++) {
      const taps = tapsY[oy] as Taps;
      for (let t = 0; t < taps.index.length; t++) {
        const y = taps.index[t] as number;
        const w = taps.weight[t] as number;
        for (let x = 0; x < width; x++) {
          sourcePixel(x, y);
          const base = (oy * width + x) * channels;
          for (let c = 0; c < channels; c++) mid[base + c] = (mid[base + c] as number) + w * (value[c] as number);
        }
      }
    }
    for (let oy = 0; oy < outH; oy++) {
      for (let ox = 0; ox < outW; ox++) {
        const taps = tapsX[ox] as Taps;
        for (let c = 0; c < channels; c++) {
          let sum = 0;
          for (let t = 0; t < taps.index.length; t++) {
            sum += (taps.weight[t] as number) * (mid[(oy * width + (taps.index[t] as number)) * channels + c] as number);
          }
          out[(oy * outW + ox) * channels + c] = toByte(sum);
        }
      }
    }
  }
  return out;
}

/**
 * Rounds half up, after snapping values within 1e-4 of a multiple of 0.5 onto it:
 * Float32 intermediates and weights like 1/3 turn an exact 127.5 into 127.49999, and the
 * answer should not depend on which axis went first.
 */
function toByte(v: number): number {
  const onHalfGrid = Math.round(v * 2) / 2;
  const snapped = Math.abs(v - onHalfGrid) < 1e-4 ? onHalfGrid : v;
  return Math.min(255, Math.max(0, Math.round(snapped)));
}

/** Filter taps for one axis: area averaging when shrinking, bilinear when growing. */
function axisTaps(srcSize: number, dstSize: number): Taps[] {
  return dstSize < srcSize ? areaTaps(srcSize, dstSize) : bilinearTaps(srcSize, dstSize);
}

/** Output pixel i covers source [i*s, (i+1)*s); each source pixel weighs by its overlap / s. */
function areaTaps(srcSize: number, dstSize: number): Taps[] {
  const scale = srcSize / dstSize;
  const taps: Taps[] = [];
  for (let i = 0; i < dstSize; i++) {
    const start = i * scale;
    const end = Math.min(srcSize, (i + 1) * scale);
    const index: number[] = [];
    const weight: number[] = [];
    for (let s = Math.floor(start); s < end; s++) {
      const overlap = Math.min(end, s + 1) - Math.max(start, s);
      // Floating-point edges can leave a sliver of 1e-12 on a pixel that is not covered.
      if (overlap > 1e-9) {
        index.push(s);
        weight.push(overlap / scale);
      }
    }
    taps.push({ index: Int32Array.from(index), weight: Float64Array.from(weight) });
  }
  return taps;
}

/** OpenCV INTER_LINEAR: centre x maps to (x + 0.5) * s - 0.5, edges replicate. */
function bilinearTaps(srcSize: number, dstSize: number): Taps[] {
  const scale = srcSize / dstSize;
  const taps: Taps[] = [];
  for (let i = 0; i < dstSize; i++) {
    const f = (i + 0.5) * scale - 0.5;
    let s0 = Math.floor(f);
    let frac = f - s0;
    if (s0 < 0) {
      s0 = 0;
      frac = 0;
    }
    if (s0 >= srcSize - 1) {
      s0 = srcSize - 1;
      frac = 0;
    }
    taps.push(
      frac === 0
        ? { index: Int32Array.of(s0), weight: Float64Array.of(1) }
        : { index: Int32Array.of(s0, s0 + 1), weight: Float64Array.of(1 - frac, frac) },
    );
  }
  return taps;
}

function checkSizes(rgba: Uint8Array | Uint8ClampedArray, width: number, height: number, input: InputSpec): void {
  const positiveInt = (v: number): boolean => Number.isInteger(v) && v > 0;
  if (!positiveInt(width) || !positiveInt(height)) {
    throw new InvalidInputError(`Cannot resize an image of ${width}x${height} pixels: both sides must be whole numbers above 0.`);
  }
  if (rgba.length !== width * height * 4) {
    throw new InvalidInputError(`RGBA data has ${rgba.length} bytes but a ${width}x${height} image needs ${width * height * 4}.`);
  }
  if (!positiveInt(input.width) || !positiveInt(input.height) || (input.channels !== 1 && input.channels !== 3)) {
    throw new InvalidInputError(
      `The project input ${input.width}x${input.height}x${input.channels} is invalid: sides must be whole numbers above 0 and channels 1 or 3.`,
    );
  }
}
