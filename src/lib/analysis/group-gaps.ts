/**
 * Which group fares worst, by how much, and whether chance alone could explain it; and
 * whether a four-fifths flag is something the data can back. Shared by Evaluate (accuracy
 * per group), Export (float against int8 per group) and Analyze (base rates per class ×
 * group), so the three pages judge a gap by one rule.
 *
 * The statistics, each with the reference the unit tests check it against:
 * - Wilson score interval for one proportion (Newcombe 1998a, "Two-sided confidence
 *   intervals for the single proportion", Stat. Med. 17:857, Table I).
 * - Newcombe's hybrid score interval for a difference of two independent proportions
 *   (Newcombe 1998b, "Interval estimation for the difference between independent
 *   proportions", Stat. Med. 17:873, method 10, Table II).
 * - The pooled two-proportion z-test, two-sided.
 * - Katz's log interval for a ratio of two proportions (Katz et al. 1978, Biometrics
 *   34:469), the one scipy.stats.contingency.relative_risk gives; a table with a zero cell
 *   gets 0.5 added to each cell (Haldane's correction) so the log and its error exist.
 *
 * Why Bonferroni: the worst-off group is chosen because it has the lowest accuracy, so
 * its plain p-value is too small: among k groups of equal true accuracy, one of them is
 * always the lowest, and with k = 10 one reaches p < 0.05 by chance about 40 % of the
 * time. Multiplying its p-value by the number of groups it was picked from bounds that
 * back to 5 % (the union bound), without assuming the groups' tests are independent.
 */
import type { AttributeBaseRates } from './data-bias';
import type { Metric, ModelBiasReport } from './model-bias';
import { FOUR_FIFTHS_HIGH, FOUR_FIFTHS_LOW } from './model-bias';
import { twoSidedP } from './normal';
export { twoSidedP } from './normal';

/** Two-sided 95 %: the normal quantile Φ⁻¹(0.975). */
export const Z_95 = 1.959963984540054;
/** The family-wise error rate a warning is held to. */
export const GAP_ALPHA = 0.05;
/**
 * A group with fewer samples is listed but never named worst-off: its accuracy moves by
 * 10 points or more with one sample, and the z-test's normal approximation, which wants
 * some ten samples on each side, does not hold for it.
 */
export const MIN_GROUP_SAMPLES = 10;

export interface Interval {
  low: number;
  high: number;
}

/** Wilson score interval for x successes in n trials; [0, 1] when n = 0. */
export function wilsonInterval(x: number, n: number, z = Z_95): Interval {
  if (n === 0) return { low: 0, high: 1 };
  const p = x / n;
  const z2 = z * z;
  const centre = p + z2 / (2 * n);
  const half = z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  const den = 1 + z2 / n;
  return { low: Math.max(0, (centre - half) / den), high: Math.min(1, (centre + half) / den) };
}

/** Newcombe's hybrid score interval for x1/n1 − x2/n2 (both n > 0). */
export function newcombeInterval(x1: number, n1: number, x2: number, n2: number, z = Z_95): Interval {
  const p1 = x1 / n1;
  const p2 = x2 / n2;
  const w1 = wilsonInterval(x1, n1, z);
  const w2 = wilsonInterval(x2, n2, z);
  const d = p1 - p2;
  return {
    low: d - Math.sqrt((p1 - w1.low) ** 2 + (w2.high - p2) ** 2),
    high: d + Math.sqrt((w1.high - p1) ** 2 + (p2 - w2.low) ** 2),
  };
}

/** Pooled two-proportion z-test of x1/n1 against x2/n2, two-sided; z = 0, p = 1 when both rates are 0 or both 1. */
export function twoProportionTest(x1: number, n1: number, x2: number, n2: number): { z: number; p: number } {
  const pooled = (x1 + x2) / (n1 + n2);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2));
  if (se === 0) return { z: 0, p: 1 };
  const z = (x1 / n1 - x2 / n2) / se;
  return { z, p: twoSidedP(z) };
}

