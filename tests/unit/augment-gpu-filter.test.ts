/**
 * The filter, resize, crop and mixing GPU programs in Node through Dawn on SwiftShader,
 * each against the engine's CPU kernel (which the golden tests hold to OpenCV 4.6): exact
 * where the CPU kernel is exact against cv2, else within the transform's golden tolerance,
 * on random and patterned images, 1 and 3 channels, odd sizes and every border mode.
 *
 * Skips, with the reason printed, where Dawn or SwiftShader is missing (helpers/dawn.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installDawnGpu } from './helpers/dawn';
import { Rng } from '../../src/lib/data/rng';
import { BORDER_MODES, type ResizeInterpolation } from '../../src/lib/augment/spec';
import type { ImageU8, TransformDef } from '../../src/lib/augment/types';
import {
  bilateralTransform,
  bilateralU8,
  boxBlurU8,
  FILTER_TRANSFORMS,
  gaussianBlurU8,
  medianBlurU8,
} from '../../src/lib/augment/filter';
import { cropU8, GEOMETRY_TRANSFORMS, resizeTransform, resizeU8 } from '../../src/lib/augment/geometry';
import { cutmix, cutout, MIXING_TRANSFORMS, mixup } from '../../src/lib/augment/mixing';
import { runGpuProgram, type GpuProgram } from '../../src/lib/augment/gpu/runner';
import { boxProgram } from '../../src/lib/augment/gpu/programs/box';
import { gaussianBlurProgram } from '../../src/lib/augment/gpu/programs/gaussian-blur';
import { medianProgram } from '../../src/lib/augment/gpu/programs/median';
import { bilateralProgram } from '../../src/lib/augment/gpu/programs/bilateral';
import { resizeProgram } from '../../src/lib/augment/gpu/programs/resize';
import { cropProgram } from '../../src/lib/augment/gpu/programs/crop';
import { cutoutProgram } from '../../src/lib/augment/gpu/programs/cutout';
import { mixupProgram, mixupTable } from '../../src/lib/augment/gpu/programs/mixup';
import { cutmixProgram } from '../../src/lib/augment/gpu/programs/cutmix';
import { GPU_TRANSFORMS_FILTER } from '../../src/lib/augment/gpu/programs/filter-index';

const dawn = await installDawnGpu();
if (!dawn.ok) console.warn(`augment-gpu-filter: GPU tests skipped: ${dawn.reason}`);
else console.info(`augment-gpu-filter: Dawn adapter ${dawn.adapterName}`);

// device.ts imports tfjs, whose WebGPU backend registers only if navigator.gpu exists at
// import time, so it is loaded after Dawn is installed.
const deviceModule = await import('../../src/lib/augment/gpu/device');

/** Odd sizes, a single pixel, a strip narrower than a kernel, and a tall thin one. */
const SIZES: ReadonlyArray<[number, number]> = [[21, 13], [1, 1], [5, 33], [8, 3]];

function randomImage(rng: Rng, width: number, height: number, channels: 1 | 3): ImageU8 {
  const data = new Uint8Array(width * height * channels);
  for (let i = 0; i < data.length; i++) data[i] = rng.int(256);
  return { width, height, channels, data };
}

/** Extremes and mid-levels in stripes and checks: hard edges for filters and resampling. */
function patternedImage(width: number, height: number, channels: 1 | 3): ImageU8 {
  const levels = [0, 255, 127, 128, 1, 254, 64, 200];
  const data = new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < channels; c++) {
        data[(y * width + x) * channels + c] = levels[(x + 3 * y + 5 * c + ((x ^ y) & 1)) % levels.length] ?? 0;
      }
    }
  }
  return { width, height, channels, data };
}

/** One batch per (size, channels): a random and a patterned image. */
function testBatches(seed: number, sizes: ReadonlyArray<[number, number]> = SIZES): ImageU8[][] {
  const rng = new Rng(seed);
  const batches: ImageU8[][] = [];
  for (const [w, h] of sizes) {
    for (const channels of [1, 3] as const) batches.push([randomImage(rng, w, h, channels), patternedImage(w, h, channels)]);
  }
  return batches;
}

