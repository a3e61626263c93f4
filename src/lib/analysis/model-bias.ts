/**
 * Model-bias metrics per group, with AIF360's definitions and sign convention, plus
 * Fairlearn-style spreads over all groups.
 *
 * A model is multi-class; fairness is asked about one favourable class at a time, one
 * versus rest: a sample's outcome is favourable when its (true or predicted) class is
 * `favourableClass`. The privileged group is the union of the privileged attribute values;
 * every other value of the attribute is one unprivileged group, compared with that union.
 *
 * Sign convention (AIF360): differences are unprivileged MINUS privileged, disparate
 * impact is unprivileged DIVIDED BY privileged. So a negative difference, or an impact
 * below 1, means the unprivileged group fares worse. Worked example (the unit test uses
 * the same numbers):
 *
 *   group  n   true fav  pred fav  TP  FP
 *   m      10  5         6         5   1     privileged
 *   f      10  4         3         2   1
 *
 *   selection rate  m 6/10 = 0.6           f 3/10 = 0.3
 *   TPR = TP / true fav      m 5/5 = 1.0   f 2/4 = 0.5
 *   FPR = FP / true not fav  m 1/5 = 0.2   f 1/6 ≈ 0.1667
 *   SPD = 0.3 − 0.6 = −0.3        (f is predicted favourable less often)
 *   DI  = 0.3 / 0.6 = 0.5         (outside [0.8, 1.25]: flagged)
 *   EOD = 0.5 − 1.0 = −0.5        (f's deserving members are missed more often)
 *   AOD = ½[(1/6 − 0.2) + (0.5 − 1.0)] = ½[−1/30 − 1/2] ≈ −0.2667
 *
 * A metric that cannot be computed (an empty group, a group with no positives, a zero
 * denominator) is `{ value: undefined, reason }`, never NaN or Infinity: the UI shows the
 * reason instead of a number that looks like a result.
 */
import type { DatasetVersion } from '../storage/records';
import { InvalidInputError } from '../jobs/errors';
import type { Metric, DisparateImpactMetric, GroupStats, GroupComparison, Spread, ModelBiasReport } from '../storage/stored-shapes';
export type { Metric, DisparateImpactMetric, GroupStats, GroupComparison, Spread, ModelBiasReport } from '../storage/stored-shapes';

/** The four-fifths band: DI below 4/5 (or above its inverse 5/4) is flagged. */
export const FOUR_FIFTHS_LOW = 0.8;
export const FOUR_FIFTHS_HIGH = 1.25;

/** For the UI, beside every DI flag. */
export const FOUR_FIFTHS_NOTE =
  'The four-fifths rule (a selection rate for one group below 80% of the most favoured group’s) is a convention ' +
  'from the US EEOC Uniform Guidelines for spotting adverse impact in hiring, not a law of nature or a ' +
  'statistical test: a ratio inside [0.8, 1.25] does not prove a model fair, one outside does not prove it ' +
  'unfair, and with few samples the ratio is noisy. Read it together with the group sizes and the other metrics.';

export const ONLY_ONE_GROUP_REASON = 'only one group: nothing to compare';

export interface ModelBiasInput {
  /** True class index per sample; negative = unlabeled (excluded and counted). */
  trueLabels: ArrayLike<number>;
  /** Predicted class index per sample, parallel to trueLabels. */
  predictedLabels: ArrayLike<number>;
  /** The group attribute's value per sample; null = missing (excluded and counted). */
  groups: ArrayLike<string | null>;
  /** Class index whose prediction is the favourable outcome (one versus rest). */
  favourableClass: number;
  /** Attribute value(s) forming the privileged group. */
  privileged: readonly string[];
  /**
   * Every value the attribute can take (e.g. `version.attributes[name].values`), so that a
   * group absent from the evaluated samples still shows up, empty, with its reason, and a
   * misspelt privileged value is caught. Optional: without it, the values seen are used.
   */
  groupValues?: readonly string[];
}

interface Counts {
  n: number;
  positives: number;
  predictedFavourable: number;
  truePositives: number;
  falsePositives: number;
  correct: number;
}

const defined = (value: number): Metric => ({ value });
const undef = (reason: string): Metric => ({ value: undefined, reason });

function ratio(num: number, den: number, reasonIfZero: string): Metric {
  return den === 0 ? undef(reasonIfZero) : defined(num / den);
}

