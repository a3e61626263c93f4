/**
 * Hands an augmented GpuImageBatch (gpu/execute.ts' executePlansGpuToBatch) to tfjs as a
 * float32 NHWC tensor of value / 255, without reading it back to the CPU: one dispatch
 * unpacks the bytes into floats on the GPU, and tfjs takes those floats as a tensor.
 *
 * Buffer ownership:
 * - `batch.buffer` stays the caller's: it is only read, and the caller destroys it (it
 *   may do so as soon as this resolves; the unpack dispatch is already submitted).
 * - The float buffer this makes is created, handed to tfjs and destroyed here. It is
 *   passed WITHOUT zeroCopy, so tfjs copies it into a buffer from its own pool
 *   (WebGPUBackend.createTensorFromGPUData → copyBuffer) and the tensor owns that copy:
 *   `tensor.dispose()` returns it to tfjs' pool like any other tensor. With zeroCopy the
 *   tensor would borrow our buffer and never free it (tfjs marks it `external`), so the
 *   buffer would have to outlive every kernel that reads the tensor, which a BatchHook
 *   whose tensors the training loop disposes cannot know. The GPU-side copy is the price:
 *   N·H·W·C·4 bytes, far cheaper than a readback and upload.
 * - The returned tensor is the caller's to dispose (train.ts' BatchHook: the loop owns it).
 */
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { tf } from '../../compute/register';
import { HearthError, InvalidInputError } from '../../jobs/errors';
import { BYTE_TO_UNIT_FLOAT, UNPACK_FLOAT_LABEL, UNPACK_SHAPE_WORDS, UNPACK_WORKGROUP_SIZE, unpackFloatPipeline } from './programs/unpack-float';
import { GpuProgramError, type GpuImageBatch } from './runner';

/**
 * The GPU batch cannot become a tfjs tensor here: the active backend is not WebGPU, or
 * the batch lives on another device than the backend's. Not a failure of the data: the
 * caller should read the batch back (readImages) and build the tensor on the CPU path.
 */
export class GpuTensorUnavailableError extends HearthError {
  constructor(message: string) {
    super(message, 'GpuTensorUnavailableError');
  }
}

const BYTES_PER_FLOAT = 4;
const VALUES_PER_WORD = 4;

/**
 * Whether `device` is the active tfjs WebGPU backend's device, the only device whose
 * buffers tfjs can take as tensor data.
 */
export function isTfjsWebGpuDevice(device: GPUDevice): boolean {
  // getBackend() only reads the current name; tf.backend() would initialise a backend.
  return tf.getBackend() === 'webgpu' && (tf.backend() as WebGPUBackend).device === device;
}

/**
 * `batch` as a float32 tensor [count, height, width, channels] of byte / 255 (the same
 * float32 values the CPU path makes with `byte / 255`), computed on the GPU with no
 * readback. The tensor is the caller's to dispose; `batch.buffer` stays the caller's to
 * destroy (see the module comment for who owns what).
 *
 * Throws GpuTensorUnavailableError when tfjs' active backend is not 'webgpu' or `device`
 * is not its device, InvalidInputError when the floats would not fit in one buffer, and
 * GpuProgramError when the GPU rejects the dispatch.
 */
