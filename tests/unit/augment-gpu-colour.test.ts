/**
 * The colour-space, photometric and Otsu GPU programs in Node through Dawn on SwiftShader,
 * against the engine's CPU kernels (colour.ts, photometric.ts, threshold.ts), which match
 * OpenCV 4.6. Integer programs are checked on every 8-bit colour; the others on random and
 * patterned images of odd sizes, in batches with per-image parameters. Every program gives
 * the CPU kernel's bytes, also those whose goldenTolerance against OpenCV is 1 (hsv-to-rgb,
 * hue-saturation, gaussian-noise): that tolerance is the CPU kernel's, not the GPU's.
 *
 * Skips, with the reason printed, where Dawn or SwiftShader is missing (helpers/dawn.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installDawnGpu } from './helpers/dawn';
import { Rng } from '../../src/lib/data/rng';
import type { ImageU8, TransformDef } from '../../src/lib/augment/types';
import { COLOUR_TRANSFORMS, hsvToRgb, labToRgb, rgbToHsv, rgbToLab, rgbToYcrcb, ycrcbToRgb } from '../../src/lib/augment/colour';
import { gammaLut, gaussianNoise, hueSaturation, PHOTOMETRIC_TRANSFORMS } from '../../src/lib/augment/photometric';
import { otsuThreshold, THRESHOLD_TRANSFORMS } from '../../src/lib/augment/threshold';
import { runGpuProgram, type GpuProgram } from '../../src/lib/augment/gpu/runner';
import { rgbToHsvProgram } from '../../src/lib/augment/gpu/programs/rgb-to-hsv';
import { hsvToRgbProgram } from '../../src/lib/augment/gpu/programs/hsv-to-rgb';
import { rgbToYcrcbProgram } from '../../src/lib/augment/gpu/programs/rgb-to-ycrcb';
import { ycrcbToRgbProgram } from '../../src/lib/augment/gpu/programs/ycrcb-to-rgb';
import { rgbToLabProgram } from '../../src/lib/augment/gpu/programs/rgb-to-lab';
import { labToRgbProgram } from '../../src/lib/augment/gpu/programs/lab-to-rgb';
import { gammaProgram } from '../../src/lib/augment/gpu/programs/gamma';
import { hueSaturationProgram, saturationTable } from '../../src/lib/augment/gpu/programs/hue-saturation';
import { gaussianNoiseProgram, noiseCode } from '../../src/lib/augment/gpu/programs/gaussian-noise';
import { otsuThresholdFromHistogram, runThresholdOtsuGpu } from '../../src/lib/augment/gpu/programs/otsu';
import { packBytes, packU16 } from '../../src/lib/augment/gpu/programs/colour-tables';
import { GPU_GLOBAL_TRANSFORMS_COLOUR, GPU_TRANSFORMS_COLOUR } from '../../src/lib/augment/gpu/programs/colour-index';

const dawn = await installDawnGpu();
if (!dawn.ok) console.warn(`augment-gpu-colour: GPU tests skipped: ${dawn.reason}`);

// device.ts imports tfjs, whose WebGPU backend registers only if navigator.gpu exists at import.
const deviceModule = await import('../../src/lib/augment/gpu/device');
const { readImages, uploadImages } = await import('../../src/lib/augment/gpu/runner');

const ODD_SIZES: ReadonlyArray<[number, number]> = [[37, 23], [1, 1], [5, 63]];

function randomImage(rng: Rng, width: number, height: number, channels: 1 | 3): ImageU8 {
  const data = new Uint8Array(width * height * channels);
  for (let i = 0; i < data.length; i++) data[i] = rng.int(256);
  return { width, height, channels, data };
}

/** Extremes, greys (r = g = b: hue ties), and values either side of 128, in stripes and checks. */
function patternedImage(width: number, height: number, channels: 1 | 3): ImageU8 {
  const levels = [0, 255, 127, 128, 1, 254, 64, 200, 179, 180];
  const data = new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const grey = (x + y) % 4 === 0;
      for (let c = 0; c < channels; c++) {
        data[(y * width + x) * channels + c] = levels[(x + 3 * y + (grey ? 0 : 5 * c) + ((x ^ y) & 1)) % levels.length] ?? 0;
      }
    }
  }
  return { width, height, channels, data };
}

/** Batches of one size each: a random and a patterned image per size and channel count. */
function batches(seed: number, channels: readonly (1 | 3)[]): ImageU8[][] {
  const rng = new Rng(seed);
  return ODD_SIZES.flatMap(([w, h]) => channels.map((c) => [randomImage(rng, w, h, c), patternedImage(w, h, c), randomImage(rng, w, h, c)]));
}

