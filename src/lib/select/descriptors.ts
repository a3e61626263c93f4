/**
 * Fisher-kernel descriptors of images (Gudovskiy et al., CVPR 2020), as the released code
 * makes them (gudovskiy/al-fk-self-supervision mnist/custom_models/model.py `gen_descr`):
 *
 *  - z: for each chosen layer, its output averaged over space (global average pooling of a
 *    [N, H, W, C] map; a [N, F] output as it is), concatenated over the layers: [N, L];
 *  - g: the same pooling of ∂loss/∂(layer output), where the loss is the cross-entropy
 *    summed over the batch against one label per image (the true label for validation
 *    images, a pseudo-label for the pool). Summed, not averaged, so an image's gradient
 *    does not depend on the batch it was computed in. (Taken as the spatial sum, H·W
 *    times the mean, a factor the standardisation below cancels.)
 *
 * Each layer's segment of z and of g is then standardised per image (minus its mean, over
 * its standard deviation), which the reference does before every similarity it takes
 * (main_descr.py 'Pcc'): the layers' scales differ by orders of magnitude, and without it
 * the widest, largest layer would decide every similarity alone.
 *
 * All layers' gradients come from one backward pass per batch: `logitsWithOffsets` adds a
 * zero tensor to each chosen layer's output and `tf.grads` differentiates with respect to
 * those zeros. Images are read and described a batch at a time, so a pool never has to be
 * in memory as pixels, only as its L-wide rows.
 */
import { tf } from '../compute/register';
import { InvalidInputError } from '../jobs/errors';
import { NEVER_CANCELLED, type CancelToken } from '../jobs/progress';
import { pixelsToInput, type HearthModel } from '../train/models';
import type { ImageSet } from './types';

/** One layer's columns in a descriptor row. */
export interface DescriptorSegment {
  layer: string;
  offset: number;
  length: number;
}

export interface Descriptors {
  /** Images described. */
  n: number;
  /** Columns per row (L): the sum of the segments' lengths. */
  length: number;
  segments: DescriptorSegment[];
  /** Standardised pooled activations, n·L, row-major. */
  z: Float32Array;
  /** Standardised pooled loss gradients, n·L, row-major; null when no loss was taken. */
  g: Float32Array | null;
  /** Logits, n·numClasses, row-major (inference mode). */
  logits: Float32Array;
  numClasses: number;
  /** The class each image's loss was taken against (true or pseudo-label); null when no loss was taken. */
  lossLabels: Int16Array | null;
}

/**
 * How the class for each image's loss is chosen when it is not given as an array:
 * - 'argmax': the model's own prediction (the reference's `grad` pseudo-labels);
 * - 'nearest': the label of the reference row (a validation image) whose standardised z
 *   has the largest dot product with this image's (the reference's `gradFmap`, 1-NN label
 *   transfer). `reference.z` must be standardised with the same segments.
 * Both are worked out on the backend inside the same forward pass as the gradient, so the
 * pool is read and run once.
 */
export type LossLabelRule = { kind: 'argmax' } | { kind: 'nearest'; reference: Pick<Descriptors, 'n' | 'length' | 'z'>; labels: Int16Array };

export interface DescriptorOptions {
  layers: readonly string[];
  batchSize: number;
  cancel?: CancelToken;
  /** Called after each batch with the number of images described so far. */
  onBatch?: (done: number) => void;
}

/**
 * A segment is taken as constant when its standard deviation is at most this fraction of
 * its mean's magnitude: a float32 mean of equal values can be off by a few ulps, and
 * dividing that rounding residue by an equally tiny deviation would turn a constant
 * segment into ±1 noise (the reference's `std + 1e-10` does exactly that).
 */
const CONSTANT_SEGMENT_RELATIVE_STD = 1e-5;

/**
 * LeNet's descriptor layers as the released code taps them: x1 = relu(maxpool(conv1)),
 * x2 = relu(maxpool(conv2)) and x4 = relu(fc1), our pool1, pool2 and dense1 (L = 10 + 20 +
 * 50 = 80), rather than conv1 / conv2 (same L). Gradients at a convolution's output pass
 * through MaxPoolGrad, whose tie-breaking tfjs-backend-wasm 4.22 got different from the
 * cpu backend; Hearth replaces that kernel (compute/wasm-max-pool-grad.ts), so both
 * choices now agree across backends, and the backward pass to the pools is also shorter.
 */
export const LENET_DESCRIPTOR_LAYERS: readonly string[] = ['pool1', 'pool2', 'dense1'];

/** The layers selection describes images with when the request names none. */
export function defaultDescriptorLayers(model: HearthModel): readonly string[] {
  return model.spec.kind === 'lenet' ? LENET_DESCRIPTOR_LAYERS : model.activationLayers;
}

