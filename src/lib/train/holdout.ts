/**
 * A validation set carved out of the training split, for a dataset version that has none:
 * each class gives the same share of its labelled training samples (stratified, as
 * scikit-learn's `train_test_split(stratify=y)`), chosen by a stream forked from the run's
 * seed, so the split is the same every time the run is trained or resumed.
 */
import { Rng } from '../data/rng';

export interface HoldoutSplit {
  train: Uint32Array;
  val: Uint32Array;
}

/**
 * Splits `indices` (rows of a version) into train and val. A class with n samples gives
 * round(n · fraction) of them, and at least one when it has two or more, so every class
 * that can be validated is; a class with one sample keeps it for training.
 */
export function stratifiedHoldout(indices: Uint32Array, labels: ArrayLike<number>, fraction: number, seed: number): HoldoutSplit {
  if (!(fraction > 0 && fraction < 1)) throw new RangeError(`The hold-out fraction must be between 0 and 1, not ${fraction}.`);
  const byClass = new Map<number, number[]>();
  for (const i of indices) {
    const l = labels[i] as number;
    const rows = byClass.get(l);
    if (rows) rows.push(i);
    else byClass.set(l, [i]);
  }
  const rng = new Rng(seed).fork('holdout');
  const val: number[] = [];
  for (const label of [...byClass.keys()].sort((a, b) => a - b)) {
    const rows = byClass.get(label) as number[];
    const k = rows.length < 2 ? 0 : Math.max(1, Math.round(rows.length * fraction));
    val.push(...rng.fork(String(label)).shuffle([...rows]).slice(0, k));
  }
  const held = new Set(val);
  return {
    train: Uint32Array.from([...indices].filter((i) => !held.has(i))),
    val: Uint32Array.from(val.sort((a, b) => a - b)),
  };
}
