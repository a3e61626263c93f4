/**
 * Helpers shared by the filter, resize and mixing programs: border codes as the WGSL
 * `borderIndex` (border-index.wgsl) reads them, kernel-size checks, and byte packing for
 * programs that carry a second image in their parameter words.
 */
import { InvalidInputError } from '../../../jobs/errors';
import type { BorderMode, ImageU8 } from '../../types';
import type { ImageShape } from '../runner';

export const BORDER_CODES: Readonly<Record<BorderMode, number>> = { constant: 0, replicate: 1, reflect: 2, reflect101: 3 };

export function borderCode(mode: BorderMode, what: string): number {
  const code = (BORDER_CODES as Readonly<Record<string, number>>)[mode];
  if (code === undefined) throw new InvalidInputError(`${what}: border must be one of ${Object.keys(BORDER_CODES).join(', ')}; got ${JSON.stringify(mode)}.`);
  return code;
}

/** The CPU kernels' rule (filter.ts): an odd whole number from 1 to `max`. */
export function checkOddKsize(ksize: number, max: number, what: string): void {
  if (!Number.isInteger(ksize) || ksize < 1 || ksize % 2 === 0 || ksize > max) {
    throw new InvalidInputError(`${what} kernel size must be an odd whole number from 1 to ${max}; got ${ksize}.`);
  }
}

/**
 * A partner image for the mixing programs, packed four bytes to a word little end first
 * as the runner packs its input, so WGSL reads byte i at bits 8·(i % 4) of word i / 4.
 */
export function packBytes(data: Uint8Array): Uint32Array {
  const words = new Uint32Array(Math.ceil(data.length / 4));
  new Uint8Array(words.buffer).set(data);
  return words;
}

/** The partner must have the input's shape, as the CPU kernels require. */
export function checkPartner(what: string, other: ImageU8, input: ImageShape): void {
  if (other.width !== input.width || other.height !== input.height || other.channels !== input.channels || other.data.length !== input.width * input.height * input.channels) {
    throw new InvalidInputError(
      `${what}: the partner is ${other.width}×${other.height}×${other.channels} but the image is ${input.width}×${input.height}×${input.channels}. Resize the partner image first.`,
    );
  }
}

/** A box of whole pixels inside the image (cutout, cutmix, crop). */
export function checkBox(what: string, box: { x: number; y: number; width: number; height: number }, input: ImageShape, minSide: number): void {
  const { x, y, width, height } = box;
  const ok = [x, y, width, height].every(Number.isInteger) && x >= 0 && y >= 0 && width >= minSide && height >= minSide && x + width <= input.width && y + height <= input.height;
  if (!ok) throw new InvalidInputError(`${what}: the box ${width}×${height} at (${x}, ${y}) must be whole pixels inside the ${input.width}×${input.height} image.`);
}
