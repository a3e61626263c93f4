/**
 * What the Export page computes from a report before drawing it: pure functions, tested
 * in Node, so the components only lay numbers out.
 *
 * The job's defaults and bounds come from src/lib/export/spec.ts, which imports no tfjs;
 * everything else from src/lib is imported as a type (export-job.ts and calibrate.ts pull
 * in tfjs, which must stay out of the main thread's bundle).
 */
import type { GroupStats, Metric, ModelBiasReport } from '../../lib/analysis/model-bias';
import type { SliceResult, SliceStatus } from '../../lib/evaluate/slices';
import type { Board } from '../../lib/export/boards';
import type { ExportReport, ExportRequest, GroupComparisonReport, SplitComparison } from '../../lib/export/export-job';
import {
  BUNDLE_FILE_NAME,
  CALIBRATION_METHODS,
  DEFAULT_BOARD_ID,
  DEFAULT_CALIBRATION_SAMPLES,
  DEFAULT_MAX_EVAL_PER_SPLIT,
  GROUP_DROP_FLAG_POINTS,
  MAX_CALIBRATION_SAMPLES,
  type CalibrationMethod,
} from '../../lib/export/spec';
import { formatPercent, NO_VALUE } from '../shared/metric';
// Plain TypeScript without tfjs (scripts/ui-lib-imports.mjs).
import { modelBiasEvidence, quantizationGap, type DisparateImpactEvidence, type GroupCount, type QuantizationGap } from '../../lib/analysis/group-gaps';

/** What each calibration method does, in the form's words. */
const CALIBRATION_METHOD_TEXT: Record<CalibrationMethod, { label: string; hint: string }> = {
  minmax: { label: 'Min / max', hint: 'The observed range. Never clips; one outlier widens every step.' },
  percentile: { label: 'Percentile (0.01–99.99)', hint: 'Clips outliers so the rest gets finer steps.' },
  mse: { label: 'Least squared error', hint: 'The clipping range with the least expected error. Usually the most accurate.' },
};
/** Every method calibrate.ts implements, in its order, with what each one does. */
export const CALIBRATION_METHOD_OPTIONS: readonly { id: CalibrationMethod; label: string; hint: string }[] = CALIBRATION_METHODS.map((id) => ({
  id,
  ...CALIBRATION_METHOD_TEXT[id],
}));
const POINTS_PER_UNIT = 100;
/** Tenths of a point: an accuracy change smaller than that is noise at these sample sizes. */
const POINT_DIGITS = 1;
/** Characters of a sha256 shown inline; the full hash is in the tooltip. */
export const SHA_SHORT_CHARS = 12;
/** Typographic minus, so "−1.2" and "+1.2" line up in tabular figures. */
const MINUS = '\u2212';

export type EvalCap = 'capped' | 'all';
export const EVAL_CAP_OPTIONS: readonly { id: EvalCap; label: string }[] = [
  { id: 'capped', label: `${DEFAULT_MAX_EVAL_PER_SPLIT.toLocaleString('en-US')} per split` },
  { id: 'all', label: 'All samples' },
];

export function defaultBoardId(boards: readonly Board[]): string {
  return boards.find((b) => b.id === DEFAULT_BOARD_ID)?.id ?? boards[0]?.id ?? '';
}

/** The form as the page holds it; numbers come from number inputs, which bind null when emptied. */
export interface ExportForm {
  modelId: string;
  method: CalibrationMethod;
  samples: number | null;
  seed: number | null;
  evalCap: EvalCap;
  boardId: string;
  favourableClass: number;
}

export type ExportSettings = Omit<ExportRequest, 'exportId'>;
export type ExportFormField = 'modelId' | 'samples' | 'seed' | 'boardId';

export type FormCheck = { ok: true; settings: ExportSettings } | { ok: false; errors: Partial<Record<ExportFormField, string>> };

/** The request the form describes, or what to fix, field by field. */
export function checkExportForm(form: ExportForm): FormCheck {
  const errors: Partial<Record<ExportFormField, string>> = {};
  if (form.modelId === '') errors.modelId = 'Pick a trained model.';
  const samples = form.samples;
  if (typeof samples !== 'number' || !Number.isInteger(samples) || samples < 1 || samples > MAX_CALIBRATION_SAMPLES) {
    errors.samples = `Calibration samples: a whole number from 1 to ${MAX_CALIBRATION_SAMPLES.toLocaleString('en-US')} (${DEFAULT_CALIBRATION_SAMPLES} is a good default).`;
  }
  const seed = form.seed;
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed) || seed < 0) errors.seed = 'Seed: a whole number, 0 or more.';
  if (form.boardId === '') errors.boardId = 'Pick a board.';
  if (Object.keys(errors).length > 0 || samples === null || seed === null) return { ok: false, errors };
  return {
    ok: true,
    settings: {
      modelId: form.modelId,
      calibration: { method: form.method, samples, seed },
      maxEvalPerSplit: form.evalCap === 'all' ? null : DEFAULT_MAX_EVAL_PER_SPLIT,
      boardId: form.boardId,
      favourableClass: form.favourableClass,
    },
  };
}

