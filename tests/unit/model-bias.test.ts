import { describe, expect, it } from 'vitest';
import {
  FOUR_FIFTHS_NOTE,
  groupsFromVersion,
  modelBias,
  ONLY_ONE_GROUP_REASON,
  type GroupComparison,
  type GroupStats,
  type ModelBiasInput,
  type ModelBiasReport,
} from '../../src/lib/analysis/model-bias';
import type { DatasetVersion } from '../../src/lib/storage/records';

type Pair = [y: number, yHat: number];

/** Builds the input columns from per-group lists of (true, predicted) class pairs. */
function build(groups: Record<string, Pair[]>, extra: Partial<ModelBiasInput> = {}): ModelBiasInput {
  const trueLabels: number[] = [];
  const predictedLabels: number[] = [];
  const g: (string | null)[] = [];
  for (const [name, pairs] of Object.entries(groups)) {
    for (const [y, yHat] of pairs) {
      trueLabels.push(y);
      predictedLabels.push(yHat);
      g.push(name === 'null' ? null : name);
    }
  }
  return { trueLabels, predictedLabels, groups: g, favourableClass: 1, privileged: ['m'], ...extra };
}

const rep = (pair: Pair, k: number): Pair[] => Array.from({ length: k }, () => pair);

/** Every number anywhere in the report is finite: metrics are undefined-with-reason, never NaN. */
function expectNoNaN(x: unknown, path = 'report'): void {
  if (typeof x === 'number') expect(Number.isFinite(x), `${path} = ${x}`).toBe(true);
  else if (Array.isArray(x)) x.forEach((v, i) => expectNoNaN(v, `${path}[${i}]`));
  else if (typeof x === 'object' && x !== null) for (const [k, v] of Object.entries(x)) expectNoNaN(v, `${path}.${k}`);
}

function group(r: ModelBiasReport, name: string): GroupStats {
  const g = r.groups.find((s) => s.group === name);
  if (!g) throw new Error(`no group ${name}`);
  return g;
}

function comparison(r: ModelBiasReport, name: string): GroupComparison {
  const c = r.comparisons.find((s) => s.unprivileged === name);
  if (!c) throw new Error(`no comparison ${name}`);
  return c;
}

