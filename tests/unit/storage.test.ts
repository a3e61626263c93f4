import 'fake-indexeddb/auto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  countSamples,
  createProject,
  createVersion,
  deleteProject,
  filterVersion,
  getPixels,
  getProject,
  getSampleMeta,
  getSamples,
  getSetting,
  getVersion,
  keysOfProject,
  latestVersion,
  listProjects,
  listVersions,
  mapStorageError,
  openHearthDb,
  putSamples,
  requestPersistence,
  sampleIdOfNumber,
  sampleNumbers,
  setSetting,
  storageInfo,
  updateProject,
  versionCounts,
  type HearthDb,
  type NewSample,
  type Project,
} from '../../src/lib/storage';
import { removeSamples } from '../../src/lib/storage/remove';
import { runTx } from '../../src/lib/storage/tx';
import type { Provenance, Split } from '../../src/lib/storage/records';

const INPUT = { width: 2, height: 2, channels: 1 as const, resize: 'stretch' as const };

let db: HearthDb;
beforeEach(async () => {
  db = await openHearthDb(`storage-test-${crypto.randomUUID()}`);
});
afterEach(() => db.close());

function newProject(name: string, id?: string): Promise<Project> {
  return createProject(db, { id, name, input: INPUT, classes: [], attributes: [], source: 'import' });
}

function sample(
  projectId: string,
  key: string,
  opts: { label?: string | null; split?: Split; attributes?: Record<string, string>; provenance?: Provenance; fill?: number } = {},
): NewSample {
  return {
    projectId,
    key,
    fileName: key.slice(key.lastIndexOf('/') + 1),
    label: opts.label === undefined ? null : opts.label,
    split: opts.split ?? 'unassigned',
    attributes: opts.attributes ?? {},
    provenance: opts.provenance ?? { kind: 'real' },
    original: null,
    pixelsHwc: new Uint8Array(4).fill(opts.fill ?? 0),
    createdAt: 0,
  };
}

async function errorOf(p: Promise<unknown>): Promise<{ name: string; message: string }> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

describe('projects', () => {
  it('creates, reads, lists newest first and updates', async () => {
    const a = await newProject('a');
    const b = await newProject('b', 'fixed-id');
    expect(b.id).toBe('fixed-id');
    expect(a.id).toMatch(/^[0-9a-f-]{36}$/);
    await updateProject(db, { ...a, createdAt: b.createdAt + 1000, name: 'renamed' });
    expect((await listProjects(db)).map((p) => p.name)).toEqual(['renamed', 'b']);
    expect((await getProject(db, a.id)).name).toBe('renamed');
  });

  it('names missing and duplicate projects', async () => {
    await newProject('x', 'dup');
    expect((await errorOf(newProject('y', 'dup'))).name).toBe('InvalidInputError');
    expect((await getProject(db, 'dup')).name).toBe('x');
    expect((await errorOf(getProject(db, 'nope'))).name).toBe('NotFoundError');
    const ghost: Project = { ...(await getProject(db, 'dup')), id: 'ghost' };
    expect((await errorOf(updateProject(db, ghost))).name).toBe('NotFoundError');
  });

  it('deletes a project with everything stored for it, and nothing of other projects', async () => {
    const doomed = await newProject('doomed');
    const kept = await newProject('kept');
    const put = await putSamples(db, [sample(doomed.id, 'a.png'), sample(doomed.id, 'b.png'), sample(kept.id, 'c.png')]);
    await createVersion(db, doomed.id, { recipe: null, note: '' });
    const keptVersion = await createVersion(db, kept.id, { recipe: null, note: '' });
    const importRecord = {
      id: 'imp',
      projectId: doomed.id,
      status: 'decoding' as const,
      createdAt: 0,
      updatedAt: 0,
      totalFiles: 1,
      staged: 1,
      decoded: 0,
      skippedExisting: 0,
      errors: [],
      csvRowsApplied: 0,
      versionId: null,
    };
    await db.put('imports', importRecord);
    await db.put('imports', { ...importRecord, id: 'imp-kept', projectId: kept.id });
    await db.put('staged', { importId: 'imp', key: 'x.png', bytes: new ArrayBuffer(3), label: null, split: 'train' });
    await db.put('staged', { importId: 'imp-kept', key: 'x.png', bytes: new ArrayBuffer(3), label: null, split: 'train' });
    const run = {
      id: 'run',
      projectId: doomed.id,
      kind: 'label-session' as const,
      datasetVersionId: null,
      seed: 1,
      backend: 'cpu',
      config: {},
      status: 'done' as const,
      createdAt: 0,
      finishedAt: null,
      result: { rounds: [], open: null },
    };
    await db.put('runs', run);
    await db.put('models', {
      id: 'model',
      projectId: doomed.id,
      runId: 'run',
      name: 'm',
      createdAt: 0,
      topology: null,
      weightSpecs: [],
      weightData: new ArrayBuffer(4),
      meta: {
        checkpointOf: 'run',
        epoch: 0,
        spec: { kind: 'lenet', input: INPUT, numClasses: 2, seed: 1 },
        optimizer: { kind: 'sgd', stepCount: 0, slots: [] },
        rng: { seed: 1, shuffleStream: '' },
        history: [],
      },
    });

    await deleteProject(db, doomed.id);

    expect((await listProjects(db)).map((p) => p.id)).toEqual([kept.id]);
    expect(await db.count('samples')).toBe(1);
    expect(await db.count('pixels')).toBe(1);
    expect(await db.get('pixels', put.ids[2] as number)).toBeDefined();
    expect((await db.getAll('versions')).map((v) => v.id)).toEqual([keptVersion.id]);
    expect((await db.getAll('imports')).map((r) => r.id)).toEqual(['imp-kept']);
    expect((await db.getAllKeys('staged')).map(([importId]) => importId)).toEqual(['imp-kept']);
    expect(await db.count('runs')).toBe(0);
    expect(await db.count('models')).toBe(0);
  });
});

