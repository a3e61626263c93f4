/**
 * Which registered transforms have a GPU kernel, and how each CPU transform's sampled
 * parameters become its program's parameters. Parameters are always sampled on the CPU
 * (by the transform's `sample`, from the seeded Rng), so the GPU path applies exactly the
 * parameters the CPU reference would: the two differ only by the kernels' arithmetic.
 *
 * One program can serve several transforms (threshold-binary and its inverse; the five
 * warps all go through warp-affine), so this table is keyed by transform, not program.
 */
import { HearthError } from '../../jobs/errors';
import {
  affineMatrix,
  affineTransform,
  flipTransform,
  imageCentre,
  invertAffine,
  rotateTransform,
  rotationMatrix,
  scaleTransform,
  shearTransform,
  translateTransform,
} from '../geometry';
import type { AffineMatrix, AffineParams, FlipParams, RotateParams, ScaleParams, ShearParams, TranslateParams, WarpOptions } from '../geometry';
import { brightnessTransform, contrastTransform } from '../photometric';
import type { LinearParams } from '../photometric';
import { thresholdBinaryInvTransform, thresholdBinaryTransform } from '../threshold';
import type { ThresholdParams } from '../threshold';
import { toGrayTransform } from '../colour';
import { brightnessContrastProgram } from './programs/brightness-contrast';
import type { BrightnessContrastParams } from './programs/brightness-contrast';
import { GPU_GLOBAL_TRANSFORMS_COLOUR, GPU_TRANSFORMS_COLOUR } from './programs/colour-index';
import { GPU_TRANSFORMS_FILTER } from './programs/filter-index';
import { flipProgram } from './programs/flip';
import type { FlipParams as FlipProgramParams } from './programs/flip';
import { thresholdProgram } from './programs/threshold';
import type { ThresholdParams as ThresholdProgramParams } from './programs/threshold';
import { toGrayProgram } from './programs/to-gray';
import { warpAffineProgram } from './programs/warp-affine';
import type { WarpAffineParams } from './programs/warp-affine';
import { defineGpuTransform, GpuUnsupportedParamsError, type GpuGlobalTransform, type GpuTransform } from './gpu-transform';
import type { ImageShape } from './runner';

/** Two GPU kernels claim one transform: a wiring bug caught when the module loads. */
export class GpuRegistryError extends HearthError {
  constructor(message: string) {
    super(message, 'GpuRegistryError');
  }
}

const toThreshold = (inverse: boolean) => (p: ThresholdParams): ThresholdProgramParams => ({ thresh: p.threshold, maxval: p.maxValue, inverse });

const toLinear = (p: LinearParams): BrightnessContrastParams => ({ alpha: p.alpha, beta: p.beta });

const toFlip = (p: FlipParams): FlipProgramParams => ({ horizontal: p.mode !== 'vertical', vertical: p.mode !== 'horizontal' });

/** warp-affine is bilinear only; nearest-neighbour warps stay on the CPU. */
const bilinearOnly = (p: WarpOptions): boolean => p.interpolation === 'bilinear';
const NEAREST_ON_CPU = 'nearest-neighbour interpolation has no GPU kernel (the warp program is bilinear)';

/**
 * The CPU warps take a forward matrix and keep the input size (warpAffineU8); the program
 * takes the inverse map, inverted the same way (geometry.ts' invertAffine, cv2's order).
 */
function warpParams(forward: AffineMatrix, p: WarpOptions, input: ImageShape): WarpAffineParams {
  return { inverseMatrix: invertAffine(forward), width: input.width, height: input.height, border: p.border, borderValue: p.borderValue };
}

const rotateWarp = (p: RotateParams, s: ImageShape): WarpAffineParams =>
  warpParams(rotationMatrix(...imageCentre(s.width, s.height), p.angleDeg, 1), p, s);
