import 'fake-indexeddb/auto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  MAX_AUGMENT_FACTOR,
  cellKey,
  countCells,
  getPlan,
  overrideAction,
  parseCellKey,
  planRebalance,
  savePlan,
  type PlanCell,
} from '../../src/lib/analysis/rebalance';
import { PROVENANCE_KINDS, SPLITS, type DatasetVersion, type ProvenanceKind, type Split } from '../../src/lib/storage/records';
import { openHearthDb, type HearthDb } from '../../src/lib/storage';

interface Block {
  label: string | null;
  split: Split;
  n: number;
  group?: string;
  provenance?: ProvenanceKind;
}

/** A DatasetVersion (plain columnar data) with `n` samples per block, as createVersion would store it. */
function makeVersion(classes: string[], blocks: Block[], attribute?: { name: string; values: string[] }): DatasetVersion {
  const total = blocks.reduce((s, b) => s + b.n, 0);
  const v: DatasetVersion = {
    id: 7,
    projectId: 'p',
    number: 3,
    createdAt: 0,
    parentVersionId: null,
    recipe: null,
    note: '',
    classes,
    sampleIds: new Uint32Array(total),
    labels: new Int16Array(total),
    splits: new Uint8Array(total),
    provenance: new Uint8Array(total),
    attributes: attribute ? { [attribute.name]: { values: attribute.values, codes: new Int16Array(total) } } : {},
  };
  let i = 0;
  for (const b of blocks) {
    for (let k = 0; k < b.n; k++, i++) {
      v.sampleIds[i] = i + 1;
      v.labels[i] = b.label === null ? -1 : classes.indexOf(b.label);
      v.splits[i] = SPLITS.indexOf(b.split);
      v.provenance[i] = PROVENANCE_KINDS.indexOf(b.provenance ?? 'real');
      if (attribute) (v.attributes[attribute.name] as { codes: Int16Array }).codes[i] = b.group === undefined ? -1 : attribute.values.indexOf(b.group);
    }
  }
  return v;
}

const DIGITS = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];
/** MNIST's real training counts for 0–4; 5–9 cut to ~1% (MNIST-LT's tail). */
const LT_COUNTS = [5923, 6742, 5958, 6131, 5842, 44, 45, 44, 43, 44];

function mnistLt(unlabeledPool: number): DatasetVersion {
  const blocks: Block[] = LT_COUNTS.map((n, c) => ({ label: DIGITS[c] as string, split: 'train' as const, n }));
  // Test samples and unlabeled test samples never count: no planning on (or labeling of) the test set.
  blocks.push({ label: '5', split: 'test', n: 892 }, { label: null, split: 'test', n: 500 });
  blocks.push({ label: null, split: 'unassigned', n: unlabeledPool });
  return makeVersion(DIGITS, blocks);
}

function cell(cells: PlanCell[], label: string, group: string | null = null): PlanCell {
  const found = cells.find((c) => c.key === cellKey(label, group));
  if (!found) throw new Error(`no cell ${label}/${group}`);
  return found;
}

describe('countCells', () => {
  it('counts labeled training samples per class, real ones apart, and the unlabeled pool', () => {
    const v = makeVersion(['a', 'b'], [
      { label: 'a', split: 'train', n: 10 },
      { label: 'a', split: 'train', n: 5, provenance: 'augmented' },
      { label: 'b', split: 'val', n: 3 },
      { label: null, split: 'train', n: 4 },
      { label: null, split: 'unassigned', n: 6 },
      { label: null, split: 'val', n: 9 },
    ]);
    const counts = countCells(v);
    expect(counts.cells).toEqual([
      { key: cellKey('a'), label: 'a', group: null, count: 15, realCount: 10 },
      { key: cellKey('b'), label: 'b', group: null, count: 0, realCount: 0 },
    ]);
    expect(counts.unlabeledPool).toBe(10);
    expect(counts.versionId).toBe(7);
    expect(() => countCells(v, 'colour')).toThrow(/no attribute "colour"/);
  });

  it('cell keys round-trip for any label, and malformed keys are refused', () => {
    expect(parseCellKey(cellKey('a|b', 'x"y'))).toEqual({ label: 'a|b', group: 'x"y' });
    expect(parseCellKey(cellKey('cat'))).toEqual({ label: 'cat', group: null });
    expect(cellKey('a', 'b')).not.toBe(cellKey('a|b'));
    expect(() => parseCellKey('cat')).toThrow(/not a cell/);
  });
});

