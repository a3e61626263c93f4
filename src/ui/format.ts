/**
 * Formatting for people: sizes, counts, durations. Pure functions, so the same words
 * show in the status bar, the jobs drawer and the import report.
 */

const MS_PER_S = 1000;
const S_PER_MIN = 60;
const MIN_PER_H = 60;
const BYTES_PER_KIB = 1024;

/** "about 12 s left", "about 3 min left", "about 1 h 5 min left"; null while unknown. */
export function formatEta(etaMs: number | null): string | null {
  if (etaMs === null || !Number.isFinite(etaMs)) return null;
  const s = Math.ceil(etaMs / MS_PER_S);
  if (s <= 1) return 'about 1 s left';
  if (s < S_PER_MIN) return `about ${s} s left`;
  const min = Math.round(s / S_PER_MIN);
  if (min < MIN_PER_H) return `about ${min} min left`;
  const h = Math.floor(min / MIN_PER_H);
  const rest = min % MIN_PER_H;
  return rest === 0 ? `about ${h} h left` : `about ${h} h ${rest} min left`;
}

/** "812 B", "3.4 MB", "1.2 GB" (binary units, labelled the way browsers label them). */
export function formatBytes(bytes: number | null): string {
  if (bytes === null || !Number.isFinite(bytes)) return 'unknown';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= BYTES_PER_KIB && unit < units.length - 1) {
    value /= BYTES_PER_KIB;
    unit += 1;
  }
  const digits = unit === 0 || value >= 100 ? 0 : 1;
  return `${value.toFixed(digits)} ${units[unit]}`;
}

const COUNT_FORMAT = new Intl.NumberFormat('en-US');

/** 70000 → "70,000". */
export function formatCount(n: number): string {
  return COUNT_FORMAT.format(n);
}

/** "12 s", "3 min 4 s": how long a finished job took. */
export function formatDuration(ms: number): string {
  const s = Math.round(ms / MS_PER_S);
  if (s < S_PER_MIN) return `${s} s`;
  const min = Math.floor(s / S_PER_MIN);
  return `${min} min ${s % S_PER_MIN} s`;
}

/** Label shown for the unlabeled bucket ('' in VersionCounts.byLabel, null in filters). */
export const UNLABELED = '(unlabeled)';
/** Label shown for a missing attribute value (null in filters, -1 codes in versions). */
export const MISSING = '(missing)';

/**
 * A sample as the user knows it: "#12", its number within its project (never the global
 * id every record keys it by). "#…" while the number is being read, "(removed)" when
 * the sample no longer exists.
 */
export function formatSampleNumber(number: number | null | undefined): string {
  if (number === undefined) return '#…';
  if (number === null) return '(removed)';
  return `#${number}`;
}
