/**
 * Rotation self-supervised pretraining (Gidaris et al. 2018), the initial step of the
 * Fisher-kernel active-learning method (Gudovskiy et al., CVPR 2020): before any label
 * exists, the task model learns to tell which of four rotations (0°, 90°, 180°, 270°)
 * an unlabeled pool image was given. Its convolutional and hidden layers then start the
 * labeling loop with features that already separate shapes, so the very first
 * descriptors (and the first picks) are informative; the classification head is fresh.
 *
 * As the released code does it (gudovskiy/al-fk-self-supervision mnist/unsup.py and
 * custom_models/model.py `train(..., unsup=True)`):
 *  - the task architecture with a 4-way head;
 *  - every image of a batch in all four rotations, so a batch of B images trains on 4·B
 *    (targets 0, 1, 2, 3 = 0°, 90°, 180°, 270° clockwise; torch.rot90(x, 1, [3, 2]) is a
 *    clockwise quarter turn);
 *  - SGD with momentum 0.5, learning rate ×0.1 every 3 epochs, 8 epochs, batch 25;
 *  - then every weight but the last linear layer's is kept (`load_state_dict` without
 *    'fc2'), and the head starts fresh.
 * One difference: the reference keeps the epoch with the best rotation accuracy on the
 * test set; here the last epoch's weights are returned, because nothing in a labeling
 * loop may look at test data, and the rotation accuracy only rises over so few epochs.
 */
import { tf } from '../compute/register';
import { InvalidInputError } from '../jobs/errors';
import { NEVER_CANCELLED, ProgressReporter, type CancelToken, type ProgressFn } from '../jobs/progress';
import { Rng } from '../data/rng';
import { buildModel, pixelsToInput, type HearthModel, type ModelSpec } from '../train/models';
import { learningRateAt, Optimizer } from '../train/optim';
import type { ImageSet } from './types';

/** The four rotations of the pretext task: 0°, 90°, 180° and 270° clockwise. */
export const ROTATION_CLASSES = 4;
/** The reference's SGD momentum for pretraining (unsup.py `--momentum`). */
export const ROTATION_MOMENTUM = 0.5;
/** The reference decays the learning rate ×0.1 every 3 epochs (unsup.py `--lr-decay_epoch`). */
export const ROTATION_LR_DECAY_EVERY_EPOCHS = 3;
const ROTATION_LR_DECAY = 0.1;
/**
 * Pool images read into memory at once, in bytes. Batches are shuffled within such a
 * window (and windows are visited in a shuffled order), so a large pool stored in
 * IndexedDB never has to be in memory whole; MNIST-sized pools fit in one window, where
 * this is an exact shuffle.
 */
const WINDOW_BYTES = 32 * 2 ** 20;

export type QuarterTurns = 0 | 1 | 2 | 3;

export interface RotationOptions {
  epochs: number;
  /** Pool images per step; each is seen in all four rotations, so a step trains on 4× this. */
  batchSize: number;
  lr: number;
  /** Seeds the per-epoch shuffles. */
  seed: number;
  /** Default ROTATION_MOMENTUM (0.5, the reference's). */
  momentum?: number;
  cancel?: CancelToken;
  onProgress?: ProgressFn;
  /** Called after each epoch with the rotation task's running training loss and accuracy. */
  onEpoch?: (m: RotationEpoch) => void;
}

export interface RotationEpoch {
  /** 0-based. */
  epoch: number;
  loss: number;
  /** Fraction of rotated images whose rotation was predicted right during the epoch; chance is 0.25. */
  accuracy: number;
  lr: number;
}

/**
 * Turns NHWC images `k` quarter turns clockwise. A clockwise quarter turn is the
 * transpose followed by a left-right flip; counter-clockwise is the transpose followed by
 * an upside-down flip. Square images only (the caller checks), so the shape is unchanged.
 */
export function rotateQuarterTurns(xNhwc: tf.Tensor4D, k: QuarterTurns): tf.Tensor4D {
  return tf.tidy(() => {
    switch (k) {
      case 0:
        return tf.clone(xNhwc);
      case 1:
        return tf.reverse(tf.transpose(xNhwc, [0, 2, 1, 3]), 2);
      case 2:
        return tf.reverse(xNhwc, [1, 2]);
      case 3:
        return tf.reverse(tf.transpose(xNhwc, [0, 2, 1, 3]), 1);
    }
  });
}

/**
 * A batch of B images in all four rotations, as unsup.py builds it: [4·B, H, W, C] with
 * rotation r of image i at row r·B + i, and the rotation classes [4·B] (int32).
 */