/**
 * Every 8-bit colour once (a 4096 × 4096 RGB image in four strips) when
 * HEARTH_GPU_EXHAUSTIVE=1, about 2.5 min on SwiftShader; otherwise one colour in eight:
 * every (R, G) pair with 32 blue levels whose offset turns with R and G, so every level of
 * every channel still occurs, in about a tenth of the time.
 */
const EXHAUSTIVE = process.env.HEARTH_GPU_EXHAUSTIVE === '1';
const COLOUR_STRIDE = EXHAUSTIVE ? 1 : 8;

function colourStrips(): ImageU8[] {
  const width = 4096;
  const colours = 2 ** 24 / COLOUR_STRIDE;
  const parts = 4;
  const rows = colours / width / parts;
  return Array.from({ length: parts }, (_, part) => {
    const data = new Uint8Array(width * rows * 3);
    for (let p = 0; p < width * rows; p++) {
      const k = part * width * rows + p;
      const rg = Math.floor(k / (256 / COLOUR_STRIDE));
      const r = rg >> 8;
      const g = rg & 0xff;
      const b = (k % (256 / COLOUR_STRIDE)) * COLOUR_STRIDE + ((r * 7 + g * 3) % COLOUR_STRIDE);
      data[p * 3] = r;
      data[p * 3 + 1] = g;
      data[p * 3 + 2] = b;
    }
    return { width, height: rows, channels: 3, data };
  });
}

/** Largest absolute difference and how many values differ at all. */
function compare(a: ImageU8, b: ImageU8): { max: number; differing: number } {
  expect([a.width, a.height, a.channels]).toEqual([b.width, b.height, b.channels]);
  let max = 0;
  let differing = 0;
  for (let i = 0; i < a.data.length; i++) {
    const d = Math.abs((a.data[i] as number) - (b.data[i] as number));
    if (d > 0) differing++;
    if (d > max) max = d;
  }
  return { max, differing };
}

const CPU_TRANSFORMS = new Map<string, TransformDef<unknown>>(
  [...COLOUR_TRANSFORMS, ...PHOTOMETRIC_TRANSFORMS, ...THRESHOLD_TRANSFORMS].map((t) => [t.name, t as TransformDef<unknown>]),
);

describe('colour GPU helpers on the CPU', () => {
  it('packs bytes and u16 little end first, as prelude.wgsl unpacks them', () => {
    expect(Array.from(packBytes([1, 2, 3, 4, 5]))).toEqual([0x04030201, 0x05]);
    expect(Array.from(packU16([0x1234, 0xfedc, 7]))).toEqual([0xfedc1234, 7]);
  });

  it('noise codes round to nearest and mark exact halves for half-even on the GPU', () => {
    expect([noiseCode(0.49), noiseCode(0.51), noiseCode(-0.49), noiseCode(-0.51), noiseCode(2.5), noiseCode(-2.5)]).toEqual([0, 2, 0, -2, 5, -5]);
    // Far outside [-255, 255] every value saturates, so the offset is clipped at ±256.
    expect([noiseCode(1e6), noiseCode(-1e6)]).toEqual([512, -512]);
  });

  it('the saturation table is the CPU kernel float32 product, rounded half to even and saturated', () => {
    const table = saturationTable(1.5);
    expect([table[0], table[1], table[3], table[5], table[200]]).toEqual([0, 2, 4, 8, 255]);
  });

  it("Otsu's level from a histogram equals threshold.ts' otsuThreshold on the pixels", () => {
    const rng = new Rng(41);
    for (let k = 0; k < 60; k++) {
      const w = 1 + rng.int(40);
      const h = 1 + rng.int(40);
      // Bimodal, unimodal, two-valued and constant images.
      const mode = k % 4;
      const data = new Uint8Array(w * h);
      for (let i = 0; i < data.length; i++) {
        data[i] = mode === 0 ? (rng.next() < 0.4 ? 40 + rng.int(30) : 160 + rng.int(60)) : mode === 1 ? rng.int(256) : mode === 2 ? (rng.next() < 0.5 ? 10 : 250) : 99;
      }
      const histogram = new Uint32Array(256);
      for (const v of data) histogram[v] = (histogram[v] as number) + 1;
      expect(otsuThresholdFromHistogram(histogram)).toBe(otsuThreshold({ width: w, height: h, channels: 1, data }));
    }
  });

  it('the colour index names CPU transforms, once each', () => {
    const names = [...GPU_TRANSFORMS_COLOUR, ...GPU_GLOBAL_TRANSFORMS_COLOUR].map((g) => g.transform);
    expect(new Set(names).size).toBe(names.length);
    for (const name of names) expect(CPU_TRANSFORMS.has(name), name).toBe(true);
    expect(names.sort()).toEqual(
      ['gamma', 'gaussian-noise', 'hsv-to-rgb', 'hue-saturation', 'lab-to-rgb', 'rgb-to-hsv', 'rgb-to-lab', 'rgb-to-ycrcb', 'threshold-otsu', 'threshold-otsu-inv', 'ycrcb-to-rgb'].sort(),
    );
  });
});

