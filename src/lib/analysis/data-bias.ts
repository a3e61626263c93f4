/**
 * Data-bias metrics of a labelled dataset, from columns (class index per sample, attribute
 * codes per sample, optional per-sample image statistics): what the Analyze page shows
 * before anything is trained, and what a rebalance plan is made from.
 *
 * - Label distribution and class imbalance (max / min, a robust quartile ratio, and the
 *   effective number of samples of Cui et al. 2019).
 * - Per group attribute: class × group counts, AIF360's dataset metrics (base rate per
 *   group, statistical parity difference and disparate impact of base rates, one
 *   favourable class at a time, with model-bias.ts' sign convention and four-fifths
 *   flag), the difference in mean image statistics between groups, and NMI(label, attribute).
 * - The shortcut detector (shortcuts.ts) over image statistics and attributes.
 *
 * Sign convention (AIF360, as model-bias.ts): SPD = base rate(unprivileged) − base
 * rate(privileged), DI = base rate(unprivileged) / base rate(privileged); so SPD < 0 or
 * DI < 1 means the unprivileged group has the favourable label LESS often in the data.
 * Worked example (the unit test uses it): group m (privileged) 10 samples, 6 favourable;
 * group f 10 samples, 3 favourable → base rates 0.6 and 0.3, SPD = 0.3 − 0.6 = −0.3,
 * DI = 0.3 / 0.6 = 0.5 (flagged: outside [0.8, 1.25]).
 *
 * A dataset usually has no declared privileged group. Without one for an attribute, each
 * group is compared with all OTHER groups pooled ("the rest"), which needs no choice and
 * treats every group alike; with one, each other group is compared with the pooled
 * privileged values, as in model-bias.ts.
 *
 * Every metric that cannot be computed is `{ value: undefined, reason }`, never NaN.
 */
import { SPLITS, type DatasetVersion, type Split } from '../storage/records';
import { InvalidInputError } from '../jobs/errors';
import { FOUR_FIFTHS_HIGH, FOUR_FIFTHS_LOW, ONLY_ONE_GROUP_REASON, type DisparateImpactMetric, type Metric } from './model-bias';
import { nmi } from './nmi';
import { detectShortcuts, type SampleStatColumns, type ShortcutReport } from './shortcuts';

/**
 * β of the effective number of samples E_n = (1 − βⁿ) / (1 − β) (Cui et al., "Class-Balanced
 * Loss Based on Effective Number of Samples", CVPR 2019). E_n grows like n for n ≪ 1/(1−β)
 * and saturates at 1/(1−β) = 1000: each new sample adds less because it overlaps with the
 * ones already there. 0.999 is the value the paper found best on its long-tailed CIFAR and
 * ImageNet experiments; class-balanced loss weights are ∝ 1 / E_n.
 */
export const EFFECTIVE_NUMBER_BETA = 0.999;

/** Statistics whose per-group means are compared (ImageStats names). */
export const GROUP_STAT_NAMES = ['brightness', 'contrast', 'saturation', 'edgeDensity', 'colourfulness'] as const;
export type GroupStatName = (typeof GROUP_STAT_NAMES)[number];

const defined = (value: number): Metric => ({ value });
const undef = (reason: string): Metric => ({ value: undefined, reason });

/** (1 − βⁿ) / (1 − β); n for β = 0 (every sample new), and 0 for n = 0. */
export function effectiveNumber(n: number, beta = EFFECTIVE_NUMBER_BETA): number {
  if (!(beta >= 0 && beta < 1)) throw new InvalidInputError(`β of the effective number must be in [0, 1), got ${beta}.`);
  if (n === 0) return 0;
  // −expm1(n ln β) = 1 − βⁿ without cancellation when βⁿ is close to 1 (and 1 for β = 0).
  return -Math.expm1(n * Math.log(beta)) / (1 - beta);
}

export interface AttributeColumn {
  values: readonly string[];
  /** Index into values per sample; −1 = missing. */
  codes: ArrayLike<number>;
}

export interface DataBiasInput {
  classes: readonly string[];
  /** Class index per sample; −1 = unlabeled. */
  labels: ArrayLike<number>;
  attributes: Record<string, AttributeColumn>;
  /** Per-sample image statistics parallel to labels, or null (statistics parts are skipped). */
  stats: SampleStatColumns | null;
}

export interface DataBiasOptions {
  /** Seeds the shortcut detector's permutation baseline. */
  seed: number;
  /** Per attribute, its privileged value(s); attributes absent here compare each group with the rest. */
  privileged?: Record<string, readonly string[]>;
  effectiveNumberBeta?: number;
  shortcutPermutations?: number;
}

