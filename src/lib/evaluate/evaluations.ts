/**
 * Evaluations of stored models as the studio uses them: run one on a split and keep it
 * (a RunRecord of kind 'evaluate', so every result stays reproducible and comparable),
 * then ask it for group metrics, data-unit-test results with their history, and saliency.
 */
import { tf } from '../compute/register';
import { PROVENANCE_KINDS, SPLITS, type DatasetVersion, type EvaluationRun, type StoredEvaluation } from '../storage/records';
import { InvalidInputError, NotFoundError } from '../jobs/errors';
import type { CancelToken, ProgressFn } from '../jobs/progress';
import { getPixels } from '../storage/samples';
import type { HearthDb } from '../storage/schema';
import { getSetting, setSetting } from '../storage/settings';
import { getProject } from '../storage/projects';
import { getRunOfKind, listRunsOfKind, putRun } from '../storage/runs';
import { getVersion } from '../storage/versions';
import { evaluateModel } from './evaluate';
import { pixelsToInput } from '../train/models';
import { loadStoredModel, type ModelCache } from '../train/runs';
import { gradCam, overlayHeatmap, smoothGrad, vanillaGradient, type SaliencyMap } from './saliency';
import { computeImageStats, type ImageStatName } from '../analysis/image-stats';
import { groupsFromVersion, modelBias, type ModelBiasReport } from '../analysis/model-bias';
import { accuracyCounts, worstGroupGap, type AttributeAccuracyGap } from '../analysis/group-gaps';
import { evaluateSlices, parseSlicesJson, statsUsed, type Slice, type SliceResult, type SliceSample } from './slices';
import type { EvalSplit, EvaluationSummary } from '../storage/stored-shapes';
export type { EvalSplit, EvaluationSummary } from '../storage/stored-shapes';

const EVAL_BATCH_SIZE = 128;
/** Samples whose image statistics are computed per storage read, for stat-based slices. */
const STATS_CHUNK = 512;
/** Fixed so a SmoothGrad map is the same every time it is asked for. */
const SMOOTHGRAD_SEED = 0;

const slicesKey = (projectId: string): string => `slices:${projectId}`;

export async function evaluateStored(
  db: HearthDb,
  req: { modelId: string; versionId: number; split: EvalSplit },
  opts: { onProgress?: ProgressFn; cancel?: CancelToken } = {},
): Promise<EvaluationSummary> {
  const loaded = await loadStoredModel(db, req.modelId);
  try {
    const result = await evaluateModel(db, loaded.model, {
      versionId: req.versionId,
      split: req.split,
      batchSize: EVAL_BATCH_SIZE,
      ...opts,
    });
    const summary: StoredEvaluation = {
      evaluationId: crypto.randomUUID(),
      modelId: req.modelId,
      versionId: req.versionId,
      split: req.split,
      accuracy: result.accuracy,
      perClass: result.perClass,
      confusion: result.confusion,
      classes: loaded.classes,
      predictions: result.predictions,
    };
    const run: EvaluationRun = {
      id: summary.evaluationId,
      projectId: loaded.record.projectId,
      kind: 'evaluate',
      datasetVersionId: req.versionId,
      seed: loaded.model.spec.seed,
      backend: tf.getBackend(),
      config: { modelId: req.modelId, split: req.split },
      status: 'done',
      createdAt: Date.now(),
      finishedAt: Date.now(),
      result: summary,
    };
    await putRun(db, run);
    return summary;
  } finally {
    loaded.model.dispose();
  }
}

async function getEvaluation(db: HearthDb, evaluationId: string): Promise<{ run: EvaluationRun; evaluation: StoredEvaluation }> {
  const run = await getRunOfKind(db, evaluationId, 'evaluate');
  if (!run || !run.result) {
    throw new NotFoundError(`Evaluation ${evaluationId} no longer exists: evaluate the model again.`);
  }
  return { run, evaluation: run.result };
}

