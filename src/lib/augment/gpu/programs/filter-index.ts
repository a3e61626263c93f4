/**
 * GPU kernels for the filters, resize, crop and the occlusion/mixing transforms, keyed by
 * the CPU transform's registry name. Each program takes the CPU transform's own sampled
 * params, so every adapter passes them through unchanged.
 */
import { bilateralTransform, boxTransform, gaussianBlurTransform, medianTransform } from '../../filter';
import { cropTransform, resizeTransform } from '../../geometry';
import { cutmixTransform, cutoutTransform, mixupTransform } from '../../mixing';
import type { TransformDef } from '../../types';
import type { GpuTransform } from '../gpu-transform';
import type { GpuProgram } from '../runner';
import { bilateralProgram } from './bilateral';
import { boxProgram } from './box';
import { cropProgram } from './crop';
import { cutmixProgram } from './cutmix';
import { cutoutProgram } from './cutout';
import { gaussianBlurProgram } from './gaussian-blur';
import { medianProgram } from './median';
import { mixupProgram } from './mixup';
import { resizeProgram } from './resize';

/**
 * Ties a transform to a program over the same params type, so the compiler checks that
 * the program implements exactly what `transform.sample` produces.
 */
function sameParams<P>(transform: TransformDef<P>, program: GpuProgram<P>): GpuTransform {
  return { transform: transform.name, program: program as GpuProgram<unknown>, programParams: (params) => params };
}

export const GPU_TRANSFORMS_FILTER: readonly GpuTransform[] = [
  sameParams(boxTransform, boxProgram),
  sameParams(gaussianBlurTransform, gaussianBlurProgram),
  sameParams(medianTransform, medianProgram),
  sameParams(bilateralTransform, bilateralProgram),
  sameParams(resizeTransform, resizeProgram),
  sameParams(cropTransform, cropProgram),
  sameParams(cutoutTransform, cutoutProgram),
  sameParams(mixupTransform, mixupProgram),
  sameParams(cutmixTransform, cutmixProgram),
];
