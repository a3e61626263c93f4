/**
 * How the pages write a metric: one with no value shows a dash and keeps
 * its reason for the tooltip, so NaN never reaches the screen.
 */
import type { Metric } from '../../lib/analysis/model-bias';

/** Shown in place of a metric that has no value. */
export const NO_VALUE = '—';
/** Rates and differences in [−1, 1] read well at three decimals; more is noise at these sample sizes. */
export const METRIC_DIGITS = 3;

/** "0.812", or NO_VALUE for an undefined or non-finite metric. */
export function formatMetric(m: Metric, digits = METRIC_DIGITS): string {
  return m.value !== undefined && Number.isFinite(m.value) ? m.value.toFixed(digits) : NO_VALUE;
}

/** "81.2%", or NO_VALUE. */
export function formatPercent(m: Metric, digits = 1): string {
  return m.value !== undefined && Number.isFinite(m.value) ? `${(m.value * 100).toFixed(digits)}%` : NO_VALUE;
}

/** Why a metric has no value; a non-finite number (never expected) is named as such. */
export function metricReason(m: Metric): string | undefined {
  if (m.value === undefined) return m.reason;
  return Number.isFinite(m.value) ? undefined : 'not a finite number';
}

const MINUS = '\u2212';
/** Rates shown in percentage points: one decimal, as accuracy is shown. */
const POINTS_DIGITS = 1;

function signedPoints(fraction: number): string {
  const rounded = Number((fraction * 100).toFixed(POINTS_DIGITS));
  const magnitude = Math.abs(rounded).toFixed(POINTS_DIGITS);
  if (rounded === 0) return `±${magnitude}`;
  return `${rounded < 0 ? MINUS : '+'}${magnitude}`;
}

/** 0.124 → "+12.4 points", −0.031 → "−3.1 points": a difference of two rates. */
export function formatPoints(fraction: number, signed = true): string {
  if (!Number.isFinite(fraction)) return NO_VALUE;
  return `${signed ? signedPoints(fraction) : (Math.abs(fraction) * 100).toFixed(POINTS_DIGITS)} points`;
}

/** "−3.1 to +12.4 points": an interval of a difference of two rates. */
export function formatPointsInterval(iv: { low: number; high: number }): string {
  if (!Number.isFinite(iv.low) || !Number.isFinite(iv.high)) return NO_VALUE;
  return `${signedPoints(iv.low)} to ${signedPoints(iv.high)} points`;
}

/** "62.0% (31/50)": a rate with the counts it comes from. */
export function formatRateOf(hits: number, n: number): string {
  return n === 0 ? NO_VALUE : `${formatPercent({ value: hits / n })} (${hits}/${n})`;
}

/** "0.35 to 1.03": an interval of a ratio, to two decimals (the band edges 0.8 and 1.25 need no more). */
export function formatRatioInterval(iv: { low: number; high: number } | null): string {
  if (iv === null || !Number.isFinite(iv.low) || !Number.isFinite(iv.high)) return NO_VALUE;
  const f = (x: number): string => (x >= 100 ? x.toFixed(0) : x.toFixed(2));
  return `${f(iv.low)} to ${f(iv.high)}`;
}

/** "p = 0.02", "p = 0.008", "p < 0.001", "p = 1": a p-value, to the precision it deserves. */
export function formatP(p: number): string {
  if (!Number.isFinite(p)) return NO_VALUE;
  if (p >= 1) return 'p = 1';
  if (p < 0.001) return 'p < 0.001';
  return `p = ${p < 0.01 ? p.toFixed(3) : p.toFixed(2)}`;
}
