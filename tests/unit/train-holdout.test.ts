/** A validation set held out of train when a version has none (train/holdout.ts, train.ts). */
import { describe, expect, it } from 'vitest';
import { stratifiedHoldout } from '../../src/lib/train/holdout';
import { defaultForm, validateForm } from '../../src/ui/train/train-form';

describe('stratifiedHoldout', () => {
  // 100 rows: class 0 × 80, class 1 × 18, class 2 × 1, one unlabeled row (−1) not in `indices`.
  const labels = Int16Array.from([...Array(80).fill(0), ...Array(18).fill(1), 2, -1]);
  const indices = Uint32Array.from({ length: 99 }, (_, i) => i);

  it('holds out the same share of every class, and at least one of a class with two or more', () => {
    const { train, val } = stratifiedHoldout(indices, labels, 0.1, 7);
    const count = (rows: Uint32Array, c: number) => [...rows].filter((i) => labels[i] === c).length;
    expect([count(val, 0), count(val, 1), count(val, 2)]).toEqual([8, 2, 0]);
    expect([count(train, 0), count(train, 1), count(train, 2)]).toEqual([72, 16, 1]);
    expect(new Set([...train, ...val]).size).toBe(99);
    expect([...train].some((i) => val.includes(i))).toBe(false);
  });

  it('is the same for the same seed and differs for another', () => {
    const a = stratifiedHoldout(indices, labels, 0.1, 7).val;
    expect(stratifiedHoldout(indices, labels, 0.1, 7).val).toEqual(a);
    expect(stratifiedHoldout(indices, labels, 0.1, 8).val).not.toEqual(a);
  });

  it('refuses a fraction outside (0, 1)', () => {
    expect(() => stratifiedHoldout(indices, labels, 0, 7)).toThrow(/between 0 and 1/);
    expect(() => stratifiedHoldout(indices, labels, 1, 7)).toThrow(/between 0 and 1/);
  });
});

describe('the Train form with no validation split', () => {
  it('holds out 10 % by default, only when the version has no validation samples', () => {
    const form = defaultForm('lenet');
    const none = validateForm(form, { trainCount: 300, valCount: 0 });
    expect(none.ok && none.config.holdout).toEqual({ fraction: 0.1 });
    const some = validateForm(form, { trainCount: 300, valCount: 100 });
    expect(some.ok && some.config.holdout).toBeUndefined();
    const off = validateForm({ ...form, holdout: false }, { trainCount: 300, valCount: 0 });
    expect(off.ok && off.config.holdout).toBeUndefined();
  });
});
