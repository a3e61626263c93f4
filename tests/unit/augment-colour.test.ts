import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/lib/data/rng';
import { COLOUR_TRANSFORMS, hsvToRgb, labToRgb, rgbToHsv, rgbToLab, rgbToYcrcb, toGray, ycrcbToRgb } from '../../src/lib/augment/colour';
import { cutmixLabelWeight, MIXING_TRANSFORMS, mixLabels, mixupLabelWeight, oneHot, type CutmixParams } from '../../src/lib/augment/mixing';
import { gaussianNoise, PHOTOMETRIC_TRANSFORMS } from '../../src/lib/augment/photometric';
import { otsuThreshold, THRESHOLD_TRANSFORMS } from '../../src/lib/augment/threshold';
import type { ImageU8, TransformDef } from '../../src/lib/augment/types';

/**
 * Golden tests against OpenCV 4.6 (tests/fixtures/augment/make-goldens-colour.py; the
 * tolerances are stated in its manifest and in colour/README.md).
 */

const FIXTURE_DIR = fileURLToPath(new URL('../fixtures/augment/colour/', import.meta.url));

interface GoldenCase {
  transform: string;
  input: string;
  inputChannels: 1 | 3;
  params: Record<string, unknown>;
  output: string;
  channels: 1 | 3;
  tolerance: number;
  exactBelowColumn?: number;
  expectedThreshold?: number;
  other?: string;
}

const manifest = JSON.parse(readFileSync(`${FIXTURE_DIR}manifest.json`, 'utf8')) as { opencv: string; cases: GoldenCase[] };

function loadPng(rel: string, channels: 1 | 3): ImageU8 {
  const png = PNG.sync.read(readFileSync(FIXTURE_DIR + rel));
  const data = new Uint8Array(png.width * png.height * channels);
  for (let p = 0; p < png.width * png.height; p++) {
    for (let c = 0; c < channels; c++) data[p * channels + c] = png.data[p * 4 + c] as number;
  }
  return { width: png.width, height: png.height, channels, data };
}

// Each array is typed by its own params; the registry only routes a case to its def.
const ALL_TRANSFORMS: readonly TransformDef<unknown>[] = [...COLOUR_TRANSFORMS, ...THRESHOLD_TRANSFORMS, ...PHOTOMETRIC_TRANSFORMS, ...MIXING_TRANSFORMS];
const registry = new Map(ALL_TRANSFORMS.map((t) => [t.name, t as unknown as TransformDef<Record<string, unknown>>]));

function paramsOf(c: GoldenCase): Record<string, unknown> {
  return c.other === undefined ? c.params : { ...c.params, other: loadPng(c.other, c.inputChannels) };
}

/** Largest |a − b| per value, over all pixels and over those left of `column` (or all). */
function diffStats(got: ImageU8, want: ImageU8, column = want.width): { max: number; maxLeft: number; count: number } {
  let max = 0;
  let maxLeft = 0;
  let count = 0;
  for (let i = 0; i < want.data.length; i++) {
    const d = Math.abs((got.data[i] as number) - (want.data[i] as number));
    if (d === 0) continue;
    count++;
    max = Math.max(max, d);
    if (Math.floor(i / want.channels) % want.width < column) maxLeft = Math.max(maxLeft, d);
  }
  return { max, maxLeft, count };
}

describe('augment colour/threshold/photometric/mixing goldens (OpenCV)', () => {
  it('covers every exported transform with at least one golden made by OpenCV 4.6', () => {
    expect(manifest.opencv.startsWith('4.6')).toBe(true);
    const covered = new Set(manifest.cases.map((c) => c.transform));
    const missing = ALL_TRANSFORMS.map((t) => t.name).filter((n) => !covered.has(n));
    expect(missing).toEqual([]);
    expect(new Set(ALL_TRANSFORMS.map((t) => t.name)).size).toBe(ALL_TRANSFORMS.length);
  });

  it.each(manifest.cases.map((c, i) => [`${i}: ${c.transform} on ${c.input}`, c] as const))('%s', (_label, c) => {
    const def = registry.get(c.transform);
    if (!def) throw new Error(`No transform named ${c.transform}`);
    // The tolerance the code declares is the one the goldens were checked with.
    expect(def.goldenTolerance).toBe(c.tolerance);
    const input = loadPng(c.input, c.inputChannels);
    const before = input.data.slice();
    const want = loadPng(c.output, c.channels);
    const got = def.cpu(input, paramsOf(c));
    expect(input.data).toEqual(before);
    expect([got.width, got.height, got.channels]).toEqual([want.width, want.height, want.channels]);
    const stats = diffStats(got, want, c.exactBelowColumn);
    expect(stats.max).toBeLessThanOrEqual(c.tolerance);
    if (c.exactBelowColumn !== undefined) expect(stats.maxLeft).toBe(0);
    if (c.expectedThreshold !== undefined) {
      const gray = c.inputChannels === 1 ? input : toGray(input);
      expect(otsuThreshold(gray)).toBe(c.expectedThreshold);
    }
  });

  it('matches OpenCV byte for byte on every pixel except the documented hsv-to-rgb row tail', () => {
    let inexact = 0;
    for (const c of manifest.cases) {
      const def = registry.get(c.transform);
      if (!def || c.exactBelowColumn !== undefined) continue;
      const stats = diffStats(def.cpu(loadPng(c.input, c.inputChannels), paramsOf(c)), loadPng(c.output, c.channels));
      inexact += stats.count;
    }
    // Gaussian noise may differ by the last bit of Math.log/cos/sin; here it does not.
    expect(inexact).toBe(0);
  });
});

