/**
 * The augmentation GPU programs in Node through Dawn on SwiftShader, each compared with a
 * CPU reference written here from OpenCV 4.6's source (imgproc color_rgb, thresh.cpp,
 * imgwarp.cpp; core convert_scale), and, where Debian's python3-opencv is installed, with
 * cv2 itself. Exact (difference 0) for every program, the affine
 * warp included: it uses OpenCV's fixed-point arithmetic.
 *
 * Skips, with the reason printed, where Dawn or SwiftShader is missing (see
 * helpers/dawn.ts); CI installs chromium, which carries SwiftShader.
 */
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installDawnGpu } from './helpers/dawn';
import { skipWithout } from './helpers/required';
import { Rng } from '../../src/lib/data/rng';
import { borderIndex, OUTSIDE } from '../../src/lib/augment/border';
import { BORDER_MODES } from '../../src/lib/augment/spec';
import type { BorderMode, ImageU8 } from '../../src/lib/augment/types';
import { toGray } from '../../src/lib/augment/colour';
import { thresholdBinaryInvTransform, thresholdBinaryTransform } from '../../src/lib/augment/threshold';
import { linearTransform } from '../../src/lib/augment/photometric';
import { flipU8, rotationMatrix as cpuRotationMatrix, warpAffineU8 } from '../../src/lib/augment/geometry';
import { dispatchProgram, readImages, runGpuProgram, uploadImages, type GpuProgram } from '../../src/lib/augment/gpu/runner';
import { toGrayProgram } from '../../src/lib/augment/gpu/programs/to-gray';
import { thresholdProgram } from '../../src/lib/augment/gpu/programs/threshold';
import { flipProgram } from '../../src/lib/augment/gpu/programs/flip';
import { brightnessContrastProgram, brightnessContrastValue } from '../../src/lib/augment/gpu/programs/brightness-contrast';
import { invertAffine, warpAffineProgram, type Affine2x3, type WarpAffineParams } from '../../src/lib/augment/gpu/programs/warp-affine';

const dawn = await installDawnGpu();
if (!dawn.ok) console.warn(`augment-gpu: GPU tests skipped: ${dawn.reason}`);
else console.info(`augment-gpu: Dawn adapter ${dawn.adapterName}`);

// device.ts imports tfjs, whose WebGPU backend registers only if navigator.gpu exists at
// import time, so it is loaded after Dawn is installed.
const deviceModule = await import('../../src/lib/augment/gpu/device');
const { tf } = await import('../../src/lib/compute/register');

/** Debian's python3-opencv (4.6), when installed: the real reference, run once over a few cases. */
const PYTHON = '/usr/bin/python3';
const CV2_SCRIPT = `
import sys, json, base64, numpy as np, cv2
out = []
for case in json.load(sys.stdin):
    img = np.frombuffer(base64.b64decode(case['data']), np.uint8).reshape(case['h'], case['w'], case['c'])
    p = case['params']
    if case['op'] == 'gray':
        r = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    elif case['op'] == 'scale':
        # convertScaleAbs is convertTo plus abs(); with alpha, beta >= 0 the abs does nothing.
        r = cv2.convertScaleAbs(img, alpha=p['alpha'], beta=p['beta'])
    elif case['op'] == 'threshold':
        r = cv2.threshold(img, p['thresh'], p['maxval'], cv2.THRESH_BINARY_INV if p['inverse'] else cv2.THRESH_BINARY)[1]
    else:
        border = {'constant': cv2.BORDER_CONSTANT, 'replicate': cv2.BORDER_REPLICATE, 'reflect': cv2.BORDER_REFLECT, 'reflect101': cv2.BORDER_REFLECT_101}[p['border']]
        r = cv2.warpAffine(img, np.array(p['inverseMatrix'], np.float64).reshape(2, 3), (p['width'], p['height']),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=border, borderValue=tuple(p['borderValue']))
    out.append(base64.b64encode(np.ascontiguousarray(r).tobytes()).decode())
print(json.dumps(out))
`;
const cv2Missing = skipWithout(
  spawnSync(PYTHON, ['-c', 'import cv2'], { stdio: 'ignore' }).status === 0,
  "Debian's python3-opencv",
  'apt-get install -y python3-opencv (npm test installs it)',
);

const ODD_SIZES: ReadonlyArray<[number, number]> = [[37, 23], [1, 1], [5, 64]];

function randomImage(rng: Rng, width: number, height: number, channels: 1 | 3): ImageU8 {
  const data = new Uint8Array(width * height * channels);
  for (let i = 0; i < data.length; i++) data[i] = rng.int(256);
  return { width, height, channels, data };
}

