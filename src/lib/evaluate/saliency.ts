/**
 * Saliency maps: which pixels a model's decision leans on. Three methods, each giving one
 * [height·width] map in [0, 1] per image as plain data (a Float32Array), so it crosses a
 * worker boundary by transfer:
 *
 * - vanilla gradient (Simonyan et al. 2014): |∂logit_c/∂x|, the max over channels;
 * - SmoothGrad (Smilkov et al. 2017): the mean of vanilla-gradient maps of noisy copies;
 * - Grad-CAM (Selvaraju et al. 2017): ReLU(Σ_k α_k A^k) with α_k the spatial mean of
 *   ∂logit_c/∂A^k at a convolutional layer, upsampled bilinearly to the input size.
 *
 * Every map is divided by its own maximum (an all-zero map stays zero, not NaN), so maps
 * compare across methods by shape, not by scale. Every tensor a call makes is released
 * before it returns.
 */
import { tf } from '../compute/register';
import { Rng } from '../data/rng';
import type { InputSpec } from '../storage/records';
import { InvalidInputError } from '../jobs/errors';
import type { HearthModel } from '../train/models';

/** One saliency map in [0, 1], row-major. */
export interface SaliencyMap {
  width: number;
  height: number;
  values: Float32Array;
  /** The class the map explains. */
  targetClass: number;
}

/** One class for every image, or one class per image; left out: each image's prediction. */
export type ClassTarget = number | readonly number[];

export interface SmoothGradOptions {
  /** Noisy copies averaged; Smilkov et al. saw little change beyond about 50. */
  samples?: number;
  /**
   * Noise standard deviation in input units. Inputs span [0, 1], so this is the paper's
   * σ / (x_max − x_min); the paper recommends 10–20 %.
   */
  noiseStd?: number;
  seed: number;
}

export interface GradCamOptions {
  /** A layer with a spatial [N, h, w, K] output; default the model's `gradCamLayer`. */
  layer?: string;
}

export interface OverlayOptions {
  /** Weight of the colour map over the image, in [0, 1]. */
  alpha?: number;
}

export const DEFAULT_SMOOTHGRAD_SAMPLES = 25;
export const DEFAULT_SMOOTHGRAD_NOISE_STD = 0.15;
export const DEFAULT_OVERLAY_ALPHA = 0.5;

function checkBatch(m: HearthModel, xNhwc: tf.Tensor4D): void {
  const { width, height, channels } = m.spec.input;
  const [n, h, w, c] = xNhwc.shape;
  if (xNhwc.rank !== 4 || h !== height || w !== width || c !== channels || n === 0) {
    throw new InvalidInputError(
      `Saliency needs a batch of at least one ${width}×${height}×${channels} image (NHWC), got shape [${xNhwc.shape.join(', ')}].`,
    );
  }
}

/** The class each image is explained for: given, or the model's prediction. */
function resolveTargets(m: HearthModel, xNhwc: tf.Tensor4D, cls: ClassTarget | undefined): number[] {
  const n = xNhwc.shape[0];
  let targets: number[];
  if (cls === undefined) {
    const predicted = tf.tidy(() => tf.argMax(logitsOf(m, xNhwc), 1));
    targets = predicted.arraySync() as number[];
    predicted.dispose();
  } else if (typeof cls === 'number') {
    targets = new Array<number>(n).fill(cls);
  } else {
    if (cls.length !== n) {
      throw new InvalidInputError(`Give one target class per image: ${n} images, ${cls.length} classes.`);
    }
    targets = [...cls];
  }
  for (const c of targets) {
    if (!Number.isInteger(c) || c < 0 || c >= m.spec.numClasses) {
      throw new InvalidInputError(`Target class ${c} is not one of the model's ${m.spec.numClasses} classes (0–${m.spec.numClasses - 1}).`);
    }
  }
  return targets;
}

/**
 * Σ_n logit[n, target_n]. Images do not interact in inference mode (BatchNorm uses its
 * moving statistics), so its gradient holds each image's own ∂logit/∂x in its row.
 */
function targetScore(logits: tf.Tensor2D, targets: readonly number[], numClasses: number): tf.Scalar {
  return tf.sum(tf.mul(logits, tf.oneHot(tf.tensor1d([...targets], 'int32'), numClasses)));
}

function logitsOf(m: HearthModel, xNhwc: tf.Tensor4D): tf.Tensor2D {
  const { logits, features } = m.forward(xNhwc, { activations: [] });
  features.dispose();
  return logits;
}

