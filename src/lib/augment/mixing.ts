/**
 * Occlusion and mixing: cutout, mixup and cutmix.
 *
 * cutout fills a rectangle with one value (cv2.rectangle, filled). mixup blends two
 * images, dst = saturate(round(λ·a + (1 − λ)·b)) exactly as cv2.addWeighted(a, λ, b,
 * 1 − λ, 0) computes it in float32. cutmix pastes the box of b at the same place in a.
 *
 * The second image: `sample` reads it from `spec.otherImage`. The pipeline, not the
 * stored JSON recipe, supplies it: before sampling a mixing transform for an image it
 * draws a partner (from the batch or dataset, with its own seeded Rng) and passes the
 * spec with `otherImage` set. It must have the same width, height and channels. The
 * params then hold the partner itself, so `cpu(img, params)` stays pure; provenance
 * should record the partner's id rather than these pixels.
 *
 * Mixing gives soft labels: `mixLabels` blends the two label vectors with the weight of
 * image a, which `mixupLabelWeight` / `cutmixLabelWeight` return (λ, and the fraction of
 * a's pixels kept).
 */
import type { Rng } from '../data/rng';
import { InvalidInputError } from '../jobs/errors';
import { clampU8, defineTransform, readRange, roundHalfEven, sampleInt, sampleUniform } from './sample';
import { rangeBounds } from './spec';
import type { ImageU8, TransformDef } from './types';

/** Cutout's width and height fractions share their bounds. */
const SIDE_FRACTION = rangeBounds('cutout', 'widthFractionRange');
const FILL = rangeBounds('cutout', 'fillRange');
const MIXUP_LAMBDA = rangeBounds('mixup', 'lambdaRange');
const CUTMIX_LAMBDA = rangeBounds('cutmix', 'lambdaRange');

