/**
 * The export job: a stored float model becomes an int8 model in every format an edge
 * developer needs, and a report that says what quantization cost, overall, per class,
 * per group and per data slice. Steps:
 *
 * 1. lower the model to a float graph and check the lowering kept its function;
 * 2. calibrate on a representative set drawn from the train split, stratified by class
 *    and by group, then quantize;
 * 3. evaluate the float model (tfjs) and the int8 model (Hearth's int8 reference
 *    interpreter, TFLite's integer arithmetic) on the same val and test samples;
 * 4. write the files (TFLite, ONNX QDQ, float tfjs, C array, Arduino library, labels,
 *    metadata, test vectors) and keep them with the report as a run of kind 'export'.
 *
 * A data unit test that fails on the int8 model blocks the download until the user
 * overrides it explicitly; the override is recorded.
 */
import { tf } from '../compute/register';
import { modelBiasOf, getSlices, sliceSamples } from '../evaluate/evaluations';
import { evaluateSlices, type Slice } from '../evaluate/slices';
import { Rng } from '../data/rng';
import type { DatasetVersion, ExportRun } from '../storage/records';
import { InvalidInputError, NotFoundError } from '../jobs/errors';
import { NEVER_CANCELLED, ProgressReporter, type CancelToken, type ProgressFn } from '../jobs/progress';
import { getRunOfKind, listRunsOfKind, putRun } from '../storage/runs';
import type { HearthDb } from '../storage/schema';
import { getPixels } from '../storage/samples';
import { getProject } from '../storage/projects';
import { getVersion } from '../storage/versions';
import { labeledIndices, streamBatches } from '../train/batches';
import { modelArtifacts } from '../train/checkpoint';
import { confusionStats } from '../evaluate/evaluate';
import { pixelsToInput } from '../train/models';
import { loadStoredModel, type LoadedModel } from '../train/runs';
import { estimateArena, type ArenaEstimate } from './arena';
import { BOARDS, fitOnBoard, type Board } from './boards';
import { modelDataCc, modelDataH } from './c-array';
import { calibrate } from './calibrate';
import { extractFloatGraph, floatGraphLogits, type FloatGraph } from './float-graph';
import { Int8Interpreter } from './int8-interpreter';
import { writeOnnx } from './onnx-writer';
import { arduinoLibraryZip, buildExportMetadata, exportBundleZip, labelsTxt, metadataJson, sha256Hex } from './package';
import { pixelsToInt8, type QGraph, type QTensor } from './qgraph';
import { quantizeGraph } from './quantize';
import { BUNDLE_FILE_NAME, GROUP_DROP_FLAG_POINTS } from './spec';
import { writeTflite } from './tflite-writer';
import type { ExportRequest, ModelScore, SplitComparison, GroupComparisonReport, ExportFileInfo, ExportReport, ExportResult } from '../storage/stored-shapes';
export type { ExportRequest, ModelScore, SplitComparison, GroupComparisonReport, ExportFileInfo, ExportReport, ExportResult } from '../storage/stored-shapes';

/** Test vectors in test_vectors.json: enough to compare another runtime value by value. */
const TEST_VECTOR_COUNT = 100;
/** The ones compiled into the Arduino sketch: enough to catch a broken port, small enough for flash. */
const SKETCH_TEST_VECTOR_COUNT = 10;
const CALIBRATION_BATCH = 64;
const FLOAT_EVAL_BATCH = 128;
const HEARTH_VERSION = '0.1.0';

function argmaxInt8(values: Int8Array): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if ((values[i] as number) > (values[best] as number)) best = i;
  return best;
}

/**
 * A seeded representative set: the train split's labelled samples grouped into strata
 * (class × every attribute's value), taken round-robin over the strata so small classes
 * and groups are represented, each stratum in a seeded random order.
 */