/** The columns each layer contributes: its channel (or feature) count. */
export function descriptorSegments(model: HearthModel, layers: readonly string[]): DescriptorSegment[] {
  let offset = 0;
  return layers.map((layer) => {
    const shape = layerOutputShape(model, layer);
    const length = shape[shape.length - 1] ?? 0;
    const segment = { layer, offset, length };
    offset += length;
    return segment;
  });
}

/** A layer's output shape without the batch dimension, e.g. [24, 24, 10] for LeNet's conv1. */
function layerOutputShape(model: HearthModel, layer: string): number[] {
  let shape: unknown;
  try {
    shape = model.model.getLayer(layer).outputShape;
  } catch {
    throw new InvalidInputError(`The model has no layer named "${layer}": pick descriptor layers from ${model.activationLayers.join(', ')}.`);
  }
  const dims = Array.isArray(shape) ? (shape as unknown[]) : [];
  if (dims.length < 2 || !dims.slice(1).every((d) => typeof d === 'number' && d > 0)) {
    throw new InvalidInputError(`Layer "${layer}" does not have one fixed-size output per image: pick descriptor layers from ${model.activationLayers.join(', ')}.`);
  }
  return dims.slice(1) as number[];
}

/** Global average pooling over every axis between the batch and the channels. */
function poolSpatial(t: tf.Tensor): tf.Tensor2D {
  if (t.rank === 2) return t as tf.Tensor2D;
  const axes = Array.from({ length: t.rank - 2 }, (_, i) => i + 1);
  return tf.mean(t, axes) as tf.Tensor2D;
}

/**
 * Each row's segments to zero mean and unit standard deviation. The deviation is the
 * unbiased one (divided by length − 1), as the reference's `torch.std`. A constant segment
 * (and a one-column segment, whose deviation is undefined) becomes zeros: it says nothing
 * about the image, and zeros keep it out of every dot product instead of dividing by zero.
 */
export function standardizeSegments(x: tf.Tensor2D, segments: readonly DescriptorSegment[]): tf.Tensor2D {
  return tf.tidy(() => {
    if (segments.length === 0) return tf.clone(x);
    const parts = segments.map((s) => {
      const seg = tf.slice(x, [0, s.offset], [-1, s.length]);
      if (s.length < 2) return tf.zerosLike(seg);
      const mean = tf.mean(seg, 1, true);
      const centred = tf.sub(seg, mean);
      const std = tf.sqrt(tf.div(tf.sum(tf.square(centred), 1, true), s.length - 1));
      const constant = tf.lessEqual(std, tf.mul(tf.abs(mean), CONSTANT_SEGMENT_RELATIVE_STD));
      const keep = tf.cast(tf.logicalNot(constant), 'float32');
      // The divisor is 1 where the segment is constant, so no 0/0 appears before the mask.
      const safeStd = tf.add(tf.mul(std, keep), tf.sub(1, keep));
      return tf.mul(tf.div(centred, safeStd), keep);
    });
    return (parts.length === 1 ? parts[0] : tf.concat(parts, 1)) as tf.Tensor2D;
  });
}

/** Labels of one batch for the loss, as a one-hot [B, C] float tensor, from its pooled (not yet standardised) z and its logits. */
type TargetFn = (zRaw: tf.Tensor2D, logits: tf.Tensor2D) => tf.Tensor2D;

/**
 * A one-hot target that the backward pass treats as a constant: its gradient is zero by
 * declaration, so tfjs does not push zeros back through the argmax, the similarity matrix
 * product (B×V×L multiply-adds) and the standardisation that made it.
 */
function constantTarget(make: (zRaw: tf.Tensor2D, logits: tf.Tensor2D) => tf.Tensor2D): TargetFn {
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [zRaw, logits] = args as [tf.Tensor2D, tf.Tensor2D];
    return { value: make(zRaw, logits), gradFunc: () => [tf.zerosLike(zRaw), tf.zerosLike(logits)] };
  });
  return (zRaw, logits) => op(zRaw, logits) as tf.Tensor2D;
}

function checkLabels(labels: Int16Array, count: number, numClasses: number, what: string): void {
  if (labels.length !== count) {
    throw new InvalidInputError(`There are ${labels.length} ${what} for ${count} images: give one label per image.`);
  }
  for (const l of labels) {
    if (l >= numClasses || l < -1) {
      throw new InvalidInputError(`A label ${l} is outside the model's ${numClasses} classes: retrain the model on the project's current classes.`);
    }
  }
}

