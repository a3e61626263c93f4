/** Training a user would trust: a held-out validation set, early stopping, default epochs (train/holdout.ts, train.ts, spec.ts). */
import { describe, expect, it } from 'vitest';
import { stratifiedHoldout } from '../../src/lib/train/holdout';
import { MAX_DEFAULT_EPOCHS, MIN_DEFAULT_EPOCHS, suggestEpochs } from '../../src/lib/train/spec';
import { earlyStopAfter, type EpochMetrics } from '../../src/lib/train/train';
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

describe('early stopping', () => {
  const epoch = (i: number, valLoss: number | null): EpochMetrics => ({
    kind: 'epoch',
    epoch: i,
    trainLoss: 1,
    trainAccuracy: 0.5,
    valLoss,
    valAccuracy: valLoss === null ? null : 0.5,
    lr: 0.01,
    seconds: 1,
  });

  it('stops once the validation loss has not improved for `patience` validated epochs', () => {
    const h = [epoch(0, 1.0), epoch(1, 0.8), epoch(2, 0.9), epoch(3, 0.85)];
    expect(earlyStopAfter(h.slice(0, 3), 2)).toBeNull();
    expect(earlyStopAfter(h, 2)).toEqual({ afterEpoch: 3, bestEpoch: 1 });
    expect(earlyStopAfter(h, 3)).toBeNull();
    expect(earlyStopAfter(h, undefined)).toBeNull();
  });

  it('counts only the epochs that validated', () => {
    const h = [epoch(0, 0.5), epoch(1, null), epoch(2, null), epoch(3, 0.6)];
    expect(earlyStopAfter(h, 2)).toBeNull();
    expect(earlyStopAfter([...h, epoch(4, 0.7)], 2)).toEqual({ afterEpoch: 4, bestEpoch: 0 });
  });
});

describe('the default epochs', () => {
  it('aim at about TARGET_STEPS optimiser steps, within bounds', () => {
    // 300 images in batches of 64: 5 steps an epoch, 600 steps would be 120 epochs: capped at 50.
    expect(suggestEpochs(300, 64, null).epochs).toBe(MAX_DEFAULT_EPOCHS);
    // 60,000 images: 938 steps an epoch, more than the target: the minimum of 3.
    expect(suggestEpochs(60_000, 64, null).epochs).toBe(MIN_DEFAULT_EPOCHS);
    expect(suggestEpochs(6_400, 64, null)).toMatchObject({ epochs: 6 });
  });

  it('stay within the time budget when a run has measured the throughput', () => {
    // 2,000 images at 400 img/s: 5 s an epoch, 60 s allow 12 epochs (the step target asks for 19).
    const s = suggestEpochs(2_000, 64, 400, 60);
    expect(s.epochs).toBe(12);
    expect(s.reason).toMatch(/12 epochs for 2000 training images: about 384 steps and 60 s at the 400 img\/s/);
  });
});
