/**
 * Streaming batches of a dataset version's samples from IndexedDB. Only the batch being
 * trained and the one being read are in memory at any time, never the whole dataset: a
 * 60,000-image RGB project at 96×96 is 1.6 GB of pixels, far beyond a tab's budget.
 */
import { Rng } from '../data/rng';
import { SPLITS, type DatasetVersion, type Split } from '../storage/records';
import { InvalidInputError } from '../jobs/errors';
import type { HearthDb } from '../storage/schema';
import { getPixels, sampleNumbers } from '../storage/samples';

export interface Batch {
  /** Sample ids, in batch order. */
  ids: Uint32Array;
  /** HWC uint8 pixels per sample, the project's input size. */
  pixels: Uint8Array[];
  /** Class index per sample (never -1: unlabeled samples are skipped). */
  labels: Int32Array;
}

export interface BatchStreamOptions {
  /** Indices into the version's columns to draw from, ascending or not; see `labeledIndices`. */
  indices: Uint32Array;
  batchSize: number;
  /**
   * Shuffle with this seed for this epoch: the order is a function of (seed, epoch) only,
   * so epoch k of a resumed run sees exactly the order of an uninterrupted one. Without
   * it the batches follow `indices` in order.
   */
  shuffle?: { seed: number; epoch: number };
}

/**
 * Indices into `version`'s columns of the labeled samples in `split` (every split when
 * `split` is null), ascending. Unlabeled samples cannot be trained on or scored.
 */
export function labeledIndices(version: DatasetVersion, split: Split | null): Uint32Array {
  const code = split === null ? -1 : SPLITS.indexOf(split);
  const out: number[] = [];
  for (let i = 0; i < version.sampleIds.length; i++) {
    if ((version.labels[i] as number) < 0) continue;
    if (code >= 0 && version.splits[i] !== code) continue;
    out.push(i);
  }
  return Uint32Array.from(out);
}

/** The order of one epoch: Fisher–Yates with a stream forked from (seed, epoch). */
export function epochOrder(indices: Uint32Array, shuffle: { seed: number; epoch: number } | undefined): Uint32Array {
  if (!shuffle) return indices;
  const order = Array.from(indices);
  new Rng(shuffle.seed).fork(`shuffle/epoch-${shuffle.epoch}`).shuffle(order);
  return Uint32Array.from(order);
}

export function batchCount(sampleCount: number, batchSize: number): number {
  return Math.ceil(sampleCount / batchSize);
}

/**
 * Yields batches (the last one may be smaller) read from IndexedDB. The read of batch k+1
 * is started before batch k is handed out, so it overlaps the consumer's work on batch k.
 */
export async function* streamBatches(db: HearthDb, version: DatasetVersion, opts: BatchStreamOptions): AsyncGenerator<Batch> {
  if (!(Number.isInteger(opts.batchSize) && opts.batchSize >= 1)) {
    throw new InvalidInputError(`The batch size must be a whole number of at least 1, got ${opts.batchSize}.`);
  }
  const order = epochOrder(opts.indices, opts.shuffle);
  const n = batchCount(order.length, opts.batchSize);
  const load = async (b: number): Promise<Batch> => {
    const slice = order.subarray(b * opts.batchSize, Math.min(order.length, (b + 1) * opts.batchSize));
    const ids = new Uint32Array(slice.length);
    const labels = new Int32Array(slice.length);
    let unlabeled: number | null = null;
    for (const [j, idx] of slice.entries()) {
      ids[j] = version.sampleIds[idx] as number;
      labels[j] = version.labels[idx] as number;
      if ((labels[j] as number) < 0) unlabeled ??= ids[j] as number;
    }
    if (unlabeled !== null) {
      const [number] = await sampleNumbers(db, [unlabeled]);
      const name = number === null || number === undefined ? `Sample id ${unlabeled}` : `Sample #${number}`;
      throw new InvalidInputError(`${name} has no label and cannot be in a training batch: label it or leave it out.`);
    }
    const pixels = await getPixels(db, Array.from(ids));
    return { ids, pixels, labels };
  };
  let next: Promise<Batch> | null = n > 0 ? load(0) : null;
  try {
    for (let b = 0; b < n; b++) {
      const current = await (next as Promise<Batch>);
      next = b + 1 < n ? load(b + 1) : null;
      yield current;
    }
  } finally {
    // A consumer that stops early (cancel, error) leaves a read in flight: its result
    // is dropped, and so must its rejection be, or it surfaces as an unhandled rejection.
    next?.catch(() => undefined);
  }
}
