/**
 * The compute pipeline that turns a packed uint8 GpuImageBatch into float32 values / 255
 * (see unpack-float.wgsl). It does not fit the runner's GpuProgram shape, whose output is
 * packed bytes, so it carries its own bind group layout, pipeline cache and byte table.
 */
import { GpuProgramError } from '../runner';
import wgsl from './unpack-float.wgsl?raw';

export const UNPACK_FLOAT_LABEL = 'augment:unpack-float';
/** Threads per workgroup, the `@workgroup_size` of unpack-float.wgsl. */
export const UNPACK_WORKGROUP_SIZE = 64;
/** 4 u32 in the WGSL `Shape`, 16 bytes as uniforms require. */
export const UNPACK_SHAPE_WORDS = 4;
/** Largest uint8 value: the unpacked value is byte / U8_MAX. */
const U8_MAX = 255;
const U8_LEVELS = 256;

/**
 * byte → float32(byte / 255), rounded once from the exact quotient: the same float32 the
 * CPU path stores when it writes `byte / 255` into a Float32Array.
 */
export const BYTE_TO_UNIT_FLOAT: Float32Array = Float32Array.from({ length: U8_LEVELS }, (_, v) => v / U8_MAX);

interface UnpackPipeline {
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
}

const pipelineCache = new WeakMap<GPUDevice, Promise<UnpackPipeline>>();

async function compile(device: GPUDevice): Promise<UnpackPipeline> {
  const layout = device.createBindGroupLayout({
    label: UNPACK_FLOAT_LABEL,
    entries: [
      { binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform' } },
      { binding: 1, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'read-only-storage' } },
      { binding: 2, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'read-only-storage' } },
      { binding: 3, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'storage' } },
    ],
  });
  // A scope, as in runner.ts: otherwise a WGSL error would only be an uncaptured event.
  device.pushErrorScope('validation');
  const module = device.createShaderModule({ label: UNPACK_FLOAT_LABEL, code: wgsl });
  const moduleError = await device.popErrorScope();
  if (moduleError) throw new GpuProgramError(`${UNPACK_FLOAT_LABEL}: the WGSL did not compile: ${moduleError.message}`);
  try {
    const pipeline = await device.createComputePipelineAsync({
      label: UNPACK_FLOAT_LABEL,
      layout: device.createPipelineLayout({ label: UNPACK_FLOAT_LABEL, bindGroupLayouts: [layout] }),
      compute: { module, entryPoint: 'main' },
    });
    return { pipeline, layout };
  } catch (err) {
    throw new GpuProgramError(`${UNPACK_FLOAT_LABEL}: the GPU refused the pipeline: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** The unpack pipeline for `device`, compiled once per device. */
export function unpackFloatPipeline(device: GPUDevice): Promise<UnpackPipeline> {
  let pending = pipelineCache.get(device);
  if (!pending) {
    pending = compile(device);
    // A failed compile must not stay cached as a rejected promise.
    pending.catch(() => {
      if (pipelineCache.get(device) === pending) pipelineCache.delete(device);
    });
    pipelineCache.set(device, pending);
  }
  return pending;
}
