/**
 * The `export` benchmark: int8 post-training quantization of LeNet and the small ResNet
 * trained on real MNIST (Node, wasm backend, fake-indexeddb), through the same export job
 * the studio runs. For each model and calibration method: float against int8 accuracy on
 * the test split (int8 = Hearth's int8 reference interpreter, TFLite's integer
 * arithmetic), the int8 .tflite size against the float32 tfjs model, the tensor-arena
 * estimate, and the speed of the int8 interpreter against tfjs float inference on the
 * same backend (the baseline).
 *
 * Sizes, scaled to a 2-core machine: LeNet trains 3 epochs on 6,000 images and is tested
 * on all 10,000 test images; the ResNet trains 1 epoch on 3,000 images and is tested on
 * 1,000 (its int8 interpreter runs ~20 M multiply-adds per image in JavaScript).
 *
 * Usage: `npm run bench -- export`.
 */
import 'fake-indexeddb/auto';
import { useBackend } from '../src/lib/compute/backends.ts';
import { tf } from '../src/lib/compute/register.ts';
import { buildSampleDataset, parseMnistFiles } from '../src/lib/data/samples/catalog.ts';
import type { CalibrationMethod } from '../src/lib/export/spec.ts';
import { getExport, runExport } from '../src/lib/export/export-job.ts';
import { extractFloatGraph } from '../src/lib/export/float-graph.ts';
import { Int8Interpreter } from '../src/lib/export/int8-interpreter.ts';
import { pixelsToInt8 } from '../src/lib/export/qgraph.ts';
import { createProject } from '../src/lib/storage/projects.ts';
import { putSamples, type NewSample } from '../src/lib/storage/samples.ts';
import { openHearthDb, type HearthDb } from '../src/lib/storage/schema.ts';
import { createVersion } from '../src/lib/storage/versions.ts';
import { loadStoredModel, startTraining } from '../src/lib/train/runs.ts';
import { pixelsToInput } from '../src/lib/train/models.ts';
import type { ModelKind } from '../src/lib/train/spec.ts';
import type { TrainConfig } from '../src/lib/train/train.ts';
import { emit, ratio, round, runBench, timeIt } from './harness.ts';
import { calibrate } from '../src/lib/export/calibrate.ts';
import { quantizeGraph } from '../src/lib/export/quantize.ts';
import { readMnistFiles } from '../tests/helpers/mnist.ts';

const BENCH = 'export';
const INPUT = { width: 28, height: 28, channels: 1, resize: 'stretch' } as const;
const DIGITS = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];
const SEED = 1234;
/** Images timed for the interpreter-vs-tfjs speed comparison. */
const SPEED_IMAGES = 64;

interface Arm {
  kind: ModelKind;
  counts: { train: number; val: number; test: number };
  epochs: number;
  methods: CalibrationMethod[];
}

const ARMS: Arm[] = [
  { kind: 'lenet', counts: { train: 6000, val: 1000, test: 10000 }, epochs: 3, methods: ['minmax', 'percentile', 'mse'] },
  { kind: 'resnet-small', counts: { train: 3000, val: 300, test: 1000 }, epochs: 1, methods: ['minmax', 'mse'] },
];

const CONFIG: TrainConfig = {
  epochs: 1,
  batchSize: 32,
  optimizer: { kind: 'sgd', lr: 0.05, momentum: 0.9, nesterov: true },
  weightDecay: 5e-4,
  schedule: { kind: 'cosine', warmupEpochs: 0.5 },
  seed: SEED,
};

async function storeMnist(db: HearthDb, counts: Arm['counts']): Promise<{ projectId: string; versionId: number; testPixels: Uint8Array[] }> {
  const built = buildSampleDataset('mnist', parseMnistFiles(readMnistFiles()), { maxPerSplit: Math.max(counts.train, counts.val, counts.test) });
  const project = await createProject(db, { name: 'export-bench', input: INPUT, classes: DIGITS, attributes: [], source: 'bench' });
  const taken = { train: 0, val: 0, test: 0 };
  const samples: NewSample[] = [];
  for (const s of built.samples) {
    if (taken[s.split] >= counts[s.split]) continue;
    taken[s.split]++;
    samples.push({ projectId: project.id, key: s.key, fileName: s.fileName, label: s.label, split: s.split, attributes: {}, provenance: { kind: 'real' }, original: null, pixelsHwc: s.pixelsHwc, createdAt: 0 });
  }
  await putSamples(db, samples);
  const version = await createVersion(db, project.id, { recipe: null, note: 'bench' });
  return { projectId: project.id, versionId: version.id as number, testPixels: samples.filter((s) => s.split === 'test').slice(0, SPEED_IMAGES).map((s) => s.pixelsHwc) };
}