export function rotationBatch(xNhwc: tf.Tensor4D): { x: tf.Tensor4D; labels: tf.Tensor1D } {
  return tf.tidy(() => {
    const n = xNhwc.shape[0];
    const turns: QuarterTurns[] = [0, 1, 2, 3];
    const x = tf.concat(turns.map((k) => rotateQuarterTurns(xNhwc, k)), 0);
    const labels = tf.tensor1d(
      Int32Array.from({ length: ROTATION_CLASSES * n }, (_, i) => Math.floor(i / n)),
      'int32',
    );
    return { x, labels };
  });
}

function validate(spec: ModelSpec, pool: ImageSet, opts: RotationOptions): void {
  if (spec.input.width !== spec.input.height) {
    throw new InvalidInputError(
      `Rotation pretraining turns images by 90°, which needs square inputs; the model takes ${spec.input.width}×${spec.input.height}: pick a square input size or skip pretraining.`,
    );
  }
  if (pool.count < 1) throw new InvalidInputError('Rotation pretraining needs at least one unlabeled image: import images first.');
  if (!(Number.isInteger(opts.epochs) && opts.epochs >= 1)) {
    throw new InvalidInputError(`Pretrain for a whole number of epochs, at least 1 (got ${opts.epochs}).`);
  }
  if (!(Number.isInteger(opts.batchSize) && opts.batchSize >= 1)) {
    throw new InvalidInputError(`The pretraining batch size must be a whole number of at least 1, got ${opts.batchSize}: the reference uses 25.`);
  }
  if (!(Number.isFinite(opts.lr) && opts.lr > 0)) {
    throw new InvalidInputError(`The pretraining learning rate must be a positive number, got ${opts.lr}: the reference uses 0.05.`);
  }
  const momentum = opts.momentum ?? ROTATION_MOMENTUM;
  if (!(momentum >= 0 && momentum < 1)) throw new InvalidInputError(`SGD momentum must be in [0, 1), got ${momentum}: the reference uses 0.5.`);
  if (!Number.isInteger(opts.seed)) throw new InvalidInputError(`The seed must be an integer, got ${opts.seed}.`);
}

/** [start, end) windows covering `count` images, each at most `size` long. */
function windows(count: number, size: number): [number, number][] {
  const out: [number, number][] = [];
  for (let start = 0; start < count; start += size) out.push([start, Math.min(count, start + size)]);
  return out;
}

/**
 * Trains `spec`'s architecture with a 4-way head on the rotation task over `pool`, and
 * returns that 4-class model (the caller disposes it) with its per-epoch history.
 */
export async function trainRotationModel(
  spec: ModelSpec,
  pool: ImageSet,
  opts: RotationOptions,
): Promise<{ model: HearthModel; history: RotationEpoch[] }> {
  validate(spec, pool, opts);
  const cancel = opts.cancel ?? NEVER_CANCELLED;
  const model = buildModel({ ...spec, numClasses: ROTATION_CLASSES });
  const variables = model.model.trainableWeights.map((w) => w.read() as tf.Variable);
  const optimizer = new Optimizer({ kind: 'sgd', lr: opts.lr, momentum: opts.momentum ?? ROTATION_MOMENTUM, nesterov: false }, 0, variables);
  const { width, height, channels } = spec.input;
  const windowImages = Math.max(opts.batchSize, Math.floor(WINDOW_BYTES / (width * height * channels)));
  const stepsPerEpoch = windows(pool.count, windowImages).reduce((s, [a, b]) => s + Math.ceil((b - a) / opts.batchSize), 0);
  const totalSteps = stepsPerEpoch * opts.epochs;
  const schedule = { kind: 'step', everyEpochs: ROTATION_LR_DECAY_EVERY_EPOCHS, gamma: ROTATION_LR_DECAY } as const;
  const progress = new ProgressReporter(opts.onProgress);
  const rng = new Rng(opts.seed).fork('rotation');
  const history: RotationEpoch[] = [];
  let step = 0;
  try {
    for (let epoch = 0; epoch < opts.epochs; epoch++) {
      const epochRng = rng.fork(`epoch/${epoch}`);
      let lossSum = 0;
      let correct = 0;
      let seen = 0;
      let lr = opts.lr;
      for (const [start, end] of epochRng.shuffle(windows(pool.count, windowImages))) {
        cancel.throwIfCancelled();
        const images = await pool.read(start, end);
        const order = epochRng.shuffle(Array.from({ length: images.length }, (_, i) => i));
        for (let b = 0; b < order.length; b += opts.batchSize) {
          cancel.throwIfCancelled();
          lr = learningRateAt(opts.lr, schedule, { step, stepsPerEpoch, epochs: opts.epochs });
          const batch = order.slice(b, b + opts.batchSize).map((i) => images[i] as Uint8Array);
          const { loss, correct: c } = await rotationStep(model, optimizer, variables, batch, lr);
          lossSum += loss * batch.length * ROTATION_CLASSES;
          correct += c;
          seen += batch.length * ROTATION_CLASSES;
          step++;
          progress.report(step, totalSteps, `Rotation pretraining, epoch ${epoch + 1} of ${opts.epochs}`);
        }
      }
      const metrics: RotationEpoch = { epoch, loss: lossSum / seen, accuracy: correct / seen, lr };
      history.push(metrics);
      opts.onEpoch?.(metrics);
    }
    progress.report(totalSteps, totalSteps, 'Rotation pretraining done', true);
    return { model, history };
  } catch (err) {
    model.dispose();
    throw err;
  } finally {
    optimizer.dispose();
  }
}

