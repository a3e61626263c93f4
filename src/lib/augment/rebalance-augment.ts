/**
 * Rebalancing by augmentation: fills the deficit of chosen classes (or class × group
 * cells) with augmented variants of their real training samples, written as new samples
 * of the project, then freezes a new dataset version.
 *
 * Reproducibility. Everything random is derived from the job's `seed`:
 * - The parents of a cell are its real, labeled training samples of the base version, in
 *   ascending id order, shuffled by `new Rng(seed).fork('parents/' + cellKey)`.
 * - Child k of a cell (k = 0, 1, …, count − 1) varies parent `parents[k mod n]`, so every
 *   parent gets ⌊count / n⌋ or ⌈count / n⌉ variants, and its pipeline seed is
 *   `childSeed(seed, parentId, k)` = the seed of `new Rng(seed).fork('augment/<parentId>/<k>')`
 *   (a murmur3-mixed hash of the job seed and that label, see Rng.fork). The child's
 *   provenance records that seed and the drawn steps, so
 *   `fitToInput(applyPlanCpu(parent, planPipeline(pipeline, TRANSFORMS, childSeed, parent)))`
 *   gives its pixels back byte for byte, whichever applier (CPU kernels or the GPU) wrote them.
 *
 * Resumable. Sample keys are `augmented/<versionId>/<parentId>/<k>`, and putSamples skips
 * a (project, key) that exists, so a run interrupted by a reload or a cancel is simply run
 * again with the same arguments: children already written are skipped (not recomputed)
 * and the rest are the same bytes the first run would have written.
 *
 * Mixing transforms (mixup, cutmix) are refused here: they give soft labels, which a
 * stored sample with one label cannot hold. The training hook (train/augment-hook.ts) applies them
 * on the fly instead.
 */
import { Rng } from '../data/rng';
import { PROVENANCE_KINDS, SPLITS, type DatasetVersion, type Recipe } from '../storage/records';
import { InvalidInputError } from '../jobs/errors';
import { NEVER_CANCELLED, ProgressReporter, type CancelToken, type ProgressFn } from '../jobs/progress';
import { cellKey, type RebalancePlan } from '../analysis/rebalance';
import { getProject } from '../storage/projects';
import type { HearthDb } from '../storage/schema';
import { getSamples, keysOfProject, putSamples, type NewSample } from '../storage/samples';
import { createVersion, getVersion } from '../storage/versions';
import { CPU_APPLIER, type PlanApplier } from './apply';
import { planPipeline, validatePipeline, type PipelineSpec, type PlannedStep, type TransformRegistry } from './pipeline';
import { TRANSFORMS } from './registry';
import type { ImageU8 } from './types';

/** How many new samples one cell should receive. */
export interface AugmentTarget {
  label: string;
  /** The cell's group (attribute = value), or absent / null for a whole class. */
  group?: { attribute: string; value: string } | null;
  /** New samples to write for this cell, a whole number ≥ 0. */
  count: number;
}

export interface AugmentToTargetsOptions {
  projectId: string;
  /** The version whose real training samples are the parents. */
  versionId: number;
  pipeline: PipelineSpec;
  seed: number;
  targets: AugmentTarget[];
  onProgress?: ProgressFn;
  cancel?: CancelToken;
  /** Where the plans run (CPU kernels by default); every applier gives the same bytes. */
  applier?: PlanApplier;
}

/** Samples per putSamples transaction: big enough to amortise it, small enough to cancel promptly. */
export const AUGMENT_WRITE_BATCH = 32;

/** The message a mixing step in a stored rebalance gets. */
const MIXING_REFUSED =
  'mixup/cutmix make soft labels: use them on the fly during training, not to write samples. Remove the step from this pipeline.';

/** The 'augment' cells of a rebalancing plan, each with its actionCount as the count to add. */
export function targetsFromPlan(plan: RebalancePlan): AugmentTarget[] {
  const targets: AugmentTarget[] = [];
  for (const cell of plan.cells) {
    if (cell.action !== 'augment' || cell.actionCount <= 0) continue;
    const group = cell.group !== null && plan.attribute !== null ? { attribute: plan.attribute, value: cell.group } : null;
    targets.push({ label: cell.label, group, count: cell.actionCount });
  }
  return targets;
}

