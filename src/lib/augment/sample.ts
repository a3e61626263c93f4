/**
 * The helpers every transform module shares: reading a pipeline spec's options and
 * `…Range` values (with errors that name the bad key), drawing parameters from the seeded
 * Rng, and OpenCV's 8-bit rounding. One module, so that every transform reads a spec and
 * spends its random stream by the same rules.
 *
 * Stream budget: each `sample*` call draws from the Rng exactly once, even for a fixed
 * value ([v, v] or a bare number). A transform therefore consumes the same draws whatever
 * its spec holds, and turning one of its ranges into a constant never changes what its
 * other ranges draw under the same seed.
 */
import type { Rng } from '../data/rng';
import { InvalidInputError } from '../jobs/errors';
import { isChoice, isIntIn, oddBounds } from './spec';
import type { ImageU8, Range, TransformDef } from './types';

/** A step's `params` object from a pipeline spec, as `TransformDef.sample` receives it. */
export type Spec = Readonly<Record<string, unknown>>;

/** Parameters of a transform that has none (the colour conversions). */
export type NoParams = Record<string, never>;

/** Keeps a transform's parameter type while checking it against the contract. */
export function defineTransform<P>(def: TransformDef<P>): TransformDef<P> {
  return def;
}

/** What a `…Range` value must satisfy. */
export interface RangeBounds {
  /** Inclusive bounds both ends must lie in. */
  min: number;
  max: number;
  /** Both ends must be whole numbers (thresholds, pixel counts). */
  integer?: boolean;
  /** Used when the key is absent; without it the key is required. */
  fallback?: Range;
}

/**
 * Reads `spec[key]` as a Range (a number or [min, max]) checked against `bounds`.
 * Throws InvalidInputError naming the key for anything else, so a typo in a stored
 * pipeline recipe is reported where it is, not as NaN pixels later.
 */
export function readRange(spec: Spec, key: string, bounds: RangeBounds): [number, number] {
  const raw = spec[key] ?? bounds.fallback;
  const bad = (why: string): InvalidInputError =>
    new InvalidInputError(
      `"${key}" ${why}; give a ${bounds.integer === true ? 'whole number' : 'number'} or [min, max] within [${bounds.min}, ${bounds.max}] in the pipeline spec.`,
    );
  if (raw === undefined) throw bad('is missing');
  let lo: unknown;
  let hi: unknown;
  if (typeof raw === 'number') {
    lo = raw;
    hi = raw;
  } else if (Array.isArray(raw) && raw.length === 2) {
    [lo, hi] = raw as unknown[];
  } else {
    throw bad(`is ${JSON.stringify(raw)}`);
  }
  if (typeof lo !== 'number' || typeof hi !== 'number' || !Number.isFinite(lo) || !Number.isFinite(hi)) {
    throw bad(`is ${JSON.stringify(raw)}`);
  }
  if (lo > hi) throw bad(`has min ${lo} above max ${hi}`);
  if (lo < bounds.min || hi > bounds.max) throw bad(`is [${lo}, ${hi}], outside the allowed interval`);
  if (bounds.integer === true && (!Number.isInteger(lo) || !Number.isInteger(hi))) throw bad(`is [${lo}, ${hi}], not whole numbers`);
  return [lo, hi];
}

/** A fixed string option from a closed set, with a default; names the key when wrong. */
export function readChoice<T extends string>(spec: Spec, key: string, choices: readonly T[], fallback: T): T {
  const value = spec[key];
  if (value === undefined) return fallback;
  if (isChoice(value, choices)) return value;
  throw new InvalidInputError(`"${key}" must be one of ${choices.join(', ')}; got ${JSON.stringify(value)}.`);
}

/** A fixed integer option in [min, max]; required unless `fallback` is given; names the key when wrong. */
export function readInt(spec: Spec, key: string, min: number, max: number, fallback?: number): number {
  const value = spec[key] ?? fallback;
  if (isIntIn(value, min, max)) return value;
  throw new InvalidInputError(`"${key}" must be a whole number in [${min}, ${max}]; got ${JSON.stringify(spec[key])}.`);
}

/** Uniform in [lo, hi]; one draw, even for a fixed value (see the stream budget above). */
export function sampleUniform(rng: Rng, [lo, hi]: [number, number]): number {
  const u = rng.next();
  return lo === hi ? lo : lo + (hi - lo) * u;
}

/** Uniform integer in [lo, hi] (both whole); one draw, `Rng.int(1)` included. */
export function sampleInt(rng: Rng, [lo, hi]: [number, number]): number {
  return lo + rng.int(hi - lo + 1);
}

/** Uniform odd integer in [lo, hi] (kernel sizes); one draw; names the key when the range holds none. */
export function sampleOddInt(rng: Rng, key: string, [lo, hi]: [number, number]): number {
  const odd = oddBounds(lo, hi);
  if (odd === null) throw new InvalidInputError(`"${key}" [${lo}, ${hi}] contains no odd integer; kernel sizes must be odd.`);
  const [first, last] = odd;
  return first + 2 * rng.int((last - first) / 2 + 1);
}

/**
 * cvRound: round half to even, what `saturate_cast<int>(double)` and `<uchar>(float)`
 * do on x86 (lrint), and numpy's rint. Math.round would send 2.5 to 3 where OpenCV writes 2.
 */
export function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** OpenCV's saturate_cast<uchar> of a value already rounded. */
export function clampU8(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/** Refuses an image whose byte count does not match its declared shape. */
export function checkImageU8(img: ImageU8): void {
  if (img.data.length !== img.width * img.height * img.channels) {
    throw new InvalidInputError(
      `Image data has ${img.data.length} bytes but ${img.width}x${img.height}x${img.channels} needs ${img.width * img.height * img.channels}.`,
    );
  }
}

/** Throws InvalidInputError unless the image has the channel count a transform needs. */
export function requireChannels(name: string, img: Pick<ImageU8, 'channels'>, channels: 1 | 3): void {
  if (img.channels !== channels) {
    throw new InvalidInputError(
      `${name} needs a ${channels}-channel image, got ${img.channels} channel(s). Convert the image first (to-gray or a colour conversion).`,
    );
  }
}
