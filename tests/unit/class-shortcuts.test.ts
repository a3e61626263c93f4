import { beforeAll, describe, expect, it } from 'vitest';
import { binomialLowerTail, classWarning, midRanks, scoreClasses, separation } from '../../src/lib/analysis/class-shortcuts';
import { twoSidedP } from '../../src/lib/analysis/normal';
import type { ShortcutReport } from '../../src/lib/analysis/shortcuts';
import { Rng } from '../../src/lib/data/rng';
import { parseMnistFiles, type MnistArrays, type SampleDatasetId } from '../../src/lib/data/samples/catalog';
import { readMnistFiles } from '../helpers/mnist';
import { analyseSampleDataset } from './helpers/sample-shortcuts';
import { PLANT_KEEPS, PLANT_KINDS, PLANT_STRENGTHS, plant, plantBase, type PlantBase } from './helpers/planted-shortcuts';

const words = { label: 'brightness', low: 'dark', high: 'bright', advice: 'collect dark images of every class' };

describe('the statistics', () => {
  // scipy 1.10 (Debian python3-scipy):
  //   rankdata([0.3,0.1,0.4,0.4,0.9,0.2,0.4,0.7]) → [3, 1, 5, 5, 8, 2, 5, 7]
  //   mannwhitneyu(x[y==1], x[y==0], method='asymptotic', use_continuity=False) → U 13.0, p 0.13913498406818411
  //   binom.cdf(3, 200, 0.05) → 0.009048376396101461; binom.cdf(0, 50, 0.1) → 0.0051537752073201135
  //   norm.sf(1.96) → 0.024997895148220435; norm.sf(3.5) → 0.00023262907903552502
  const x = Float64Array.from([0.3, 0.1, 0.4, 0.4, 0.9, 0.2, 0.4, 0.7]);
  const y = Int32Array.from([1, 0, 1, 0, 1, 0, 0, 1]);

  it('ranks with ties averaged, as scipy', () => {
    const { ranks, tieTerm } = midRanks(x);
    expect(Array.from(ranks)).toEqual([3, 1, 5, 5, 8, 2, 5, 7]);
    expect(tieTerm).toBe(3 * 3 * 3 - 3);
  });

  it('has the AUROC and the tie-corrected rank-sum p of scipy', () => {
    const few = scoreClasses({ feature: 'brightness', kind: 'image-stat', type: 'continuous', values: x, words }, y, ['a', 'b'], new Rng(1), 0);
    // Too few samples to score (CLASS_MIN_SIDE): nothing is reported for either class.
    expect(few).toEqual([]);
    // Class b (y = 1) holds ranks 3, 5, 8, 7: U = 23 − 4·5/2 = 13, AUROC = 13 / 16.
    const { ranks, tieTerm } = midRanks(x);
    const r = Array.from(ranks).reduce((sum, rank, i) => sum + (y[i] ? rank : 0), 0);
    const b = separation(r, 4, 8, tieTerm);
    expect(b.auroc).toBeCloseTo(13 / 16, 12);
    expect(twoSidedP(b.z)).toBeCloseTo(0.13913498406818411, 6);
    const a = separation(36 - r, 4, 8, tieTerm);
    expect(a.auroc).toBeCloseTo(3 / 16, 12);
    expect(a.z).toBeCloseTo(-b.z, 12);
  });

  it('has the normal and binomial tails of scipy', () => {
    expect(twoSidedP(1.96)).toBeCloseTo(2 * 0.024997895148220435, 6);
    expect(twoSidedP(3.5)).toBeCloseTo(2 * 0.00023262907903552502, 7);
    expect(twoSidedP(-1.96)).toBeCloseTo(2 * 0.024997895148220435, 6);
    // Two-sided p of the 8-sample example: z = (13 − 8) / sqrt(4·4/12 · (9 − 24/56)).
    const z = (13 - 8) / Math.sqrt((16 / 12) * (9 - 24 / 56));
    expect(twoSidedP(z)).toBeCloseTo(0.13913498406818411, 6);
    expect(binomialLowerTail(3, 200, 0.05)).toBeCloseTo(0.009048376396101461, 12);
    expect(binomialLowerTail(0, 50, 0.1)).toBeCloseTo(0.0051537752073201135, 12);
    expect(binomialLowerTail(20, 200, 0.05)).toBe(1);
  });

  it('words a gap and a surplus', () => {
    const gap = classWarning(
      { scope: 'class', classNames: ['bicycle'] },
      { bin: 'light = night', short: 'night', n: 300, share: 0.01, overallShare: 0.12 },
      { label: 'attribute "light"', advice: 'rebalance' },
    );
    expect(gap).toBe(
      "Night images (light = night) almost never show a 'bicycle' (1 % of them, against 12 % of all images): " +
        "a model may learn 'night ⇒ not bicycle' and fail on night images of it. To fix: rebalance.",
    );
    const group = classWarning(
      { scope: 'group', classNames: ['5', '6', '7', '8', '9'] },
      { bin: 'brightness < 0.05', short: 'dark', n: 900, share: 0.2, overallShare: 0.5 },
      words,
    );
    expect(group).toMatch(/^Dark images \(brightness < 0.05\) rarely show '5', '6', '7', '8' and 1 more/);
    expect(group).toMatch(/'dark ⇒ not those classes'/);
  });
});