const translateWarp = (p: TranslateParams, s: ImageShape): WarpAffineParams => warpParams([1, 0, p.dx, 0, 1, p.dy], p, s);
const shearWarp = (p: ShearParams, s: ImageShape): WarpAffineParams =>
  warpParams(affineMatrix({ angleDeg: 0, scale: 1, dx: 0, dy: 0, shearXDeg: p.shearXDeg, shearYDeg: p.shearYDeg }, s.width, s.height), p, s);
const scaleWarp = (p: ScaleParams, s: ImageShape): WarpAffineParams => warpParams(rotationMatrix(...imageCentre(s.width, s.height), 0, p.scale), p, s);
const affineWarp = (p: AffineParams, s: ImageShape): WarpAffineParams => warpParams(affineMatrix(p, s.width, s.height), p, s);

/** Adapters for the programs written first (to-gray, threshold, flip, brightness-contrast, warp-affine). */
export const GPU_TRANSFORMS_CORE: readonly GpuTransform[] = [
  defineGpuTransform(toGrayTransform, toGrayProgram, () => undefined),
  defineGpuTransform(thresholdBinaryTransform, thresholdProgram, toThreshold(false)),
  defineGpuTransform(thresholdBinaryInvTransform, thresholdProgram, toThreshold(true)),
  defineGpuTransform(flipTransform, flipProgram, toFlip),
  defineGpuTransform(brightnessTransform, brightnessContrastProgram, toLinear),
  defineGpuTransform(contrastTransform, brightnessContrastProgram, toLinear),
  defineGpuTransform(rotateTransform, warpAffineProgram, rotateWarp, bilinearOnly, NEAREST_ON_CPU),
  defineGpuTransform(translateTransform, warpAffineProgram, translateWarp, bilinearOnly, NEAREST_ON_CPU),
  defineGpuTransform(shearTransform, warpAffineProgram, shearWarp, bilinearOnly, NEAREST_ON_CPU),
  defineGpuTransform(scaleTransform, warpAffineProgram, scaleWarp, bilinearOnly, NEAREST_ON_CPU),
  defineGpuTransform(affineTransform, warpAffineProgram, affineWarp, bilinearOnly, NEAREST_ON_CPU),
];

/**
 * Keys kernels by transform, refusing two kernels for one transform (an ambiguous
 * registry), across the single-program and the multi-program (global) kernels alike.
 */
export function buildGpuRegistry<T extends { transform: string }>(lists: readonly (readonly T[])[], claimed: ReadonlySet<string> = new Set()): ReadonlyMap<string, T> {
  const map = new Map<string, T>();
  for (const list of lists) {
    for (const gpu of list) {
      if (map.has(gpu.transform) || claimed.has(gpu.transform)) {
        throw new GpuRegistryError(`Two GPU kernels are registered for "${gpu.transform}"; keep one.`);
      }
      map.set(gpu.transform, gpu);
    }
  }
  return map;
}

export type { GpuGlobalTransform, GpuTransform };
export { GpuUnsupportedParamsError, defineGpuTransform };

/** Every transform whose GPU kernel is one runner program, keyed by registry name. */
export const GPU_TRANSFORMS: ReadonlyMap<string, GpuTransform> = buildGpuRegistry([GPU_TRANSFORMS_CORE, GPU_TRANSFORMS_COLOUR, GPU_TRANSFORMS_FILTER]);

/**
 * Transforms that need whole-image statistics before their pointwise pass (Otsu), so
 * their GPU kernel is a sequence of dispatches run on a batch already on the GPU.
 */
export const GPU_GLOBAL_TRANSFORMS: ReadonlyMap<string, GpuGlobalTransform> = buildGpuRegistry(
  [GPU_GLOBAL_TRANSFORMS_COLOUR],
  new Set(GPU_TRANSFORMS.keys()),
);

/** Whether a registered transform has any GPU kernel. */
export function hasGpuKernel(transform: string): boolean {
  return GPU_TRANSFORMS.has(transform) || GPU_GLOBAL_TRANSFORMS.has(transform);
}