export function stratifiedSample(version: DatasetVersion, count: number, seed: number): { indices: Uint32Array; strata: number } {
  const pool = labeledIndices(version, 'train');
  if (pool.length === 0) throw new InvalidInputError(`Dataset version ${version.number} has no labelled train samples to calibrate on: import or assign some.`);
  const columns = Object.values(version.attributes);
  const strata = new Map<string, number[]>();
  for (const at of pool) {
    const key = [version.labels[at], ...columns.map((c) => c.codes[at])].join('/');
    let list = strata.get(key);
    if (!list) strata.set(key, (list = []));
    list.push(at);
  }
  const rng = new Rng(seed).fork('calibration');
  const lists = [...strata.keys()].sort().map((k) => {
    const list = strata.get(k) as number[];
    for (let i = list.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [list[i], list[j]] = [list[j] as number, list[i] as number];
    }
    return list;
  });
  const picked: number[] = [];
  for (let round = 0; picked.length < Math.min(count, pool.length); round++) {
    for (const list of lists) {
      const at = list[round];
      if (at !== undefined && picked.length < count) picked.push(at);
    }
  }
  return { indices: Uint32Array.from(picked.sort((a, b) => a - b)), strata: lists.length };
}

function subset(indices: Uint32Array, max: number | null, seed: number): Uint32Array {
  if (max === null || indices.length <= max) return indices;
  const rng = new Rng(seed).fork('evaluation-subset');
  const copy = Array.from(indices);
  for (let i = copy.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [copy[i], copy[j]] = [copy[j] as number, copy[i] as number];
  }
  return Uint32Array.from(copy.slice(0, max).sort((a, b) => a - b));
}

function score(trueLabels: Int16Array, predicted: Int16Array, numClasses: number): ModelScore {
  const stats = confusionStats(trueLabels, predicted, numClasses);
  return {
    accuracy: stats.accuracy.value ?? 0,
    perClassAccuracy: stats.perClass.map((c) => c.recall.value ?? null),
  };
}

/** The predictions of the float and the int8 model on the same samples. */
interface PairedPredictions {
  ids: Uint32Array;
  trueLabels: Int16Array;
  float: Int16Array;
  int8: Int16Array;
}

export async function runExport(
  db: HearthDb,
  req: ExportRequest,
  opts: { onProgress?: ProgressFn; cancel?: CancelToken } = {},
): Promise<ExportReport> {
  const cancel = opts.cancel ?? NEVER_CANCELLED;
  const progress = new ProgressReporter(opts.onProgress);
  const board = checkRequest(req);
  const loaded = await loadStoredModel(db, req.modelId);
  const { model } = loaded;
  try {
    const job = await openExport(db, req, loaded, progress, cancel);

    // 1. Lowering, checked against the model itself on the first calibration batch.
    progress.report(0, 1, 'Lowering the model', true);
    const graph = await extractFloatGraph(model.model);
    const calibrationSet = stratifiedSample(job.version, req.calibration.samples, req.calibration.seed);
    const { firstPixels, loweringMaxAbsDiff } = await checkLowering(job, graph, calibrationSet.indices);

    // 2. Calibration and quantization.
    const qgraph = await calibrateAndQuantize(job, graph, calibrationSet.indices);
    const interpreter = new Int8Interpreter(qgraph);

    // 3. Float against int8 on val and test.
    const { splits, paired } = await compareOnSplits(job, interpreter);
    const reportSplit = pickReportSplit(job.version, paired);

    // Group metrics and data unit tests on the report split, float against int8.
    const groups = await compareGroups(job, splits, reportSplit);
    const slices = await runDataUnitTests(job, reportSplit.predictions);

    // 4. Files.
    progress.report(0, 1, 'Writing the files', true);
    const written = await writeFiles(job, qgraph, interpreter, reportSplit.predictions, calibrationSet, firstPixels);
    const described = await fileInfos(written.files);

    const report = buildReport(job, board, { calibrationSet, qgraph, written, described, splits, groups, slices, loweringMaxAbsDiff });
    const run = exportRun(job, report, written.files);
    await putRun(db, run);
    progress.report(1, 1, 'Done', true);
    return report;
  } finally {
    model.dispose();
  }
}

