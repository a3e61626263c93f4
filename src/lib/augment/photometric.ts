/**
 * Photometric transforms: brightness, contrast, gamma, hue / saturation jitter and
 * Gaussian noise, each defined by the OpenCV recipe a computer-vision engineer would
 * write, and bit-exact with it.
 *
 * Brightness and contrast are both `src.convertTo(dst, CV_8U, alpha, beta)`:
 * dst = saturate(round(alpha·x + beta)), evaluated as OpenCV does in float32 (one fused
 * multiply-add) and rounded half to even. Brightness is alpha = 1; contrast pivots on
 * mid-grey, beta = 128·(1 − alpha), so a contrast change leaves grey 128 where it is.
 * `convertScaleAbs` was not used: its absolute value folds results below 0 back up (a
 * dark pixel under strong contrast would turn bright), where convertTo clips them to 0.
 *
 * Gamma is the usual cv2.LUT recipe, LUT[i] = round(255·(i/255)^gamma): gamma < 1
 * brightens, gamma > 1 darkens.
 *
 * Hue / saturation jitter works in OpenCV's 8-bit HSV: H' = (H + hueShift) mod 180,
 * S' = saturate(round(S·saturationScale)) (the product in float32), then back to RGB.
 *
 * Gaussian noise adds sigma·N(0, 1) to every value, the normals drawn from `new
 * Rng(seed)` in HWC order, then rounds half to even and saturates. The seed is part of
 * the parameters, so `cpu` stays pure and the same params give the same bytes.
 */
import { Rng } from '../data/rng';
import { hsvToRgb, rgbToHsv, HUE_RANGE_U8 } from './colour';
import { clampU8, defineTransform, readRange, requireChannels, roundHalfEven, sampleInt, sampleUniform } from './sample';
import { rangeBounds } from './spec';
import type { ImageU8, TransformDef } from './types';

const BETA = rangeBounds('brightness', 'betaRange');
const ALPHA = rangeBounds('contrast', 'alphaRange');
const GAMMA = rangeBounds('gamma', 'gammaRange');
const HUE_SHIFT = rangeBounds('hue-saturation', 'hueShiftRange');
const SATURATION_SCALE = rangeBounds('hue-saturation', 'saturationScaleRange');
const NOISE_SIGMA = rangeBounds('gaussian-noise', 'sigmaRange');

/** dst = saturate(round(alpha·x + beta)), OpenCV's convertTo. */
export interface LinearParams {
  alpha: number;
  beta: number;
}

export interface GammaParams {
  /** Exponent > 0 of 255·(x/255)^gamma. */
  gamma: number;
}

export interface HueSaturationParams {
  /** Whole number of OpenCV hue units (2° each), added modulo 180. */
  hueShift: number;
  /** Factor ≥ 0 on the saturation byte. */
  saturationScale: number;
}

export interface GaussianNoiseParams {
  /** Standard deviation in 8-bit levels. */
  sigma: number;
  /** 32-bit seed of the noise field (an Rng of its own). */
  seed: number;
}

/** Contrast pivots on mid-grey so it does not also shift brightness. */
export const CONTRAST_PIVOT = 128;

/**
 * saturate(round(alpha·x + beta)) with OpenCV's float32 arithmetic: alpha and beta are
 * cast to float, and the AVX2 kernel computes one fused multiply-add. x·alpha is exact
 * in a double (8 + 24 bits), so rounding the double sum once to float32 is the FMA.
 */
export function linearTransform(input: ImageU8, { alpha, beta }: LinearParams): ImageU8 {
  const a = Math.fround(alpha);
  const b = Math.fround(beta);
  const lut = new Uint8Array(256);
  for (let x = 0; x < 256; x++) lut[x] = clampU8(roundHalfEven(Math.fround(x * a + b)));
  return applyLut(input, lut);
}

/** LUT[i] = round(255·(i/255)^gamma), rounded half to even like numpy's rint. */
export function gammaLut(gamma: number): Uint8Array {
  const lut = new Uint8Array(256);
  for (let i = 0; i < 256; i++) lut[i] = clampU8(roundHalfEven(255 * Math.pow(i / 255, gamma)));
  return lut;
}

function applyLut(input: ImageU8, lut: Uint8Array): ImageU8 {
  const src = input.data;
  const data = new Uint8Array(src.length);
  for (let i = 0; i < src.length; i++) data[i] = lut[src[i] as number] as number;
  return { width: input.width, height: input.height, channels: input.channels, data };
}

