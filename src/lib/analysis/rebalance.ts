/**
 * The rebalancing plan: how many samples each class (or class × group cell) of the training
 * split lacks for a chosen target, and how to get them — augment the real samples, generate
 * new ones, or label more from the unlabeled pool. A plan is plain data, saved per project;
 * the augment / generate / label pages carry it out. Nothing is ever deleted: cells above
 * their target report a surplus and keep it.
 *
 * Action rule, first match wins (the user may override any cell with `overrideAction`):
 * 1. `label` when the unlabeled pool probably holds the whole deficit: the expected number
 *    of this cell's samples in the pool, `pool × (cell's share of labeled training samples)`,
 *    is at least the deficit. Real labeled images are the best remedy there is. The estimate
 *    assumes the pool is distributed like the labeled data, which is conservative for rare
 *    cells (active learning seeks them out): override to `label` when you know better.
 * 2. `augment` when the cell has enough real samples to vary (≥ MIN_REAL_FOR_AUGMENT) and
 *    the deficit is at most MAX_AUGMENT_FACTOR × that many: each real image then yields at
 *    most that many variants, which stays diverse enough not to teach the model a few
 *    images by heart.
 * 3. `generate` otherwise: the cell is nearly empty, or the deficit dwarfs what it holds
 *    (a class with 44 images short of 4,900), and only a conditional generator can add
 *    that much variety.
 */
import { SPLITS, type DatasetVersion, type Split } from '../storage/records';
import { InvalidInputError } from '../jobs/errors';
import type { HearthDb } from '../storage/schema';
import { getSetting, setSetting } from '../storage/settings';

export type RebalanceAction = 'augment' | 'generate' | 'label';
export const REBALANCE_ACTIONS: readonly RebalanceAction[] = ['augment', 'generate', 'label'];

/** Fewer real samples than this are too few to vary: augmenting them mostly repeats them. */
export const MIN_REAL_FOR_AUGMENT = 20;
/** At most this many augmented variants per real sample of the cell. */
export const MAX_AUGMENT_FACTOR = 10;

/** Splits the unlabeled pool is drawn from: labeling val / test samples into train would leak. */
const POOL_SPLITS: readonly Split[] = ['train', 'unassigned'];

export type RebalanceTarget =
  /** Every class up to `perClass`, or up to the largest class when absent. */
  | { kind: 'uniform-class'; perClass?: number }
  /** Every class × group cell of `attribute` up to `perCell`, or up to the largest cell. */
  | { kind: 'uniform-class-group'; attribute: string; perCell?: number }
  /** Explicit targets per cell key (see `cellKey`); class × group keys need `attribute`. */
  | { kind: 'custom'; counts: Record<string, number>; attribute?: string };

/**
 * The key of a cell: JSON of `[label]` or `[label, group]`, so no class or group name (which
 * may hold any character) can make two cells collide.
 */
export function cellKey(label: string, group: string | null = null): string {
  return JSON.stringify(group === null ? [label] : [label, group]);
}

/** The label and group of a cell key; InvalidInputError when it is not one. */
export function parseCellKey(key: string): { label: string; group: string | null } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(key);
  } catch {
    parsed = null;
  }
  if (Array.isArray(parsed) && (parsed.length === 1 || parsed.length === 2) && parsed.every((p) => typeof p === 'string')) {
    return { label: parsed[0] as string, group: parsed.length === 2 ? (parsed[1] as string) : null };
  }
  throw new InvalidInputError(`"${key}" is not a cell of the plan. Build custom targets with cellKey(label, group).`);
}

export interface CellCount {
  key: string;
  label: string;
  /** Attribute value, or null for class-only cells. */
  group: string | null;
  /** Labeled training samples in the cell, any provenance. */
  count: number;
  /** Of those, the real ones (what augmentation varies). */
  realCount: number;
}

export interface CellCounts {
  projectId: string;
  versionId: number;
  /** The group attribute of the cells, or null for class-only cells. */
  attribute: string | null;
  /** Every class (× every value of the attribute), zero counts included, in class then value order. */
  cells: CellCount[];
  /** Unlabeled samples in train / unassigned: what active learning can pick from. */
  unlabeledPool: number;
  /** Labeled training samples without a value for `attribute` (in no class × group cell). */
  missingGroup: number;
}