function statsOf(group: string, privileged: boolean, c: Counts): GroupStats {
  const negatives = c.n - c.positives;
  const empty = `group "${group}" has no samples`;
  return {
    group,
    privileged,
    n: c.n,
    positives: c.positives,
    negatives,
    predictedFavourable: c.predictedFavourable,
    truePositives: c.truePositives,
    falsePositives: c.falsePositives,
    trueNegatives: negatives - c.falsePositives,
    falseNegatives: c.positives - c.truePositives,
    correct: c.correct,
    selectionRate: ratio(c.predictedFavourable, c.n, empty),
    tpr: ratio(c.truePositives, c.positives, c.n === 0 ? empty : `group "${group}" has no samples whose true label is the favourable class`),
    fpr: ratio(c.falsePositives, negatives, c.n === 0 ? empty : `group "${group}" has no samples whose true label is not the favourable class`),
    accuracy: ratio(c.correct, c.n, empty),
  };
}

/** a − b, or the reasons why either side is missing. */
function difference(a: Metric, b: Metric): Metric {
  if (a.value !== undefined && b.value !== undefined) return defined(a.value - b.value);
  return undef([a.reason, b.reason].filter((r) => r !== undefined).join('; '));
}

function zeroCounts(): Counts {
  return { n: 0, positives: 0, predictedFavourable: 0, truePositives: 0, falsePositives: 0, correct: 0 };
}

function addCounts(into: Counts, c: Counts): void {
  into.n += c.n;
  into.positives += c.positives;
  into.predictedFavourable += c.predictedFavourable;
  into.truePositives += c.truePositives;
  into.falsePositives += c.falsePositives;
  into.correct += c.correct;
}

/**
 * unpriv against priv. `nonEmptyGroups` is how many attribute values have samples at all:
 * with one, no comparison can exist and the reason says so rather than naming a side.
 */
function compare(unpriv: GroupStats, priv: GroupStats, nonEmptyGroups: number): GroupComparison {
  let blocked: string | undefined;
  if (nonEmptyGroups < 2 && (unpriv.n === 0 || priv.n === 0)) blocked = ONLY_ONE_GROUP_REASON;
  else if (unpriv.n === 0) blocked = `group "${unpriv.group}" has no samples`;
  else if (priv.n === 0) blocked = `no sample belongs to the privileged group (${priv.group})`;
  if (blocked !== undefined) {
    const u = undef(blocked);
    return {
      unprivileged: unpriv.group,
      statisticalParityDifference: u,
      disparateImpact: u,
      equalOpportunityDifference: u,
      averageOddsDifference: u,
    };
  }
  const fprDiff = difference(unpriv.fpr, priv.fpr);
  const tprDiff = difference(unpriv.tpr, priv.tpr);
  const aod =
    fprDiff.value !== undefined && tprDiff.value !== undefined
      ? defined((fprDiff.value + tprDiff.value) / 2)
      : undef([fprDiff.reason, tprDiff.reason].filter((r) => r !== undefined).join('; '));
  return {
    unprivileged: unpriv.group,
    statisticalParityDifference: difference(unpriv.selectionRate, priv.selectionRate),
    disparateImpact: disparateImpact(unpriv, priv),
    equalOpportunityDifference: tprDiff,
    averageOddsDifference: aod,
  };
}

function disparateImpact(unpriv: GroupStats, priv: GroupStats): DisparateImpactMetric {
  if (priv.predictedFavourable === 0) return undef('no privileged sample was predicted favourable');
  // One division of integers is correctly rounded, so an exact 4/5 lands on the literal
  // 0.8 and is not flagged; (a/n1)/(b/n2) could round to 0.7999… and flag it.
  const value = (unpriv.predictedFavourable * priv.n) / (priv.predictedFavourable * unpriv.n);
  return value < FOUR_FIFTHS_LOW || value > FOUR_FIFTHS_HIGH ? { value, flag: 'outside-four-fifths' } : { value };
}

function spread(groups: GroupStats[], pick: (g: GroupStats) => Metric, what: string): Spread & { min: number; max: number } {
  const over: string[] = [];
  let min = Infinity;
  let max = -Infinity;
  for (const g of groups) {
    const m = pick(g);
    if (m.value === undefined) continue;
    over.push(g.group);
    min = Math.min(min, m.value);
    max = Math.max(max, m.value);
  }
  const nonEmpty = groups.filter((g) => g.n > 0).length;
  let diff: Metric;
  if (nonEmpty < 2) diff = undef(ONLY_ONE_GROUP_REASON);
  else if (over.length < 2) diff = undef(`fewer than two groups have ${what}`);
  else diff = defined(max - min);
  return { difference: diff, over, min, max };
}

