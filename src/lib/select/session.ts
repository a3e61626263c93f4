/**
 * The labeling loop as the studio runs it on stored data: pick images from a project's
 * unlabeled train pool with a trained model, let the user label them (saved as they go, so
 * a reload loses nothing), then write the labels as a new dataset version and retrain from
 * the previous model's weights (warm start). Every round keeps its picks, labels, skips,
 * method, seed, models and validation accuracy in one run record per project (kind
 * 'label-session'), which is what the Label page's chart is drawn from.
 */
import { tf } from '../compute/register';
import type { DatasetVersion, LabelSessionRun, StoredSession } from '../storage/records';
import { InvalidInputError, NotFoundError } from '../jobs/errors';
import { NEVER_CANCELLED, ProgressReporter, type CancelToken, type ProgressFn } from '../jobs/progress';
import { getProject } from '../storage/projects';
import { getModel } from '../storage/models';
import { getRun, getRunOfKind, putRun } from '../storage/runs';
import { getPixels, setSampleLabels } from '../storage/samples';
import type { HearthDb } from '../storage/schema';
import { createVersion, latestVersion } from '../storage/versions';
import { labeledIndices } from '../train/batches';
import { evaluateModel } from '../evaluate/evaluate';
import type { ModelSpec } from '../train/models';
import { listModels, loadStoredModel, summarizeRun } from '../train/runs';
import { trainModel, type TrainConfig } from '../train/train';
import { pretrainRotation } from './rotation';
import { selectBatch } from './select';
import type { ImageSet, LabelRound, SelectMethod } from './types';

export interface LabelSessionView {
  projectId: string;
  /** The model selections are made with (the newest trained one), or null when none is trained yet. */
  modelId: string | null;
  rounds: LabelRound[];
  open: LabelRound | null;
  unlabeledPool: number;
  classes: string[];
}

const SPLIT_TRAIN = 0;
/** Images read from IndexedDB per request while describing a pool. */
const READ_CHUNK = 512;
const EVAL_BATCH = 256;

const sessionId = (projectId: string): string => `label-session:${projectId}`;

async function loadSession(db: HearthDb, projectId: string): Promise<{ run: LabelSessionRun | null; session: StoredSession }> {
  const run = (await getRunOfKind(db, sessionId(projectId), 'label-session')) ?? null;
  const session = run?.result ?? { rounds: [], open: null };
  return { run, session };
}

async function saveSession(db: HearthDb, projectId: string, session: StoredSession, seed: number): Promise<void> {
  const existing = await getRun(db, sessionId(projectId));
  const now = Date.now();
  const run: LabelSessionRun = {
    id: sessionId(projectId),
    projectId,
    kind: 'label-session',
    datasetVersionId: null,
    seed,
    backend: tf.getBackend(),
    config: {},
    status: 'running',
    createdAt: existing?.createdAt ?? now,
    finishedAt: null,
    result: session,
  };
  await putRun(db, run);
}

async function currentVersion(db: HearthDb, projectId: string): Promise<DatasetVersion> {
  const version = await latestVersion(db, projectId);
  if (!version) throw new InvalidInputError('This project has no dataset version yet: import images first.');
  return version;
}

/** Positions in the version of train samples without a label: the pool. */
function unlabeledTrain(version: DatasetVersion): Uint32Array {
  const out: number[] = [];
  for (let i = 0; i < version.sampleIds.length; i++) {
    if (version.splits[i] === SPLIT_TRAIN && (version.labels[i] as number) < 0) out.push(i);
  }
  return Uint32Array.from(out);
}

/** An ImageSet over some positions of a version, read from IndexedDB in chunks. */
function imageSet(db: HearthDb, version: DatasetVersion, positions: Uint32Array, withLabels: boolean): ImageSet {
  const ids = Array.from(positions, (at) => version.sampleIds[at] as number);
  return {
    count: ids.length,
    async read(start, end) {
      const out: Uint8Array[] = [];
      for (let s = start; s < end; s += READ_CHUNK) out.push(...(await getPixels(db, ids.slice(s, Math.min(end, s + READ_CHUNK)))));
      return out;
    },
    ...(withLabels ? { labels: Int16Array.from(positions, (at) => version.labels[at] as number) } : {}),
  };
}

/** The newest trained model of the project, or null. */
async function newestModel(db: HearthDb, projectId: string): Promise<string | null> {
  const models = await listModels(db, projectId);
  return models[0]?.modelId ?? null;
}

export async function getLabelSession(db: HearthDb, projectId: string): Promise<LabelSessionView> {
  const project = await getProject(db, projectId);
  const version = await latestVersion(db, projectId);
  const { session } = await loadSession(db, projectId);
  return {
    projectId,
    modelId: await newestModel(db, projectId),
    rounds: session.rounds,
    open: session.open,
    unlabeledPool: version ? unlabeledTrain(version).length : 0,
    classes: version?.classes ?? project.classes,
  };
}

