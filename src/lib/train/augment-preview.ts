/**
 * The Train page's preview of a run's augmentation: the first training batch of epoch 1
 * exactly as the run will see it — the same shuffle (the run's seed, epoch 0), the same
 * batch (so mixing partners are the same), the same hook and seeds, on the path the
 * run's backend will take — of which the first few images are shown with what was drawn.
 */
import { tf } from '../compute/register';
import type { ImageU8 } from '../augment/types';
import { InvalidInputError } from '../jobs/errors';
import { getProject } from '../storage/projects';
import { getPixels } from '../storage/samples';
import type { HearthDb } from '../storage/schema';
import { getVersion } from '../storage/versions';
import { epochOrder, labeledIndices } from './batches';
import { pixelsToInput } from './models';
import { getSavedPipeline } from '../augment/pipelines';
import type { AugmentationPath } from '../augment/report';
import { augmentationHook } from './augment-hook';

/** More than this would only make the page wait: the strip shows a handful. */
export const MAX_TRAIN_PREVIEW = 16;

export interface TrainPreviewRequest {
  projectId: string;
  versionId: number;
  pipelineId: string;
  /** The run's seed: it orders the epoch and seeds the augmentation. */
  seed: number;
  /** The run's batch size: the batch decides mixing partners. */
  batchSize: number;
  /** Images to show, from the start of the batch. */
  count: number;
}

export interface TrainPreviewImage {
  sampleId: number;
  /** Class name of the sample's own label. */
  label: string;
  original: ImageU8;
  augmented: ImageU8;
  /** The transforms that fired, in order. */
  steps: string[];
  /** With mixing: the soft label's non-zero classes and weights, largest first; else null. */
  softLabel: { label: string; weight: number }[] | null;
}

export interface TrainPreview {
  images: TrainPreviewImage[];
  /** Where the batch was augmented: where the run's steps will be, on this backend. */
  path: AugmentationPath;
  /** The saved pipeline's hash, which a run started now records. */
  pipelineHash: string;
}

export async function previewTrainingAugmentation(db: HearthDb, req: TrainPreviewRequest): Promise<TrainPreview> {
  if (!(Number.isInteger(req.count) && req.count >= 1 && req.count <= MAX_TRAIN_PREVIEW)) {
    throw new InvalidInputError(`Preview from 1 to ${MAX_TRAIN_PREVIEW} images, not ${req.count}.`);
  }
  if (!(Number.isInteger(req.batchSize) && req.batchSize >= 1)) throw new InvalidInputError(`The batch size must be a whole number of at least 1, got ${req.batchSize}.`);
  if (!Number.isInteger(req.seed)) throw new InvalidInputError(`The seed must be an integer, got ${req.seed}.`);
  const [project, version, saved] = await Promise.all([getProject(db, req.projectId), getVersion(db, req.versionId), getSavedPipeline(db, req.projectId, req.pipelineId)]);
  if (version.projectId !== project.id) throw new InvalidInputError(`Dataset version ${req.versionId} belongs to another project: pick a version of ${project.name}.`);
  const train = labeledIndices(version, 'train');
  if (train.length === 0) throw new InvalidInputError(`Dataset version ${version.number} has no labeled training samples to preview: label some first.`);

  // What streamBatches gives trainModel as the first batch of epoch 0 (step 0).
  const first = epochOrder(train, { seed: req.seed, epoch: 0 }).subarray(0, Math.min(req.batchSize, train.length));
  const ids = Uint32Array.from(first, (idx) => version.sampleIds[idx] as number);
  const labelIndices = Int32Array.from(first, (idx) => version.labels[idx] as number);
  const pixels = await getPixels(db, Array.from(ids));
  const { width, height, channels } = project.input;
  const hook = augmentationHook(saved.spec, { seed: req.seed, numClasses: version.classes.length, input: project.input });

  const x = pixelsToInput(pixels, project.input);
  const labels = tf.tensor1d(labelIndices, 'int32');
  let augmented: Awaited<ReturnType<typeof hook.augment>> | null = null;
  try {
    augmented = await hook.augment({ x, labels, pixels, labelIndices, ids, epoch: 0, step: 0 });
    const n = Math.min(req.count, ids.length);
    const perImage = width * height * channels;
    // A readback, for the page: training itself never reads the batch back.
    const values = (await augmented.x.data()) as Float32Array;
    const targets = augmented.targets ? ((await augmented.targets.data()) as Float32Array) : null;
    const classes = version.classes;
    const images = Array.from({ length: n }, (_, i): TrainPreviewImage => {
      const data = Uint8Array.from(values.subarray(i * perImage, (i + 1) * perImage), (v) => Math.round(v * 255));
      let softLabel: TrainPreviewImage['softLabel'] = null;
      if (targets) {
        const row = targets.subarray(i * classes.length, (i + 1) * classes.length);
        softLabel = Array.from(row, (weight, c) => ({ label: classes[c] as string, weight }))
          .filter((e) => e.weight > 0)
          .sort((a, b) => b.weight - a.weight);
      }
      return {
        sampleId: ids[i] as number,
        label: classes[labelIndices[i] as number] as string,
        original: { width, height, channels, data: pixels[i] as Uint8Array },
        augmented: { width, height, channels, data },
        steps: (augmented?.plans[i] ?? []).map((s) => s.transform),
        softLabel,
      };
    });
    return { images, path: augmented.path, pipelineHash: saved.hash };
  } finally {
    tf.dispose([x, labels]);
    if (augmented) tf.dispose(augmented.targets ? [augmented.x, augmented.targets] : [augmented.x]);
  }
}