/** What every step of one export reads: the request, the stored model and its dataset version. */
interface ExportJob {
  db: HearthDb;
  req: ExportRequest;
  loaded: LoadedModel;
  model: LoadedModel['model'];
  version: DatasetVersion;
  projectId: string;
  progress: ProgressReporter;
  cancel: CancelToken;
}

/** The board the request names; refuses an unknown board or a calibration without samples. */
function checkRequest(req: ExportRequest): Board {
  const board = BOARDS.find((b) => b.id === req.boardId);
  if (!board) throw new InvalidInputError(`Unknown board "${req.boardId}": pick one of ${BOARDS.map((b) => b.id).join(', ')}.`);
  if (!(req.calibration.samples >= 1)) throw new InvalidInputError('Calibration needs at least one sample: 300 is a good default.');
  return board;
}

/** Loads the model's dataset version and project, and checks the favourable class against the version. */
async function openExport(db: HearthDb, req: ExportRequest, loaded: LoadedModel, progress: ProgressReporter, cancel: CancelToken): Promise<ExportJob> {
  const version = await getVersion(db, loaded.versionId);
  const project = await getProject(db, version.projectId);
  if (req.favourableClass < 0 || req.favourableClass >= version.classes.length) {
    throw new InvalidInputError(`The favourable class ${req.favourableClass} is not one of the model's ${version.classes.length} classes.`);
  }
  return { db, req, loaded, model: loaded.model, version, projectId: project.id, progress, cancel };
}

/** The first calibration samples, and the largest difference between the float graph's logits and the model's on them. */
async function checkLowering(job: ExportJob, graph: FloatGraph, calibrationIndices: Uint32Array): Promise<{ firstPixels: Uint8Array[]; loweringMaxAbsDiff: number }> {
  const { db, version, model } = job;
  const input = model.spec.input;
  const [firstPixels] = await Promise.all([getPixels(db, Array.from(calibrationIndices.slice(0, 16), (at) => version.sampleIds[at] as number))]);
  const loweringMaxAbsDiff = tf.tidy(() => {
    const x = pixelsToInput(firstPixels, input);
    return tf.max(tf.abs(tf.sub(floatGraphLogits(graph, x), model.model.apply(x, { training: false }) as tf.Tensor))).dataSync()[0] as number;
  });
  return { firstPixels, loweringMaxAbsDiff };
}

async function calibrateAndQuantize(job: ExportJob, graph: FloatGraph, calibrationIndices: Uint32Array): Promise<QGraph> {
  const { db, req, version, progress, cancel } = job;
  const input = job.model.spec.input;
  const batches = async function* (): AsyncIterable<tf.Tensor4D> {
    for await (const batch of streamBatches(db, version, { indices: calibrationIndices, batchSize: CALIBRATION_BATCH })) {
      yield pixelsToInput(batch.pixels, input);
    }
  };
  const calibrationBatches = Math.ceil(calibrationIndices.length / CALIBRATION_BATCH) * (req.calibration.method === 'minmax' ? 1 : 2);
  let batchesDone = 0;
  return quantizeGraph(
    graph,
    await calibrate(graph, batches, req.calibration.method, {
      cancel,
      onBatch: () => progress.report(++batchesDone, calibrationBatches, `Calibrating (${req.calibration.method})`),
    }),
  );
}

type PairedBySplit = Partial<Record<'val' | 'test', PairedPredictions>>;