export function hueSaturation(input: ImageU8, { hueShift, saturationScale }: HueSaturationParams): ImageU8 {
  requireChannels('hue-saturation', input, 3);
  const hsv = rgbToHsv(input);
  const d = hsv.data;
  const scale = Math.fround(saturationScale);
  // ((h + shift) mod 180 + 180) mod 180: JS `%` keeps the sign of a negative shift.
  const shift = ((hueShift % HUE_RANGE_U8) + HUE_RANGE_U8) % HUE_RANGE_U8;
  for (let i = 0; i < d.length; i += 3) {
    d[i] = ((d[i] as number) + shift) % HUE_RANGE_U8;
    d[i + 1] = clampU8(roundHalfEven(Math.fround((d[i + 1] as number) * scale)));
  }
  return hsvToRgb(hsv);
}

export function gaussianNoise(input: ImageU8, { sigma, seed }: GaussianNoiseParams): ImageU8 {
  const rng = new Rng(seed);
  const src = input.data;
  const data = new Uint8Array(src.length);
  for (let i = 0; i < src.length; i++) data[i] = clampU8(roundHalfEven((src[i] as number) + sigma * rng.normal()));
  return { width: input.width, height: input.height, channels: input.channels, data };
}

export const brightnessTransform = defineTransform<LinearParams>({
  name: 'brightness',
  kind: 'pointwise',
  description: 'Adds beta to every value (convertTo with alpha 1), clipped to [0, 255].',
  sample: (rng, spec) => ({ alpha: 1, beta: sampleUniform(rng, readRange(spec, 'betaRange', { ...BETA, fallback: [-32, 32] })) }),
  cpu: linearTransform,
  goldenTolerance: 0,
});

export const contrastTransform = defineTransform<LinearParams>({
  name: 'contrast',
  kind: 'pointwise',
  description: 'Scales values by alpha around mid-grey 128 (convertTo), clipped to [0, 255].',
  sample: (rng, spec) => {
    const alpha = sampleUniform(rng, readRange(spec, 'alphaRange', { ...ALPHA, fallback: [0.75, 1.25] }));
    return { alpha, beta: CONTRAST_PIVOT * (1 - alpha) };
  },
  cpu: linearTransform,
  goldenTolerance: 0,
});

export const gammaTransform = defineTransform<GammaParams>({
  name: 'gamma',
  kind: 'pointwise',
  description: '255·(x/255)^gamma through a lookup table; gamma < 1 brightens.',
  sample: (rng, spec) => ({ gamma: sampleUniform(rng, readRange(spec, 'gammaRange', { ...GAMMA, fallback: [0.7, 1.5] })) }),
  cpu: (img, p) => applyLut(img, gammaLut(p.gamma)),
  goldenTolerance: 0,
});

export const hueSaturationTransform = defineTransform<HueSaturationParams>({
  name: 'hue-saturation',
  kind: 'pointwise',
  description: 'Shifts hue (OpenCV units of 2°) and scales saturation in 8-bit HSV.',
  sample: (rng, spec) => ({
    hueShift: sampleInt(rng, readRange(spec, 'hueShiftRange', { ...HUE_SHIFT, fallback: [-9, 9] })),
    saturationScale: sampleUniform(rng, readRange(spec, 'saturationScaleRange', { ...SATURATION_SCALE, fallback: [0.7, 1.3] })),
  }),
  cpu: hueSaturation,
  // Through hsv-to-rgb, which OpenCV's own scalar row tail rounds differently (colour.ts).
  goldenTolerance: 1,
});

export const gaussianNoiseTransform = defineTransform<GaussianNoiseParams>({
  name: 'gaussian-noise',
  kind: 'pointwise',
  description: 'Adds seeded Gaussian noise of standard deviation sigma to every value.',
  sample: (rng, spec) => ({
    sigma: sampleUniform(rng, readRange(spec, 'sigmaRange', { ...NOISE_SIGMA, fallback: [5, 15] })),
    seed: rng.nextUint32(),
  }),
  cpu: gaussianNoise,
  // Box-Muller goes through Math.log/cos/sin, whose last bit is not fixed across engines.
  goldenTolerance: 1,
});

export const PHOTOMETRIC_TRANSFORMS: readonly (
  | TransformDef<LinearParams>
  | TransformDef<GammaParams>
  | TransformDef<HueSaturationParams>
  | TransformDef<GaussianNoiseParams>
)[] = [brightnessTransform, contrastTransform, gammaTransform, hueSaturationTransform, gaussianNoiseTransform];