/** Per-cell counts of the training split of a version (columns only, no pixels). */
export function countCells(version: DatasetVersion, attribute: string | null = null): CellCounts {
  if (version.id === undefined) throw new InvalidInputError('Save the dataset version before planning a rebalance.');
  const column = attribute === null ? null : version.attributes[attribute];
  if (attribute !== null && !column) {
    throw new InvalidInputError(`Dataset version ${version.number} has no attribute "${attribute}". Pick one of: ${Object.keys(version.attributes).join(', ') || '(none)'}.`);
  }
  const groups = column ? column.values : [null];
  const trainCode = SPLITS.indexOf('train');
  const poolCodes = new Set(POOL_SPLITS.map((s) => SPLITS.indexOf(s)));
  const nGroups = groups.length;
  const count = new Float64Array(version.classes.length * nGroups);
  const real = new Float64Array(version.classes.length * nGroups);
  let unlabeledPool = 0;
  let missingGroup = 0;
  for (let i = 0; i < version.sampleIds.length; i++) {
    const label = version.labels[i] as number;
    const split = version.splits[i] as number;
    if (label < 0) {
      if (poolCodes.has(split)) unlabeledPool++;
      continue;
    }
    if (split !== trainCode) continue;
    const g = column ? (column.codes[i] as number) : 0;
    if (g < 0) {
      missingGroup++;
      continue;
    }
    const c = label * nGroups + g;
    count[c] = (count[c] as number) + 1;
    // Provenance code 0 is 'real' (PROVENANCE_KINDS).
    if (version.provenance[i] === 0) real[c] = (real[c] as number) + 1;
  }
  const cells: CellCount[] = [];
  for (const [ci, label] of version.classes.entries()) {
    for (const [g, group] of groups.entries()) {
      const c = ci * nGroups + g;
      cells.push({ key: cellKey(label, group), label, group, count: count[c] as number, realCount: real[c] as number });
    }
  }
  return { projectId: version.projectId, versionId: version.id, attribute, cells, unlabeledPool, missingGroup };
}

export interface PlanCell {
  key: string;
  label: string;
  group: string | null;
  current: number;
  realCount: number;
  target: number;
  /** max(0, target − current). */
  deficit: number;
  /** max(0, current − target): reported, never deleted. */
  surplus: number;
  /** How to fill the deficit; null when there is none. */
  action: RebalanceAction | null;
  /** Samples to augment / generate / label for this cell (= deficit when action is set). */
  actionCount: number;
  /** Why this action, for the user. */
  reason: string;
  /** True when the user chose the action rather than the rule. */
  overridden: boolean;
}

export interface RebalancePlan {
  projectId: string;
  versionId: number;
  target: RebalanceTarget;
  attribute: string | null;
  createdAt: number;
  /** The thresholds the rule used, so a saved plan explains itself after a code change. */
  rule: { minRealForAugment: number; maxAugmentFactor: number };
  unlabeledPool: number;
  missingGroup: number;
  cells: PlanCell[];
  totals: { deficit: number; surplus: number; byAction: Record<RebalanceAction, number> };
}

function checkCount(what: string, n: number): number {
  if (!Number.isInteger(n) || n < 0) throw new InvalidInputError(`${what} must be a whole number ≥ 0, not ${n}.`);
  return n;
}

/** The attribute a target groups by, or null for class-only targets. */
export function targetAttribute(target: RebalanceTarget): string | null {
  if (target.kind === 'uniform-class') return null;
  return target.attribute ?? null;
}

/**
 * The plan for `counts` (from `countCells` with the target's attribute) and `target`.
 * Pure: `createdAt` is passed in so plans are reproducible in tests.
 */
