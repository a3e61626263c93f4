/**
 * Attributes measured from an image's pixels, with no model: the labels a flow can be
 * trained on for generated images, and the independent check that a conditional sample
 * has the attributes it was asked for.
 *
 * - Colour: which palette colour explains the pixels best. A tinted digit is
 *   pixel = g · rgb / 255 for a per-pixel gray g, so every ink pixel points the same way in
 *   RGB; the colour whose direction keeps the most of the image's energy when every pixel is
 *   projected on it wins, and the share it leaves unexplained says how clean the colour is.
 * - Stroke thickness: 2 · ink area / ink perimeter, in pixels (a stroke of width t and
 *   length L has area ≈ tL and perimeter ≈ 2L), on the ink mask (gray > half of the maximum).
 * - Slant: the shear of the ink's second moments, −μ₁₁ / μ₀₂ (x per y, with y growing
 *   downwards, so a stroke leaning right is positive): the quantity MNIST deskewing removes.
 */
export interface PaletteColour {
  name: string;
  rgb: readonly [number, number, number];
}

export interface ColourMeasure {
  name: string;
  index: number;
  /** Share of the image's RGB energy the colour leaves unexplained: 0 for a clean tint. */
  residual: number;
}

/** Gray of an HWC pixel row: the largest channel (a tinted pixel's strength). */
function grayAt(pixels: Uint8Array, i: number, channels: number): number {
  let g = 0;
  for (let c = 0; c < channels; c++) g = Math.max(g, pixels[i * channels + c] as number);
  return g;
}

export function measureColour(pixels: Uint8Array, width: number, height: number, palette: readonly PaletteColour[]): ColourMeasure {
  const n = width * height;
  let energy = 0;
  const explained = new Float64Array(palette.length);
  const units = palette.map(({ rgb }) => {
    const norm = Math.hypot(rgb[0], rgb[1], rgb[2]);
    return [rgb[0] / norm, rgb[1] / norm, rgb[2] / norm] as const;
  });
  for (let i = 0; i < n; i++) {
    const r = pixels[i * 3] as number;
    const g = pixels[i * 3 + 1] as number;
    const b = pixels[i * 3 + 2] as number;
    energy += r * r + g * g + b * b;
    units.forEach((u, k) => {
      // A pixel cannot be a negative amount of the colour: no energy from a negative projection.
      const dot = Math.max(0, r * u[0] + g * u[1] + b * u[2]);
      explained[k] = (explained[k] as number) + dot * dot;
    });
  }
  let best = 0;
  for (let k = 1; k < palette.length; k++) if ((explained[k] as number) > (explained[best] as number)) best = k;
  return {
    name: palette[best]?.name ?? '',
    index: best,
    residual: energy === 0 ? 1 : 1 - (explained[best] as number) / energy,
  };
}

/** The ink mask: gray above half of the image's largest gray. */
function inkMask(pixels: Uint8Array, width: number, height: number, channels: number): Uint8Array {
  const n = width * height;
  let max = 0;
  for (let i = 0; i < n; i++) max = Math.max(max, grayAt(pixels, i, channels));
  const mask = new Uint8Array(n);
  if (max === 0) return mask;
  for (let i = 0; i < n; i++) mask[i] = grayAt(pixels, i, channels) > max / 2 ? 1 : 0;
  return mask;
}

/** 2 · area / perimeter of the ink, in pixels; 0 for an image with no ink. */
export function strokeThickness(pixels: Uint8Array, width: number, height: number, channels: number): number {
  const mask = inkMask(pixels, width, height, channels);
  let area = 0;
  let perimeter = 0;
  const at = (x: number, y: number): number => (x < 0 || y < 0 || x >= width || y >= height ? 0 : (mask[y * width + x] as number));
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (!at(x, y)) continue;
      area++;
      perimeter += 4 - at(x - 1, y) - at(x + 1, y) - at(x, y - 1) - at(x, y + 1);
    }
  }
  return perimeter === 0 ? 0 : (2 * area) / perimeter;
}

/** −μ₁₁ / μ₀₂ of the gray-weighted ink: how far x moves per row up; 0 for an upright or empty image. */
export function slant(pixels: Uint8Array, width: number, height: number, channels: number): number {
  let m = 0;
  let mx = 0;
  let my = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const g = grayAt(pixels, y * width + x, channels);
      m += g;
      mx += g * x;
      my += g * y;
    }
  }
  if (m === 0) return 0;
  const cx = mx / m;
  const cy = my / m;
  let mu11 = 0;
  let mu02 = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const g = grayAt(pixels, y * width + x, channels);
      mu11 += g * (x - cx) * (y - cy);
      mu02 += g * (y - cy) * (y - cy);
    }
  }
  return mu02 === 0 ? 0 : -mu11 / mu02;
}
