import { describe, expect, it } from 'vitest';
import { SELECT_METHODS, type LabelRound } from '../../src/lib/select/types';
import {
  answerOf,
  classHotkeys,
  currentId,
  draftCounts,
  draftFromRound,
  formatDraftCounts,
  goTo,
  hotkeyFor,
  keyAction,
  labelCurrent,
  moveCursor,
  skipCurrent,
  undo,
  type RoundDraft,
} from '../../src/ui/label/labeling';
import {
  CLASS_COLOURS,
  checkEpochs,
  checkPickForm,
  classStyle,
  DEFAULT_LABEL_BUDGET,
  DEFAULT_LABEL_METHOD,
  DEFAULT_RETRAIN_EPOCHS,
  formatAccuracy,
  historyRows,
  labelAxis,
  labelsGiven,
  lineSummary,
  METHOD_OPTIONS,
  overallLine,
  perClassLines,
  roundsWithDraft,
} from '../../src/ui/label/label-view';

function round(over: Partial<LabelRound> & Pick<LabelRound, 'round'>): LabelRound {
  return {
    method: 'ours',
    seed: 1,
    budget: 4,
    picks: [],
    labels: {},
    skipped: [],
    selectedWith: 'm0',
    retrainedModelId: null,
    labelCount: 0,
    accuracy: null,
    perClassAccuracy: [],
    createdAt: 0,
    ...over,
  };
}

/** Ten picks, ids 100..109, nothing answered. */
function freshDraft(): RoundDraft {
  return draftFromRound({ round: 1, picks: Array.from({ length: 10 }, (_, i) => 100 + i), labels: {}, skipped: [] });
}

describe('round draft', () => {
  it('starts at the first image without an answer, so a reload goes on where it stopped', () => {
    const d = draftFromRound({ round: 2, picks: [5, 6, 7, 8], labels: { 5: 1, 7: 0 }, skipped: [6] });
    expect(d.cursor).toBe(3);
    expect(currentId(d)).toBe(8);
    expect(d.history).toEqual([]);
    const all = draftFromRound({ round: 2, picks: [5, 6], labels: { 5: 1 }, skipped: [6] });
    expect(all.cursor).toBe(0);
  });

  it('labels the shown image and moves to the next, staying on the last', () => {
    let d = freshDraft();
    d = labelCurrent(d, 3);
    expect(d.labels).toEqual({ 100: 3 });
    expect(d.cursor).toBe(1);
    d = goTo(d, 9);
    d = labelCurrent(d, 4);
    expect(d.cursor).toBe(9);
    expect(answerOf(d, 109)).toEqual({ kind: 'label', cls: 4 });
  });

  it('relabelling replaces a skip and a skip replaces a label: one answer per image', () => {
    let d = freshDraft();
    d = skipCurrent(d);
    d = goTo(d, 0);
    d = labelCurrent(d, 2);
    expect(d.skipped).toEqual([]);
    expect(d.labels).toEqual({ 100: 2 });
    d = goTo(d, 0);
    d = skipCurrent(d);
    expect(d.labels).toEqual({});
    expect(d.skipped).toEqual([100]);
  });

  it('undo restores what the action replaced and shows that image again, step by step', () => {
    let d = freshDraft();
    d = labelCurrent(d, 1); // 100 → 1
    d = skipCurrent(d); // 101 skipped
    d = goTo(d, 0);
    d = labelCurrent(d, 7); // 100: 1 → 7
    expect(d.cursor).toBe(1);

    d = undo(d);
    expect(d.labels).toEqual({ 100: 1 });
    expect(d.cursor).toBe(0);
    d = undo(d);
    expect(d.skipped).toEqual([]);
    expect(d.cursor).toBe(1);
    d = undo(d);
    expect(d.labels).toEqual({});
    expect(d.history).toEqual([]);
    // Nothing left to undo: the same draft back.
    expect(undo(d)).toBe(d);
  });

  it('moves stay inside the round and are not undoable actions', () => {
    let d = freshDraft();
    d = moveCursor(d, -1);
    expect(d.cursor).toBe(0);
    d = moveCursor(d, 25);
    expect(d.cursor).toBe(9);
    expect(d.history).toEqual([]);
    expect(goTo(d, 9)).toBe(d);
  });

  it('ignores a class that is not a class index, and an empty round', () => {
    const d = freshDraft();
    expect(labelCurrent(d, -1)).toBe(d);
    expect(labelCurrent(d, 1.5)).toBe(d);
    const empty = draftFromRound({ round: 1, picks: [], labels: {}, skipped: [] });
    expect(labelCurrent(empty, 0)).toBe(empty);
    expect(skipCurrent(empty)).toBe(empty);
  });

  it('counts only answers for this round’s picks', () => {
    let d = freshDraft();
    d = labelCurrent(d, 0);
    d = labelCurrent(d, 1);
    d = skipCurrent(d);
    const c = draftCounts({ ...d, labels: { ...d.labels, 999: 3 } });
    expect(c).toEqual({ labelled: 2, skipped: 1, left: 7 });
    expect(formatDraftCounts(c)).toBe('labelled 2, skipped 1, left 7');
  });
});

