/**
 * The augmentation engine's contract. A transform is a pure kernel plus a separate
 * parameter sampler: randomness is drawn from a seeded Rng first, then applied
 * deterministically, so every augmented sample can be reproduced from its seed.
 */
import type { Rng } from '../data/rng';

/** An 8-bit image in HWC layout (rows top to bottom, channels interleaved). */
export interface ImageU8 {
  width: number;
  height: number;
  channels: 1 | 3;
  data: Uint8Array;
}

/** OpenCV's border modes (BORDER_CONSTANT, BORDER_REPLICATE, BORDER_REFLECT_101 is OpenCV's default "reflect"). */
export type BorderMode = 'constant' | 'replicate' | 'reflect' | 'reflect101';

/**
 * How a transform reads its input, which decides how it can be fused on the GPU:
 * pointwise (one pixel in, one out), geometric (one output pixel samples the input at a
 * mapped coordinate), neighbourhood (a window: filters), global (needs whole-image
 * statistics first: Otsu, equalisation), mixing (two images).
 */
export type TransformKind = 'pointwise' | 'geometric' | 'neighbourhood' | 'global' | 'mixing';

/** A parameter range in a pipeline spec: a fixed value or [min, max] sampled uniformly. */
export type Range = number | [number, number];

export interface TransformDef<P> {
  /** Registry name, kebab-case, e.g. `rgb-to-hsv`, `rotate`, `gaussian-blur`. */
  name: string;
  kind: TransformKind;
  /** One line for the UI. */
  description: string;
  /**
   * Draws concrete parameters from the spec's ranges (`…Range` keys) with `rng`.
   * Throws InvalidInputError naming the bad key when the spec is malformed.
   */
  sample(rng: Rng, spec: Readonly<Record<string, unknown>>, image: Readonly<Pick<ImageU8, 'width' | 'height' | 'channels'>>): P;
  /** The CPU reference kernel: pure, deterministic, never mutates `input`. */
  cpu(input: ImageU8, params: P): ImageU8;
  /** Largest allowed absolute difference per value against OpenCV's output (0 = exact). */
  goldenTolerance: number;
}