/**
 * Descriptors of every image of `images`, a batch at a time.
 *
 * @param labelsForLoss the class each image's loss is taken against (-1: no loss, so that
 *   image's g is zeros), a rule that picks it on the fly, or null for no gradients at all
 *   (only z and the logits: one forward pass, no backward).
 *
 * Leak-free: every tensor made here is disposed before it returns or throws.
 */
export async function computeDescriptors(
  model: HearthModel,
  images: ImageSet,
  labelsForLoss: Int16Array | LossLabelRule | null,
  opts: DescriptorOptions,
): Promise<Descriptors> {
  const { layers, batchSize } = opts;
  const cancel = opts.cancel ?? NEVER_CANCELLED;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new InvalidInputError(`The batch size must be a positive whole number, got ${batchSize}.`);
  }
  if (new Set(layers).size !== layers.length) {
    throw new InvalidInputError(`The descriptor layers ${layers.join(', ')} name a layer twice: list each once.`);
  }
  const n = images.count;
  const numClasses = model.spec.numClasses;
  const segments = descriptorSegments(model, layers);
  const length = segments.reduce((s, seg) => s + seg.length, 0);
  const shapes = layers.map((layer) => layerOutputShape(model, layer));
  const withGradients = labelsForLoss !== null && layers.length > 0;

  if (labelsForLoss instanceof Int16Array) checkLabels(labelsForLoss, n, numClasses, 'labels');
  if (labelsForLoss !== null && !(labelsForLoss instanceof Int16Array) && labelsForLoss.kind === 'nearest') {
    const { reference, labels } = labelsForLoss;
    if (reference.length !== length || reference.z.length !== reference.n * length) {
      throw new InvalidInputError(`The reference descriptors have ${reference.length} columns, but these layers make ${length}: describe both sets with the same layers.`);
    }
    if (reference.n === 0) throw new InvalidInputError('Nearest-neighbour pseudo-labels need at least one labelled validation image: label some validation images first.');
    checkLabels(labels, reference.n, numClasses, 'reference labels');
    if (labels.some((l) => l < 0)) throw new InvalidInputError('Every validation image needs a label for nearest-neighbour pseudo-labels: label them or move them out of the validation split.');
  }

  const z = new Float32Array(n * length);
  const g = withGradients ? new Float32Array(n * length) : null;
  const logitsOut = new Float32Array(n * numClasses);
  const lossLabels = withGradients ? new Int16Array(n).fill(-1) : null;

  // Tensors that live for the whole call: the reference rows of the nearest-label rule.
  const persistent: tf.Tensor[] = [];
  let pending: Promise<Uint8Array[]> | null = null;
  try {
    let target: TargetFn | null = null;
    let fixedLabels: Int16Array | null = null;
    if (withGradients && labelsForLoss instanceof Int16Array) {
      fixedLabels = labelsForLoss;
    } else if (withGradients && labelsForLoss !== null && !(labelsForLoss instanceof Int16Array)) {
      if (labelsForLoss.kind === 'argmax') {
        target = constantTarget((_zRaw, logits) => tf.oneHot(tf.argMax(logits, 1), numClasses).toFloat() as tf.Tensor2D);
      } else {
        const { reference, labels } = labelsForLoss;
        // Stored transposed ([L, V]): tfjs-backend-wasm 4.22 multiplies by a transposed
        // operand (matMul's transposeB) about ten times slower than by a plain one.
        const refZt = tf.tidy(() => tf.transpose(tf.tensor2d(reference.z, [reference.n, length])));
        const refLabels = tf.tensor1d(Int32Array.from(labels), 'int32');
        persistent.push(refZt, refLabels);
        target = constantTarget((zRaw) => {
          const nearest = tf.argMax(tf.matMul(standardizeSegments(zRaw, segments), refZt), 1);
          return tf.oneHot(tf.gather(refLabels, nearest), numClasses).toFloat() as tf.Tensor2D;
        });
      }
    }

    // The next batch's pixels are read while this one computes (IndexedDB reads overlap).
    pending = n > 0 ? images.read(0, Math.min(batchSize, n)) : null;
    for (let start = 0; start < n; start += batchSize) {
      cancel.throwIfCancelled();
      const end = Math.min(start + batchSize, n);
      const pixels = await (pending as Promise<Uint8Array[]>);
      pending = end < n ? images.read(end, Math.min(end + batchSize, n)) : null;
      if (pixels.length !== end - start) {
        throw new InvalidInputError(`Reading images ${start}–${end - 1} gave ${pixels.length} images: the image set changed while it was being described; try again.`);
      }
      const count = end - start;
      const batchLabels = fixedLabels ? fixedLabels.subarray(start, end) : null;
      const out = tf.tidy(() => describeBatch(model, pixels, count, layers, shapes, segments, numClasses, withGradients, batchLabels, target));
      try {
        const [zData, logitsData, gData, labelData] = await Promise.all([out.z.data(), out.logits.data(), out.g?.data(), out.labels?.data()]);
        z.set(zData as Float32Array, start * length);
        logitsOut.set(logitsData as Float32Array, start * numClasses);
        if (g && gData) g.set(gData as Float32Array, start * length);
        if (lossLabels && labelData) lossLabels.set(labelData, start);
      } finally {
        for (const t of [out.z, out.logits, out.g, out.labels]) t?.dispose();
      }
      opts.onBatch?.(end);
    }
  } finally {
    for (const t of persistent) t.dispose();
    // A read still in flight after a cancel or an error: its failure is no longer news.
    pending?.catch(() => undefined);
  }
  return { n, length, segments, z, g, logits: logitsOut, numClasses, lossLabels };
}