/** Both models on the (seeded subset of the) val and test splits: their scores, and their predictions. */
async function compareOnSplits(job: ExportJob, interpreter: Int8Interpreter): Promise<{ splits: SplitComparison[]; paired: PairedBySplit }> {
  const { req, version, progress } = job;
  const splits: SplitComparison[] = [];
  const paired: PairedBySplit = {};
  const plan = (['val', 'test'] as const).map((split) => {
    const all = labeledIndices(version, split);
    return { split, all, indices: subset(all, req.maxEvalPerSplit, req.calibration.seed) };
  });
  const evalTotal = plan.reduce((s, p) => s + p.indices.length, 0);
  let evalDone = 0;
  for (const { split, all, indices } of plan) {
    if (indices.length === 0) continue;
    const pred = await predictFloatAndInt8(job, interpreter, indices, (n) => {
      evalDone += n;
      progress.report(evalDone, evalTotal, `Evaluating float and int8 on ${split}`);
    });
    splits.push(compareSplit(split, all.length, pred, version.classes.length));
    paired[split] = pred;
  }
  return { splits, paired };
}

/** Both models' predictions on the samples at `indices`; `onBatch` after each batch of `n`. */
async function predictFloatAndInt8(job: ExportJob, interpreter: Int8Interpreter, indices: Uint32Array, onBatch: (n: number) => void): Promise<PairedPredictions> {
  const { db, version, model, cancel } = job;
  const input = model.spec.input;
  const n = indices.length;
  const pred: PairedPredictions = { ids: new Uint32Array(n), trueLabels: new Int16Array(n), float: new Int16Array(n), int8: new Int16Array(n) };
  let at = 0;
  for await (const batch of streamBatches(db, version, { indices, batchSize: FLOAT_EVAL_BATCH })) {
    cancel.throwIfCancelled();
    const argmax = tf.tidy(() => tf.argMax(model.model.apply(pixelsToInput(batch.pixels, input), { training: false }) as tf.Tensor2D, 1));
    const floatPred = await argmax.data();
    argmax.dispose();
    batch.pixels.forEach((pixels, k) => {
      pred.ids[at + k] = batch.ids[k] as number;
      pred.trueLabels[at + k] = batch.labels[k] as number;
      pred.float[at + k] = floatPred[k] as number;
      pred.int8[at + k] = argmaxInt8(interpreter.run(pixelsToInt8(pixels)));
    });
    at += batch.ids.length;
    onBatch(batch.ids.length);
  }
  return pred;
}

function compareSplit(split: 'val' | 'test', total: number, pred: PairedPredictions, numClasses: number): SplitComparison {
  const n = pred.ids.length;
  let same = 0;
  for (let i = 0; i < n; i++) if (pred.float[i] === pred.int8[i]) same++;
  return {
    split,
    evaluated: n,
    total,
    float: score(pred.trueLabels, pred.float, numClasses),
    int8: score(pred.trueLabels, pred.int8, numClasses),
    agreement: same / n,
  };
}

interface ReportSplit {
  name: 'val' | 'test';
  predictions: PairedPredictions;
}

/** The split the group metrics, data unit tests and test vectors use: test, else val. */
function pickReportSplit(version: DatasetVersion, paired: PairedBySplit): ReportSplit {
  const reportSplit = paired.test ?? paired.val;
  if (!reportSplit) throw new InvalidInputError(`Dataset version ${version.number} has no labelled val or test samples to check the int8 model on: assign some.`);
  return { name: paired.test ? 'test' : 'val', predictions: reportSplit };
}

/** One model's predictions on the report split, as the evaluation functions take them. */
function predictionsOf(job: ExportJob, reportSplit: PairedPredictions, which: 'float' | 'int8') {
  return {
    versionId: job.version.id ?? job.loaded.versionId,
    predictions: { ids: reportSplit.ids, predicted: reportSplit[which], trueLabels: reportSplit.trueLabels },
  };
}