/** "27.4 %": the int8 file as a share of the float model. */
export function formatRatioPercent(ratio: number): string {
  return Number.isFinite(ratio) ? `${(ratio * POINTS_PER_UNIT).toFixed(1)} %` : NO_VALUE;
}

/** "98.2%" for an accuracy in 0..1, as MetricValue writes one; NO_VALUE for null (no samples of that class). */
export function formatAccuracy(value: number | null | undefined): string {
  return value === null || value === undefined || !Number.isFinite(value) ? NO_VALUE : formatPercent({ value });
}

/** Change from `before` to `after` (both 0..1) in percentage points, or null when either is missing. */
export function deltaPoints(before: number | null | undefined, after: number | null | undefined): number | null {
  if (before === null || before === undefined || after === null || after === undefined) return null;
  if (!Number.isFinite(before) || !Number.isFinite(after)) return null;
  return (after - before) * POINTS_PER_UNIT;
}

/** "−1.2 pts", "+0.4 pts", "±0.0 pts" (a change that rounds to zero has no sign); NO_VALUE for null. */
export function formatDeltaPoints(points: number | null): string {
  if (points === null) return NO_VALUE;
  const rounded = Number(points.toFixed(POINT_DIGITS));
  const magnitude = Math.abs(rounded).toFixed(POINT_DIGITS);
  if (rounded === 0) return `±${magnitude} pts`;
  return `${rounded < 0 ? MINUS : '+'}${magnitude} pts`;
}

/** How a change reads: a drop past the group-flag threshold is bad, a smaller drop a warning. */
export function deltaTone(points: number | null): 'bad' | 'warn' | 'neutral' {
  if (points === null) return 'neutral';
  // Judged as shown: "−1.0 pts" must not read as bad because it was −1.0000000001 before rounding.
  const shown = Number(points.toFixed(POINT_DIGITS));
  if (shown < -GROUP_DROP_FLAG_POINTS) return 'bad';
  if (shown < 0) return 'warn';
  return 'neutral';
}

/** int8 minus float for a Metric, keeping the first reason when either side has none. */
export function metricChange(before: Metric, after: Metric): Metric {
  if (before.value === undefined) return { value: undefined, reason: `float: ${before.reason}` };
  if (after.value === undefined) return { value: undefined, reason: `int8: ${after.reason}` };
  return { value: after.value - before.value };
}

/** "+0.012", "−0.300", "±0.000": a signed change of a rate or a ratio. */
export function formatSignedMetric(m: Metric, digits = 3): string {
  if (m.value === undefined || !Number.isFinite(m.value)) return NO_VALUE;
  const rounded = Number(m.value.toFixed(digits));
  const magnitude = Math.abs(rounded).toFixed(digits);
  if (rounded === 0) return `±${magnitude}`;
  return `${rounded < 0 ? MINUS : '+'}${magnitude}`;
}

/** "3.1e-6", "0": the numerical checks are tiny differences, best read by their exponent. */
export function formatAbsDiff(value: number): string {
  if (!Number.isFinite(value)) return NO_VALUE;
  if (value === 0) return '0';
  return value < 0.01 ? value.toExponential(1) : value.toFixed(3);
}

/** The split the group metrics and data unit tests were computed on: test when it was evaluated, else val. */
export function reportSplit(report: Pick<ExportReport, 'splits'>): SplitComparison | null {
  return report.splits.find((s) => s.split === 'test') ?? report.splits.find((s) => s.split === 'val') ?? null;
}

export interface GroupRow {
  group: string;
  privileged: boolean;
  n: number;
  float: GroupStats;
  /** Null when the int8 report lacks the group (never expected: both use the same samples). */
  int8: GroupStats | null;
  /** int8 minus float accuracy, in points. */
  accuracyDeltaPoints: number | null;
  flagged: boolean;
}

/** One row per group, float and int8 side by side, in the float report's order. */
export function groupRows(g: GroupComparisonReport): GroupRow[] {
  return g.float.groups.map((f) => {
    const q = g.int8.groups.find((x) => x.group === f.group) ?? null;
    return {
      group: f.group,
      privileged: f.privileged,
      n: f.n,
      float: f,
      int8: q,
      accuracyDeltaPoints: q ? deltaPoints(f.accuracy.value, q.accuracy.value) : null,
      flagged: g.flagged.includes(f.group),
    };
  });
}

