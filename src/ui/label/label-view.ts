/**
 * What the Label page shows, computed from the stored rounds: the pick form's checks,
 * the history rows and the accuracy-against-labels chart data. Pure, tested in Node.
 */
// A constant-only module (no tfjs), so it may be imported by value.
import { SELECT_METHODS, type LabelRound, type SelectMethod } from '../../lib/select/types';

/** Each method with a one-line explanation, in SELECT_METHODS order. */
export const METHOD_OPTIONS: readonly { id: SelectMethod; label: string; hint: string }[] = SELECT_METHODS.map((id) => {
  const copy: Record<SelectMethod, { label: string; hint: string }> = {
    ours: {
      label: 'Fisher kernel (ours)',
      hint: 'Images most like the validation images the model gets wrong, by features and gradients; best on biased data.',
    },
    'ours-hadamard': {
      label: 'Fisher kernel, product',
      hint: "The same, with the paper's formula: feature and gradient similarity multiplied instead of added.",
    },
    rz: { label: 'Feature similarity (R_z)', hint: 'Like ours with features only, no gradients: faster, usually a little worse.' },
    random: { label: 'Random', hint: 'A seeded uniform sample of the pool: the baseline to beat.' },
    entropy: { label: 'Entropy', hint: 'The images whose predicted class is most uncertain.' },
    varr: {
      label: 'MC-dropout variation',
      hint: 'The images whose prediction changes most across 128 dropout passes: slow on a large pool.',
    },
  };
  return { id, ...copy[id] };
});

export const DEFAULT_LABEL_METHOD: SelectMethod = 'ours';
/** The paper's per-iteration budget b on MNIST. */
export const DEFAULT_LABEL_BUDGET = 125;
export const DEFAULT_LABEL_SEED = 1234;
/** Warm-start retraining needs few epochs: the previous model's weights are the start. */
export const DEFAULT_RETRAIN_EPOCHS = 5;
export const MAX_RETRAIN_EPOCHS = 200;

export function methodLabel(method: SelectMethod): string {
  return METHOD_OPTIONS.find((m) => m.id === method)?.label ?? method;
}

export interface PickForm {
  method: SelectMethod;
  /** Number inputs bind null when emptied. */
  budget: number | null;
  seed: number | null;
}

export type PickField = 'budget' | 'seed';
export type PickCheck =
  | { ok: true; req: { method: SelectMethod; budget: number; seed: number } }
  | { ok: false; errors: Partial<Record<PickField, string>> };

/** The selection request the form describes, or what to fix, field by field. */
export function checkPickForm(form: PickForm, unlabeledPool: number): PickCheck {
  const errors: Partial<Record<PickField, string>> = {};
  const { budget, seed } = form;
  if (unlabeledPool <= 0) errors.budget = 'Every train image has a label: there is nothing left to pick.';
  else if (typeof budget !== 'number' || !Number.isInteger(budget) || budget < 1 || budget > unlabeledPool) {
    errors.budget = `Images to pick: a whole number from 1 to ${unlabeledPool.toLocaleString('en-US')} (the unlabeled pool).`;
  }
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed) || seed < 0) errors.seed = 'Seed: a whole number, 0 or more.';
  if (Object.keys(errors).length > 0 || budget === null || seed === null) return { ok: false, errors };
  return { ok: true, req: { method: form.method, budget, seed } };
}

/** Epochs for the retrain, or null when the field is not a usable number. */
export function checkEpochs(epochs: number | null): number | null {
  if (typeof epochs !== 'number' || !Number.isInteger(epochs) || epochs < 1 || epochs > MAX_RETRAIN_EPOCHS) return null;
  return epochs;
}

/** Labels the user gave through this page, over all rounds (the open one included). */
export function labelsGiven(rounds: readonly Pick<LabelRound, 'labels'>[]): number {
  return rounds.reduce((n, r) => n + Object.keys(r.labels).length, 0);
}

export interface HistoryRow {
  round: number;
  method: SelectMethod;
  seed: number;
  picks: number;
  labelled: number;
  skipped: number;
  /** Labelled train samples after the round; null while it is open. */
  labelsAfter: number | null;
  accuracy: number | null;
  open: boolean;
}

/** One row per round, oldest first; `openRound` is the round being labeled (its labels come from the page's draft). */
export function historyRows(rounds: readonly LabelRound[], openRound: number | null): HistoryRow[] {
  return rounds.map((r) => {
    const open = r.round === openRound;
    return {
      round: r.round,
      method: r.method,
      seed: r.seed,
      picks: r.picks.length,
      labelled: Object.keys(r.labels).length,
      skipped: r.skipped.length,
      labelsAfter: open ? null : r.labelCount,
      accuracy: open ? null : r.accuracy,
      open,
    };
  });
}

/** "89.8%" for 0..1; an em dash for none. */
export function formatAccuracy(value: number | null | undefined): string {
  return value === null || value === undefined || !Number.isFinite(value) ? '—' : `${(value * 100).toFixed(1)}%`;
}