/** Per-class targets (class name → samples to add), for when there is no rebalancing plan. */
export function targetsFromClassCounts(counts: Readonly<Record<string, number>>): AugmentTarget[] {
  return Object.entries(counts).map(([label, count]) => ({ label, group: null, count }));
}

/** The pipeline seed of child k of `parentId`: see the module comment. */
export function childSeed(seed: number, parentId: number, k: number): number {
  return new Rng(seed).fork(`augment/${parentId}/${k}`).seed;
}

/** The key of child k of `parentId` in a rebalance of version `versionId`. */
export function augmentedKey(versionId: number, parentId: number, k: number): string {
  return `augmented/${versionId}/${parentId}/${k}`;
}

/** Validates the pipeline against the registry and refuses mixing steps (soft labels). */
function storablePipeline(pipeline: PipelineSpec, registry: TransformRegistry): PipelineSpec {
  const spec = validatePipeline(pipeline, registry);
  spec.steps.forEach((step, i) => {
    if (registry.get(step.transform)?.kind === 'mixing') throw new InvalidInputError(`steps[${i}] (${step.transform}): ${MIXING_REFUSED}`);
  });
  return spec;
}

function describeCell(t: AugmentTarget): string {
  return t.group ? `class "${t.label}", ${t.group.attribute} = "${t.group.value}"` : `class "${t.label}"`;
}

/**
 * Checks the targets and refuses overlapping cells: two cells sharing parents would give
 * two children the same key, and putSamples would then silently keep only one.
 */
function validateTargets(targets: readonly AugmentTarget[], version: DatasetVersion): void {
  const byLabel = new Map<string, AugmentTarget[]>();
  for (const t of targets) {
    if (!(Number.isInteger(t.count) && t.count >= 0)) {
      throw new InvalidInputError(`The count for ${describeCell(t)} must be a whole number ≥ 0, not ${t.count}.`);
    }
    if (!version.classes.includes(t.label)) {
      throw new InvalidInputError(`Dataset version ${version.number} has no class "${t.label}". Pick one of: ${version.classes.join(', ')}.`);
    }
    if (t.group && !version.attributes[t.group.attribute]) {
      throw new InvalidInputError(`Dataset version ${version.number} has no attribute "${t.group.attribute}". Make the plan again for this version.`);
    }
    const same = byLabel.get(t.label) ?? [];
    for (const o of same) {
      const disjoint = t.group && o.group && t.group.attribute === o.group.attribute && t.group.value !== o.group.value;
      if (!disjoint) {
        throw new InvalidInputError(`The targets ${describeCell(o)} and ${describeCell(t)} overlap: give each sample's cell once (one attribute per class).`);
      }
    }
    same.push(t);
    byLabel.set(t.label, same);
  }
}

/** Indices into the version of the cell's real labeled training samples. */
function cellParentIds(version: DatasetVersion, t: AugmentTarget): number[] {
  const label = version.classes.indexOf(t.label);
  const train = SPLITS.indexOf('train');
  const real = PROVENANCE_KINDS.indexOf('real');
  const column = t.group ? version.attributes[t.group.attribute] : undefined;
  const groupCode = t.group && column ? column.values.indexOf(t.group.value) : null;
  const ids: number[] = [];
  for (let i = 0; i < version.sampleIds.length; i++) {
    if (version.labels[i] !== label || version.splits[i] !== train || version.provenance[i] !== real) continue;
    if (groupCode !== null && (groupCode < 0 || column?.codes[i] !== groupCode)) continue;
    ids.push(version.sampleIds[i] as number);
  }
  return ids;
}

interface ChildJob {
  target: AugmentTarget;
  parentId: number;
  k: number;
  key: string;
}

/**
 * Writes `count` augmented children per target cell, then creates a new dataset version
 * (recipe `augment-rebalance`). Progress counts children (skipped existing ones included);
 * cancel is honoured between write batches, and a cancelled run resumes when called again
 * with the same options.
 */