/** Group metrics per attribute, float against int8, with the groups int8 hurts most flagged. */
async function compareGroups(job: ExportJob, splits: SplitComparison[], reportSplit: ReportSplit): Promise<GroupComparisonReport[]> {
  const { db, req, version } = job;
  const splitScore = splits.find((s) => s.split === reportSplit.name) as SplitComparison;
  const overallDrop = splitScore.float.accuracy - splitScore.int8.accuracy;
  const groups: GroupComparisonReport[] = [];
  for (const [attribute, column] of Object.entries(version.attributes)) {
    const privileged = [largestGroup(version, column.codes, column.values, reportSplit.predictions.ids)];
    const biasReq = { attribute, favourableClass: req.favourableClass, privileged };
    const floatBias = await modelBiasOf(db, predictionsOf(job, reportSplit.predictions, 'float'), biasReq);
    const int8Bias = await modelBiasOf(db, predictionsOf(job, reportSplit.predictions, 'int8'), biasReq);
    const flagged = floatBias.groups
      .filter((g) => {
        const after = int8Bias.groups.find((h) => h.group === g.group)?.accuracy.value;
        return g.accuracy.value !== undefined && after !== undefined && g.accuracy.value - after - overallDrop > GROUP_DROP_FLAG_POINTS / 100;
      })
      .map((g) => g.group);
    groups.push({ attribute, privileged, float: floatBias, int8: int8Bias, flagged });
  }
  return groups;
}

/** The project's data unit tests on both models, and why their int8 failures block the download. */
async function runDataUnitTests(job: ExportJob, reportSplit: PairedPredictions): Promise<ExportReport['slices'] & { blocked: string[] }> {
  const { db } = job;
  const slices: Slice[] = await getSlices(db, job.projectId);
  const floatSlices = evaluateSlices(slices, await sliceSamples(db, predictionsOf(job, reportSplit, 'float'), slices));
  const int8Slices = evaluateSlices(slices, await sliceSamples(db, predictionsOf(job, reportSplit, 'int8'), slices));
  const blocked = int8Slices
    .filter((r) => r.status === 'fail')
    .map((r) => `Data unit test "${r.name}" fails on the int8 model: accuracy ${r.accuracy.value === undefined ? 'undefined' : (r.accuracy.value * 100).toFixed(1) + ' %'} < ${(r.minAccuracy * 100).toFixed(1)} %.`);
  return { float: floatSlices, int8: int8Slices, blocked };
}

interface WrittenFiles {
  files: Record<string, Uint8Array>;
  tflite: Uint8Array;
  onnx: Uint8Array;
  weightsBin: Uint8Array;
  arena: ArenaEstimate;
  tfjsReloadMaxAbsDiff: number;
}