/** Picks `budget` pool images with `method` and opens a round with them. */
export async function selectForLabeling(
  db: HearthDb,
  req: { projectId: string; method: SelectMethod; budget: number; seed: number },
  opts: { onProgress?: ProgressFn; cancel?: CancelToken } = {},
): Promise<LabelSessionView> {
  if (!Number.isInteger(req.budget) || req.budget < 1) throw new InvalidInputError(`The budget must be a whole number of images, at least 1; got ${req.budget}.`);
  const { session } = await loadSession(db, req.projectId);
  if (session.open && Object.keys(session.open.labels).length > 0) {
    throw new InvalidInputError('The open round has labels that are not trained on yet: retrain first, or finish that round.');
  }
  const modelId = await newestModel(db, req.projectId);
  if (!modelId) throw new InvalidInputError('Selection needs a trained model: train one on the Train page first.');
  const version = await currentVersion(db, req.projectId);
  const poolPositions = unlabeledTrain(version);
  if (poolPositions.length === 0) throw new InvalidInputError('Every train image already has a label: there is nothing left to pick.');
  const valPositions = labeledIndices(version, 'val');
  if (valPositions.length === 0 && req.method !== 'random') {
    throw new InvalidInputError('Selection compares the pool with labelled validation images, and the val split has none: assign some, or use random.');
  }
  const loaded = await loadStoredModel(db, modelId);
  try {
    const result = await selectBatch(loaded.model, imageSet(db, version, valPositions, true), imageSet(db, version, poolPositions, false), { method: req.method, budget: req.budget, seed: req.seed }, opts);
    const round: LabelRound = {
      round: session.rounds.length + 1,
      method: req.method,
      seed: req.seed,
      budget: req.budget,
      picks: result.picks.map((p) => version.sampleIds[poolPositions[p] as number] as number),
      labels: {},
      skipped: [],
      selectedWith: modelId,
      retrainedModelId: null,
      labelCount: labeledIndices(version, 'train').length,
      accuracy: null,
      perClassAccuracy: [],
      createdAt: Date.now(),
    };
    await saveSession(db, req.projectId, { rounds: session.rounds, open: round }, req.seed);
    return getLabelSession(db, req.projectId);
  } finally {
    loaded.model.dispose();
  }
}

/** Saves the open round's labels so far. */
export async function saveRoundLabels(db: HearthDb, projectId: string, labels: Record<number, number>, skipped: number[]): Promise<LabelSessionView> {
  const { session } = await loadSession(db, projectId);
  const open = session.open;
  if (!open) throw new InvalidInputError('No round is open: pick images first.');
  const version = await currentVersion(db, projectId);
  const picked = new Set(open.picks);
  for (const [id, cls] of Object.entries(labels)) {
    if (!picked.has(Number(id))) throw new InvalidInputError(`Sample ${id} is not one of this round's picks.`);
    if (!Number.isInteger(cls) || cls < 0 || cls >= version.classes.length) throw new InvalidInputError(`Class ${cls} for sample ${id} is not one of the ${version.classes.length} classes.`);
  }
  const skippedOnly = skipped.filter((id) => picked.has(id) && labels[id] === undefined);
  await saveSession(db, projectId, { rounds: session.rounds, open: { ...open, labels: { ...labels }, skipped: skippedOnly } }, open.seed);
  return getLabelSession(db, projectId);
}

/** Sets the label of stored samples (by class name) in one transaction. */
async function writeLabels(db: HearthDb, labels: Map<number, string>): Promise<void> {
  await setSampleLabels(db, labels, (id) => new NotFoundError(`Sample id ${id} no longer exists: pick images again.`));
}

const DEFAULT_RETRAIN: TrainConfig = {
  epochs: 5,
  batchSize: 32,
  optimizer: { kind: 'sgd', lr: 0.01, momentum: 0.9, nesterov: true },
  weightDecay: 5e-4,
  schedule: { kind: 'constant' },
  seed: 1,
};

/**
 * Writes the open round's labels as a new dataset version, retrains from the weights of
 * the model the picks were made with (warm start), evaluates it on val, closes the round.
 */
