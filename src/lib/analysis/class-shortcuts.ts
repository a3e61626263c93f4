/**
 * Shortcuts of one class, or of a group of classes, against the rest.
 *
 * The whole-label scores of shortcuts.ts ask "does the statistic predict the label?". A
 * statistic that separates one class from the others, or half of the classes from the other
 * half, can stay under that bar and still teach a model a rule such as "dark ⇒ not a
 * bicycle": nearly every dim image belongs to half of the classes and almost no rare-class
 * image is dim, so the model fails exactly on dim images of the rare classes. This file
 * scores every statistic and every attribute one class against the rest, and the best split
 * of the classes into two groups, with a measure that does not hide rare classes.
 *
 * What is flagged is a coverage gap: a part of the data where the class is nearly absent
 * although the others are there ("night images almost never show a bicycle"), measured as
 * the class's share of that part against its share of all samples (the lift), which does not
 * hide rare classes: a class of 2 % missing from night images reads as clearly as one of 50 %.
 *
 * A part is one value of a categorical feature (an attribute, or the hue sector), or a tail
 * of a statistic taken RELATIVE TO EACH SAMPLE'S OWN CLASS: the value divided by the median of
 * its class. Labels alone cannot tell an object's own look from a nuisance in the raw value
 * (a '1' has little ink, so plain MNIST's darkest tenth holds almost no '8'), but a nuisance
 * such as lighting dims images of every class it touches below what is usual for their class,
 * and the object's look does not: on plain MNIST and MNIST-LT every digit's share of the
 * relative tails is at least 0.39 of its share overall, while a class that is never dimmed is absent
 * from the low tail once the others are.
 *
 * Strength is also read as the one-versus-rest AUROC of the (relative) statistic or of the
 * indicator "feature = value": the probability that a random sample of the class has a higher
 * value than a random sample of the rest (Mann–Whitney U / (n_class · n_rest), ties one half).
 *
 * Calibration is the detector's own: the separation |AUROC − ½| is compared with its mean
 * over the same seeded label shuffles (which also absorbs the optimism of taking the best
 * value and, for groups, the best split), and the rank-sum test (tie-corrected normal
 * approximation) must reject "no separation" at CLASS_ALPHA after a Bonferroni correction
 * over every class and value the feature was scored for.
 */
import type { Rng } from '../data/rng';
import { twoSidedP } from './normal';

/**
 * "Nearly absent": the class's share of the part at most this fraction of its share overall,
 * a quarter ("almost never" in the warning). On plain MNIST and MNIST-LT the lowest relative
 * lift of any digit in any tail is 0.39; the planted family crosses the bar from 75–90 %
 * strength (tests/unit/class-shortcuts.test.ts).
 */
export const CLASS_MAX_LIFT = 0.25;
/** A part holds at least this share of the samples: an attribute value, or a tenth or a quarter of the relative statistic. */
export const CLASS_MIN_SUBSET = 0.1;
/** Separation above the chance of the same shuffles that a flagged finding must also have, on the |AUROC − ½| scale. */
export const CLASS_MIN_EXCESS = 0.05;
/** Family-wise error rate of the tests of one feature (Bonferroni over its classes, group and values). */
export const CLASS_ALPHA = 0.01;
/** Neither side of a comparison may have fewer samples than this. */
export const CLASS_MIN_SIDE = 20;
/** A gap is only claimed where an even spread would put at least this many samples of the class(es). */
export const CLASS_MIN_EXPECTED = 10;

export const CLASS_RULE =
  `a class (or a group of classes) is flagged when it is nearly absent where the other classes are: its share of ` +
  `an attribute value, or of the lowest or highest tenth or quarter of a statistic relative to each sample's class ` +
  `median, holding ≥ ${CLASS_MIN_SUBSET * 100} % of the samples, is at most ${CLASS_MAX_LIFT * 100} % of its share ` +
  `overall; the shortfall must be significant (binomial, ${CLASS_ALPHA} after Bonferroni) and the AUROC at least ` +
  `${CLASS_MIN_EXCESS} beyond the chance separation of the same shuffles`;

/** One subset of samples the warning quotes: "dark images", "night images". */
export interface ClassExample {
  /** Human name of the subset: "brightness < 0.21", "light = night". */
  bin: string;
  /** Short name for the rule: "dark", "light = night". */
  short: string;
  n: number;
  /** Share of the subset that belongs to the class(es). */
  share: number;
  /** Share of all samples that belongs to the class(es). */
  overallShare: number;
}