export interface LabelDistribution {
  classes: string[];
  /** Samples per class, parallel to classes. */
  counts: number[];
  /** count / labelled samples, parallel to classes; undefined when nothing is labelled. */
  proportions: Metric[];
  labelled: number;
  unlabeled: number;
}

export interface ImbalanceSummary {
  /**
   * Largest class count / smallest NON-EMPTY class count (the usual ρ of the long-tail
   * literature). Empty classes are left out (they would make it infinite) and listed in
   * `emptyClasses`: an empty class is a gap to fill, reported apart, not a ratio.
   */
  ratio: Metric;
  largest: { class: string; n: number } | null;
  smallest: { class: string; n: number } | null;
  emptyClasses: string[];
  /**
   * 75th / 25th percentile of the non-empty class counts (numpy's default linear
   * interpolation): the imbalance between the typical head and the typical tail, which one
   * unusually large or small class does not move. On MNIST-LT's train split ρ is
   * 5742 / 44 ≈ 130 because digit '1' is the most frequent digit of MNIST (5742 vs ~4900),
   * on top of the ×100 cut of the tail; this ratio is 4949.25 / 49 ≈ 101, the cut itself.
   */
  robustRatio: Metric;
  beta: number;
  /** Effective number of samples per class, parallel to classes. */
  effectiveNumbers: number[];
  /** Largest / smallest effective number over non-empty classes: the ratio class-balanced loss weights span. */
  effectiveRatio: Metric;
}

/** One group's base rate of one favourable class. */
export interface GroupBaseRate {
  group: string;
  privileged: boolean;
  /** Labelled samples of the group. */
  n: number;
  favourable: number;
  /** P(y = favourable | group). */
  baseRate: Metric;
}

export interface BaseRateComparison {
  unprivileged: string;
  /** The pooled privileged values joined by " | ", or "rest" (all other groups). */
  reference: string;
  /** base rate(unprivileged) − base rate(reference). */
  statisticalParityDifference: Metric;
  /** base rate(unprivileged) / base rate(reference), flagged outside the four-fifths band. */
  disparateImpact: DisparateImpactMetric;
}

export interface AttributeBaseRates {
  favourableClass: number;
  favourableLabel: string;
  /** 'privileged' when privileged values were given for the attribute, else 'rest'. */
  reference: 'privileged' | 'rest';
  groups: GroupBaseRate[];
  comparisons: BaseRateComparison[];
  /** Over the non-empty groups: max − min base rate, and min / max. */
  spread: { difference: Metric; ratio: Metric };
}

export interface StatGroupMeans {
  stat: GroupStatName;
  groups: { group: string; n: number; mean: Metric }[];
  /** max − min of the group means, over groups with samples. */
  difference: Metric;
  /** Groups with the highest and lowest mean (null when fewer than two groups have samples, or every group's mean is the same). */
  highest: string | null;
  lowest: string | null;
}

export interface AttributeBias {
  attribute: string;
  values: string[];
  /** counts[v][c]: labelled samples with value v and class c. */
  counts: number[][];
  /** Samples without a value for this attribute (labelled or not). */
  missing: number;
  /** Samples with a value but no label. */
  unlabeled: number;
  /** NMI(label, attribute) over samples with both (nmi.ts, scikit-learn's definition). */
  labelNmi: Metric & { n: number };
  privileged: string[];
  /** One per class taken as the favourable label (one versus rest). */
  baseRates: AttributeBaseRates[];
  /** Per statistic, or why there are none. */
  statMeans: StatGroupMeans[] | { skipped: string };
}

export interface DataBiasAnalysis {
  /** Samples analysed (labelled or not). */
  n: number;
  labels: LabelDistribution;
  imbalance: ImbalanceSummary;
  attributes: AttributeBias[];
  shortcuts: ShortcutReport;
}

function checkInput(input: DataBiasInput): void {
  const n = input.labels.length;
  for (const [name, col] of Object.entries(input.attributes)) {
    if (col.codes.length !== n) {
      throw new InvalidInputError(`Attribute "${name}" has ${col.codes.length} values for ${n} samples. Analyse columns of one dataset version.`);
    }
  }
  if (input.stats && input.stats.brightness.length !== n) {
    throw new InvalidInputError(`Image statistics cover ${input.stats.brightness.length} samples, labels ${n}. Recompute the statistics for this version.`);
  }
  for (let i = 0; i < n; i++) {
    const y = input.labels[i] as number;
    if (y >= input.classes.length) {
      throw new InvalidInputError(`Sample ${i} has class index ${y} but there are ${input.classes.length} classes. Recreate the dataset version.`);
    }
  }
}

