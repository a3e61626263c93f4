/**
 * The whole export job in Node (wasm backend, fake-indexeddb) on real MNIST: train LeNet
 * quantize, and compare the int8 model (Hearth's int8 reference
 * interpreter) with the float model on the same test images.
 *
 * What the issue asks: int8 accuracy within 0.5 points of float, and the int8 .tflite at
 * most 30 % of the float32 model's size. The group metrics, data unit tests, blocking and
 * files are checked on the same run. The small ResNet takes minutes to train here, so its
 * accuracy comparison lives in `npm run bench -- export`; its quantization path (residual
 * adds, folded batch norms, global pooling) is checked in export-quantize.test.ts.
 */
import 'fake-indexeddb/auto';
import { unzipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { saveSlices } from '../../src/lib/evaluate/evaluations';
import { useBackend } from '../../src/lib/compute/backends';
import { tf } from '../../src/lib/compute/register';
import { buildSampleDataset, parseMnistFiles } from '../../src/lib/data/samples/catalog';
import { getExport, overrideExportBlock, runExport, stratifiedSample, type ExportReport } from '../../src/lib/export/export-job';
import { openHearthDb, type HearthDb } from '../../src/lib/storage/schema';
import { createProject } from '../../src/lib/storage/projects';
import { putSamples } from '../../src/lib/storage/samples';
import { createVersion, getVersion } from '../../src/lib/storage/versions';
import { startTraining } from '../../src/lib/train/runs';
import type { TrainConfig } from '../../src/lib/train/train';
import { readMnistFiles } from '../helpers/mnist';

const INPUT = { width: 28, height: 28, channels: 1, resize: 'stretch' } as const;
const DIGITS = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];
/** Mean pixel value above which a digit counts as written with heavy ink: an image-derived group. */
const HEAVY_INK_MEAN = 35;

let db: HearthDb;
let projectId: string;
let versionId: number;

async function makeProject(counts: { train: number; val: number; test: number }): Promise<void> {
  const files = readMnistFiles();
  const built = buildSampleDataset('mnist', parseMnistFiles(files), { maxPerSplit: Math.max(counts.train, counts.val, counts.test) });
  const project = await createProject(db, { name: 'export', input: INPUT, classes: DIGITS, attributes: ['ink'], source: 'test' });
  const taken = { train: 0, val: 0, test: 0 };
  const samples = [];
  for (const s of built.samples) {
    if (taken[s.split] >= counts[s.split]) continue;
    taken[s.split]++;
    const mean = s.pixelsHwc.reduce((a, b) => a + b, 0) / s.pixelsHwc.length;
    samples.push({
      projectId: project.id,
      key: s.key,
      fileName: s.fileName,
      label: s.label,
      split: s.split,
      attributes: { ink: mean > HEAVY_INK_MEAN ? 'heavy' : 'light' },
      provenance: { kind: 'real' as const },
      original: null,
      pixelsHwc: s.pixelsHwc,
      createdAt: 0,
    });
  }
  await putSamples(db, samples);
  const version = await createVersion(db, project.id, { recipe: null, note: 'export' });
  projectId = project.id;
  versionId = version.id as number;
}

const CONFIG: TrainConfig = {
  epochs: 2,
  batchSize: 16,
  optimizer: { kind: 'sgd', lr: 0.05, momentum: 0.9, nesterov: true },
  weightDecay: 5e-4,
  schedule: { kind: 'cosine', warmupEpochs: 0.5 },
  seed: 1234,
};

async function trainAndExport(kind: 'lenet', epochs: number, maxEval: number): Promise<ExportReport> {
  const runId = `train-${kind}`;
  const summary = await startTraining(db, { runId, projectId, versionId, model: { kind }, config: { ...CONFIG, epochs } });
  if (!summary.modelId) throw new Error(`training ${kind} saved no model`);
  return runExport(db, {
    exportId: `export-${kind}`,
    modelId: summary.modelId,
    calibration: { method: 'mse', samples: 300, seed: 1234 },
    maxEvalPerSplit: maxEval,
    boardId: 'nano-33-ble-sense',
    favourableClass: 8,
  });
}

function logReport(r: ExportReport): void {
  const test = r.splits.find((s) => s.split === 'test');
  console.log(
    JSON.stringify({
      model: r.modelKind,
      testN: test?.evaluated,
      float: test?.float.accuracy,
      int8: test?.int8.accuracy,
      agreement: test?.agreement,
      floatBytes: r.sizes.floatBytes,
      int8Bytes: r.sizes.int8TfliteBytes,
      ratio: r.sizes.ratio,
      arena: r.arena.totalBytes,
      lowering: r.checks.loweringMaxAbsDiff,
      reload: r.checks.tfjsReloadMaxAbsDiff,
    }),
  );
}