/** Extremes and the values either side of common thresholds, in stripes and checks. */
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

function imagesFor(seed: number): ImageU8[] {
  const rng = new Rng(seed);
  return ODD_SIZES.flatMap(([w, h]) =>
    ([1, 3] as const).flatMap((c) => [randomImage(rng, w, h, c), patternedImage(w, h, c)]),
  );
}

function mapValues(image: ImageU8, channels: 1 | 3, f: (x: number, y: number, c: number) => number): ImageU8 {
  const data = new Uint8Array(image.width * image.height * channels);
  for (let y = 0; y < image.height; y++)
    for (let x = 0; x < image.width; x++)
      for (let c = 0; c < channels; c++) data[(y * image.width + x) * channels + c] = f(x, y, c);
  return { width: image.width, height: image.height, channels, data };
}

const at = (image: ImageU8, x: number, y: number, c: number): number =>
  image.data[(y * image.width + x) * image.channels + c] ?? Number.NaN;

function cpuToGray(image: ImageU8): ImageU8 {
  if (image.channels === 1) return { ...image, data: image.data.slice() };
  return mapValues(image, 1, (x, y) => (at(image, x, y, 0) * 9798 + at(image, x, y, 1) * 19235 + at(image, x, y, 2) * 3735 + 16384) >> 15);
}

function cpuThreshold(image: ImageU8, thresh: number, maxval: number, inverse: boolean): ImageU8 {
  const t = Math.floor(thresh);
  return mapValues(image, image.channels, (x, y, c) => ((at(image, x, y, c) > t) !== inverse ? maxval : 0));
}

function cpuFlip(image: ImageU8, horizontal: boolean, vertical: boolean): ImageU8 {
  return mapValues(image, image.channels, (x, y, c) =>
    at(image, horizontal ? image.width - 1 - x : x, vertical ? image.height - 1 - y : y, c),
  );
}

/** OpenCV's BilinearTab_i for 8-bit: weights in 1/32768 from a short table, 32767 + 1 at (0, 0). */
function opencvBilinearWeights(fx: number, fy: number): [number, number, number, number] {
  if (fx === 0 && fy === 0) return [32767, 0, 0, 1];
  return [(32 - fx) * (32 - fy) * 32, fx * (32 - fy) * 32, (32 - fx) * fy * 32, fx * fy * 32];
}

function halfEven(v: number): number {
  const f = Math.floor(v);
  return v - f === 0.5 ? (f % 2 === 0 ? f : f + 1) : Math.round(v);
}

/** imgwarp.cpp WarpAffineInvoker + remapBilinear for CV_8U, written out per pixel. */
function cpuWarpAffine(image: ImageU8, p: WarpAffineParams): ImageU8 {
  const m = p.inverseMatrix;
  const bv = typeof p.borderValue === 'number' ? [p.borderValue, p.borderValue, p.borderValue] : (p.borderValue ?? [0, 0, 0]);
  const out: ImageU8 = { width: p.width, height: p.height, channels: image.channels, data: new Uint8Array(p.width * p.height * image.channels) };
  for (let y = 0; y < p.height; y++) {
    const x0 = halfEven((m[1] * y + m[2]) * 1024) + 16;
    const y0 = halfEven((m[4] * y + m[5]) * 1024) + 16;
    for (let x = 0; x < p.width; x++) {
      const X = (x0 + halfEven(m[0] * x * 1024)) >> 5;
      const Y = (y0 + halfEven(m[3] * x * 1024)) >> 5;
      const sx = Math.max(-32768, Math.min(32767, X >> 5));
      const sy = Math.max(-32768, Math.min(32767, Y >> 5));
      const w = opencvBilinearWeights(X & 31, Y & 31);
      for (let c = 0; c < image.channels; c++) {
        const cval = bv[c] ?? 0;
        let value: number;
        if (p.border === 'constant' && (sx >= image.width || sx + 1 < 0 || sy >= image.height || sy + 1 < 0)) {
          value = cval;
        } else {
          const xs = [borderIndex(sx, image.width, p.border), borderIndex(sx + 1, image.width, p.border)];
          const ys = [borderIndex(sy, image.height, p.border), borderIndex(sy + 1, image.height, p.border)];
          const tap = (i: number, j: number): number => {
            const tx = xs[i] ?? OUTSIDE;
            const ty = ys[j] ?? OUTSIDE;
            return tx === OUTSIDE || ty === OUTSIDE ? cval : at(image, tx, ty, c);
          };
          const sum = tap(0, 0) * w[0] + tap(1, 0) * w[1] + tap(0, 1) * w[2] + tap(1, 1) * w[3];
          value = Math.max(0, Math.min(255, (sum + 16384) >> 15));
        }
        out.data[(y * p.width + x) * image.channels + c] = value;
      }
    }
  }
  return out;
}