/** Counts per class (−1 = unlabeled) and their proportions. */
export function labelDistribution(labels: ArrayLike<number>, classes: readonly string[]): LabelDistribution {
  const counts = new Array<number>(classes.length).fill(0);
  let unlabeled = 0;
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i] as number;
    if (y < 0) unlabeled++;
    else counts[y] = (counts[y] as number) + 1;
  }
  const labelled = labels.length - unlabeled;
  return {
    classes: [...classes],
    counts,
    proportions: counts.map((c) => (labelled === 0 ? undef('no sample is labelled') : defined(c / labelled))),
    labelled,
    unlabeled,
  };
}

/** numpy.percentile(x, 100 q) with linear interpolation, x sorted ascending and non-empty. */
function percentileSorted(x: readonly number[], q: number): number {
  const pos = q * (x.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, x.length - 1);
  return (x[lo] as number) + (pos - lo) * ((x[hi] as number) - (x[lo] as number));
}

export function imbalance(counts: readonly number[], classes: readonly string[], beta = EFFECTIVE_NUMBER_BETA): ImbalanceSummary {
  const effectiveNumbers = counts.map((c) => effectiveNumber(c, beta));
  const nonEmpty = counts.map((n, i) => ({ class: classes[i] ?? String(i), n, e: effectiveNumbers[i] as number })).filter((c) => c.n > 0);
  const emptyClasses = counts.flatMap((n, i) => (n === 0 ? [classes[i] ?? String(i)] : []));
  const base = { emptyClasses, beta, effectiveNumbers };
  if (nonEmpty.length < 2) {
    const reason = nonEmpty.length === 0 ? 'no class has samples' : `only one class ("${nonEmpty[0]?.class}") has samples: nothing to compare`;
    const only = nonEmpty[0] ? { class: nonEmpty[0].class, n: nonEmpty[0].n } : null;
    return { ...base, ratio: undef(reason), largest: only, smallest: only, robustRatio: undef(reason), effectiveRatio: undef(reason) };
  }
  // Ties go to the earlier class, so the result does not depend on sort stability.
  let largest = nonEmpty[0] as (typeof nonEmpty)[number];
  let smallest = largest;
  for (const c of nonEmpty) {
    if (c.n > largest.n) largest = c;
    if (c.n < smallest.n) smallest = c;
  }
  const sorted = nonEmpty.map((c) => c.n).sort((a, b) => a - b);
  const effective = nonEmpty.map((c) => c.e);
  return {
    ...base,
    ratio: defined(largest.n / smallest.n),
    largest: { class: largest.class, n: largest.n },
    smallest: { class: smallest.class, n: smallest.n },
    robustRatio: defined(percentileSorted(sorted, 0.75) / percentileSorted(sorted, 0.25)),
    effectiveRatio: defined(Math.max(...effective) / Math.min(...effective)),
  };
}

/** counts[value][class] of labelled samples, plus samples missing the attribute and unlabeled ones. */
export function crossCounts(
  labels: ArrayLike<number>,
  column: AttributeColumn,
  classCount: number,
): { counts: number[][]; missing: number; unlabeled: number } {
  const counts = column.values.map(() => new Array<number>(classCount).fill(0));
  let missing = 0;
  let unlabeled = 0;
  for (let i = 0; i < labels.length; i++) {
    const v = column.codes[i] as number;
    if (v < 0) {
      missing++;
      continue;
    }
    const y = labels[i] as number;
    if (y < 0) {
      unlabeled++;
      continue;
    }
    const row = counts[v];
    if (!row) throw new InvalidInputError(`An attribute code ${v} has no value name. Recreate the dataset version.`);
    row[y] = (row[y] as number) + 1;
  }
  return { counts, missing, unlabeled };
}

function diff(a: Metric, b: Metric): Metric {
  if (a.value !== undefined && b.value !== undefined) return defined(a.value - b.value);
  return undef([a.reason, b.reason].filter((r) => r !== undefined).join('; '));
}

/**
 * AIF360's dataset metrics for one attribute and one favourable class, from the
 * value × class counts. `privileged` empty = compare each group with the rest.
 */
