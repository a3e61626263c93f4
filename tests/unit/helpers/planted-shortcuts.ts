/**
 * A family of planted shortcuts on real MNIST, for the detector's tests: a nuisance that
 * spares some classes ("night images almost never show a bicycle"), planted either as a
 * group attribute (day/night) or in the pixels (a dimmed copy of the image, whose image
 * statistics are computed as the app computes them).
 *
 * The plant: every sample of a class outside the target set T is "night" with probability
 * `rate`; a sample of T with probability rate · (1 − strength). Strength 0 plants nothing,
 * strength 1 makes T never night. `keep` < 1 makes T rare (that share of its samples kept).
 */
import { computeImageStats } from '../../../src/lib/analysis/image-stats';
import { createStatColumns, detectShortcuts, setSampleStats, type ShortcutReport } from '../../../src/lib/analysis/shortcuts';
import { Rng } from '../../../src/lib/data/rng';
import { buildSampleDataset, type MnistArrays } from '../../../src/lib/data/samples/catalog';
import type { ImageStats } from '../../../src/lib/analysis/image-stats';

/** Pixels are multiplied by this for a "night" image. */
export const NIGHT_GAIN = 0.35;

export interface PlantKind {
  id: string;
  /** How the nuisance is planted. */
  via: 'attribute' | 'pixels';
  /** Target classes (indices into `classes`). */
  target: number[];
  /** Classes kept (all when absent); a binary problem keeps two. */
  classes?: number[];
  /** Night rate of the classes outside T. */
  rate: number;
}

export const PLANT_KINDS: PlantKind[] = [
  { id: 'attribute, one class', via: 'attribute', target: [3], rate: 0.3 },
  { id: 'attribute, half of the classes', via: 'attribute', target: [5, 6, 7, 8, 9], rate: 0.3 },
  { id: 'attribute, binary label', via: 'attribute', target: [1], classes: [3, 8], rate: 0.3 },
  { id: 'brightness, one class', via: 'pixels', target: [3], rate: 0.4 },
  { id: 'brightness, half of the classes', via: 'pixels', target: [5, 6, 7, 8, 9], rate: 0.6 },
];

export const PLANT_STRENGTHS = [0, 0.25, 0.5, 0.75, 0.9, 1];
export const PLANT_KEEPS = [1, 0.1];

/** Day and night statistics of every sample of a MNIST subset, computed once. */
export interface PlantBase {
  labels: Int16Array;
  classes: string[];
  day: ImageStats[];
  night: ImageStats[];
}

export function plantBase(mnist: MnistArrays, perSplit: number): PlantBase {
  const built = buildSampleDataset('mnist', mnist, { maxPerSplit: perSplit });
  const { width, height, channels } = built.project.input;
  const labels: number[] = [];
  const day: ImageStats[] = [];
  const night: ImageStats[] = [];
  for (const s of built.samples) {
    labels.push(built.project.classes.indexOf(s.label));
    day.push(computeImageStats(s.pixelsHwc, width, height, channels));
    night.push(computeImageStats(Uint8Array.from(s.pixelsHwc, (x) => Math.round(x * NIGHT_GAIN)), width, height, channels));
  }
  return { labels: Int16Array.from(labels), classes: [...built.project.classes], day, night };
}

export interface PlantOutcome {
  report: ShortcutReport;
  /** Whether the detector flagged T on the planted feature: a group within T, or at least half of T's classes. */
  detected: boolean;
  /** Per-class or group flags on the planted feature that name a class outside T. */
  strays: number;
  feature: string;
}

export function plant(base: PlantBase, kind: PlantKind, strength: number, keep: number, seed: number): PlantOutcome {
  const rng = new Rng(seed).fork(kind.id);
  const classIndex = kind.classes ? new Map(kind.classes.map((c, i) => [c, i])) : null;
  const classes = kind.classes ? kind.classes.map((c) => base.classes[c] as string) : base.classes;
  const target = new Set(kind.target);
  const labels: number[] = [];
  const night: boolean[] = [];
  const rows: number[] = [];
  for (let i = 0; i < base.labels.length; i++) {
    const original = base.labels[i] as number;
    const y = classIndex ? classIndex.get(original) : original;
    if (y === undefined) continue;
    const inT = target.has(y);
    if (inT && rng.next() >= keep) continue;
    labels.push(y);
    night.push(rng.next() < kind.rate * (inT ? 1 - strength : 1));
    rows.push(i);
  }
  const n = labels.length;
  let report: ShortcutReport;
  let feature: string;
  if (kind.via === 'attribute') {
    feature = 'attribute:light';
    report = detectShortcuts({
      labels: Int16Array.from(labels),
      classes,
      stats: null,
      attributes: { light: { values: ['day', 'night'], codes: Int16Array.from(night, (x) => (x ? 1 : 0)) } },
      seed: 2024,
    });
  } else {
    feature = 'brightness';
    const stats = createStatColumns(n);
    rows.forEach((row, k) => setSampleStats(stats, k, (night[k] ? base.night : base.day)[row] as ImageStats, null));
    report = detectShortcuts({ labels: Int16Array.from(labels), classes, stats, attributes: {}, seed: 2024 });
  }
  const flagged = (report.classFindings ?? []).filter((f) => f.feature === feature && f.flagged);
  const group = flagged.some((f) => f.scope === 'group' && f.classes.every((c) => target.has(c)));
  const named = kind.target.filter((t) => flagged.some((f) => f.scope === 'class' && f.classes[0] === t)).length;
  const strays = flagged.filter((f) => f.classes.some((c) => !target.has(c))).length;
  // In a binary problem "T is absent from night" and "the other class fills the night" are one finding.
  const binary = classes.length === 2 && flagged.length > 0;
  return { report, detected: group || named * 2 >= kind.target.length || binary, strays, feature };
}