describe.skipIf(!dawn.ok)('colour, photometric and Otsu GPU programs (Dawn + SwiftShader)', () => {
  let device: GPUDevice;
  const deviceEvents: string[] = [];
  let stopListening: () => void = () => undefined;

  beforeAll(async () => {
    stopListening = deviceModule.onGpuDeviceEvent((e) => deviceEvents.push(`${e.kind}: ${e.message}`));
    device = (await deviceModule.acquireGpuDevice()).device;
  });

  afterAll(async () => {
    // No validation error may have slipped past the error scopes.
    expect(deviceEvents).toEqual([]);
    stopListening();
    await deviceModule.releaseGpuDevice();
  });

  const CONVERSIONS: ReadonlyArray<[string, GpuProgram<void>, (im: ImageU8) => ImageU8, number]> = [
    ['rgb-to-hsv', rgbToHsvProgram, rgbToHsv, 0],
    ['hsv-to-rgb', hsvToRgbProgram, hsvToRgb, 1],
    ['rgb-to-ycrcb', rgbToYcrcbProgram, rgbToYcrcb, 0],
    ['ycrcb-to-rgb', ycrcbToRgbProgram, ycrcbToRgb, 0],
    ['rgb-to-lab', rgbToLabProgram, rgbToLab, 0],
    ['lab-to-rgb', labToRgbProgram, labToRgb, 0],
  ];

  for (const [name, program, cpu, tolerance] of CONVERSIONS) {
    it(`${name} on ${EXHAUSTIVE ? 'all 2^24' : 'one in eight of the 2^24'} inputs, exactly`, async () => {
      expect(CPU_TRANSFORMS.get(name)?.goldenTolerance).toBe(tolerance);
      let differing = 0;
      for (const strip of colourStrips()) {
        const [gpu] = await runGpuProgram(device, program, [strip], undefined);
        const result = compare(gpu as ImageU8, cpu(strip));
        expect(result.max, name).toBeLessThanOrEqual(tolerance);
        differing += result.differing;
      }
      console.info(`augment-gpu-colour: ${name}: ${differing} of ${(3 * 2 ** 24) / COLOUR_STRIDE} values differ from the CPU kernel`);
      expect(differing).toBe(0);
    }, 120_000);

    it(`${name} on random and patterned batches of odd sizes`, async () => {
      for (const batch of batches(7, [3])) {
        const gpu = await runGpuProgram(device, program, batch, undefined);
        gpu.forEach((image, i) => expect(compare(image, cpu(batch[i] as ImageU8)).max, `${name} ${batch[0]?.width}×${batch[0]?.height}`).toBeLessThanOrEqual(tolerance));
      }
    });
  }

  it('gamma is exact on 1- and 3-channel batches, one gamma per image', async () => {
    for (const batch of batches(9, [1, 3])) {
      const params = [{ gamma: 0.45 }, { gamma: 2.2 }, { gamma: 1 }];
      const gpu = await runGpuProgram(device, gammaProgram, batch, params);
      gpu.forEach((image, i) => {
        const lut = gammaLut(params[i]?.gamma ?? 1);
        const src = batch[i] as ImageU8;
        expect(image).toEqual({ ...src, data: src.data.map((v) => lut[v] as number) });
      });
    }
  });

  it('hue-saturation gives the CPU kernel bytes, one shift and scale per image', async () => {
    const params = [
      { hueShift: -9, saturationScale: 0.7 },
      { hueShift: 179, saturationScale: 1.3 },
      { hueShift: -180, saturationScale: 2.5 },
    ];
    let differing = 0;
    for (const batch of batches(13, [3])) {
      const gpu = await runGpuProgram(device, hueSaturationProgram, batch, params);
      gpu.forEach((image, i) => {
        const result = compare(image, hueSaturation(batch[i] as ImageU8, params[i] ?? { hueShift: 0, saturationScale: 1 }));
        expect(result.max).toBeLessThanOrEqual(1);
        differing += result.differing;
      });
    }
    expect(differing).toBe(0);
    // A shift of 0 and scale of 1 is the identity up to the HSV round trip itself.
    const rgb = randomImage(new Rng(2), 31, 17, 3);
    const [same] = await runGpuProgram(device, hueSaturationProgram, [rgb], { hueShift: 0, saturationScale: 1 });
    expect(compare(same as ImageU8, hsvToRgb(rgbToHsv(rgb))).max).toBeLessThanOrEqual(1);
  });

  it('gaussian-noise gives the CPU kernel bytes, one sigma and seed per image, 1 and 3 channels', async () => {
    let values = 0;
    for (const batch of batches(17, [1, 3])) {
      const params = [{ sigma: 10, seed: 1 }, { sigma: 0.5, seed: 0xdeadbeef }, { sigma: 200, seed: 77 }];
      const gpu = await runGpuProgram(device, gaussianNoiseProgram, batch, params);
      gpu.forEach((image, i) => {
        const expected = gaussianNoise(batch[i] as ImageU8, params[i] ?? { sigma: 0, seed: 0 });
        expect(compare(image, expected).max).toBeLessThanOrEqual(1);
        expect(image).toEqual(expected);
        values += image.data.length;
      });
    }
    expect(values).toBeGreaterThan(1000);
    // Sigma 0 leaves every value alone; a different seed gives a different field.
    const image = randomImage(new Rng(3), 33, 9, 3);
    const [zero, a, b] = await runGpuProgram(device, gaussianNoiseProgram, [image, image, image], [{ sigma: 0, seed: 5 }, { sigma: 8, seed: 5 }, { sigma: 8, seed: 6 }]);
    expect(zero).toEqual(image);
    expect(compare(a as ImageU8, b as ImageU8).differing).toBeGreaterThan(0);
  });

  it('threshold-otsu and -inv give the CPU kernel bytes (1 and 3 channels, one maxValue per image)', async () => {
    const rng = new Rng(23);
    for (const [w, h] of ODD_SIZES) {
      for (const channels of [1, 3] as const) {
        const bimodal: ImageU8 = { width: w, height: h, channels, data: new Uint8Array(w * h * channels).map(() => (rng.next() < 0.3 ? 30 + rng.int(40) : 150 + rng.int(80))) };
        const batch = [randomImage(rng, w, h, channels), patternedImage(w, h, channels), bimodal];
        for (const [inverse, def] of [[false, 'threshold-otsu'], [true, 'threshold-otsu-inv']] as const) {
          const maxValues = [255, 1, 200];
          const gpu = await runThresholdOtsuGpu(device, batch, maxValues.map((maxValue) => ({ maxValue, inverse })));
          const cpu = CPU_TRANSFORMS.get(def) as TransformDef<{ maxValue: number }>;
          gpu.forEach((image, i) => expect(image, `${def} ${w}×${h}×${channels} #${i}`).toEqual(cpu.cpu(batch[i] as ImageU8, { maxValue: maxValues[i] ?? 0 })));
        }
      }
    }
  });

  it('every colour-index entry, from sampled params, matches its CPU transform within goldenTolerance', async () => {
    const rng = new Rng(29);
    for (const channels of [1, 3] as const) {
      const batch = [randomImage(rng, 19, 11, channels), patternedImage(19, 11, channels), randomImage(rng, 19, 11, channels)];
      const shape = { width: 19, height: 11, channels };
      for (const gpuTransform of GPU_TRANSFORMS_COLOUR) {
        const def = CPU_TRANSFORMS.get(gpuTransform.transform) as TransformDef<unknown>;
        // Colour conversions and hue-saturation need three channels, as their CPU kernels do.
        if (channels === 1 && !['gamma', 'gaussian-noise'].includes(def.name)) continue;
        const sampled = batch.map(() => def.sample(rng, {}, shape));
        const gpu = await runGpuProgram(device, gpuTransform.program, batch, sampled.map((p) => gpuTransform.programParams(p, shape)));
        gpu.forEach((image, i) => expect(compare(image, def.cpu(batch[i] as ImageU8, sampled[i])).max, def.name).toBeLessThanOrEqual(def.goldenTolerance));
      }
      for (const global of GPU_GLOBAL_TRANSFORMS_COLOUR) {
        const def = CPU_TRANSFORMS.get(global.transform) as TransformDef<unknown>;
        const sampled = batch.map(() => def.sample(rng, {}, shape));
        const input = uploadImages(device, batch);
        const output = await global.run(device, input, sampled);
        const gpu = await readImages(device, output);
        input.buffer.destroy();
        output.buffer.destroy();
        gpu.forEach((image, i) => expect(image, def.name).toEqual(def.cpu(batch[i] as ImageU8, sampled[i])));
      }
    }
  });
});