/** min(1, p × tests): the Bonferroni-adjusted p-value. */
export function bonferroni(p: number, tests: number): number {
  return Math.min(1, p * Math.max(1, tests));
}

/** Successes out of a total: a group's correct predictions, or its samples with one label. */
export interface GroupCount {
  group: string;
  n: number;
  hits: number;
}

export interface RateSide {
  n: number;
  hits: number;
  rate: number;
}

/** One group against all the other samples, with the evidence for the difference. */
export interface GapTest {
  group: RateSide & { group: string };
  rest: RateSide;
  /** rest − group for a worst-off group (positive: it fares worse), group − rest for a base rate. */
  difference: number;
  /** Newcombe 95 % interval of `difference`. */
  interval: Interval;
  z: number;
  /** Two-sided p-value of the two-proportion z-test. */
  p: number;
  /** How many comparisons the group was picked from (the Bonferroni factor). */
  tests: number;
  /** min(1, p × tests). */
  adjustedP: number;
  /** adjustedP < GAP_ALPHA: a gap this large would be rare if every group had the same rate. */
  exceedsChance: boolean;
}

export interface WorstGroupGap {
  /** The worst-off group and its test, or null with `reason`. */
  gap: GapTest | null;
  reason?: string;
  /** Groups with samples but fewer than MIN_GROUP_SAMPLES: listed, never picked. */
  tooSmall: string[];
}

/** Plain words for the warning rule, shown beside every summary. */
export const GAP_RULE =
  `A warning means the gap is larger than chance would give: a two-proportion z-test of the group against all ` +
  `other samples, its p-value multiplied by the number of groups it was picked from (Bonferroni, because the ` +
  `worst of several groups looks worse than it is), stays below ${GAP_ALPHA}. Groups with fewer than ` +
  `${MIN_GROUP_SAMPLES} samples are not judged. The interval is Newcombe's 95 % interval for the difference.`;

/** The same rule for the base-rate summary, where the cell is picked from classes × groups. */
export const BASE_RATE_GAP_RULE =
  `A warning means the difference is larger than chance would give: a two-proportion z-test of the group's share ` +
  `of the label against the other groups' share, its p-value multiplied by the number of label × group cells it was ` +
  `picked from (Bonferroni; with two groups, one per label), stays below ${GAP_ALPHA}. Groups with fewer than ` +
  `${MIN_GROUP_SAMPLES} labelled samples are not judged. The interval is Newcombe's 95 % interval for the difference.`;

function side(hits: number, n: number): RateSide {
  return { n, hits, rate: hits / n };
}

function gapTest(g: GroupCount, restHits: number, restN: number, tests: number, sign: 'rest-minus-group' | 'group-minus-rest'): GapTest {
  const t = twoProportionTest(g.hits, g.n, restHits, restN);
  const iv =
    sign === 'rest-minus-group' ? newcombeInterval(restHits, restN, g.hits, g.n) : newcombeInterval(g.hits, g.n, restHits, restN);
  const diff = sign === 'rest-minus-group' ? restHits / restN - g.hits / g.n : g.hits / g.n - restHits / restN;
  const adjustedP = bonferroni(t.p, tests);
  return {
    group: { group: g.group, ...side(g.hits, g.n) },
    rest: side(restHits, restN),
    difference: diff,
    interval: iv,
    z: t.z,
    p: t.p,
    tests,
    adjustedP,
    exceedsChance: adjustedP < GAP_ALPHA,
  };
}

/**
 * The worst-off group: the lowest rate among groups with at least `minSamples` samples
 * (ties: the first listed), against every other sample pooled, small groups included.
 */