/** max_c |∂score/∂x| → [N, H, W], not normalised. Call inside tf.tidy. */
function gradientMagnitude(m: HearthModel, xNhwc: tf.Tensor4D, targets: readonly number[]): tf.Tensor3D {
  const numClasses = m.spec.numClasses;
  const grad = tf.grad((x: tf.Tensor) => targetScore(logitsOf(m, x as tf.Tensor4D), targets, numClasses))(xNhwc);
  return tf.max(tf.abs(grad), 3) as tf.Tensor3D;
}

/** Divides each image's map by its maximum; an all-zero map stays zero. */
function normalisePerImage(maps: tf.Tensor3D): tf.Tensor3D {
  return tf.divNoNan(maps, tf.max(maps, [1, 2], true));
}

/** [N, H, W] in [0, 1] → plain per-image maps; disposes `maps`. */
function toMaps(maps: tf.Tensor3D, targets: readonly number[]): SaliencyMap[] {
  const [n, height, width] = maps.shape;
  const all = maps.dataSync() as Float32Array;
  maps.dispose();
  const perImage = height * width;
  return Array.from({ length: n }, (_, i) => ({
    width,
    height,
    // A copy, not a view: each map's buffer must be transferable on its own.
    values: all.slice(i * perImage, (i + 1) * perImage),
    targetClass: targets[i] as number,
  }));
}

/** |∂logit_cls/∂x|, the max over channels, per image normalised to [0, 1]. */
export function vanillaGradient(m: HearthModel, xNhwc: tf.Tensor4D, cls?: ClassTarget): SaliencyMap[] {
  checkBatch(m, xNhwc);
  const targets = resolveTargets(m, xNhwc, cls);
  return toMaps(
    tf.tidy(() => normalisePerImage(gradientMagnitude(m, xNhwc, targets))),
    targets,
  );
}

/**
 * SmoothGrad (Smilkov et al. 2017, "SmoothGrad: removing noise by adding noise"): the
 * mean of the vanilla-gradient maps (|∂logit/∂x|, max over channels, before
 * normalisation) of `samples` copies of the input with Gaussian noise added, then
 * normalised. The target class is resolved once on the clean input, so every copy
 * explains the same class. The noise is drawn from `Rng(seed)`, so a seed gives the
 * same map on every run and backend up to float rounding.
 */
export function smoothGrad(m: HearthModel, xNhwc: tf.Tensor4D, cls: ClassTarget | undefined, opts: SmoothGradOptions): SaliencyMap[] {
  checkBatch(m, xNhwc);
  const samples = opts.samples ?? DEFAULT_SMOOTHGRAD_SAMPLES;
  const noiseStd = opts.noiseStd ?? DEFAULT_SMOOTHGRAD_NOISE_STD;
  if (!Number.isInteger(samples) || samples < 1) {
    throw new InvalidInputError(`SmoothGrad needs a whole number of samples of at least 1, got ${samples}.`);
  }
  if (!Number.isFinite(noiseStd) || noiseStd < 0) {
    throw new InvalidInputError(`SmoothGrad's noise level must be a non-negative number, got ${noiseStd}: 0.1–0.2 works well.`);
  }
  const targets = resolveTargets(m, xNhwc, cls);
  const rng = new Rng(opts.seed);
  const [n, height, width] = xNhwc.shape;
  const noise = new Float32Array(xNhwc.size);
  let sum: tf.Tensor3D = tf.zeros([n, height, width]);
  for (let s = 0; s < samples; s++) {
    for (let i = 0; i < noise.length; i++) noise[i] = rng.normal() * noiseStd;
    // One copy at a time, its intermediates released before the next: peak memory stays
    // that of one vanilla gradient whatever the sample count.
    const previous = sum;
    sum = tf.tidy(() => {
      const noisy = tf.add(xNhwc, tf.tensor4d(noise, xNhwc.shape)) as tf.Tensor4D;
      return tf.add(previous, gradientMagnitude(m, noisy, targets));
    });
    previous.dispose();
  }
  const total = sum;
  const maps = tf.tidy(() => normalisePerImage(tf.div(total, samples)));
  total.dispose();
  return toMaps(maps, targets);
}

/**
 * Grad-CAM (Selvaraju et al. 2017): at a convolutional layer with activations A [h, w, K],
 * α_k = mean over (i, j) of ∂logit_c/∂A^k_ij, map = ReLU(Σ_k α_k A^k), resized bilinearly
 * (half-pixel centres, as OpenCV and PyTorch do) to the input size and normalised. The
 * default layer is the model's last spatial activation, whose h×w bounds the map's detail.
 */