export function baseRates(
  counts: readonly (readonly number[])[],
  values: readonly string[],
  favourableClass: number,
  favourableLabel: string,
  privileged: readonly string[],
): AttributeBaseRates {
  const privSet = new Set(privileged);
  const sizes = counts.map((row) => row.reduce((a, b) => a + b, 0));
  const favs = counts.map((row) => row[favourableClass] ?? 0);
  const rate = (fav: number, n: number, group: string): Metric =>
    n === 0 ? undef(`group "${group}" has no labelled samples`) : defined(fav / n);
  const groups: GroupBaseRate[] = values.map((g, i) => ({
    group: g,
    privileged: privSet.has(g),
    n: sizes[i] as number,
    favourable: favs[i] as number,
    baseRate: rate(favs[i] as number, sizes[i] as number, g),
  }));
  const nonEmpty = groups.filter((g) => g.n > 0);
  const totalN = sizes.reduce((a, b) => a + b, 0);
  const totalFav = favs.reduce((a, b) => a + b, 0);

  const compare = (u: GroupBaseRate, refName: string, refN: number, refFav: number, refEmptyReason: string): BaseRateComparison => {
    let blocked: string | undefined;
    if (nonEmpty.length < 2) blocked = ONLY_ONE_GROUP_REASON;
    else if (u.n === 0) blocked = `group "${u.group}" has no labelled samples`;
    else if (refN === 0) blocked = refEmptyReason;
    if (blocked !== undefined) {
      const m = undef(blocked);
      return { unprivileged: u.group, reference: refName, statisticalParityDifference: m, disparateImpact: m };
    }
    const spd = diff(u.baseRate, defined(refFav / refN));
    let di: DisparateImpactMetric;
    if (refFav === 0) {
      di = undef(`no sample of ${refName === 'rest' ? 'the other groups' : `the privileged group (${refName})`} has the label "${favourableLabel}"`);
    } else {
      // One division of integers, as model-bias.ts: an exact 4/5 lands on 0.8 and is not flagged.
      const value = (u.favourable * refN) / (refFav * u.n);
      di = value < FOUR_FIFTHS_LOW || value > FOUR_FIFTHS_HIGH ? { value, flag: 'outside-four-fifths' } : { value };
    }
    return { unprivileged: u.group, reference: refName, statisticalParityDifference: spd, disparateImpact: di };
  };

  let comparisons: BaseRateComparison[];
  if (privSet.size > 0) {
    const refName = [...privSet].join(' | ');
    let refN = 0;
    let refFav = 0;
    for (const g of groups) {
      if (!g.privileged) continue;
      refN += g.n;
      refFav += g.favourable;
    }
    comparisons = groups
      .filter((g) => !g.privileged)
      .map((g) => compare(g, refName, refN, refFav, `no labelled sample belongs to the privileged group (${refName})`));
  } else {
    comparisons = groups.map((g) => compare(g, 'rest', totalN - g.n, totalFav - g.favourable, 'no other group has labelled samples'));
  }

  let spread: AttributeBaseRates['spread'];
  if (nonEmpty.length < 2) {
    spread = { difference: undef(ONLY_ONE_GROUP_REASON), ratio: undef(ONLY_ONE_GROUP_REASON) };
  } else {
    const rates = nonEmpty.map((g) => g.favourable / g.n);
    const max = Math.max(...rates);
    const min = Math.min(...rates);
    spread = {
      difference: defined(max - min),
      ratio: max === 0 ? undef(`no group has a sample labelled "${favourableLabel}"`) : defined(min / max),
    };
  }
  return {
    favourableClass,
    favourableLabel,
    reference: privSet.size > 0 ? 'privileged' : 'rest',
    groups,
    comparisons,
    spread,
  };
}

/** Mean of each statistic per attribute value (every sample with a value, labelled or not). */
export function statGroupMeans(column: AttributeColumn, stats: SampleStatColumns): StatGroupMeans[] {
  const k = column.values.length;
  const sizes = new Float64Array(k);
  for (let i = 0; i < column.codes.length; i++) {
    const v = column.codes[i] as number;
    if (v >= 0) sizes[v] = (sizes[v] as number) + 1;
  }
  return GROUP_STAT_NAMES.map((stat) => {
    const values = stats[stat];
    const sums = new Float64Array(k);
    for (let i = 0; i < column.codes.length; i++) {
      const v = column.codes[i] as number;
      if (v >= 0) sums[v] = (sums[v] as number) + (values[i] as number);
    }
    const groups = column.values.map((g, v) => {
      const n = sizes[v] as number;
      return { group: g, n, mean: n === 0 ? undef(`group "${g}" has no samples`) : defined((sums[v] as number) / n) };
    });
    let highest: { group: string; m: number } | null = null;
    let lowest: { group: string; m: number } | null = null;
    for (const g of groups) {
      if (g.mean.value === undefined) continue;
      if (!highest || g.mean.value > highest.m) highest = { group: g.group, m: g.mean.value };
      if (!lowest || g.mean.value < lowest.m) lowest = { group: g.group, m: g.mean.value };
    }
    const withSamples = groups.filter((g) => g.n > 0).length;
    const hi = highest as { group: string; m: number } | null;
    const lo = lowest as { group: string; m: number } | null;
    const two = withSamples >= 2 && hi !== null && lo !== null;
    // Equal means have no highest group: naming one would read "(bright − bright)".
    const apart = two && hi.m !== lo.m;
    return {
      stat,
      groups,
      difference: two ? defined(hi.m - lo.m) : undef(ONLY_ONE_GROUP_REASON),
      highest: apart ? hi.group : null,
      lowest: apart ? lo.group : null,
    };
  });
}

