/**
 * k-centre greedy (farthest-first traversal, Sener & Savarese 2018), as the released code
 * runs it over the misclassified validation descriptors (main_descr.py, "K-center
 * clustering"): the first centre is a random one, and each next centre is the candidate
 * whose largest similarity to the centres chosen so far is the smallest.
 *
 * The reference measures closeness by the same dot products it ranks the pool with: Ẑ·Ẑ
 * for the feature-only method, Ẑ·Ẑ + Ĝ·Ĝ when gradients are used. That is Euclidean
 * farthest-first on the concatenation [ẑ, ĝ] in disguise: every standardised segment of
 * length n has squared norm n − 1 (unbiased deviation), so all rows have the same norm
 * and ‖a − b‖² = 2·const − 2·a·b; the smallest largest-similarity is the largest
 * smallest-distance. (It differs only for a row with a constant, zeroed segment, which is
 * shorter.) Followed as the reference does it: dot products.
 */
import type { Rng } from '../data/rng';
import { InvalidInputError } from '../jobs/errors';
import type { DescriptorRows } from './similarity';

export interface KCenterOptions {
  /** Add the gradient part's dot product (Ẑ·Ẑ + Ĝ·Ĝ); false for the feature-only method. */
  useGradients: boolean;
  /** Draws the first centre. */
  rng: Rng;
}

function dot(a: Float32Array, aOffset: number, b: Float32Array, bOffset: number, length: number): number {
  let s = 0;
  for (let i = 0; i < length; i++) s += (a[aOffset + i] as number) * (b[bOffset + i] as number);
  return s;
}

/**
 * `count` centres among the `candidates` rows, in the order chosen. Each step updates
 * every candidate's largest similarity with the one new centre only, so the whole run costs
 * count × candidates dot products. A chosen row is never chosen again, even when rows
 * repeat (the reference could pick a duplicate of a centre, whose similarity ties).
 * Ties go to the earlier candidate.
 */
export function kCenterGreedy(rows: DescriptorRows, candidates: readonly number[], count: number, opts: KCenterOptions): number[] {
  const m = candidates.length;
  if (!Number.isInteger(count) || count < 0) throw new InvalidInputError(`The number of centres must be a whole number ≥ 0, got ${count}.`);
  if (opts.useGradients && rows.g === null) throw new InvalidInputError('k-centre with gradients needs descriptors described with labels for the loss.');
  for (const c of candidates) {
    if (!Number.isInteger(c) || c < 0 || c >= rows.rows) throw new InvalidInputError(`Candidate row ${c} is outside the ${rows.rows} descriptor rows.`);
  }
  if (count >= m) return [...candidates];
  if (count === 0) return [];

  const L = rows.length;
  const g = opts.useGradients ? rows.g : null;
  const similarity = (a: number, b: number): number => {
    const s = dot(rows.z, a * L, rows.z, b * L, L);
    return g ? s + dot(g, a * L, g, b * L, L) : s;
  };
  const maxSim = new Float64Array(m).fill(-Infinity);
  const chosen = new Uint8Array(m);
  const centres: number[] = [];
  let next = opts.rng.int(m);
  for (;;) {
    chosen[next] = 1;
    const centreRow = candidates[next] as number;
    centres.push(centreRow);
    if (centres.length === count) return centres;
    let best = -1;
    let bestValue = Infinity;
    for (let i = 0; i < m; i++) {
      if (chosen[i]) continue;
      const s = similarity(candidates[i] as number, centreRow);
      if (s > (maxSim[i] as number)) maxSim[i] = s;
      if ((maxSim[i] as number) < bestValue) {
        bestValue = maxSim[i] as number;
        best = i;
      }
    }
    // Only NaN similarities leave no candidate below Infinity; take the first unchosen then.
    next = best >= 0 ? best : chosen.indexOf(0);
  }
}
