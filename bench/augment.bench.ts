/**
 * The `augment` benchmark (issue 5): images/s of a 6-transform pipeline (flip, rotate,
 * brightness, contrast, gamma, gaussian-blur) on 96×96 RGB images, three ways on the same
 * images and the same drawn plans, in one run:
 * - fused GPU: gpu/execute.ts' executePlansGpu (upload, one lut dispatch for the three
 *   pointwise steps, flip, warp, blur, read back), in Node through Dawn on SwiftShader;
 * - per-op tfjs: the same six as tfjs ops on the wasm backend (reverse, image.transform
 *   bilinear, add, mul/add, pow, depthwiseConv2d with the Gaussian taps, each step
 *   rounded and clipped to 0..255 as the uint8 pipeline does), batched over all images;
 * - the CPU reference: applyPlanCpu per image.
 * SwiftShader is a CPU emulation of a GPU: the fused figure is not a real-GPU figure, it
 * shows the fusion's dispatch count and that the path runs, not what a GPU would reach.
 *
 * Usage: `npm run bench -- augment`.
 */
import { installDawnGpu } from '../tests/unit/helpers/dawn.ts';
import { emit, ratio, round, runBench, timeIt } from './harness.ts';
import { registerRawImports } from './support/raw-wgsl.ts';

const BENCH = 'augment';
const SIZE_PX = 96;
const CHANNELS = 3;
const IMAGES = 64;
const SEED = 5;
const RUNS = { warmup: 1, n: 5 };
const BLUR_KSIZE = 5;
const BLUR_SIGMA = 1;
const MAX_U8 = 255;