describe('samples', () => {
  it('skips existing keys, so putting twice never duplicates', async () => {
    const p = await newProject('p');
    const first = await putSamples(db, [
      sample(p.id, 'train/cat/1.png', { label: 'cat', attributes: { light: 'day' }, fill: 1 }),
      sample(p.id, 'train/dog/2.png', { label: 'dog', fill: 2 }),
    ]);
    expect(first).toMatchObject({ inserted: 2, skippedExisting: 0 });
    expect(first.ids[1]).toBeGreaterThan(first.ids[0] as number);

    const second = await putSamples(db, [
      sample(p.id, 'train/dog/2.png', { label: 'dog', fill: 99 }),
      sample(p.id, 'train/bird/3.png', { label: 'bird', attributes: { camera: 'a' }, fill: 3 }),
      sample(p.id, 'train/bird/3.png', { label: 'bird', fill: 98 }),
    ]);
    expect(second.inserted).toBe(1);
    expect(second.skippedExisting).toBe(2);
    expect(second.ids[0]).toBe(first.ids[1]);
    expect(second.ids[2]).toBe(second.ids[1]);
    expect(await countSamples(db, p.id)).toBe(3);
    expect(await keysOfProject(db, p.id)).toEqual(new Set(['train/cat/1.png', 'train/dog/2.png', 'train/bird/3.png']));

    const stored = await getProject(db, p.id);
    expect(stored.classes).toEqual(['cat', 'dog', 'bird']);
    expect(stored.attributes).toEqual(['light', 'camera']);

    // The skipped duplicate did not overwrite the stored pixels.
    const ids = [second.ids[1] as number, first.ids[1] as number];
    expect((await getPixels(db, ids)).map((px) => px[0])).toEqual([3, 2]);
    const full = await getSamples(db, ids);
    expect(full.map((s) => [s.key, s.pixelsHwc[0]])).toEqual([
      ['train/bird/3.png', 3],
      ['train/dog/2.png', 2],
    ]);
    const meta = await getSampleMeta(db, first.ids[0] as number);
    expect(meta).toMatchObject({ key: 'train/cat/1.png', label: 'cat', attributes: { light: 'day' } });
    expect('pixelsHwc' in meta).toBe(false);
  });

  it('writes nothing when one sample of the batch is invalid', async () => {
    const p = await newProject('p');
    const bad = { ...sample(p.id, 'bad.png'), pixelsHwc: new Uint8Array(5) };
    const err = await errorOf(putSamples(db, [sample(p.id, 'good.png', { label: 'cat' }), bad]));
    expect(err.name).toBe('InvalidInputError');
    expect(err.message).toContain('2x2x1 = 4');
    expect(await countSamples(db, p.id)).toBe(0);
    expect(await db.count('pixels')).toBe(0);
    expect((await getProject(db, p.id)).classes).toEqual([]);
    expect((await errorOf(putSamples(db, [sample('no-such-project', 'a.png')]))).name).toBe('NotFoundError');
  });

  it('stores a pixel view without the rest of its buffer', async () => {
    const p = await newProject('p');
    const big = new Uint8Array(1000).map((_, i) => i % 251);
    const s = { ...sample(p.id, 'a.png'), pixelsHwc: big.subarray(10, 14) };
    const { ids } = await putSamples(db, [s]);
    const [px] = await getPixels(db, ids);
    expect(Array.from(px as Uint8Array)).toEqual([10, 11, 12, 13]);
    expect((px as Uint8Array).buffer.byteLength).toBe(4);
  });

  it('numbers each project\'s samples 1, 2, 3… in the order stored, and never gives a number twice', async () => {
    const a = await newProject('a');
    const b = await newProject('b');
    const first = await putSamples(db, [sample(a.id, 'a/1.png'), sample(a.id, 'a/2.png'), sample(a.id, 'a/3.png')]);
    // Interleaved with another project's batch, and a batch holding both projects.
    const second = await putSamples(db, [sample(b.id, 'b/1.png'), sample(b.id, 'b/2.png')]);
    const mixed = await putSamples(db, [sample(a.id, 'a/4.png'), sample(b.id, 'b/3.png'), sample(a.id, 'a/1.png')]);
    expect(await sampleNumbers(db, first.ids)).toEqual([1, 2, 3]);
    expect(await sampleNumbers(db, second.ids)).toEqual([1, 2]);
    // The repeated key keeps its sample and its number.
    expect(await sampleNumbers(db, mixed.ids)).toEqual([4, 3, 1]);
    expect((await getSampleMeta(db, mixed.ids[0] as number)).number).toBe(4);
    expect((await getSamples(db, [second.ids[1] as number]))[0]?.number).toBe(2);

    // A stale copy of the project, written back, does not rewind its counter.
    await updateProject(db, { ...a, name: 'renamed' });
    expect(await getProject(db, a.id)).toMatchObject({ name: 'renamed', nextSampleNumber: 5 });

    // Deleting samples renumbers none, and their numbers are not given again.
    await removeSamples(db, a.id, [first.ids[1] as number, mixed.ids[0] as number], { note: 'test' });
    expect(await sampleNumbers(db, [...first.ids, mixed.ids[0] as number])).toEqual([1, null, 3, null]);
    const later = await putSamples(db, [sample(a.id, 'a/5.png')]);
    expect(await sampleNumbers(db, later.ids)).toEqual([5]);

    expect(await sampleIdOfNumber(db, a.id, 3)).toBe(first.ids[2]);
    expect(await sampleIdOfNumber(db, b.id, 3)).toBe(mixed.ids[1]);
    expect(await sampleIdOfNumber(db, a.id, 2)).toBeNull();
    expect(await sampleIdOfNumber(db, a.id, 1.5)).toBeNull();

    // A new project starts at 1 again.
    const c = await newProject('c');
    expect(c.nextSampleNumber).toBe(1);
    expect(await sampleNumbers(db, (await putSamples(db, [sample(c.id, 'c/1.png')])).ids)).toEqual([1]);
  });

  it('names missing samples', async () => {
    expect((await errorOf(getSampleMeta(db, 12345))).name).toBe('NotFoundError');
    expect((await errorOf(getSamples(db, [12345]))).name).toBe('NotFoundError');
    expect((await errorOf(getPixels(db, [12345]))).name).toBe('NotFoundError');
  });
});

