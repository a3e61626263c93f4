/**
 * The `train-augment` benchmark: images/s of Hearth's training loop (trainModel on LeNet,
 * real MNIST, streamed from IndexedDB — fake-indexeddb in Node) with an on-the-fly
 * augmentation pipeline against the same loop without one, on the same backend, images,
 * batch size and seed, for every backend Node has:
 * - wasm and cpu: the hook's CPU path (the CPU kernels over the bytes the loop read);
 * - webgpu: tfjs' WebGPU backend on Dawn over SwiftShader, the hook's GPU path (the batch
 *   packed on the device, fused dispatches, assembled into the input tensor, no readback).
 *   SwiftShader is a CPU emulation of a GPU: its figures show the path runs and what it
 *   costs relative to training on the same emulated device, not what a real GPU reaches.
 * webgl has no Node implementation and is left out.
 *
 * The pipeline: rotate ±15° and translate ±10 % (bilinear warps), brightness and contrast
 * (fused into one lookup table), cutout (p 0.5) and mixup (p 0.5, soft labels): all with
 * GPU kernels, so the GPU path reports no CPU fallback.
 *
 * Scaled to this 2-core machine: 2,048 images on wasm, 256 on webgpu, 128 on cpu, one
 * epoch per timed run. `npm run bench -- train-augment --full` runs 8,192 / 1,024 / 512.
 *
 * Usage: `npm run bench -- train-augment [--full]`.
 */
import 'fake-indexeddb/auto';
import { installDawnGpu } from '../tests/unit/helpers/dawn.ts';
import { readMnistFiles } from '../tests/helpers/mnist.ts';
import { emit, median, ratio, round, runBench } from './harness.ts';
import { registerRawImports } from './support/raw-wgsl.ts';

const BENCH = 'train-augment';
const FULL = process.argv.includes('--full');
const BATCH = 32;
const INPUT = { width: 28, height: 28, channels: 1, resize: 'stretch' } as const;
const CLASSES = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];
type Backend = 'wasm' | 'webgpu' | 'cpu';
/** Images and timed runs per backend: each backend's speed decides how much fits in a few minutes. */
const PLAN: Record<Backend, { images: number; warmup: number; n: number }> = {
  wasm: { images: FULL ? 8192 : 2048, warmup: 1, n: 3 },
  webgpu: { images: FULL ? 1024 : 256, warmup: 1, n: 3 },
  cpu: { images: FULL ? 512 : 128, warmup: 1, n: 2 },
};
const CONFIG = {
  epochs: 1,
  batchSize: BATCH,
  optimizer: { kind: 'sgd' as const, lr: 0.01, momentum: 0.9, nesterov: false },
  weightDecay: 0,
  schedule: { kind: 'constant' as const },
  seed: 1,
};

