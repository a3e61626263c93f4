/**
 * GPU kernels of the colour-space and photometric transforms, and of Otsu thresholding,
 * for the registry (registry.ts) to merge. Parameters are sampled on the CPU by each
 * transform's `sample`; the adapters below only reshape them for the program.
 */
import { hsvToRgbTransform, labToRgbTransform, rgbToHsvTransform, rgbToLabTransform, rgbToYcrcbTransform, ycrcbToRgbTransform } from '../../colour';
import { gammaTransform, gaussianNoiseTransform, hueSaturationTransform } from '../../photometric';
import { thresholdOtsuInvTransform, thresholdOtsuTransform } from '../../threshold';
import type { OtsuParams } from '../../threshold';
import type { TransformDef } from '../../types';
import { defineGpuTransform, type GpuGlobalTransform, type GpuTransform } from '../gpu-transform';
import { gammaProgram } from './gamma';
import { gaussianNoiseProgram } from './gaussian-noise';
import { hsvToRgbProgram } from './hsv-to-rgb';
import { hueSaturationProgram } from './hue-saturation';
import { labToRgbProgram } from './lab-to-rgb';
import { dispatchThresholdOtsu } from './otsu';
import { rgbToHsvProgram } from './rgb-to-hsv';
import { rgbToLabProgram } from './rgb-to-lab';
import { rgbToYcrcbProgram } from './rgb-to-ycrcb';
import { ycrcbToRgbProgram } from './ycrcb-to-rgb';

const none = (): void => undefined;

/** Pointwise colour and photometric transforms: one runner program each. */
export const GPU_TRANSFORMS_COLOUR: readonly GpuTransform[] = [
  defineGpuTransform(rgbToHsvTransform, rgbToHsvProgram, none),
  defineGpuTransform(hsvToRgbTransform, hsvToRgbProgram, none),
  defineGpuTransform(rgbToYcrcbTransform, rgbToYcrcbProgram, none),
  defineGpuTransform(ycrcbToRgbTransform, ycrcbToRgbProgram, none),
  defineGpuTransform(rgbToLabTransform, rgbToLabProgram, none),
  defineGpuTransform(labToRgbTransform, labToRgbProgram, none),
  defineGpuTransform(gammaTransform, gammaProgram, (p) => ({ gamma: p.gamma })),
  defineGpuTransform(hueSaturationTransform, hueSaturationProgram, (p) => ({ hueShift: p.hueShift, saturationScale: p.saturationScale })),
  defineGpuTransform(gaussianNoiseTransform, gaussianNoiseProgram, (p) => ({ sigma: p.sigma, seed: p.seed })),
];

function otsu(transform: TransformDef<OtsuParams>, inverse: boolean): GpuGlobalTransform {
  return {
    transform: transform.name,
    run: (device, input, params) => dispatchThresholdOtsu(device, input, params.map((p) => ({ maxValue: (p as OtsuParams).maxValue, inverse }))),
  };
}

/** Otsu thresholds: to-gray, a GPU histogram, the level on the CPU, then threshold (otsu.ts). */
export const GPU_GLOBAL_TRANSFORMS_COLOUR: readonly GpuGlobalTransform[] = [
  otsu(thresholdOtsuTransform, false),
  otsu(thresholdOtsuInvTransform, true),
];
