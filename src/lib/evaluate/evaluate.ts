/**
 * Evaluation of a classifier on one split of a dataset version: accuracy, per-class
 * precision / recall / F1, the confusion matrix and every prediction, streamed from
 * IndexedDB batch by batch. A metric whose denominator is zero is `{ value: undefined,
 * reason }` (the Metric of analysis/model-bias), never NaN.
 */
import type { Metric } from '../analysis/model-bias';
import type { Split } from '../storage/records';
import { InvalidInputError } from '../jobs/errors';
import { NEVER_CANCELLED, ProgressReporter, type CancelToken, type ProgressFn } from '../jobs/progress';
import type { HearthDb } from '../storage/schema';
import { getVersion } from '../storage/versions';
import { labeledIndices } from '../train/batches';
import { predictIndices } from '../train/predict';
import type { HearthModel } from '../train/models';
import type { ClassStats } from '../storage/stored-shapes';
export type { ClassStats } from '../storage/stored-shapes';

export interface ConfusionStats {
  accuracy: Metric;
  perClass: ClassStats[];
  /** confusion[true][predicted] = count. */
  confusion: number[][];
}

const defined = (value: number): Metric => ({ value });
const undef = (reason: string): Metric => ({ value: undefined, reason });

/** Accuracy, per-class metrics and the confusion matrix from parallel label arrays. */
export function confusionStats(trueLabels: ArrayLike<number>, predicted: ArrayLike<number>, numClasses: number): ConfusionStats {
  if (trueLabels.length !== predicted.length) {
    throw new InvalidInputError(`Got ${trueLabels.length} true labels but ${predicted.length} predictions: they must be parallel.`);
  }
  const confusion = Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0));
  let correct = 0;
  for (let i = 0; i < trueLabels.length; i++) {
    const t = trueLabels[i] as number;
    const p = predicted[i] as number;
    if (!(t >= 0 && t < numClasses && p >= 0 && p < numClasses)) {
      throw new InvalidInputError(`Sample ${i} has true class ${t} and predicted class ${p}; both must be in [0, ${numClasses}).`);
    }
    (confusion[t] as number[])[p] = ((confusion[t] as number[])[p] as number) + 1;
    if (t === p) correct++;
  }
  const perClass: ClassStats[] = [];
  for (let c = 0; c < numClasses; c++) {
    const row = confusion[c] as number[];
    const tp = row[c] as number;
    const support = row.reduce((a, b) => a + b, 0);
    const predictedCount = confusion.reduce((a, r) => a + (r[c] as number), 0);
    const fp = predictedCount - tp;
    const fn = support - tp;
    perClass.push({
      cls: c,
      precision: predictedCount === 0 ? undef(`class ${c} was never predicted`) : defined(tp / predictedCount),
      recall: support === 0 ? undef(`class ${c} has no samples`) : defined(tp / support),
      f1: 2 * tp + fp + fn === 0 ? undef(`class ${c} has no samples and was never predicted`) : defined((2 * tp) / (2 * tp + fp + fn)),
      support,
    });
  }
  const accuracy = trueLabels.length === 0 ? undef('no samples were evaluated') : defined(correct / trueLabels.length);
  return { accuracy, perClass, confusion };
}

export interface EvaluateOptions {
  versionId: number;
  split: Split;
  batchSize: number;
  onProgress?: ProgressFn;
  cancel?: CancelToken;
}

export interface EvaluationResult extends ConfusionStats {
  /** Mean softmax cross-entropy over the evaluated samples. */
  loss: number;
  /** One entry per labeled sample of the split, in ascending sample-id order. */
  predictions: { ids: Uint32Array; predicted: Int16Array; trueLabels: Int16Array };
}

/**
 * Evaluates `model` on the labeled samples of one split (unlabeled samples cannot be
 * scored and are skipped). Throws InvalidInputError when the split has none.
 */
export async function evaluateModel(db: HearthDb, model: HearthModel, opts: EvaluateOptions): Promise<EvaluationResult> {
  const cancel = opts.cancel ?? NEVER_CANCELLED;
  const progress = new ProgressReporter(opts.onProgress);
  const version = await getVersion(db, opts.versionId);
  if (version.classes.length !== model.spec.numClasses) {
    throw new InvalidInputError(
      `The model predicts ${model.spec.numClasses} classes but dataset version ${version.number} has ${version.classes.length}: evaluate on the version the model was trained for.`,
    );
  }
  const indices = labeledIndices(version, opts.split);
  if (indices.length === 0) {
    throw new InvalidInputError(`The ${opts.split} split of dataset version ${version.number} has no labeled samples: assign some samples to it, or pick another split.`);
  }
  const total = indices.length;
  progress.report(0, total, `Evaluating on ${opts.split}`, true);
  const p = await predictIndices(db, model, version, indices, opts.batchSize, (done) => progress.report(done, total, `Evaluating on ${opts.split}`), cancel);
  progress.report(total, total, 'Done', true);
  const stats = confusionStats(p.trueLabels, p.predicted, model.spec.numClasses);
  return {
    ...stats,
    loss: p.lossSum / total,
    predictions: { ids: p.ids, predicted: p.predicted, trueLabels: p.trueLabels },
  };
}
