/**
 * The `train` benchmark: images/s of Hearth's training loop (`trainModel`: streaming
 * batches from IndexedDB — fake-indexeddb in Node —, the per-step schedule, our own
 * optimizer update, per-epoch checkpoint and run record) against plain tfjs
 * `model.trainOnBatch` on the same LeNet, batch size and backend with every batch already
 * in memory as tensors. The ratio is the loop's overhead. Also: peak V8 heap during one
 * training run, tf.memory().numTensors before / after, and the same loop on the wasm
 * backend (with Hearth's gradient kernels) against the cpu backend.
 *
 * Usage: `npm run bench -- train`.
 */
import 'fake-indexeddb/auto';
import { useBackend } from '../src/lib/compute/backends.ts';
import { tf } from '../src/lib/compute/register.ts';
import { buildSampleDataset, parseMnistFiles } from '../src/lib/data/samples/catalog.ts';
import { createProject } from '../src/lib/storage/projects.ts';
import { putSamples, type NewSample } from '../src/lib/storage/samples.ts';
import { openHearthDb, type HearthDb } from '../src/lib/storage/schema.ts';
import { createVersion } from '../src/lib/storage/versions.ts';
import { buildModel, pixelsToInput, type ModelSpec } from '../src/lib/train/models.ts';
import { trainModel, type TrainConfig } from '../src/lib/train/train.ts';
import { emit, peakHeap, ratio, round, runBench, timeIt } from './harness.ts';
import { readMnistFiles } from '../tests/helpers/mnist.ts';

const BENCH = 'train';
const BATCH = 32;
/** Training images for the wasm runs: 64 steps of 32. */
const WASM_IMAGES = 2048;
/** The cpu backend trains LeNet at ~10 img/s: 4 steps keep this under a minute. */
const CPU_IMAGES = 128;
const LR = 0.01;
const MOMENTUM = 0.9;
const INPUT = { width: 28, height: 28, channels: 1, resize: 'stretch' } as const;
const SPEC: ModelSpec = { kind: 'lenet', input: INPUT, numClasses: 10, seed: 1 };
const CONFIG: TrainConfig = {
  epochs: 1,
  batchSize: BATCH,
  optimizer: { kind: 'sgd', lr: LR, momentum: MOMENTUM, nesterov: false },
  weightDecay: 0,
  schedule: { kind: 'constant' },
  seed: 1,
};
const WASM_RUNS = { warmup: 1, n: 3 };
const CPU_RUNS = { warmup: 0, n: 1 };


interface Dataset {
  projectId: string;
  versionId: number;
  pixels: Uint8Array[];
  labels: number[];
}

