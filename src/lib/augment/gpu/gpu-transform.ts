/**
 * What a GPU kernel of an augmentation transform is, for the program indexes
 * (programs/*-index.ts) to build and the registry (registry.ts) to merge. Depends on no
 * index and no registry, so the arrows run one way: indexes and registry -> this.
 */
import { HearthError } from '../../jobs/errors';
import type { TransformDef } from '../types';
import type { GpuImageBatch, GpuProgram, ImageShape } from './runner';

/** A registered CPU transform's GPU kernel. */
export interface GpuTransform {
  /** The transform's registry name (`TransformDef.name`). */
  transform: string;
  program: GpuProgram<unknown>;
  /** Maps the CPU transform's sampled params to the program's params. */
  programParams(params: unknown, input: ImageShape): unknown;
  /**
   * False for sampled params the program does not implement (a warp with nearest
   * interpolation): the caller runs that step on the CPU path. Absent means all params.
   */
  supports?(params: unknown, input: ImageShape): boolean;
  /** Why `supports` says no, in words for a job's report of the steps that ran on the CPU. */
  unsupportedReason?: string;
}

/**
 * A GPU program was handed parameters it does not implement. A routing bug in Hearth
 * (the caller should have asked `supports` first), not a problem with the user's data.
 */
export class GpuUnsupportedParamsError extends HearthError {
  constructor(message: string) {
    super(message, 'GpuUnsupportedParamsError');
  }
}

/**
 * Binds a CPU transform to a program with typed parameter mapping. The registry stores
 * transforms as `TransformDef<unknown>`, so `params` arrive as `unknown`; they are the
 * output of `transform.sample`, which is what makes the one cast below sound.
 */
export function defineGpuTransform<C, G>(
  transform: TransformDef<C>,
  program: GpuProgram<G>,
  programParams: (params: C, input: ImageShape) => G,
  supports?: (params: C, input: ImageShape) => boolean,
  unsupportedReason?: string,
): GpuTransform {
  const gpu: GpuTransform = {
    transform: transform.name,
    program: program as GpuProgram<unknown>,
    programParams: (params, input) => {
      const typed = params as C;
      if (supports && !supports(typed, input)) {
        throw new GpuUnsupportedParamsError(`${transform.name}: the GPU kernel does not implement these parameters; run this step on the CPU path.`);
      }
      return programParams(typed, input);
    },
  };
  if (supports) gpu.supports = (params, input) => supports(params as C, input);
  if (unsupportedReason) gpu.unsupportedReason = unsupportedReason;
  return gpu;
}

/**
 * A transform whose GPU path is more than one program because it needs whole-image
 * statistics first (kind 'global'): `run` takes a batch on the GPU and the sampled params
 * per image and returns a new batch (the caller destroys both).
 */
export interface GpuGlobalTransform {
  transform: string;
  run(device: GPUDevice, input: GpuImageBatch, params: readonly unknown[]): Promise<GpuImageBatch>;
}
