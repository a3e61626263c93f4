/**
 * Turning a stream of training metrics into chart series: an x position in epochs shared
 * by per-step and per-epoch points, TensorBoard's debiased exponential smoothing, and
 * thinning to a bounded number of drawn points. Pure functions.
 */
import type { EpochMetrics, StepMetrics } from '../../lib/train/train';

export interface Point {
  /** Position in epochs: 1.5 is half-way through the second epoch. */
  x: number;
  y: number;
}

/** One step as the charts keep it: raw values and their smoothed running versions. */
export interface StepPoint {
  x: number;
  loss: number;
  accuracy: number;
  smoothLoss: number;
  smoothAccuracy: number;
}

/**
 * Weight of the past in the running average. Per-step loss on a batch of 64 is noisy
 * enough that the trend hides under it; 0.9 averages about the last ten steps.
 */
export const SMOOTHING_WEIGHT = 0.9;
/**
 * Most points one polyline draws. An SVG with tens of thousands of vertices re-laid out
 * at every step would make the page stutter during long runs; 600 is beyond what a
 * chart a few hundred pixels wide can show anyway.
 */
export const MAX_DRAWN_POINTS = 600;

/** Where a step ends on the epoch axis (`step` is global and 0-based; every epoch has the same number of steps). */
export function stepX(m: Pick<StepMetrics, 'step' | 'totalSteps'>, epochs: number): number {
  return ((m.step + 1) * epochs) / Math.max(1, m.totalSteps);
}

/** Where an epoch's summary sits: at its end (epoch is 0-based). */
export function epochX(m: Pick<EpochMetrics, 'epoch'>): number {
  return m.epoch + 1;
}

/**
 * Exponential moving average with TensorBoard's debiasing: dividing by 1 − wⁿ keeps the
 * first values from being pulled toward the zero the average starts from. Non-finite
 * values (a diverged loss) are skipped so one NaN does not blank the rest of the curve.
 */
export class Smoother {
  readonly #weight: number;
  #average = 0;
  #count = 0;

  constructor(weight = SMOOTHING_WEIGHT) {
    this.#weight = weight;
  }

  push(value: number): number {
    if (!Number.isFinite(value)) return this.#count === 0 ? value : this.#current();
    this.#count += 1;
    this.#average = this.#weight * this.#average + (1 - this.#weight) * value;
    return this.#current();
  }

  #current(): number {
    return this.#average / (1 - this.#weight ** this.#count);
  }
}

/**
 * At most `max` points, evenly strided, always keeping the last one so the curve's end
 * matches the numbers shown beside it.
 */
export function thin<T>(points: readonly T[], max = MAX_DRAWN_POINTS): T[] {
  if (points.length <= max) return points.slice();
  // One slot is kept for the last point.
  const stride = Math.ceil(points.length / Math.max(1, max - 1));
  const out: T[] = [];
  for (let i = 0; i < points.length; i += stride) out.push(points[i] as T);
  const last = points[points.length - 1] as T;
  if (out[out.length - 1] !== last) out.push(last);
  return out;
}

/** Finite points only: a NaN vertex would make the browser drop the whole polyline. */
export function finitePoints(points: readonly Point[]): Point[] {
  return points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
}