/** The first `count` MNIST training images as a project with no val split. */
async function storeMnist(db: HearthDb, count: number): Promise<Dataset> {
  const files = readMnistFiles();
  const built = buildSampleDataset('mnist', parseMnistFiles(files), { maxPerSplit: count });
  const project = await createProject(db, { name: `mnist-${count}`, input: INPUT, classes: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'], attributes: [], source: 'bench' });
  const samples: NewSample[] = [];
  for (const s of built.samples) {
    if (s.split !== 'train') continue;
    samples.push({ projectId: project.id, key: s.key, fileName: s.fileName, label: s.label, split: 'train', attributes: {}, provenance: { kind: 'real' }, original: null, pixelsHwc: s.pixelsHwc, createdAt: 0 });
  }
  await putSamples(db, samples);
  const version = await createVersion(db, project.id, { recipe: null, note: 'bench' });
  return { projectId: project.id, versionId: version.id as number, pixels: samples.map((s) => s.pixelsHwc), labels: samples.map((s) => Number(s.label)) };
}

/** img/s of one epoch of trainModel, median over runs, plus heap and tensor counts. */
async function ourLoop(db: HearthDb, data: Dataset, runs: { warmup: number; n: number }) {
  const model = buildModel(SPEC);
  try {
    const epoch = async (): Promise<void> => {
      await trainModel(db, { projectId: data.projectId, versionId: data.versionId, model, config: CONFIG });
    };
    const timing = await timeIt(epoch, runs);
    const tensorsBefore = tf.memory().numTensors;
    const heap = await peakHeap(epoch);
    const tensorsAfter = tf.memory().numTensors;
    return { imgPerS: data.pixels.length / (timing.medianMs / 1000), heap, tensorsBefore, tensorsAfter };
  } finally {
    model.dispose();
  }
}

/** img/s of the same epoch with tfjs' own trainOnBatch on in-memory batches. */
async function tfjsLoop(data: Dataset, runs: { warmup: number; n: number }) {
  const model = buildModel(SPEC);
  const optimizer = tf.train.momentum(LR, MOMENTUM);
  model.model.compile({ optimizer, loss: (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.losses.softmaxCrossEntropy(yTrue, yPred) });
  const batches: { xs: tf.Tensor4D; ys: tf.Tensor2D }[] = [];
  for (let i = 0; i < data.pixels.length; i += BATCH) {
    const xs = pixelsToInput(data.pixels.slice(i, i + BATCH), INPUT);
    const ys = tf.tidy(() => tf.oneHot(tf.tensor1d(data.labels.slice(i, i + BATCH), 'int32'), 10).toFloat() as tf.Tensor2D);
    batches.push({ xs, ys });
  }
  try {
    const timing = await timeIt(async () => {
      let loss = 0;
      for (const b of batches) loss = (await model.model.trainOnBatch(b.xs, b.ys)) as number;
      if (!Number.isFinite(loss)) throw new Error('tfjs training produced a non-finite loss');
    }, runs);
    return data.pixels.length / (timing.medianMs / 1000);
  } finally {
    for (const b of batches) tf.dispose([b.xs, b.ys]);
    optimizer.dispose();
    model.dispose();
  }
}

await runBench(BENCH, async () => {
  const db = await openHearthDb('train-bench');
  const wasmData = await storeMnist(db, WASM_IMAGES);
  const cpuData = await storeMnist(db, CPU_IMAGES);

  await useBackend('wasm');
  const ours = await ourLoop(db, wasmData, WASM_RUNS);
  emit({
    bench: BENCH,
    metric: 'img_per_s',
    variant: 'trainModel',
    value: round(ours.imgPerS),
    backend: 'wasm',
    images: WASM_IMAGES,
    batch: BATCH,
    peak_heap_growth_mb: round(ours.heap.growthBytes / 2 ** 20, 3),
    num_tensors_before: ours.tensorsBefore,
    num_tensors_after: ours.tensorsAfter,
  });
  const baseline = await tfjsLoop(wasmData, WASM_RUNS);
  emit({ bench: BENCH, metric: 'img_per_s', variant: 'tfjs-trainOnBatch', value: round(baseline), backend: 'wasm', images: WASM_IMAGES, batch: BATCH });

  await useBackend('cpu');
  const cpu = await ourLoop(db, cpuData, CPU_RUNS);
  emit({ bench: BENCH, metric: 'img_per_s', variant: 'trainModel', value: round(cpu.imgPerS), backend: 'cpu', images: CPU_IMAGES, batch: BATCH });
  emit({
    bench: BENCH,
    metric: 'img_per_s',
    comparison: 'wasm-vs-cpu',
    value: round(ours.imgPerS),
    baseline: 'trainModel-cpu-backend',
    baseline_value: round(cpu.imgPerS),
    ratio: ratio(ours.imgPerS, cpu.imgPerS),
    backend: 'wasm',
    n: WASM_RUNS.n,
  });
  db.close();

  emit({
    bench: BENCH,
    metric: 'img_per_s',
    value: round(ours.imgPerS),
    baseline: 'tfjs-trainOnBatch',
    baseline_value: round(baseline),
    ratio: ratio(ours.imgPerS, baseline),
    backend: 'wasm',
    n: WASM_RUNS.n,
    batch: BATCH,
    images: WASM_IMAGES,
    model: 'lenet-28x28x1',
    peak_heap_growth_mb: round(ours.heap.growthBytes / 2 ** 20, 3),
    num_tensors_before: ours.tensorsBefore,
    num_tensors_after: ours.tensorsAfter,
  });
});
