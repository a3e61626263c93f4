/**
 * The statistics behind the worst-off group summaries and the four-fifths flag support.
 * Published values: Newcombe 1998 (Stat. Med. 17:857 Table I, 17:873 Table II). SciPy
 * values: tests/fixtures/group-gaps/reference.py (Wilson, Katz, the z-test), to 1e-6.
 */
import { describe, expect, it } from 'vitest';
import { baseRates } from '../../src/lib/analysis/data-bias';
import {
  accuracyCounts,
  baseRateEvidence,
  baseRateGap,
  bonferroni,
  disparateImpactEvidence,
  katzRatioInterval,
  modelBiasEvidence,
  newcombeInterval,
  quantizationGap,
  rankByFlagSupport,
  twoProportionTest,
  wilsonInterval,
  worstGroupGap,
} from '../../src/lib/analysis/group-gaps';
import { modelBias } from '../../src/lib/analysis/model-bias';

/** Published to 4 decimals: within half a unit of the last place. */
const PAPER_TOL = 5e-5;
const SCIPY_TOL = 1e-6;

function close(actual: { low: number; high: number } | null, low: number, high: number, tol: number): void {
  expect(actual).not.toBeNull();
  expect(Math.abs((actual as { low: number }).low - low)).toBeLessThan(tol);
  expect(Math.abs((actual as { high: number }).high - high)).toBeLessThan(tol);
}

describe('wilsonInterval', () => {
  it('matches Newcombe 1998a Table I and SciPy', () => {
    close(wilsonInterval(81, 263), 0.2553, 0.3662, PAPER_TOL);
    close(wilsonInterval(15, 148), 0.0624, 0.1605, PAPER_TOL);
    close(wilsonInterval(0, 20), 0, 0.1611, PAPER_TOL);
    close(wilsonInterval(1, 29), 0.006113, 0.171755, SCIPY_TOL);
    close(wilsonInterval(81, 263), 0.255289, 0.36621, SCIPY_TOL);
  });
});

describe('newcombeInterval (hybrid score, method 10)', () => {
  it('matches Newcombe 1998b Table II', () => {
    close(newcombeInterval(56, 70, 48, 80), 0.0524, 0.3339, PAPER_TOL);
    close(newcombeInterval(9, 10, 3, 10), 0.1705, 0.809, PAPER_TOL);
    close(newcombeInterval(6, 7, 2, 7), 0.0582, 0.8062, PAPER_TOL);
    close(newcombeInterval(5, 56, 0, 29), -0.0381, 0.1926, PAPER_TOL);
    close(newcombeInterval(0, 10, 0, 20), -0.1611, 0.2775, PAPER_TOL);
    close(newcombeInterval(0, 10, 0, 10), -0.2775, 0.2775, PAPER_TOL);
  });
});

describe('twoProportionTest and bonferroni', () => {
  it('matches SciPy', () => {
    const a = twoProportionTest(56, 70, 48, 80);
    expect(a.z).toBeCloseTo(2.650172, 5);
    expect(Math.abs(a.p - 8.045081e-3) / 8.045081e-3).toBeLessThan(1e-5);
    const b = twoProportionTest(20, 40, 130, 160);
    expect(b.z).toBeCloseTo(-4.082483, 5);
    expect(Math.abs(b.p - 4.455709e-5) / 4.455709e-5).toBeLessThan(1e-5);
  });
  it('has no evidence when both sides are all right or all wrong', () => {
    expect(twoProportionTest(10, 10, 30, 30)).toEqual({ z: 0, p: 1 });
  });
  it('multiplies by the number of tests, capped at 1', () => {
    expect(bonferroni(0.01, 3)).toBeCloseTo(0.03, 12);
    expect(bonferroni(0.4, 3)).toBe(1);
  });
});