describe('versions', () => {
  async function fixture(): Promise<{ project: Project; ids: number[] }> {
    const project = await newProject('v');
    const { ids } = await putSamples(db, [
      sample(project.id, 'train/cat/1.png', { label: 'cat', split: 'train', attributes: { light: 'night', camera: 'b' } }),
      sample(project.id, 'train/dog/2.png', { label: 'dog', split: 'train', attributes: { light: 'day' } }),
      sample(project.id, 'test/cat/3.png', { label: 'cat', split: 'test', attributes: { light: 'day' } }),
      sample(project.id, 'x/4.png', { label: null, split: 'unassigned' }),
      sample(project.id, 'aug/5.png', {
        label: 'dog',
        split: 'train',
        attributes: { light: 'night' },
        provenance: { kind: 'augmented', parentId: 1, recipe: { tool: 'flip', params: {}, seed: 3 } },
      }),
    ]);
    return { project, ids };
  }

  it('freezes the samples into columns, numbered per project', async () => {
    const { project, ids } = await fixture();
    const v1 = await createVersion(db, project.id, { recipe: { tool: 'import', params: {}, seed: 0 }, note: 'first' });
    expect(v1).toMatchObject({ number: 1, parentVersionId: null, classes: ['cat', 'dog'], note: 'first' });
    expect(Array.from(v1.sampleIds)).toEqual(ids);
    expect(Array.from(v1.labels)).toEqual([0, 1, 0, -1, 1]);
    expect(Array.from(v1.splits)).toEqual([0, 0, 2, 3, 0]);
    expect(Array.from(v1.provenance)).toEqual([0, 0, 0, 0, 1]);
    expect(v1.attributes.light?.values).toEqual(['day', 'night']);
    expect(Array.from(v1.attributes.light?.codes ?? [])).toEqual([1, 0, 0, -1, 1]);
    expect(Array.from(v1.attributes.camera?.codes ?? [])).toEqual([0, -1, -1, -1, -1]);

    await putSamples(db, [sample(project.id, 'train/cat/6.png', { label: 'cat', split: 'train' })]);
    const v2 = await createVersion(db, project.id, { recipe: null, note: 'second' });
    expect(v2.number).toBe(2);
    expect(v2.parentVersionId).toBe(v1.id);
    expect(v2.sampleIds.length).toBe(6);
    // The first version is immutable: the new sample is not in it.
    expect((await getVersion(db, v1.id as number)).sampleIds.length).toBe(5);
    expect((await latestVersion(db, project.id))?.id).toBe(v2.id);

    const other = await newProject('other');
    expect(await latestVersion(db, other.id)).toBeNull();
    expect((await createVersion(db, other.id, { recipe: null, note: '' })).number).toBe(1);

    const listed = await listVersions(db, project.id);
    expect(listed.map((v) => v.number)).toEqual([2, 1]);
    expect('sampleIds' in (listed[0] as object)).toBe(false);
    expect((await errorOf(getVersion(db, 999))).name).toBe('NotFoundError');
  });

  it('counts and filters on the columns', async () => {
    const { project } = await fixture();
    const v = await createVersion(db, project.id, { recipe: null, note: '' });

    const all = versionCounts(v);
    expect(all.total).toBe(5);
    expect(all.byLabel).toEqual({ cat: 2, dog: 2, '': 1 });
    expect(all.bySplit).toEqual({ train: 3, val: 0, test: 1, unassigned: 1 });
    expect(all.byProvenance).toEqual({ real: 4, augmented: 1, synthetic: 0 });
    expect(all.byLabelAttribute.light).toEqual({ night: { cat: 1, dog: 1 }, day: { dog: 1, cat: 1 }, '': { '': 1 } });

    expect(Array.from(filterVersion(v, { splits: ['train'] }))).toEqual([0, 1, 4]);
    expect(Array.from(filterVersion(v, { labels: [null] }))).toEqual([3]);
    expect(Array.from(filterVersion(v, { labels: ['bird'] }))).toEqual([]);
    expect(Array.from(filterVersion(v, { attributes: { light: ['day', null] } }))).toEqual([1, 2, 3]);
    expect(Array.from(filterVersion(v, { attributes: { unknown: [null] } }))).toEqual([0, 1, 2, 3, 4]);
    expect(Array.from(filterVersion(v, { attributes: { unknown: ['x'] } }))).toEqual([]);
    expect(Array.from(filterVersion(v, { provenance: ['real'], labels: ['dog', 'cat'], splits: ['train', 'test'] }))).toEqual([
      0, 1, 2,
    ]);

    const night = versionCounts(v, { attributes: { light: ['night'] } });
    expect(night.total).toBe(2);
    expect(night.byLabel).toEqual({ cat: 1, dog: 1 });
    expect(night.byProvenance.augmented).toBe(1);
    expect(night.byLabelAttribute.camera).toEqual({ b: { cat: 1 }, '': { dog: 1 } });
  });
});