describe('colour conversions', () => {
  const grid: ImageU8 = (() => {
    const rng = new Rng(5);
    const data = new Uint8Array(64 * 64 * 3);
    for (let i = 0; i < data.length; i++) data[i] = rng.int(256);
    return { width: 64, height: 64, channels: 3, data };
  })();

  it('round-trips no worse than OpenCV 8-bit conversions do', () => {
    // OpenCV 4.6's own round trip over all 2^24 colours loses at most 1 level through
    // YCrCb, 6 through HSV and 27 through Lab (dark saturated blues quantise coarsely).
    const maxDiff = (a: ImageU8, b: ImageU8): number => a.data.reduce((m, v, i) => Math.max(m, Math.abs(v - (b.data[i] as number))), 0);
    expect(maxDiff(ycrcbToRgb(rgbToYcrcb(grid)), grid)).toBeLessThanOrEqual(1);
    expect(maxDiff(hsvToRgb(rgbToHsv(grid)), grid)).toBeLessThanOrEqual(6);
    expect(maxDiff(labToRgb(rgbToLab(grid)), grid)).toBeLessThanOrEqual(27);
  });

  it('puts pure colours where OpenCV does (H in [0, 180), Lab offsets)', () => {
    const px = (r: number, g: number, b: number): ImageU8 => ({ width: 1, height: 1, channels: 3, data: Uint8Array.of(r, g, b) });
    expect(Array.from(rgbToHsv(px(0, 255, 0)).data)).toEqual([60, 255, 255]);
    expect(Array.from(rgbToHsv(px(0, 0, 255)).data)).toEqual([120, 255, 255]);
    expect(Array.from(rgbToLab(px(255, 255, 255)).data)).toEqual([255, 128, 128]);
    expect(Array.from(rgbToLab(px(0, 0, 0)).data)).toEqual([0, 128, 128]);
    expect(Array.from(toGray(px(255, 0, 0)).data)).toEqual([76]);
  });

  it('refuses a 1-channel image with a message naming the transform', () => {
    const gray: ImageU8 = { width: 2, height: 1, channels: 1, data: Uint8Array.of(1, 2) };
    expect(() => rgbToHsv(gray)).toThrow(/rgb-to-hsv needs a 3-channel image/);
  });
});