export interface ClassShortcut {
  feature: string;
  kind: 'image-stat' | 'attribute';
  scope: 'class' | 'group';
  /** Class indices: one for scope 'class', the group's for 'group'. */
  classes: number[];
  classNames: string[];
  /** For a categorical feature, the value the AUROC is of; null for a continuous statistic. */
  value: string | null;
  /** Samples of the class(es), and all samples scored. */
  nIn: number;
  n: number;
  auroc: number;
  /** Mean |AUROC − ½| over the shuffles. */
  chance: number;
  /** |AUROC − ½| − chance. */
  excess: number;
  /** Rank-sum z statistic (positive: the class has higher values). */
  z: number;
  /** Two-sided p of z, times the Bonferroni factor (capped at 1). */
  p: number;
  flagged: boolean;
  /** A flagged class whose flagged group (same feature) already says it: no warning of its own. */
  folded: boolean;
  gap: CoverageGap | null;
  /** Set when flagged: names the trap in words. */
  warning: string | null;
}

/** How the feature reads in words, for examples and warnings. */
export interface FeatureWords {
  /** "brightness", "attribute "light"". */
  label: string;
  /** Adjectives for low and high values ("dark", "bright"); categorical features do not use them. */
  low?: string;
  high?: string;
  advice: string;
}

export type ClassFeature =
  | { feature: string; kind: 'image-stat' | 'attribute'; type: 'continuous'; values: Float64Array; words: FeatureWords }
  | {
      feature: string;
      kind: 'image-stat' | 'attribute';
      type: 'categorical';
      /** Category per sample, 0…names.length − 1. */
      codes: Int32Array;
      /** A category's subset name ("light = night") and its short form for the rule ("night"). */
      names: readonly { bin: string; short: string }[];
      words: FeatureWords;
    };

/** Mid-ranks (1-based, ties averaged) and the tie term Σ(t³ − t) of the variance correction. */
export function midRanks(x: Float64Array): { ranks: Float64Array; tieTerm: number } {
  const n = x.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => (x[a] as number) - (x[b] as number));
  const ranks = new Float64Array(n);
  let tieTerm = 0;
  for (let i = 0; i < n; ) {
    let j = i + 1;
    while (j < n && x[order[j] as number] === x[order[i] as number]) j++;
    const r = (i + 1 + j) / 2;
    for (let k = i; k < j; k++) ranks[order[k] as number] = r;
    const t = j - i;
    tieTerm += t * t * t - t;
    i = j;
  }
  return { ranks, tieTerm };
}

export interface Separation {
  auroc: number;
  z: number;
}

/** AUROC and tie-corrected rank-sum z of `inside` samples (rank sum `r`, count `m`) against the rest. */
export function separation(r: number, m: number, n: number, tieTerm: number): Separation {
  const rest = n - m;
  const u = r - (m * (m + 1)) / 2;
  const auroc = u / (m * rest);
  const variance = ((m * rest) / 12) * (n + 1 - tieTerm / (n * (n - 1)));
  const z = variance > 0 ? (u - (m * rest) / 2) / Math.sqrt(variance) : 0;
  return { auroc, z };
}

function rankSums(ranks: Float64Array, labels: Int32Array, classes: number): Float64Array {
  const sums = new Float64Array(classes);
  for (let i = 0; i < labels.length; i++) sums[labels[i] as number] = (sums[labels[i] as number] as number) + (ranks[i] as number);
  return sums;
}

/**
 * The best split of the classes into two groups of ≥ 2 classes each: classes ordered by
 * their own AUROC, the best prefix. Returns the prefix length (0 when none qualifies).
 */
function bestGroup(sums: Float64Array, counts: Float64Array, n: number, tieTerm: number): { size: number; order: number[]; sep: Separation } {
  const classes = sums.length;
  const present = Array.from({ length: classes }, (_, c) => c).filter((c) => (counts[c] as number) > 0);
  const none = { size: 0, order: present, sep: { auroc: 0.5, z: 0 } };
  if (present.length < 4) return none;
  const auc = (c: number): number => separation(sums[c] as number, counts[c] as number, n, tieTerm).auroc;
  const order = [...present].sort((a, b) => auc(b) - auc(a));
  let best = none;
  let r = 0;
  let m = 0;
  for (let j = 0; j < order.length - 2; j++) {
    const c = order[j] as number;
    r += sums[c] as number;
    m += counts[c] as number;
    if (j < 1 || m < CLASS_MIN_SIDE || n - m < CLASS_MIN_SIDE) continue;
    const sep = separation(r, m, n, tieTerm);
    if (Math.abs(sep.auroc - 0.5) > Math.abs(best.sep.auroc - 0.5)) best = { size: j + 1, order, sep };
  }
  return best;
}