describe('modelBias: the worked example of the module comment', () => {
  // Favourable class 1 of three classes (0, 1, 2), one versus rest.
  // m (privileged), 10 samples: 5 × (1,1) TP; 1 × (0,1) FP; 2 × (0,0) TN; 2 × (2,0) TN but wrong class.
  //   selection 6/10 = 0.6; TPR 5/5 = 1; FPR 1/5 = 0.2; accuracy (multi-class) (5+2)/10 = 0.7
  // f, 10 samples: 2 × (1,1) TP; 2 × (1,0) FN; 1 × (0,1) FP; 5 × (0,0) TN.
  //   selection 3/10 = 0.3; TPR 2/4 = 0.5; FPR 1/6; accuracy (2+5)/10 = 0.7
  // plus 2 samples with the attribute missing and 1 unlabeled (true label −1) in f.
  const input = build({
    m: [...rep([1, 1], 5), [0, 1], ...rep([0, 0], 2), ...rep([2, 0], 2)],
    f: [...rep([1, 1], 2), ...rep([1, 0], 2), [0, 1], ...rep([0, 0], 5), [-1, 1]],
    null: [
      [1, 1],
      [0, 0],
    ],
  });
  const r = modelBias(input);

  it('counts per group, excluding missing attribute values and unlabeled samples', () => {
    expect(r.excluded).toEqual({ missingAttribute: 2, unlabeled: 1 });
    const m = group(r, 'm');
    expect(m).toMatchObject({ privileged: true, n: 10, positives: 5, negatives: 5, predictedFavourable: 6 });
    expect(m).toMatchObject({ truePositives: 5, falsePositives: 1, trueNegatives: 4, falseNegatives: 0, correct: 7 });
    const f = group(r, 'f');
    expect(f).toMatchObject({ privileged: false, n: 10, positives: 4, negatives: 6, predictedFavourable: 3 });
    expect(f).toMatchObject({ truePositives: 2, falsePositives: 1, trueNegatives: 5, falseNegatives: 2, correct: 7 });
  });

  it('per-group rates', () => {
    const m = group(r, 'm');
    const f = group(r, 'f');
    expect(m.selectionRate.value).toBeCloseTo(0.6, 12);
    expect(m.tpr.value).toBe(1);
    expect(m.fpr.value).toBeCloseTo(0.2, 12);
    expect(m.accuracy.value).toBeCloseTo(0.7, 12);
    expect(f.selectionRate.value).toBeCloseTo(0.3, 12);
    expect(f.tpr.value).toBe(0.5);
    expect(f.fpr.value).toBeCloseTo(1 / 6, 12);
    expect(f.accuracy.value).toBeCloseTo(0.7, 12);
  });

  it('AIF360 metrics: unprivileged minus / over privileged', () => {
    const c = comparison(r, 'f');
    expect(c.statisticalParityDifference.value).toBeCloseTo(-0.3, 12); // 0.3 − 0.6
    expect(c.disparateImpact.value).toBeCloseTo(0.5, 12); // 0.3 / 0.6
    expect(c.disparateImpact.flag).toBe('outside-four-fifths');
    expect(c.equalOpportunityDifference.value).toBeCloseTo(-0.5, 12); // 0.5 − 1
    // ½[(1/6 − 1/5) + (1/2 − 1)] = ½[−1/30 − 15/30] = −8/30
    expect(c.averageOddsDifference.value).toBeCloseTo(-8 / 30, 12);
    // Two unprivileged-vs-privileged views agree when there is one unprivileged group.
    expect(r.pooledComparison.statisticalParityDifference.value).toBeCloseTo(-0.3, 12);
  });

  it('Fairlearn-style spreads over the two groups', () => {
    expect(r.spreads.selectionRate.difference.value).toBeCloseTo(0.3, 12); // 0.6 − 0.3
    expect(r.spreads.selectionRate.ratio.value).toBeCloseTo(0.5, 12); // 0.3 / 0.6
    expect(r.spreads.tpr.difference.value).toBe(0.5); // 1 − 0.5
    expect(r.spreads.fpr.difference.value).toBeCloseTo(1 / 30, 12); // 0.2 − 1/6
    expectNoNaN(r);
  });
});

