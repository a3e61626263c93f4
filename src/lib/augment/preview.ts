/**
 * Previews for the Augment page: samples under a pipeline, each with the seed and the
 * steps it drew, so what the user sees is exactly what a rebalancing run with that seed
 * would write. The plans run on the applier given (the CPU kernels in the data worker, or
 * the GPU in the compute worker); both give the same bytes.
 */
import { InvalidInputError } from '../jobs/errors';
import { getProject } from '../storage/projects';
import { getPixels } from '../storage/samples';
import type { HearthDb } from '../storage/schema';
import { CPU_APPLIER, type PlanApplier } from './apply';
import { planPipeline, validatePipeline, type PipelineSpec, type PlannedStep } from './pipeline';
import { TRANSFORMS } from './registry';
import type { ImageU8 } from './types';

/** More previews than this in one call would only make the page wait. */
const MAX_PREVIEWS = 64;

export interface PreviewRequest {
  projectId: string;
  sampleIds: number[];
  pipeline: PipelineSpec;
  seeds: number[];
}

export interface PreviewImage {
  sampleId: number;
  seed: number;
  image: ImageU8;
  steps: PlannedStep[];
}

/**
 * Every sample under every seed when one of the two lists has a single entry (one image,
 * many seeds; or a batch, one seed), else pairwise.
 */
export async function previewPipeline(db: HearthDb, req: PreviewRequest, applier: PlanApplier = CPU_APPLIER): Promise<PreviewImage[]> {
  const pipeline = validatePipeline(req.pipeline, TRANSFORMS);
  const project = await getProject(db, req.projectId);
  const pairs: [number, number][] =
    req.sampleIds.length === 1
      ? req.seeds.map((s) => [req.sampleIds[0] ?? 0, s])
      : req.seeds.length === 1
        ? req.sampleIds.map((id) => [id, req.seeds[0] ?? 0])
        : req.sampleIds.map((id, i) => [id, req.seeds[i] ?? i]);
  if (pairs.length > MAX_PREVIEWS) throw new InvalidInputError(`Preview at most ${MAX_PREVIEWS} images at a time (asked for ${pairs.length}).`);
  const ids = [...new Set(pairs.map(([id]) => id))];
  const pixels = new Map((await getPixels(db, ids)).map((p, i) => [ids[i] ?? 0, p]));
  const { width, height, channels } = project.input;
  const images: ImageU8[] = pairs.map(([sampleId]) => {
    const data = pixels.get(sampleId);
    if (!data) throw new InvalidInputError(`Sample id ${sampleId} has no pixels.`);
    return { width, height, channels, data };
  });
  const plans = pairs.map(([, seed], i) => planPipeline(pipeline, TRANSFORMS, seed, images[i] as ImageU8));
  const outputs = await applier.apply(images, plans, project.input);
  return pairs.map(([sampleId, seed], i) => ({ sampleId, seed, image: outputs[i] as ImageU8, steps: plans[i] as PlannedStep[] }));
}
