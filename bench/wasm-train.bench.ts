/**
 * The `wasm-train` benchmark: LeNet training throughput (img/s) in Node on the wasm
 * backend with Hearth's gradient kernels registered (src/lib/compute/wasm-grad-kernels.ts),
 * against the same model, batch and optimizer on the pure-JavaScript cpu backend, which
 * is what a CPU-only machine falls back to without those kernels.
 *
 * One step is `model.trainOnBatch` on a fixed batch of BATCH images (forward, backward,
 * SGD update), timed to the moment the loss is read back, so no work is left queued.
 * Model: conv5×5×10 → maxpool → conv5×5×20 → maxpool → dense50 → dense10 (softmax),
 * 28×28×1 input, the LeNet of DESIGN.md's figures. Weights and batch come from a seeded
 * generator and are the same on both backends.
 *
 * Usage: `npm run bench -- wasm-train`.
 */
import { tf } from '../src/lib/compute/register.ts';
import { registerWasmGradKernels } from '../src/lib/compute/wasm-grad-kernels.ts';
import { Rng } from '../src/lib/data/rng.ts';
import { emit, ratio, round, runBench, timeIt, type Timing } from './harness.ts';

const BENCH = 'wasm-train';
const BATCH = 32;
const IMAGE_SIDE_PX = 28;
const CLASSES = 10;
const SEED = 0x5452_4149; // "TRAI"
/** The cpu backend takes seconds per step; a few steps give a median that holds. */
const CPU_RUNS = { warmup: 1, n: 3 };
const WASM_RUNS = { warmup: 3, n: 15 };

function leNet(): tf.Sequential {
  const model = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [IMAGE_SIDE_PX, IMAGE_SIDE_PX, 1], filters: 10, kernelSize: 5, activation: 'relu' }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.conv2d({ filters: 20, kernelSize: 5, activation: 'relu' }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 50, activation: 'relu' }),
      tf.layers.dense({ units: CLASSES, activation: 'softmax' }),
    ],
  });
  model.compile({ optimizer: tf.train.sgd(0.01), loss: 'categoricalCrossentropy' });
  return model;
}

interface Workload {
  weights: { values: Float32Array; shape: number[] }[];
  images: Float32Array;
  labels: Float32Array;
}

/** Seeded weights (uniform ±1/√fanIn) for the shapes `leNet()` makes, and one batch. */
function makeWorkload(shapes: number[][]): Workload {
  const rng = new Rng(SEED);
  const weights = shapes.map((shape) => {
    const count = shape.reduce((a, b) => a * b, 1);
    const fanIn = shape.length === 1 ? 1 : count / shape[shape.length - 1]!;
    const scale = 1 / Math.sqrt(fanIn);
    const values = new Float32Array(count);
    for (let i = 0; i < count; i++) values[i] = (rng.next() * 2 - 1) * scale;
    return { values, shape };
  });
  const images = new Float32Array(BATCH * IMAGE_SIDE_PX * IMAGE_SIDE_PX);
  for (let i = 0; i < images.length; i++) images[i] = rng.next();
  const labels = new Float32Array(BATCH * CLASSES);
  for (let i = 0; i < BATCH; i++) labels[i * CLASSES + rng.int(CLASSES)] = 1;
  return { weights, images, labels };
}

/** Median time of one training step on `backend`; everything it made is disposed. */
async function timeTraining(backend: 'wasm' | 'cpu', work: Workload, runs: { warmup: number; n: number }): Promise<Timing> {
  if (!(await tf.setBackend(backend))) throw new Error(`the ${backend} backend did not start`);
  const model = leNet();
  const initial = work.weights.map((w) => tf.tensor(w.values, w.shape));
  model.setWeights(initial);
  tf.dispose(initial);
  const xs = tf.tensor4d(work.images, [BATCH, IMAGE_SIDE_PX, IMAGE_SIDE_PX, 1]);
  const ys = tf.tensor2d(work.labels, [BATCH, CLASSES]);
  try {
    return await timeIt(async () => {
      const loss = await model.trainOnBatch(xs, ys);
      if (!Number.isFinite(loss)) throw new Error(`${backend} training produced a non-finite loss`);
    }, runs);
  } finally {
    tf.dispose([xs, ys]);
    model.optimizer.dispose();
    model.dispose();
  }
}

await runBench(BENCH, async () => {
  registerWasmGradKernels();
  await tf.setBackend('cpu');
  const probe = leNet();
  const shapes = probe.getWeights().map((w) => w.shape);
  probe.optimizer.dispose();
  probe.dispose();
  const work = makeWorkload(shapes);

  const wasm = await timeTraining('wasm', work, WASM_RUNS);
  const wasmImgPerS = BATCH / (wasm.medianMs / 1000);
  emit({ bench: BENCH, metric: 'img_per_s', variant: 'wasm+grad-kernels', value: round(wasmImgPerS), n: WASM_RUNS.n, batch: BATCH });

  const cpu = await timeTraining('cpu', work, CPU_RUNS);
  const cpuImgPerS = BATCH / (cpu.medianMs / 1000);
  emit({ bench: BENCH, metric: 'img_per_s', variant: 'cpu', value: round(cpuImgPerS), n: CPU_RUNS.n, batch: BATCH });

  emit({
    bench: BENCH,
    metric: 'img_per_s',
    value: round(wasmImgPerS),
    baseline: 'cpu-backend',
    baseline_value: round(cpuImgPerS),
    ratio: ratio(wasmImgPerS, cpuImgPerS),
    backend: 'wasm',
    n: WASM_RUNS.n,
    batch: BATCH,
    model: 'lenet-28x28x1',
    step: 'trainOnBatch-sgd',
  });
});
