import { beforeAll, describe, expect, it } from 'vitest';
import { COLOR_PALETTE, parseMnistFiles, tintGray, type MnistArrays } from '../../src/lib/data/samples/catalog';
import { measureColour, slant, strokeThickness } from '../../src/lib/generate/measure';
import { readMnistFiles } from '../helpers/mnist';

const W = 28;

/** A 28×28 gray image with a bar of `width` pixels, sheared by `shear` pixels of x per row up. */
function bar(width: number, shear: number): Uint8Array {
  const img = new Uint8Array(W * W);
  for (let y = 4; y < 24; y++) {
    const x0 = Math.round(12 + shear * (14 - y));
    for (let x = x0; x < x0 + width; x++) img[y * W + x] = 255;
  }
  return img;
}

describe('measured attributes', () => {
  let mnist: MnistArrays;
  beforeAll(() => {
    mnist = parseMnistFiles(readMnistFiles());
  });

  it('names the colour of every real MNIST digit tinted with every palette colour, cleanly', () => {
    let right = 0;
    let worstResidual = 0;
    for (let i = 0; i < 50; i++) {
      const gray = mnist.trainImages.subarray(i * W * W, (i + 1) * W * W);
      COLOR_PALETTE.forEach((c, k) => {
        const m = measureColour(tintGray(gray, c.rgb), W, W, COLOR_PALETTE);
        if (m.index === k && m.name === c.name) right++;
        worstResidual = Math.max(worstResidual, m.residual);
      });
    }
    expect(right).toBe(500);
    // Rounding to 8 bits is all that a clean tint leaves unexplained.
    expect(worstResidual).toBeLessThan(0.002);
  });

  it('says how far a mixed colour is from every palette colour', () => {
    // Half the ink red, half blue: no palette colour explains more than about half.
    const img = new Uint8Array(W * W * 3);
    for (let p = 0; p < 200; p++) img.set(p % 2 ? [255, 0, 0] : [0, 64, 255], p * 3);
    expect(measureColour(img, W, W, COLOR_PALETTE).residual).toBeGreaterThan(0.3);
  });

  it('measures stroke thickness in pixels', () => {
    // 2·area/perimeter of a w×20 bar = 2·20w / (2w + 40).
    expect(strokeThickness(bar(3, 0), W, W, 1)).toBeCloseTo((2 * 60) / 46, 10);
    expect(strokeThickness(bar(6, 0), W, W, 1)).toBeGreaterThan(strokeThickness(bar(3, 0), W, W, 1) * 1.6);
    expect(strokeThickness(new Uint8Array(W * W), W, W, 1)).toBe(0);
  });

  it('measures slant as x per row up, right-leaning positive', () => {
    expect(slant(bar(3, 0), W, W, 1)).toBeCloseTo(0, 10);
    expect(slant(bar(3, 0.3), W, W, 1)).toBeCloseTo(0.3, 1);
    expect(slant(bar(3, -0.3), W, W, 1)).toBeCloseTo(-0.3, 1);
    // A tinted copy has the same slant and thickness as its gray original.
    const gray = mnist.trainImages.subarray(0, W * W);
    const red = tintGray(gray, [255, 0, 0]);
    expect(slant(red, W, W, 3)).toBeCloseTo(slant(gray, W, W, 1), 10);
    expect(strokeThickness(red, W, W, 3)).toBeCloseTo(strokeThickness(gray, W, W, 1), 10);
  });
});
