/**
 * Rebalancing by augmentation on a small MNIST-LT-like project stored in fake-indexeddb:
 * class '0' has 40 training images, class '9' has 4, and '9' is augmented up to 40.
 * Images are seeded synthetic 28×28 strokes, different per sample, so a child that equals
 * its parent or another child would show.
 */
import 'fake-indexeddb/auto';
import { afterEach, describe, expect, it } from 'vitest';
import { planRebalance, countCells, type RebalancePlan } from '../../src/lib/analysis/rebalance';
import { applyPlanCpu, planPipeline, type PipelineSpec } from '../../src/lib/augment/pipeline';
import {
  AUGMENT_WRITE_BATCH,
  augmentToTargets,
  childSeed,
  targetsFromClassCounts,
  targetsFromPlan,
} from '../../src/lib/augment/rebalance-augment';
import { TRANSFORMS } from '../../src/lib/augment/registry';
import { fitToInput } from '../../src/lib/augment/apply';
import { Rng } from '../../src/lib/data/rng';
import type { InputSpec, Provenance, SampleRecord } from '../../src/lib/storage/records';
import { CancelledError } from '../../src/lib/jobs/errors';
import type { CancelToken, Progress } from '../../src/lib/jobs/progress';
import { openHearthDb, type HearthDb } from '../../src/lib/storage/schema';
import { createProject } from '../../src/lib/storage/projects';
import { getSamples, putSamples, type NewSample } from '../../src/lib/storage/samples';
import { createVersion, getVersion, versionCounts } from '../../src/lib/storage/versions';

const INPUT: InputSpec = { width: 28, height: 28, channels: 1, resize: 'stretch' };
const PIXELS = INPUT.width * INPUT.height * INPUT.channels;

/** Rotation, shift, brightness and noise: every child differs from its parent. */
const PIPELINE: PipelineSpec = {
  version: 1,
  steps: [
    { transform: 'rotate', params: { angleRange: [-20, 20] } },
    { transform: 'translate', p: 0.5, params: { shiftXRange: [-0.1, 0.1], shiftYRange: [-0.1, 0.1] } },
    { transform: 'brightness', params: { betaRange: [-30, 30] } },
    { transform: 'gaussian-noise', params: { sigmaRange: [4, 8] } },
  ],
};

const dbs: HearthDb[] = [];
afterEach(() => {
  while (dbs.length) dbs.pop()?.close();
});

/** A seeded "digit": a bright rectangle stroke on a dark background, plus faint noise. */
function fakeDigit(rng: Rng): Uint8Array {
  const px = new Uint8Array(PIXELS);
  for (let i = 0; i < PIXELS; i++) px[i] = rng.int(20);
  const x0 = 4 + rng.int(8);
  const y0 = 4 + rng.int(8);
  const w = 6 + rng.int(8);
  const h = 8 + rng.int(8);
  for (let y = y0; y < y0 + h; y++) for (let x = x0; x < x0 + w; x++) if (x === x0 || y === y0 || x === x0 + w - 1 || y === y0 + h - 1) px[y * 28 + x] = 200 + rng.int(56);
  return px;
}

/** A fresh database holding one project: '0' × 40 and '9' × 4 in train, 3 of each in val. */
async function makeProject(withGroups = false): Promise<{ db: HearthDb; projectId: string; versionId: number }> {
  const db = await openHearthDb(`augment-rebalance-${crypto.randomUUID()}`);
  dbs.push(db);
  const project = await createProject(db, { name: 'mnist-lt', input: INPUT, classes: ['0', '9'], attributes: [], source: 'test' });
  const rng = new Rng(2024);
  const samples: NewSample[] = [];
  const add = (label: string, split: 'train' | 'val', i: number): void => {
    samples.push({
      projectId: project.id,
      key: `${split}/${label}/${i}`,
      fileName: `${i}.png`,
      label,
      split,
      attributes: withGroups ? { pen: i % 2 === 0 ? 'thick' : 'thin' } : {},
      provenance: { kind: 'real' },
      original: null,
      pixelsHwc: fakeDigit(rng),
      createdAt: 0,
    });
  };
  for (let i = 0; i < 40; i++) add('0', 'train', i);
  for (let i = 0; i < 4; i++) add('9', 'train', i);
  for (let i = 0; i < 3; i++) add('0', 'val', i);
  for (let i = 0; i < 3; i++) add('9', 'val', i);
  await putSamples(db, samples);
  const version = await createVersion(db, project.id, { recipe: null, note: 'base' });
  return { db, projectId: project.id, versionId: version.id as number };
}