/** "f −3.2 pts; g −2.1 pts": the flagged groups and their accuracy change, for the note beside the table. */
export function flaggedSummary(rows: readonly GroupRow[]): string {
  return rows
    .filter((r) => r.flagged)
    .map((r) => `${r.group} ${formatDeltaPoints(r.accuracyDeltaPoints)}`)
    .join('; ');
}

export type ComparisonKey = 'statisticalParityDifference' | 'disparateImpact' | 'equalOpportunityDifference' | 'averageOddsDifference';
export const COMPARISON_METRICS: readonly { key: ComparisonKey; short: string; title: string }[] = [
  { key: 'statisticalParityDifference', short: 'SPD', title: 'Statistical parity difference: selection rate, unprivileged − privileged' },
  { key: 'disparateImpact', short: 'DI', title: 'Disparate impact: selection rate, unprivileged ÷ privileged' },
  { key: 'equalOpportunityDifference', short: 'EOD', title: 'Equal opportunity difference: TPR, unprivileged − privileged' },
  { key: 'averageOddsDifference', short: 'AOD', title: 'Average odds difference: mean of the FPR and TPR differences' },
];

export interface ComparisonCell {
  float: Metric;
  int8: Metric;
  change: Metric;
  /** Disparate impact only: outside the four-fifths band, per model. */
  floatFlag: boolean;
  int8Flag: boolean;
  /** Disparate impact only: the counts, interval and support of each model's ratio. */
  floatEvidence?: DisparateImpactEvidence;
  int8Evidence?: DisparateImpactEvidence;
}

export interface ComparisonRow {
  unprivileged: string;
  pooled: boolean;
  cells: Record<ComparisonKey, ComparisonCell>;
}

type Comparison = ModelBiasReport['comparisons'][number];

function comparisonCells(
  f: Comparison,
  q: Comparison | undefined,
  evidence: { float?: DisparateImpactEvidence; int8?: DisparateImpactEvidence } = {},
): Record<ComparisonKey, ComparisonCell> {
  const missing: Metric = { value: undefined, reason: 'not in the int8 report' };
  const cell = (key: ComparisonKey): ComparisonCell => {
    const after = q ? q[key] : missing;
    const out: ComparisonCell = {
      float: f[key],
      int8: after,
      change: metricChange(f[key], after),
      floatFlag: key === 'disparateImpact' && f.disparateImpact.flag !== undefined,
      int8Flag: key === 'disparateImpact' && q?.disparateImpact.flag !== undefined,
    };
    if (key === 'disparateImpact') {
      if (evidence.float) out.floatEvidence = evidence.float;
      if (evidence.int8) out.int8Evidence = evidence.int8;
    }
    return out;
  };
  return {
    statisticalParityDifference: cell('statisticalParityDifference'),
    disparateImpact: cell('disparateImpact'),
    equalOpportunityDifference: cell('equalOpportunityDifference'),
    averageOddsDifference: cell('averageOddsDifference'),
  };
}

/** Each unprivileged group against the privileged one, float and int8; the pooled row last when there are several. */
export function comparisonRows(g: GroupComparisonReport): ComparisonRow[] {
  const fe = modelBiasEvidence(g.float);
  const qe = modelBiasEvidence(g.int8);
  const rows: ComparisonRow[] = g.float.comparisons.map((f, i) => {
    const k = g.int8.comparisons.findIndex((q) => q.unprivileged === f.unprivileged);
    return {
      unprivileged: f.unprivileged,
      pooled: false,
      cells: comparisonCells(f, g.int8.comparisons[k], { float: fe.comparisons[i], int8: k >= 0 ? qe.comparisons[k] : undefined }),
    };
  });
  if (g.float.comparisons.length > 1) {
    rows.push({
      unprivileged: g.float.pooledComparison.unprivileged,
      pooled: true,
      cells: comparisonCells(g.float.pooledComparison, g.int8.pooledComparison, { float: fe.pooled, int8: qe.pooled }),
    });
  }
  return rows;
}

/** Four-fifths flags, float and int8 together, that the data back and that they cannot. */
export function flagSupportCounts(rows: readonly ComparisonRow[]): { supported: number; unsupported: number } {
  let supported = 0;
  let unsupported = 0;
  for (const r of rows) {
    for (const e of [r.cells.disparateImpact.floatEvidence, r.cells.disparateImpact.int8Evidence]) {
      if (e?.support === 'supported') supported++;
      else if (e?.support === 'unsupported') unsupported++;
    }
  }
  return { supported, unsupported };
}

