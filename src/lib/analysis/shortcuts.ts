/**
 * The shortcut detector: does a simple image statistic (or a group attribute) on its own
 * predict the label? If "dark photos mostly contain people", a small model can score well
 * by learning darkness instead of people, and fail on the first bright photo of a person.
 *
 * For each statistic the samples are binned (quantile bins, or hue sectors), and two
 * numbers say how much the bin tells about the label:
 * - NMI(bin, label) (nmi.ts). NMI is biased upward for finite samples (more bins and fewer
 *   samples per bin give a positive NMI even for independent variables), so it is compared
 *   with a chance baseline: the mean NMI after shuffling the labels with a seeded
 *   generator, SHORTCUT_PERMUTATIONS times. `excessNmi` = NMI − chance.
 * - The accuracy of predicting each sample's label as its bin's majority label, against
 *   the same accuracy with shuffled labels (which is the majority-class rate plus the
 *   same finite-sample optimism). `errorReduction` = (acc − chance) / (1 − chance): the
 *   share of the errors of a chance predictor that the statistic removes (Goodman and
 *   Kruskal's λ, with the permutation baseline in place of the majority rate). Unlike
 *   "accuracy ≥ 1.5 × the majority rate", this reads the same for 2 classes and for 100.
 *
 * The rule (SHORTCUT_RULE) flags a statistic when BOTH excessNmi ≥ SHORTCUT_MIN_EXCESS_NMI
 * and errorReduction ≥ SHORTCUT_MIN_ERROR_REDUCTION, over at least SHORTCUT_MIN_SAMPLES
 * labelled samples of at least two classes. Why those numbers is said at each constant.
 */
import { Rng } from '../data/rng';
import type { ImageStats } from './image-stats';
import { contingency, nmiOfTable, type Contingency } from './nmi';
import { CLASS_RULE, scoreClasses, type ClassFeature, type ClassShortcut, type FeatureWords } from './class-shortcuts';
export type { ClassShortcut } from './class-shortcuts';

/** Per-sample statistics, parallel to the analysed samples (typed arrays: cheap to transfer). */
export interface SampleStatColumns {
  brightness: Float32Array;
  contrast: Float32Array;
  colourfulness: Float32Array;
  saturation: Float32Array;
  edgeDensity: Float32Array;
  /** OpenCV hue 0..179 of the dominant colour; NO_HUE when the image has no chromatic pixel. */
  dominantHue: Int16Array;
  /** Size of the original file in pixels; 0 when unknown (sample datasets have no file). */
  originalWidth: Uint32Array;
  originalHeight: Uint32Array;
}

export const NO_HUE = -1;

export function createStatColumns(n: number): SampleStatColumns {
  return {
    brightness: new Float32Array(n),
    contrast: new Float32Array(n),
    colourfulness: new Float32Array(n),
    saturation: new Float32Array(n),
    edgeDensity: new Float32Array(n),
    dominantHue: new Int16Array(n),
    originalWidth: new Uint32Array(n),
    originalHeight: new Uint32Array(n),
  };
}

/** Writes one sample's statistics (and its original size, when known) at row `i`. */
export function setSampleStats(
  cols: SampleStatColumns,
  i: number,
  stats: ImageStats,
  original: { width: number; height: number } | null,
): void {
  cols.brightness[i] = stats.brightness;
  cols.contrast[i] = stats.contrast;
  cols.colourfulness[i] = stats.colourfulness;
  cols.saturation[i] = stats.saturation;
  cols.edgeDensity[i] = stats.edgeDensity;
  cols.dominantHue[i] = stats.dominantHue ?? NO_HUE;
  cols.originalWidth[i] = original?.width ?? 0;
  cols.originalHeight[i] = original?.height ?? 0;
}

/** The statistics the detector tries, in report order. */
export const SHORTCUT_STAT_NAMES = [
  'brightness',
  'contrast',
  'colourfulness',
  'dominantHue',
  'originalSize',
  'aspectRatio',
] as const;
export type ShortcutStatName = (typeof SHORTCUT_STAT_NAMES)[number];