/** A rectangle in pixels, top-left (x, y), inside the image. */
export interface PixelBox {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface CutoutParams extends PixelBox {
  /** Whole number in [0, 255] written to every channel inside the box. */
  fill: number;
}

export interface MixupParams {
  /** Weight of the input image in [0, 1]; the partner gets 1 − lambda. */
  lambda: number;
  other: ImageU8;
}

export interface CutmixParams extends PixelBox {
  /** The partner whose pixels inside the box replace the input's. */
  other: ImageU8;
}

type Shape = Readonly<Pick<ImageU8, 'width' | 'height' | 'channels'>>;

function isImageU8(v: unknown): v is ImageU8 {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Partial<ImageU8>;
  return (
    typeof o.width === 'number' &&
    typeof o.height === 'number' &&
    (o.channels === 1 || o.channels === 3) &&
    o.data instanceof Uint8Array &&
    o.data.length === o.width * o.height * o.channels
  );
}

function requireSameShape(name: string, key: string, other: Shape, image: Shape): void {
  if (other.width !== image.width || other.height !== image.height || other.channels !== image.channels) {
    throw new InvalidInputError(
      `${name}: ${key} is ${other.width}×${other.height}×${other.channels} but the image is ${image.width}×${image.height}×${image.channels}. Resize the partner image first.`,
    );
  }
}

function readOther(name: string, spec: Readonly<Record<string, unknown>>, image: Shape): ImageU8 {
  const other = spec.otherImage;
  if (!isImageU8(other)) {
    throw new InvalidInputError(`${name} needs a partner image in otherImage (the pipeline supplies it); none or a malformed one was given.`);
  }
  requireSameShape(name, 'otherImage', other, image);
  return other;
}

function requireBox(name: string, box: PixelBox, image: Shape): void {
  const { x, y, width, height } = box;
  const ok = [x, y, width, height].every(Number.isInteger) && x >= 0 && y >= 0 && width >= 0 && height >= 0 && x + width <= image.width && y + height <= image.height;
  if (!ok) {
    throw new InvalidInputError(`${name}: the box (${x}, ${y}, ${width}×${height}) must be whole pixels inside the ${image.width}×${image.height} image.`);
  }
}

/** Copies `src` into `dst` inside the box, or fills it when `src` is a number. */
function paintBox(dst: ImageU8, box: PixelBox, src: ImageU8 | number): void {
  const c = dst.channels;
  const rowLength = box.width * c;
  for (let row = box.y; row < box.y + box.height; row++) {
    const start = (row * dst.width + box.x) * c;
    if (typeof src === 'number') dst.data.fill(src, start, start + rowLength);
    else dst.data.set(src.data.subarray(start, start + rowLength), start);
  }
}

export function cutout(input: ImageU8, params: CutoutParams): ImageU8 {
  requireBox('cutout', params, input);
  const out: ImageU8 = { ...input, data: input.data.slice() };
  paintBox(out, params, params.fill);
  return out;
}

/**
 * cv2.addWeighted(a, λ, b, 1 − λ, 0) on 8-bit images: weights cast to float32, then one
 * fused multiply-add per term, fma(a, λ, fma(b, 1 − λ, 0)), rounded half to even. Each
 * product of a byte and a float32 is exact in a double, so rounding each double sum
 * once to float32 replays the FMA.
 */
export function mixup(input: ImageU8, { lambda, other }: MixupParams): ImageU8 {
  requireSameShape('mixup', 'other', other, input);
  const wa = Math.fround(lambda);
  const wb = Math.fround(1 - lambda);
  const a = input.data;
  const b = other.data;
  const data = new Uint8Array(a.length);
  for (let i = 0; i < a.length; i++) {
    const partial = Math.fround((b[i] as number) * wb);
    data[i] = clampU8(roundHalfEven(Math.fround((a[i] as number) * wa + partial)));
  }
  return { width: input.width, height: input.height, channels: input.channels, data };
}

export function cutmix(input: ImageU8, params: CutmixParams): ImageU8 {
  requireSameShape('cutmix', 'other', params.other, input);
  requireBox('cutmix', params, input);
  const out: ImageU8 = { ...input, data: input.data.slice() };
  paintBox(out, params, params.other);
  return out;
}

/** Soft-label weight of the input image under mixup: λ. */
export function mixupLabelWeight(params: Pick<MixupParams, 'lambda'>): number {
  return params.lambda;
}

/** Soft-label weight of the input image under cutmix: the fraction of its pixels kept. */
export function cutmixLabelWeight(params: PixelBox, image: Pick<ImageU8, 'width' | 'height'>): number {
  return 1 - (params.width * params.height) / (image.width * image.height);
}

/** A one-hot label vector of length `numClasses`. */
export function oneHot(classIndex: number, numClasses: number): Float32Array {
  if (!Number.isInteger(classIndex) || classIndex < 0 || classIndex >= numClasses) {
    throw new InvalidInputError(`Class index ${classIndex} is outside [0, ${numClasses}). Check the dataset's label list.`);
  }
  const v = new Float32Array(numClasses);
  v[classIndex] = 1;
  return v;
}

/**
 * The soft label of a mixed sample: weightA·labelA + (1 − weightA)·labelB. Takes label
 * vectors (one-hot or already soft), so mixing a mixed sample again composes.
 */
export function mixLabels(labelA: ArrayLike<number>, labelB: ArrayLike<number>, weightA: number): Float32Array {
  if (labelA.length !== labelB.length) {
    throw new InvalidInputError(`Label vectors differ in length (${labelA.length} and ${labelB.length}); both samples must come from one label set.`);
  }
  if (!(weightA >= 0 && weightA <= 1)) throw new InvalidInputError(`Mixing weight ${weightA} must lie in [0, 1].`);
  const out = new Float32Array(labelA.length);
  for (let i = 0; i < out.length; i++) out[i] = weightA * (labelA[i] as number) + (1 - weightA) * (labelB[i] as number);
  return out;
}

function sampleSide(rng: Rng, spec: Readonly<Record<string, unknown>>, key: string, imageSide: number): number {
  const fraction = sampleUniform(rng, readRange(spec, key, { ...SIDE_FRACTION, fallback: [0.1, 0.3] }));
  return Math.min(imageSide, Math.max(1, Math.round(fraction * imageSide)));
}

export const cutoutTransform = defineTransform<CutoutParams>({
  name: 'cutout',
  kind: 'pointwise',
  description: 'Fills a random rectangle with one value (occlusion).',
  sample: (rng, spec, image) => {
    const width = sampleSide(rng, spec, 'widthFractionRange', image.width);
    const height = sampleSide(rng, spec, 'heightFractionRange', image.height);
    const fill = sampleInt(rng, readRange(spec, 'fillRange', { ...FILL, fallback: 0 }));
    const x = rng.int(image.width - width + 1);
    const y = rng.int(image.height - height + 1);
    return { x, y, width, height, fill };
  },
  cpu: cutout,
  goldenTolerance: 0,
});

export const mixupTransform = defineTransform<MixupParams>({
  name: 'mixup',
  kind: 'mixing',
  description: 'Blends the image with a partner, λ·a + (1 − λ)·b; soft label weight λ.',
  sample: (rng, spec, image) => {
    const other = readOther('mixup', spec, image);
    return { lambda: sampleUniform(rng, readRange(spec, 'lambdaRange', { ...MIXUP_LAMBDA, fallback: [0.2, 0.8] })), other };
  },
  cpu: mixup,
  goldenTolerance: 0,
});

export const cutmixTransform = defineTransform<CutmixParams>({
  name: 'cutmix',
  kind: 'mixing',
  description: "Pastes a partner's box into the image; soft label weight = area kept.",
  sample: (rng, spec, image) => {
    const other = readOther('cutmix', spec, image);
    // CutMix (Yun et al. 2019): a box of area (1 − λ)·W·H centred uniformly, clipped to
    // the image, so the label weight is recomputed from the clipped box.
    const lambda = sampleUniform(rng, readRange(spec, 'lambdaRange', { ...CUTMIX_LAMBDA, fallback: [0.3, 0.7] }));
    const cut = Math.sqrt(1 - lambda);
    const cutW = Math.round(image.width * cut);
    const cutH = Math.round(image.height * cut);
    const cx = rng.int(image.width);
    const cy = rng.int(image.height);
    const x0 = Math.max(0, cx - Math.floor(cutW / 2));
    const y0 = Math.max(0, cy - Math.floor(cutH / 2));
    const x1 = Math.min(image.width, cx + Math.ceil(cutW / 2));
    const y1 = Math.min(image.height, cy + Math.ceil(cutH / 2));
    return { x: x0, y: y0, width: x1 - x0, height: y1 - y0, other };
  },
  cpu: cutmix,
  goldenTolerance: 0,
});

export const MIXING_TRANSFORMS: readonly (TransformDef<CutoutParams> | TransformDef<MixupParams> | TransformDef<CutmixParams>)[] = [
  cutoutTransform,
  mixupTransform,
  cutmixTransform,
];
