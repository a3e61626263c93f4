/**
 * Registry completeness (issue 5): every registered transform has a CPU kernel, a golden
 * against OpenCV (a case naming it in one of the golden manifests) and a GPU kernel; every
 * GPU kernel present agrees with its CPU kernel within the transform's golden tolerance,
 * on Dawn; and a pipeline over the real registry gives the same bytes for the same seed on
 * the CPU path.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installDawnGpu } from './helpers/dawn';
import { Rng } from '../../src/lib/data/rng';
import { applyPlanCpu, planPipeline, validatePipeline, type PipelineSpec } from '../../src/lib/augment/pipeline';
import { buildTransformRegistry, listTransforms, TRANSFORMS } from '../../src/lib/augment/registry';
import { buildGpuRegistry, GPU_GLOBAL_TRANSFORMS, GPU_TRANSFORMS, GPU_TRANSFORMS_CORE, hasGpuKernel } from '../../src/lib/augment/gpu/registry';
import { readImages, runGpuProgram, uploadImages } from '../../src/lib/augment/gpu/runner';
import type { ImageU8, TransformDef } from '../../src/lib/augment/types';

/**
 * Registered transforms whose GPU kernel has not landed yet. Issue 5 stays open until
 * this list is empty. The test below fails both when a transform outside the list lacks a
 * GPU kernel and when one inside it has gained one, so the list can only shrink.
 */
const GPU_PENDING: readonly string[] = [];

const FIXTURES = join(import.meta.dirname, '../fixtures/augment');
const GOLDEN_MANIFESTS = ['colour', 'geometry'] as const;

function goldenCaseCounts(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const family of GOLDEN_MANIFESTS) {
    const manifest = JSON.parse(readFileSync(join(FIXTURES, family, 'manifest.json'), 'utf8')) as { cases: { transform: string }[] };
    for (const c of manifest.cases) counts.set(c.transform, (counts.get(c.transform) ?? 0) + 1);
  }
  return counts;
}

const SHAPE = { width: 37, height: 23, channels: 3 as const };

function randomImage(rng: Rng, shape: typeof SHAPE = SHAPE): ImageU8 {
  const data = new Uint8Array(shape.width * shape.height * shape.channels);
  for (let i = 0; i < data.length; i++) data[i] = rng.int(256);
  return { ...shape, data };
}

const PARTNER = randomImage(new Rng(99));

/**
 * A spec per transform that draws non-trivial parameters. Transforms absent here sample
 * from their defaults; the warps need an explicit range (angleRange is required) and keep
 * bilinear interpolation, the one the warp kernel implements.
 */
const SPECS: Readonly<Record<string, Record<string, unknown>>> = {
  'threshold-binary': { thresholdRange: [40, 200], maxValueRange: [100, 255] },
  'threshold-binary-inv': { thresholdRange: [40, 200], maxValueRange: [100, 255] },
  'threshold-otsu': { maxValueRange: [100, 255] },
  'threshold-otsu-inv': { maxValueRange: [100, 255] },
  mixup: { otherImage: PARTNER },
  cutmix: { otherImage: PARTNER },
  flip: { mode: 'both' },
  rotate: { angleRange: [-30, 30], border: 'reflect101' },
  translate: { shiftXRange: [-0.2, 0.2], shiftYRange: [-0.1, 0.1], border: 'replicate' },
  shear: { shearXRange: [-15, 15], shearYRange: [-5, 5], border: 'constant', borderValue: 77 },
  scale: { scaleRange: [0.8, 1.25], border: 'reflect' },
  affine: { angleRange: [-10, 10], scaleRange: [0.9, 1.1], shiftXRange: [-0.05, 0.05], shearXRange: [-5, 5] },
  resize: { scaleRange: [0.5, 1.5], interpolation: 'area' },
  crop: { width: 24, height: 20 },
  box: { ksizeRange: [3, 7] },
  'gaussian-blur': { ksizeRange: [3, 9], sigmaRange: [0.5, 2] },
  median: { ksizeRange: [3, 5] },
  bilateral: { dRange: [3, 7], sigmaColorRange: [10, 50], sigmaSpaceRange: [1, 5] },
};

/** The conversions back to RGB take any 3 bytes as 8-bit HSV/YCrCb/Lab, so random images serve every transform. */
function specFor(name: string): Record<string, unknown> {
  return SPECS[name] ?? {};
}

function maxAbsDiff(a: ImageU8, b: ImageU8): number {
  let max = 0;
  for (let i = 0; i < a.data.length; i++) max = Math.max(max, Math.abs((a.data[i] as number) - (b.data[i] as number)));
  return max;
}