async function allSamples(db: HearthDb, projectId: string): Promise<SampleRecord[]> {
  const metas = await db.getAllFromIndex('samples', 'by-project', projectId);
  return getSamples(db, metas.map((m) => m.id as number));
}

function augmentedOf(samples: SampleRecord[]): (SampleRecord & { provenance: Extract<Provenance, { kind: 'augmented' }> })[] {
  return samples.filter((s): s is SampleRecord & { provenance: Extract<Provenance, { kind: 'augmented' }> } => s.provenance.kind === 'augmented');
}

/** A token that cancels at its `cancelAt`-th check (1-based), like a user pressing Cancel mid-run. */
function cancelAtCheck(cancelAt: number): CancelToken {
  let checks = 0;
  return {
    get cancelled() {
      return checks >= cancelAt;
    },
    throwIfCancelled() {
      checks++;
      if (checks >= cancelAt) throw new CancelledError();
    },
  };
}

describe('augmentToTargets', () => {
  it('fills class 9 to 40 with reproducible, traceable children', async () => {
    const { db, projectId, versionId } = await makeProject();
    const progress: Progress[] = [];
    const version = await augmentToTargets(db, {
      projectId,
      versionId,
      pipeline: PIPELINE,
      seed: 77,
      targets: [{ label: '9', count: 36 }],
      onProgress: (p) => progress.push(p),
    });
    const counts = versionCounts(version, { splits: ['train'] });
    expect(counts.byLabel).toEqual({ '0': 40, '9': 40 });
    expect(counts.byProvenance.augmented).toBe(36);
    expect(version.parentVersionId).toBe(versionId);
    expect(version.recipe).toEqual({
      tool: 'augment-rebalance',
      params: { pipeline: PIPELINE, targets: [{ label: '9', count: 36, group: null }], baseVersionId: versionId },
      seed: 77,
    });
    expect(progress.at(-1)?.done).toBe(36);
    expect(progress.every((p) => p.total === 36)).toBe(true);

    const samples = await allSamples(db, projectId);
    const byId = new Map(samples.map((s) => [s.id as number, s]));
    const realNines = new Set(samples.filter((s) => s.label === '9' && s.split === 'train' && s.provenance.kind === 'real').map((s) => s.id));
    const children = augmentedOf(samples);
    expect(children).toHaveLength(36);
    // 36 children over 4 parents: 9 each.
    const perParent = new Map<number, number>();
    for (const child of children) {
      const { parentId, recipe } = child.provenance;
      expect(realNines.has(parentId)).toBe(true);
      perParent.set(parentId, (perParent.get(parentId) ?? 0) + 1);
      const parent = byId.get(parentId) as SampleRecord;
      expect(child.label).toBe('9');
      expect(child.split).toBe('train');
      expect(child.original).toBeNull();
      const k = Number(child.key.split('/').at(-1));
      expect(child.key).toBe(`augmented/${versionId}/${parentId}/${k}`);
      expect(recipe.tool).toBe('augment');
      expect(recipe.seed).toBe(childSeed(77, parentId, k));
      expect(recipe.params.pipeline).toEqual(PIPELINE);
      // Reproducible from the record alone: replan with the recorded seed, reapply.
      const parentImage = { ...INPUT, data: parent.pixelsHwc };
      const plan = planPipeline(PIPELINE, TRANSFORMS, recipe.seed, parentImage);
      expect(recipe.params.stepsApplied).toEqual(plan);
      const again = fitToInput(applyPlanCpu(parentImage, plan, TRANSFORMS), INPUT);
      expect(Buffer.from(again.data).equals(Buffer.from(child.pixelsHwc))).toBe(true);
      expect(Buffer.from(child.pixelsHwc).equals(Buffer.from(parent.pixelsHwc))).toBe(false);
    }
    expect([...perParent.values()]).toEqual([9, 9, 9, 9]);
    // No two children alike.
    expect(new Set(children.map((c) => Buffer.from(c.pixelsHwc).toString('base64'))).size).toBe(36);
  });

  it('same seed, same bytes; another seed, other bytes', async () => {
    const run = async (seed: number) => {
      const p = await makeProject();
      await augmentToTargets(p.db, { projectId: p.projectId, versionId: p.versionId, pipeline: PIPELINE, seed, targets: [{ label: '9', count: 10 }] });
      const children = augmentedOf(await allSamples(p.db, p.projectId));
      // Keys hold version and parent ids, equal across these fresh databases.
      return new Map(children.map((c) => [c.key, Buffer.from(c.pixelsHwc).toString('hex')]));
    };
    const a = await run(5);
    const b = await run(5);
    const c = await run(6);
    expect(a.size).toBe(10);
    expect(b).toEqual(a);
    const differing = [...a].filter(([key, hex]) => c.get(key) !== hex);
    expect(differing.length).toBeGreaterThan(0);
  });

  it('resumes after a cancel with exactly the target count and no duplicates', async () => {
    const { db, projectId, versionId } = await makeProject();
    const opts = { projectId, versionId, pipeline: PIPELINE, seed: 9, targets: [{ label: '9', count: 36 }] };
    // Check 1 precedes the first batch, check 2 the second: cancel there.
    await expect(augmentToTargets(db, { ...opts, cancel: cancelAtCheck(2) })).rejects.toThrow(CancelledError);
    const partial = augmentedOf(await allSamples(db, projectId));
    expect(partial).toHaveLength(AUGMENT_WRITE_BATCH);
    const before = new Map(partial.map((s) => [s.key, s.id]));

    const progress: Progress[] = [];
    const version = await augmentToTargets(db, { ...opts, onProgress: (p) => progress.push(p) });
    // The resumed run starts counting from the children already there.
    expect(progress[0]?.done).toBe(AUGMENT_WRITE_BATCH);
    const children = augmentedOf(await allSamples(db, projectId));
    expect(children).toHaveLength(36);
    expect(new Set(children.map((c) => c.key)).size).toBe(36);
    for (const [key, id] of before) expect(children.find((c) => c.key === key)?.id).toBe(id);
    expect(versionCounts(version, { splits: ['train'] }).byLabel['9']).toBe(40);

    // The resumed run wrote the same bytes an uninterrupted one does.
    const fresh = await makeProject();
    await augmentToTargets(fresh.db, { ...opts, projectId: fresh.projectId, versionId: fresh.versionId });
    const uninterrupted = new Map(augmentedOf(await allSamples(fresh.db, fresh.projectId)).map((c) => [c.key, Buffer.from(c.pixelsHwc).toString('hex')]));
    for (const c of children) expect(uninterrupted.get(c.key)).toBe(Buffer.from(c.pixelsHwc).toString('hex'));
  });

  it('fills class × group cells from parents of that group only', async () => {
    const { db, projectId, versionId } = await makeProject(true);
    await augmentToTargets(db, {
      projectId,
      versionId,
      pipeline: PIPELINE,
      seed: 3,
      targets: [{ label: '9', group: { attribute: 'pen', value: 'thin' }, count: 5 }],
    });
    const samples = await allSamples(db, projectId);
    const children = augmentedOf(samples);
    expect(children).toHaveLength(5);
    for (const c of children) {
      const parent = samples.find((s) => s.id === c.provenance.parentId);
      expect(parent?.attributes).toEqual({ pen: 'thin' });
      expect(c.attributes).toEqual({ pen: 'thin' });
    }
  });

  it('brings shape-changing pipelines back to the input size', async () => {
    const { db, projectId, versionId } = await makeProject();
    const crop: PipelineSpec = { version: 1, steps: [{ transform: 'crop', params: { width: 20, height: 20 } }] };
    await augmentToTargets(db, { projectId, versionId, pipeline: crop, seed: 1, targets: [{ label: '9', count: 4 }] });
    const children = augmentedOf(await allSamples(db, projectId));
    expect(children).toHaveLength(4);
    for (const c of children) expect(c.pixelsHwc.length).toBe(PIXELS);
  });

  it('refuses mixup and cutmix, naming the training hook', async () => {
    const { db, projectId, versionId } = await makeProject();
    for (const transform of ['mixup', 'cutmix']) {
      const pipeline: PipelineSpec = { version: 1, steps: [{ transform: 'flip' }, { transform }] };
      await expect(augmentToTargets(db, { projectId, versionId, pipeline, seed: 1, targets: [{ label: '9', count: 4 }] })).rejects.toMatchObject({
        name: 'InvalidInputError',
        message: expect.stringContaining('mixup/cutmix make soft labels: use them on the fly during training, not to write samples'),
      });
    }
    expect(augmentedOf(await allSamples(db, projectId))).toHaveLength(0);
  });

  it('refuses unknown classes, overlapping cells and empty cells', async () => {
    const { db, projectId, versionId } = await makeProject(true);
    const base = { projectId, versionId, pipeline: PIPELINE, seed: 1 };
    await expect(augmentToTargets(db, { ...base, targets: [{ label: '7', count: 1 }] })).rejects.toMatchObject({ name: 'InvalidInputError' });
    await expect(
      augmentToTargets(db, { ...base, targets: [{ label: '9', count: 1 }, { label: '9', group: { attribute: 'pen', value: 'thin' }, count: 1 }] }),
    ).rejects.toThrow(/overlap/);
    await expect(augmentToTargets(db, { ...base, targets: [{ label: '9', group: { attribute: 'pen', value: 'dotted' }, count: 1 }] })).rejects.toThrow(
      /no real training samples/,
    );
  });
});

