/**
 * Otsu thresholding (threshold-otsu and threshold-otsu-inv) on a batch already on the GPU.
 * Otsu is global: every output value depends on the whole image's histogram, which a
 * runner program (one output word per invocation, no shared memory across the image)
 * cannot compute. So it is three steps:
 *
 * 1. to-gray (when the input has three channels), as the CPU kernel converts first;
 * 2. a histogram pass of our own (otsu-histogram.wgsl, atomics), 256 counts per image;
 * 3. the counts are read back (1 KiB per image) and the threshold is chosen on the CPU,
 *    in double precision in OpenCV's order, because WGSL has no f64 and the argmax of
 *    the between-class variance can turn on the last bits of a double; then the
 *    threshold program runs with each image's level as its parameter.
 *
 * The readback is a small synchronisation point, not an image round trip: the pixels stay
 * on the GPU. Exact: the same threshold as threshold.ts' otsuThreshold, the same bytes.
 */
import { InvalidInputError } from '../../../jobs/errors';
import type { ImageU8 } from '../../types';
import { dispatchProgram, GpuProgramError, readImages, uploadImages, type GpuImageBatch } from '../runner';
import wgsl from './otsu-histogram.wgsl?raw';
import { thresholdProgram } from './threshold';
import { toGrayProgram } from './to-gray';

export interface OtsuProgramParams {
  /** Whole number in [0, 255] written where the test passes (binary) or fails (inverse). */
  maxValue: number;
  inverse: boolean;
}

const LEVELS = 256;
const BYTES_PER_WORD = 4;
const VALUES_PER_WORD = 4;
const WORKGROUP_SIZE = 64;
/** 4 u32 in otsu-histogram.wgsl's HistShape (a uniform is sized in 16-byte steps). */
const HIST_SHAPE_WORDS = 4;
/** C's FLT_EPSILON, OpenCV's cut-off for a class too small to count. */
const FLT_EPSILON = 1.1920928955078125e-7;

const pipelines = new WeakMap<GPUDevice, Promise<GPUComputePipeline>>();

/**
 * OpenCV's getThreshVal_Otsu_8u from a histogram: the first level that maximises the
 * between-class variance, in doubles, in the same order as threshold.ts' otsuThreshold
 * (which builds the same histogram from the pixels), so the two agree to the bit.
 */
export function otsuThresholdFromHistogram(histogram: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < LEVELS; i++) total += histogram[i] as number;
  const scale = 1 / total;
  let mu = 0;
  for (let i = 0; i < LEVELS; i++) mu += i * (histogram[i] as number);
  mu *= scale;
  let mu1 = 0;
  let q1 = 0;
  let maxSigma = 0;
  let maxVal = 0;
  for (let i = 0; i < LEVELS; i++) {
    const pi = (histogram[i] as number) * scale;
    mu1 *= q1;
    q1 += pi;
    const q2 = 1 - q1;
    if (Math.min(q1, q2) < FLT_EPSILON || Math.max(q1, q2) > 1 - FLT_EPSILON) continue;
    mu1 = (mu1 + i * pi) / q1;
    const mu2 = (mu - q1 * mu1) / q2;
    const sigma = q1 * q2 * (mu1 - mu2) * (mu1 - mu2);
    if (sigma > maxSigma) {
      maxSigma = sigma;
      maxVal = i;
    }
  }
  return maxVal;
}

function histogramPipeline(device: GPUDevice): Promise<GPUComputePipeline> {
  let pipeline = pipelines.get(device);
  if (!pipeline) {
    pipeline = (async () => {
      device.pushErrorScope('validation');
      const module = device.createShaderModule({ label: 'augment:otsu-histogram', code: wgsl });
      const error = await device.popErrorScope();
      if (error) throw new GpuProgramError(`augment:otsu-histogram: the WGSL did not compile: ${error.message}`);
      try {
        return await device.createComputePipelineAsync({ label: 'augment:otsu-histogram', layout: 'auto', compute: { module, entryPoint: 'main' } });
      } catch (err) {
        throw new GpuProgramError(`augment:otsu-histogram: the GPU refused the pipeline: ${err instanceof Error ? err.message : String(err)}`);
      }
    })();
    // A failed compile must not stay cached as a rejected promise.
    pipeline.catch(() => pipelines.delete(device));
    pipelines.set(device, pipeline);
  }
  return pipeline;
}