export function worstGroupGap(groups: readonly GroupCount[], minSamples = MIN_GROUP_SAMPLES): WorstGroupGap {
  const withSamples = groups.filter((g) => g.n > 0);
  const eligible = withSamples.filter((g) => g.n >= minSamples);
  const tooSmall = withSamples.filter((g) => g.n < minSamples).map((g) => g.group);
  if (withSamples.length < 2) return { gap: null, reason: 'only one group has samples: nothing to compare', tooSmall };
  if (eligible.length === 0) return { gap: null, reason: `no group has ${minSamples} samples or more`, tooSmall };
  let worst = eligible[0] as GroupCount;
  for (const g of eligible) if (g.hits * worst.n < worst.hits * g.n) worst = g;
  const totalN = withSamples.reduce((a, g) => a + g.n, 0);
  const totalHits = withSamples.reduce((a, g) => a + g.hits, 0);
  return { gap: gapTest(worst, totalHits - worst.hits, totalN - worst.n, eligible.length, 'rest-minus-group'), tooSmall };
}

/** Correct predictions per attribute value, for worstGroupGap; missing values (null) and unlabeled samples (< 0) are left out. */
export function accuracyCounts(
  trueLabels: ArrayLike<number>,
  predicted: ArrayLike<number>,
  groups: ArrayLike<string | null>,
  values: readonly string[],
): GroupCount[] {
  const counts = new Map<string, GroupCount>(values.map((v) => [v, { group: v, n: 0, hits: 0 }]));
  for (let i = 0; i < trueLabels.length; i++) {
    const g = groups[i] as string | null;
    const y = trueLabels[i] as number;
    if (g === null || y < 0) continue;
    let c = counts.get(g);
    if (!c) counts.set(g, (c = { group: g, n: 0, hits: 0 }));
    c.n++;
    if (predicted[i] === y) c.hits++;
  }
  return [...counts.values()];
}

/** One attribute's worst-off group by accuracy. */
export interface AttributeAccuracyGap extends WorstGroupGap {
  attribute: string;
  groups: GroupCount[];
}

/** The class × group cell whose base rate differs most from the rest of its class's samples. */
export interface BaseRateGap {
  gap: (GapTest & { classIndex: number; label: string }) | null;
  reason?: string;
  tooSmall: string[];
}

/**
 * Over every class c and every group g with at least `minSamples` labelled samples: the
 * share of g labelled c against the share of all other groups' samples labelled c; the
 * cell with the largest |difference| (ties: the first) is reported. Its test is corrected
 * for every cell it was picked from, classes × groups, except that with two groups each
 * group's rest is the other group, so both cells of a class are one test.
 */
export function baseRateGap(
  counts: readonly (readonly number[])[],
  values: readonly string[],
  classes: readonly string[],
  minSamples = MIN_GROUP_SAMPLES,
): BaseRateGap {
  const sizes = counts.map((row) => row.reduce((a, b) => a + b, 0));
  const withSamples = sizes.filter((n) => n > 0).length;
  const tooSmall = values.filter((_, v) => (sizes[v] as number) > 0 && (sizes[v] as number) < minSamples);
  if (withSamples < 2) return { gap: null, reason: 'only one group has labelled samples: nothing to compare', tooSmall };
  const eligible = values.map((_, v) => v).filter((v) => (sizes[v] as number) >= minSamples);
  if (eligible.length === 0) return { gap: null, reason: `no group has ${minSamples} labelled samples or more`, tooSmall };
  const totalN = sizes.reduce((a, b) => a + b, 0);
  const perGroupTests = withSamples === 2 ? 1 : eligible.length;
  const tests = classes.length * perGroupTests;
  let best: { v: number; c: number; d: number } | null = null;
  for (let c = 0; c < classes.length; c++) {
    const classTotal = counts.reduce((a, row) => a + (row[c] ?? 0), 0);
    for (const v of eligible) {
      const n = sizes[v] as number;
      const hits = counts[v]?.[c] ?? 0;
      const restN = totalN - n;
      const d = hits / n - (classTotal - hits) / restN;
      if (best === null || Math.abs(d) > Math.abs(best.d)) best = { v, c, d };
    }
  }
  const b = best as { v: number; c: number; d: number };
  const n = sizes[b.v] as number;
  const hits = counts[b.v]?.[b.c] ?? 0;
  const classTotal = counts.reduce((a, row) => a + (row[b.c] ?? 0), 0);
  const test = gapTest({ group: values[b.v] as string, n, hits }, classTotal - hits, totalN - n, tests, 'group-minus-rest');
  return { gap: { ...test, classIndex: b.c, label: classes[b.c] ?? String(b.c) }, tooSmall };
}

