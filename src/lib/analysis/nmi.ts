/**
 * Entropy, mutual information and normalized mutual information of discrete variables,
 * as scikit-learn defines them (`mutual_info_score`, `normalized_mutual_info_score` with
 * its default `average_method='arithmetic'`), so its numbers can serve as golden values:
 *
 *   H(U)     = −Σ_u p(u) ln p(u)                               (natural log: nats)
 *   I(U; V)  = Σ_{u,v} p(u,v) ln[ p(u,v) / (p(u) p(v)) ]        (clipped at 0 against rounding)
 *   NMI(U,V) = I(U; V) / ((H(U) + H(V)) / 2)
 *
 * Edge cases, exactly as scikit-learn: when BOTH variables are constant (or there are no
 * samples at all) NMI is 1.0 ("both labellings put everything in one cluster: a perfect
 * match"); when only ONE is constant, I = 0 and NMI is 0. So NMI is always a finite number
 * in [0, 1], never NaN.
 *
 * Values are category codes: any numbers, compared by identity (−1 is a category like any
 * other, so callers drop missing values first). Probabilities are empirical frequencies,
 * so these are plug-in estimates and biased upward for finite samples: the shortcut
 * detector compares them with a permutation baseline for exactly that reason.
 */
import { InvalidInputError } from '../jobs/errors';

/** Dense codes 0..k-1 for arbitrary category values, in order of first appearance. */
function denseCodes(x: ArrayLike<number>): { codes: Int32Array; k: number } {
  const n = x.length;
  const codes = new Int32Array(n);
  const index = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const v = x[i] as number;
    let c = index.get(v);
    if (c === undefined) {
      c = index.size;
      index.set(v, c);
    }
    codes[i] = c;
  }
  return { codes, k: index.size };
}

/** −Σ (c/n) ln(c/n) over non-zero counts. */
function entropyOfCounts(counts: ArrayLike<number>, n: number): number {
  let h = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i] as number;
    if (c > 0) h -= (c / n) * Math.log(c / n);
  }
  // A single category gives −1·ln 1 = −0; return a clean 0.
  return h > 0 ? h : 0;
}

/** Shannon entropy (nats) of the empirical distribution of `x`. 0 for an empty or constant input. */
export function entropy(x: ArrayLike<number>): number {
  const n = x.length;
  if (n === 0) return 0;
  const { codes, k } = denseCodes(x);
  const counts = new Float64Array(k);
  for (let i = 0; i < n; i++) {
    const c = codes[i] as number;
    counts[c] = (counts[c] as number) + 1;
  }
  return entropyOfCounts(counts, n);
}

/** The joint and marginal counts of two variables, dense-coded. */
export interface Contingency {
  n: number;
  /** Distinct values of a (rows) and of b (columns). */
  rows: number;
  cols: number;
  /** rows × cols, row-major: joint[r * cols + c]. */
  joint: Float64Array;
  rowSums: Float64Array;
  colSums: Float64Array;
}

function checkSameLength(a: ArrayLike<number>, b: ArrayLike<number>): void {
  if (a.length !== b.length) {
    throw new InvalidInputError(`Mutual information needs two variables over the same samples; got ${a.length} and ${b.length} values.`);
  }
}

export function contingency(a: ArrayLike<number>, b: ArrayLike<number>): Contingency {
  checkSameLength(a, b);
  const n = a.length;
  const ca = denseCodes(a);
  const cb = denseCodes(b);
  const rows = ca.k;
  const cols = cb.k;
  const joint = new Float64Array(rows * cols);
  const rowSums = new Float64Array(rows);
  const colSums = new Float64Array(cols);
  for (let i = 0; i < n; i++) {
    const r = ca.codes[i] as number;
    const c = cb.codes[i] as number;
    joint[r * cols + c] = (joint[r * cols + c] as number) + 1;
    rowSums[r] = (rowSums[r] as number) + 1;
    colSums[c] = (colSums[c] as number) + 1;
  }
  return { n, rows, cols, joint, rowSums, colSums };
}

/** I(U; V) in nats from a contingency table. */
export function mutualInfoOfTable(t: Contingency): number {
  const { n, rows, cols, joint, rowSums, colSums } = t;
  if (n === 0) return 0;
  let mi = 0;
  for (let r = 0; r < rows; r++) {
    const pr = (rowSums[r] as number) / n;
    for (let c = 0; c < cols; c++) {
      const nij = joint[r * cols + c] as number;
      if (nij === 0) continue;
      const pij = nij / n;
      mi += pij * Math.log(pij / (pr * ((colSums[c] as number) / n)));
    }
  }
  // Rounding can leave −1e-17 for independent variables; scikit-learn clips the same way.
  return mi > 0 ? mi : 0;
}

/** Mutual information I(a; b) in nats. */
export function mutualInfo(a: ArrayLike<number>, b: ArrayLike<number>): number {
  return mutualInfoOfTable(contingency(a, b));
}

/** NMI from a contingency table, with scikit-learn's edge cases (see the file comment). */
export function nmiOfTable(t: Contingency): number {
  if ((t.rows <= 1 && t.cols <= 1) || t.n === 0) return 1;
  const mi = mutualInfoOfTable(t);
  if (mi === 0) return 0;
  const mean = (entropyOfCounts(t.rowSums, t.n) + entropyOfCounts(t.colSums, t.n)) / 2;
  // mi ≤ min(H) ≤ mean(H) in exact arithmetic; clamp the last-bit excess of rounding.
  return Math.min(1, mi / mean);
}

/** Normalized mutual information, arithmetic-mean normalisation, in [0, 1]. */
export function nmi(a: ArrayLike<number>, b: ArrayLike<number>): number {
  return nmiOfTable(contingency(a, b));
}