/** Every file of the export by its path, the float tfjs files checked by reloading them. */
async function writeFiles(
  job: ExportJob,
  qgraph: QGraph,
  interpreter: Int8Interpreter,
  reportSplit: PairedPredictions,
  calibrationSet: { indices: Uint32Array },
  firstPixels: Uint8Array[],
): Promise<WrittenFiles> {
  const { db, req, loaded, model, version } = job;
  const input = model.spec.input;
  const { tfjsModelJson, weightsBin } = await floatTfjsFiles(model);
  const tfjsReloadMaxAbsDiff = await reloadCheck(tfjsModelJson, weightsBin, model.model, firstPixels, input);

  const base = `${model.spec.kind.replace(/-/g, '_')}_int8`;
  const tflite = writeTflite(qgraph, { description: `Hearth int8 ${model.spec.kind} (${version.classes.length} classes)` });
  const onnx = writeOnnx(qgraph, { producerVersion: HEARTH_VERSION, docString: `Hearth int8 ${model.spec.kind}, QDQ` });
  const arena = estimateArena(qgraph);
  const testVectors = await makeTestVectors(db, qgraph, reportSplit, interpreter);
  const libName = libraryName(model.spec.kind);
  const files: Record<string, Uint8Array> = {
    [`${base}.tflite`]: tflite,
    [`${base}_qdq.onnx`]: onnx,
    'tfjs/model.json': new TextEncoder().encode(tfjsModelJson),
    'tfjs/weights.bin': weightsBin,
    'model_data.cc': new TextEncoder().encode(modelDataCc(tflite)),
    'model_data.h': new TextEncoder().encode(modelDataH()),
    'labels.txt': new TextEncoder().encode(labelsTxt(version.classes)),
    'test_vectors.json': new TextEncoder().encode(JSON.stringify(testVectors)),
  };
  const metadata = await buildExportMetadata({
    graph: qgraph,
    inputSpec: input,
    labels: version.classes,
    modelName: loaded.record.name,
    hearthVersion: HEARTH_VERSION,
    createdAt: Date.now(),
    quantization: { calibration: req.calibration.method, sampleCount: calibrationSet.indices.length, seed: req.calibration.seed },
    provenance: {
      projectId: job.projectId,
      datasetVersion: version.number,
      runId: loaded.record.runId ?? null,
      backend: String((loaded.record.meta as { backend?: unknown }).backend ?? 'unknown'),
      seed: model.spec.seed,
    },
    files,
    arena,
  });
  files[`${libName}_arduino.zip`] = arduinoLibraryZip({
    libraryName: libName,
    model: tflite,
    metadata,
    testVectors: {
      inputs: testVectors.inputs.slice(0, SKETCH_TEST_VECTOR_COUNT).map((v) => Int8Array.from(v)),
      expected: testVectors.expected.slice(0, SKETCH_TEST_VECTOR_COUNT).map((v) => Int8Array.from(v)),
      labels: testVectors.expected.slice(0, SKETCH_TEST_VECTOR_COUNT).map((v) => v.indexOf(Math.max(...v))),
    },
  });
  files['metadata.json'] = new TextEncoder().encode(metadataJson(metadata));
  files[BUNDLE_FILE_NAME] = exportBundleZip(files);
  return { files, tflite, onnx, weightsBin, arena, tfjsReloadMaxAbsDiff };
}

/** The float model in tfjs layers format: model.json (topology and manifest) and weights.bin. */
async function floatTfjsFiles(model: LoadedModel['model']): Promise<{ tfjsModelJson: string; weightsBin: Uint8Array }> {
  const artifacts = await modelArtifacts(model);
  const tfjsModelJson = JSON.stringify({
    format: 'layers-model',
    generatedBy: `Hearth ${HEARTH_VERSION}`,
    convertedBy: null,
    modelTopology: artifacts.topology,
    weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs }],
  });
  const weightsBin = new Uint8Array(artifacts.weightData);
  return { tfjsModelJson, weightsBin };
}

/** Each file's size, checksum and what it is for, in the order of `files`. */
async function fileInfos(files: Record<string, Uint8Array>): Promise<ExportFileInfo[]> {
  const described: ExportFileInfo[] = [];
  for (const [name, bytes] of Object.entries(files)) {
    described.push({ name, bytes: bytes.length, sha256: await sha256Hex(bytes), description: describeFile(name) });
  }
  return described;
}

function buildReport(
  job: ExportJob,
  board: Board,
  parts: {
    calibrationSet: { indices: Uint32Array; strata: number };
    qgraph: QGraph;
    written: WrittenFiles;
    described: ExportFileInfo[];
    splits: SplitComparison[];
    groups: GroupComparisonReport[];
    slices: ExportReport['slices'] & { blocked: string[] };
    loweringMaxAbsDiff: number;
  },
): ExportReport {
  const { req, loaded, model, version } = job;
  const { calibrationSet, qgraph, written, slices } = parts;
  const { files, tflite, onnx, arena } = written;
  const floatBytes = (files['tfjs/model.json'] as Uint8Array).length + written.weightsBin.length;
  return {
    exportId: req.exportId,
    modelId: req.modelId,
    modelName: loaded.record.name,
    modelKind: model.spec.kind,
    projectId: job.projectId,
    versionId: version.id ?? loaded.versionId,
    versionNumber: version.number,
    classes: version.classes,
    createdAt: Date.now(),
    backend: tf.getBackend(),
    calibration: { ...req.calibration, used: calibrationSet.indices.length, strata: calibrationSet.strata },
    sizes: { floatBytes, int8TfliteBytes: tflite.length, ratio: tflite.length / floatBytes, onnxBytes: onnx.length, parameters: model.paramCount() },
    arena,
    boards: BOARDS.map((b) => ({ id: b.id, name: b.name, ...fitOnBoard(b, { modelBytes: tflite.length, arenaBytes: arena.totalBytes }) })),
    boardId: board.id,
    splits: parts.splits,
    groups: parts.groups,
    slices: { float: slices.float, int8: slices.int8 },
    blocked: slices.blocked,
    override: null,
    checks: { loweringMaxAbsDiff: parts.loweringMaxAbsDiff, tfjsReloadMaxAbsDiff: written.tfjsReloadMaxAbsDiff },
    ops: [...new Set(qgraph.ops.map((op) => op.kind))],
    files: parts.described,
  };
}

