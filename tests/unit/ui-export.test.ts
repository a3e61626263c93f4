import { describe, expect, it } from 'vitest';
import { modelBias, type ModelBiasInput } from '../../src/lib/analysis/model-bias';
import type { SliceResult } from '../../src/lib/evaluate/slices';
import { BOARDS } from '../../src/lib/export/boards';
import type { ExportReport, GroupComparisonReport, SplitComparison } from '../../src/lib/export/export-job';
import {
  BUNDLE_FILE_NAME,
  DEFAULT_BOARD_ID,
  DEFAULT_CALIBRATION_METHOD,
  DEFAULT_CALIBRATION_SAMPLES,
  DEFAULT_EXPORT_SEED,
  DEFAULT_MAX_EVAL_PER_SPLIT,
  GROUP_DROP_FLAG_POINTS,
} from '../../src/lib/export/spec';
import {
  barPercent,
  checkExportForm,
  classBars,
  comparisonRows,
  flagSupportCounts,
  quantizationGapOf,
  defaultBoardId,
  deltaPoints,
  deltaTone,
  downloadFileName,
  downloadRows,
  downloadsAllowed,
  downloadTestId,
  flaggedSummary,
  formatAbsDiff,
  formatAccuracy,
  formatDeltaPoints,
  formatRatioPercent,
  formatSignedMetric,
  groupRows,
  metricChange,
  mimeTypeOf,
  reportSplit,
  selectedBoard,
  shortSha,
  sliceRows,
  type ExportForm,
} from '../../src/ui/export/export-view';

const MINUS = '\u2212';

const validForm: ExportForm = {
  modelId: 'model-1',
  method: DEFAULT_CALIBRATION_METHOD,
  samples: DEFAULT_CALIBRATION_SAMPLES,
  seed: DEFAULT_EXPORT_SEED,
  evalCap: 'capped',
  boardId: DEFAULT_BOARD_ID,
  favourableClass: 2,
};

describe('the default board', () => {
  it('defaults to the Arduino Nano 33 BLE Sense, which is in BOARDS', () => {
    const id = defaultBoardId(BOARDS);
    expect(id).toBe(DEFAULT_BOARD_ID);
    expect(BOARDS.find((b) => b.id === id)?.name).toMatch(/Nano 33 BLE Sense/);
    expect(defaultBoardId(BOARDS.filter((b) => b.id !== DEFAULT_BOARD_ID))).toBe(BOARDS.find((b) => b.id !== DEFAULT_BOARD_ID)?.id);
    expect(defaultBoardId([])).toBe('');
  });
});

describe('checkExportForm', () => {
  it('turns the default form into the job request', () => {
    const r = checkExportForm(validForm);
    expect(r).toEqual({
      ok: true,
      settings: {
        modelId: 'model-1',
        calibration: { method: 'mse', samples: 300, seed: 1234 },
        maxEvalPerSplit: DEFAULT_MAX_EVAL_PER_SPLIT,
        boardId: DEFAULT_BOARD_ID,
        favourableClass: 2,
      },
    });
  });

  it('asks for every sample when the cap is "all"', () => {
    const r = checkExportForm({ ...validForm, evalCap: 'all', method: 'percentile' });
    expect(r.ok && r.settings.maxEvalPerSplit).toBe(null);
    expect(r.ok && r.settings.calibration.method).toBe('percentile');
  });

  it.each([
    ['samples', { samples: 0 }],
    ['samples', { samples: 2.5 }],
    ['samples', { samples: null }],
    ['samples', { samples: 1e6 }],
    ['seed', { seed: -1 }],
    ['seed', { seed: null }],
    ['seed', { seed: 0.5 }],
    ['modelId', { modelId: '' }],
    ['boardId', { boardId: '' }],
  ] as const)('names the field to fix: %s in %o', (field, change) => {
    const r = checkExportForm({ ...validForm, ...change });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(Object.keys(r.errors)).toEqual([field]);
  });

  it('accepts seed 0 and one calibration sample', () => {
    expect(checkExportForm({ ...validForm, seed: 0, samples: 1 }).ok).toBe(true);
  });
});