const NAMES = [...TRANSFORMS.keys()];

describe('transform registry', () => {
  it('holds every transform family under unique kebab-case names', () => {
    expect(NAMES.length).toBeGreaterThanOrEqual(31);
    for (const name of NAMES) expect(name).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
    for (const [name, def] of TRANSFORMS) expect(def.name).toBe(name);
    expect(listTransforms()).toEqual(NAMES.map((name) => ({ name, kind: TRANSFORMS.get(name)?.kind, description: TRANSFORMS.get(name)?.description })));
  });

  it('refuses two transforms with one name, and two GPU kernels for one transform', () => {
    const flip = TRANSFORMS.get('flip') as TransformDef<unknown>;
    expect(() => buildTransformRegistry([flip, { ...flip }])).toThrow(expect.objectContaining({ name: 'TransformRegistryError', message: expect.stringContaining('"flip"') }));
    const first = GPU_TRANSFORMS_CORE[0];
    if (!first) throw new Error('no GPU kernels registered');
    expect(() => buildGpuRegistry([[first], [first]])).toThrow(expect.objectContaining({ name: 'GpuRegistryError' }));
  });

  it.each(NAMES)('%s has a CPU kernel that samples and runs', (name) => {
    const def = TRANSFORMS.get(name) as TransformDef<unknown>;
    expect(typeof def.cpu).toBe('function');
    expect(typeof def.sample).toBe('function');
    expect(def.goldenTolerance).toBeGreaterThanOrEqual(0);
    const image = randomImage(new Rng(1));
    const copy = image.data.slice();
    const out = def.cpu(image, def.sample(new Rng(2), specFor(name), SHAPE));
    expect(out.data.length).toBe(out.width * out.height * out.channels);
    expect(image.data).toEqual(copy);
  });

  it('has a golden case for every transform, and no golden for an unregistered one', () => {
    const goldens = goldenCaseCounts();
    expect(NAMES.filter((name) => !goldens.has(name))).toEqual([]);
    expect([...goldens.keys()].filter((name) => !TRANSFORMS.has(name))).toEqual([]);
  });

  it('has a GPU kernel for every transform outside GPU_PENDING, and none inside it', () => {
    expect(new Set(GPU_PENDING).size).toBe(GPU_PENDING.length);
    expect(GPU_PENDING.filter((name) => !TRANSFORMS.has(name))).toEqual([]);
    const missing = NAMES.filter((name) => !GPU_PENDING.includes(name) && !hasGpuKernel(name));
    expect(missing, 'transforms without a GPU kernel (add one, or, only while it is being written, list it in GPU_PENDING)').toEqual([]);
    const landed = GPU_PENDING.filter((name) => hasGpuKernel(name));
    expect(landed, 'GPU kernels that have landed: remove them from GPU_PENDING').toEqual([]);
  });

  it('warps with nearest interpolation are left to the CPU path', () => {
    const rotate = TRANSFORMS.get('rotate') as TransformDef<unknown>;
    const gpu = GPU_TRANSFORMS.get('rotate');
    const params = rotate.sample(new Rng(3), { angleRange: 10, interpolation: 'nearest' }, SHAPE);
    expect(gpu?.supports?.(params, SHAPE)).toBe(false);
    expect(() => gpu?.programParams(params, SHAPE)).toThrow(expect.objectContaining({ name: 'GpuUnsupportedParamsError' }));
  });

  it('registers GPU kernels only for registered transforms, keyed by their own name', () => {
    for (const [name, gpu] of [...GPU_TRANSFORMS, ...GPU_GLOBAL_TRANSFORMS]) {
      expect(gpu.transform).toBe(name);
      expect(TRANSFORMS.has(name), name).toBe(true);
    }
    expect([...GPU_GLOBAL_TRANSFORMS.keys()].filter((name) => GPU_TRANSFORMS.has(name))).toEqual([]);
  });
});