/** cv2.getRotationMatrix2D: forward matrix for a rotation by `deg` about (cx, cy) with `scale`. */
function rotationMatrix(cx: number, cy: number, deg: number, scale: number): Affine2x3 {
  const rad = (deg * Math.PI) / 180;
  const a = Math.cos(rad) * scale;
  const b = Math.sin(rad) * scale;
  return [a, b, (1 - a) * cx - b * cy, -b, a, b * cx + (1 - a) * cy];
}

function maxDifference(a: ImageU8, b: ImageU8): number {
  expect([a.width, a.height, a.channels]).toEqual([b.width, b.height, b.channels]);
  let max = 0;
  for (let i = 0; i < a.data.length; i++) max = Math.max(max, Math.abs((a.data[i] ?? 0) - (b.data[i] ?? 0)));
  return max;
}

describe.skipIf(!dawn.ok)('augmentation GPU programs (Dawn + SwiftShader)', () => {
  let device: GPUDevice;
  const deviceEvents: string[] = [];
  let stopListening: () => void = () => undefined;

  beforeAll(async () => {
    stopListening = deviceModule.onGpuDeviceEvent((e) => deviceEvents.push(`${e.kind}: ${e.message}`));
    const handle = await deviceModule.acquireGpuDevice();
    expect(handle.owner).toBe('hearth');
    device = handle.device;
  });

  afterAll(async () => {
    // No validation error may have slipped past the error scopes.
    expect(deviceEvents).toEqual([]);
    stopListening();
    await deviceModule.releaseGpuDevice();
  });

  /** Every test image, batched by size (a batch holds one size), against the CPU reference. */
  async function expectExact<P>(program: GpuProgram<P>, params: P, cpu: (image: ImageU8) => ImageU8): Promise<void> {
    const bySize = new Map<string, ImageU8[]>();
    for (const image of imagesFor(7)) {
      const key = `${image.width}×${image.height}×${image.channels}`;
      bySize.set(key, [...(bySize.get(key) ?? []), image]);
    }
    for (const [size, batch] of bySize) {
      const gpu = await runGpuProgram(device, program, batch, params);
      expect(gpu, `${program.label} ${size}`).toEqual(batch.map(cpu));
    }
  }

  it('to-gray matches OpenCV 4.6 RGB2GRAY (15-bit integer weights) exactly', async () => {
    await expectExact(toGrayProgram, undefined, cpuToGray);
    // Red-only and blue-only pixels tell the coefficient order apart (R 9798, B 3735 in 1/2^15).
    const [gray] = await runGpuProgram(device, toGrayProgram, [{ width: 2, height: 1, channels: 3, data: new Uint8Array([255, 0, 0, 0, 0, 255]) }], undefined);
    expect(Array.from(gray?.data ?? [])).toEqual([76, 29]);
  });

  it('threshold binary and binary-inv match cv2.threshold exactly', async () => {
    for (const inverse of [false, true]) {
      for (const [thresh, maxval] of [[127, 255], [127.9, 200], [0, 1], [-3, 255], [254, 255], [255, 77]] as const) {
        await expectExact(thresholdProgram, { thresh, maxval, inverse }, (im) => cpuThreshold(im, thresh, maxval, inverse));
      }
    }
  });

  it('flip h, v and both match cv2.flip exactly', async () => {
    for (const [horizontal, vertical] of [[true, false], [false, true], [true, true]] as const) {
      await expectExact(flipProgram, { horizontal, vertical }, (im) => cpuFlip(im, horizontal, vertical));
    }
  });

  it('brightness-contrast is saturate(round-half-even(alpha·x + beta)) exactly', async () => {
    // Half-even, not half-up: 0.5·1 = 0.5 → 0 and 0.5·3 = 1.5 → 2, as cvRound does.
    expect([brightnessContrastValue(1, 0.5, 0), brightnessContrastValue(3, 0.5, 0), brightnessContrastValue(5, 0.5, 0)]).toEqual([0, 2, 2]);
    for (const [alpha, beta] of [[1, 0], [1.3, -20], [0.5, 0], [2.7, 40.5], [-1, 255], [0.85, 12.25]] as const) {
      const reference = (im: ImageU8): ImageU8 => {
        const out = mapValues(im, im.channels, (x, y, c) => {
          const v = Math.fround(Math.fround(alpha) * at(im, x, y, c) + Math.fround(beta));
          return Math.max(0, Math.min(255, halfEven(v)));
        });
        return out;
      };
      await expectExact(brightnessContrastProgram, { alpha, beta }, reference);
    }
  });

  it('per-image parameters in one batch, and a chain of programs without a CPU round trip', async () => {
    const rng = new Rng(11);
    const images = [randomImage(rng, 37, 23, 3), randomImage(rng, 37, 23, 3), randomImage(rng, 37, 23, 3)];
    const flips = [{ horizontal: true, vertical: false }, { horizontal: false, vertical: true }, { horizontal: true, vertical: true }];
    const input = uploadImages(device, images);
    const flipped = await dispatchProgram(device, flipProgram, input, flips);
    const gray = await dispatchProgram(device, toGrayProgram, flipped, undefined);
    const result = await readImages(device, gray);
    for (const b of [input, flipped, gray]) b.buffer.destroy();
    expect(result).toEqual(images.map((im, i) => cpuToGray(cpuFlip(im, flips[i]?.horizontal ?? false, flips[i]?.vertical ?? false))));
  });

  it('warp-affine matches OpenCV fixed-point bilinear exactly for every border mode', async () => {
    const rng = new Rng(3);
    const cases: Array<{ image: ImageU8; params: WarpAffineParams }> = [];
    for (const border of BORDER_MODES) {
      for (const channels of [1, 3] as const) {
        const image = randomImage(rng, 37, 23, channels);
        // A rotation with zoom-out (corners read far outside), a shear, a sub-pixel shift,
        // an output larger than the input, and the identity.
        const matrices: Affine2x3[] = [
          invertAffine(rotationMatrix(18, 11, 33, 0.6)),
          [1, 0.35, -4.2, -0.2, 1.1, 2.7],
          [1, 0, 0.37, 0, 1, -0.61],
          invertAffine([1.5, 0, 3, 0, 1.5, -2]),
          [1, 0, 0, 0, 1, 0],
          [1, 0, -40, 0, 1, -30],
        ];
        for (const inverseMatrix of matrices) {
          const size = inverseMatrix === matrices[3] ? { width: 61, height: 41 } : { width: 37, height: 23 };
          cases.push({ image, params: { inverseMatrix, ...size, border: border as BorderMode, borderValue: [9, 130, 251] } });
        }
      }
    }
    for (const { image, params } of cases) {
      const [gpu] = await runGpuProgram(device, warpAffineProgram, [image], params);
      expect(gpu, `${params.border} ${image.channels}ch ${params.inverseMatrix.join(',')}`).toEqual(cpuWarpAffine(image, params));
    }
    const identity = cases.find((c) => c.params.inverseMatrix[2] === 0 && c.params.inverseMatrix[0] === 1 && c.params.inverseMatrix[1] === 0);
    expect(identity).toBeDefined();
    if (identity) expect(maxDifference(cpuWarpAffine(identity.image, identity.params), identity.image)).toBe(0);
  });

  // Skipped where Debian's python3-opencv is not installed (a failure under npm test, which installs it).
  it.skipIf(cv2Missing)('agrees byte for byte with OpenCV itself (python3-opencv)', async () => {
    const rng = new Rng(21);
    const rgb = randomImage(rng, 37, 23, 3);
    const cases: Array<{ op: string; image: ImageU8; params: unknown; run: () => Promise<ImageU8[]> }> = [
      { op: 'gray', image: rgb, params: {}, run: () => runGpuProgram(device, toGrayProgram, [rgb], undefined) },
      { op: 'scale', image: rgb, params: { alpha: 1.3, beta: 20.5 }, run: () => runGpuProgram(device, brightnessContrastProgram, [rgb], { alpha: 1.3, beta: 20.5 }) },
      { op: 'threshold', image: rgb, params: { thresh: 127.5, maxval: 200, inverse: true }, run: () => runGpuProgram(device, thresholdProgram, [rgb], { thresh: 127.5, maxval: 200, inverse: true }) },
    ];
    for (const border of BORDER_MODES) {
      const params: WarpAffineParams = { inverseMatrix: invertAffine(rotationMatrix(18, 11, 33, 0.6)), width: 37, height: 23, border, borderValue: [9, 130, 251] };
      cases.push({ op: 'warp', image: rgb, params, run: () => runGpuProgram(device, warpAffineProgram, [rgb], params) });
    }
    const request = cases.map(({ op, image, params }) => ({ op, w: image.width, h: image.height, c: image.channels, data: Buffer.from(image.data).toString('base64'), params }));
    const python = spawnSync(PYTHON, ['-c', CV2_SCRIPT], { input: JSON.stringify(request), encoding: 'utf8' });
    expect(python.status, python.stderr).toBe(0);
    const expected = JSON.parse(python.stdout) as string[];
    for (const [i, { op, run }] of cases.entries()) {
      const [gpu] = await run();
      expect(Buffer.from(gpu?.data ?? []).toString('base64'), `${op} ${i}`).toBe(expected[i]);
    }
  });

  it("agrees exactly with the engine's CPU kernels (colour, threshold, photometric, geometry)", async () => {
    const rng = new Rng(33);
    for (const channels of [1, 3] as const) {
      const image = randomImage(rng, 37, 23, channels);
      const one = async <P>(program: GpuProgram<P>, params: P): Promise<ImageU8 | undefined> => (await runGpuProgram(device, program, [image], params))[0];
      if (channels === 3) expect(await one(toGrayProgram, undefined)).toEqual(toGray(image));
      expect(await one(thresholdProgram, { thresh: 100, maxval: 180, inverse: false })).toEqual(thresholdBinaryTransform.cpu(image, { threshold: 100, maxValue: 180 }));
      expect(await one(thresholdProgram, { thresh: 100, maxval: 180, inverse: true })).toEqual(thresholdBinaryInvTransform.cpu(image, { threshold: 100, maxValue: 180 }));
      expect(await one(flipProgram, { horizontal: true, vertical: true })).toEqual(flipU8(image, 'both'));
      expect(await one(brightnessContrastProgram, { alpha: 1.37, beta: -12.5 })).toEqual(linearTransform(image, { alpha: 1.37, beta: -12.5 }));
      const forward = cpuRotationMatrix(18, 11, 33, 0.6);
      for (const border of BORDER_MODES) {
        const gpu = await one(warpAffineProgram, { inverseMatrix: invertAffine(forward), width: 37, height: 23, border, borderValue: 77 });
        expect(gpu, border).toEqual(warpAffineU8(image, forward, { border, borderValue: 77, interpolation: 'bilinear' }));
      }
    }
  });

  it('rejects a batch of mixed sizes and a program whose WGSL does not compile, by name', async () => {
    const rng = new Rng(5);
    const mixed = [randomImage(rng, 4, 4, 1), randomImage(rng, 5, 4, 1)];
    await expect(runGpuProgram(device, toGrayProgram, mixed, undefined)).rejects.toMatchObject({ name: 'InvalidInputError' });
    const broken: GpuProgram<void> = { ...toGrayProgram, cacheKey: 'broken', label: 'augment:broken', wgsl: 'fn outputValue() -> u32 { return nope; }' };
    await expect(runGpuProgram(device, broken, [randomImage(rng, 4, 4, 1)], undefined)).rejects.toMatchObject({ name: 'GpuProgramError' });
  });
});