describe('number formatting', () => {
  it('writes the size ratio as a percentage with one decimal', () => {
    expect(formatRatioPercent(0.2744)).toBe('27.4 %');
    expect(formatRatioPercent(1)).toBe('100.0 %');
    expect(formatRatioPercent(Number.NaN)).toBe('—');
  });

  it('writes accuracies as percentages and null as a dash', () => {
    expect(formatAccuracy(0.98234)).toBe('98.2%');
    expect(formatAccuracy(null)).toBe('—');
  });

  it('gives changes in points with a typographic minus, and no sign for zero', () => {
    expect(deltaPoints(0.95, 0.932)).toBeCloseTo(-1.8, 10);
    expect(formatDeltaPoints(deltaPoints(0.95, 0.932))).toBe(`${MINUS}1.8 pts`);
    expect(formatDeltaPoints(deltaPoints(0.9, 0.904))).toBe('+0.4 pts');
    expect(formatDeltaPoints(deltaPoints(0.9, 0.90004))).toBe('±0.0 pts');
    expect(formatDeltaPoints(-0.04)).toBe('±0.0 pts');
    expect(deltaPoints(null, 0.5)).toBe(null);
    expect(formatDeltaPoints(null)).toBe('—');
  });

  it('marks a drop past the group-flag threshold as bad and a smaller drop as a warning', () => {
    expect(deltaTone(-(GROUP_DROP_FLAG_POINTS + 0.1))).toBe('bad');
    expect(deltaTone(-0.3)).toBe('warn');
    // Judged as shown: a change that reads −1.0 is not past the threshold, one that reads −0.0 is no drop.
    expect(deltaTone(-GROUP_DROP_FLAG_POINTS - 1e-9)).toBe('warn');
    expect(deltaTone(-0.01)).toBe('neutral');
    expect(deltaTone(0.5)).toBe('neutral');
    expect(deltaTone(null)).toBe('neutral');
  });

  it('signs metric changes and keeps the reason of an undefined side', () => {
    expect(formatSignedMetric(metricChange({ value: 0.5 }, { value: 0.2 }))).toBe(`${MINUS}0.300`);
    expect(formatSignedMetric({ value: 0.0123 })).toBe('+0.012');
    expect(metricChange({ value: undefined, reason: 'empty group' }, { value: 0.2 })).toEqual({ value: undefined, reason: 'float: empty group' });
    expect(metricChange({ value: 0.1 }, { value: undefined, reason: 'no positives' })).toEqual({ value: undefined, reason: 'int8: no positives' });
    expect(formatSignedMetric({ value: undefined, reason: 'x' })).toBe('—');
  });

  it('writes tiny check differences by their exponent', () => {
    expect(formatAbsDiff(3.14e-6)).toBe('3.1e-6');
    expect(formatAbsDiff(0)).toBe('0');
    expect(formatAbsDiff(0.25)).toBe('0.250');
  });

  it('clamps usage bars to 0..100 %', () => {
    expect(barPercent(0.5)).toBe(50);
    expect(barPercent(1.7)).toBe(100);
    expect(barPercent(-1)).toBe(0);
    expect(barPercent(Number.POSITIVE_INFINITY)).toBe(0);
  });
});

type Pair = [y: number, yHat: number];
const rep = (pair: Pair, k: number): Pair[] => Array.from({ length: k }, () => pair);

function biasInput(groups: Record<string, Pair[]>): ModelBiasInput {
  const trueLabels: number[] = [];
  const predictedLabels: number[] = [];
  const g: string[] = [];
  for (const [name, pairs] of Object.entries(groups)) {
    for (const [y, yHat] of pairs) {
      trueLabels.push(y);
      predictedLabels.push(yHat);
      g.push(name);
    }
  }
  return { trueLabels, predictedLabels, groups: g, favourableClass: 1, privileged: ['m'], groupValues: Object.keys(groups) };
}

