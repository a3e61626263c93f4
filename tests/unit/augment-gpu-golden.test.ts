/**
 * Every WGSL kernel against OpenCV's own output: the golden cases that the CPU kernels
 * are tested on (tests/fixtures/augment/{colour,geometry}), run on the GPU through Dawn on
 * SwiftShader, each within the tolerance its manifest states. Skips, saying why, when Dawn
 * finds no adapter.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GPU_GLOBAL_TRANSFORMS, GPU_TRANSFORMS } from '../../src/lib/augment/gpu/registry';
import { readImages, runGpuProgram, uploadImages } from '../../src/lib/augment/gpu/runner';
import type { ImageU8 } from '../../src/lib/augment/types';
import { installDawnGpu } from './helpers/dawn';

const FIXTURES = join(import.meta.dirname, '../fixtures/augment');

interface Case {
  id: string;
  transform: string;
  params: Record<string, unknown>;
  input: ImageU8;
  expected: ImageU8;
  tolerance: number;
}

function fromPng(file: string, channels: 1 | 3): ImageU8 {
  const png = PNG.sync.read(readFileSync(file));
  const data = new Uint8Array(png.width * png.height * channels);
  for (let p = 0; p < png.width * png.height; p++) {
    for (let c = 0; c < channels; c++) data[p * channels + c] = png.data[p * 4 + c] as number;
  }
  return { width: png.width, height: png.height, channels, data };
}

function colourCases(): Case[] {
  const dir = join(FIXTURES, 'colour');
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as {
    cases: { transform: string; input: string; inputChannels: 1 | 3; params: Record<string, unknown>; output: string; channels: 1 | 3; tolerance: number; other?: string }[];
  };
  return manifest.cases.map((c, i) => ({
    id: `colour/${i}`,
    transform: c.transform,
    params: c.other === undefined ? c.params : { ...c.params, other: fromPng(join(dir, c.other), c.inputChannels) },
    input: fromPng(join(dir, c.input), c.inputChannels),
    expected: fromPng(join(dir, c.output), c.channels),
    tolerance: c.tolerance,
  }));
}

function geometryCases(): Case[] {
  const dir = join(FIXTURES, 'geometry');
  interface Ref { file: string; width: number; height: number; channels: 1 | 3 }
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as {
    inputs: Record<string, Ref>;
    cases: { id: string; transform: string; params: Record<string, unknown>; input: string; output: Ref; tolerance: number }[];
  };
  const load = (r: Ref): ImageU8 => ({ ...r, data: new Uint8Array(gunzipSync(readFileSync(join(dir, r.file)))) });
  return manifest.cases.map((c) => ({
    id: `geometry/${c.id}`,
    transform: c.transform,
    params: c.params,
    input: load(manifest.inputs[c.input] as Ref),
    expected: load(c.output),
    tolerance: c.tolerance,
  }));
}

function maxAbsDiff(a: ImageU8, b: ImageU8): number {
  let max = 0;
  for (let i = 0; i < b.data.length; i++) max = Math.max(max, Math.abs((a.data[i] ?? -999) - (b.data[i] ?? 0)));
  return max;
}

const ALL_CASES = [...colourCases(), ...geometryCases()];
const shapeOf = (c: Case) => ({ width: c.input.width, height: c.input.height, channels: c.input.channels });
/** Parameter choices a kernel leaves to the CPU: the warp kernel is bilinear only. */
const CPU_ONLY = ALL_CASES.filter((c) => GPU_TRANSFORMS.get(c.transform)?.supports?.(c.params, shapeOf(c)) === false);
const CASES = ALL_CASES.filter((c) => !CPU_ONLY.includes(c));
const dawn = await installDawnGpu();
if (!dawn.ok) console.warn(`augment-gpu-golden: skipped: ${dawn.reason}`);

describe.skipIf(!dawn.ok)('WGSL kernels against OpenCV 4.6 goldens (Dawn)', () => {
  let device: GPUDevice;
  let release: () => Promise<void> = async () => undefined;

  beforeAll(async () => {
    // device.ts imports tfjs, whose WebGPU backend registers only if navigator.gpu exists
    // at import time, so it is loaded after Dawn is installed.
    const mod = await import('../../src/lib/augment/gpu/device');
    device = (await mod.acquireGpuDevice()).device;
    release = mod.releaseGpuDevice;
  });
  afterAll(async () => {
    await release();
  });

  it('has a GPU kernel for the transform of every golden case; only nearest-neighbour warps stay on the CPU', () => {
    expect(CPU_ONLY.map((c) => c.id).sort()).toEqual(['geometry/affine-03-gradient-rgb', 'geometry/rotate-11-astronaut-rgb', 'geometry/rotate-12-coffee-gray']);
    const missing = ALL_CASES.filter((c) => !GPU_TRANSFORMS.has(c.transform) && !GPU_GLOBAL_TRANSFORMS.has(c.transform)).map((c) => c.transform);
    expect([...new Set(missing)]).toEqual([]);
  });

  it.each(CASES.map((c) => [c.id, c] as const))('%s', async (_id, c) => {
    let got: ImageU8 | undefined;
    const gpu = GPU_TRANSFORMS.get(c.transform);
    if (gpu) {
      [got] = await runGpuProgram(device, gpu.program, [c.input], gpu.programParams(c.params, shapeOf(c)));
    } else {
      const global = GPU_GLOBAL_TRANSFORMS.get(c.transform);
      if (!global) throw new Error(`${c.transform} has no GPU kernel`);
      const input = uploadImages(device, [c.input]);
      const output = await global.run(device, input, [c.params]).finally(() => input.buffer.destroy());
      [got] = await readImages(device, output).finally(() => output.buffer.destroy());
    }
    if (!got) throw new Error('the GPU returned no image');
    expect([got.width, got.height, got.channels]).toEqual([c.expected.width, c.expected.height, c.expected.channels]);
    expect(maxAbsDiff(got, c.expected)).toBeLessThanOrEqual(c.tolerance);
  });
});