export interface RoundPoint {
  round: number;
  /** Labelled train samples after the round (the x axis). */
  labels: number;
  /** 0..1 (the y axis). */
  accuracy: number;
}

export interface AccuracyLine {
  id: string;
  label: string;
  /** Class index, or null for the overall line. */
  cls: number | null;
  points: RoundPoint[];
}

/** Retrained rounds with a finite accuracy: the ones a chart can place. */
function retrained(rounds: readonly LabelRound[]): LabelRound[] {
  return rounds.filter((r) => r.retrainedModelId !== null && r.accuracy !== null && Number.isFinite(r.accuracy));
}

/** Overall validation accuracy after each retrained round, by label count. */
export function overallLine(rounds: readonly LabelRound[]): AccuracyLine {
  return {
    id: 'overall',
    label: 'Overall',
    cls: null,
    points: retrained(rounds).map((r) => ({ round: r.round, labels: r.labelCount, accuracy: r.accuracy as number })),
  };
}

/** One line per class; a round without samples of a class (null) leaves a gap in that line only. */
export function perClassLines(rounds: readonly LabelRound[], classes: readonly string[]): AccuracyLine[] {
  const done = retrained(rounds);
  return classes.map((name, cls) => ({
    id: `class-${cls}`,
    label: name,
    cls,
    points: done.flatMap((r) => {
      const a = r.perClassAccuracy[cls];
      return a === null || a === undefined || !Number.isFinite(a) ? [] : [{ round: r.round, labels: r.labelCount, accuracy: a }];
    }),
  }));
}

/**
 * Colours for class lines, readable on the dark theme and apart from each other; past
 * ten classes they repeat with a dash pattern (CLASS_DASHES) so lines stay told apart.
 */
export const CLASS_COLOURS = ['#7fb6e6', '#f0a35e', '#8fc27a', '#f07a6a', '#b99ae0', '#d2b48c', '#f2a6d3', '#c8c8c8', '#e8d06a', '#6fd0d8'] as const;
const CLASS_DASHES = ['', '6 3', '2 3', '8 3 2 3'] as const;

export function classStyle(cls: number): { colour: string; dash: string } {
  const n = CLASS_COLOURS.length;
  return { colour: CLASS_COLOURS[cls % n] ?? CLASS_COLOURS[0], dash: CLASS_DASHES[Math.floor(cls / n) % CLASS_DASHES.length] ?? '' };
}

export interface AxisTicks {
  lo: number;
  hi: number;
  ticks: number[];
}

/** Steps of 1, 2 or 5 × 10^k: tick values people read at a glance. */
function niceStep(span: number, maxTicks: number): number {
  const raw = span / Math.max(1, maxTicks);
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (raw <= m * magnitude) return Math.max(1, m * magnitude);
  return Math.max(1, 10 * magnitude);
}

/**
 * A label-count axis covering [min, max] with whole, round ticks. A project may start
 * with thousands of labels, so the axis starts near the data rather than at 0; one point
 * still gets a span around it.
 */
export function labelAxis(values: readonly number[], maxTicks = 8): AxisTicks {
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return { lo: 0, hi: 1, ticks: [0, 1] };
  let min = Math.min(...finite);
  let max = Math.max(...finite);
  if (min === max) {
    min = Math.max(0, min - 1);
    max = max + 1;
  }
  const step = niceStep(max - min, maxTicks);
  const lo = Math.floor(min / step) * step;
  const hi = Math.ceil(max / step) * step;
  const ticks: number[] = [];
  for (let t = lo; t <= hi + step / 2; t += step) ticks.push(t);
  return { lo, hi, ticks };
}

/** "375 labels: 89.8%; up 4.1 points since 250 labels", for the chart's accessible label. */
export function lineSummary(line: AccuracyLine): string {
  const first = line.points[0];
  const last = line.points.at(-1);
  if (!first || !last) return 'no retrained rounds yet';
  const head = `${last.labels.toLocaleString('en-US')} labels: ${formatAccuracy(last.accuracy)}`;
  if (line.points.length === 1) return head;
  const points = (last.accuracy - first.accuracy) * 100;
  const change = Math.abs(points) < 0.05 ? 'unchanged' : `${points > 0 ? 'up' : 'down'} ${Math.abs(points).toFixed(1)} points`;
  return `${head}; ${change} since ${first.labels.toLocaleString('en-US')} labels`;
}

/**
 * The stored rounds with the open round's answers taken from the page, which may be
 * newer than the last save. The open round is added when the session lists it apart.
 */
export function roundsWithDraft(
  rounds: readonly LabelRound[],
  open: LabelRound | null,
  draft: { round: number; labels: Readonly<Record<number, number>>; skipped: readonly number[] } | null,
): LabelRound[] {
  const all = open && !rounds.some((r) => r.round === open.round) ? [...rounds, open] : [...rounds];
  if (!draft) return all;
  return all.map((r) => (r.round === draft.round && r.round === open?.round ? { ...r, labels: { ...draft.labels }, skipped: [...draft.skipped] } : r));
}