describe('group tables', () => {
  // m: float 10/10 correct, int8 10/10. f: float 9/10, int8 3/10 (a 60-point drop). x: float 5/5, int8 5/5.
  const float = modelBias(
    biasInput({ m: [...rep([1, 1], 5), ...rep([0, 0], 5)], f: [...rep([1, 1], 4), [1, 0], ...rep([0, 0], 5)], x: rep([1, 1], 5) }),
  );
  const int8 = modelBias(
    biasInput({ m: [...rep([1, 1], 5), ...rep([0, 0], 5)], f: [...rep([1, 1], 2), ...rep([1, 0], 3), [0, 0], ...rep([0, 1], 4)], x: rep([1, 1], 5) }),
  );
  const report: GroupComparisonReport = { attribute: 'color', privileged: ['m'], float, int8, flagged: ['f'] };

  it('pairs each group float → int8 with its change in points and its flag', () => {
    const rows = groupRows(report);
    expect(rows.map((r) => r.group)).toEqual(float.groups.map((g) => g.group));
    const f = rows.find((r) => r.group === 'f');
    expect(f?.accuracyDeltaPoints).toBeCloseTo(-60, 10);
    expect(f?.flagged).toBe(true);
    expect(f?.int8?.accuracy.value).toBeCloseTo(0.3, 10);
    const m = rows.find((r) => r.group === 'm');
    expect(m?.privileged).toBe(true);
    expect(m?.flagged).toBe(false);
    expect(m?.accuracyDeltaPoints).toBe(0);
    expect(flaggedSummary(rows)).toBe(`f ${MINUS}60.0 pts`);
  });

  it('compares every unprivileged group, float, int8 and change, with the pooled row last', () => {
    const rows = comparisonRows(report);
    expect(rows.map((r) => [r.unprivileged, r.pooled])).toEqual([
      ...float.comparisons.map((c) => [c.unprivileged, false]),
      [float.pooledComparison.unprivileged, true],
    ]);
    const f = rows.find((r) => r.unprivileged === 'f' && !r.pooled);
    const spdFloat = float.comparisons.find((c) => c.unprivileged === 'f')?.statisticalParityDifference.value as number;
    const spdInt8 = int8.comparisons.find((c) => c.unprivileged === 'f')?.statisticalParityDifference.value as number;
    expect(f?.cells.statisticalParityDifference.change.value).toBeCloseTo(spdInt8 - spdFloat, 12);
    // f's int8 selection rate 0.6 against m's 0.5 is inside the band; float's 0.4 / 0.5 = 0.8 is on its edge.
    expect(f?.cells.disparateImpact.int8.value).toBeCloseTo(1.2, 12);
    expect(f?.cells.disparateImpact.int8Flag).toBe(false);
    expect(f?.cells.statisticalParityDifference.floatFlag).toBe(false);
    // x is always favourable: DI = 1 / 0.5 = 2, outside the four-fifths band in both models.
    const x = rows.find((r) => r.unprivileged === 'x' && !r.pooled);
    expect(x?.cells.disparateImpact.floatFlag).toBe(true);
    expect(x?.cells.disparateImpact.int8Flag).toBe(true);
  });

  it('backs no four-fifths flag on five samples: x\'s 5/5 against m\'s 5/10 could be chance', () => {
    const rows = comparisonRows(report);
    const x = rows.find((r) => r.unprivileged === 'x' && !r.pooled);
    expect(x?.cells.disparateImpact.floatEvidence).toMatchObject({ favourable: 5, n: 5, referenceFavourable: 5, referenceN: 10, support: 'unsupported' });
    expect(x?.cells.disparateImpact.floatEvidence?.interval?.low).toBeLessThan(1.25);
    expect(flagSupportCounts(rows).supported).toBe(0);
    expect(flagSupportCounts(rows).unsupported).toBeGreaterThanOrEqual(2);
  });

  it('gives each group its int8 − float accuracy and names the one hurt beyond the overall change', () => {
    const q = quantizationGapOf(report);
    expect(q.groups.map((g) => [g.group, g.change])).toEqual([
      ['m', 0],
      ['f', -0.6],
      ['x', 0],
    ]);
    expect(q.overallChange).toBeCloseTo(-6 / 25, 12);
    expect(q.mostHurt?.group).toBe('f');
    // The float model's worst-off group is f (9/10), int8's too (3/10); x (5 samples) is never picked.
    expect(q.float.gap?.group.group).toBe('f');
    expect(q.int8.gap?.group).toEqual({ group: 'f', n: 10, hits: 3, rate: 0.3 });
    expect(q.int8.tooSmall).toEqual(['x']);
  });

  it('has no pooled row for a single unprivileged group', () => {
    const two = { ...report, float: modelBias(biasInput({ m: rep([1, 1], 3), f: rep([0, 0], 3) })), int8: modelBias(biasInput({ m: rep([1, 1], 3), f: rep([0, 0], 3) })) };
    expect(comparisonRows(two).map((r) => r.pooled)).toEqual([false]);
  });
});

function slice(id: string, status: SliceResult['status'], accuracy: number | undefined): SliceResult {
  return {
    sliceId: id,
    name: `slice ${id}`,
    n: 20,
    correct: accuracy === undefined ? 0 : Math.round(accuracy * 20),
    accuracy: accuracy === undefined ? { value: undefined, reason: 'no labelled samples' } : { value: accuracy },
    minAccuracy: 0.9,
    status,
    unlabeled: 0,
    missingStats: 0,
  };
}