/** One SGD step on a batch in its four rotations; returns the mean loss and the correct count. */
async function rotationStep(
  model: HearthModel,
  optimizer: Optimizer,
  variables: tf.Variable[],
  pixels: Uint8Array[],
  lr: number,
): Promise<{ loss: number; correct: number }> {
  const x = pixelsToInput(pixels, model.spec.input);
  const rotated = rotationBatch(x);
  x.dispose();
  const kept: { correct?: tf.Scalar } = {};
  try {
    const { value, grads } = tf.variableGrads(() => {
      const logits = model.model.apply(rotated.x, { training: true }) as tf.Tensor2D;
      kept.correct = tf.keep(tf.sum(tf.equal(tf.argMax(logits, 1), rotated.labels).toFloat()) as tf.Scalar);
      return tf.losses.softmaxCrossEntropy(tf.oneHot(rotated.labels, ROTATION_CLASSES), logits) as tf.Scalar;
    }, variables);
    try {
      optimizer.step(
        variables.map((v) => grads[v.name] as tf.Tensor),
        lr,
      );
    } finally {
      tf.dispose(Object.values(grads));
    }
    const correctTensor = kept.correct;
    if (!correctTensor) throw new Error('The rotation step computed no accuracy.');
    const [l, c] = await Promise.all([value.data(), correctTensor.data()]);
    tf.dispose([value, correctTensor]);
    return { loss: l[0] as number, correct: c[0] as number };
  } finally {
    tf.dispose([rotated.x, rotated.labels]);
  }
}

/**
 * Accuracy of a 4-class rotation model on `images` in all four rotations (chance 0.25):
 * how well the pretext task was learned, measured on images it did not train on.
 */
export async function rotationAccuracy(model: HearthModel, images: ImageSet, batchSize = 256): Promise<number> {
  if (model.spec.numClasses !== ROTATION_CLASSES) {
    throw new InvalidInputError(`A rotation model has ${ROTATION_CLASSES} outputs; this one has ${model.spec.numClasses}.`);
  }
  let correct = 0;
  for (let start = 0; start < images.count; start += batchSize) {
    const pixels = await images.read(start, Math.min(images.count, start + batchSize));
    const c = tf.tidy(() => {
      const rotated = rotationBatch(pixelsToInput(pixels, model.spec.input));
      const logits = model.model.predict(rotated.x) as tf.Tensor2D;
      return tf.sum(tf.equal(tf.argMax(logits, 1), rotated.labels).toFloat());
    });
    correct += (await c.data())[0] as number;
    c.dispose();
  }
  return images.count === 0 ? 0 : correct / (ROTATION_CLASSES * images.count);
}

/**
 * Copies every weight of `from` into `to` except the head's; both must be the same
 * architecture (the head may differ in its number of classes).
 */
export function copyAllButHead(from: HearthModel, to: HearthModel): void {
  for (const layer of from.model.layers) {
    if (layer.name === from.headLayer || layer.getWeights().length === 0) continue;
    to.model.getLayer(layer.name).setWeights(layer.getWeights());
  }
}

/**
 * Rotation-pretrains the task architecture on the pool, then returns a model of `spec`
 * (spec.numClasses outputs) with the pretrained weights everywhere but the head, which is
 * `buildModel(spec)`'s fresh, seeded head. The caller disposes it.
 */
export async function pretrainRotation(spec: ModelSpec, pool: ImageSet, opts: RotationOptions): Promise<HearthModel> {
  const { model: rotation } = await trainRotationModel(spec, pool, opts);
  try {
    const task = buildModel(spec);
    copyAllButHead(rotation, task);
    return task;
  } finally {
    rotation.dispose();
  }
}
