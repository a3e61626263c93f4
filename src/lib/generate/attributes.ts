/**
 * The attribute coordinates a flow controls, and the difference-of-means baseline it is
 * compared with.
 *
 * A categorical attribute of m values (the digit, the colour) becomes m binary coordinates,
 * one per value, +1 for the sample's value and −1 for the others, each with its share as the
 * balanced prior's p; a request for one value sets its coordinate to +1 and the others to −1.
 *
 * The baseline is the usual latent arithmetic on the same (w, label) pairs: μ_k is the mean
 * latent of the samples whose coordinate k is +1 and μ the mean of all. A sample for a request
 * is a standard-normal latent moved to the requested values' means, w = z + Σ_{k: c_k = +1}
 * (μ_k − μ); an edit from one value to another adds μ_to − μ_from.
 */
import { InvalidInputError } from '../jobs/errors';
import type { AttributeSpec } from './flow';

export interface CategoricalAttribute {
  name: string;
  values: readonly string[];
}

/** Names of the coordinates, "digit = 3", in order: each attribute's values in turn. */
export function coordinateNames(attributes: readonly CategoricalAttribute[]): string[] {
  return attributes.flatMap((a) => a.values.map((v) => `${a.name} = ${v}`));
}

/**
 * ±1 labels [n, K] from each sample's value index per attribute (−1 = unknown: all that
 * attribute's coordinates 0, unlabelled), and the flow's AttributeSpecs with their shares.
 */
export function binaryLabels(
  attributes: readonly CategoricalAttribute[],
  valueIndices: readonly (readonly number[])[],
): { labels: Float32Array; specs: AttributeSpec[] } {
  const k = attributes.reduce((s, a) => s + a.values.length, 0);
  const n = valueIndices.length;
  const labels = new Float32Array(n * k);
  const positives = new Float64Array(k);
  const known = new Float64Array(k);
  valueIndices.forEach((row, i) => {
    if (row.length !== attributes.length) throw new InvalidInputError(`Sample ${i + 1} has ${row.length} attribute values; ${attributes.length} attributes were named.`);
    let offset = 0;
    attributes.forEach((a, j) => {
      const v = row[j] as number;
      if (v >= a.values.length) throw new InvalidInputError(`Sample ${i + 1}: value ${v} is not one of the ${a.values.length} values of "${a.name}".`);
      for (let u = 0; u < a.values.length; u++) {
        if (v < 0) continue;
        labels[i * k + offset + u] = u === v ? 1 : -1;
        known[offset + u] = (known[offset + u] as number) + 1;
        if (u === v) positives[offset + u] = (positives[offset + u] as number) + 1;
      }
      offset += a.values.length;
    });
  });
  // A share of exactly 0 or 1 would give one side a zero-width Gaussian: keep it inside (0, 1).
  const specs: AttributeSpec[] = Array.from({ length: k }, (_, c) => ({
    kind: 'binary',
    positiveShare: Math.min(1 - 1e-3, Math.max(1e-3, (known[c] as number) > 0 ? (positives[c] as number) / (known[c] as number) : 0.5)),
  }));
  return { labels, specs };
}

/** The c row that asks for one value of each attribute (value index, or −1 for "any": 0s). */
export function requestRow(attributes: readonly CategoricalAttribute[], values: readonly number[]): number[] {
  return attributes.flatMap((a, j) => {
    const v = values[j] ?? -1;
    return a.values.map((_, u) => (v < 0 ? 0 : u === v ? 1 : -1));
  });
}

export interface MeanOffsets {
  dim: number;
  /** [K][D]: μ_k − μ, zeros for a coordinate with no positive sample. */
  offsets: Float32Array[];
}

/** Each coordinate's mean latent offset from latents [n, D] and ±1 labels [n, K]. */
export function meanOffsets(latents: Float32Array, labels: Float32Array, dim: number, k: number): MeanOffsets {
  const n = latents.length / dim;
  const all = new Float64Array(dim);
  for (let i = 0; i < n; i++) for (let d = 0; d < dim; d++) all[d] = (all[d] as number) + (latents[i * dim + d] as number) / n;
  const offsets = Array.from({ length: k }, (_, c) => {
    const sum = new Float64Array(dim);
    let count = 0;
    for (let i = 0; i < n; i++) {
      if ((labels[i * k + c] as number) <= 0) continue;
      for (let d = 0; d < dim; d++) sum[d] = (sum[d] as number) + (latents[i * dim + d] as number);
      count++;
    }
    return Float32Array.from(sum, (v, d) => (count === 0 ? 0 : v / count - (all[d] as number)));
  });
  return { dim, offsets };
}

/** Baseline latents for requests (c rows): w = z + Σ_{k: c_k = +1} (μ_k − μ), z the given draws [n, D]. */
export function meanShiftLatents(m: MeanOffsets, requests: readonly (readonly number[])[], z: Float32Array): Float32Array {
  const out = Float32Array.from(z);
  requests.forEach((row, i) => {
    row.forEach((c, k) => {
      if (c <= 0) return;
      const off = m.offsets[k] as Float32Array;
      for (let d = 0; d < m.dim; d++) out[i * m.dim + d] = (out[i * m.dim + d] as number) + (off[d] as number);
    });
  });
  return out;
}

/** Baseline edit of latents [n, D]: coordinate `from` → `to`, w + (μ_to − μ_from). */
export function meanShiftEdit(m: MeanOffsets, latents: Float32Array, from: number, to: number): Float32Array {
  const a = m.offsets[from] as Float32Array;
  const b = m.offsets[to] as Float32Array;
  return Float32Array.from(latents, (v, i) => v + (b[i % m.dim] as number) - (a[i % m.dim] as number));
}
