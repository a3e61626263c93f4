/**
 * k-centre greedy over descriptor rows: three well-separated clusters give one centre
 * each whatever the first centre; the gradient part counts only when asked; with
 * standardised rows the dot-product traversal is the Euclidean one (kcenter.ts' claim).
 */
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/lib/data/rng';
import { kCenterGreedy } from '../../src/lib/select/kcenter';
import type { DescriptorRows } from '../../src/lib/select/similarity';

/** Unit vectors at these angles (degrees), one row each. */
function unitRows(anglesDeg: readonly number[]): Float32Array {
  return Float32Array.from(anglesDeg.flatMap((a) => [Math.cos((a * Math.PI) / 180), Math.sin((a * Math.PI) / 180)]));
}

// Three clusters of three unit vectors around 0°, 120° and 240° (±5°): within a cluster
// the cosine is ≥ cos 10° ≈ 0.98, across clusters ≤ cos 110° ≈ −0.34.
const ANGLES_DEG = [0, 5, -5, 120, 125, 115, 240, 245, 235];
const clusterOf = (row: number): number => Math.floor(row / 3);

describe('kCenterGreedy', () => {
  it('puts one centre in each of three separated clusters, for every first centre', () => {
    const rows: DescriptorRows = { rows: 9, length: 2, z: unitRows(ANGLES_DEG), g: null };
    const all = Array.from({ length: 9 }, (_, i) => i);
    const firsts = new Set<number>();
    for (let seed = 0; seed < 30; seed++) {
      const centres = kCenterGreedy(rows, all, 3, { useGradients: false, rng: new Rng(seed) });
      firsts.add(centres[0] as number);
      expect(new Set(centres.map(clusterOf)).size).toBe(3);
    }
    // The seeds did start from different rows, so the check covered several first centres.
    expect(firsts.size).toBeGreaterThan(3);
  });

  it('is deterministic for a seed and returns candidate rows, not candidate positions', () => {
    const rows: DescriptorRows = { rows: 9, length: 2, z: unitRows(ANGLES_DEG), g: null };
    const candidates = [8, 1, 4, 0, 7];
    const a = kCenterGreedy(rows, candidates, 3, { useGradients: false, rng: new Rng(5) });
    const b = kCenterGreedy(rows, candidates, 3, { useGradients: false, rng: new Rng(5) });
    expect(a).toEqual(b);
    a.forEach((r) => expect(candidates).toContain(r));
    expect(new Set(a.map(clusterOf)).size).toBe(3);
  });

  it('adds the gradient similarity only when asked', () => {
    // z is the same for all rows, so only g can separate the three clusters.
    const z = unitRows(Array<number>(9).fill(30));
    const rows: DescriptorRows = { rows: 9, length: 2, z, g: unitRows(ANGLES_DEG) };
    const all = Array.from({ length: 9 }, (_, i) => i);
    const withG = kCenterGreedy(rows, all, 3, { useGradients: true, rng: new Rng(2) });
    expect(new Set(withG.map(clusterOf)).size).toBe(3);
    // Without g every similarity ties, and ties go to the earliest candidate not yet taken.
    const first = kCenterGreedy(rows, all, 3, { useGradients: false, rng: new Rng(2) })[0] as number;
    const expected = [first, ...all.filter((r) => r !== first).slice(0, 2)];
    expect(kCenterGreedy(rows, all, 3, { useGradients: false, rng: new Rng(2) })).toEqual(expected);
  });

  it('never repeats a centre, even among duplicate rows', () => {
    const rows: DescriptorRows = { rows: 6, length: 2, z: unitRows([0, 0, 0, 0, 0, 0]), g: null };
    const centres = kCenterGreedy(rows, [0, 1, 2, 3, 4, 5], 4, { useGradients: false, rng: new Rng(1) });
    expect(new Set(centres).size).toBe(4);
  });

  it('returns every candidate when asked for as many or more', () => {
    const rows: DescriptorRows = { rows: 9, length: 2, z: unitRows(ANGLES_DEG), g: null };
    expect(kCenterGreedy(rows, [3, 1, 2], 3, { useGradients: false, rng: new Rng(1) })).toEqual([3, 1, 2]);
    expect(kCenterGreedy(rows, [3, 1, 2], 5, { useGradients: false, rng: new Rng(1) })).toEqual([3, 1, 2]);
    expect(kCenterGreedy(rows, [3, 1, 2], 0, { useGradients: false, rng: new Rng(1) })).toEqual([]);
  });

  it('on standardised rows, equals Euclidean farthest-first from the same first centre', () => {
    const rng = new Rng(21);
    const n = 60;
    const L = 8;
    const z = new Float32Array(n * L);
    for (let i = 0; i < n; i++) {
      const v = Array.from({ length: L }, () => rng.normal());
      const mean = v.reduce((s, x) => s + x, 0) / L;
      const std = Math.sqrt(v.reduce((s, x) => s + (x - mean) ** 2, 0) / (L - 1));
      v.forEach((x, c) => (z[i * L + c] = (x - mean) / std));
    }
    const rows: DescriptorRows = { rows: n, length: L, z, g: null };
    const all = Array.from({ length: n }, (_, i) => i);
    const centres = kCenterGreedy(rows, all, 10, { useGradients: false, rng: new Rng(4) });
    const dist2 = (a: number, b: number): number => {
      let s = 0;
      for (let c = 0; c < L; c++) s += ((z[a * L + c] as number) - (z[b * L + c] as number)) ** 2;
      return s;
    };
    const euclid = [centres[0] as number];
    while (euclid.length < 10) {
      let best = -1;
      let bestD = -Infinity;
      for (const i of all) {
        if (euclid.includes(i)) continue;
        const d = Math.min(...euclid.map((c) => dist2(i, c)));
        if (d > bestD) {
          bestD = d;
          best = i;
        }
      }
      euclid.push(best);
    }
    expect(centres).toEqual(euclid);
  });

  it('refuses gradients it was not given', () => {
    const rows: DescriptorRows = { rows: 9, length: 2, z: unitRows(ANGLES_DEG), g: null };
    expect(() => kCenterGreedy(rows, [0, 1, 2], 2, { useGradients: true, rng: new Rng(1) })).toThrow(expect.objectContaining({ name: 'InvalidInputError' }));
  });
});
