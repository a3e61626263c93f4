/**
 * Thresholding with OpenCV's 8-bit semantics (cv::threshold):
 *   binary:     dst = src > threshold ? maxValue : 0
 *   binary-inv: dst = src > threshold ? 0 : maxValue
 * The comparison is strict, so a threshold of 255 blanks a binary image and a threshold
 * of 0 keeps every non-zero value. Fixed thresholds apply per channel, as OpenCV does on
 * a multi-channel image. Otsu (THRESH_OTSU) needs one channel: a 3-channel input is first
 * converted with `to-gray` (OpenCV would refuse it), so the output has one channel.
 */
import type { Rng } from '../data/rng';
import { toGray } from './colour';
import { defineTransform, readRange, sampleInt } from './sample';
import { rangeBounds } from './spec';
import type { ImageU8, TransformDef } from './types';

export interface ThresholdParams {
  /** Whole number in [0, 255]; values strictly above it pass. */
  threshold: number;
  /** Whole number in [0, 255] written where the test passes (binary) or fails (inverse). */
  maxValue: number;
}

export interface OtsuParams {
  /** Whole number in [0, 255]; the threshold itself is computed from the image. */
  maxValue: number;
}

const THRESHOLD_BOUNDS = rangeBounds('threshold-binary', 'thresholdRange');
const MAX_VALUE_BOUNDS = rangeBounds('threshold-binary', 'maxValueRange');
const DEFAULT_THRESHOLD = 127;
const DEFAULT_MAX_VALUE = 255;

function applyThreshold(input: ImageU8, threshold: number, maxValue: number, inverse: boolean): ImageU8 {
  const src = input.data;
  const data = new Uint8Array(src.length);
  const above = inverse ? 0 : maxValue;
  const below = inverse ? maxValue : 0;
  for (let i = 0; i < src.length; i++) data[i] = (src[i] as number) > threshold ? above : below;
  return { width: input.width, height: input.height, channels: input.channels, data };
}

/**
 * The threshold Otsu's method picks for a 1-channel 8-bit image, exactly as OpenCV's
 * getThreshVal_Otsu_8u: the first level that maximises the between-class variance,
 * accumulated in doubles in the same order, skipping levels where one class holds less
 * than FLT_EPSILON of the pixels. Equal maxima keep the lowest level, as OpenCV's `>` does.
 */
export function otsuThreshold(gray: ImageU8): number {
  const hist = new Float64Array(256);
  for (const v of gray.data) hist[v] = (hist[v] as number) + 1;
  const scale = 1 / (gray.width * gray.height);
  let mu = 0;
  for (let i = 0; i < 256; i++) mu += i * (hist[i] as number);
  mu *= scale;
  const FLT_EPSILON = 1.1920928955078125e-7;
  let mu1 = 0;
  let q1 = 0;
  let maxSigma = 0;
  let maxVal = 0;
  for (let i = 0; i < 256; i++) {
    const pi = (hist[i] as number) * scale;
    mu1 *= q1;
    q1 += pi;
    const q2 = 1 - q1;
    if (Math.min(q1, q2) < FLT_EPSILON || Math.max(q1, q2) > 1 - FLT_EPSILON) continue;
    mu1 = (mu1 + i * pi) / q1;
    const mu2 = (mu - q1 * mu1) / q2;
    const sigma = q1 * q2 * (mu1 - mu2) * (mu1 - mu2);
    if (sigma > maxSigma) {
      maxSigma = sigma;
      maxVal = i;
    }
  }
  return maxVal;
}

function sampleFixed(rng: Rng, spec: Readonly<Record<string, unknown>>): ThresholdParams {
  const threshold = sampleInt(rng, readRange(spec, 'thresholdRange', { ...THRESHOLD_BOUNDS, fallback: DEFAULT_THRESHOLD }));
  const maxValue = sampleInt(rng, readRange(spec, 'maxValueRange', { ...MAX_VALUE_BOUNDS, fallback: DEFAULT_MAX_VALUE }));
  return { threshold, maxValue };
}

function sampleOtsu(rng: Rng, spec: Readonly<Record<string, unknown>>): OtsuParams {
  return { maxValue: sampleInt(rng, readRange(spec, 'maxValueRange', { ...MAX_VALUE_BOUNDS, fallback: DEFAULT_MAX_VALUE })) };
}

function otsu(input: ImageU8, params: OtsuParams, inverse: boolean): ImageU8 {
  const gray = input.channels === 1 ? input : toGray(input);
  return applyThreshold(gray, otsuThreshold(gray), params.maxValue, inverse);
}

export const thresholdBinaryTransform = defineTransform<ThresholdParams>({
  name: 'threshold-binary',
  kind: 'pointwise',
  description: 'Values above the threshold become maxValue, the rest 0 (per channel).',
  sample: sampleFixed,
  cpu: (img, p) => applyThreshold(img, p.threshold, p.maxValue, false),
  goldenTolerance: 0,
});

export const thresholdBinaryInvTransform = defineTransform<ThresholdParams>({
  name: 'threshold-binary-inv',
  kind: 'pointwise',
  description: 'Values above the threshold become 0, the rest maxValue (per channel).',
  sample: sampleFixed,
  cpu: (img, p) => applyThreshold(img, p.threshold, p.maxValue, true),
  goldenTolerance: 0,
});

export const thresholdOtsuTransform = defineTransform<OtsuParams>({
  name: 'threshold-otsu',
  kind: 'global',
  description: "Binary threshold at Otsu's level, on the gray image (one channel out).",
  sample: sampleOtsu,
  cpu: (img, p) => otsu(img, p, false),
  goldenTolerance: 0,
});

export const thresholdOtsuInvTransform = defineTransform<OtsuParams>({
  name: 'threshold-otsu-inv',
  kind: 'global',
  description: "Inverse binary threshold at Otsu's level, on the gray image (one channel out).",
  sample: sampleOtsu,
  cpu: (img, p) => otsu(img, p, true),
  goldenTolerance: 0,
});

export const THRESHOLD_TRANSFORMS: readonly (TransformDef<ThresholdParams> | TransformDef<OtsuParams>)[] = [
  thresholdBinaryTransform,
  thresholdBinaryInvTransform,
  thresholdOtsuTransform,
  thresholdOtsuInvTransform,
];