/** One group's accuracy under the float and the int8 model. */
export interface QuantizedGroup {
  group: string;
  n: number;
  floatHits: number;
  int8Hits: number;
  /** int8 − float accuracy (0..1 scale). */
  change: number;
}

export interface QuantizationGap {
  float: WorstGroupGap;
  int8: WorstGroupGap;
  groups: QuantizedGroup[];
  /** int8 − float accuracy over all the attribute's samples. */
  overallChange: number;
  /** The group (with MIN_GROUP_SAMPLES or more) whose accuracy int8 lowers most, beyond the overall change; null when none drops more. */
  mostHurt: QuantizedGroup | null;
}

/** Float against int8 per group, from the two models' counts on the same samples. */
export function quantizationGap(float: readonly GroupCount[], int8: readonly GroupCount[], minSamples = MIN_GROUP_SAMPLES): QuantizationGap {
  const groups: QuantizedGroup[] = float
    .filter((f) => f.n > 0)
    .map((f) => {
      const q = int8.find((g) => g.group === f.group);
      const int8Hits = q?.hits ?? 0;
      return { group: f.group, n: f.n, floatHits: f.hits, int8Hits, change: (int8Hits - f.hits) / f.n };
    });
  const n = groups.reduce((a, g) => a + g.n, 0);
  const overallChange = n === 0 ? 0 : groups.reduce((a, g) => a + g.int8Hits - g.floatHits, 0) / n;
  let mostHurt: QuantizedGroup | null = null;
  for (const g of groups) {
    if (g.n < minSamples || g.change >= overallChange) continue;
    if (mostHurt === null || g.change < mostHurt.change) mostHurt = g;
  }
  return { float: worstGroupGap(float, minSamples), int8: worstGroupGap(int8, minSamples), groups, overallChange, mostHurt };
}

/** What the data say about one disparate impact: its counts, Katz 95 % interval, and whether a four-fifths flag holds. */
export interface DisparateImpactEvidence {
  /** Favourable outcomes and size of the compared group, then of its reference. */
  favourable: number;
  n: number;
  referenceFavourable: number;
  referenceN: number;
  /** Null when the ratio does not exist (an empty side, or no favourable outcome in the reference). */
  interval: Interval | null;
  /**
   * For a flagged DI: 'supported' when the whole 95 % interval lies beyond the band edge the
   * estimate crossed (below 0.8, or above 1.25), else 'unsupported'. Undefined when unflagged.
   */
  support?: 'supported' | 'unsupported';
}

/** Plain words for the support rule. */
export const FLAG_SUPPORT_RULE =
  `A flag is backed by the data when the whole 95 % interval of the ratio (Katz's log method) lies outside ` +
  `[${FOUR_FIFTHS_LOW}, ${FOUR_FIFTHS_HIGH}] on the same side as the ratio itself; otherwise the groups are too ` +
  `small to tell a ratio outside the band from one inside it, and the flag is shown muted.`;

/**
 * Katz log interval of (a/n1) / (b/n2). When a cell of the 2×2 table is zero (no
 * favourable, or no unfavourable, outcome on a side) 0.5 is added to every cell: with no
 * favourable outcome the log does not exist, and with only favourable ones the standard
 * error collapses to 0 and the interval to a point (47/47 vs 53/53 would read "1.00 to 1.00").
 */
export function katzRatioInterval(a: number, n1: number, b: number, n2: number, z = Z_95): Interval | null {
  if (n1 === 0 || n2 === 0) return null;
  let [x1, m1, x2, m2] = [a, n1, b, n2];
  if (x1 === 0 || x2 === 0 || x1 === m1 || x2 === m2) {
    x1 += 0.5;
    x2 += 0.5;
    m1 += 1;
    m2 += 1;
  }
  const logRatio = Math.log(x1 / m1 / (x2 / m2));
  const se = Math.sqrt(1 / x1 - 1 / m1 + 1 / x2 - 1 / m2);
  return { low: Math.exp(logRatio - z * se), high: Math.exp(logRatio + z * se) };
}