function checkInput(input: ModelBiasInput): void {
  const n = input.trueLabels.length;
  if (input.predictedLabels.length !== n || input.groups.length !== n) {
    throw new InvalidInputError(
      `Model-bias input columns differ in length (true labels ${n}, predictions ${input.predictedLabels.length}, ` +
        `groups ${input.groups.length}). Evaluate the model on the same samples the labels and groups come from.`,
    );
  }
  if (!Number.isInteger(input.favourableClass) || input.favourableClass < 0) {
    throw new InvalidInputError(`Favourable class ${input.favourableClass} is not a class index. Pick one of the project's classes.`);
  }
  if (input.privileged.length === 0) {
    throw new InvalidInputError('No privileged group was chosen. Pick the attribute value(s) to compare the other groups with.');
  }
  if (input.groupValues) {
    const known = new Set(input.groupValues);
    for (const p of input.privileged) {
      if (!known.has(p)) {
        throw new InvalidInputError(`"${p}" is not a value of this attribute (values: ${input.groupValues.join(', ')}). Pick the privileged group again.`);
      }
    }
  }
}

/** All metrics for one attribute and one favourable class. */
export function modelBias(input: ModelBiasInput): ModelBiasReport {
  checkInput(input);
  const { trueLabels, predictedLabels, groups, favourableClass } = input;
  const counts = new Map<string, Counts>();
  for (const v of input.groupValues ?? []) counts.set(v, zeroCounts());
  let missingAttribute = 0;
  let unlabeled = 0;
  for (let i = 0; i < trueLabels.length; i++) {
    const group = groups[i] as string | null;
    if (group === null) {
      missingAttribute++;
      continue;
    }
    const y = trueLabels[i] as number;
    if (y < 0) {
      unlabeled++;
      continue;
    }
    const yHat = predictedLabels[i] as number;
    let c = counts.get(group);
    if (!c) counts.set(group, (c = zeroCounts()));
    const pos = y === favourableClass;
    const predFav = yHat === favourableClass;
    c.n++;
    if (pos) c.positives++;
    if (predFav) c.predictedFavourable++;
    if (pos && predFav) c.truePositives++;
    if (!pos && predFav) c.falsePositives++;
    if (y === yHat) c.correct++;
  }
  const privileged = new Set(input.privileged);
  for (const p of privileged) if (!counts.has(p)) counts.set(p, zeroCounts());

  const listed = input.groupValues ?? [];
  const listedSet = new Set(listed);
  const order = [...listed, ...[...counts.keys()].filter((g) => !listedSet.has(g)).sort()];
  const groupStats = order.map((g) => statsOf(g, privileged.has(g), counts.get(g) as Counts));

  const privCounts = zeroCounts();
  const unprivCounts = zeroCounts();
  for (const g of order) addCounts(privileged.has(g) ? privCounts : unprivCounts, counts.get(g) as Counts);
  const privPooled = statsOf([...privileged].join(' | '), true, privCounts);
  const unprivPooled = statsOf('all unprivileged', false, unprivCounts);
  const nonEmpty = groupStats.filter((g) => g.n > 0).length;

  const sel = spread(groupStats, (g) => g.selectionRate, 'samples');
  let selRatio: Metric;
  if (sel.difference.value === undefined) selRatio = undef(sel.difference.reason);
  else if (sel.max === 0) selRatio = undef('no group had a sample predicted favourable');
  else selRatio = defined(sel.min / sel.max);
  const tpr = spread(groupStats, (g) => g.tpr, 'samples whose true label is the favourable class');
  const fpr = spread(groupStats, (g) => g.fpr, 'samples whose true label is not the favourable class');

  return {
    favourableClass,
    privileged: [...privileged],
    groups: groupStats,
    privilegedPooled: privPooled,
    comparisons: groupStats.filter((g) => !g.privileged).map((g) => compare(g, privPooled, nonEmpty)),
    pooledComparison: compare(unprivPooled, privPooled, nonEmpty),
    spreads: {
      selectionRate: { difference: sel.difference, over: sel.over, ratio: selRatio },
      tpr: { difference: tpr.difference, over: tpr.over },
      fpr: { difference: fpr.difference, over: fpr.over },
    },
    excluded: { missingAttribute, unlabeled },
  };
}

/**
 * One attribute's value per sample from a DatasetVersion's columns (null = missing), for
 * all samples or for `indices` into the version (e.g. `filterVersion(v, { splits: ['test'] })`).
 */
export function groupsFromVersion(version: DatasetVersion, attribute: string, indices?: ArrayLike<number>): (string | null)[] {
  const column = version.attributes[attribute];
  if (!column) {
    throw new InvalidInputError(`Dataset version ${version.number} has no attribute "${attribute}". Pick one of: ${Object.keys(version.attributes).join(', ') || '(none)'}.`);
  }
  const n = indices ? indices.length : version.sampleIds.length;
  const out = new Array<string | null>(n);
  for (let k = 0; k < n; k++) {
    const code = column.codes[indices ? (indices[k] as number) : k] as number;
    out[k] = code < 0 ? null : (column.values[code] as string);
  }
  return out;
}