/** Class names that are not digits, so keys go by position. */
function named(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `class-${i}`);
}
const DIGITS = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

describe('keys', () => {
  it('maps 1–9 and 0 to the first ten classes by position', () => {
    expect(keyAction('1', named(10), '')).toEqual({ kind: 'label', cls: 0 });
    expect(keyAction('9', named(10), '')).toEqual({ kind: 'label', cls: 8 });
    expect(keyAction('0', named(10), '')).toEqual({ kind: 'label', cls: 9 });
    expect(hotkeyFor(0, named(10))).toBe('1');
    expect(hotkeyFor(9, named(10))).toBe('0');
    // A key past the last class does nothing.
    expect(keyAction('4', named(3), '')).toEqual({ kind: 'none' });
    expect(keyAction('0', named(3), '')).toEqual({ kind: 'none' });
  });

  it('gives classes named by single digits their own digit', () => {
    expect(classHotkeys(DIGITS)).toEqual(DIGITS);
    expect(keyAction('3', DIGITS, '')).toEqual({ kind: 'label', cls: 3 });
    expect(keyAction('0', DIGITS, '')).toEqual({ kind: 'label', cls: 0 });
    expect(keyAction('1', ['5', '8', '9'], '')).toEqual({ kind: 'none' });
    expect(keyAction('8', ['5', '8', '9'], '')).toEqual({ kind: 'label', cls: 1 });
    // A repeated digit name cannot be told apart by its key: back to positions.
    expect(classHotkeys(['1', '1'])).toEqual(['1', '2']);
    expect(classHotkeys(['cat', '1'])).toEqual(['1', '2']);
  });

  it('with more than ten classes, builds a class index that Enter confirms', () => {
    const twelve = named(12);
    expect(classHotkeys(twelve)).toBeNull();
    expect(hotkeyFor(0, twelve)).toBeNull();
    expect(keyAction('1', twelve, '')).toEqual({ kind: 'typed', typed: '1' });
    expect(keyAction('1', twelve, '1')).toEqual({ kind: 'typed', typed: '11' });
    expect(keyAction('Enter', twelve, '11')).toEqual({ kind: 'label', cls: 11 });
    // "13" is past the last class: the digit starts a new index.
    expect(keyAction('3', twelve, '1')).toEqual({ kind: 'typed', typed: '3' });
    expect(keyAction('5', twelve, '0')).toEqual({ kind: 'typed', typed: '5' });
    expect(keyAction('Backspace', twelve, '11')).toEqual({ kind: 'typed', typed: '1' });
    expect(keyAction('Escape', twelve, '7')).toEqual({ kind: 'typed', typed: '' });
    // Enter with nothing typed is left to the focused control.
    expect(keyAction('Enter', twelve, '')).toEqual({ kind: 'none' });
  });

  it('skip, undo and arrows', () => {
    expect(keyAction('s', DIGITS, '')).toEqual({ kind: 'skip' });
    expect(keyAction('u', DIGITS, '')).toEqual({ kind: 'undo' });
    expect(keyAction('Backspace', DIGITS, '')).toEqual({ kind: 'undo' });
    expect(keyAction('Backspace', named(12), '')).toEqual({ kind: 'undo' });
    expect(keyAction('ArrowLeft', DIGITS, '')).toEqual({ kind: 'move', delta: -1 });
    expect(keyAction('ArrowRight', DIGITS, '')).toEqual({ kind: 'move', delta: 1 });
    expect(keyAction('x', DIGITS, '')).toEqual({ kind: 'none' });
  });
});

describe('pick form', () => {
  it('explains every method, ours first by default', () => {
    expect(METHOD_OPTIONS.map((m) => m.id)).toEqual([...SELECT_METHODS]);
    for (const m of METHOD_OPTIONS) expect(m.hint.length).toBeGreaterThan(10);
    expect(DEFAULT_LABEL_METHOD).toBe('ours');
    expect(DEFAULT_LABEL_BUDGET).toBe(125);
  });

  it('accepts a budget up to the pool and a non-negative whole seed', () => {
    expect(checkPickForm({ method: 'random', budget: 125, seed: 3 }, 500)).toEqual({
      ok: true,
      req: { method: 'random', budget: 125, seed: 3 },
    });
    const tooMany = checkPickForm({ method: 'ours', budget: 501, seed: 3 }, 500);
    expect(tooMany.ok).toBe(false);
    if (!tooMany.ok) expect(tooMany.errors.budget).toContain('500');
    const bad = checkPickForm({ method: 'ours', budget: null, seed: -1 }, 500);
    expect(bad.ok ? [] : Object.keys(bad.errors).sort()).toEqual(['budget', 'seed']);
    const empty = checkPickForm({ method: 'ours', budget: 1, seed: 0 }, 0);
    expect(empty.ok ? '' : empty.errors.budget).toContain('nothing left');
  });

  it('checks epochs', () => {
    expect(checkEpochs(DEFAULT_RETRAIN_EPOCHS)).toBe(5);
    expect(checkEpochs(0)).toBeNull();
    expect(checkEpochs(2.5)).toBeNull();
    expect(checkEpochs(null)).toBeNull();
  });
});