describe('data unit tests', () => {
  it('joins float and int8 results by slice, the int8 status deciding', () => {
    const rows = sliceRows({ float: [slice('b', 'pass', 0.95), slice('a', 'pass', 0.92)], int8: [slice('a', 'fail', 0.85), slice('b', 'pass', 0.95), slice('c', 'undefined', undefined)] });
    expect(rows.map((r) => [r.sliceId, r.float.value, r.int8.value, r.status, r.floatStatus])).toEqual([
      ['a', 0.92, 0.85, 'fail', 'pass'],
      ['b', 0.95, 0.95, 'pass', 'pass'],
      ['c', undefined, undefined, 'undefined', null],
    ]);
  });

  it('allows downloads when nothing blocks them or after an override', () => {
    expect(downloadsAllowed({ blocked: [], override: null })).toBe(true);
    expect(downloadsAllowed({ blocked: ['slice a fails'], override: null })).toBe(false);
    expect(downloadsAllowed({ blocked: ['slice a fails'], override: { at: 1 } })).toBe(true);
  });
});

describe('download list', () => {
  const files: ExportReport['files'] = [
    { name: 'lenet_int8.tflite', bytes: 10, sha256: 'a'.repeat(64), description: 'tflite' },
    { name: 'tfjs/model.json', bytes: 20, sha256: 'b'.repeat(64), description: 'topology' },
    { name: 'tfjs/weights.bin', bytes: 30, sha256: 'c'.repeat(64), description: 'weights' },
    { name: BUNDLE_FILE_NAME, bytes: 40, sha256: '0123456789abcdef'.repeat(4), description: 'zip' },
  ];

  it('puts the all-in-one zip first and keeps the rest in order', () => {
    expect(downloadRows(files).map((r) => [r.name, r.bundle])).toEqual([
      [BUNDLE_FILE_NAME, true],
      ['lenet_int8.tflite', false],
      ['tfjs/model.json', false],
      ['tfjs/weights.bin', false],
    ]);
  });

  it('gives each file a selector-safe test id and saves it under its base name', () => {
    const rows = downloadRows(files);
    expect(rows.map((r) => r.testId)).toEqual([
      'download-hearth-export.zip',
      'download-lenet_int8.tflite',
      'download-tfjs_model.json',
      'download-tfjs_weights.bin',
    ]);
    // model.json names its weights "weights.bin": a download must keep that name to load.
    expect(rows.map((r) => r.fileName)).toEqual(['hearth-export.zip', 'lenet_int8.tflite', 'model.json', 'weights.bin']);
    expect(downloadTestId('a/b/c.h')).toBe('download-a_b_c.h');
    expect(downloadFileName('plain.txt')).toBe('plain.txt');
  });

  it('shortens the hash to 12 hex characters and picks a MIME type by extension', () => {
    expect(shortSha('0123456789abcdef'.repeat(4))).toBe('0123456789ab');
    expect(mimeTypeOf('metadata.json')).toBe('application/json');
    expect(mimeTypeOf('x_arduino.zip')).toBe('application/zip');
    expect(mimeTypeOf('lenet_int8.tflite')).toBe('application/octet-stream');
    expect(mimeTypeOf('README')).toBe('application/octet-stream');
  });
});

describe('per-class bars and the report split', () => {
  const val: SplitComparison = {
    split: 'val',
    evaluated: 10,
    total: 10,
    float: { accuracy: 0.9, perClassAccuracy: [1, 0.8] },
    int8: { accuracy: 0.85, perClassAccuracy: [1, 0.7] },
    agreement: 0.95,
  };
  const test: SplitComparison = {
    split: 'test',
    evaluated: 8,
    total: 12,
    float: { accuracy: 0.75, perClassAccuracy: [0.5, 1, null] },
    int8: { accuracy: 0.75, perClassAccuracy: [0.25, 1, null] },
    agreement: 0.875,
  };

  it('uses test when it was evaluated, else val, else nothing', () => {
    expect(reportSplit({ splits: [val, test] })?.split).toBe('test');
    expect(reportSplit({ splits: [val] })?.split).toBe('val');
    expect(reportSplit({ splits: [] })).toBe(null);
  });

  it('pairs float and int8 per class, null for a class without samples', () => {
    const bars = classBars(['zero', 'one', 'two'], test);
    expect(bars.map((b) => [b.name, b.float, b.int8])).toEqual([
      ['zero', 0.5, 0.25],
      ['one', 1, 1],
      ['two', null, null],
    ]);
    expect(bars[0]?.deltaPoints).toBeCloseTo(-25, 10);
    expect(bars[2]?.deltaPoints).toBe(null);
  });

  it('finds the board chosen at export time', () => {
    const boards = BOARDS.map((b) => ({ id: b.id, name: b.name, fits: b.id !== 'nano-33-ble-sense', flashUsed: 1, ramUsed: 1, flashFraction: 0.1, ramFraction: 0.1, problems: [] }));
    expect(selectedBoard({ boards, boardId: 'nano-33-ble-sense' })?.fits).toBe(false);
    expect(selectedBoard({ boards, boardId: 'no-such-board' })).toBe(null);
  });
});