/** A type alias, not an interface, so tf.tidy accepts it as a TensorContainer. */
type BatchOut = {
  z: tf.Tensor2D;
  logits: tf.Tensor2D;
  g: tf.Tensor2D | undefined;
  labels: tf.Tensor1D | undefined;
};

/** One batch, inside the caller's tidy; the returned tensors are the caller's. */
function describeBatch(
  model: HearthModel,
  pixels: Uint8Array[],
  count: number,
  layers: readonly string[],
  shapes: number[][],
  segments: DescriptorSegment[],
  numClasses: number,
  withGradients: boolean,
  batchLabels: Int16Array | null,
  target: TargetFn | null,
): BatchOut {
  const x = pixelsToInput(pixels, model.spec.input);
  const poolAll = (outputs: Record<string, tf.Tensor>): tf.Tensor2D => {
    if (layers.length === 0) return tf.zeros([count, 0]);
    const pooled = layers.map((layer) => poolSpatial(outputs[layer] as tf.Tensor));
    return (pooled.length === 1 ? pooled[0] : tf.concat(pooled, 1)) as tf.Tensor2D;
  };

  if (!withGradients) {
    const r = model.forward(x, { activations: layers });
    return { z: standardizeSegments(poolAll(r.activations), segments), logits: r.logits, g: undefined, labels: undefined };
  }

  // One offset per image and channel, broadcast over space: the gradient of the loss with
  // respect to it is Σ_hw ∂loss/∂output, the spatial mean times H·W. The factor H·W is
  // the same for every image and vanishes in the per-segment standardisation, and tfjs
  // then sums the gradient inside the Add's backward pass instead of handing back the
  // full [B, H, W, C] map (a copy) to be averaged afterwards.
  const offsets = shapes.map((shape) => tf.zeros([count, ...shape.map((d, i) => (i === shape.length - 1 ? d : 1))]));
  // The forward pass's z, logits and loss labels, kept out of tf.grads' inner tidy (which
  // would dispose them); cloned into the caller's tidy below, the kept ones released here.
  const kept: { z?: tf.Tensor2D; logits?: tf.Tensor2D; labels?: tf.Tensor1D } = {};
  try {
    const lossOf = (...offs: tf.Tensor[]): tf.Scalar => {
      const byLayer: Record<string, tf.Tensor> = {};
      layers.forEach((layer, i) => (byLayer[layer] = offs[i] as tf.Tensor));
      const r = model.logitsWithOffsets(x, byLayer);
      const zRaw = poolAll(r.outputs);
      kept.z = tf.keep(standardizeSegments(zRaw, segments));
      kept.logits = tf.keep(r.logits);
      // -1 (unknown) makes an all-zero row: no loss, so that image's gradient is zero.
      const oneHot = batchLabels
        ? (tf.oneHot(tf.tensor1d(Int32Array.from(batchLabels), 'int32'), numClasses).toFloat() as tf.Tensor2D)
        : (target as TargetFn)(zRaw, r.logits);
      kept.labels = tf.keep(
        tf.tidy(() => tf.where(tf.greater(tf.sum(oneHot, 1), 0), tf.argMax(oneHot, 1), tf.fill([count], -1, 'int32')) as tf.Tensor1D),
      );
      // Σ_i −log softmax(logits_i)[y_i]: the reference's cross_entropy(reduction='sum').
      return tf.neg(tf.sum(tf.mul(oneHot, tf.logSoftmax(r.logits))));
    };
    const grads = tf.grads(lossOf)(offsets);
    const g = standardizeSegments(poolAll(Object.fromEntries(layers.map((layer, i) => [layer, grads[i] as tf.Tensor]))), segments);
    const { z, logits, labels } = kept as Required<typeof kept>;
    return { z: tf.clone(z), logits: tf.clone(logits), g, labels: tf.clone(labels) };
  } finally {
    for (const t of Object.values(kept)) t.dispose();
  }
}
