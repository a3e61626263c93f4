/**
 * Augmentation pipelines: an ordered list of transforms, each applied with a probability
 * and parameter ranges, stored as JSON in a dataset version's recipe. Running a pipeline
 * is two steps, kept apart so results reproduce: `planPipeline` draws every random choice
 * (whether a step fires, its parameters) from a seeded Rng, then `applyPlanCpu` (or the
 * GPU path) applies the concrete plan deterministically.
 */
import { Rng } from '../data/rng';
import { InvalidInputError } from '../jobs/errors';
import type { ImageU8, TransformDef } from './types';
import type { PipelineStep, PipelineSpec } from '../storage/stored-shapes';
export type { PipelineStep, PipelineSpec } from '../storage/stored-shapes';

/** A drawn step: which transform, with which concrete parameters. */
export interface PlannedStep {
  transform: string;
  params: unknown;
}

export type TransformRegistry = ReadonlyMap<string, TransformDef<unknown>>;

/** Checks a spec's shape and that every transform is registered; the error names the step. */
export function validatePipeline(spec: unknown, registry: TransformRegistry): PipelineSpec {
  if (typeof spec !== 'object' || spec === null) throw new InvalidInputError('A pipeline must be a JSON object with `version: 1` and `steps`.');
  const s = spec as Partial<PipelineSpec>;
  if (s.version !== 1) throw new InvalidInputError(`Unsupported pipeline version ${String(s.version)}: this studio reads version 1.`);
  if (!Array.isArray(s.steps)) throw new InvalidInputError('A pipeline needs a `steps` array (it may be empty).');
  s.steps.forEach((step: unknown, i) => {
    const where = `steps[${i}]`;
    if (typeof step !== 'object' || step === null) throw new InvalidInputError(`${where} must be an object with a \`transform\` name.`);
    const st = step as Partial<PipelineStep>;
    if (typeof st.transform !== 'string' || !registry.has(st.transform)) {
      const known = [...registry.keys()].sort().join(', ');
      throw new InvalidInputError(`${where}.transform "${String(st.transform)}" is not a known transform. Known: ${known}.`);
    }
    if (st.p !== undefined && !(typeof st.p === 'number' && st.p >= 0 && st.p <= 1)) {
      throw new InvalidInputError(`${where}.p must be a probability between 0 and 1, got ${String(st.p)}.`);
    }
    if (st.params !== undefined && (typeof st.params !== 'object' || st.params === null || Array.isArray(st.params))) {
      throw new InvalidInputError(`${where}.params must be an object of the transform's options.`);
    }
  });
  return s as PipelineSpec;
}

/**
 * Draws the concrete plan for one image. The stream is forked per step index, so adding a
 * step later in a pipeline never changes what earlier steps drew.
 */
export function planPipeline(
  spec: PipelineSpec,
  registry: TransformRegistry,
  seed: number,
  image: Readonly<Pick<ImageU8, 'width' | 'height' | 'channels'>>,
): PlannedStep[] {
  const root = new Rng(seed);
  const plan: PlannedStep[] = [];
  spec.steps.forEach((step, i) => {
    const def = registry.get(step.transform);
    if (!def) throw new InvalidInputError(`steps[${i}].transform "${step.transform}" is not a known transform.`);
    const rng = root.fork(`step-${i}`);
    if (rng.next() >= (step.p ?? 1)) return;
    plan.push({ transform: step.transform, params: def.sample(rng, step.params ?? {}, image) });
  });
  return plan;
}

/** Applies a drawn plan with the CPU reference kernels: the path where WebGPU is absent. */
export function applyPlanCpu(image: ImageU8, plan: readonly PlannedStep[], registry: TransformRegistry): ImageU8 {
  let out = image;
  for (const step of plan) {
    const def = registry.get(step.transform);
    if (!def) throw new InvalidInputError(`"${step.transform}" is not a known transform.`);
    out = def.cpu(out, step.params);
  }
  return out;
}