/** The export as a finished run of kind 'export': its report, and its files for download. */
function exportRun(job: ExportJob, report: ExportReport, files: Record<string, Uint8Array>): ExportRun {
  const { req } = job;
  return {
    id: req.exportId,
    projectId: job.projectId,
    kind: 'export',
    datasetVersionId: report.versionId,
    seed: req.calibration.seed,
    backend: report.backend,
    config: { ...req },
    status: 'done',
    createdAt: report.createdAt,
    finishedAt: Date.now(),
    result: { report, files },
  };
}

function libraryName(kind: string): string {
  return `Hearth${kind.replace(/(^|-)([a-z])/g, (_, __: string, c: string) => c.toUpperCase())}`;
}

function describeFile(name: string): string {
  if (name.endsWith('.tflite')) return 'int8 TFLite flatbuffer (TFLite Micro ops only; int8 input and output)';
  if (name.endsWith('.onnx')) return 'int8 ONNX, QuantizeLinear/DequantizeLinear pairs, opset 13, float NCHW input';
  if (name === 'tfjs/model.json') return 'float model, tfjs layers format (topology)';
  if (name === 'tfjs/weights.bin') return 'float model, tfjs layers format (weights)';
  if (name === 'model_data.cc') return 'the .tflite as a 16-byte-aligned C array g_model / g_model_len';
  if (name === 'model_data.h') return 'declarations for model_data.cc';
  if (name.endsWith('_arduino.zip')) return 'Arduino library: model, labels, preprocessing constants, test vectors, example sketch';
  if (name === 'labels.txt') return 'class names, one per line, in output order';
  if (name === 'test_vectors.json') return 'int8 inputs and the int8 outputs the reference interpreter gives for them';
  if (name === 'metadata.json') return 'the preprocessing contract, quantization, provenance and file checksums';
  return 'every file above in one zip';
}

/** The value of `codes` most frequent among `ids` (the privileged group by default). */
function largestGroup(version: DatasetVersion, codes: Int32Array | Int16Array | Int8Array, values: readonly string[], ids: Uint32Array): string {
  const counts = new Map<number, number>();
  const wanted = new Set(ids);
  version.sampleIds.forEach((id, at) => {
    if (!wanted.has(id)) return;
    const code = codes[at] ?? -1;
    if (code >= 0) counts.set(code, (counts.get(code) ?? 0) + 1);
  });
  let best = 0;
  let bestCount = -1;
  for (const [code, count] of counts) if (count > bestCount || (count === bestCount && code < best)) [best, bestCount] = [code, count];
  return values[best] ?? '';
}

export interface TestVectors {
  inputShape: number[];
  input: { scale: number; zeroPoint: number };
  output: { scale: number; zeroPoint: number };
  sampleIds: number[];
  labels: number[];
  inputs: number[][];
  /** What TFLite Micro (reference kernels, CMSIS-NN) computes: what the board must print. */
  expected: number[][];
  /**
   * What TFLite's default CPU path (the XNNPACK delegate: desktop, browser, tfjs-tflite)
   * computes; it may differ from `expected` by a step next to a half step.
   */
  expectedXnnpack: number[][];
}