describe('worstGroupGap', () => {
  it('picks the lowest accuracy among groups big enough to judge, against every other sample', () => {
    const r = worstGroupGap([
      { group: 'a', n: 100, hits: 90 },
      { group: 'b', n: 40, hits: 20 },
      { group: 'tiny', n: 5, hits: 0 },
      { group: 'c', n: 60, hits: 51 },
    ]);
    expect(r.tooSmall).toEqual(['tiny']);
    const g = r.gap;
    expect(g?.group).toEqual({ group: 'b', n: 40, hits: 20, rate: 0.5 });
    // The rest is a + tiny + c: 141 of 165.
    expect(g?.rest).toEqual({ n: 165, hits: 141, rate: 141 / 165 });
    expect(g?.difference).toBeCloseTo(141 / 165 - 0.5, 12);
    const iv = newcombeInterval(141, 165, 20, 40);
    expect(g?.interval).toEqual(iv);
    expect(g?.tests).toBe(3);
    expect(g?.adjustedP).toBeCloseTo(Math.min(1, 3 * twoProportionTest(20, 40, 141, 165).p), 12);
    expect(g?.exceedsChance).toBe(true);
  });

  it('warns only when the Bonferroni-corrected p stays below 0.05', () => {
    // 30/40 against 84/100: p ≈ 0.21 alone, far from a warning.
    const calm = worstGroupGap([
      { group: 'x', n: 40, hits: 30 },
      { group: 'y', n: 100, hits: 84 },
    ]);
    expect(calm.gap?.group.group).toBe('x');
    expect(calm.gap?.exceedsChance).toBe(false);
    // A p that passes alone (≈ 0.024) but not once multiplied by the 3 groups it was picked from.
    const groups = [
      { group: 'p', n: 100, hits: 70 },
      { group: 'q', n: 100, hits: 83 },
      { group: 'r', n: 100, hits: 80 },
    ];
    const r = worstGroupGap(groups);
    expect(r.gap?.group.group).toBe('p');
    expect(r.gap?.p).toBeLessThan(0.05);
    expect(r.gap?.adjustedP).toBeGreaterThan(0.05);
    expect(r.gap?.exceedsChance).toBe(false);
  });

  it('says why there is no summary', () => {
    expect(worstGroupGap([{ group: 'a', n: 50, hits: 40 }, { group: 'b', n: 0, hits: 0 }]).reason).toMatch(/only one group/);
    expect(worstGroupGap([{ group: 'a', n: 5, hits: 4 }, { group: 'b', n: 3, hits: 1 }]).reason).toMatch(/no group has 10 samples/);
  });

  it('counts correct predictions per group from the columns', () => {
    const counts = accuracyCounts([0, 1, 1, 2, -1, 0], [0, 1, 0, 2, 0, 1], ['a', 'a', 'b', null, 'b', 'c'], ['a', 'b']);
    expect(counts).toEqual([
      { group: 'a', n: 2, hits: 2 },
      { group: 'b', n: 1, hits: 0 },
      { group: 'c', n: 1, hits: 0 },
    ]);
  });
});

describe('baseRateGap', () => {
  it('picks the class × group cell farthest from the rest, corrected for every cell', () => {
    // classes 0..2; groups u, v, w.
    const counts = [
      [30, 10, 10],
      [10, 30, 10],
      [15, 15, 20],
    ];
    const r = baseRateGap(counts, ['u', 'v', 'w'], ['zero', 'one', 'two']);
    const g = r.gap;
    // u's share of class 0 is 0.6 against 25/100 for v and w: the largest |difference| (ties go to the first).
    expect(g?.label).toBe('zero');
    expect(g?.group.group).toBe('u');
    expect(g?.difference).toBeCloseTo(0.6 - 0.25, 12);
    expect(g?.tests).toBe(9);
    expect(g?.interval).toEqual(newcombeInterval(30, 50, 25, 100));
    expect(g?.exceedsChance).toBe(true);
  });
  it('with two groups counts one test per class', () => {
    const r = baseRateGap(
      [
        [12, 8],
        [10, 10],
      ],
      ['a', 'b'],
      ['x', 'y'],
    );
    expect(r.gap?.tests).toBe(2);
    expect(r.gap?.exceedsChance).toBe(false);
  });
});

describe('quantizationGap', () => {
  it('gives each group its int8 − float change and names the group hurt beyond the overall change', () => {
    const q = quantizationGap(
      [
        { group: 'a', n: 50, hits: 45 },
        { group: 'b', n: 50, hits: 40 },
      ],
      [
        { group: 'a', n: 50, hits: 45 },
        { group: 'b', n: 50, hits: 30 },
      ],
    );
    expect(q.groups.map((g) => g.change)).toEqual([0, -0.2]);
    expect(q.overallChange).toBeCloseTo(-0.1, 12);
    expect(q.mostHurt?.group).toBe('b');
    expect(q.float.gap?.group.group).toBe('b');
    expect(q.int8.gap?.difference).toBeCloseTo(0.9 - 0.6, 12);
  });
});