function maxDifference(a: ImageU8, b: ImageU8): number {
  expect([a.width, a.height, a.channels]).toEqual([b.width, b.height, b.channels]);
  let max = 0;
  for (let i = 0; i < a.data.length; i++) max = Math.max(max, Math.abs((a.data[i] as number) - (b.data[i] as number)));
  return max;
}

describe.skipIf(!dawn.ok)('filter, resize, crop and mixing GPU programs (Dawn + SwiftShader)', () => {
  let device: GPUDevice;
  const deviceEvents: string[] = [];
  let stopListening: () => void = () => undefined;

  beforeAll(async () => {
    stopListening = deviceModule.onGpuDeviceEvent((e) => deviceEvents.push(`${e.kind}: ${e.message}`));
    device = (await deviceModule.acquireGpuDevice()).device;
  });

  afterAll(async () => {
    // No validation error may have slipped past the runner's error scopes.
    expect(deviceEvents).toEqual([]);
    stopListening();
    await deviceModule.releaseGpuDevice();
  });

  /** Runs `program` on each batch and returns the largest difference from `cpu`, asserting ≤ tolerance. */
  async function compare<P>(program: GpuProgram<P>, params: P, batches: ImageU8[][], cpu: (image: ImageU8) => ImageU8, tolerance: number, what: string): Promise<number> {
    let worst = 0;
    for (const batch of batches) {
      const gpu = await runGpuProgram(device, program, batch, params);
      batch.forEach((image, i) => {
        const expected = cpu(image);
        const got = gpu[i] as ImageU8;
        const diff = maxDifference(got, expected);
        expect(diff, `${what} on ${image.width}×${image.height}×${image.channels} image ${i}`).toBeLessThanOrEqual(tolerance);
        if (tolerance === 0) expect(got).toEqual(expected);
        worst = Math.max(worst, diff);
      });
    }
    return worst;
  }

  it('box matches boxBlurU8 exactly: fixed-point divide (k² ≤ 256), rounded divide (k² > 256), every border', async () => {
    const batches = testBatches(1);
    for (const border of BORDER_MODES) {
      for (const ksize of [1, 3, 5, 15, 17, 31]) {
        await compare(boxProgram, { ksize, border }, batches, (im) => boxBlurU8(im, { ksize, border }), 0, `box k=${ksize} ${border}`);
      }
    }
  });

  it('gaussian-blur matches gaussianBlurU8 exactly (binomial and exp() taps, every border)', async () => {
    const batches = testBatches(2);
    const kernels: Array<[number, number]> = [[3, 0], [5, 0], [7, 1.3], [9, 0], [11, 0], [15, 2.5], [31, 6], [5, 40]];
    for (const border of BORDER_MODES) {
      for (const [ksize, sigma] of kernels) {
        await compare(gaussianBlurProgram, { ksize, sigma, border }, batches, (im) => gaussianBlurU8(im, { ksize, sigma, border }), 0, `gaussian k=${ksize} σ=${sigma} ${border}`);
      }
    }
  });

  it('median matches medianBlurU8 exactly for k = 1, 3, 5, 7', async () => {
    const batches = testBatches(3);
    for (const ksize of [1, 3, 5, 7]) {
      await compare(medianProgram, { ksize }, batches, (im) => medianBlurU8(im, { ksize }), 0, `median k=${ksize}`);
    }
    // A median is not a mean: a lone bright pixel disappears entirely.
    const spike: ImageU8 = { width: 3, height: 3, channels: 1, data: new Uint8Array([0, 0, 0, 0, 255, 0, 0, 0, 0]) };
    const [out] = await runGpuProgram(device, medianProgram, [spike], { ksize: 3 });
    expect(Array.from(out?.data ?? [])).toEqual(new Array(9).fill(0));
  });

  it('bilateral stays within its golden tolerance of bilateralU8 (f32 on the GPU)', async () => {
    const batches = testBatches(4);
    let worst = 0;
    const settings: Array<[number, number, number]> = [[5, 30, 5], [9, 75, 75], [15, 10, 3], [1, 50, 1], [7, 1000, 0.5]];
    for (const border of BORDER_MODES) {
      for (const [d, sigmaColor, sigmaSpace] of settings) {
        const p = { d, sigmaColor, sigmaSpace, border };
        worst = Math.max(worst, await compare(bilateralProgram, p, batches, (im) => bilateralU8(im, p), bilateralTransform.goldenTolerance, `bilateral d=${d} ${border}`));
      }
    }
    console.info(`augment-gpu-filter: bilateral max |GPU − CPU| = ${worst} (tolerance ${bilateralTransform.goldenTolerance})`);
  });

  it('resize matches resizeU8: nearest, bilinear and whole-factor area exactly, general area within tolerance', async () => {
    // 36×24 divides by 2, 3, 4 and 6, so shrinking to these sizes takes resizeAreaFast.
    const batches = testBatches(5, [[36, 24], [37, 23], [5, 64]]);
    let areaWorst = 0;
    for (const interpolation of ['nearest', 'bilinear', 'area'] as const satisfies readonly ResizeInterpolation[]) {
      for (const batch of batches) {
        const first = batch[0] as ImageU8;
        const targets: Array<[number, number]> = [
          [first.width, first.height], [1, 1], [3, 9], [74, 47], [20, 13], [60, 31],
          [Math.max(1, first.width / 2), Math.max(1, first.height / 2)].map(Math.floor) as [number, number],
          [Math.max(1, Math.floor(first.width / 3)), Math.max(1, Math.floor(first.height / 3))],
          [Math.max(1, Math.floor(first.width / 6)), Math.max(1, Math.floor(first.height / 2))],
        ];
        for (const [width, height] of targets) {
          const p = { width, height, interpolation };
          const scaleX = first.width / width;
          const scaleY = first.height / height;
          const generalArea = interpolation === 'area' && scaleX >= 1 && scaleY >= 1 && !(Number.isInteger(scaleX) && Number.isInteger(scaleY));
          const tolerance = generalArea ? resizeTransform.goldenTolerance : 0;
          const diff = await compare(resizeProgram, p, [batch], (im) => resizeU8(im, p), tolerance, `resize ${interpolation} to ${width}×${height}`);
          if (generalArea) areaWorst = Math.max(areaWorst, diff);
        }
      }
    }
    console.info(`augment-gpu-filter: resize general-area max |GPU − CPU| = ${areaWorst} (tolerance ${resizeTransform.goldenTolerance})`);
  });

  it('crop, cutout and cutmix match the CPU kernels exactly', async () => {
    const batches = testBatches(6, [[37, 23], [5, 64]]);
    const rng = new Rng(66);
    for (const batch of batches) {
      const { width: w, height: h } = batch[0] as ImageU8;
      for (const box of [{ x: 0, y: 0, width: w, height: h }, { x: 1, y: 2, width: 3, height: 5 }, { x: w - 2, y: h - 1, width: 2, height: 1 }]) {
        await compare(cropProgram, box, [batch], (im) => cropU8(im, box), 0, `crop ${JSON.stringify(box)}`);
        await compare(cutoutProgram, { ...box, fill: 77 }, [batch], (im) => cutout(im, { ...box, fill: 77 }), 0, `cutout ${JSON.stringify(box)}`);
        const partner = randomImage(rng, w, h, (batch[0] as ImageU8).channels);
        await compare(cutmixProgram, { ...box, other: partner }, [batch], (im) => cutmix(im, { ...box, other: partner }), 0, `cutmix ${JSON.stringify(box)}`);
      }
      // An empty box leaves the image alone.
      const empty = { x: 0, y: 0, width: 0, height: 0 };
      await compare(cutoutProgram, { ...empty, fill: 9 }, [batch], (im) => im, 0, 'cutout empty box');
    }
  });

  it('mixup matches cv2.addWeighted rounding (the CPU kernel) exactly, with a partner and λ per image', async () => {
    // 0.5·1 + 0.5·2 = 1.5 rounds to 2 and 0.5·1 + 0.5·0 = 0.5 to 0: halves go to even.
    const half = mixupTable(0.5);
    expect([half[1 * 256 + 2], half[1 * 256 + 0], half[3 * 256 + 0]]).toEqual([2, 0, 2]);
    const batches = testBatches(7);
    const rng = new Rng(77);
    for (const batch of batches) {
      const { width: w, height: h, channels } = batch[0] as ImageU8;
      const lambdas = [0, 1 / 3, 0.5, 0.77, 1];
      for (const lambda of lambdas) {
        const partner = randomImage(rng, w, h, channels);
        await compare(mixupProgram, { lambda, other: partner }, [batch], (im) => mixup(im, { lambda, other: partner }), 0, `mixup λ=${lambda}`);
      }
      // Each image its own partner and λ in one dispatch.
      const params = batch.map((_, i) => ({ lambda: 0.2 + 0.3 * i, other: randomImage(rng, w, h, channels) }));
      const gpu = await runGpuProgram(device, mixupProgram, batch, params);
      expect(gpu).toEqual(batch.map((im, i) => mixup(im, params[i] as (typeof params)[number])));
    }
  });

  it('refuses bad params by name before dispatching', async () => {
    const image = randomImage(new Rng(8), 6, 5, 1);
    await expect(runGpuProgram(device, boxProgram, [image], { ksize: 4, border: 'reflect' })).rejects.toMatchObject({ name: 'InvalidInputError' });
    await expect(runGpuProgram(device, medianProgram, [image], { ksize: 9 })).rejects.toMatchObject({ name: 'InvalidInputError' });
    await expect(runGpuProgram(device, cropProgram, [image], { x: 3, y: 0, width: 4, height: 5 })).rejects.toMatchObject({ name: 'InvalidInputError' });
    const wrongPartner = randomImage(new Rng(9), 5, 5, 1);
    await expect(runGpuProgram(device, mixupProgram, [image], { lambda: 0.5, other: wrongPartner })).rejects.toMatchObject({ name: 'InvalidInputError' });
  });

  it('GPU_TRANSFORMS_FILTER covers the nine transforms and runs their sampled params within tolerance', async () => {
    const cpuDefs = new Map<string, TransformDef<unknown>>(
      [...FILTER_TRANSFORMS, ...GEOMETRY_TRANSFORMS, ...MIXING_TRANSFORMS].map((d) => [d.name, d as TransformDef<unknown>]),
    );
    expect(GPU_TRANSFORMS_FILTER.map((g) => g.transform).sort()).toEqual(
      ['bilateral', 'box', 'crop', 'cutmix', 'cutout', 'gaussian-blur', 'median', 'mixup', 'resize'].sort(),
    );
    const rng = new Rng(99);
    const image = randomImage(rng, 19, 13, 3);
    const specs: Record<string, Record<string, unknown>> = {
      box: { ksizeRange: [3, 9], border: 'reflect' },
      'gaussian-blur': { ksizeRange: [3, 11], sigmaRange: [0.5, 3], border: 'constant' },
      median: { ksizeRange: [3, 7] },
      bilateral: { dRange: [3, 9], sigmaColorRange: [10, 80], sigmaSpaceRange: [1, 10], border: 'replicate' },
      resize: { width: 11, height: 7, interpolation: 'area' },
      crop: { width: 9, height: 6 },
      cutout: {},
      mixup: { otherImage: randomImage(rng, 19, 13, 3) },
      cutmix: { otherImage: randomImage(rng, 19, 13, 3) },
    };
    for (const gpu of GPU_TRANSFORMS_FILTER) {
      const def = cpuDefs.get(gpu.transform);
      expect(def, gpu.transform).toBeDefined();
      if (!def) continue;
      const params = def.sample(new Rng(5), specs[gpu.transform] ?? {}, image);
      const [out] = await runGpuProgram(device, gpu.program, [image], gpu.programParams(params, image));
      expect(maxDifference(out as ImageU8, def.cpu(image, params)), gpu.transform).toBeLessThanOrEqual(def.goldenTolerance);
    }
  });
});