interface Variable {
  /** Value name for a categorical indicator; null for the continuous statistic. */
  value: string | null;
  ranks: Float64Array;
  tieTerm: number;
  /** Parts of the samples a gap may be in, each with its member flags. */
  subsets: { bin: string; short: string; members: Uint8Array }[];
}

function fmt(x: number): string {
  return Math.abs(x) >= 100 ? x.toFixed(0) : Number(x.toPrecision(2)).toString();
}

function quantile(sorted: Float64Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

/**
 * Each value against a quantile of its own class: the ratio when every class's quantile is
 * positive (brightness, contrast, sizes), else the difference. The low tail is read against
 * the class's upper quartile and the high tail against its lower quartile, so that a nuisance
 * touching most of a class (60 % of its images dimmed) does not move the reference with it,
 * as it would move the median.
 */
export function relativeToClass(values: Float64Array, labels: Int32Array, classes: number, q: number): { relative: Float64Array; ratio: boolean } {
  const refs = new Float64Array(classes);
  for (let c = 0; c < classes; c++) {
    const own = values.filter((_, i) => labels[i] === c).sort();
    refs[c] = own.length === 0 ? 0 : (own[Math.min(own.length - 1, Math.floor(q * own.length))] as number);
  }
  const used = Array.from({ length: classes }, (_, c) => c).filter((c) => labels.includes(c));
  const ratio = used.every((c) => (refs[c] as number) > 0);
  const relative = Float64Array.from(values, (v, i) => {
    const m = refs[labels[i] as number] as number;
    return ratio ? v / m : v - m;
  });
  return { relative, ratio };
}

/** The variables a feature is scored as: its class-relative value (continuous), or one indicator per value (categorical). */
function variablesOf(f: ClassFeature, labels: Int32Array, classes: number): Variable[] {
  if (f.type === 'continuous') {
    const low = relativeToClass(f.values, labels, classes, 0.75);
    const high = relativeToClass(f.values, labels, classes, 0.25);
    const { ranks, tieTerm } = midRanks(low.relative);
    const edge = (x: number, ratio: boolean, which: string): string =>
      ratio ? `${fmt(x)} × its class's ${which} quartile` : `its class's ${which} quartile ${x < 0 ? '−' : '+'} ${fmt(Math.abs(x))}`;
    const lowSorted = Float64Array.from(low.relative).sort();
    const highSorted = Float64Array.from(high.relative).sort();
    const subsets: Variable['subsets'] = [];
    for (const q of [0.1, 0.25]) {
      const lo = quantile(lowSorted, q);
      const hi = quantile(highSorted, 1 - q);
      subsets.push({
        bin: `${f.words.label} below ${edge(lo, low.ratio, 'upper')}`,
        short: f.words.low ?? `low-${f.words.label}`,
        members: Uint8Array.from(low.relative, (v) => (v < lo ? 1 : 0)),
      });
      subsets.push({
        bin: `${f.words.label} above ${edge(hi, high.ratio, 'lower')}`,
        short: f.words.high ?? `high-${f.words.label}`,
        members: Uint8Array.from(high.relative, (v) => (v >= hi ? 1 : 0)),
      });
    }
    return [{ value: null, ranks, tieTerm, subsets }];
  }
  const counts = new Float64Array(f.names.length);
  for (const c of f.codes) counts[c] = (counts[c] as number) + 1;
  const used = f.names.map((_, v) => v).filter((v) => (counts[v] as number) > 0);
  // A two-valued feature's two indicators are mirror images: score one, quote either.
  const scored = used.length === 2 ? used.slice(0, 1) : used;
  return scored.map((v) => {
    const indicator = Float64Array.from(f.codes, (c) => (c === v ? 1 : 0));
    const subsets = (used.length === 2 ? used : [v]).map((w) => ({
      bin: f.names[w]?.bin ?? String(w),
      short: f.names[w]?.short ?? String(w),
      members: Uint8Array.from(f.codes, (c) => (c === w ? 1 : 0)),
    }));
    return { value: f.names[v]?.bin ?? String(v), ...midRanks(indicator), subsets };
  });
}

/** The strongest depletion of the class(es) in one of the variable's subsets. */
export interface CoverageGap {
  bin: string;
  short: string;
  /** Samples in the subset, and of the class(es) among them. */
  m: number;
  k: number;
  /** k / (m · overall share). */
  lift: number;
  /** One-sided binomial P(K ≤ k), before the Bonferroni factor. */
  p: number;
}

/** log of the binomial pmf, by lgamma-free summation (k is small wherever it matters). */
export function binomialLowerTail(k: number, m: number, p: number): number {
  if (k >= m * p) return 1;
  // P(K = 0) = (1 − p)^m, then the ratio pmf(j+1)/pmf(j) = (m − j)/(j + 1) · p/(1 − p).
  let logPmf = m * Math.log1p(-p);
  let sum = Math.exp(logPmf);
  for (let j = 0; j < k; j++) {
    logPmf += Math.log((m - j) / (j + 1)) + Math.log(p / (1 - p));
    sum += Math.exp(logPmf);
  }
  return Math.min(1, sum);
}

function coverageGap(subsets: Variable['subsets'], inside: Uint8Array, share: number): CoverageGap | null {
  const n = inside.length;
  let best: { s: Variable['subsets'][number]; m: number; k: number; lift: number } | null = null;
  for (const s of subsets) {
    const members = s.members;
    let m = 0;
    let k = 0;
    for (let i = 0; i < n; i++) {
      const x = members[i] as number;
      m += x;
      k += x & (inside[i] as number);
    }
    // 0.9: a tail cut between distinct values may fall a little short of its tenth.
    if (m < 0.9 * CLASS_MIN_SUBSET * n || m * share < CLASS_MIN_EXPECTED) continue;
    const lift = k / (m * share);
    if (!best || lift < best.lift) best = { s, m, k, lift };
  }
  if (!best) return null;
  const { s, m, k, lift } = best;
  return {
    bin: s.bin,
    short: s.short,
    m,
    k,
    lift,
    p: binomialLowerTail(k, m, share),
  };
}

function pct(x: number): string {
  return x < 0.01 && x > 0 ? '< 1 %' : `${Math.round(x * 100)} %`;
}

function quoteClasses(names: string[]): string {
  const q = names.map((c) => `'${c}'`);
  return q.length <= 4 ? q.join(', ') : `${q.slice(0, 4).join(', ')} and ${q.length - 4} more`;
}

/** "Dark images (brightness < 0.21) almost never show a 'bicycle' …: a model may learn 'dark ⇒ not bicycle'". */
export function classWarning(s: Pick<ClassShortcut, 'scope' | 'classNames'>, e: ClassExample, words: FeatureWords): string {
  const who = s.scope === 'class' ? `'${s.classNames[0]}'` : `one of ${quoteClasses(s.classNames)}`;
  const what = s.scope === 'class' ? `a '${s.classNames[0]}'` : quoteClasses(s.classNames);
  const ratio = e.share / e.overallShare;
  const subset = e.bin === e.short ? `${e.short} images` : `${e.short} images (${e.bin})`;
  let text: string;
  if (ratio < 1) {
    const adverb = ratio < 0.25 ? 'almost never' : ratio < 0.5 ? 'rarely' : 'less often';
    text =
      `${subset} ${adverb} show ${what} (${pct(e.share)} of them, against ${pct(e.overallShare)} of all images): ` +
      `a model may learn '${e.short} ⇒ not ${s.scope === 'class' ? s.classNames[0] : 'those classes'}' and fail on ${e.short} images of ${s.scope === 'class' ? 'it' : 'them'}.`;
  } else {
    text =
      `${pct(e.share)} of ${subset} are ${who}, against ${pct(e.overallShare)} of all images: ` +
      `a model may learn '${e.short} ⇒ ${s.scope === 'class' ? s.classNames[0] : 'one of those classes'}'.`;
  }
  return `${text[0]?.toUpperCase() ?? ''}${text.slice(1)} To fix: ${words.advice}.`;
}

/**
 * Scores one feature per class and for the best group of classes. `labels` are class indices
 * 0…classNames.length − 1 of the samples the feature is known for, parallel to its values.
 */
export function scoreClasses(f: ClassFeature, labels: Int32Array, classNames: readonly string[], rng: Rng, permutations: number): ClassShortcut[] {
  const n = labels.length;
  const classes = classNames.length;
  const counts = new Float64Array(classes);
  for (const y of labels) counts[y] = (counts[y] as number) + 1;
  const variables = variablesOf(f, labels, classes);
  const allSubsets = variables.flatMap((v) => v.subsets);
  const present = Array.from({ length: classes }, (_, c) => c).filter((c) => (counts[c] as number) > 0);
  const tests = Math.max(1, variables.length * (present.length + (present.length >= 4 ? 1 : 0)));
  const perms = Array.from({ length: permutations }, () => rng.shuffle(labels.slice()));

  const out: ClassShortcut[] = [];
  const perClass = new Map<number, { v: Variable; sep: Separation; chance: number }>();
  let group: { v: Variable; members: number[]; sep: Separation; chance: number } | null = null;
  for (const v of variables) {
    const sums = rankSums(v.ranks, labels, classes);
    const chance = new Float64Array(classes);
    let groupChance = 0;
    for (const p of perms) {
      const ps = rankSums(v.ranks, p, classes);
      for (const c of present) {
        chance[c] = (chance[c] as number) + Math.abs(separation(ps[c] as number, counts[c] as number, n, v.tieTerm).auroc - 0.5) / permutations;
      }
      groupChance += Math.abs(bestGroup(ps, counts, n, v.tieTerm).sep.auroc - 0.5) / permutations;
    }
    for (const c of present) {
      if ((counts[c] as number) < CLASS_MIN_SIDE || n - (counts[c] as number) < CLASS_MIN_SIDE) continue;
      const sep = separation(sums[c] as number, counts[c] as number, n, v.tieTerm);
      const prev = perClass.get(c);
      const excess = Math.abs(sep.auroc - 0.5) - (chance[c] as number);
      if (!prev || excess > Math.abs(prev.sep.auroc - 0.5) - prev.chance) perClass.set(c, { v, sep, chance: chance[c] as number });
    }
    const g = bestGroup(sums, counts, n, v.tieTerm);
    if (g.size > 0) {
      const excess = Math.abs(g.sep.auroc - 0.5) - groupChance;
      if (!group || excess > Math.abs(group.sep.auroc - 0.5) - group.chance) {
        // The smaller side names the group, so a warning lists as few classes as it can.
        const head = g.order.slice(0, g.size);
        const tail = g.order.slice(g.size);
        const members = head.length <= tail.length ? head : tail;
        const sep = head.length <= tail.length ? g.sep : { auroc: 1 - g.sep.auroc, z: -g.sep.z };
        group = { v, members, sep, chance: groupChance };
      }
    }
  }

  const make = (scope: 'class' | 'group', members: number[], v: Variable, sep: Separation, chance: number): ClassShortcut => {
    const inside = new Uint8Array(n);
    const memberSet = new Set(members);
    let nIn = 0;
    for (let i = 0; i < n; i++) {
      if (memberSet.has(labels[i] as number)) {
        inside[i] = 1;
        nIn++;
      }
    }
    const excess = Math.abs(sep.auroc - 0.5) - chance;
    const p = Math.min(1, twoSidedP(sep.z) * tests);
    const classNamesOf = members.map((c) => classNames[c] ?? String(c));
    const gap = coverageGap(allSubsets, inside, nIn / n);
    const flagged = gap !== null && excess >= CLASS_MIN_EXCESS && gap.lift <= CLASS_MAX_LIFT && gap.p * tests < CLASS_ALPHA;
    return {
      feature: f.feature,
      kind: f.kind,
      scope,
      classes: members,
      classNames: classNamesOf,
      value: v.value,
      nIn,
      n,
      auroc: sep.auroc,
      chance,
      excess,
      z: sep.z,
      p,
      flagged,
      folded: false,
      gap,
      warning: flagged && gap ? classWarning({ scope, classNames: classNamesOf }, { bin: gap.bin, short: gap.short, n: gap.m, share: gap.k / gap.m, overallShare: nIn / n }, f.words) : null,
    };
  };

  for (const [c, s] of [...perClass.entries()].sort((a, b) => a[0] - b[0])) out.push(make('class', [c], s.v, s.sep, s.chance));
  if (group) {
    const g = make('group', group.members, group.v, group.sep, group.chance);
    // A group is worth naming when flagged, or when it separates more than any one class does.
    const bestClass = Math.max(0, ...out.map((s) => s.excess));
    if (g.flagged || g.excess > bestClass) out.push(g);
    if (g.flagged) for (const c of out) if (c.scope === 'class' && c.flagged && g.classes.includes(c.classes[0] as number)) c.folded = true;
  }
  return out;
}