const STAT_LABELS: Record<ShortcutStatName, string> = {
  brightness: 'brightness',
  contrast: 'contrast',
  colourfulness: 'colourfulness',
  dominantHue: 'dominant hue',
  originalSize: 'original image size',
  aspectRatio: 'original aspect ratio',
};

/** What to do about each statistic, once flagged. */
const STAT_ADVICE: Record<ShortcutStatName, string> = {
  brightness: 'collect or augment (brightness jitter) so that every class has dark and bright images',
  contrast: 'collect or augment (contrast jitter) so that every class has low- and high-contrast images',
  colourfulness: 'collect or augment (colour jitter, random grayscale) so that colourfulness varies within each class',
  dominantHue: 'collect or augment (hue jitter, random grayscale) so that every class appears in every colour',
  originalSize: 'check whether the classes came from different cameras or sources, and mix sources within each class',
  aspectRatio: 'check whether the classes came from different cameras or crops, and crop every class alike',
};

/** Words for the low and high ends of each statistic, for the per-class warnings. */
const STAT_ENDS: Record<ShortcutStatName, { low: string; high: string }> = {
  brightness: { low: 'dark', high: 'bright' },
  contrast: { low: 'low-contrast', high: 'high-contrast' },
  colourfulness: { low: 'dull', high: 'colourful' },
  dominantHue: { low: 'low-hue', high: 'high-hue' },
  originalSize: { low: 'small', high: 'large' },
  aspectRatio: { low: 'tall', high: 'wide' },
};

function statWords(name: ShortcutStatName): FeatureWords {
  return { label: STAT_LABELS[name], ...STAT_ENDS[name], advice: STAT_ADVICE[name] };
}

/**
 * Deciles: enough bins to catch a statistic that separates a few classes (the darkest tenth
 * being mostly one class), few enough that each bin holds ≥ 20 samples at the minimum
 * sample count, so per-bin majorities are not single-sample noise.
 */
export const QUANTILE_BINS = 10;
/** Hue is binned by sector, not by quantile: 12 sectors of 30° (15 OpenCV hue units). */
export const HUE_SECTORS = 12;
/** The extra hue bin for images without a dominant hue (gray), after the 12 sectors. */
export const GRAY_HUE_BIN = HUE_SECTORS;
const HUE_SECTOR_NAMES = [
  'red',
  'orange',
  'yellow',
  'chartreuse',
  'green',
  'spring green',
  'cyan',
  'azure',
  'blue',
  'violet',
  'magenta',
  'rose',
] as const;

/** Shuffles of the labels averaged into the chance baseline. */
export const SHORTCUT_PERMUTATIONS = 5;
/**
 * Below this many labelled samples nothing is flagged: with 10 bins × 10 classes the table
 * has 100 cells, and under ~2 samples per cell majorities and NMI are mostly noise even
 * after the permutation baseline is subtracted.
 */
export const SHORTCUT_MIN_SAMPLES = 200;
/**
 * NMI above chance needed to flag: 0.1. The arithmetic-mean normalisation divides by the
 * bins' entropy too, so NMI cannot reach 1 with more bins than classes: for a binary label
 * and 10 bins a perfect statistic scores 2 ln 2 / (ln 2 + ln 10) ≈ 0.46, and one that is
 * right 80 % of the time ≈ 0.13. A higher bar would miss strong shortcuts of two-class
 * problems ("dark photos mostly contain people"). This criterion says "clearly not
 * independent"; it is not what keeps plain MNIST clean (its brightness reaches ~0.10–0.12,
 * because a '1' has less ink than an '8'): the error reduction below does that.
 */
export const SHORTCUT_MIN_EXCESS_NMI = 0.1;
/**
 * Share of a chance predictor's errors that the statistic alone must remove: 0.3, i.e.
 * for 10 balanced classes an accuracy of ~0.37 against ~0.1 by chance. Ink statistics on
 * plain MNIST remove 0.11–0.17 (they tell '1' from the rest, roughly, and little else);
 * Colored MNIST's colour removes 0.6–0.76. A plain "accuracy ≥ 1.5 × majority rate" would
 * flag MNIST's brightness (0.23 vs 0.11, 2×), and means little with 2 classes (0.75 vs 0.5).
 */
export const SHORTCUT_MIN_ERROR_REDUCTION = 0.3;