describe('targets', () => {
  it('targetsFromPlan keeps only the augment cells, with their action counts', async () => {
    const { db, versionId } = await makeProject(true);
    const version = await getVersion(db, versionId);
    const plan: RebalancePlan = planRebalance(countCells(version, 'pen'), { kind: 'uniform-class-group', attribute: 'pen', perCell: 40 });
    // 0 × thick / thin have 20 each: augment 20; 9 × thick / thin have 2: generate.
    const augmentCells = plan.cells.filter((c) => c.action === 'augment');
    expect(augmentCells.length).toBeGreaterThan(0);
    expect(plan.cells.some((c) => c.action === 'generate')).toBe(true);
    expect(targetsFromPlan(plan)).toEqual(
      augmentCells.map((c) => ({ label: c.label, group: { attribute: 'pen', value: c.group }, count: c.actionCount })),
    );
    expect(targetsFromPlan(plan).every((t) => t.label === '0')).toBe(true);
  });

  it('targetsFromPlan on a class-only plan gives class targets', async () => {
    const { db, versionId } = await makeProject();
    const version = await getVersion(db, versionId);
    const plan = planRebalance(countCells(version), { kind: 'uniform-class', perClass: 60 });
    // '0' has 40 real (≥ 20, deficit 20 ≤ 400): augment. '9' has 4: generate.
    expect(targetsFromPlan(plan)).toEqual([{ label: '0', group: null, count: 20 }]);
  });

  it('targetsFromClassCounts maps class counts', () => {
    expect(targetsFromClassCounts({ zebra: 36, ant: 2 })).toEqual([
      { label: 'zebra', group: null, count: 36 },
      { label: 'ant', group: null, count: 2 },
    ]);
  });
});
