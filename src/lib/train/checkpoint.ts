/**
 * Checkpoints and saved models, both stored as ModelRecords in the `models` store.
 *
 * A checkpoint is written at the end of every epoch: the model's weights (BatchNorm
 * moving statistics included) as tfjs artifacts, the optimizer's state, the number of
 * epochs done and the metrics history, under `meta.checkpointOf = runId`. Restoring one
 * and training on gives bit for bit the weights of an uninterrupted run, because every
 * other input of an epoch is a pure function of what is recorded: the shuffle order of
 * (seed, epoch), the learning rate of the global step, and the model's own computation.
 *
 * Only a run's latest checkpoint is kept (older ones are deleted in the same
 * transaction), so a long run does not fill the disk with one copy of the model per epoch;
 * when the run finishes, its checkpoints are deleted and the final model is what remains.
 */
import { tf } from '../compute/register';
import type { CheckpointMeta, FinalModelMeta, ModelRecord } from '../storage/records';
import { InvalidInputError, NotFoundError } from '../jobs/errors';
import { checkpointId, deleteCheckpoints, getModel, latestCheckpointId, putCheckpoint, putModel } from '../storage/models';
import type { HearthDb } from '../storage/schema';
import type { HearthModel } from './models';
import type { OptimizerState } from './optim';

export type CheckpointId = string;

export { checkpointId, deleteCheckpoints };

export function finalModelId(runId: string): string {
  return `${runId}/model`;
}

export type { CheckpointMeta };

interface Artifacts {
  topology: unknown;
  weightSpecs: tf.io.WeightsManifestEntry[];
  weightData: ArrayBuffer;
}

/** The model's tfjs artifacts (topology JSON, weight specs, weights in one buffer). */
export async function modelArtifacts(model: HearthModel): Promise<Artifacts> {
  let captured: Artifacts | null = null;
  await model.model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      if (!artifacts.weightSpecs || !artifacts.weightData) throw new Error('tfjs saved a model without weights.');
      captured = {
        topology: artifacts.modelTopology,
        weightSpecs: artifacts.weightSpecs,
        weightData: new tf.io.CompositeArrayBuffer(artifacts.weightData).slice(),
      };
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    }),
  );
  if (!captured) throw new Error('tfjs did not hand over the model artifacts.');
  return captured;
}

/** Writes a record's weights into `model` (same architecture); leaves no tensors. */
export function restoreWeights(model: HearthModel, record: Pick<ModelRecord, 'weightSpecs' | 'weightData'>): void {
  const named = tf.io.decodeWeights(record.weightData, record.weightSpecs as tf.io.WeightsManifestEntry[]);
  try {
    model.model.loadWeights(named, true);
  } catch (err) {
    throw new InvalidInputError(
      `The stored weights do not fit this model (${err instanceof Error ? err.message : String(err)}): rebuild the model with the spec it was saved with.`,
    );
  } finally {
    tf.dispose(Object.values(named));
  }
}

export interface SaveCheckpointArgs {
  projectId: string;
  runId: string;
  model: HearthModel;
  epochsDone: number;
  optimizer: OptimizerState;
  seed: number;
  history: CheckpointMeta['history'];
}

/** Saves the end-of-epoch state and drops the run's older checkpoints, in one transaction. */
export async function saveCheckpoint(db: HearthDb, args: SaveCheckpointArgs): Promise<CheckpointId> {
  const artifacts = await modelArtifacts(args.model);
  const id = checkpointId(args.runId, args.epochsDone);
  const meta: CheckpointMeta = {
    checkpointOf: args.runId,
    epoch: args.epochsDone,
    spec: args.model.spec,
    optimizer: args.optimizer,
    rng: { seed: args.seed, shuffleStream: "new Rng(seed).fork('shuffle/epoch-<epoch>')" },
    history: args.history,
  };
  const record: ModelRecord = {
    id,
    projectId: args.projectId,
    runId: args.runId,
    name: `Checkpoint after epoch ${args.epochsDone}`,
    createdAt: Date.now(),
    ...artifacts,
    meta: { ...meta },
  };
  await putCheckpoint(db, args.runId, record);
  return id;
}

export async function loadCheckpoint(db: HearthDb, id: CheckpointId): Promise<{ record: ModelRecord; meta: CheckpointMeta }> {
  const record = await getModel(db, id);
  if (!record) throw new NotFoundError(`Checkpoint ${id} does not exist (its run may have finished or been deleted). Start a new training run.`);
  const meta = record.meta;
  // Stored data is checked, not trusted: a record written by an older build may lack a field.
  if (meta.checkpointOf === undefined || typeof meta.checkpointOf !== 'string' || typeof meta.epoch !== 'number' || !meta.optimizer || !meta.spec || !meta.history) {
    throw new InvalidInputError(`Model ${id} is not a training checkpoint: pick a checkpoint of an interrupted run.`);
  }
  return { record, meta };
}

/** The latest checkpoint of a run, or null (none yet, or the run finished). */
export async function latestCheckpoint(db: HearthDb, runId: string): Promise<CheckpointId | null> {
  return latestCheckpointId(db, runId);
}

/** Saves a trained model as a ModelRecord, id `${runId}/model`. */
export async function saveModel(
  db: HearthDb,
  args: { projectId: string; runId: string; name: string; model: HearthModel; meta: Omit<FinalModelMeta, 'spec'> },
): Promise<string> {
  const artifacts = await modelArtifacts(args.model);
  const record: ModelRecord = {
    id: finalModelId(args.runId),
    projectId: args.projectId,
    runId: args.runId,
    name: args.name,
    createdAt: Date.now(),
    ...artifacts,
    meta: { spec: args.model.spec, ...args.meta },
  };
  await putModel(db, record);
  return record.id;
}
