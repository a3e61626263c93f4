/**
 * Inference over stored samples, shared by the training loop's validation and by
 * evaluation (which lives in src/lib/evaluate and imports this, never the reverse).
 */
import { tf } from '../compute/register';
import type { DatasetVersion } from '../storage/records';
import { NEVER_CANCELLED, type CancelToken } from '../jobs/progress';
import type { HearthDb } from '../storage/schema';
import { streamBatches } from './batches';
import { pixelsToInput, type HearthModel } from './models';

/**
 * One inference-mode pass over `indices`: per-sample predictions and the summed loss.
 * Shared by `evaluateModel` and the training loop's validation. Leaves no tensors.
 */
export async function predictIndices(
  db: HearthDb,
  model: HearthModel,
  version: DatasetVersion,
  indices: Uint32Array,
  batchSize: number,
  onBatch?: (done: number) => void,
  cancel: CancelToken = NEVER_CANCELLED,
): Promise<{ ids: Uint32Array; predicted: Int16Array; trueLabels: Int16Array; lossSum: number }> {
  const n = indices.length;
  const ids = new Uint32Array(n);
  const predicted = new Int16Array(n);
  const trueLabels = new Int16Array(n);
  let lossSum = 0;
  let done = 0;
  for await (const batch of streamBatches(db, version, { indices, batchSize })) {
    cancel.throwIfCancelled();
    const [argmax, lossTotal] = tf.tidy(() => {
      const x = pixelsToInput(batch.pixels, model.spec.input);
      const logits = model.model.apply(x, { training: false }) as tf.Tensor2D;
      const labels = tf.tensor1d(batch.labels, 'int32');
      const onehot = tf.oneHot(labels, model.spec.numClasses).toFloat();
      const ce = tf.neg(tf.sum(tf.mul(onehot, tf.logSoftmax(logits)), 1));
      return [tf.argMax(logits, 1), tf.sum(ce)];
    });
    const [argmaxValues, lossValue] = await Promise.all([argmax.data(), lossTotal.data()]);
    tf.dispose([argmax, lossTotal]);
    ids.set(batch.ids, done);
    predicted.set(argmaxValues, done);
    trueLabels.set(batch.labels, done);
    lossSum += lossValue[0] as number;
    done += batch.ids.length;
    onBatch?.(done);
  }
  return { ids, predicted, trueLabels, lossSum };
}