await runBench(BENCH, async () => {
  const dawn = await installDawnGpu();
  if (!dawn.ok) {
    emit({ bench: BENCH, error: `Dawn (WebGPU in Node) is unavailable: ${dawn.reason}` });
    return;
  }
  registerRawImports();
  // Loaded after Dawn and the hook: tfjs-backend-webgpu reads navigator.gpu at import, and
  // the GPU programs import WGSL with `?raw`.
  const { Rng } = await import('../src/lib/data/rng.ts');
  const { applyPlanCpu, planPipeline } = await import('../src/lib/augment/pipeline.ts');
  const { TRANSFORMS } = await import('../src/lib/augment/registry.ts');
  const { executePlansGpuWithStats } = await import('../src/lib/augment/gpu/execute.ts');
  const { acquireGpuDevice, releaseGpuDevice } = await import('../src/lib/augment/gpu/device.ts');
  const { imageCentre, invertAffine, rotationMatrix } = await import('../src/lib/augment/geometry.ts');
  const { useBackend } = await import('../src/lib/compute/backends.ts');
  const { tf } = await import('../src/lib/compute/register.ts');
  type ImageU8 = import('../src/lib/augment/types.ts').ImageU8;
  type PlannedStep = import('../src/lib/augment/pipeline.ts').PlannedStep;
  type PipelineSpec = import('../src/lib/augment/pipeline.ts').PipelineSpec;

  const spec: PipelineSpec = {
    version: 1,
    steps: [
      { transform: 'flip', params: { mode: 'horizontal' } },
      { transform: 'rotate', params: { angleRange: [-15, 15], border: 'reflect101' } },
      { transform: 'brightness', params: { betaRange: [-30, 30] } },
      { transform: 'contrast', params: { alphaRange: [0.8, 1.2] } },
      { transform: 'gamma', params: { gammaRange: [0.8, 1.25] } },
      // One kernel for every image, so the tfjs baseline can run it as one batched conv.
      { transform: 'gaussian-blur', params: { ksizeRange: BLUR_KSIZE, sigmaRange: BLUR_SIGMA } },
    ],
  };
  const rng = new Rng(SEED);
  const shape = { width: SIZE_PX, height: SIZE_PX, channels: CHANNELS } as const;
  const images: ImageU8[] = Array.from({ length: IMAGES }, () => {
    const data = new Uint8Array(SIZE_PX * SIZE_PX * CHANNELS);
    for (let i = 0; i < data.length; i++) data[i] = rng.int(MAX_U8 + 1);
    return { ...shape, data };
  });
  const plans: PlannedStep[][] = images.map((img, i) => planPipeline(spec, TRANSFORMS, SEED * 1_000_000 + i, img));

  // (ii) the CPU reference.
  let cpuOut: ImageU8[] = [];
  const cpu = await timeIt(() => {
    cpuOut = images.map((img, i) => applyPlanCpu(img, plans[i] as PlannedStep[], TRANSFORMS));
  }, RUNS);

  // The fused GPU path, on Hearth's own Dawn device (tfjs is not on webgpu here).
  await useBackend('wasm');
  const { device } = await acquireGpuDevice();
  let gpuOut: ImageU8[] = [];
  let stats = { dispatches: 0, lutDispatches: 0, fusedSteps: 0, cpuSteps: 0, splits: 0, uploads: 0 };
  const gpu = await timeIt(async () => {
    const result = await executePlansGpuWithStats(device, images, plans);
    gpuOut = result.images;
    stats = result.stats;
  }, RUNS);
  const gpuMatchesCpu = gpuOut.every((img, i) => Buffer.from(img.data).equals(Buffer.from((cpuOut[i] as ImageU8).data)));

  // (i) per-op tfjs, with each image's drawn parameters.
  const param = (plan: readonly PlannedStep[], name: string): Record<string, number> => plan.find((s) => s.transform === name)?.params as Record<string, number>;
  const perImage = (f: (plan: readonly PlannedStep[]) => number) => tf.tensor4d(plans.map(f), [IMAGES, 1, 1, 1]);
  const [cx, cy] = imageCentre(SIZE_PX, SIZE_PX);
  // tf.image.transform maps output to input coordinates: the inverse of the forward rotation.
  const rotations = tf.tensor2d(
    plans.flatMap((plan) => {
      const [a, b, c, d, e, f] = invertAffine(rotationMatrix(cx, cy, param(plan, 'rotate').angleDeg as number, 1));
      return [a, b, c, d, e, f, 0, 0];
    }),
    [IMAGES, 8],
  );
  const beta = perImage((p) => param(p, 'brightness').beta as number);
  const alpha = perImage((p) => param(p, 'contrast').alpha as number);
  const contrastBeta = perImage((p) => param(p, 'contrast').beta as number);
  const gamma = perImage((p) => param(p, 'gamma').gamma as number);
  const half = (BLUR_KSIZE - 1) / 2;
  const taps1d = Array.from({ length: BLUR_KSIZE }, (_, i) => Math.exp(-((i - half) ** 2) / (2 * BLUR_SIGMA ** 2)));
  const tapSum = taps1d.reduce((s, v) => s + v, 0);
  const taps2d: number[] = [];
  for (let y = 0; y < BLUR_KSIZE; y++) for (let x = 0; x < BLUR_KSIZE; x++) for (let c = 0; c < CHANNELS; c++) taps2d.push(((taps1d[y] as number) * (taps1d[x] as number)) / tapSum ** 2);
  const blurKernel = tf.tensor4d(taps2d, [BLUR_KSIZE, BLUR_KSIZE, CHANNELS, 1]);
  const batchBytes = new Uint8Array(IMAGES * SIZE_PX * SIZE_PX * CHANNELS);
  images.forEach((img, i) => batchBytes.set(img.data, i * img.data.length));
  const u8 = (t: import('@tensorflow/tfjs').Tensor4D): import('@tensorflow/tfjs').Tensor4D => tf.clipByValue(tf.round(t), 0, MAX_U8);
  const tfjs = await timeIt(() => {
    const out = tf.tidy(() => {
      let x = tf.tensor4d(Int32Array.from(batchBytes), [IMAGES, SIZE_PX, SIZE_PX, CHANNELS], 'int32').toFloat();
      x = tf.reverse(x, 2);
      x = u8(tf.image.transform(x, rotations, 'bilinear', 'reflect'));
      x = u8(tf.add(x, beta));
      x = u8(tf.add(tf.mul(x, alpha), contrastBeta));
      x = u8(tf.mul(tf.pow(tf.div(x, MAX_U8), gamma), MAX_U8));
      x = u8(tf.depthwiseConv2d(x, blurKernel, 1, 'same'));
      return x.toInt();
    });
    out.dataSync();
    out.dispose();
  }, RUNS);
  tf.dispose([rotations, beta, alpha, contrastBeta, gamma, blurKernel]);
  await releaseGpuDevice();

  const perSecond = (ms: number): number => round((IMAGES * 1000) / ms);
  const gpuRate = perSecond(gpu.medianMs);
  const common = {
    metric: 'img_per_s',
    n: RUNS.n,
    images: IMAGES,
    size: `${SIZE_PX}x${SIZE_PX}x${CHANNELS}`,
    pipeline: spec.steps.map((s) => s.transform).join(','),
    adapter: dawn.adapterName,
    note: 'fused GPU runs in Node through Dawn on SwiftShader, a CPU emulation of a GPU: not a real-GPU figure',
  };
  emit({ bench: `${BENCH}-cpu-reference`, metric: 'img_per_s', value: perSecond(cpu.medianMs), backend: 'cpu-typescript', n: RUNS.n, images: IMAGES });
  emit({ bench: `${BENCH}-tfjs-per-op`, metric: 'img_per_s', value: perSecond(tfjs.medianMs), backend: `tfjs-${tf.getBackend()}`, n: RUNS.n, images: IMAGES });
  emit({ bench: `${BENCH}-fused-stats`, ...stats, steps_per_image: spec.steps.length, gpu_equals_cpu_reference: gpuMatchesCpu });
  emit({ bench: `${BENCH}-fused-vs-cpu`, ...common, value: gpuRate, baseline: 'cpu-reference', baseline_value: perSecond(cpu.medianMs), ratio: ratio(gpuRate, perSecond(cpu.medianMs)), backend: 'webgpu-swiftshader' });
  emit({ bench: `${BENCH}-fused-vs-tfjs`, ...common, value: gpuRate, baseline: `tfjs-per-op-${tf.getBackend()}`, baseline_value: perSecond(tfjs.medianMs), ratio: ratio(gpuRate, perSecond(tfjs.medianMs)), backend: 'webgpu-swiftshader' });
});