describe('settings and quota', () => {
  it('round-trips settings', async () => {
    expect(await getSetting(db, 'forcedBackend')).toBeUndefined();
    await setSetting(db, 'forcedBackend', { name: 'wasm' });
    await setSetting(db, 'forcedBackend', { name: 'cpu' });
    expect(await getSetting<{ name: string }>(db, 'forcedBackend')).toEqual({ name: 'cpu' });
  });

  it('answers null in Node, where there is no StorageManager', async () => {
    expect(await storageInfo()).toEqual({ usageBytes: null, quotaBytes: null, persisted: null });
    expect(await requestPersistence()).toBe(false);
  });

  it('turns a quota failure into StorageFullError that says how to free space', async () => {
    const quota = new DOMException('quota', 'QuotaExceededError');
    const mapped = mapStorageError(quota) as Error;
    expect(mapped.name).toBe('StorageFullError');
    expect(mapped.message).toMatch(/Delete projects/);
    const other = new Error('boom');
    expect(mapStorageError(other)).toBe(other);

    // Chromium's shape: requests succeed, the commit fails and the transaction carries the quota error.
    let aborted = false;
    const failingCommit = {
      done: Promise.reject(quota),
      error: quota,
      abort: () => {
        aborted = true;
        throw new DOMException('already finished', 'InvalidStateError');
      },
    };
    const err = await errorOf(runTx(failingCommit, async () => 1));
    expect(err.name).toBe('StorageFullError');
    expect(aborted).toBe(true);
  });
});