export function planRebalance(counts: CellCounts, target: RebalanceTarget, createdAt: number = Date.now()): RebalancePlan {
  const attribute = targetAttribute(target);
  if (attribute !== counts.attribute) {
    throw new InvalidInputError(
      `The counts are grouped by ${counts.attribute ?? 'class only'} but the target by ${attribute ?? 'class only'}. Count the cells again for this target.`,
    );
  }
  const byKey = new Map(counts.cells.map((c) => [c.key, c]));
  let cells: CellCount[];
  let targetOf: (c: CellCount) => number;
  switch (target.kind) {
    case 'uniform-class':
    case 'uniform-class-group': {
      cells = counts.cells;
      const given = target.kind === 'uniform-class' ? target.perClass : target.perCell;
      const level = given === undefined ? Math.max(0, ...cells.map((c) => c.count)) : checkCount('The per-cell target', given);
      targetOf = () => level;
      break;
    }
    case 'custom': {
      cells = Object.keys(target.counts).map((key) => {
        const { label, group } = parseCellKey(key);
        if ((group === null) !== (attribute === null)) {
          throw new InvalidInputError(`Cell ${key} does not match the target's grouping (${attribute ?? 'class only'}). Build its key with cellKey.`);
        }
        // A cell nobody has filled yet (a class × group with no samples) starts at zero.
        return byKey.get(key) ?? { key, label, group, count: 0, realCount: 0 };
      });
      targetOf = (c) => checkCount(`The target of ${c.key}`, target.counts[c.key] as number);
      break;
    }
  }
  const labeledTotal = counts.cells.reduce((s, c) => s + c.count, 0);
  const planCells = cells.map((c): PlanCell => {
    const goal = targetOf(c);
    const deficit = Math.max(0, goal - c.count);
    const surplus = Math.max(0, c.count - goal);
    const base = { key: c.key, label: c.label, group: c.group, current: c.count, realCount: c.realCount, target: goal, deficit, surplus };
    if (deficit === 0) return { ...base, action: null, actionCount: 0, reason: surplus > 0 ? 'Above target: kept as is.' : 'At target.', overridden: false };
    const { action, reason } = chooseAction(c, deficit, counts.unlabeledPool, labeledTotal);
    return { ...base, action, actionCount: deficit, reason, overridden: false };
  });
  return {
    projectId: counts.projectId,
    versionId: counts.versionId,
    target,
    attribute,
    createdAt,
    rule: { minRealForAugment: MIN_REAL_FOR_AUGMENT, maxAugmentFactor: MAX_AUGMENT_FACTOR },
    unlabeledPool: counts.unlabeledPool,
    missingGroup: counts.missingGroup,
    cells: planCells,
    totals: totalsOf(planCells),
  };
}

/** The rule of the file comment. */
function chooseAction(c: CellCount, deficit: number, pool: number, labeledTotal: number): { action: RebalanceAction; reason: string } {
  const expectedInPool = labeledTotal > 0 ? Math.floor((pool * c.count) / labeledTotal) : 0;
  if (pool > 0 && expectedInPool >= deficit) {
    return { action: 'label', reason: `About ${expectedInPool} of the ${pool} unlabeled samples are likely of this kind: label ${deficit} of them.` };
  }
  if (c.realCount >= MIN_REAL_FOR_AUGMENT && deficit <= MAX_AUGMENT_FACTOR * c.realCount) {
    return { action: 'augment', reason: `${c.realCount} real samples, ${Math.ceil(deficit / c.realCount)} variants each at most.` };
  }
  const why =
    c.realCount < MIN_REAL_FOR_AUGMENT
      ? `only ${c.realCount} real samples (augmenting needs ${MIN_REAL_FOR_AUGMENT})`
      : `${deficit} missing is more than ${MAX_AUGMENT_FACTOR}× the ${c.realCount} real samples`;
  return { action: 'generate', reason: `Generate: ${why}, and the unlabeled pool is unlikely to hold them.` };
}

function totalsOf(cells: PlanCell[]): RebalancePlan['totals'] {
  const byAction: Record<RebalanceAction, number> = { augment: 0, generate: 0, label: 0 };
  let deficit = 0;
  let surplus = 0;
  for (const c of cells) {
    deficit += c.deficit;
    surplus += c.surplus;
    if (c.action) byAction[c.action] += c.actionCount;
  }
  return { deficit, surplus, byAction };
}

/** A copy of the plan with the user's action for one cell (which must have a deficit). */
export function overrideAction(plan: RebalancePlan, key: string, action: RebalanceAction): RebalancePlan {
  const cell = plan.cells.find((c) => c.key === key);
  if (!cell) throw new InvalidInputError(`The plan has no cell ${key}. Make the plan again for this dataset version.`);
  if (cell.deficit === 0) throw new InvalidInputError(`Cell ${key} is already at its target: there is nothing to ${action}.`);
  const cells = plan.cells.map((c) => (c.key === key ? { ...c, action, actionCount: c.deficit, reason: 'Chosen by you.', overridden: true } : c));
  return { ...plan, cells, totals: totalsOf(cells) };
}

/** Settings key of a project's saved plan. */
export function planSettingKey(projectId: string): string {
  return `rebalance-plan:${projectId}`;
}

/** Saves the project's plan (one per project; a new one replaces the old). */
export async function savePlan(db: HearthDb, projectId: string, plan: RebalancePlan): Promise<void> {
  if (plan.projectId !== projectId) {
    throw new InvalidInputError(`This plan belongs to project ${plan.projectId}, not ${projectId}. Make a plan in this project.`);
  }
  await setSetting(db, planSettingKey(projectId), plan);
}

/** The project's saved plan, or null when none was saved. */
export async function getPlan(db: HearthDb, projectId: string): Promise<RebalancePlan | null> {
  return (await getSetting<RebalancePlan>(db, planSettingKey(projectId))) ?? null;
}
