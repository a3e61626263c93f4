/**
 * Runs one augmentation program (a WGSL `outputValue` function, see prelude.wgsl) over a
 * batch of same-sized HWC uint8 images. Images travel packed four bytes to a u32, each
 * image has its own parameter words (augmentation samples parameters per image, so one
 * dispatch serves a whole batch), and compiled pipelines are cached per device by the
 * program's cache key.
 *
 * Batches can stay on the GPU between programs (`uploadImages` → `dispatchProgram` … →
 * `readImages`); `runGpuProgram` does all three and destroys every buffer it made.
 */
import { HearthError, InvalidInputError } from '../../jobs/errors';
import type { ImageU8 } from '../types';
import preludeWgsl from './prelude.wgsl?raw';

export interface ImageShape {
  width: number;
  height: number;
  channels: 1 | 3;
}

/** One GPU program: its WGSL and how to turn typed parameters into words. */
export interface GpuProgram<P> {
  /** Same key, same WGSL: the compiled pipeline is reused under it. */
  readonly cacheKey: string;
  /** Names the pipeline and buffers in GPU error messages and captures. */
  readonly label: string;
  /** Defines `fn outputValue(image: u32, y: u32, x: u32, c: u32) -> u32` (prelude.wgsl). */
  readonly wgsl: string;
  outputShape(input: ImageShape, params: P): ImageShape;
  /**
   * This image's parameter words, read in WGSL with `paramU32` / `paramI32`. Every image
   * of a batch must give the same number of words.
   */
  paramWords(input: ImageShape, output: ImageShape, params: P): Uint32Array;
}

/** Images on the GPU: `count` images of `shape`, packed 4 values per u32. */
export interface GpuImageBatch {
  buffer: GPUBuffer;
  shape: ImageShape;
  count: number;
}

/**
 * The GPU refused a program: WGSL that does not compile or a dispatch that fails
 * validation. A bug in Hearth, not in the user's data; the message carries the GPU's own.
 */
export class GpuProgramError extends HearthError {
  constructor(message: string) {
    super(message, 'GpuProgramError');
  }
}

const WORKGROUP_SIDE = 8;
const BYTES_PER_WORD = 4;
/** 12 u32 in prelude.wgsl's `Shape`, a multiple of 16 bytes as uniforms require. */
const SHAPE_WORDS = 12;

const pipelineCache = new WeakMap<GPUDevice, Map<string, Promise<GPUComputePipeline>>>();
const layoutCache = new WeakMap<GPUDevice, GPUBindGroupLayout>();

/** Storage buffers are sized in whole words and may not be empty. */
function wordAlignedBytes(bytes: number): number {
  return Math.max(BYTES_PER_WORD, Math.ceil(bytes / BYTES_PER_WORD) * BYTES_PER_WORD);
}

function sameShape(a: ImageShape, b: ImageShape): boolean {
  return a.width === b.width && a.height === b.height && a.channels === b.channels;
}

function valuesPerImage(shape: ImageShape): number {
  return shape.width * shape.height * shape.channels;
}

function checkFits(device: GPUDevice, bytes: number, what: string): void {
  if (bytes > device.limits.maxStorageBufferBindingSize) {
    throw new InvalidInputError(
      `${what} needs ${bytes} bytes of GPU memory in one buffer, over this GPU's limit of ` +
        `${device.limits.maxStorageBufferBindingSize}: split the batch into smaller ones.`,
    );
  }
}

/**
 * One explicit layout for all programs: an 'auto' layout would drop bindings a program
 * does not read (flip reads no parameters) and then reject the shared bind group.
 */
function bindGroupLayout(device: GPUDevice): GPUBindGroupLayout {
  let layout = layoutCache.get(device);
  if (!layout) {
    layout = device.createBindGroupLayout({
      label: 'augment-runner',
      entries: [
        { binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform' } },
        { binding: 1, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'read-only-storage' } },
        { binding: 2, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'read-only-storage' } },
        { binding: 3, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'storage' } },
      ],
    });
    layoutCache.set(device, layout);
  }
  return layout;
}

