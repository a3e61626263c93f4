/**
 * The GPU PlanApplier: drawn plans as fused dispatches (execute.ts) on the device the
 * augmentation engine uses (tfjs' WebGPU device when that backend is active), results
 * fitted to the project's input on the GPU and read back. For previews and stored
 * rebalancing, where the images must come back to be shown or written.
 */
import type { PlanApplier } from '../apply';
import { acquireGpuDevice } from './device';
import { executePlansGpu } from './execute';

/** Throws WebGpuUnavailableError (device.ts) when there is no WebGPU device. */
export async function gpuApplier(): Promise<PlanApplier> {
  const { device } = await acquireGpuDevice();
  return { where: 'gpu', apply: (images, plans, fitTo) => executePlansGpu(device, images, plans, { fitTo }) };
}
