/**
 * Previews for the Augment page, on the CPU reference path: samples under a pipeline,
 * each with the seed and the steps it drew, so what the user sees is exactly what a
 * rebalancing run with that seed would write. Also keeps a project's pipeline.
 */
import { InvalidInputError } from '../jobs/errors';
import { getProject } from '../storage/projects';
import { getPixels } from '../storage/samples';
import type { HearthDb } from '../storage/schema';
import { getSetting, setSetting } from '../storage/settings';
import { applyPlanCpu, planPipeline, validatePipeline, type PipelineSpec, type PlannedStep } from './pipeline';
import { fitToInput } from './rebalance-augment';
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
export async function previewPipeline(db: HearthDb, req: PreviewRequest): Promise<PreviewImage[]> {
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
  return pairs.map(([sampleId, seed]) => {
    const data = pixels.get(sampleId);
    if (!data) throw new InvalidInputError(`Sample ${sampleId} has no pixels.`);
    const image: ImageU8 = { width, height, channels, data };
    const steps = planPipeline(pipeline, TRANSFORMS, seed, image);
    return { sampleId, seed, image: fitToInput(applyPlanCpu(image, steps, TRANSFORMS), project.input), steps };
  });
}

const pipelineKey = (projectId: string): string => `augment-pipeline:${projectId}`;

export async function savePipeline(db: HearthDb, projectId: string, pipeline: PipelineSpec): Promise<void> {
  await getProject(db, projectId);
  await setSetting(db, pipelineKey(projectId), validatePipeline(pipeline, TRANSFORMS));
}

export async function getPipeline(db: HearthDb, projectId: string): Promise<PipelineSpec | null> {
  const stored = await getSetting<unknown>(db, pipelineKey(projectId));
  return stored === undefined ? null : validatePipeline(stored, TRANSFORMS);
}