export const SHORTCUT_RULE =
  `flagged when NMI − chance NMI ≥ ${SHORTCUT_MIN_EXCESS_NMI} and the per-bin majority label removes at least ` +
  `${SHORTCUT_MIN_ERROR_REDUCTION * 100} % of a chance predictor's errors, over ≥ ${SHORTCUT_MIN_SAMPLES} labelled samples ` +
  `of ≥ 2 classes; chance = mean over ${SHORTCUT_PERMUTATIONS} seeded shuffles of the labels`;

/** Fraction of samples in a bin that belong to its majority class, for the warning's example. */
export interface BinMajority {
  /** Human name of the bin: "brightness 0.02–0.09", "red", "color = red". */
  bin: string;
  n: number;
  majorityClass: string;
  /** Majority class count / n. */
  share: number;
}

export interface ShortcutScore {
  /** A ShortcutStatName, or `attribute:<name>`. */
  feature: string;
  kind: 'image-stat' | 'attribute';
  skipped?: undefined;
  /** Labelled samples the score is over (those with the statistic / attribute known). */
  n: number;
  /** Non-empty bins. */
  bins: number;
  nmi: number;
  chanceNmi: number;
  excessNmi: number;
  /** Accuracy of "predict the bin's majority label". */
  accuracy: number;
  chanceAccuracy: number;
  /** Largest class count / n. */
  majorityRate: number;
  /** (accuracy − chanceAccuracy) / (1 − chanceAccuracy); 0 when chance is already perfect. */
  errorReduction: number;
  flagged: boolean;
  /** Set when flagged: names the trap and what to do. */
  warning: string | null;
  /** Why it was not flagged despite large numbers (too few samples), when that is the case. */
  note: string | null;
  /** Per non-empty bin, in bin order. */
  binMajorities: BinMajority[];
}

export interface ShortcutSkipped {
  feature: string;
  kind: 'image-stat' | 'attribute';
  /** Why no score: missing data, a constant statistic… */
  skipped: string;
}

export type ShortcutFinding = ShortcutScore | ShortcutSkipped;

export interface ShortcutReport {
  findings: ShortcutFinding[];
  /** Features flagged, in findings order. */
  flagged: string[];
  rule: string;
  /**
   * Every feature scored one class against the rest and for the best group of classes
   * (class-shortcuts.ts), in findings order. Absent from reports stored before it existed.
   */
  classFindings?: ClassShortcut[];
  /** The per-class rule in words. */
  classRule?: string;
  seed: number;
  permutations: number;
}

export interface ShortcutInput {
  /** Class index per sample; negative = unlabeled (left out). */
  labels: ArrayLike<number>;
  classes: readonly string[];
  /** Per-sample statistics parallel to labels; null = not computed (every image statistic is skipped). */
  stats: SampleStatColumns | null;
  /** Group attributes parallel to labels; code −1 = missing (left out). */
  attributes: Record<string, { values: readonly string[]; codes: ArrayLike<number> }>;
  seed: number;
  permutations?: number;
}

/**
 * Quantile bins: the edges are the values at ranks ⌊k·n/bins⌋ (k = 1…bins−1) of the sorted
 * values, duplicates dropped, and a value's bin is the number of edges ≤ it. Ties therefore
 * never straddle bins, so a statistic with few distinct values gets fewer bins (as pandas'
 * `qcut(duplicates='drop')`), and a constant one a single bin.
 */
export function quantileEdges(values: ArrayLike<number>, bins = QUANTILE_BINS): number[] {
  const sorted = Float64Array.from(values).sort();
  const n = sorted.length;
  const edges: number[] = [];
  if (n === 0) return edges;
  for (let k = 1; k < bins; k++) {
    const e = sorted[Math.floor((k * n) / bins)] as number;
    if (e > (sorted[0] as number) && (edges.length === 0 || e > (edges[edges.length - 1] as number))) edges.push(e);
  }
  return edges;
}

