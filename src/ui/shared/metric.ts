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