describe('sampling', () => {
  const shape = { width: 40, height: 32, channels: 3 as const };
  const partner: ImageU8 = { ...shape, data: new Uint8Array(40 * 32 * 3).fill(9) };
  const image: ImageU8 = { ...shape, data: new Uint8Array(40 * 32 * 3).map((_, i) => (i * 37) % 256) };
  const specFor = (name: string): Record<string, unknown> => (name === 'mixup' || name === 'cutmix' ? { otherImage: partner } : {});

  it.each(ALL_TRANSFORMS.map((t) => [t.name, t] as const))('%s: same seed, same params and bytes', (name, def) => {
    const run = (seed: number): { params: unknown; bytes: Uint8Array } => {
      const params = def.sample(new Rng(seed), specFor(name), shape);
      return { params, bytes: def.cpu(image, params).data };
    };
    const a = run(11);
    const b = run(11);
    expect(b.params).toEqual(a.params);
    expect(b.bytes).toEqual(a.bytes);
  });

  it('draws different parameters under different seeds', () => {
    const varied = ['brightness', 'contrast', 'gamma', 'hue-saturation', 'gaussian-noise', 'cutout', 'mixup', 'cutmix', 'threshold-binary'];
    for (const name of varied) {
      const def = registry.get(name);
      if (!def) throw new Error(name);
      const spec = { ...specFor(name), thresholdRange: [0, 255] };
      const seen = new Set([1, 2, 3, 4, 5].map((seed) => JSON.stringify({ ...def.sample(new Rng(seed), spec, shape), other: undefined })));
      expect(seen.size, name).toBeGreaterThan(1);
    }
  });

  it('keeps sampled values inside their ranges', () => {
    for (let seed = 0; seed < 50; seed++) {
      const rng = new Rng(seed);
      const b = registry.get('brightness')?.sample(rng, { betaRange: [-10, 20] }, shape);
      expect(b?.beta).toBeGreaterThanOrEqual(-10);
      expect(b?.beta).toBeLessThanOrEqual(20);
      const h = registry.get('hue-saturation')?.sample(rng, { hueShiftRange: [-3, 3], saturationScaleRange: 1.5 }, shape);
      expect(Number.isInteger(h?.hueShift)).toBe(true);
      expect(Math.abs(h?.hueShift as number)).toBeLessThanOrEqual(3);
      expect(h?.saturationScale).toBe(1.5);
      const box = registry.get('cutmix')?.sample(rng, { otherImage: partner }, shape) as unknown as CutmixParams;
      expect(box.x + box.width).toBeLessThanOrEqual(shape.width);
      expect(box.y + box.height).toBeLessThanOrEqual(shape.height);
      const weight = cutmixLabelWeight(box, shape);
      expect(weight).toBeGreaterThanOrEqual(0);
      expect(weight).toBeLessThanOrEqual(1);
    }
  });

  it.each([
    ['threshold-binary', { thresholdRange: [200, 100] }, 'thresholdRange'],
    ['threshold-binary', { thresholdRange: [1.5, 100] }, 'thresholdRange'],
    ['threshold-otsu', { maxValueRange: 300 }, 'maxValueRange'],
    ['brightness', { betaRange: 'bright' }, 'betaRange'],
    ['contrast', { alphaRange: [-1, 1] }, 'alphaRange'],
    ['gamma', { gammaRange: [0, 1] }, 'gammaRange'],
    ['hue-saturation', { hueShiftRange: [0.5, 2] }, 'hueShiftRange'],
    ['gaussian-noise', { sigmaRange: [Number.NaN, 2] }, 'sigmaRange'],
    ['cutout', { widthFractionRange: [0.1, 2] }, 'widthFractionRange'],
    ['mixup', { otherImage: partner, lambdaRange: [0, 1.5] }, 'lambdaRange'],
    ['mixup', {}, 'otherImage'],
    ['cutmix', { otherImage: { ...partner, width: 39 } }, 'otherImage'],
  ] as const)('%s rejects %j naming %s', (name, spec, key) => {
    const def = registry.get(name);
    if (!def) throw new Error(name);
    let caught: unknown;
    try {
      def.sample(new Rng(1), spec, shape);
    } catch (err) {
      caught = err;
    }
    expect((caught as Error).name).toBe('InvalidInputError');
    expect((caught as Error).message).toContain(key);
  });
});

describe('gaussian noise statistics', () => {
  it('adds zero-mean noise of standard deviation sigma', () => {
    const flat: ImageU8 = { width: 128, height: 128, channels: 3, data: new Uint8Array(128 * 128 * 3).fill(128) };
    const sigma = 10;
    const noisy = gaussianNoise(flat, { sigma, seed: 2024 });
    let sum = 0;
    let sumSq = 0;
    for (const v of noisy.data) {
      sum += v - 128;
      sumSq += (v - 128) ** 2;
    }
    const n = noisy.data.length;
    const mean = sum / n;
    const std = Math.sqrt(sumSq / n - mean * mean);
    // Standard error of the mean is sigma/sqrt(n) ≈ 0.045; rounding adds 1/12 variance.
    expect(Math.abs(mean)).toBeLessThan(0.25);
    expect(std).toBeGreaterThan(9.7);
    expect(std).toBeLessThan(10.3);
    expect(gaussianNoise(flat, { sigma, seed: 2025 }).data).not.toEqual(noisy.data);
  });
});

describe('soft labels', () => {
  it('mixes one-hot labels with the weight of image a', () => {
    const mixed = mixLabels(oneHot(1, 3), oneHot(2, 3), mixupLabelWeight({ lambda: 0.3 }));
    expect(Array.from(mixed).map((v) => Number(v.toFixed(6)))).toEqual([0, 0.3, 0.7]);
    const same = mixLabels(oneHot(0, 2), oneHot(0, 2), 0.4);
    expect(Array.from(same)).toEqual([1, 0]);
  });

  it('weights cutmix by the fraction of pixels kept', () => {
    expect(cutmixLabelWeight({ x: 0, y: 0, width: 20, height: 16 }, { width: 40, height: 32 })).toBe(0.75);
    expect(cutmixLabelWeight({ x: 3, y: 4, width: 0, height: 0 }, { width: 40, height: 32 })).toBe(1);
  });

  it('refuses label vectors of different lengths and out-of-range classes', () => {
    expect(() => mixLabels([1, 0], [0, 0, 1], 0.5)).toThrow(/differ in length/);
    expect(() => oneHot(3, 3)).toThrow(/outside/);
  });
});