/** A model's correct predictions per group, as group-gaps.ts counts them. */
function accuracyCountsOf(report: ModelBiasReport): GroupCount[] {
  return report.groups.map((g) => ({ group: g.group, n: g.n, hits: g.correct }));
}

/** Float against int8 for one attribute: each model's worst-off group, and the group int8 hurts most. */
export function quantizationGapOf(g: GroupComparisonReport): QuantizationGap {
  return quantizationGap(accuracyCountsOf(g.float), accuracyCountsOf(g.int8));
}

export interface SliceRow {
  sliceId: string;
  name: string;
  n: number;
  minAccuracy: number;
  float: Metric;
  int8: Metric;
  /** The int8 model's status: the one that blocks the download. */
  status: SliceStatus;
  floatStatus: SliceStatus | null;
}

/** Data unit tests, float and int8 side by side, in the int8 results' order. */
export function sliceRows(slices: { float: SliceResult[]; int8: SliceResult[] }): SliceRow[] {
  return slices.int8.map((q) => {
    const f = slices.float.find((x) => x.sliceId === q.sliceId);
    return {
      sliceId: q.sliceId,
      name: q.name,
      n: q.n,
      minAccuracy: q.minAccuracy,
      float: f?.accuracy ?? { value: undefined, reason: 'not run on the float model' },
      int8: q.accuracy,
      status: q.status,
      floatStatus: f?.status ?? null,
    };
  });
}

/** Downloads are allowed when nothing blocks them, or after the user's recorded override. */
export function downloadsAllowed(report: Pick<ExportReport, 'blocked' | 'override'>): boolean {
  return report.blocked.length === 0 || report.override !== null;
}

/** "download-tfjs_model.json": a data-testid a selector can hold ('/' is not welcome in one). */
export function downloadTestId(name: string): string {
  return `download-${name.replace(/\//g, '_')}`;
}

/**
 * The name the browser saves a file under: its last path segment, because a browser
 * download cannot create folders and tfjs/model.json names its weights "weights.bin".
 */
export function downloadFileName(name: string): string {
  return name.slice(name.lastIndexOf('/') + 1);
}

export function shortSha(sha256: string): string {
  return sha256.slice(0, SHA_SHORT_CHARS);
}

const MIME_BY_EXTENSION: Record<string, string> = {
  json: 'application/json',
  txt: 'text/plain',
  zip: 'application/zip',
  h: 'text/x-c',
  cc: 'text/x-c',
};

export function mimeTypeOf(name: string): string {
  const dot = name.lastIndexOf('.');
  return (dot >= 0 ? MIME_BY_EXTENSION[name.slice(dot + 1).toLowerCase()] : undefined) ?? 'application/octet-stream';
}

/** One entry of report.files (named through the report, so a rename there does not break this file). */
export type ExportFileInfo = ExportReport['files'][number];

export interface DownloadRow extends ExportFileInfo {
  testId: string;
  fileName: string;
  /** The all-in-one zip. */
  bundle: boolean;
}

/** The files as the page lists them: the all-in-one zip first, the rest in the report's order. */
export function downloadRows(files: readonly ExportFileInfo[]): DownloadRow[] {
  const rows = files.map((f) => ({ ...f, testId: downloadTestId(f.name), fileName: downloadFileName(f.name), bundle: f.name === BUNDLE_FILE_NAME }));
  return [...rows.filter((r) => r.bundle), ...rows.filter((r) => !r.bundle)];
}

export interface ClassBar {
  cls: number;
  name: string;
  float: number | null;
  int8: number | null;
  deltaPoints: number | null;
}

/** Per-class accuracy, float and int8, for the grouped bar chart. */
export function classBars(classes: readonly string[], split: SplitComparison): ClassBar[] {
  return classes.map((name, cls) => {
    const f = split.float.perClassAccuracy[cls] ?? null;
    const q = split.int8.perClassAccuracy[cls] ?? null;
    return { cls, name, float: f, int8: q, deltaPoints: deltaPoints(f, q) };
  });
}

/** A board's fit, for the report's board row: the one chosen at export time first. */
export function selectedBoard(report: Pick<ExportReport, 'boards' | 'boardId'>): ExportReport['boards'][number] | null {
  return report.boards.find((b) => b.id === report.boardId) ?? null;
}

/** Width of a usage bar, 0..100 (%); over 1 shows full, the label says by how much. */
export function barPercent(fraction: number): number {
  if (!Number.isFinite(fraction) || fraction <= 0) return 0;
  return Math.min(100, fraction * POINTS_PER_UNIT);
}
