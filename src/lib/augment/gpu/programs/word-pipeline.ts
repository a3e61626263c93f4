/**
 * Compute pipelines outside the runner's packed-image contract, for the bridge between
 * packed uint8 batches and tfjs' float32 tensors (unpack-float.wgsl, pack-unit-float.wgsl):
 * each has its own bindings, and each invocation writes one whole output word (four
 * floats, or four packed bytes), so no two invocations touch the same word.
 *
 * Both shaders read one uniform `Shape` of four u32: the number of values, the number of
 * words the grid covers, the threads in one grid row, and the values per image.
 */
import { InvalidInputError } from '../../../jobs/errors';
import { GpuProgramError } from '../runner';

export interface WordPipelineSpec {
  /** Names the pipeline in GPU error messages and captures; also its cache key. */
  label: string;
  wgsl: string;
  /** Bindings 1…n in order (binding 0 is always the uniform Shape). */
  bindings: readonly GPUBufferBindingType[];
}

/** Threads per workgroup: the `@workgroup_size` of both shaders. */
export const WORD_WORKGROUP_SIZE = 64;
/** 4 u32 in the WGSL `Shape`, 16 bytes as uniforms require. */
const SHAPE_WORDS = 4;

interface Compiled {
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
}

const cache = new WeakMap<GPUDevice, Map<string, Promise<Compiled>>>();

async function compile(device: GPUDevice, spec: WordPipelineSpec): Promise<Compiled> {
  const layout = device.createBindGroupLayout({
    label: spec.label,
    entries: [
      { binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform' } },
      ...spec.bindings.map((type, i) => ({ binding: i + 1, visibility: GPUShaderStage.COMPUTE, buffer: { type } })),
    ],
  });
  // A scope, as in runner.ts: otherwise a WGSL error would only be an uncaptured event.
  device.pushErrorScope('validation');
  const module = device.createShaderModule({ label: spec.label, code: spec.wgsl });
  const moduleError = await device.popErrorScope();
  if (moduleError) throw new GpuProgramError(`${spec.label}: the WGSL did not compile: ${moduleError.message}`);
  try {
    const pipeline = await device.createComputePipelineAsync({
      label: spec.label,
      layout: device.createPipelineLayout({ label: spec.label, bindGroupLayouts: [layout] }),
      compute: { module, entryPoint: 'main' },
    });
    return { pipeline, layout };
  } catch (err) {
    throw new GpuProgramError(`${spec.label}: the GPU refused the pipeline: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function compiled(device: GPUDevice, spec: WordPipelineSpec): Promise<Compiled> {
  let perDevice = cache.get(device);
  if (!perDevice) {
    perDevice = new Map();
    cache.set(device, perDevice);
  }
  let pending = perDevice.get(spec.label);
  if (!pending) {
    pending = compile(device, spec);
    // A failed compile must not stay cached as a rejected promise.
    pending.catch(() => perDevice.delete(spec.label));
    perDevice.set(spec.label, pending);
  }
  return pending;
}

/**
 * Runs `spec` over `totalWords` output words with `buffers` at bindings 1…n, submitted on
 * the device's queue (so it runs after everything submitted before it, tfjs' work included).
 */
export async function dispatchWords(
  device: GPUDevice,
  spec: WordPipelineSpec,
  sizes: { totalValues: number; totalWords: number; perImage: number },
  buffers: readonly GPUBuffer[],
): Promise<void> {
  if (buffers.length !== spec.bindings.length) throw new InvalidInputError(`${spec.label}: ${buffers.length} buffers for ${spec.bindings.length} bindings.`);
  const maxGroups = device.limits.maxComputeWorkgroupsPerDimension;
  const groupsX = Math.min(Math.ceil(sizes.totalWords / WORD_WORKGROUP_SIZE), maxGroups);
  const threadsPerRow = groupsX * WORD_WORKGROUP_SIZE;
  const groupsY = Math.ceil(sizes.totalWords / threadsPerRow);
  if (groupsY > maxGroups) throw new InvalidInputError(`${spec.label}: the batch is too large for one dispatch; use a smaller batch size.`);
  const { pipeline, layout } = await compiled(device, spec);

  const shapeWords = new Uint32Array(SHAPE_WORDS);
  shapeWords.set([sizes.totalValues, sizes.totalWords, threadsPerRow, sizes.perImage]);
  const uniform = device.createBuffer({ label: `${spec.label}:shape`, size: shapeWords.byteLength, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  device.pushErrorScope('validation');
  try {
    device.queue.writeBuffer(uniform, 0, shapeWords);
    const bindGroup = device.createBindGroup({
      label: spec.label,
      layout,
      entries: [{ binding: 0, resource: { buffer: uniform } }, ...buffers.map((buffer, i) => ({ binding: i + 1, resource: { buffer } }))],
    });
    const encoder = device.createCommandEncoder({ label: spec.label });
    const pass = encoder.beginComputePass({ label: spec.label });
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(groupsX, groupsY);
    pass.end();
    device.queue.submit([encoder.finish()]);
  } finally {
    // Destroying after submit is allowed: WebGPU frees it once the submitted work is done.
    uniform.destroy();
  }
  const error = await device.popErrorScope();
  if (error) throw new GpuProgramError(`${spec.label}: the GPU rejected the dispatch: ${error.message}`);
}
