/**
 * The tensor bridge (gpu/to-tensor.ts) on Dawn over SwiftShader with tfjs' WebGPU backend:
 * augmented batches become float32 tensors equal, value for value, to the CPU path
 * (applyPlanCpu, then byte / 255 into a Float32Array), pieces land in their slots, and a
 * tensor of pixels / 255 packs back into exactly its bytes; no tensor or GPU error is left
 * behind; another backend or another device is refused with GpuTensorUnavailableError.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installDawnGpu } from './helpers/dawn';
import { Rng } from '../../src/lib/data/rng';
import { applyPlanCpu, planPipeline, type PipelineSpec, type PlannedStep } from '../../src/lib/augment/pipeline';
import { TRANSFORMS } from '../../src/lib/augment/registry';
import { executePlansGpuToPieces } from '../../src/lib/augment/gpu/execute';
import { readImages, uploadImages } from '../../src/lib/augment/gpu/runner';
import type { ImageU8 } from '../../src/lib/augment/types';

const dawn = await installDawnGpu();
if (!dawn.ok) console.warn(`augment-gpu-tensor: GPU tests skipped: ${dawn.reason}`);
else console.info(`augment-gpu-tensor: Dawn adapter ${dawn.adapterName}`);

// tfjs' WebGPU backend registers only if navigator.gpu exists when it is imported, so
// everything that imports tfjs is loaded after Dawn is installed.
const { tf } = await import('../../src/lib/compute/register');
const deviceModule = await import('../../src/lib/augment/gpu/device');
const { gpuBatchToTensor, gpuPiecesToTensor, isTfjsWebGpuDevice, tensorToGpuBatch, GpuTensorUnavailableError } = await import('../../src/lib/augment/gpu/to-tensor');

/** SwiftShader runs every shader on the CPU: compiling the warp and blur takes seconds. */
const GPU_TEST_TIMEOUT_MS = 120_000;
const U8_MAX = 255;

/** Steps whose GPU kernels give applyPlanCpu's bytes exactly (see augment-execute.test.ts). */
const SPEC: PipelineSpec = {
  version: 1,
  steps: [
    { transform: 'flip', params: { mode: 'both' } },
    { transform: 'rotate', params: { angleRange: [-25, 25], border: 'reflect101' } },
    { transform: 'brightness', params: { betaRange: [-40, 40] } },
    { transform: 'contrast', params: { alphaRange: [0.7, 1.4] } },
    { transform: 'gaussian-blur', params: { ksizeRange: [3, 7], sigmaRange: [0.5, 2] } },
  ],
};

function randomImage(rng: Rng, width: number, height: number, channels: 1 | 3): ImageU8 {
  const data = new Uint8Array(width * height * channels);
  for (let i = 0; i < data.length; i++) data[i] = rng.int(U8_MAX + 1);
  return { width, height, channels, data };
}

/** What the CPU training path feeds: every image's bytes / 255, stored as float32. */
function cpuFloats(images: readonly ImageU8[]): Float32Array {
  const perImage = images[0]?.data.length ?? 0;
  const out = new Float32Array(images.length * perImage);
  images.forEach((img, i) => img.data.forEach((v, j) => (out[i * perImage + j] = v / U8_MAX)));
  return out;
}

const gpuErrors: string[] = [];
let unsubscribe: (() => void) | null = null;
let previousBackend = 'cpu';

beforeAll(async () => {
  if (!dawn.ok) return;
  previousBackend = tf.getBackend() ?? 'cpu';
  if (!(await tf.setBackend('webgpu'))) throw new Error('tfjs could not start its WebGPU backend on Dawn');
  unsubscribe = deviceModule.onGpuDeviceEvent((event) => gpuErrors.push(`${event.kind}: ${event.message}`));
});
afterAll(async () => {
  unsubscribe?.();
  if (dawn.ok) await tf.setBackend(previousBackend);
  await deviceModule.releaseGpuDevice();
});

