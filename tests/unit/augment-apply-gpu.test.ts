/**
 * Previews and stored rebalancing give the same bytes wherever they run: the CPU kernels
 * (the data worker's path) and the GPU applier (the compute worker's, on Dawn over
 * SwiftShader here), including results fitted back to the project's input. And the rule
 * that decides where they run (augment/placement.ts).
 */
import 'fake-indexeddb/auto';
import { afterAll, describe, expect, it } from 'vitest';
import { installDawnGpu } from './helpers/dawn';
import { CPU_APPLIER } from '../../src/lib/augment/apply';
import { augmentPlacement } from '../../src/lib/augment/placement';
import { planPipeline, type PipelineSpec, type PlannedStep } from '../../src/lib/augment/pipeline';
import { TRANSFORMS } from '../../src/lib/augment/registry';
import type { ImageU8 } from '../../src/lib/augment/types';
import { Rng } from '../../src/lib/data/rng';
import type { InputSpec } from '../../src/lib/storage/records';
import { createProject } from '../../src/lib/storage/projects';
import { getSamples, putSamples, type NewSample } from '../../src/lib/storage/samples';
import { openHearthDb, type HearthDb } from '../../src/lib/storage/schema';
import { createVersion, getVersion } from '../../src/lib/storage/versions';

const dawn = await installDawnGpu();
if (!dawn.ok) console.warn(`augment-apply-gpu: GPU tests skipped: ${dawn.reason}`);
// device.ts imports tfjs, whose WebGPU backend registers only if navigator.gpu exists at import.
const { gpuApplier } = await import('../../src/lib/augment/gpu/applier');
const { runAugmentRebalance } = await import('../../src/lib/augment/rebalance-augment');
const { previewPipeline } = await import('../../src/lib/augment/preview');
const deviceModule = await import('../../src/lib/augment/gpu/device');

const GPU_TEST_TIMEOUT_MS = 120_000;
const INPUT: InputSpec = { width: 20, height: 18, channels: 3, resize: 'stretch' };
/** Steps that fire for some images only, change sizes and channels: fitting back is part of the check. */
const PIPELINE: PipelineSpec = {
  version: 1,
  steps: [
    { transform: 'rotate', params: { angleRange: [-20, 20] } },
    { transform: 'crop', p: 0.5, params: { width: 14, height: 12 } },
    { transform: 'brightness', p: 0.6, params: { betaRange: [-30, 30] } },
    { transform: 'to-gray', p: 0.4 },
    { transform: 'median', p: 0.5, params: { ksizeRange: 3 } },
  ],
};

function randomImage(rng: Rng): ImageU8 {
  return { ...INPUT, data: Uint8Array.from({ length: INPUT.width * INPUT.height * INPUT.channels }, () => rng.int(256)) };
}

const dbs: HearthDb[] = [];
afterAll(async () => {
  for (const db of dbs) db.close();
  await deviceModule.releaseGpuDevice();
});

/** A project whose class "b" is short of training samples. */
async function project(): Promise<{ db: HearthDb; projectId: string; versionId: number }> {
  const db = await openHearthDb(`augment-apply-gpu-${crypto.randomUUID()}`);
  dbs.push(db);
  const p = await createProject(db, { name: 'apply', input: INPUT, classes: ['a', 'b'], attributes: [], source: 'test' });
  const rng = new Rng(99);
  const samples: NewSample[] = Array.from({ length: 14 }, (_, i) => ({
    projectId: p.id,
    key: `train/${i}`,
    fileName: `${i}.png`,
    label: i < 10 ? 'a' : 'b',
    split: 'train',
    attributes: {},
    provenance: { kind: 'real' },
    original: null,
    pixelsHwc: randomImage(rng).data,
    createdAt: 0,
  }));
  await putSamples(db, samples);
  return { db, projectId: p.id, versionId: (await createVersion(db, p.id, { recipe: null, note: 'apply' })).id as number };
}

describe.skipIf(!dawn.ok)('the GPU applier against the CPU kernels', () => {
  it(
    'gives the same fitted bytes on a batch of images',
    async () => {
      const rng = new Rng(3);
      const images = Array.from({ length: 9 }, () => randomImage(rng));
      const plans: PlannedStep[][] = images.map((img, i) => planPipeline(PIPELINE, TRANSFORMS, 700 + i, img));
      const gpu = await gpuApplier();
      expect(gpu.where).toBe('gpu');
      const [onGpu, onCpu] = await Promise.all([gpu.apply(images, plans, INPUT), CPU_APPLIER.apply(images, plans, INPUT)]);
      expect(onGpu).toEqual(onCpu);
      expect(onCpu.every((img) => img.width === INPUT.width && img.height === INPUT.height && img.channels === 3)).toBe(true);
    },
    GPU_TEST_TIMEOUT_MS,
  );

  it(
    'previews the same images on the GPU as on the CPU kernels',
    async () => {
      const { db, projectId, versionId } = await project();
      const sampleIds = Array.from((await getVersion(db, versionId)).sampleIds).slice(0, 8);
      const req = { projectId, sampleIds, pipeline: PIPELINE, seeds: [41] };
      const [onCpu, onGpu] = [await previewPipeline(db, req), await previewPipeline(db, req, await gpuApplier())];
      expect(onCpu).toHaveLength(8);
      expect(onGpu).toEqual(onCpu);
    },
    GPU_TEST_TIMEOUT_MS,
  );

  it(
    'writes the same rebalanced samples from the compute worker (GPU) as from the data worker (CPU)',
    async () => {
      const written: Map<string, string>[] = [];
      for (const applier of [CPU_APPLIER, await gpuApplier()]) {
        const { db, projectId, versionId } = await project();
        const result = await runAugmentRebalance(db, { projectId, versionId, pipeline: PIPELINE, seed: 12, targets: [{ label: 'b', count: 40 }], applier });
        expect(result.added).toBe(40);
        const version = await getVersion(db, result.versionId);
        const samples = await getSamples(db, Array.from(version.sampleIds));
        const augmented = samples.filter((s) => s.provenance.kind === 'augmented');
        expect(augmented).toHaveLength(40);
        written.push(new Map(augmented.map((s) => [s.key, Buffer.from(s.pixelsHwc).toString('hex')])));
      }
      const [cpu, gpu] = written as [Map<string, string>, Map<string, string>];
      expect([...gpu.keys()].sort()).toEqual([...cpu.keys()].sort());
      for (const [key, bytes] of cpu) expect(gpu.get(key), key).toBe(bytes);
    },
    GPU_TEST_TIMEOUT_MS,
  );
});

describe('where previews and rebalancing run', () => {
  const real = { vendor: 'nvidia', architecture: 'ada', description: '', isFallbackAdapter: false };
  const software = { vendor: 'google', architecture: 'swiftshader', description: '', isFallbackAdapter: true };

  it('runs on the GPU only with a real WebGPU adapter on the WebGPU backend', () => {
    expect(augmentPlacement('webgpu', real)).toEqual({ where: 'gpu', reason: 'on the GPU (nvidia ada)' });
    expect(augmentPlacement('webgpu', software)).toMatchObject({ where: 'cpu', reason: expect.stringMatching(/software adapter \(google swiftshader\)/) });
    expect(augmentPlacement('webgpu', null)).toMatchObject({ where: 'cpu' });
    expect(augmentPlacement('wasm', real)).toMatchObject({ where: 'cpu', reason: expect.stringMatching(/backend is wasm/) });
    expect(augmentPlacement(null, null)).toMatchObject({ where: 'cpu' });
  });
});