describe('rounds, history and chart data', () => {
  const closed1 = round({
    round: 1,
    method: 'random',
    seed: 7,
    picks: [1, 2, 3, 4],
    labels: { 1: 0, 2: 1, 3: 1 },
    skipped: [4],
    retrainedModelId: 'm1',
    labelCount: 203,
    accuracy: 0.5,
    perClassAccuracy: [0.4, null],
  });
  const closed2 = round({
    round: 2,
    picks: [5, 6],
    labels: { 5: 0, 6: 1 },
    retrainedModelId: 'm2',
    labelCount: 205,
    accuracy: 0.75,
    perClassAccuracy: [0.8, 0.7],
  });
  const open = round({ round: 3, picks: [7, 8, 9], labels: { 7: 1 } });

  it('lays the page’s answers over the open round, adding it when the session lists it apart', () => {
    const draft = { round: 3, labels: { 7: 0, 8: 1 }, skipped: [9] };
    const listed = roundsWithDraft([closed1, closed2, open], open, draft);
    const apart = roundsWithDraft([closed1, closed2], open, draft);
    for (const rounds of [listed, apart]) {
      expect(rounds.map((r) => r.round)).toEqual([1, 2, 3]);
      expect(rounds[2]?.labels).toEqual({ 7: 0, 8: 1 });
      expect(rounds[2]?.skipped).toEqual([9]);
      expect(rounds[0]).toBe(closed1);
    }
    // A draft of a round that is no longer open does not rewrite a closed one.
    expect(roundsWithDraft([closed1], null, { round: 1, labels: {}, skipped: [] })[0]).toBe(closed1);
    expect(labelsGiven(listed)).toBe(3 + 2 + 2);
  });

  it('history rows', () => {
    const rows = historyRows([closed1, closed2, open], 3);
    expect(rows[0]).toEqual({
      round: 1,
      method: 'random',
      seed: 7,
      picks: 4,
      labelled: 3,
      skipped: 1,
      labelsAfter: 203,
      accuracy: 0.5,
      open: false,
    });
    expect(rows[2]).toMatchObject({ round: 3, labelled: 1, labelsAfter: null, accuracy: null, open: true });
  });

  it('one overall point per retrained round, by label count; class gaps stay in their own line', () => {
    const overall = overallLine([closed1, closed2, open]);
    expect(overall.points).toEqual([
      { round: 1, labels: 203, accuracy: 0.5 },
      { round: 2, labels: 205, accuracy: 0.75 },
    ]);
    const lines = perClassLines([closed1, closed2, open], ['a', 'b']);
    expect(lines.map((l) => l.points.map((p) => p.round))).toEqual([[1, 2], [2]]);
    expect(lines[1]).toMatchObject({ id: 'class-1', label: 'b', cls: 1 });
    expect(lineSummary(overall)).toBe('205 labels: 75.0%; up 25.0 points since 203 labels');
    expect(lineSummary(overallLine([open]))).toBe('no retrained rounds yet');
    expect(formatAccuracy(0.898)).toBe('89.8%');
    expect(formatAccuracy(null)).toBe('—');
  });

  it('a label axis with round ticks covering the data, and a span around a single point', () => {
    const a = labelAxis([203, 328, 453, 578]);
    expect(a.lo).toBeLessThanOrEqual(203);
    expect(a.hi).toBeGreaterThanOrEqual(578);
    expect(a.ticks[0]).toBe(a.lo);
    expect(a.ticks.at(-1)).toBe(a.hi);
    const steps = new Set(a.ticks.slice(1).map((t, i) => t - (a.ticks[i] as number)));
    expect(steps.size).toBe(1);
    const step = [...steps][0] as number;
    expect([1, 2, 5].includes(step / 10 ** Math.floor(Math.log10(step)))).toBe(true);
    expect(a.ticks.length).toBeLessThanOrEqual(9);

    const one = labelAxis([125]);
    expect(one.lo).toBeLessThan(125);
    expect(one.hi).toBeGreaterThan(125);
    expect(labelAxis([])).toEqual({ lo: 0, hi: 1, ticks: [0, 1] });
  });

  it('class styles: distinct colours for ten classes, then dashes', () => {
    const ten = Array.from({ length: 10 }, (_, i) => classStyle(i));
    expect(new Set(ten.map((s) => s.colour)).size).toBe(CLASS_COLOURS.length);
    expect(ten.every((s) => s.dash === '')).toBe(true);
    expect(classStyle(10).colour).toBe(classStyle(0).colour);
    expect(classStyle(10).dash).not.toBe('');
  });
});