async function compile<P>(device: GPUDevice, program: GpuProgram<P>): Promise<GPUComputePipeline> {
  // Without a scope a WGSL error would surface only as an uncaptured error event, and
  // the pipeline built from the broken module would fail with a vaguer message.
  device.pushErrorScope('validation');
  const module = device.createShaderModule({ label: program.label, code: `${preludeWgsl}\n${program.wgsl}` });
  const moduleError = await device.popErrorScope();
  if (moduleError) throw new GpuProgramError(`${program.label}: the WGSL did not compile: ${moduleError.message}`);
  try {
    return await device.createComputePipelineAsync({
      label: program.label,
      layout: device.createPipelineLayout({ label: program.label, bindGroupLayouts: [bindGroupLayout(device)] }),
      compute: { module, entryPoint: 'main' },
    });
  } catch (err) {
    throw new GpuProgramError(`${program.label}: the GPU refused the pipeline: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function pipelineFor<P>(device: GPUDevice, program: GpuProgram<P>): Promise<GPUComputePipeline> {
  let cache = pipelineCache.get(device);
  if (!cache) {
    cache = new Map();
    pipelineCache.set(device, cache);
  }
  let pipeline = cache.get(program.cacheKey);
  if (!pipeline) {
    pipeline = compile(device, program);
    // A program that failed to compile must not stay cached as a rejected promise.
    pipeline.catch(() => cache.delete(program.cacheKey));
    cache.set(program.cacheKey, pipeline);
  }
  return pipeline;
}

/** Copies same-sized images into one packed GPU buffer; the caller destroys `buffer`. */
export function uploadImages(device: GPUDevice, images: readonly ImageU8[], label = 'augment-input'): GpuImageBatch {
  const first = images[0];
  if (!first) throw new InvalidInputError('The batch is empty: pass at least one image.');
  const shape: ImageShape = { width: first.width, height: first.height, channels: first.channels };
  const perImage = valuesPerImage(shape);
  images.forEach((image, i) => {
    if (!sameShape(image, shape)) {
      throw new InvalidInputError(
        `Image ${i} is ${image.width}×${image.height}×${image.channels}, not ${shape.width}×${shape.height}×${shape.channels}: ` +
          'a GPU batch holds images of one size; resize first or run them in separate batches.',
      );
    }
    if (image.data.length !== perImage) {
      throw new InvalidInputError(`Image ${i} has ${image.data.length} values where its size needs ${perImage}.`);
    }
  });
  const bytes = wordAlignedBytes(perImage * images.length);
  checkFits(device, bytes, 'The input batch');
  const buffer = device.createBuffer({
    label,
    size: bytes,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    mappedAtCreation: true,
  });
  // WebGPU buffers are little-endian, so byte k of the batch lands in bits 8*(k%4) of word k/4.
  const bytesView = new Uint8Array(buffer.getMappedRange());
  images.forEach((image, i) => bytesView.set(image.data, i * perImage));
  buffer.unmap();
  return { buffer, shape, count: images.length };
}

/**
 * Runs `program` on a batch already on the GPU and returns a new batch (the input is left
 * alone; the caller destroys both). `params` is one value for every image or one per image.
 */
export async function dispatchProgram<P>(
  device: GPUDevice,
  program: GpuProgram<P>,
  input: GpuImageBatch,
  params: P | readonly P[],
): Promise<GpuImageBatch> {
  const perImageParams: readonly P[] = Array.isArray(params) ? (params as readonly P[]) : Array.from({ length: input.count }, () => params as P);
  if (perImageParams.length !== input.count) {
    throw new InvalidInputError(`${program.label}: ${perImageParams.length} parameter sets for ${input.count} images; pass one, or one per image.`);
  }
  return dispatchPerOutputImage(device, program, input, perImageParams);
}

/**
 * The general form of `dispatchProgram`: one output image per entry of `params`, however
 * many images `input` holds. Output image k is `program.outputValue(k, …)` with params[k],
 * and may read any input image: what a gather (programs/gather.ts) needs to pick a subset
 * of a batch on the GPU instead of reading it back to split it.
 */
export async function dispatchPerOutputImage<P>(
  device: GPUDevice,
  program: GpuProgram<P>,
  input: GpuImageBatch,
  params: readonly P[],
): Promise<GpuImageBatch> {
  const count = params.length;
  if (count === 0) throw new InvalidInputError(`${program.label}: no output images asked for; pass at least one parameter set.`);
  const outShape = program.outputShape(input.shape, params[0] as P);
  const words = params.map((p, i) => {
    if (!sameShape(program.outputShape(input.shape, p), outShape)) {
      throw new InvalidInputError(`${program.label}: image ${i} would come out a different size from image 0; a batch has one output size.`);
    }
    return program.paramWords(input.shape, outShape, p);
  });
  const wordsPerImage = words[0]?.length ?? 0;
  if (words.some((w) => w.length !== wordsPerImage)) {
    throw new InvalidInputError(`${program.label}: images gave different parameter lengths; a batch needs one layout.`);
  }

  const outBytes = wordAlignedBytes(valuesPerImage(outShape) * count);
  checkFits(device, outBytes, 'The output batch');
  const outWords = outBytes / BYTES_PER_WORD;
  const maxGroups = device.limits.maxComputeWorkgroupsPerDimension;
  const groupsX = Math.min(Math.ceil(outWords / WORKGROUP_SIDE), maxGroups);
  const threadsPerRow = groupsX * WORKGROUP_SIDE;
  const groupsY = Math.ceil(Math.ceil(outWords / threadsPerRow) / WORKGROUP_SIDE);
  if (groupsY > maxGroups) throw new InvalidInputError(`${program.label}: the batch is too large for one dispatch; split it.`);

  const pipeline = await pipelineFor(device, program);

  // prelude.wgsl's `count` is the number of OUTPUT images; inputValue indexes the input by
  // the image number it is given, so a gather may read any of input.count images.
  const shapeWords = new Uint32Array(SHAPE_WORDS);
  shapeWords.set([
    input.shape.width, input.shape.height, input.shape.channels, count,
    outShape.width, outShape.height, outShape.channels, wordsPerImage,
    threadsPerRow, outWords,
  ]);
  const paramsAll = new Uint32Array(Math.max(1, wordsPerImage * count));
  words.forEach((w, i) => paramsAll.set(w, i * wordsPerImage));
  checkFits(device, paramsAll.byteLength, 'The parameters');

  const uniform = device.createBuffer({ label: `${program.label}:shape`, size: shapeWords.byteLength, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  const paramBuffer = device.createBuffer({ label: `${program.label}:params`, size: paramsAll.byteLength, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
  const output = device.createBuffer({
    label: `${program.label}:output`,
    size: outBytes,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
  });
  device.pushErrorScope('validation');
  try {
    device.queue.writeBuffer(uniform, 0, shapeWords);
    device.queue.writeBuffer(paramBuffer, 0, paramsAll);
    const bindGroup = device.createBindGroup({
      label: program.label,
      layout: bindGroupLayout(device),
      entries: [
        { binding: 0, resource: { buffer: uniform } },
        { binding: 1, resource: { buffer: input.buffer } },
        { binding: 2, resource: { buffer: paramBuffer } },
        { binding: 3, resource: { buffer: output } },
      ],
    });
    const encoder = device.createCommandEncoder({ label: program.label });
    const pass = encoder.beginComputePass({ label: program.label });
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(groupsX, groupsY);
    pass.end();
    device.queue.submit([encoder.finish()]);
  } finally {
    // Destroying after submit is allowed: WebGPU frees them once the submitted work is done.
    uniform.destroy();
    paramBuffer.destroy();
  }
  const error = await device.popErrorScope();
  if (error) {
    output.destroy();
    throw new GpuProgramError(`${program.label}: the GPU rejected the dispatch: ${error.message}`);
  }
  return { buffer: output, shape: outShape, count };
}

/** Reads a batch back to the CPU as separate images; `batch.buffer` is left for the caller. */
export async function readImages(device: GPUDevice, batch: GpuImageBatch): Promise<ImageU8[]> {
  const perImage = valuesPerImage(batch.shape);
  const staging = device.createBuffer({
    label: 'augment-readback',
    size: wordAlignedBytes(perImage * batch.count),
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  try {
    const encoder = device.createCommandEncoder({ label: 'augment-readback' });
    encoder.copyBufferToBuffer(batch.buffer, 0, staging, 0, staging.size);
    device.queue.submit([encoder.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    const bytes = new Uint8Array(staging.getMappedRange());
    const { width, height, channels } = batch.shape;
    // slice() copies: the mapped range is detached when the buffer is destroyed.
    return Array.from({ length: batch.count }, (_, i) => ({
      width, height, channels,
      data: bytes.slice(i * perImage, (i + 1) * perImage),
    }));
  } finally {
    staging.destroy();
  }
}

/** Upload, run one program, read back; every buffer it made is destroyed before it returns. */
export async function runGpuProgram<P>(
  device: GPUDevice,
  program: GpuProgram<P>,
  images: readonly ImageU8[],
  params: P | readonly P[],
): Promise<ImageU8[]> {
  const input = uploadImages(device, images, `${program.label}:input`);
  let output: GpuImageBatch | null = null;
  try {
    output = await dispatchProgram(device, program, input, params);
    return await readImages(device, output);
  } finally {
    input.buffer.destroy();
    output?.buffer.destroy();
  }
}