describe('planRebalance', () => {
  it('MNIST-LT to uniform classes: the tail (≈44 real, deficit ≈6,700) is generated, not augmented', () => {
    const plan = planRebalance(countCells(mnistLt(2000)), { kind: 'uniform-class' }, 1000);
    expect(plan.cells.map((c) => c.target)).toEqual(new Array<number>(10).fill(6742));
    expect(cell(plan.cells, '1')).toMatchObject({ deficit: 0, surplus: 0, action: null, actionCount: 0 });
    for (const d of ['5', '6', '7', '8', '9']) {
      const c = cell(plan.cells, d);
      expect(c.deficit).toBe(6742 - c.current);
      expect(c.deficit).toBeGreaterThan(MAX_AUGMENT_FACTOR * c.realCount);
      expect(c.action).toBe('generate');
      expect(c.actionCount).toBe(c.deficit);
    }
    // Class 0: 5,923 real, 819 short; the small pool (2,000) cannot hold 819 zeros → augment.
    expect(cell(plan.cells, '0')).toMatchObject({ deficit: 819, action: 'augment' });
    expect(plan.totals.deficit).toBe(plan.cells.reduce((s, c) => s + c.deficit, 0));
    expect(plan.totals.byAction.augment + plan.totals.byAction.generate + plan.totals.byAction.label).toBe(plan.totals.deficit);
    expect(plan).toMatchObject({ projectId: 'p', versionId: 7, createdAt: 1000, unlabeledPool: 2000, target: { kind: 'uniform-class' } });
  });

  it('labels from a large unlabeled pool where it probably holds the deficit', () => {
    const plan = planRebalance(countCells(mnistLt(20000)), { kind: 'uniform-class' }, 0);
    // 20,000 × 5,923 / 30,816 ≈ 3,844 zeros expected in the pool ≥ 819 missing.
    expect(cell(plan.cells, '0').action).toBe('label');
    expect(cell(plan.cells, '0').reason).toMatch(/unlabeled/);
    // ≈ 28 expected fives in the pool, far short of 6,698: still generate.
    expect(cell(plan.cells, '5').action).toBe('generate');
  });

  it('an explicit per-class target reports surplus and never plans deletions', () => {
    const plan = planRebalance(countCells(mnistLt(0)), { kind: 'uniform-class', perClass: 400 }, 0);
    expect(cell(plan.cells, '1')).toMatchObject({ target: 400, deficit: 0, surplus: 6342, action: null });
    // 44 real, 356 short ≤ 10 × 44: augment.
    expect(cell(plan.cells, '5')).toMatchObject({ deficit: 356, surplus: 0, action: 'augment' });
    expect(plan.totals.surplus).toBe([5923, 6742, 5958, 6131, 5842].reduce((s, n) => s + n - 400, 0));
    expect(() => planRebalance(countCells(mnistLt(0)), { kind: 'uniform-class', perClass: -1 })).toThrow(/whole number/);
  });

  it('uniform class × group fills every cell, empty ones included, up to the largest cell', () => {
    const v = makeVersion(
      ['cat', 'dog'],
      [
        { label: 'cat', split: 'train', n: 300, group: 'indoor' },
        { label: 'cat', split: 'train', n: 40, group: 'outdoor' },
        { label: 'dog', split: 'train', n: 120, group: 'outdoor' },
        // Synthetic dogs indoors count toward the cell but are not real: nothing to augment.
        { label: 'dog', split: 'train', n: 12, group: 'indoor', provenance: 'synthetic' },
        { label: 'dog', split: 'train', n: 9 },
      ],
      { name: 'place', values: ['indoor', 'outdoor'] },
    );
    const counts = countCells(v, 'place');
    expect(counts.missingGroup).toBe(9);
    const plan = planRebalance(counts, { kind: 'uniform-class-group', attribute: 'place' }, 0);
    expect(plan.cells.map((c) => [c.label, c.group, c.current, c.target, c.deficit, c.action])).toEqual([
      ['cat', 'indoor', 300, 300, 0, null],
      ['cat', 'outdoor', 40, 300, 260, 'augment'],
      ['dog', 'indoor', 12, 300, 288, 'generate'],
      ['dog', 'outdoor', 120, 300, 180, 'augment'],
    ]);
    expect(cell(plan.cells, 'dog', 'indoor').realCount).toBe(0);
    expect(() => planRebalance(countCells(v), { kind: 'uniform-class-group', attribute: 'place' })).toThrow(/Count the cells again/);
  });

  it('custom targets plan only the named cells, including cells with no samples yet', () => {
    const counts = countCells(mnistLt(0));
    const plan = planRebalance(counts, { kind: 'custom', counts: { [cellKey('5')]: 1000, [cellKey('1')]: 6000, [cellKey('11')]: 30 } }, 0);
    expect(plan.cells.map((c) => [c.label, c.current, c.deficit, c.surplus, c.action])).toEqual([
      ['5', 44, 956, 0, 'generate'],
      ['1', 6742, 0, 742, null],
      ['11', 0, 30, 0, 'generate'],
    ]);
    expect(() => planRebalance(counts, { kind: 'custom', counts: { [cellKey('5', 'x')]: 1 } })).toThrow(/grouping/);
  });

  it('the user can override a cell’s action; totals follow', () => {
    const plan = planRebalance(countCells(mnistLt(2000)), { kind: 'uniform-class' }, 0);
    const key = cellKey('5');
    const changed = overrideAction(plan, key, 'label');
    expect(cell(changed.cells, '5')).toMatchObject({ action: 'label', overridden: true, actionCount: 6698 });
    expect(changed.totals.byAction.label).toBe(plan.totals.byAction.label + 6698);
    expect(changed.totals.byAction.generate).toBe(plan.totals.byAction.generate - 6698);
    // The original plan is untouched (plans are values).
    expect(cell(plan.cells, '5').action).toBe('generate');
    expect(() => overrideAction(plan, cellKey('1'), 'augment')).toThrow(/already at its target/);
    expect(() => overrideAction(plan, cellKey('x'), 'augment')).toThrow(/no cell/);
  });
});

describe('savePlan / getPlan', () => {
  let db: HearthDb;
  beforeEach(async () => {
    db = await openHearthDb(`rebalance-test-${crypto.randomUUID()}`);
  });
  afterEach(() => db.close());

  it('round-trips the plan through the settings store, one per project', async () => {
    expect(await getPlan(db, 'p')).toBeNull();
    const plan = overrideAction(planRebalance(countCells(mnistLt(2000)), { kind: 'uniform-class' }, 1234), cellKey('6'), 'label');
    await savePlan(db, 'p', plan);
    expect(await getPlan(db, 'p')).toEqual(plan);
    expect(await getPlan(db, 'other')).toBeNull();
    const second = planRebalance(countCells(mnistLt(0)), { kind: 'uniform-class', perClass: 100 }, 5678);
    await savePlan(db, 'p', second);
    expect((await getPlan(db, 'p'))?.createdAt).toBe(5678);
    await expect(savePlan(db, 'q', plan)).rejects.toMatchObject({ name: 'InvalidInputError' });
  });
});