/** Positions of `ids` in the version's sorted sampleIds. */
function indicesInVersion(version: DatasetVersion, ids: Uint32Array): Uint32Array {
  const out = new Uint32Array(ids.length);
  const sorted = version.sampleIds;
  for (let i = 0; i < ids.length; i++) {
    let lo = 0;
    let hi = sorted.length - 1;
    const id = ids[i] ?? 0;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((sorted[mid] ?? 0) < id) lo = mid + 1;
      else hi = mid;
    }
    if (sorted[lo] !== id) throw new NotFoundError(`Sample id ${id} is not in dataset version ${version.number}.`);
    out[i] = lo;
  }
  return out;
}

export async function modelBiasFor(
  db: HearthDb,
  evaluationId: string,
  req: { attribute: string; favourableClass: number; privileged: string[] },
): Promise<ModelBiasReport> {
  const { evaluation } = await getEvaluation(db, evaluationId);
  return modelBiasOf(db, evaluation, req);
}

/** Group metrics of any predictions on one dataset version. */
export async function modelBiasOf(
  db: HearthDb,
  evaluation: Pick<EvaluationSummary, 'versionId' | 'predictions'>,
  req: { attribute: string; favourableClass: number; privileged: string[] },
): Promise<ModelBiasReport> {
  const version = await getVersion(db, evaluation.versionId);
  const column = version.attributes[req.attribute];
  if (!column) {
    throw new InvalidInputError(`Dataset version ${version.number} has no attribute "${req.attribute}": import a CSV with that column, or pick another.`);
  }
  const indices = indicesInVersion(version, evaluation.predictions.ids);
  return modelBias({
    trueLabels: evaluation.predictions.trueLabels,
    predictedLabels: evaluation.predictions.predicted,
    groups: groupsFromVersion(version, req.attribute, indices),
    favourableClass: req.favourableClass,
    privileged: req.privileged,
    groupValues: column.values,
  });
}

/** For every attribute of the evaluated version: accuracy per group and the worst-off group against the rest. */
export async function groupGapsFor(db: HearthDb, evaluationId: string): Promise<AttributeAccuracyGap[]> {
  const { evaluation } = await getEvaluation(db, evaluationId);
  return groupGapsOf(db, evaluation);
}

/** The same for any predictions on one dataset version (the export report's float and int8 models). */
export async function groupGapsOf(
  db: HearthDb,
  evaluation: Pick<EvaluationSummary, 'versionId' | 'predictions'>,
): Promise<AttributeAccuracyGap[]> {
  const version = await getVersion(db, evaluation.versionId);
  const indices = indicesInVersion(version, evaluation.predictions.ids);
  return Object.entries(version.attributes).map(([attribute, column]) => {
    const groups = accuracyCounts(
      evaluation.predictions.trueLabels,
      evaluation.predictions.predicted,
      groupsFromVersion(version, attribute, indices),
      column.values,
    );
    return { attribute, groups, ...worstGroupGap(groups) };
  });
}

export async function getSlices(db: HearthDb, projectId: string): Promise<Slice[]> {
  const stored = await getSetting<unknown>(db, slicesKey(projectId));
  return stored === undefined ? [] : parseSlicesJson(stored);
}

/** Validates and saves a project's data unit tests; throws InvalidSliceError naming each problem. */
export async function saveSlices(db: HearthDb, projectId: string, slices: Slice[]): Promise<void> {
  await getProject(db, projectId);
  await setSetting(db, slicesKey(projectId), parseSlicesJson(slices));
}