export async function augmentToTargets(db: HearthDb, opts: AugmentToTargetsOptions): Promise<DatasetVersion> {
  const cancel = opts.cancel ?? NEVER_CANCELLED;
  if (!Number.isInteger(opts.seed)) throw new InvalidInputError(`The seed must be an integer, got ${opts.seed}.`);
  const registry = TRANSFORMS;
  const applier = opts.applier ?? CPU_APPLIER;
  const pipeline = storablePipeline(opts.pipeline, registry);
  const [version, project] = await Promise.all([getVersion(db, opts.versionId), getProject(db, opts.projectId)]);
  if (version.projectId !== opts.projectId) {
    throw new InvalidInputError(`Dataset version ${opts.versionId} belongs to another project: pick a version of this project.`);
  }
  validateTargets(opts.targets, version);

  const jobs: ChildJob[] = [];
  for (const target of opts.targets) {
    if (target.count === 0) continue;
    const parents = cellParentIds(version, target);
    if (parents.length === 0) {
      throw new InvalidInputError(`${describeCell(target)} has no real training samples to augment: label some, or generate samples for it instead.`);
    }
    new Rng(opts.seed).fork(`parents/${cellKey(target.label, target.group?.value ?? null)}`).shuffle(parents);
    for (let k = 0; k < target.count; k++) {
      const parentId = parents[k % parents.length] as number;
      jobs.push({ target, parentId, k, key: augmentedKey(opts.versionId, parentId, k) });
    }
  }

  // Children written by an earlier, interrupted run are skipped rather than recomputed.
  const existing = await keysOfProject(db, opts.projectId);
  const pending = jobs.filter((j) => !existing.has(j.key));
  const total = jobs.length;
  let done = total - pending.length;
  const progress = new ProgressReporter(opts.onProgress);
  progress.restart(done);
  progress.report(done, total, `Augmenting: ${done} of ${total} samples`, true);

  for (let start = 0; start < pending.length; start += AUGMENT_WRITE_BATCH) {
    cancel.throwIfCancelled();
    const batch = pending.slice(start, start + AUGMENT_WRITE_BATCH);
    const parentIds = [...new Set(batch.map((j) => j.parentId))];
    const parents = new Map((await getSamples(db, parentIds)).map((s) => [s.id as number, s]));
    const images: ImageU8[] = [];
    const plans: PlannedStep[][] = [];
    const seeds: number[] = [];
    for (const job of batch) {
      const parent = parents.get(job.parentId);
      if (!parent) throw new InvalidInputError(`Sample id ${job.parentId} disappeared during the rebalance: run it again.`);
      const image: ImageU8 = { width: project.input.width, height: project.input.height, channels: project.input.channels, data: parent.pixelsHwc };
      const seed = childSeed(opts.seed, job.parentId, job.k);
      images.push(image);
      seeds.push(seed);
      plans.push(planPipeline(pipeline, registry, seed, image));
    }
    const outputs = await applier.apply(images, plans, project.input);
    const samples: NewSample[] = batch.map((job, i) => {
      const parent = parents.get(job.parentId) as NonNullable<ReturnType<typeof parents.get>>;
      const recipe: Recipe = { tool: 'augment', params: { pipeline, stepsApplied: plans[i] }, seed: seeds[i] as number };
      return {
        projectId: opts.projectId,
        key: job.key,
        fileName: `aug-${job.k}-${parent.fileName}`,
        label: parent.label,
        split: 'train',
        attributes: { ...parent.attributes },
        provenance: { kind: 'augmented', parentId: job.parentId, recipe },
        original: null,
        pixelsHwc: (outputs[i] as ImageU8).data,
        createdAt: Date.now(),
      };
    });
    await putSamples(db, samples);
    done += batch.length;
    const last = batch[batch.length - 1] as ChildJob;
    progress.report(done, total, `Augmenting ${describeCell(last.target)}: ${done} of ${total} samples`);
  }
  cancel.throwIfCancelled();
  progress.report(total, total, 'Saving the new dataset version', true);

  const recipe: Recipe = {
    tool: 'augment-rebalance',
    params: { pipeline, targets: opts.targets.map((t) => ({ ...t, group: t.group ?? null })), baseVersionId: opts.versionId },
    seed: opts.seed,
  };
  return createVersion(db, opts.projectId, {
    recipe,
    note: `Rebalanced by augmentation: ${total} samples added to version ${version.number}.`,
  });
}

/** What a rebalance job hands back to the page: the new version and how many samples it added. */
export interface RebalanceResult {
  versionId: number;
  number: number;
  added: number;
}

/** augmentToTargets as a worker job: the same work, answered in the page's terms. */
export async function runAugmentRebalance(db: HearthDb, opts: AugmentToTargetsOptions): Promise<RebalanceResult> {
  const version = await augmentToTargets(db, opts);
  const added = opts.targets.reduce((n, t) => n + t.count, 0);
  return { versionId: version.id ?? -1, number: version.number, added };
}