beforeAll(async () => {
  await useBackend('wasm');
  db = await openHearthDb('export-mnist-test');
  await makeProject({ train: 2000, val: 300, test: 1000 });
  // A data unit test the int8 model will fail: nothing scores 100 % on every 8.
  await saveSlices(db, projectId, [{ id: 'eights', name: 'every 8 right', predicate: { field: 'label', op: 'eq', value: '8' }, minAccuracy: 1 }]);
}, 120_000);

afterAll(() => db.close());

describe('int8 export of models trained on MNIST', () => {
  let lenet: ExportReport;

  it('LeNet: int8 accuracy within 0.5 points of float, file ≤ 30 % of float32', async () => {
    const before = tf.memory().numTensors;
    lenet = await trainAndExport('lenet', 2, 1000);
    logReport(lenet);
    const test = lenet.splits.find((s) => s.split === 'test');
    expect(test?.evaluated).toBe(1000);
    expect(test?.float.accuracy).toBeGreaterThan(0.85);
    expect(Math.abs((test?.float.accuracy ?? 0) - (test?.int8.accuracy ?? 1))).toBeLessThanOrEqual(0.005);
    expect(lenet.sizes.ratio).toBeLessThanOrEqual(0.3);
    expect(lenet.checks.loweringMaxAbsDiff).toBeLessThan(1e-3);
    expect(lenet.checks.tfjsReloadMaxAbsDiff).toBe(0);
    expect(tf.memory().numTensors).toBe(before);
  }, 240_000);

  it('reports float against int8 group metrics and blocks on a failing data unit test', async () => {
    expect(lenet.groups).toHaveLength(1);
    const ink = lenet.groups[0];
    expect(ink?.attribute).toBe('ink');
    expect(ink?.float.groups.map((g) => g.group).sort()).toEqual(['heavy', 'light']);
    expect(ink?.int8.comparisons).toHaveLength(1);
    expect(lenet.slices.int8).toHaveLength(1);
    expect(lenet.slices.int8[0]?.status).toBe('fail');
    expect(lenet.blocked[0]).toMatch(/every 8 right.*fails on the int8 model/);
    expect(lenet.override).toBeNull();
    const overridden = await overrideExportBlock(db, lenet.exportId);
    expect(overridden.override?.at).toBeGreaterThan(0);
    expect((await getExport(db, lenet.exportId)).report.override).toEqual(overridden.override);
  });

  it('writes every file, with checksums, and test vectors the interpreter reproduces', async () => {
    const { files, report } = await getExport(db, lenet.exportId);
    const names = Object.keys(files).sort();
    expect(names).toEqual(
      [
        'HearthLenet_arduino.zip',
        'hearth-export.zip',
        'labels.txt',
        'lenet_int8.tflite',
        'lenet_int8_qdq.onnx',
        'metadata.json',
        'model_data.cc',
        'model_data.h',
        'test_vectors.json',
        'tfjs/model.json',
        'tfjs/weights.bin',
      ].sort(),
    );
    expect(report.files.map((f) => f.name).sort()).toEqual(names);
    const bundle = unzipSync(files['hearth-export.zip'] as Uint8Array);
    expect(Object.keys(bundle).sort()).toEqual(names.filter((n) => n !== 'hearth-export.zip'));
    const meta = JSON.parse(new TextDecoder().decode(files['metadata.json'])) as { labels: string[]; input: { zeroPoint: number; scale: number } };
    expect(meta.labels).toEqual(DIGITS);
    expect(meta.input.zeroPoint).toBe(-128);
    // The float tfjs model reloads and gives the same outputs (checked by the job: max |Δ| = 0).
    expect(report.checks.tfjsReloadMaxAbsDiff).toBe(0);
    expect(new TextDecoder().decode(files['labels.txt']).trim().split('\n')).toEqual(DIGITS);
    const vectors = JSON.parse(new TextDecoder().decode(files['test_vectors.json'])) as { inputs: number[][]; expected: number[][]; labels: number[] };
    expect(new Set(vectors.labels.slice(0, 10)).size).toBe(10);
    expect(vectors.inputs).toHaveLength(100);
    expect(vectors.expected).toHaveLength(100);
  });

  it('the representative set is stratified by class and group', async () => {
    const version = await getVersion(db, versionId);
    const { indices, strata } = stratifiedSample(version, 300, 1234);
    expect(indices.length).toBe(300);
    expect(strata).toBeGreaterThanOrEqual(19); // 10 digits × 2 ink groups, one may be empty
    const perClass = new Map<number, number>();
    for (const at of indices) perClass.set(version.labels[at] as number, (perClass.get(version.labels[at] as number) ?? 0) + 1);
    // Round-robin over strata: every class gets close to 300 / 10.
    for (const n of perClass.values()) expect(n).toBeGreaterThanOrEqual(20);
    expect(new Set(indices).size).toBe(300);
  });
});
