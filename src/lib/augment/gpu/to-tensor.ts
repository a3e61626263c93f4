/**
 * The bridge between tfjs' WebGPU tensors and the augmentation engine's packed uint8
 * batches, both ways, on the GPU: the training loop's input tensor (pixels / 255, which
 * tfjs uploaded) becomes a packed batch for the augmentation programs, and the augmented
 * pieces (gpu/execute.ts' executePlansGpuToPieces) become one float32 NHWC tensor again,
 * each image in its place. Nothing is read back to the CPU on the way.
 *
 * Buffer ownership:
 * - Buffers handed in (a batch, the pieces) stay the caller's: they are only read, and the
 *   caller may destroy them as soon as the call resolves (the dispatches that read them are
 *   submitted by then, and WebGPU keeps a destroyed buffer alive for submitted work).
 * - The float buffer `gpuPiecesToTensor` writes is created, handed to tfjs and destroyed
 *   here. It is passed WITHOUT zeroCopy, so tfjs copies it into a buffer from its own pool
 *   (WebGPUBackend.createTensorFromGPUData → copyBuffer) and the tensor owns that copy:
 *   `tensor.dispose()` returns it to tfjs' pool like any other tensor. With zeroCopy the
 *   tensor would borrow our buffer and never free it (tfjs marks it `external`), so the
 *   buffer would have to outlive every kernel that reads the tensor, which a BatchHook
 *   whose tensors the training loop disposes cannot know. The GPU-side copy is the price:
 *   N·H·W·C·4 bytes, far cheaper than a readback and upload.
 * - The packed batch `tensorToGpuBatch` returns is the caller's to destroy.
 * - Returned tensors are the caller's to dispose (train.ts' BatchHook: the loop owns them).
 */
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { tf } from '../../compute/register';
import { HearthError, InvalidInputError } from '../../jobs/errors';
import type { GpuPiece } from './execute';
import { BYTE_TO_UNIT_FLOAT, PACK_UNIT_FLOAT, UNPACK_FLOAT } from './programs/unpack-float';
import { dispatchWords } from './programs/word-pipeline';
import type { GpuImageBatch, ImageShape } from './runner';

/**
 * A GPU batch cannot become a tfjs tensor here, or a tensor a GPU batch: the active
 * backend is not WebGPU, or the batch lives on another device than the backend's. Not a
 * failure of the data: the caller should take the CPU path.
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

/** The WebGPU backend, when `device` is its device; else why not. */
function webGpuBackendOf(device: GPUDevice, what: string): WebGPUBackend {
  const backendName = tf.getBackend();
  if (backendName !== 'webgpu') {
    throw new GpuTensorUnavailableError(`${what} needs tfjs' WebGPU backend, but the backend is "${backendName}": use the CPU path.`);
  }
  const backend = tf.backend() as WebGPUBackend;
  if (backend.device !== device) {
    throw new GpuTensorUnavailableError(
      `${what}: the batch is on another device than tfjs' WebGPU backend (a buffer cannot cross devices): use the CPU path, or run augmentation on the backend's device (acquireGpuDevice).`,
    );
  }
  return backend;
}

function checkFits(device: GPUDevice, bytes: number, what: string): void {
  if (bytes > device.limits.maxStorageBufferBindingSize) {
    throw new InvalidInputError(
      `${what} needs ${bytes} bytes of GPU memory in one buffer, over this GPU's limit of ${device.limits.maxStorageBufferBindingSize}: use a smaller batch size.`,
    );
  }
}

function valuesPerImage(shape: ImageShape): number {
  return shape.width * shape.height * shape.channels;
}

/**
 * A float32 NHWC tensor of values in [0, 1] (the training loop's pixels / 255) as a packed
 * uint8 batch on the same device: byte = round(v · 255), which gives back the stored byte
 * exactly for the loop's values (pack-unit-float.wgsl). The tensor is read, not disposed;
 * the batch is the caller's to destroy.
 *
 * Throws GpuTensorUnavailableError off the WebGPU backend, InvalidInputError for a tensor
 * that is not [n, h, w, 1 | 3] float32.
 */