describe('modelBias: several groups', () => {
  // a (privileged): (1,1) (0,1) (1,0) (0,0) → sel 2/4 = 0.5, TPR 1/2, FPR 1/2
  // b: (1,1) (0,0)×3 (1,0)                  → sel 1/5 = 0.2, TPR 1/2, FPR 0/3 = 0
  // c: (0,1)×2                              → sel 1, TPR undefined (no positives), FPR 2/2 = 1
  // d: (1,1)×2 (0,0)×3                      → sel 2/5 = 0.4, TPR 1, FPR 0
  // e: (0,1)×5 (0,0)×3                      → sel 5/8 = 0.625, TPR undefined, FPR 5/8
  // z: listed in groupValues, no samples.
  const input = build(
    {
      a: [[1, 1], [0, 1], [1, 0], [0, 0]],
      b: [[1, 1], ...rep([0, 0], 3), [1, 0]],
      c: rep([0, 1], 2),
      d: [...rep([1, 1], 2), ...rep([0, 0], 3)],
      e: [...rep([0, 1], 5), ...rep([0, 0], 3)],
    },
    { privileged: ['a'], groupValues: ['a', 'b', 'c', 'd', 'e', 'z'] },
  );
  const r = modelBias(input);

  it('flags DI below 0.8 and above 1.25, and not on the boundaries', () => {
    // b: 0.2 / 0.5 = 0.4 → flagged low.   c: 1 / 0.5 = 2 → flagged high.
    expect(comparison(r, 'b').disparateImpact).toEqual({ value: 0.4, flag: 'outside-four-fifths' });
    expect(comparison(r, 'c').disparateImpact).toEqual({ value: 2, flag: 'outside-four-fifths' });
    // d: 0.4 / 0.5 = 0.8 exactly; e: 0.625 / 0.5 = 1.25 exactly → both inside, no flag.
    expect(comparison(r, 'd').disparateImpact).toEqual({ value: 0.8 });
    expect(comparison(r, 'e').disparateImpact).toEqual({ value: 1.25 });
  });

  it('a group with no positives has TPR, EOD and AOD undefined with the reason, SPD still defined', () => {
    const c = comparison(r, 'c');
    const why = 'group "c" has no samples whose true label is the favourable class';
    expect(group(r, 'c').tpr).toEqual({ value: undefined, reason: why });
    expect(c.equalOpportunityDifference).toEqual({ value: undefined, reason: why });
    expect(c.averageOddsDifference).toEqual({ value: undefined, reason: why });
    expect(c.statisticalParityDifference.value).toBe(0.5); // 1 − 0.5
  });

  it('an empty group is listed with undefined metrics and a reason', () => {
    const z = group(r, 'z');
    expect(z.n).toBe(0);
    expect(z.selectionRate).toEqual({ value: undefined, reason: 'group "z" has no samples' });
    expect(z.tpr.reason).toBe('group "z" has no samples');
    expect(comparison(r, 'z').disparateImpact).toEqual({ value: undefined, reason: 'group "z" has no samples' });
  });

  it('max − min and min / max over the groups where the rate is defined', () => {
    expect(r.spreads.selectionRate.difference.value).toBeCloseTo(0.8, 12); // 1 (c) − 0.2 (b)
    expect(r.spreads.selectionRate.ratio.value).toBeCloseTo(0.2, 12); // 0.2 / 1
    expect(r.spreads.selectionRate.over).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(r.spreads.tpr.difference.value).toBe(0.5); // 1 (d) − 0.5 (a, b); c, e have no positives
    expect(r.spreads.tpr.over).toEqual(['a', 'b', 'd']);
    expect(r.spreads.fpr.difference.value).toBe(1); // 1 (c) − 0 (b, d)
  });

  it('pools every unprivileged group against the privileged one', () => {
    // b+c+d+e: n 20, predicted favourable 1+2+2+5 = 10 → 0.5; a 0.5 → SPD 0, DI 1.
    expect(r.pooledComparison.statisticalParityDifference.value).toBe(0);
    expect(r.pooledComparison.disparateImpact).toEqual({ value: 1 });
    expectNoNaN(r);
  });

  it('pools several privileged values into one reference group', () => {
    // a+d: n 9, predicted favourable 4 → 4/9. b: 1/5 → SPD 1/5 − 4/9 = −11/45; DI (1·9)/(4·5) = 0.45.
    const r2 = modelBias({ ...input, privileged: ['a', 'd'] });
    expect(r2.privilegedPooled).toMatchObject({ group: 'a | d', n: 9, predictedFavourable: 4 });
    expect(r2.comparisons.map((c) => c.unprivileged)).toEqual(['b', 'c', 'e', 'z']);
    expect(comparison(r2, 'b').statisticalParityDifference.value).toBeCloseTo(-11 / 45, 12);
    expect(comparison(r2, 'b').disparateImpact.value).toBeCloseTo(0.45, 12);
  });
});

