/**
 * Picks images of a batch on the GPU, in a given order, into a new batch: how the fused
 * executor (execute.ts) splits a batch whose images' plans diverge (a step with p < 1
 * fired for some and not others) without reading it back to the CPU.
 */
import { InvalidInputError } from '../../../jobs/errors';
import { dispatchPerOutputImage, type GpuImageBatch, type GpuProgram, type ImageShape } from '../runner';
import wgsl from './gather.wgsl?raw';

const gatherProgram: GpuProgram<number> = {
  cacheKey: 'gather',
  label: 'augment:gather',
  wgsl,
  outputShape: (input: ImageShape): ImageShape => input,
  paramWords: (_input, _output, source) => new Uint32Array([source]),
};

/** A new batch of `batch`'s images at `indices`, in that order; the caller destroys both buffers. */
export function gatherImages(device: GPUDevice, batch: GpuImageBatch, indices: readonly number[]): Promise<GpuImageBatch> {
  indices.forEach((i, k) => {
    if (!(Number.isInteger(i) && i >= 0 && i < batch.count)) {
      throw new InvalidInputError(`augment:gather: index ${k} is ${i}, outside the batch of ${batch.count} images.`);
    }
  });
  return dispatchPerOutputImage(device, gatherProgram, batch, indices);
}