export function gradCam(m: HearthModel, xNhwc: tf.Tensor4D, cls?: ClassTarget, opts: GradCamOptions = {}): SaliencyMap[] {
  checkBatch(m, xNhwc);
  const layer = opts.layer ?? m.gradCamLayer;
  const targets = resolveTargets(m, xNhwc, cls);
  const numClasses = m.spec.numClasses;
  const { width, height } = m.spec.input;
  const maps = tf.tidy(() => {
    const { logits, features, activations } = m.forward(xNhwc, { activations: [layer] });
    tf.dispose([logits, features]);
    const a = activations[layer] as tf.Tensor;
    if (a.rank !== 4) {
      throw new InvalidInputError(
        `Grad-CAM needs a layer with a spatial output [N, h, w, K]; ${layer} gives [${a.shape.join(', ')}]: pick a convolutional layer such as ${m.gradCamLayer}.`,
      );
    }
    const activation = a as tf.Tensor4D;
    const grads = tf.grad((act: tf.Tensor) => targetScore(m.logitsWithActivation(xNhwc, layer, act), targets, numClasses))(activation);
    const alpha = tf.mean(grads, [1, 2], true);
    const cam = tf.relu(tf.sum(tf.mul(alpha, activation), 3, true)) as tf.Tensor4D;
    const upsampled = tf.image.resizeBilinear(cam, [height, width], false, true);
    return normalisePerImage(tf.squeeze(upsampled, [3]));
  });
  return toMaps(maps, targets);
}

// ---------------------------------------------------------------------------------------
// Colour map and overlay.

/**
 * Matplotlib's 'inferno' (perceptually uniform, readable in grey and by most colour-blind
 * viewers) as a degree-6 polynomial per channel: Matt Zucker's CC0 fit. Measured against
 * matplotlib 3.6's table it is within 12 of 255 everywhere (the largest miss is the blue of
 * the pale-yellow end) and 2.5 on average: invisible in a heat overlay, and 21 numbers
 * instead of a 768-entry table. Coefficients per channel (R, G, B), constant term first.
 */
const INFERNO_COEFFS_RGB: readonly (readonly number[])[] = [
  [0.0002189403691192265, 0.1065134194856116, 11.60249308247187, -41.70399613139459, 77.162935699427, -71.31942824499214, 25.13112622477341],
  [0.001651004631001012, 0.5639564367884091, -3.972853965665698, 17.43639888205313, -33.40235894210092, 32.62606426397723, -12.24266895238567],
  [-0.01948089843709184, 3.932712388889277, -15.9423941062914, 44.35414519872813, -81.80730925738993, 73.20951985803202, -23.07032500287172],
];

/** Σ_d coeffs[d]·x^d by Horner's rule. */
function polynomial(coeffs: readonly number[], x: number): number {
  let v = 0;
  for (let d = coeffs.length - 1; d >= 0; d--) v = v * x + (coeffs[d] as number);
  return v;
}

/** The inferno colour of t ∈ [0, 1] (clamped; NaN as 0) as 0–255 RGB. */
export function inferno(t: number): [number, number, number] {
  const x = Number.isNaN(t) ? 0 : Math.min(1, Math.max(0, t));
  const [r, g, b] = INFERNO_COEFFS_RGB.map((coeffs) => Math.min(255, Math.max(0, polynomial(coeffs, x) * 255)));
  return [r as number, g as number, b as number];
}

/**
 * The image with the heat map laid over it, as RGBA for an ImageData:
 * (1 − alpha)·image + alpha·inferno(heat), opaque. Grey images are shown as grey RGB.
 */
export function overlayHeatmap(pixelsHwc: Uint8Array, heat: SaliencyMap, input: InputSpec, opts: OverlayOptions = {}): Uint8ClampedArray {
  const { width, height, channels } = input;
  const alpha = opts.alpha ?? DEFAULT_OVERLAY_ALPHA;
  if (pixelsHwc.length !== width * height * channels) {
    throw new InvalidInputError(`The image has ${pixelsHwc.length} bytes, but a ${width}×${height}×${channels} input needs ${width * height * channels}.`);
  }
  if (heat.width !== width || heat.height !== height || heat.values.length !== width * height) {
    throw new InvalidInputError(`The heat map is ${heat.width}×${heat.height} but the image is ${width}×${height}: compute the map for this input size.`);
  }
  if (!(alpha >= 0 && alpha <= 1)) {
    throw new InvalidInputError(`The overlay alpha must be in [0, 1], got ${alpha}.`);
  }
  const rgba = new Uint8ClampedArray(width * height * 4);
  for (let p = 0; p < width * height; p++) {
    const colour = inferno(heat.values[p] as number);
    for (let ch = 0; ch < 3; ch++) {
      const image = pixelsHwc[p * channels + (channels === 3 ? ch : 0)] as number;
      rgba[p * 4 + ch] = (1 - alpha) * image + alpha * (colour[ch] as number);
    }
    rgba[p * 4 + 3] = 255;
  }
  return rgba;
}