describe('pipelines over the real registry (CPU path)', () => {
  const image = randomImage(new Rng(5));

  it.each(NAMES)('%s as one step: same seed, same params and bytes', (name) => {
    const spec: PipelineSpec = { version: 1, steps: [{ transform: name, params: specFor(name) }] };
    const run = (seed: number): { plan: string; bytes: Uint8Array } => {
      const plan = planPipeline(spec, TRANSFORMS, seed, image);
      return { plan: JSON.stringify(plan), bytes: applyPlanCpu(image, plan, TRANSFORMS).data };
    };
    const a = run(1234);
    const b = run(1234);
    expect(b.plan).toBe(a.plan);
    expect(b.bytes).toEqual(a.bytes);
  });

  it('a six-step chain with probabilities: same seed, same bytes; seeds differ', () => {
    const spec = validatePipeline(
      {
        version: 1,
        steps: [
          { transform: 'flip', p: 0.5, params: { mode: 'horizontal' } },
          { transform: 'affine', p: 0.8, params: { angleRange: [-15, 15], scaleRange: [0.9, 1.1], border: 'reflect101' } },
          { transform: 'brightness', p: 0.7, params: { betaRange: [-30, 30] } },
          { transform: 'hue-saturation', p: 0.5 },
          { transform: 'gaussian-blur', p: 0.5, params: { ksizeRange: [3, 5], sigmaRange: [0.5, 1.5] } },
          { transform: 'cutout', p: 0.5 },
        ],
      },
      TRANSFORMS,
    );
    const outputs = new Set<string>();
    for (let seed = 0; seed < 12; seed++) {
      const first = applyPlanCpu(image, planPipeline(spec, TRANSFORMS, seed, image), TRANSFORMS);
      const again = applyPlanCpu(image, planPipeline(spec, TRANSFORMS, seed, image), TRANSFORMS);
      expect(again.data).toEqual(first.data);
      outputs.add(Buffer.from(first.data).toString('base64'));
    }
    expect(outputs.size).toBe(12);
  });
});

const dawn = await installDawnGpu();
if (!dawn.ok) console.warn(`augment-registry: GPU parity skipped: ${dawn.reason}`);

describe.skipIf(!dawn.ok)('every GPU kernel against its CPU kernel (Dawn)', () => {
  let device: GPUDevice;
  let release: () => Promise<void> = async () => undefined;

  beforeAll(async () => {
    // device.ts imports tfjs, whose WebGPU backend registers only if navigator.gpu exists
    // at import time, so it is loaded after Dawn is installed.
    const deviceModule = await import('../../src/lib/augment/gpu/device');
    device = (await deviceModule.acquireGpuDevice()).device;
    release = deviceModule.releaseGpuDevice;
  });

  afterAll(async () => {
    await release();
  });

  it.each([...GPU_TRANSFORMS.keys()])('%s: 2 random images, seeded params, within the golden tolerance', async (name) => {
    const def = TRANSFORMS.get(name) as TransformDef<unknown>;
    const gpu = GPU_TRANSFORMS.get(name);
    if (!gpu) throw new Error(name);
    const rng = new Rng(2024);
    for (let i = 0; i < 2; i++) {
      const image = randomImage(rng);
      const params = def.sample(rng.fork(`${name}-${i}`), specFor(name), SHAPE);
      expect(gpu.supports?.(params, SHAPE) ?? true).toBe(true);
      const want = def.cpu(image, params);
      const [got] = await runGpuProgram(device, gpu.program, [image], gpu.programParams(params, SHAPE));
      if (!got) throw new Error(`${name}: the GPU returned no image`);
      expect({ width: got.width, height: got.height, channels: got.channels }).toEqual({ width: want.width, height: want.height, channels: want.channels });
      expect(maxAbsDiff(got, want), `${name} image ${i}`).toBeLessThanOrEqual(def.goldenTolerance);
    }
  });

  it.each([...GPU_GLOBAL_TRANSFORMS.keys()])('%s (global): a batch of 2 random images, seeded params, within the golden tolerance', async (name) => {
    const def = TRANSFORMS.get(name) as TransformDef<unknown>;
    const gpu = GPU_GLOBAL_TRANSFORMS.get(name);
    if (!gpu) throw new Error(name);
    const rng = new Rng(2025);
    const images = [randomImage(rng), randomImage(rng)];
    const params = images.map((_, i) => def.sample(rng.fork(`${name}-${i}`), specFor(name), SHAPE));
    const input = uploadImages(device, images);
    const output = await gpu.run(device, input, params).finally(() => input.buffer.destroy());
    const got = await readImages(device, output).finally(() => output.buffer.destroy());
    images.forEach((image, i) => {
      const want = def.cpu(image, params[i]);
      const out = got[i] as ImageU8;
      expect({ width: out.width, height: out.height, channels: out.channels }).toEqual({ width: want.width, height: want.height, channels: want.channels });
      expect(maxAbsDiff(out, want), `${name} image ${i}`).toBeLessThanOrEqual(def.goldenTolerance);
    });
  });
});