export async function gpuBatchToTensor(device: GPUDevice, batch: GpuImageBatch): Promise<tf.Tensor4D> {
  const backendName = tf.getBackend();
  if (backendName !== 'webgpu') {
    throw new GpuTensorUnavailableError(
      `The GPU batch can become a tensor only on tfjs' WebGPU backend, but the backend is "${backendName}": read the batch back and use the CPU path.`,
    );
  }
  if ((tf.backend() as WebGPUBackend).device !== device) {
    throw new GpuTensorUnavailableError(
      "The GPU batch is on another device than tfjs' WebGPU backend (a buffer cannot cross devices): read the batch back and use the CPU path, or run augmentation on the backend's device (acquireGpuDevice).",
    );
  }
  const { width, height, channels } = batch.shape;
  const totalValues = batch.count * width * height * channels;
  if (totalValues === 0) throw new InvalidInputError('The GPU batch is empty: pass at least one image.');
  const floatBytes = totalValues * BYTES_PER_FLOAT;
  if (floatBytes > device.limits.maxStorageBufferBindingSize) {
    throw new InvalidInputError(
      `The batch as float32 needs ${floatBytes} bytes of GPU memory in one buffer, over this GPU's limit of ${device.limits.maxStorageBufferBindingSize}: use a smaller batch size.`,
    );
  }
  const totalWords = Math.ceil(totalValues / VALUES_PER_WORD);
  const maxGroups = device.limits.maxComputeWorkgroupsPerDimension;
  const groupsX = Math.min(Math.ceil(totalWords / UNPACK_WORKGROUP_SIZE), maxGroups);
  const threadsPerRow = groupsX * UNPACK_WORKGROUP_SIZE;
  const groupsY = Math.ceil(totalWords / threadsPerRow);
  if (groupsY > maxGroups) throw new InvalidInputError(`${UNPACK_FLOAT_LABEL}: the batch is too large for one dispatch; use a smaller batch size.`);

  const { pipeline, layout } = await unpackFloatPipeline(device);

  const shapeWords = new Uint32Array(UNPACK_SHAPE_WORDS);
  shapeWords.set([totalValues, totalWords, threadsPerRow]);
  const uniform = device.createBuffer({ label: `${UNPACK_FLOAT_LABEL}:shape`, size: shapeWords.byteLength, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  const table = device.createBuffer({ label: `${UNPACK_FLOAT_LABEL}:table`, size: BYTE_TO_UNIT_FLOAT.byteLength, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
  // STORAGE | COPY_SRC is what tfjs requires of tensor data; COPY_DST as well because
  // tfjs' copy (copyBuffer) allocates its destination with the source's usage and then
  // copies into it, which needs COPY_DST. It is also the usage of tfjs' own tensor buffers,
  // so the copy comes from and returns to the same pool as theirs.
  const floats = device.createBuffer({
    label: `${UNPACK_FLOAT_LABEL}:output`,
    size: floatBytes,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
  });
  try {
    device.pushErrorScope('validation');
    try {
      device.queue.writeBuffer(uniform, 0, shapeWords);
      device.queue.writeBuffer(table, 0, BYTE_TO_UNIT_FLOAT);
      const bindGroup = device.createBindGroup({
        label: UNPACK_FLOAT_LABEL,
        layout,
        entries: [
          { binding: 0, resource: { buffer: uniform } },
          { binding: 1, resource: { buffer: batch.buffer } },
          { binding: 2, resource: { buffer: table } },
          { binding: 3, resource: { buffer: floats } },
        ],
      });
      const encoder = device.createCommandEncoder({ label: UNPACK_FLOAT_LABEL });
      const pass = encoder.beginComputePass({ label: UNPACK_FLOAT_LABEL });
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bindGroup);
      pass.dispatchWorkgroups(groupsX, groupsY);
      pass.end();
      device.queue.submit([encoder.finish()]);
    } finally {
      // Destroying after submit is allowed: WebGPU frees them once the submitted work is done.
      uniform.destroy();
      table.destroy();
    }
    const error = await device.popErrorScope();
    if (error) throw new GpuProgramError(`${UNPACK_FLOAT_LABEL}: the GPU rejected the dispatch: ${error.message}`);
    // No zeroCopy: tfjs copies `floats` into its own pooled buffer (submitted on the same
    // queue, so after the unpack) and the tensor owns that copy.
    return tf.tensor<tf.Rank.R4>({ buffer: floats }, [batch.count, height, width, channels], 'float32');
  } finally {
    // The copy is submitted by now (or never happened): ours is no longer needed.
    floats.destroy();
  }
}
