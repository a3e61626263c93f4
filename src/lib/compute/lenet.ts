/**
 * The probe workload: a LeNet-sized forward pass, the smallest network that exercises
 * the kernels Hearth's training leans on (conv2d, max-pool, matMul, relu) at a size where
 * per-call overhead and arithmetic both show. Weights and input come from a seeded
 * generator on the CPU, so every backend sees the same numbers and their outputs can be
 * compared.
 */
import { tf } from './register';

export const PROBE_BATCH = 32;
const IMAGE_SIDE_PX = 28;
const CONV1_FILTERS = 10;
const CONV2_FILTERS = 20;
const KERNEL_SIDE_PX = 5;
const HIDDEN_UNITS = 50;
const CLASSES = 10;
/** 28 → conv5 → 24 → pool → 12 → conv5 → 8 → pool → 4. */
const FLAT_FEATURES = 4 * 4 * CONV2_FILTERS;
const PROBE_SEED = 0x4845_4152; // "HEAR"

export interface LeNetWeights {
  conv1Hwio: tf.Tensor4D;
  conv1Bias: tf.Tensor1D;
  conv2Hwio: tf.Tensor4D;
  conv2Bias: tf.Tensor1D;
  dense1: tf.Tensor2D;
  dense1Bias: tf.Tensor1D;
  dense2: tf.Tensor2D;
  dense2Bias: tf.Tensor1D;
}

/** mulberry32: a tiny seeded generator, uniform in [0, 1). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Uniform in ±1/sqrt(fanIn), so activations stay O(1) through the layers. */
function uniformValues(count: number, fanIn: number, next: () => number): Float32Array {
  const scale = 1 / Math.sqrt(fanIn);
  const values = new Float32Array(count);
  for (let i = 0; i < count; i++) values[i] = (next() * 2 - 1) * scale;
  return values;
}

/** Fresh weights and a probe batch (NHWC) on the current backend; the caller disposes. */
export function makeProbeTensors(): { weights: LeNetWeights; inputNhwc: tf.Tensor4D } {
  const next = mulberry32(PROBE_SEED);
  const k = KERNEL_SIDE_PX;
  const conv1Fan = k * k;
  const conv2Fan = k * k * CONV1_FILTERS;
  const weights: LeNetWeights = {
    conv1Hwio: tf.tensor4d(uniformValues(conv1Fan * CONV1_FILTERS, conv1Fan, next), [k, k, 1, CONV1_FILTERS]),
    conv1Bias: tf.tensor1d(uniformValues(CONV1_FILTERS, conv1Fan, next)),
    conv2Hwio: tf.tensor4d(uniformValues(conv2Fan * CONV2_FILTERS, conv2Fan, next), [k, k, CONV1_FILTERS, CONV2_FILTERS]),
    conv2Bias: tf.tensor1d(uniformValues(CONV2_FILTERS, conv2Fan, next)),
    dense1: tf.tensor2d(uniformValues(FLAT_FEATURES * HIDDEN_UNITS, FLAT_FEATURES, next), [FLAT_FEATURES, HIDDEN_UNITS]),
    dense1Bias: tf.tensor1d(uniformValues(HIDDEN_UNITS, FLAT_FEATURES, next)),
    dense2: tf.tensor2d(uniformValues(HIDDEN_UNITS * CLASSES, HIDDEN_UNITS, next), [HIDDEN_UNITS, CLASSES]),
    dense2Bias: tf.tensor1d(uniformValues(CLASSES, HIDDEN_UNITS, next)),
  };
  const pixels = new Float32Array(PROBE_BATCH * IMAGE_SIDE_PX * IMAGE_SIDE_PX);
  for (let i = 0; i < pixels.length; i++) pixels[i] = next();
  const inputNhwc = tf.tensor4d(pixels, [PROBE_BATCH, IMAGE_SIDE_PX, IMAGE_SIDE_PX, 1]);
  return { weights, inputNhwc };
}

export function disposeProbeTensors(t: { weights: LeNetWeights; inputNhwc: tf.Tensor4D }): void {
  tf.dispose([...Object.values(t.weights), t.inputNhwc]);
}

/**
 * Logits [batch, 10]. Uses the fused conv/matMul ops (bias and relu in the same kernel),
 * as tf.layers does, so the probe times the kernels training will run. Call inside
 * tf.tidy: the intermediates are not disposed here.
 */
export function leNetForward(w: LeNetWeights, inputNhwc: tf.Tensor4D): tf.Tensor {
  const c1 = tf.fused.conv2d({ x: inputNhwc, filter: w.conv1Hwio, strides: 1, pad: 'valid', bias: w.conv1Bias, activation: 'relu' });
  const p1 = tf.maxPool(c1, 2, 2, 'valid');
  const c2 = tf.fused.conv2d({ x: p1, filter: w.conv2Hwio, strides: 1, pad: 'valid', bias: w.conv2Bias, activation: 'relu' });
  const p2 = tf.maxPool(c2, 2, 2, 'valid');
  const flat = tf.reshape(p2, [-1, FLAT_FEATURES]);
  const h = tf.fused.matMul({ a: flat, b: w.dense1, bias: w.dense1Bias, activation: 'relu' });
  return tf.fused.matMul({ a: h, b: w.dense2, bias: w.dense2Bias });
}
