/**
 * Activation ranges for post-training quantization, from a representative set run
 * through the float graph. Three ways to choose a tensor's range:
 *
 * - 'minmax': the observed minimum and maximum (TFLite's converter default). Never clips,
 *   but one outlier widens every step.
 * - 'percentile': the 0.01th to 99.99th percentile; outliers clip, the rest gets finer
 *   steps.
 * - 'mse': the clipping range that minimises the expected squared quantization error
 *   over the observed histogram (rounding error Δ²/12 inside the range, squared
 *   distance to the edge outside), searched over shrinking fractions of the min/max
 *   range. Usually the most accurate.
 *
 * Every range includes 0, so zero (padding, ReLU's floor) is exact in int8.
 */
import { tf } from '../compute/register';
import type { CancelToken } from '../jobs/progress';
import { runFloatGraph, type FloatGraph } from './float-graph';
import type { CalibrationMethod } from './spec';

export type Range = [number, number];

/** Histogram resolution for the percentile and MSE searches. */
const HISTOGRAM_BINS = 2048;
const PERCENTILE_LOW = 0.0001;
const PERCENTILE_HIGH = 0.9999;
/** Candidate clipping fractions of the min/max range for the MSE search: 100 %, 99 %, … 20 %. */
const MSE_FRACTIONS = Array.from({ length: 81 }, (_, i) => 1 - i / 100);
const INT8_LEVELS = 255;

interface TensorStats {
  min: number;
  max: number;
  histogram?: Float64Array;
  /** The histogram's fixed range, from the first pass's min and max. */
  lo?: number;
  hi?: number;
}

/** The tensors whose quantization parameters calibration chooses (pool and reshape outputs inherit). */
export function calibratedTensors(graph: FloatGraph): string[] {
  return graph.ops.filter((op) => op.kind !== 'reshape' && op.kind !== 'max-pool2d' && op.kind !== 'average-pool2d').map((op) => op.output);
}

/**
 * Runs the batches through the float graph and returns a range per calibrated tensor.
 * `batches` is called once per pass (the histogram methods need two: min/max, then the
 * histograms over those fixed bounds), and yields NHWC float batches it owns.
 */
export async function calibrate(
  graph: FloatGraph,
  batches: () => AsyncIterable<tf.Tensor4D>,
  method: CalibrationMethod,
  opts: { cancel?: CancelToken; onBatch?: (pass: number) => void } = {},
): Promise<Record<string, Range>> {
  const names = calibratedTensors(graph);
  const stats = new Map<string, TensorStats>(names.map((n) => [n, { min: Infinity, max: -Infinity }]));

  const pass = async (visit: (name: string, values: Float32Array) => void, passIndex: number): Promise<void> => {
    for await (const x of batches()) {
      opts.cancel?.throwIfCancelled();
      const all = runFloatGraph(graph, x);
      x.dispose();
      try {
        for (const name of names) visit(name, (await (all[name] as tf.Tensor).data()) as Float32Array);
      } finally {
        tf.dispose(Object.values(all));
      }
      opts.onBatch?.(passIndex);
    }
  };

  await pass((name, values) => {
    const s = stats.get(name) as TensorStats;
    for (let i = 0; i < values.length; i++) {
      const v = values[i] as number;
      if (v < s.min) s.min = v;
      if (v > s.max) s.max = v;
    }
  }, 0);
  for (const s of stats.values()) {
    if (!Number.isFinite(s.min)) throw new Error('Calibration saw no data: the representative set is empty.');
  }
  if (method !== 'minmax') {
    for (const s of stats.values()) {
      s.lo = Math.min(s.min, 0);
      s.hi = Math.max(s.max, 0);
      s.histogram = new Float64Array(HISTOGRAM_BINS);
    }
    await pass((name, values) => {
      const s = stats.get(name) as TensorStats;
      const lo = s.lo as number;
      const width = ((s.hi as number) - lo) / HISTOGRAM_BINS || 1;
      const h = s.histogram as Float64Array;
      for (let i = 0; i < values.length; i++) {
        const bin = Math.min(HISTOGRAM_BINS - 1, Math.max(0, Math.floor(((values[i] as number) - lo) / width)));
        h[bin] = (h[bin] as number) + 1;
      }
    }, 1);
  }
  const ranges: Record<string, Range> = {};
  for (const [name, s] of stats) {
    ranges[name] = method === 'minmax' ? includeZero([s.min, s.max]) : method === 'percentile' ? percentileRange(s) : mseRange(s);
  }
  return ranges;
}

function includeZero([lo, hi]: Range): Range {
  return [Math.min(lo, 0), Math.max(hi, 0)];
}

function binCentre(s: TensorStats, bin: number): number {
  const lo = s.lo as number;
  return lo + ((bin + 0.5) * ((s.hi as number) - lo)) / HISTOGRAM_BINS;
}

function percentileRange(s: TensorStats): Range {
  const h = s.histogram as Float64Array;
  const total = h.reduce((a, b) => a + b, 0);
  let acc = 0;
  let low = s.min;
  let high = s.max;
  let lowSet = false;
  for (let b = 0; b < HISTOGRAM_BINS; b++) {
    acc += h[b] as number;
    if (!lowSet && acc >= PERCENTILE_LOW * total) {
      low = binCentre(s, b);
      lowSet = true;
    }
    if (acc >= PERCENTILE_HIGH * total) {
      high = binCentre(s, b);
      break;
    }
  }
  return includeZero([Math.max(low, s.min), Math.min(high, s.max)]);
}

/** Expected squared error of quantizing the histogram's values to 255 levels over [lo, hi]. */
export function quantizationMse(centres: Float64Array, counts: Float64Array, lo: number, hi: number): number {
  const step = (hi - lo) / INT8_LEVELS;
  let err = 0;
  for (let b = 0; b < centres.length; b++) {
    const n = counts[b] as number;
    if (n === 0) continue;
    const v = centres[b] as number;
    if (v < lo) err += n * (lo - v) ** 2;
    else if (v > hi) err += n * (v - hi) ** 2;
    else err += (n * step * step) / 12;
  }
  return err;
}

function mseRange(s: TensorStats): Range {
  const h = s.histogram as Float64Array;
  const centres = Float64Array.from({ length: HISTOGRAM_BINS }, (_, b) => binCentre(s, b));
  const [minLo, maxHi] = includeZero([s.min, s.max]);
  let best: Range = [minLo, maxHi];
  let bestErr = Infinity;
  for (const f of MSE_FRACTIONS) {
    const candidate: Range = [minLo * f, maxHi * f];
    if (candidate[1] - candidate[0] <= 0) continue;
    const err = quantizationMse(centres, h, candidate[0], candidate[1]);
    if (err < bestErr) {
      bestErr = err;
      best = candidate;
    }
  }
  return best;
}