describe('disparate impact evidence', () => {
  it('Katz log interval matches SciPy relative_risk', () => {
    close(katzRatioInterval(12, 40, 30, 60), 0.350784, 1.026272, SCIPY_TOL);
    close(katzRatioInterval(5, 50, 20, 50), 0.101829, 0.613776, SCIPY_TOL);
    close(katzRatioInterval(45, 60, 30, 60), 1.119958, 2.009004, SCIPY_TOL);
  });
  it('adds 0.5 to every cell of a table with an empty cell, so an all-favourable pair has a width', () => {
    const iv = katzRatioInterval(47, 47, 53, 53);
    const se = Math.sqrt(1 / 47.5 - 1 / 48 + 1 / 53.5 - 1 / 54);
    const ratio = 47.5 / 48 / (53.5 / 54);
    close(iv, ratio * Math.exp(-1.959963984540054 * se), ratio * Math.exp(1.959963984540054 * se), 1e-12);
    expect((iv as { low: number }).low).toBeLessThan(0.97);
  });
  it('adds 0.5 to a zero count', () => {
    const iv = katzRatioInterval(0, 20, 10, 20);
    const se = Math.sqrt(1 / 0.5 - 1 / 21 + 1 / 10.5 - 1 / 21);
    close(iv, (0.5 / 21 / (10.5 / 21)) * Math.exp(-1.959963984540054 * se), (0.5 / 21 / (10.5 / 21)) * Math.exp(1.959963984540054 * se), 1e-12);
  });
  it('backs a flag only when the whole interval lies beyond the band edge it crossed', () => {
    // 12/40 vs 30/60: DI 0.6, flagged, but the interval reaches 1.03.
    expect(disparateImpactEvidence({ value: 0.6, flag: 'outside-four-fifths' }, 12, 40, 30, 60).support).toBe('unsupported');
    // 5/50 vs 20/50: DI 0.25, interval up to 0.61 < 0.8.
    expect(disparateImpactEvidence({ value: 0.25, flag: 'outside-four-fifths' }, 5, 50, 20, 50).support).toBe('supported');
    // 45/60 vs 30/60: DI 1.5, interval from 1.12: excludes 1 but not all above 1.25.
    expect(disparateImpactEvidence({ value: 1.5, flag: 'outside-four-fifths' }, 45, 60, 30, 60).support).toBe('unsupported');
    // 90/100 vs 30/100: DI 3, far above the band.
    expect(disparateImpactEvidence({ value: 3, flag: 'outside-four-fifths' }, 90, 100, 30, 100).support).toBe('supported');
    // Unflagged: no verdict.
    expect(disparateImpactEvidence({ value: 0.9 }, 27, 30, 30, 30).support).toBeUndefined();
  });
  it('ranks supported flags first, strongest first, then muted ones, then the rest', () => {
    const sup = (low: number, high: number) => ({ favourable: 0, n: 1, referenceFavourable: 1, referenceN: 1, interval: { low, high }, support: 'supported' as const });
    const uns = { favourable: 0, n: 1, referenceFavourable: 1, referenceN: 1, interval: { low: 0.3, high: 1.1 }, support: 'unsupported' as const };
    const none = { favourable: 0, n: 1, referenceFavourable: 1, referenceN: 1, interval: { low: 0.9, high: 1.1 } };
    expect(rankByFlagSupport([none, uns, sup(0.1, 0.7), undefined, sup(0.05, 0.3)])).toEqual([4, 2, 1, 0, 3]);
  });
  it('takes its counts from a model-bias report and from base rates', () => {
    const report = modelBias({
      trueLabels: [1, 1, 1, 1, 0, 0],
      predictedLabels: [1, 1, 1, 0, 0, 0],
      groups: ['m', 'm', 'f', 'f', 'f', 'm'],
      favourableClass: 1,
      privileged: ['m'],
    });
    const ev = modelBiasEvidence(report);
    expect(ev.comparisons[0]).toMatchObject({ favourable: 1, n: 3, referenceFavourable: 2, referenceN: 3 });
    expect(ev.pooled).toMatchObject({ favourable: 1, n: 3, referenceFavourable: 2, referenceN: 3 });
    const rates = baseRates(
      [
        [4, 6],
        [7, 3],
        [5, 5],
      ],
      ['a', 'b', 'c'],
      1,
      'one',
      [],
    );
    expect(baseRateEvidence(rates)[1]).toMatchObject({ favourable: 3, n: 10, referenceFavourable: 11, referenceN: 20 });
  });
});