export async function tensorToGpuBatch(device: GPUDevice, x: tf.Tensor4D): Promise<GpuImageBatch> {
  const backend = webGpuBackendOf(device, 'Packing a tensor into a GPU batch');
  const [count, height, width, channels] = x.shape;
  if (x.dtype !== 'float32' || (channels !== 1 && channels !== 3) || count < 1) {
    throw new InvalidInputError(`Only a float32 tensor [n ≥ 1, h, w, 1 or 3] packs into a GPU batch; this one is ${x.dtype} [${x.shape.join(', ')}].`);
  }
  const shape: ImageShape = { width, height, channels };
  const totalValues = count * valuesPerImage(shape);
  const totalWords = Math.ceil(totalValues / VALUES_PER_WORD);
  const bytes = totalWords * BYTES_PER_FLOAT;
  checkFits(device, totalValues * BYTES_PER_FLOAT, 'The batch as float32');
  // A tensor made from CPU values is uploaded lazily, at its first kernel: upload it now.
  // dataToGPU then copies it into a buffer of its own and submits tfjs' pending commands,
  // so the copy is on the queue before the pack below.
  backend.uploadToGPU(x.dataId);
  const gpuData = x.dataToGPU();
  const output = device.createBuffer({ label: `${PACK_UNIT_FLOAT.label}:output`, size: bytes, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
  try {
    if (!gpuData.buffer) throw new GpuTensorUnavailableError('tfjs gave no GPU buffer for the tensor: use the CPU path.');
    await dispatchWords(device, PACK_UNIT_FLOAT, { totalValues, totalWords, perImage: valuesPerImage(shape) }, [gpuData.buffer, output]);
  } catch (err) {
    output.destroy();
    throw err;
  } finally {
    // The pack is submitted: tfjs may reuse the copy's buffer for work submitted after it.
    gpuData.tensorRef.dispose();
  }
  return { buffer: output, shape, count };
}

/**
 * `pieces` (each a batch with the output position of each of its images) as one float32
 * tensor [count, h, w, c] of byte / 255 (the same float32 values the CPU path makes with
 * `byte / 255`), assembled on the GPU with no readback. Every position 0…count−1 must be
 * covered exactly once, by pieces of `shape`.
 *
 * Throws GpuTensorUnavailableError off the WebGPU backend, InvalidInputError for pieces
 * that do not tile the batch or differ in size, GpuProgramError when the GPU rejects the dispatch.
 */
export async function gpuPiecesToTensor(device: GPUDevice, pieces: readonly GpuPiece[], shape: ImageShape, count: number): Promise<tf.Tensor4D> {
  webGpuBackendOf(device, 'Making a tensor of a GPU batch');
  const perImage = valuesPerImage(shape);
  if (count < 1 || perImage === 0) throw new InvalidInputError('The GPU batch is empty: pass at least one image.');
  const covered = new Uint8Array(count);
  for (const piece of pieces) {
    const s = piece.batch.shape;
    if (s.width !== shape.width || s.height !== shape.height || s.channels !== shape.channels) {
      throw new InvalidInputError(
        `The plans give images of ${s.width}×${s.height}×${s.channels} where the batch is ${shape.width}×${shape.height}×${shape.channels}; a training batch has one size. Add a resize step at the end.`,
      );
    }
    if (piece.slots.length !== piece.batch.count) throw new InvalidInputError(`A piece of ${piece.batch.count} images has ${piece.slots.length} slots; give one per image.`);
    for (const slot of piece.slots) {
      if (!(Number.isInteger(slot) && slot >= 0 && slot < count) || covered[slot]) {
        throw new InvalidInputError(`Slot ${slot} is outside the batch of ${count} or given twice: each image goes to one place.`);
      }
      covered[slot] = 1;
    }
  }
  if (covered.includes(0)) throw new InvalidInputError(`The pieces leave image ${covered.indexOf(0)} of ${count} empty: every image needs a piece.`);

  const floatBytes = count * perImage * BYTES_PER_FLOAT;
  checkFits(device, floatBytes, 'The batch as float32');
  const table = device.createBuffer({ label: `${UNPACK_FLOAT.label}:table`, size: BYTE_TO_UNIT_FLOAT.byteLength, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
  // STORAGE | COPY_SRC is what tfjs requires of tensor data; COPY_DST as well because
  // tfjs' copy (copyBuffer) allocates its destination with the source's usage and then
  // copies into it, which needs COPY_DST. It is also the usage of tfjs' own tensor buffers,
  // so the copy comes from and returns to the same pool as theirs.
  const floats = device.createBuffer({
    label: `${UNPACK_FLOAT.label}:output`,
    size: floatBytes,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
  });
  const slotBuffers: GPUBuffer[] = [];
  try {
    device.queue.writeBuffer(table, 0, BYTE_TO_UNIT_FLOAT);
    for (const piece of pieces) {
      const slots = Uint32Array.from(piece.slots);
      const slotBuffer = device.createBuffer({ label: `${UNPACK_FLOAT.label}:slots`, size: slots.byteLength, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
      slotBuffers.push(slotBuffer);
      device.queue.writeBuffer(slotBuffer, 0, slots);
      const totalValues = piece.batch.count * perImage;
      await dispatchWords(device, UNPACK_FLOAT, { totalValues, totalWords: Math.ceil(totalValues / VALUES_PER_WORD), perImage }, [piece.batch.buffer, table, slotBuffer, floats]);
    }
    // No zeroCopy: tfjs copies `floats` into its own pooled buffer (submitted on the same
    // queue, so after the unpacks) and the tensor owns that copy.
    return tf.tensor<tf.Rank.R4>({ buffer: floats }, [count, shape.height, shape.width, shape.channels], 'float32');
  } finally {
    // Submitted by now (or never): WebGPU keeps destroyed buffers alive for submitted work.
    table.destroy();
    for (const b of slotBuffers) b.destroy();
    floats.destroy();
  }
}

/** One batch, in its own order, as a float32 tensor of byte / 255 (gpuPiecesToTensor with identity slots). */
export function gpuBatchToTensor(device: GPUDevice, batch: GpuImageBatch): Promise<tf.Tensor4D> {
  if (batch.count === 0) return Promise.reject(new InvalidInputError('The GPU batch is empty: pass at least one image.'));
  return gpuPiecesToTensor(device, [{ batch, slots: Array.from({ length: batch.count }, (_, i) => i) }], batch.shape, batch.count);
}