/** The evidence for a DI metric computed from these counts (`di` is the metric the report already holds). */
export function disparateImpactEvidence(
  di: Metric & { flag?: string },
  favourable: number,
  n: number,
  referenceFavourable: number,
  referenceN: number,
): DisparateImpactEvidence {
  const interval = di.value === undefined || referenceFavourable === 0 ? null : katzRatioInterval(favourable, n, referenceFavourable, referenceN);
  const out: DisparateImpactEvidence = { favourable, n, referenceFavourable, referenceN, interval };
  if (di.flag !== undefined && di.value !== undefined) {
    const beyond = interval !== null && (di.value < FOUR_FIFTHS_LOW ? interval.high < FOUR_FIFTHS_LOW : interval.low > FOUR_FIFTHS_HIGH);
    out.support = beyond ? 'supported' : 'unsupported';
  }
  return out;
}

/**
 * The order a table of flags is read in: flags the data back first (the strongest, whose
 * interval lies farthest from the band, first), then the muted ones, then the rest, each
 * in its original order otherwise. Returns indices into `evidence`.
 */
export function rankByFlagSupport(evidence: readonly (DisparateImpactEvidence | undefined)[]): number[] {
  const tier = (e: DisparateImpactEvidence | undefined): number => (e?.support === 'supported' ? 0 : e?.support === 'unsupported' ? 1 : 2);
  /** How far the interval lies beyond the band, on the log scale, for supported flags. */
  const margin = (e: DisparateImpactEvidence | undefined): number => {
    if (e?.support !== 'supported' || !e.interval) return 0;
    return e.interval.high < FOUR_FIFTHS_LOW ? Math.log(FOUR_FIFTHS_LOW / e.interval.high) : Math.log(e.interval.low / FOUR_FIFTHS_HIGH);
  };
  return evidence
    .map((e, i) => ({ i, t: tier(e), m: margin(e) }))
    .sort((a, b) => a.t - b.t || b.m - a.m || a.i - b.i)
    .map((x) => x.i);
}

/** Evidence for each of a model-bias report's comparisons (selection rates), and for its pooled one. */
export function modelBiasEvidence(report: ModelBiasReport): { comparisons: DisparateImpactEvidence[]; pooled: DisparateImpactEvidence } {
  const ref = report.privilegedPooled;
  const comparisons = report.comparisons.map((c) => {
    const g = report.groups.find((x) => x.group === c.unprivileged);
    return disparateImpactEvidence(c.disparateImpact, g?.predictedFavourable ?? 0, g?.n ?? 0, ref.predictedFavourable, ref.n);
  });
  let fav = 0;
  let n = 0;
  for (const g of report.groups) {
    if (g.privileged) continue;
    fav += g.predictedFavourable;
    n += g.n;
  }
  return { comparisons, pooled: disparateImpactEvidence(report.pooledComparison.disparateImpact, fav, n, ref.predictedFavourable, ref.n) };
}

/** Evidence for each base-rate comparison, parallel to `rates.comparisons`. */
export function baseRateEvidence(rates: AttributeBaseRates): DisparateImpactEvidence[] {
  let totalN = 0;
  let totalFav = 0;
  let privN = 0;
  let privFav = 0;
  for (const g of rates.groups) {
    totalN += g.n;
    totalFav += g.favourable;
    if (g.privileged) {
      privN += g.n;
      privFav += g.favourable;
    }
  }
  return rates.comparisons.map((c) => {
    const g = rates.groups.find((x) => x.group === c.unprivileged);
    const fav = g?.favourable ?? 0;
    const n = g?.n ?? 0;
    return rates.reference === 'privileged'
      ? disparateImpactEvidence(c.disparateImpact, fav, n, privFav, privN)
      : disparateImpactEvidence(c.disparateImpact, fav, n, totalFav - fav, totalN - n);
  });
}