/** One sample per class first (so the sketch's ten cover the classes), then more; with the interpreter's int8 outputs. */
async function makeTestVectors(db: HearthDb, graph: QGraph, split: PairedPredictions, interpreter: Int8Interpreter): Promise<TestVectors> {
  const chosen: number[] = [];
  const seenClass = new Set<number>();
  split.ids.forEach((id, i) => {
    const label = split.trueLabels[i] as number;
    if (!seenClass.has(label) && chosen.length < TEST_VECTOR_COUNT) {
      seenClass.add(label);
      chosen.push(i);
    }
  });
  for (let i = 0; chosen.length < Math.min(TEST_VECTOR_COUNT, split.ids.length); i++) if (!chosen.includes(i)) chosen.push(i);
  const ids = chosen.map((i) => split.ids[i] as number);
  const pixels = await getPixels(db, ids);
  const inT = graph.tensors[graph.input] as QTensor;
  const outT = graph.tensors[graph.output] as QTensor;
  const inputs = pixels.map((p) => pixelsToInt8(p));
  const xnnpack = new Int8Interpreter(graph, { arithmetic: 'xnnpack' });
  return {
    inputShape: inT.shape,
    input: { scale: inT.scale, zeroPoint: inT.zeroPoint },
    output: { scale: outT.scale, zeroPoint: outT.zeroPoint },
    sampleIds: ids,
    labels: chosen.map((i) => split.trueLabels[i] as number),
    inputs: inputs.map((x) => Array.from(x)),
    expected: inputs.map((x) => Array.from(interpreter.run(x))),
    expectedXnnpack: inputs.map((x) => Array.from(xnnpack.run(x))),
  };
}

/** Reloads the float tfjs files as a user would and returns the largest logit difference. */
async function reloadCheck(modelJson: string, weightsBin: Uint8Array, original: tf.LayersModel, pixels: Uint8Array[], input: { width: number; height: number; channels: 1 | 3; resize: 'stretch' }): Promise<number> {
  const parsed = JSON.parse(modelJson) as { modelTopology: object; weightsManifest: { weights: tf.io.WeightsManifestEntry[] }[] };
  const reloaded = await tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: parsed.modelTopology,
      weightSpecs: parsed.weightsManifest[0]?.weights ?? [],
      weightData: weightsBin.slice().buffer,
    }),
  );
  try {
    return tf.tidy(() => {
      const x = pixelsToInput(pixels, input);
      return tf.max(tf.abs(tf.sub(reloaded.predict(x) as tf.Tensor, original.apply(x, { training: false }) as tf.Tensor))).dataSync()[0] as number;
    });
  } finally {
    reloaded.dispose();
  }
}

/** A stored export: its report, and its files for download. */
export async function getExport(db: HearthDb, exportId: string): Promise<ExportResult> {
  const run = await getRunOfKind(db, exportId, 'export');
  if (!run || !run.result) throw new NotFoundError(`Export ${exportId} no longer exists: export the model again.`);
  return run.result;
}

/** The project's exports, newest first (reports only). */
export async function listExports(db: HearthDb, projectId: string): Promise<ExportReport[]> {
  const runs = (await listRunsOfKind(db, projectId, 'export')).filter((r) => r.result);
  return runs.sort((a, b) => b.createdAt - a.createdAt).map((r) => r.result.report);
}

/** Records the user's explicit decision to download despite failing data unit tests. */
export async function overrideExportBlock(db: HearthDb, exportId: string): Promise<ExportReport> {
  const run = await getRunOfKind(db, exportId, 'export');
  if (!run || !run.result) throw new NotFoundError(`Export ${exportId} no longer exists: export the model again.`);
  const result = run.result;
  const report: ExportReport = { ...result.report, override: { at: Date.now() } };
  await putRun(db, { ...run, result: { ...result, report } });
  return report;
}