describe.skipIf(!dawn.ok)('GPU device access', () => {
  it('uses the tfjs WebGPU backend device when that backend is active', async () => {
    const previous = tf.getBackend();
    expect(await tf.setBackend('webgpu')).toBe(true);
    try {
      const handle = await deviceModule.acquireGpuDevice();
      expect(handle.owner).toBe('tfjs');
      const backend = tf.backend() as unknown as { device: GPUDevice };
      expect(handle.device).toBe(backend.device);
      const image = patternedImage(9, 7, 3);
      const [gray] = await runGpuProgram(handle.device, toGrayProgram, [image], undefined);
      expect(gray).toEqual(cpuToGray(image));
    } finally {
      await tf.setBackend(previous ?? 'cpu');
    }
  });

  it('throws WebGpuUnavailableError with what to do when there is no navigator.gpu', async () => {
    await deviceModule.releaseGpuDevice();
    const gpu = Object.getOwnPropertyDescriptor(globalThis.navigator, 'gpu');
    Object.defineProperty(globalThis.navigator, 'gpu', { value: undefined, configurable: true });
    try {
      await expect(deviceModule.acquireGpuDevice()).rejects.toMatchObject({ name: 'WebGpuUnavailableError', message: expect.stringContaining('CPU kernels') });
    } finally {
      if (gpu) Object.defineProperty(globalThis.navigator, 'gpu', gpu);
    }
    // The failure is not cached: with WebGPU back, a device comes.
    const handle = await deviceModule.acquireGpuDevice();
    expect(handle.owner).toBe('hearth');
    await deviceModule.releaseGpuDevice();
  });
});