describe('planted shortcuts on MNIST', () => {
  let base: PlantBase;
  beforeAll(() => {
    base = plantBase(parseMnistFiles(readMnistFiles()), 2000);
  });

  it('names the trap: night images almost never show the spared class', () => {
    const out = plant(base, PLANT_KINDS[0]!, 1, 0.1, 1);
    expect(out.detected).toBe(true);
    // The whole-label rule misses it: one rare class of ten barely moves NMI or the majority vote.
    expect(out.report.flagged).toEqual([]);
    const three = out.report.classFindings?.find((f) => f.feature === 'attribute:light' && f.scope === 'class' && f.classes[0] === 3);
    expect(three?.flagged).toBe(true);
    expect(three?.gap?.k).toBe(0);
    expect(three?.warning).toMatch(/^Night images \(light = night\) almost never show a '3'/);
    expect(three?.warning).toMatch(/a model may learn 'night ⇒ not 3'/);
  });

  it('names a group of classes with one warning', () => {
    const out = plant(base, PLANT_KINDS[1]!, 1, 1, 1);
    const group = out.report.classFindings?.find((f) => f.feature === 'attribute:light' && f.scope === 'group' && f.flagged);
    expect(group?.classes.sort()).toEqual([5, 6, 7, 8, 9]);
    const folded = out.report.classFindings?.filter((f) => f.scope === 'class' && f.flagged) ?? [];
    expect(folded.length).toBeGreaterThan(0);
    expect(folded.every((f) => f.folded)).toBe(true);
  });

  it('flags dimmed pixels that spare one class, relative to each class', () => {
    const out = plant(base, PLANT_KINDS[3]!, 1, 1, 1);
    expect(out.detected).toBe(true);
    const three = out.report.classFindings?.find((f) => f.feature === 'brightness' && f.classes[0] === 3 && f.scope === 'class');
    expect(three?.warning).toMatch(/^Dark images \(brightness below [0-9.]+ × its class's upper quartile\) almost never show a '3'/);
  });

  it('detects more often as the plant gets stronger, never at strength 0, always at full strength', () => {
    const rates: Record<string, number[]> = {};
    for (const kind of PLANT_KINDS) {
      for (const keep of PLANT_KEEPS) {
        const row = PLANT_STRENGTHS.map((s) => [1, 2].filter((seed) => plant(base, kind, s, keep, seed).detected).length / 2);
        rates[`${kind.id}, keep ${keep}`] = row;
        expect(row[0]).toBe(0);
        for (let i = 1; i < row.length; i++) expect(row[i]).toBeGreaterThanOrEqual((row[i - 1] as number) - 0.5);
        expect(row[row.length - 1]).toBe(1);
      }
    }
    // With nothing planted (a nuisance spread evenly over the classes), nothing is flagged at all.
    for (const kind of PLANT_KINDS) {
      expect(plant(base, kind, 0, 1, 3).report.classFindings?.filter((f) => f.flagged)).toEqual([]);
    }
    if (process.env.HEARTH_PRINT_PLANTED) console.log(JSON.stringify(rates));
  });
});

describe('the sample datasets keep their verdicts', () => {
  let mnist: MnistArrays;
  beforeAll(() => {
    mnist = parseMnistFiles(readMnistFiles());
  });

  const analyse = (id: SampleDatasetId, only?: 'train'): ShortcutReport => analyseSampleDataset(mnist, id, { only });

  it('flags no class on MNIST or MNIST-LT, though their digits differ in ink', () => {
    for (const id of ['mnist', 'mnist-lt'] as const) {
      const r = analyse(id);
      expect(r.flagged).toEqual([]);
      expect(r.classFindings?.filter((f) => f.flagged)).toEqual([]);
      // Scored, and far from the bar: relative to its own class, no digit is scarce anywhere
      // (a '1' is darker than an '8', but a dark '1' is no darker for a '1' than a dark '8' for an '8').
      const scored = r.classFindings?.filter((f) => f.kind === 'image-stat') ?? [];
      expect(scored.length).toBeGreaterThanOrEqual(20);
      for (const f of scored) expect(f.gap?.lift ?? 1).toBeGreaterThan(0.35);
    }
  });

  it("keeps Colored MNIST's colour flag, and on its train split names the classes", () => {
    // Over all splits the test split's random colours fill every colour with every digit (a
    // digit's share of a foreign colour is ≈ 0.4 of its share overall): the whole-label rule
    // flags colour, the per-class rule has no gap to point at.
    const all = analyse('colored-mnist');
    expect(all.flagged).toContain('attribute:color');
    expect(all.classFindings?.filter((f) => f.feature === 'attribute:color' && f.flagged)).toEqual([]);
    // On train, where 90 % of each digit wear its colour, every digit is missing from other colours.
    const train = analyse('colored-mnist', 'train');
    const colour = train.classFindings?.filter((f) => f.feature === 'attribute:color' && f.flagged && f.scope === 'class') ?? [];
    expect(colour.length).toBe(10);
    expect(colour[0]?.warning).toMatch(/almost never show a '0'/);
  });
});