describe.skipIf(!dawn.ok)('gpuBatchToTensor on Dawn', () => {
  it.each([
    { channels: 3 as const, width: 37, height: 29, count: 5, seed: 11 },
    { channels: 1 as const, width: 23, height: 17, count: 3, seed: 12 },
    { channels: 3 as const, width: 5, height: 3, count: 1, seed: 13 },
  ])(
    '$count image(s) $width×$height×$channels, seed $seed: exactly the CPU path\'s floats, nothing left behind',
    async ({ channels, width, height, count, seed }) => {
      const handle = await deviceModule.acquireGpuDevice();
      expect(handle.owner).toBe('tfjs');
      expect(isTfjsWebGpuDevice(handle.device)).toBe(true);
      const rng = new Rng(seed);
      const images = Array.from({ length: count }, () => randomImage(rng, width, height, channels));
      const plans = images.map((img, i) => planPipeline(SPEC, TRANSFORMS, seed * 1000 + i, img));
      const expected = cpuFloats(images.map((img, i) => applyPlanCpu(img, plans[i] as PlannedStep[], TRANSFORMS)));

      const tensorsBefore = tf.memory().numTensors;
      const run = await executePlansGpuToPieces(handle.device, images, plans);
      let tensor: Awaited<ReturnType<typeof gpuPiecesToTensor>>;
      try {
        tensor = await gpuPiecesToTensor(handle.device, run.pieces, images[0] as ImageU8, count);
      } finally {
        // The tensor owns a copy: the pieces may go before the tensor is ever read.
        run.release();
      }
      try {
        expect(tensor.shape).toEqual([count, height, width, channels]);
        expect(tensor.dtype).toBe('float32');
        expect(tf.memory().numTensors).toBe(tensorsBefore + 1);
        const got = await tensor.data();
        expect(got.length).toBe(expected.length);
        const firstDiff = got.findIndex((v, i) => v !== expected[i]);
        expect(firstDiff, `value ${firstDiff}: ${got[firstDiff]} vs ${expected[firstDiff]}`).toBe(-1);
        // And tfjs kernels can use it like any tensor of its own.
        const sum = tf.sum(tensor);
        expect(Math.abs((await sum.data())[0] as number - expected.reduce((a, b) => a + b, 0))).toBeLessThan(expected.length * 1e-5);
        sum.dispose();
      } finally {
        tensor.dispose();
      }
      expect(tf.memory().numTensors).toBe(tensorsBefore);
      expect(gpuErrors).toEqual([]);
    },
    GPU_TEST_TIMEOUT_MS,
  );

  it('maps every byte 0..255 to the float32 of byte / 255', async () => {
    const { device } = await deviceModule.acquireGpuDevice();
    // 256 values, then one more so the last word is only partly used.
    const ramp: ImageU8 = { width: 257, height: 1, channels: 1, data: Uint8Array.from({ length: 257 }, (_, v) => v % 256) };
    const batch = uploadImages(device, [ramp]);
    try {
      const tensor = await gpuBatchToTensor(device, batch);
      const got = await tensor.data();
      tensor.dispose();
      expect(Array.from(got)).toEqual(Array.from(cpuFloats([ramp])));
    } finally {
      batch.buffer.destroy();
    }
    expect(gpuErrors).toEqual([]);
  }, GPU_TEST_TIMEOUT_MS);

  it('puts each piece\'s images in their slots, and refuses pieces that do not tile the batch', async () => {
    const { device } = await deviceModule.acquireGpuDevice();
    const rng = new Rng(21);
    const images = Array.from({ length: 5 }, () => randomImage(rng, 6, 4, 3));
    // Two pieces, out of order: [3, 0] and [4, 1, 2].
    const a = uploadImages(device, [images[3] as ImageU8, images[0] as ImageU8]);
    const b = uploadImages(device, [images[4] as ImageU8, images[1] as ImageU8, images[2] as ImageU8]);
    const shape = { width: 6, height: 4, channels: 3 as const };
    const before = tf.memory().numTensors;
    try {
      const tensor = await gpuPiecesToTensor(device, [{ batch: a, slots: [3, 0] }, { batch: b, slots: [4, 1, 2] }], shape, 5);
      expect(Array.from(await tensor.data())).toEqual(Array.from(cpuFloats(images)));
      tensor.dispose();
      await expect(gpuPiecesToTensor(device, [{ batch: a, slots: [3, 0] }], shape, 5)).rejects.toMatchObject({ name: 'InvalidInputError' });
      await expect(gpuPiecesToTensor(device, [{ batch: a, slots: [0, 0] }], shape, 2)).rejects.toMatchObject({ name: 'InvalidInputError' });
      await expect(gpuPiecesToTensor(device, [{ batch: a, slots: [1, 0] }], { ...shape, width: 5 }, 2)).rejects.toMatchObject({ name: 'InvalidInputError' });
    } finally {
      a.buffer.destroy();
      b.buffer.destroy();
    }
    expect(tf.memory().numTensors).toBe(before);
    expect(gpuErrors).toEqual([]);
  }, GPU_TEST_TIMEOUT_MS);

  it.each([
    { channels: 1 as const, width: 28, height: 28, count: 4 },
    { channels: 3 as const, width: 7, height: 5, count: 3 },
  ])('packs a tensor of pixels / 255 ($count × $width×$height×$channels) back into exactly its bytes, on the GPU', async ({ channels, width, height, count }) => {
    const { device } = await deviceModule.acquireGpuDevice();
    // Every byte value appears, in random order, so each of the 256 levels is checked.
    const rng = new Rng(width * 31 + channels);
    const images = Array.from({ length: count }, () => randomImage(rng, width, height, channels));
    images[0]?.data.set(Uint8Array.from({ length: Math.min(256, width * height * channels) }, (_, v) => v));
    const before = tf.memory().numTensors;
    const x = tf.tensor4d(cpuFloats(images), [count, height, width, channels]);
    const batch = await tensorToGpuBatch(device, x as Parameters<typeof tensorToGpuBatch>[1]);
    try {
      // The tensor is left as it was, and nothing else is left behind.
      expect(x.isDisposed).toBe(false);
      expect(tf.memory().numTensors).toBe(before + 1);
      expect(batch).toMatchObject({ count, shape: { width, height, channels } });
      expect(await readImages(device, batch)).toEqual(images);
    } finally {
      batch.buffer.destroy();
      x.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    expect(gpuErrors).toEqual([]);
  }, GPU_TEST_TIMEOUT_MS);

  it('refuses a batch on another device than the backend\'s, saying to use the CPU path', async () => {
    const adapter = await navigator.gpu.requestAdapter();
    if (!adapter) throw new Error('no adapter');
    const other = await adapter.requestDevice({ label: 'augment-gpu-tensor:other' });
    const image: ImageU8 = { width: 2, height: 2, channels: 1, data: Uint8Array.from([0, 1, 2, 3]) };
    const batch = uploadImages(other, [image]);
    const tensorsBefore = tf.memory().numTensors;
    try {
      expect(isTfjsWebGpuDevice(other)).toBe(false);
      const attempt = gpuBatchToTensor(other, batch);
      await expect(attempt).rejects.toBeInstanceOf(GpuTensorUnavailableError);
      await expect(attempt).rejects.toThrow(/another device.*CPU path/);
    } finally {
      batch.buffer.destroy();
      other.destroy();
    }
    expect(tf.memory().numTensors).toBe(tensorsBefore);
  });

  it('refuses when the active backend is not webgpu', async () => {
    const { device } = await deviceModule.acquireGpuDevice();
    const image: ImageU8 = { width: 2, height: 1, channels: 1, data: Uint8Array.from([9, 8]) };
    const batch = uploadImages(device, [image]);
    expect(await tf.setBackend('cpu')).toBe(true);
    try {
      const attempt = gpuBatchToTensor(device, batch);
      await expect(attempt).rejects.toBeInstanceOf(GpuTensorUnavailableError);
      await expect(attempt).rejects.toThrow(/backend is "cpu".*CPU path/);
      expect(isTfjsWebGpuDevice(device)).toBe(false);
    } finally {
      batch.buffer.destroy();
      await tf.setBackend('webgpu');
    }
  });
});
