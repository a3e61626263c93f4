// Draws public/icon-192.png and public/icon-512.png, the PNG icons the web app manifest
// needs (install prompts want raster icons), from the same shapes as public/icon.svg.
// Run: node scripts/make-icons.mjs. No SVG renderer is available offline, so the two
// paths of the SVG are flattened to polygons here and filled with supersampling.
import { writeFileSync } from 'node:fs';
import { PNG } from 'pngjs';

const SIZES_PX = [192, 512];
/** Samples per pixel side; 4×4 gives smooth edges without a real antialiasing rasteriser. */
const SUPERSAMPLE = 4;
/** The SVG's viewBox is 64×64; all coordinates below are in that space. */
const VIEW = 64;
const CORNER_RADIUS = 12;
const BACKGROUND = [0x2b, 0x1d, 0x14];
const FLAME = [0xe8, 0x79, 0x2b];
const CORE = [0xff, 0xd2, 0x7a];
const CURVE_STEPS = 32;

/** Points of a cubic Bézier from p0 (excluded) to p3. */
function cubic(p0, p1, p2, p3) {
  const pts = [];
  for (let i = 1; i <= CURVE_STEPS; i++) {
    const t = i / CURVE_STEPS;
    const u = 1 - t;
    const a = u * u * u, b = 3 * u * u * t, c = 3 * u * t * t, d = t * t * t;
    pts.push([a * p0[0] + b * p1[0] + c * p2[0] + d * p3[0], a * p0[1] + b * p1[1] + c * p2[1] + d * p3[1]]);
  }
  return pts;
}

/** The lower half circle of radius r from (cx + r, cy) to (cx - r, cy): the SVG's `a r r 0 0 1 -2r 0`. */
function lowerHalfCircle(cx, cy, r) {
  const pts = [];
  for (let i = 1; i <= CURVE_STEPS; i++) {
    const angle = (Math.PI * i) / CURVE_STEPS;
    pts.push([cx + r * Math.cos(angle), cy + r * Math.sin(angle)]);
  }
  return pts;
}

/** Follows relative cubic segments `c` from `start`, as the SVG path does. */
function relativeCubics(start, segments) {
  const pts = [];
  let p = start;
  for (const [x1, y1, x2, y2, x, y] of segments) {
    const q = [p[0] + x, p[1] + y];
    pts.push(...cubic(p, [p[0] + x1, p[1] + y1], [p[0] + x2, p[1] + y2], q));
    p = q;
  }
  return pts;
}

// M32 10 c4 10 14 14 14 28 a14 14 0 0 1 -28 0 c0-8 4-12 7-16 1 5 3 7 6 8 -2-8 0-14 1-20z
const flame = [
  [32, 10],
  ...relativeCubics([32, 10], [[4, 10, 14, 14, 14, 28]]),
  ...lowerHalfCircle(32, 38, 14),
  ...relativeCubics([18, 38], [
    [0, -8, 4, -12, 7, -16],
    [1, 5, 3, 7, 6, 8],
    [-2, -8, 0, -14, 1, -20],
  ]),
];
// M32 32 c3 4 6 6 6 10 a6 6 0 0 1 -12 0 c0-4 3-6 6-10z
const core = [
  [32, 32],
  ...relativeCubics([32, 32], [[3, 4, 6, 6, 6, 10]]),
  ...lowerHalfCircle(32, 42, 6),
  ...relativeCubics([26, 42], [[0, -4, 3, -6, 6, -10]]),
];

/** Even-odd point-in-polygon test (the flame paths do not self-intersect). */
function inside(poly, x, y) {
  let hit = false;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const [xi, yi] = poly[i];
    const [xj, yj] = poly[j];
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) hit = !hit;
  }
  return hit;
}

function inRoundedSquare(x, y) {
  const r = CORNER_RADIUS;
  const dx = Math.max(r - x, 0, x - (VIEW - r));
  const dy = Math.max(r - y, 0, y - (VIEW - r));
  return dx * dx + dy * dy <= r * r;
}

/** Colour and coverage (0..1) of one sample point in viewBox units; null where transparent. */
function sample(x, y) {
  if (!inRoundedSquare(x, y)) return null;
  if (inside(core, x, y)) return CORE;
  if (inside(flame, x, y)) return FLAME;
  return BACKGROUND;
}

function render(sizePx) {
  const png = new PNG({ width: sizePx, height: sizePx });
  const samples = SUPERSAMPLE * SUPERSAMPLE;
  for (let py = 0; py < sizePx; py++) {
    for (let px = 0; px < sizePx; px++) {
      let r = 0, g = 0, b = 0, covered = 0;
      for (let sy = 0; sy < SUPERSAMPLE; sy++) {
        for (let sx = 0; sx < SUPERSAMPLE; sx++) {
          const x = ((px + (sx + 0.5) / SUPERSAMPLE) * VIEW) / sizePx;
          const y = ((py + (sy + 0.5) / SUPERSAMPLE) * VIEW) / sizePx;
          const colour = sample(x, y);
          if (!colour) continue;
          r += colour[0];
          g += colour[1];
          b += colour[2];
          covered++;
        }
      }
      const o = (py * sizePx + px) * 4;
      // Colour averaged over covered samples, alpha from coverage: straight (not premultiplied) alpha.
      png.data[o] = covered ? Math.round(r / covered) : 0;
      png.data[o + 1] = covered ? Math.round(g / covered) : 0;
      png.data[o + 2] = covered ? Math.round(b / covered) : 0;
      png.data[o + 3] = Math.round((255 * covered) / samples);
    }
  }
  return PNG.sync.write(png);
}

for (const size of SIZES_PX) {
  const path = new URL(`../public/icon-${size}.png`, import.meta.url);
  writeFileSync(path, render(size));
  console.log(`wrote public/icon-${size}.png`);
}