/** 256 counts per image of a 1-channel batch on the GPU, read back to the CPU. */
export async function histogramsGpu(device: GPUDevice, gray: GpuImageBatch): Promise<Uint32Array[]> {
  if (gray.shape.channels !== 1) throw new InvalidInputError('otsu-histogram needs a 1-channel batch: run to-gray first.');
  const valuesPerImage = gray.shape.width * gray.shape.height;
  const totalValues = valuesPerImage * gray.count;
  const words = Math.ceil(totalValues / VALUES_PER_WORD);
  const maxGroups = device.limits.maxComputeWorkgroupsPerDimension;
  const groupsX = Math.min(Math.ceil(words / WORKGROUP_SIZE), maxGroups);
  const threadsPerRow = groupsX * WORKGROUP_SIZE;
  const groupsY = Math.ceil(words / threadsPerRow);
  if (groupsY > maxGroups) throw new InvalidInputError('otsu-histogram: the batch is too large for one dispatch; split it.');
  const pipeline = await histogramPipeline(device);

  const histBytes = gray.count * LEVELS * BYTES_PER_WORD;
  const uniform = device.createBuffer({ label: 'augment:otsu-histogram:shape', size: HIST_SHAPE_WORDS * BYTES_PER_WORD, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  // New buffers are zero-filled by WebGPU: the counts start at 0.
  const histogram = device.createBuffer({ label: 'augment:otsu-histogram', size: histBytes, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
  const staging = device.createBuffer({ label: 'augment:otsu-histogram:readback', size: histBytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  try {
    device.pushErrorScope('validation');
    device.queue.writeBuffer(uniform, 0, new Uint32Array([valuesPerImage, totalValues, threadsPerRow, 0]));
    const bindGroup = device.createBindGroup({
      label: 'augment:otsu-histogram',
      layout: pipeline.getBindGroupLayout(0),
      entries: [
        { binding: 0, resource: { buffer: uniform } },
        { binding: 1, resource: { buffer: gray.buffer } },
        { binding: 2, resource: { buffer: histogram } },
      ],
    });
    const encoder = device.createCommandEncoder({ label: 'augment:otsu-histogram' });
    const pass = encoder.beginComputePass({ label: 'augment:otsu-histogram' });
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(groupsX, groupsY);
    pass.end();
    encoder.copyBufferToBuffer(histogram, 0, staging, 0, histBytes);
    device.queue.submit([encoder.finish()]);
    const error = await device.popErrorScope();
    if (error) throw new GpuProgramError(`augment:otsu-histogram: the GPU rejected the dispatch: ${error.message}`);
    await staging.mapAsync(GPUMapMode.READ);
    const counts = new Uint32Array(staging.getMappedRange());
    // slice() copies: the mapped range is detached when the buffer is destroyed.
    return Array.from({ length: gray.count }, (_, i) => counts.slice(i * LEVELS, (i + 1) * LEVELS));
  } finally {
    uniform.destroy();
    histogram.destroy();
    staging.destroy();
  }
}

/**
 * Otsu threshold of every image of a batch on the GPU; returns a new 1-channel batch (the
 * input is left alone; the caller destroys both). `params`: one for all, or one per image.
 */
export async function dispatchThresholdOtsu(
  device: GPUDevice,
  input: GpuImageBatch,
  params: OtsuProgramParams | readonly OtsuProgramParams[],
): Promise<GpuImageBatch> {
  const perImage: readonly OtsuProgramParams[] = Array.isArray(params) ? params : Array.from({ length: input.count }, () => params as OtsuProgramParams);
  if (perImage.length !== input.count) {
    throw new InvalidInputError(`augment:threshold-otsu: ${perImage.length} parameter sets for ${input.count} images; pass one, or one per image.`);
  }
  const gray = input.shape.channels === 1 ? input : await dispatchProgram(device, toGrayProgram, input, undefined);
  try {
    const histograms = await histogramsGpu(device, gray);
    const thresholds = perImage.map((p, i) => ({ thresh: otsuThresholdFromHistogram(histograms[i] as Uint32Array), maxval: p.maxValue, inverse: p.inverse }));
    return await dispatchProgram(device, thresholdProgram, gray, thresholds);
  } finally {
    if (gray !== input) gray.buffer.destroy();
  }
}

/** Upload, Otsu-threshold, read back; every buffer it made is destroyed before it returns. */
export async function runThresholdOtsuGpu(
  device: GPUDevice,
  images: readonly ImageU8[],
  params: OtsuProgramParams | readonly OtsuProgramParams[],
): Promise<ImageU8[]> {
  const input = uploadImages(device, images, 'augment:threshold-otsu:input');
  let output: GpuImageBatch | null = null;
  try {
    output = await dispatchThresholdOtsu(device, input, params);
    return await readImages(device, output);
  } finally {
    input.buffer.destroy();
    output?.buffer.destroy();
  }
}