/** NMI(label, attribute) over the samples that have both. */
export function labelAttributeNmi(labels: ArrayLike<number>, column: AttributeColumn): Metric & { n: number } {
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i] as number;
    const v = column.codes[i] as number;
    if (y >= 0 && v >= 0) {
      a.push(y);
      b.push(v);
    }
  }
  if (a.length === 0) return { value: undefined, reason: 'no sample has both a label and a value', n: 0 };
  return { value: nmi(a, b), n: a.length };
}

/** Items 1–3 of the analysis on plain columns: no storage, no pixels. */
export function analyzeDataBias(input: DataBiasInput, opts: DataBiasOptions): DataBiasAnalysis {
  checkInput(input);
  const beta = opts.effectiveNumberBeta ?? EFFECTIVE_NUMBER_BETA;
  const labels = labelDistribution(input.labels, input.classes);
  const attributes: AttributeBias[] = Object.entries(input.attributes).map(([name, column]) => {
    const privileged = [...(opts.privileged?.[name] ?? [])];
    for (const p of privileged) {
      if (!column.values.includes(p)) {
        throw new InvalidInputError(`"${p}" is not a value of attribute "${name}" (values: ${column.values.join(', ')}). Pick the privileged group again.`);
      }
    }
    const cross = crossCounts(input.labels, column, input.classes.length);
    return {
      attribute: name,
      values: [...column.values],
      counts: cross.counts,
      missing: cross.missing,
      unlabeled: cross.unlabeled,
      labelNmi: labelAttributeNmi(input.labels, column),
      privileged,
      baseRates: input.classes.map((c, k) => baseRates(cross.counts, column.values, k, c, privileged)),
      statMeans: input.stats ? statGroupMeans(column, input.stats) : { skipped: 'no per-sample image statistics were computed' },
    };
  });
  return {
    n: input.labels.length,
    labels,
    imbalance: imbalance(labels.counts, input.classes, beta),
    attributes,
    shortcuts: detectShortcuts({
      labels: input.labels,
      classes: input.classes,
      stats: input.stats,
      attributes: input.attributes,
      seed: opts.seed,
      permutations: opts.shortcutPermutations,
    }),
  };
}

/**
 * The columns of a version restricted to one split ('all' = every sample), as analysis
 * input without statistics, plus the indices into the version they came from (to fetch
 * pixels of exactly those samples, in the same order).
 */
export function versionColumns(
  version: DatasetVersion,
  split: Split | 'all' = 'all',
): { indices: Uint32Array; input: Omit<DataBiasInput, 'stats'> } {
  const n = version.sampleIds.length;
  let indices: Uint32Array;
  if (split === 'all') {
    indices = Uint32Array.from({ length: n }, (_, i) => i);
  } else {
    const code = SPLITS.indexOf(split);
    if (code < 0) throw new InvalidInputError(`"${String(split)}" is not a split. Pick one of: all, ${SPLITS.join(', ')}.`);
    let count = 0;
    for (let i = 0; i < n; i++) if (version.splits[i] === code) count++;
    indices = new Uint32Array(count);
    let j = 0;
    for (let i = 0; i < n; i++) if (version.splits[i] === code) indices[j++] = i;
  }
  const labels = Int16Array.from(indices, (i) => version.labels[i] as number);
  const attributes: Record<string, AttributeColumn> = {};
  for (const [name, col] of Object.entries(version.attributes)) {
    attributes[name] = { values: col.values, codes: Int16Array.from(indices, (i) => col.codes[i] as number) };
  }
  return { indices, input: { classes: version.classes, labels, attributes } };
}