describe('modelBias: nothing to compare', () => {
  it('a single group gives undefined differences with "only one group"', () => {
    const r = modelBias(build({ m: [[1, 1], [0, 0], [1, 0]] }));
    expect(r.comparisons).toEqual([]);
    expect(r.spreads.selectionRate.difference).toEqual({ value: undefined, reason: ONLY_ONE_GROUP_REASON });
    expect(r.spreads.selectionRate.ratio).toEqual({ value: undefined, reason: ONLY_ONE_GROUP_REASON });
    expect(r.spreads.tpr.difference.reason).toBe(ONLY_ONE_GROUP_REASON);
    expect(r.pooledComparison.statisticalParityDifference).toEqual({ value: undefined, reason: ONLY_ONE_GROUP_REASON });
    // The group's own rates are still there.
    expect(group(r, 'm').accuracy.value).toBeCloseTo(2 / 3, 12);
    expectNoNaN(r);
  });

  it('a single unprivileged group with no privileged sample: "only one group" too', () => {
    const r = modelBias(build({ f: [[1, 1]] }));
    expect(group(r, 'm').n).toBe(0);
    expect(comparison(r, 'f').statisticalParityDifference).toEqual({ value: undefined, reason: ONLY_ONE_GROUP_REASON });
  });

  it('no privileged sample but two other groups: says the privileged group is empty', () => {
    const r = modelBias(build({ f: [[1, 1]], x: [[0, 0]] }));
    expect(comparison(r, 'f').disparateImpact).toEqual({ value: undefined, reason: 'no sample belongs to the privileged group (m)' });
    // The spread does not need a privileged group: 1 − 0.
    expect(r.spreads.selectionRate.difference.value).toBe(1);
    expect(r.spreads.selectionRate.ratio.value).toBe(0);
  });

  it('DI is undefined when no privileged sample was predicted favourable; SPD is not', () => {
    const r = modelBias(build({ m: [[1, 0], [0, 0]], f: [[1, 1], [0, 0]] }));
    const c = comparison(r, 'f');
    expect(c.disparateImpact).toEqual({ value: undefined, reason: 'no privileged sample was predicted favourable' });
    expect(c.statisticalParityDifference.value).toBe(0.5); // 1/2 − 0/2
    // FPR: m 0/1, f 0/1 → 0; TPR: f 1/1 − m 0/1 = 1 → AOD ½(0 + 1) = 0.5.
    expect(c.averageOddsDifference.value).toBe(0.5);
  });

  it('min / max is undefined when no group was predicted favourable', () => {
    const r = modelBias(build({ m: [[1, 0]], f: [[0, 0]] }));
    expect(r.spreads.selectionRate.difference.value).toBe(0);
    expect(r.spreads.selectionRate.ratio).toEqual({ value: undefined, reason: 'no group had a sample predicted favourable' });
    // m has no negatives, f no positives: each rate is defined for one group only.
    expect(r.spreads.tpr.difference.reason).toBe('fewer than two groups have samples whose true label is the favourable class');
    expect(comparison(r, 'f').averageOddsDifference.reason).toBe(
      'group "m" has no samples whose true label is not the favourable class; group "f" has no samples whose true label is the favourable class',
    );
    expectNoNaN(r);
  });
});

describe('modelBias: input checks', () => {
  it('rejects columns of different lengths', () => {
    expect(() => modelBias({ ...build({ m: [[1, 1]] }), predictedLabels: [1, 0] })).toThrowError(
      expect.objectContaining({ name: 'InvalidInputError', message: expect.stringMatching(/differ in length/) }),
    );
  });

  it('rejects an empty privileged list and a privileged value the attribute does not have', () => {
    expect(() => modelBias(build({ m: [[1, 1]] }, { privileged: [] }))).toThrowError(/No privileged group/);
    expect(() => modelBias(build({ m: [[1, 1]] }, { privileged: ['M'], groupValues: ['m', 'f'] }))).toThrowError(
      /"M" is not a value of this attribute \(values: m, f\)/,
    );
    expect(() => modelBias(build({ m: [[1, 1]] }, { favourableClass: -1 }))).toThrowError(/not a class index/);
  });
});

describe('groupsFromVersion', () => {
  const version: DatasetVersion = {
    projectId: 'p',
    number: 3,
    createdAt: 0,
    parentVersionId: null,
    recipe: null,
    note: '',
    classes: ['0', '1'],
    sampleIds: Uint32Array.from([1, 2, 3, 4]),
    labels: Int16Array.from([0, 1, 1, -1]),
    splits: Uint8Array.from([0, 0, 2, 2]),
    provenance: Uint8Array.from([0, 0, 0, 0]),
    attributes: { color: { values: ['green', 'red'], codes: Int16Array.from([1, -1, 0, 1]) } },
  };

  it('decodes attribute codes, -1 as null, for all samples or for indices', () => {
    expect(groupsFromVersion(version, 'color')).toEqual(['red', null, 'green', 'red']);
    expect(groupsFromVersion(version, 'color', [2, 3])).toEqual(['green', 'red']);
  });

  it('names the attributes that exist when asked for one that does not', () => {
    expect(() => groupsFromVersion(version, 'colour')).toThrowError(/no attribute "colour". Pick one of: color/);
  });
});

describe('FOUR_FIFTHS_NOTE', () => {
  it('says the rule is an EEOC convention, not a law of nature', () => {
    expect(FOUR_FIFTHS_NOTE).toMatch(/convention/);
    expect(FOUR_FIFTHS_NOTE).toMatch(/EEOC/);
    expect(FOUR_FIFTHS_NOTE).toMatch(/not a law of nature/);
  });
});