await runBench(BENCH, async () => {
  await useBackend('wasm');
  for (const arm of ARMS) {
    const db = await openHearthDb(`export-bench-${arm.kind}`);
    const data = await storeMnist(db, arm.counts);
    const trainStart = performance.now();
    const run = await startTraining(db, { runId: `bench-${arm.kind}`, projectId: data.projectId, versionId: data.versionId, model: { kind: arm.kind }, config: { ...CONFIG, epochs: arm.epochs } });
    if (!run.modelId) throw new Error(`training ${arm.kind} saved no model`);
    emit({ bench: BENCH, metric: 'train', model: arm.kind, ms: Math.round(performance.now() - trainStart), train: arm.counts.train, epochs: arm.epochs, backend: 'wasm' });

    for (const method of arm.methods) {
      const start = performance.now();
      const report = await runExport(db, {
        exportId: `bench-${arm.kind}-${method}`,
        modelId: run.modelId,
        calibration: { method, samples: 300, seed: SEED },
        maxEvalPerSplit: null,
        boardId: 'nano-33-ble-sense',
        favourableClass: 0,
      });
      const test = report.splits.find((s) => s.split === 'test');
      const nano = report.boards.find((b) => b.id === 'nano-33-ble-sense');
      emit({
        bench: BENCH,
        metric: 'int8_accuracy',
        model: arm.kind,
        calibration: method,
        test_n: test?.evaluated,
        float_accuracy: round(test?.float.accuracy ?? NaN),
        int8_accuracy: round(test?.int8.accuracy ?? NaN),
        change_points: round(100 * ((test?.int8.accuracy ?? NaN) - (test?.float.accuracy ?? NaN)), 2),
        agreement: round(test?.agreement ?? NaN),
        float_bytes: report.sizes.floatBytes,
        int8_tflite_bytes: report.sizes.int8TfliteBytes,
        size_ratio: round(report.sizes.ratio),
        onnx_bytes: report.sizes.onnxBytes,
        arena_bytes: report.arena.totalBytes,
        fits_nano_33_ble: nano?.fits,
        export_ms: Math.round(performance.now() - start),
        seed: SEED,
        backend: 'wasm',
      });
      void (await getExport(db, report.exportId));
    }

    // Speed: the int8 reference interpreter against tfjs float inference, batch 1.
    const loaded = await loadStoredModel(db, run.modelId);
    const graph = await extractFloatGraph(loaded.model.model);
    const calibration = async function* (): AsyncIterable<tf.Tensor4D> {
      yield pixelsToInput(data.testPixels, INPUT);
    };
    const interpreter = new Int8Interpreter(quantizeGraph(graph, await calibrate(graph, calibration, 'minmax')));
    const inputs = data.testPixels.map(pixelsToInt8);
    const int8Timing = await timeIt(() => {
      for (const x of inputs) interpreter.run(x);
    }, { warmup: 1, n: 3 });
    const floatTiming = await timeIt(async () => {
      for (const p of data.testPixels) {
        const y = tf.tidy(() => loaded.model.model.predict(pixelsToInput([p], INPUT)) as tf.Tensor);
        await y.data();
        y.dispose();
      }
    }, { warmup: 1, n: 3 });
    const int8PerS = SPEED_IMAGES / (int8Timing.medianMs / 1000);
    const floatPerS = SPEED_IMAGES / (floatTiming.medianMs / 1000);
    emit({
      bench: BENCH,
      metric: 'img_per_s',
      variant: 'int8-reference-interpreter',
      model: arm.kind,
      value: round(int8PerS),
      baseline: 'tfjs-float-predict-batch-1',
      baseline_value: round(floatPerS),
      ratio: ratio(int8PerS, floatPerS),
      backend: 'wasm',
      n: SPEED_IMAGES,
    });
    loaded.model.dispose();
    db.close();
  }
});