export async function retrainWithLabels(
  db: HearthDb,
  req: { projectId: string; epochs: number },
  opts: { onProgress?: ProgressFn; cancel?: CancelToken } = {},
): Promise<LabelSessionView> {
  const cancel = opts.cancel ?? NEVER_CANCELLED;
  const progress = new ProgressReporter(opts.onProgress);
  const { session } = await loadSession(db, req.projectId);
  const open = session.open;
  if (!open) throw new InvalidInputError('No round is open: pick images and label some first.');
  const given = Object.entries(open.labels).map(([id, cls]) => [Number(id), cls] as const);
  if (given.length === 0) throw new InvalidInputError('No image of this round has a label yet: label some, then retrain.');
  if (!Number.isInteger(req.epochs) || req.epochs < 1) throw new InvalidInputError(`Retraining needs at least one epoch; got ${req.epochs}.`);
  const before = await currentVersion(db, req.projectId);
  progress.report(0, 1, 'Writing the labels', true);
  await writeLabels(db, new Map(given.map(([id, cls]) => [id, before.classes[cls] as string])));
  const version = await createVersion(db, req.projectId, { recipe: null, note: `Active learning round ${open.round}: ${given.length} new labels (${open.method}, seed ${open.seed})` });
  cancel.throwIfCancelled();

  const previousId = open.selectedWith;
  if (!previousId) throw new InvalidInputError('The round has no model to start from: train one on the Train page first.');
  const loaded = await loadStoredModel(db, previousId);
  try {
    const previousRun = loaded.record.runId ? await getRun(db, loaded.record.runId) : undefined;
    const previousConfig = previousRun ? (await summarizeRun(db, previousRun)).config : DEFAULT_RETRAIN;
    const result = await trainModel(db, {
      projectId: req.projectId,
      versionId: version.id as number,
      model: loaded.model,
      config: { ...previousConfig, epochs: req.epochs },
      onProgress: opts.onProgress,
      cancel,
    });
    const valCount = labeledIndices(version, 'val').length;
    const evaluation = valCount > 0 ? await evaluateModel(db, loaded.model, { versionId: version.id as number, split: 'val', batchSize: EVAL_BATCH, cancel }) : null;
    const closed: LabelRound = {
      ...open,
      retrainedModelId: result.modelId,
      labelCount: labeledIndices(version, 'train').length,
      accuracy: evaluation?.accuracy.value ?? null,
      perClassAccuracy: evaluation ? evaluation.perClass.map((c) => c.recall.value ?? null) : [],
    };
    await saveSession(db, req.projectId, { rounds: [...session.rounds, closed], open: null }, open.seed);
    progress.report(1, 1, 'Done', true);
    return getLabelSession(db, req.projectId);
  } finally {
    loaded.model.dispose();
  }
}


/** The reference code's rotation pretraining on MNIST (mnist/unsup.py): SGD, lr 0.05, batch 25 pool images (×4 rotations). */
const ROTATION_PRETRAIN = { batchSize: 25, lr: 0.05 } as const;

/**
 * The paper's self-supervised start: the task model learns to tell 0°/90°/180°/270°
 * rotations apart on every train image (labels not needed), gets a fresh classification
 * head, and is then trained on the labelled images. The result is saved like any trained
 * model, so it becomes the model the next picks are made with.
 */
export async function selfSupervisedStart(
  db: HearthDb,
  req: { projectId: string; rotationEpochs: number; epochs: number; seed: number },
  opts: { onProgress?: ProgressFn; cancel?: CancelToken } = {},
): Promise<LabelSessionView> {
  if (!Number.isInteger(req.rotationEpochs) || req.rotationEpochs < 1 || !Number.isInteger(req.epochs) || req.epochs < 1) {
    throw new InvalidInputError('Pretraining and training each need at least one epoch.');
  }
  const project = await getProject(db, req.projectId);
  const version = await currentVersion(db, req.projectId);
  if (project.input.width !== project.input.height) {
    throw new InvalidInputError(`Rotation pretraining turns images by quarter turns, which needs square images; this project's are ${project.input.width}×${project.input.height}.`);
  }
  const train: number[] = [];
  for (let i = 0; i < version.sampleIds.length; i++) if (version.splits[i] === SPLIT_TRAIN) train.push(i);
  if (labeledIndices(version, 'train').length === 0) throw new InvalidInputError('Training after the pretraining needs some labelled train images: label a few first.');
  const newest = await newestModel(db, req.projectId);
  const previous = newest ? await getModel(db, newest) : undefined;
  const previousSpec: ModelSpec | undefined = previous?.meta.spec;
  const spec: ModelSpec = { kind: previousSpec?.kind ?? 'lenet', input: project.input, numClasses: version.classes.length, seed: req.seed, ...(previousSpec?.widthMultiplier === undefined ? {} : { widthMultiplier: previousSpec.widthMultiplier }) };
  const model = await pretrainRotation(spec, imageSet(db, version, Uint32Array.from(train), false), {
    epochs: req.rotationEpochs,
    ...ROTATION_PRETRAIN,
    seed: req.seed,
    ...(opts.cancel ? { cancel: opts.cancel } : {}),
    ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
  });
  try {
    await trainModel(db, {
      projectId: req.projectId,
      versionId: version.id as number,
      model,
      config: { ...DEFAULT_RETRAIN, epochs: req.epochs, seed: req.seed },
      onProgress: opts.onProgress,
      cancel: opts.cancel ?? NEVER_CANCELLED,
    });
  } finally {
    model.dispose();
  }
  return getLabelSession(db, req.projectId);
}