/** Bin index of `v` given ascending edges: the count of edges ≤ v (binary search). */
export function binOf(v: number, edges: readonly number[]): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((edges[mid] as number) <= v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Hue sector 0…11 of an OpenCV hue (0…179), sectors centred on red (0°), orange (30°)…
 * rose (330°), so red's wrap-around (hue 178 and hue 1) lands in one sector; NO_HUE
 * (gray) goes to GRAY_HUE_BIN.
 */
export function hueBin(opencvHue: number): number {
  if (opencvHue < 0) return GRAY_HUE_BIN;
  const degrees = opencvHue * 2;
  return Math.floor(((degrees + 15) % 360) / 30);
}

export function hueBinName(bin: number): string {
  return bin === GRAY_HUE_BIN ? 'gray (no dominant colour)' : (HUE_SECTOR_NAMES[bin] ?? `sector ${bin}`);
}

/** Per-bin majority accuracy from a (bins × labels) table. */
function majorityAccuracy(t: Contingency): number {
  let correct = 0;
  for (let r = 0; r < t.rows; r++) {
    let best = 0;
    for (let c = 0; c < t.cols; c++) best = Math.max(best, t.joint[r * t.cols + c] as number);
    correct += best;
  }
  return t.n === 0 ? 0 : correct / t.n;
}


function pct(x: number): string {
  return `${Math.round(x * 100)} %`;
}

function fmt(x: number): string {
  return Math.abs(x) >= 100 ? x.toFixed(0) : Number(x.toPrecision(2)).toString();
}

interface BinnedFeature {
  feature: string;
  kind: 'image-stat' | 'attribute';
  /** Human name for the warning: "brightness", "attribute "color"". */
  label: string;
  advice: string;
  /** Bin per kept sample and class per kept sample, parallel. */
  bins: Int32Array;
  classes: Int32Array;
  binName: (bin: number) => string;
}

/** Scores one binned feature against the labels; see the file comment for the rule. */
function score(f: BinnedFeature, classNames: readonly string[], rng: Rng, permutations: number): ShortcutScore {
  const n = f.classes.length;
  const table = contingency(f.bins, f.classes);
  const value = nmiOfTable(table);
  const accuracy = majorityAccuracy(table);
  let chanceNmiSum = 0;
  let chanceAccSum = 0;
  const shuffled = f.classes.slice();
  for (let p = 0; p < permutations; p++) {
    rng.shuffle(shuffled);
    const t = contingency(f.bins, shuffled);
    chanceNmiSum += nmiOfTable(t);
    chanceAccSum += majorityAccuracy(t);
  }
  const chanceNmi = permutations > 0 ? chanceNmiSum / permutations : 0;
  const chanceAccuracy = permutations > 0 ? chanceAccSum / permutations : 0;
  let maxClass = 0;
  for (let c = 0; c < table.cols; c++) maxClass = Math.max(maxClass, table.colSums[c] as number);
  const majorityRate = n === 0 ? 0 : maxClass / n;
  const excessNmi = value - chanceNmi;
  const errorReduction = chanceAccuracy >= 1 ? 0 : (accuracy - chanceAccuracy) / (1 - chanceAccuracy);

  // contingency() numbers bins and classes by first appearance; map them back.
  const binValues: number[] = [];
  const classValues: number[] = [];
  const seenBin = new Set<number>();
  const seenClass = new Set<number>();
  for (let i = 0; i < n; i++) {
    const b = f.bins[i] as number;
    const c = f.classes[i] as number;
    if (!seenBin.has(b)) {
      seenBin.add(b);
      binValues.push(b);
    }
    if (!seenClass.has(c)) {
      seenClass.add(c);
      classValues.push(c);
    }
  }
  const binMajorities: BinMajority[] = binValues
    .map((b, r) => {
      let best = 0;
      for (let c = 1; c < table.cols; c++) if ((table.joint[r * table.cols + c] as number) > (table.joint[r * table.cols + best] as number)) best = c;
      const size = table.rowSums[r] as number;
      return {
        order: b,
        entry: {
          bin: f.binName(b),
          n: size,
          majorityClass: classNames[classValues[best] as number] ?? String(classValues[best]),
          share: size === 0 ? 0 : (table.joint[r * table.cols + best] as number) / size,
        },
      };
    })
    .sort((a, b) => a.order - b.order)
    .map((x) => x.entry);

  const strong = excessNmi >= SHORTCUT_MIN_EXCESS_NMI && errorReduction >= SHORTCUT_MIN_ERROR_REDUCTION;
  const enough = n >= SHORTCUT_MIN_SAMPLES && table.cols >= 2;
  const flagged = strong && enough;
  let warning: string | null = null;
  if (flagged) {
    // The most telling bin: the largest majority share among bins of a reasonable size.
    const minBin = n / (4 * Math.max(1, binMajorities.length));
    const example = [...binMajorities].filter((b) => b.n >= minBin).sort((a, b) => b.share - a.share)[0];
    const exampleText = example ? ` For example, ${example.bin} images are ${pct(example.share)} '${example.majorityClass}'.` : '';
    warning =
      `Possible shortcut: ${f.label} alone predicts the label for ${pct(accuracy)} of samples (chance ${pct(chanceAccuracy)}; ` +
      `NMI ${fmt(value)} vs ${fmt(chanceNmi)} by chance).${exampleText} ` +
      `A small model may learn the ${f.label} instead of the object, like a model that learns "dark photos mostly contain people" ` +
      `and then misses people in bright photos. To fix: ${f.advice}.`;
  }
  const note =
    strong && !enough
      ? n < SHORTCUT_MIN_SAMPLES
        ? `Not flagged: only ${n} labelled samples (at least ${SHORTCUT_MIN_SAMPLES} are needed for a reliable estimate).`
        : 'Not flagged: the samples have only one class.'
      : null;
  return {
    feature: f.feature,
    kind: f.kind,
    n,
    bins: table.rows,
    nmi: value,
    chanceNmi,
    excessNmi,
    accuracy,
    chanceAccuracy,
    majorityRate,
    errorReduction,
    flagged,
    warning,
    note,
    binMajorities,
  };
}

/** Numeric value of a statistic per sample, NaN where unknown; or a reason it cannot be used at all. */
function statValues(name: ShortcutStatName, s: SampleStatColumns, n: number): Float64Array | string {
  const out = new Float64Array(n);
  switch (name) {
    case 'brightness':
    case 'contrast':
    case 'colourfulness':
      for (let i = 0; i < n; i++) out[i] = s[name][i] as number;
      return out;
    case 'dominantHue':
      for (let i = 0; i < n; i++) out[i] = hueBin(s.dominantHue[i] as number);
      return out;
    case 'originalSize':
    case 'aspectRatio': {
      let known = 0;
      for (let i = 0; i < n; i++) {
        const w = s.originalWidth[i] as number;
        const h = s.originalHeight[i] as number;
        if (w > 0 && h > 0) {
          known++;
          out[i] = name === 'originalSize' ? w * h : w / h;
        } else {
          out[i] = Number.NaN;
        }
      }
      if (known === 0) {
        return 'the original file size is unknown for every sample (samples made from raw pixels, such as the sample datasets, have no original file)';
      }
      return out;
    }
  }
}

function binNamer(name: ShortcutStatName, edges: readonly number[]): (bin: number) => string {
  if (name === 'dominantHue') return (b) => `${hueBinName(b)}-dominated`;
  const unit = name === 'originalSize' ? ' px' : '';
  return (b) => {
    const lo = b === 0 ? null : (edges[b - 1] as number);
    const hi = b >= edges.length ? null : (edges[b] as number);
    const what = STAT_LABELS[name];
    if (lo === null && hi === null) return `all ${what}`;
    if (lo === null) return `${what} < ${fmt(hi as number)}${unit}`;
    if (hi === null) return `${what} ≥ ${fmt(lo)}${unit}`;
    return `${what} ${fmt(lo)}–${fmt(hi)}${unit}`;
  };
}

/** Runs the detector over every statistic and every attribute. */
export function detectShortcuts(input: ShortcutInput): ShortcutReport {
  const permutations = input.permutations ?? SHORTCUT_PERMUTATIONS;
  const root = new Rng(input.seed).fork('shortcuts');
  const n = input.labels.length;
  const findings: ShortcutFinding[] = [];
  const classFindings: ClassShortcut[] = [];
  const perClass = (f: ClassFeature, keep: readonly number[]): void => {
    const labels = Int32Array.from(keep, (i) => input.labels[i] as number);
    classFindings.push(...scoreClasses(f, labels, input.classes, root.fork(`class/${f.feature}`), permutations));
  };

  for (const name of SHORTCUT_STAT_NAMES) {
    if (!input.stats) {
      findings.push({ feature: name, kind: 'image-stat', skipped: 'no per-sample image statistics were computed' });
      continue;
    }
    const values = statValues(name, input.stats, n);
    if (typeof values === 'string') {
      findings.push({ feature: name, kind: 'image-stat', skipped: values });
      continue;
    }
    const keep: number[] = [];
    for (let i = 0; i < n; i++) if ((input.labels[i] as number) >= 0 && !Number.isNaN(values[i] as number)) keep.push(i);
    const kept = Float64Array.from(keep, (i) => values[i] as number);
    let min = Infinity;
    let max = -Infinity;
    for (const v of kept) {
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    if (kept.length === 0) {
      findings.push({ feature: name, kind: 'image-stat', skipped: 'no labelled sample has this statistic' });
      continue;
    }
    if (min === max) {
      const why = name === 'dominantHue' && min === GRAY_HUE_BIN ? 'the images are gray, so none has a hue' : `every labelled sample has the same ${STAT_LABELS[name]}`;
      findings.push({ feature: name, kind: 'image-stat', skipped: `${why}: it cannot tell classes apart` });
      continue;
    }
    const edges = name === 'dominantHue' ? [] : quantileEdges(kept);
    if (name === 'dominantHue') {
      const names = Array.from({ length: GRAY_HUE_BIN + 1 }, (_, b) => ({ bin: `${hueBinName(b)}-dominated`, short: `${hueBinName(b)}-dominated` }));
      perClass({ feature: name, kind: 'image-stat', type: 'categorical', codes: Int32Array.from(kept), names, words: statWords(name) }, keep);
    } else {
      perClass({ feature: name, kind: 'image-stat', type: 'continuous', values: kept, words: statWords(name) }, keep);
    }
    const bins = Int32Array.from(kept, (v) => (name === 'dominantHue' ? v : binOf(v, edges)));
    findings.push(
      score(
        {
          feature: name,
          kind: 'image-stat',
          label: STAT_LABELS[name],
          advice: STAT_ADVICE[name],
          bins,
          classes: Int32Array.from(keep, (i) => input.labels[i] as number),
          binName: binNamer(name, edges),
        },
        input.classes,
        root.fork(name),
        permutations,
      ),
    );
  }

  for (const [attr, column] of Object.entries(input.attributes)) {
    const feature = `attribute:${attr}`;
    const keep: number[] = [];
    for (let i = 0; i < n; i++) if ((input.labels[i] as number) >= 0 && (column.codes[i] as number) >= 0) keep.push(i);
    if (keep.length === 0) {
      findings.push({ feature, kind: 'attribute', skipped: `no labelled sample has a value for "${attr}"` });
      continue;
    }
    const bins = Int32Array.from(keep, (i) => column.codes[i] as number);
    if (bins.every((b) => b === bins[0])) {
      findings.push({ feature, kind: 'attribute', skipped: `every labelled sample has the same "${attr}": it cannot tell classes apart` });
      continue;
    }
    const advice = `rebalance so that every class has samples of every "${attr}" value (see the class × group counts)`;
    perClass(
      {
        feature,
        kind: 'attribute',
        type: 'categorical',
        codes: bins,
        names: column.values.map((v) => ({ bin: `${attr} = ${v}`, short: v })),
        words: { label: `attribute "${attr}"`, advice },
      },
      keep,
    );
    findings.push(
      score(
        {
          feature,
          kind: 'attribute',
          label: `attribute "${attr}"`,
          advice,
          bins,
          classes: Int32Array.from(keep, (i) => input.labels[i] as number),
          binName: (b) => `${attr} = ${column.values[b] ?? String(b)}`,
        },
        input.classes,
        root.fork(feature),
        permutations,
      ),
    );
  }

  return {
    findings,
    flagged: findings.filter((f): f is ShortcutScore => f.skipped === undefined && f.flagged).map((f) => f.feature),
    rule: SHORTCUT_RULE,
    classFindings,
    classRule: CLASS_RULE,
    seed: input.seed,
    permutations,
  };
}