/** The samples of an evaluation (or of any predictions on one version) as data unit tests see them. */
export async function sliceSamples(
  db: HearthDb,
  evaluation: Pick<EvaluationSummary, 'versionId' | 'predictions'>,
  slices: readonly Slice[],
): Promise<SliceSample[]> {
  const version = await getVersion(db, evaluation.versionId);
  const project = await getProject(db, version.projectId);
  const indices = indicesInVersion(version, evaluation.predictions.ids);
  const attributeNames = Object.keys(version.attributes);
  const needed = new Set<ImageStatName>();
  for (const s of slices) statsUsed(s.predicate, needed);
  const samples: SliceSample[] = [];
  for (let i = 0; i < indices.length; i++) {
    const at = indices[i] ?? 0;
    const attributes: Record<string, string> = {};
    for (const name of attributeNames) {
      const col = version.attributes[name];
      const code = col?.codes[at] ?? -1;
      const value = code >= 0 ? col?.values[code] : undefined;
      if (value !== undefined) attributes[name] = value;
    }
    const label = evaluation.predictions.trueLabels[i] ?? -1;
    const predicted = evaluation.predictions.predicted[i] ?? -1;
    samples.push({
      label: label >= 0 ? (version.classes[label] ?? null) : null,
      predicted: predicted >= 0 ? (version.classes[predicted] ?? null) : null,
      split: SPLITS[version.splits[at] ?? 3] ?? 'unassigned',
      provenance: PROVENANCE_KINDS[version.provenance[at] ?? 0] ?? 'real',
      attributes,
    });
  }
  if (needed.size > 0) {
    const { width, height, channels } = project.input;
    const ids = Array.from(evaluation.predictions.ids);
    for (let start = 0; start < ids.length; start += STATS_CHUNK) {
      const pixels = await getPixels(db, ids.slice(start, start + STATS_CHUNK));
      pixels.forEach((p, k) => {
        const sample = samples[start + k];
        if (sample) sample.stats = computeImageStats(p, width, height, channels);
      });
    }
  }
  return samples;
}

export interface SliceRun {
  results: SliceResult[];
  history: { evaluationId: string; createdAt: number; results: SliceResult[] }[];
}

/** Runs the project's data unit tests on an evaluation, keeps the results with it, and returns the history. */
export async function runSlicesFor(db: HearthDb, evaluationId: string): Promise<SliceRun> {
  const { run, evaluation } = await getEvaluation(db, evaluationId);
  const slices = await getSlices(db, run.projectId);
  const results = evaluateSlices(slices, await sliceSamples(db, evaluation, slices));
  await putRun(db, { ...run, result: { ...evaluation, sliceResults: results } });
  const runs = await listRunsOfKind(db, run.projectId, 'evaluate');
  const history = runs
    .filter((r) => r.result?.sliceResults)
    .sort((a, b) => a.createdAt - b.createdAt)
    .map((r) => ({
      evaluationId: r.id,
      createdAt: r.createdAt,
      results: r.id === run.id ? results : (r.result.sliceResults ?? []),
    }));
  return { results, history };
}

export type SaliencyMethod = 'vanilla' | 'smoothgrad' | 'gradcam';

export interface SaliencyResult {
  map: SaliencyMap;
  overlayRgba: Uint8ClampedArray;
  width: number;
  height: number;
  predicted: number;
  probabilities: number[];
}

export async function saliencyFor(
  db: HearthDb,
  cache: ModelCache,
  req: { modelId: string; sampleId: number; method: SaliencyMethod; targetClass?: number },
): Promise<SaliencyResult> {
  const { model } = await cache.get(db, req.modelId);
  const [pixels] = await getPixels(db, [req.sampleId]);
  if (!pixels) throw new NotFoundError(`Sample id ${req.sampleId} no longer exists.`);
  const input = model.spec.input;
  const x = pixelsToInput([pixels], input);
  try {
    const probs = tf.tidy(() => tf.softmax(model.forward(x).logits).dataSync());
    const probabilities = Array.from(probs);
    const predicted = probabilities.indexOf(Math.max(...probabilities));
    const cls = req.targetClass ?? predicted;
    const maps =
      req.method === 'vanilla'
        ? vanillaGradient(model, x, cls)
        : req.method === 'smoothgrad'
          ? smoothGrad(model, x, cls, { seed: SMOOTHGRAD_SEED })
          : gradCam(model, x, cls);
    const map = maps[0];
    if (!map) throw new Error('Saliency returned no map for one image.');
    return { map, overlayRgba: overlayHeatmap(pixels, map, input), width: input.width, height: input.height, predicted, probabilities };
  } finally {
    x.dispose();
  }
}