await runBench(BENCH, async () => {
  emit({
    bench: BENCH,
    note: `scaled to this machine: ${PLAN.wasm.images} images on wasm, ${PLAN.webgpu.images} on webgpu (Dawn on SwiftShader), ${PLAN.cpu.images} on cpu; --full for ${FULL ? 'this' : '4× more'}`,
    full: FULL,
  });
  const dawn = await installDawnGpu();
  if (!dawn.ok) emit({ bench: BENCH, warning: `webgpu left out: ${dawn.reason}` });
  registerRawImports();
  // Loaded after Dawn and the ?raw hook: tfjs-backend-webgpu reads navigator.gpu at import,
  // and the GPU programs import WGSL with `?raw`.
  const { useBackend } = await import('../src/lib/compute/backends.ts');
  const { buildSampleDataset, parseMnistFiles } = await import('../src/lib/data/samples/catalog.ts');
  const { createProject } = await import('../src/lib/storage/projects.ts');
  const { putSamples } = await import('../src/lib/storage/samples.ts');
  const { openHearthDb } = await import('../src/lib/storage/schema.ts');
  const { createVersion } = await import('../src/lib/storage/versions.ts');
  const { buildModel } = await import('../src/lib/train/models.ts');
  const { trainModel } = await import('../src/lib/train/train.ts');
  const { augmentationHook } = await import('../src/lib/train/augment-hook.ts');
  const { fallbackImageSteps } = await import('../src/lib/augment/report.ts');
  const { releaseGpuDevice } = await import('../src/lib/augment/gpu/device.ts');
  type PipelineSpec = import('../src/lib/augment/pipeline.ts').PipelineSpec;
  type AugmentationReport = import('../src/lib/augment/report.ts').AugmentationReport;

  const pipeline: PipelineSpec = {
    version: 1,
    steps: [
      { transform: 'rotate', params: { angleRange: [-15, 15] } },
      { transform: 'translate', params: { shiftXRange: [-0.1, 0.1], shiftYRange: [-0.1, 0.1] } },
      { transform: 'brightness', params: { betaRange: [-25, 25] } },
      { transform: 'contrast', params: { alphaRange: [0.8, 1.2] } },
      { transform: 'cutout', p: 0.5, params: { widthFractionRange: [0.1, 0.3], heightFractionRange: [0.1, 0.3] } },
      { transform: 'mixup', p: 0.5, params: { lambdaRange: [0.3, 0.7] } },
    ],
  };

  const db = await openHearthDb('train-augment-bench');
  const files = readMnistFiles();
  /** The first `count` MNIST training images as a project of their own (train split only). */
  const store = async (count: number): Promise<{ projectId: string; versionId: number }> => {
    const built = buildSampleDataset('mnist', parseMnistFiles(files), { maxPerSplit: count });
    const project = await createProject(db, { name: `mnist-${count}`, input: INPUT, classes: CLASSES, attributes: [], source: 'bench' });
    const samples = [];
    for (const s of built.samples) {
      if (s.split !== 'train') continue;
      samples.push({ projectId: project.id, key: s.key, fileName: s.fileName, label: s.label, split: 'train' as const, attributes: {}, provenance: { kind: 'real' as const }, original: null, pixelsHwc: s.pixelsHwc, createdAt: 0 });
    }
    await putSamples(db, samples);
    return { projectId: project.id, versionId: (await createVersion(db, project.id, { recipe: null, note: 'bench' })).id as number };
  };

  /**
   * img/s of one epoch of trainModel without the pipeline and with it, median over runs.
   * The two alternate run by run, so a machine that slows down mid-way slows both alike.
   */
  const measure = async (backend: Backend, data: { projectId: string; versionId: number }) => {
    const plan = PLAN[backend];
    const model = buildModel({ kind: 'lenet', input: INPUT, numClasses: CLASSES.length, seed: 1 });
    let report: AugmentationReport | null = null;
    const epoch = async (withPipeline: boolean): Promise<number> => {
      const hook = withPipeline ? augmentationHook(pipeline, { seed: CONFIG.seed, numClasses: CLASSES.length, input: INPUT }) : null;
      const start = performance.now();
      await trainModel(db, { projectId: data.projectId, versionId: data.versionId, model, config: CONFIG, ...(hook ? { hook: hook.apply } : {}) });
      const ms = performance.now() - start;
      if (hook) report = hook.report();
      return ms;
    };
    try {
      for (let i = 0; i < plan.warmup; i++) {
        await epoch(false);
        await epoch(true);
      }
      const without: number[] = [];
      const withAug: number[] = [];
      for (let i = 0; i < plan.n; i++) {
        without.push(await epoch(false));
        withAug.push(await epoch(true));
      }
      const rate = (ms: number[]): number => plan.images / (median(ms) / 1000);
      return { without: rate(without), withAug: rate(withAug), report: report as AugmentationReport | null };
    } finally {
      model.dispose();
    }
  };

  const backends: Backend[] = dawn.ok ? ['wasm', 'webgpu', 'cpu'] : ['wasm', 'cpu'];
  const ratios: Partial<Record<Backend, number>> = {};
  let headline: Record<string, unknown> | null = null;
  for (const backend of backends) {
    await useBackend(backend);
    const data = await store(PLAN[backend].images);
    const measured = await measure(backend, data);
    const report = measured.report;
    const onGpu = report?.path === 'gpu';
    ratios[backend] = ratio(measured.withAug, measured.without);
    const line = {
      bench: BENCH,
      metric: 'img_per_s',
      value: round(measured.withAug),
      baseline: 'trainModel-without-augmentation',
      baseline_value: round(measured.without),
      ratio: ratios[backend],
      backend,
      n: PLAN[backend].n,
      images: PLAN[backend].images,
      batch: BATCH,
      model: 'lenet-28x28x1',
      pipeline: pipeline.steps.map((s) => (s.p !== undefined ? `${s.transform}@${s.p}` : s.transform)).join(','),
      path: report?.path ?? null,
      // What only the GPU path has: steps that left the GPU, and how many dispatches a step took.
      cpu_fallback_image_steps: report && onGpu ? fallbackImageSteps(report) : null,
      readbacks: report && onGpu ? report.readbacks : null,
      dispatches_per_step: report && onGpu ? round(report.dispatches / report.gpuSteps, 3) : null,
    };
    emit(line);
    if (backend === 'wasm') headline = line;
  }
  db.close();
  await releaseGpuDevice();
  // The headline: wasm, the backend the studio measures fastest on a machine without a GPU.
  if (headline) emit({ ...headline, ratio_by_backend: ratios });
});
