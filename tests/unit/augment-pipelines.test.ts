/**
 * A project's named pipelines (augment/pipelines.ts): saved, renamed, listed, deleted,
 * names checked, specs validated and hashed, and the single pipeline an earlier version
 * kept moved into the list without loss.
 */
import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import type { PipelineSpec } from '../../src/lib/augment/pipeline';
import { deletePipeline, getSavedPipeline, listPipelines, pipelineHash, savePipeline } from '../../src/lib/augment/pipelines';
import { contentHash } from '../../src/lib/data/canonical-json';
import { createProject } from '../../src/lib/storage/projects';
import { openHearthDb } from '../../src/lib/storage/schema';
import { getSetting, setSetting } from '../../src/lib/storage/settings';

const flip: PipelineSpec = { version: 1, steps: [{ transform: 'flip', params: { mode: 'horizontal' } }] };
const rotate: PipelineSpec = { version: 1, steps: [{ transform: 'rotate', p: 0.5, params: { angleRange: [-10, 10] } }] };

async function setup() {
  const db = await openHearthDb(`pipelines-${crypto.randomUUID()}`);
  const project = await createProject(db, { name: 'p', input: { width: 4, height: 4, channels: 1, resize: 'stretch' }, classes: ['a', 'b'], attributes: [], source: 'import' });
  return { db, projectId: project.id };
}

describe('saved pipelines', () => {
  it('saves, lists by name, overwrites and deletes', async () => {
    const { db, projectId } = await setup();
    expect(await listPipelines(db, projectId)).toEqual([]);
    const b = await savePipeline(db, projectId, { name: '  Rotate a little ', spec: rotate });
    const a = await savePipeline(db, projectId, { name: 'Flip', spec: flip });
    expect(b.name).toBe('Rotate a little');
    expect(b.hash).toBe(await contentHash(b.spec));
    expect((await listPipelines(db, projectId)).map((p) => p.name)).toEqual(['Flip', 'Rotate a little']);

    const renamed = await savePipeline(db, projectId, { id: a.id, name: 'Flip both', spec: rotate });
    expect(renamed).toMatchObject({ id: a.id, name: 'Flip both', createdAt: a.createdAt, hash: b.hash });
    expect(await getSavedPipeline(db, projectId, a.id)).toEqual(renamed);
    expect(await listPipelines(db, projectId)).toHaveLength(2);

    await deletePipeline(db, projectId, b.id);
    expect((await listPipelines(db, projectId)).map((p) => p.id)).toEqual([a.id]);
    await expect(getSavedPipeline(db, projectId, b.id)).rejects.toMatchObject({ name: 'NotFoundError' });
    await expect(deletePipeline(db, projectId, b.id)).rejects.toMatchObject({ name: 'NotFoundError' });
  });

  it('hashes by content, whatever order the keys came in', async () => {
    const reordered = { steps: [{ params: { mode: 'horizontal' }, transform: 'flip' }], version: 1 } as unknown as PipelineSpec;
    expect(await pipelineHash(reordered)).toBe(await pipelineHash(flip));
    expect(await pipelineHash(rotate)).not.toBe(await pipelineHash(flip));
  });

  it('refuses bad names and specs, and keeps what was stored', async () => {
    const { db, projectId } = await setup();
    const kept = await savePipeline(db, projectId, { name: 'Flip', spec: flip });
    await expect(savePipeline(db, projectId, { name: 'FLIP ', spec: rotate })).rejects.toMatchObject({ name: 'InvalidInputError', message: expect.stringMatching(/already has a pipeline named "FLIP"/) });
    await expect(savePipeline(db, projectId, { name: '   ', spec: rotate })).rejects.toMatchObject({ name: 'InvalidInputError' });
    await expect(savePipeline(db, projectId, { name: 'x'.repeat(61), spec: rotate })).rejects.toMatchObject({ message: expect.stringMatching(/at most 60 characters/) });
    await expect(savePipeline(db, projectId, { name: 'Bad', spec: { version: 1, steps: [{ transform: 'nope' }] } })).rejects.toMatchObject({ name: 'InvalidInputError' });
    await expect(savePipeline(db, projectId, { id: 'gone', name: 'Gone', spec: flip })).rejects.toMatchObject({ name: 'NotFoundError' });
    await expect(savePipeline(db, 'no-such-project', { name: 'X', spec: flip })).rejects.toMatchObject({ name: 'NotFoundError' });
    // Renaming a pipeline to its own name in another case is not a clash with itself.
    expect((await savePipeline(db, projectId, { id: kept.id, name: 'flip', spec: flip })).name).toBe('flip');
    expect(await listPipelines(db, projectId)).toHaveLength(1);
  });

  it("moves an earlier version's single pipeline into the list, once", async () => {
    const { db, projectId } = await setup();
    await setSetting(db, `augment-pipeline:${projectId}`, flip);
    const [moved, ...rest] = await listPipelines(db, projectId);
    expect(rest).toEqual([]);
    expect(moved).toMatchObject({ name: 'Pipeline 1', spec: flip, projectId, hash: await pipelineHash(flip) });
    expect(await getSetting(db, `augment-pipeline:${projectId}`)).toBeUndefined();
    // Read again: the same pipeline, not a second copy.
    expect(await listPipelines(db, projectId)).toEqual([moved]);
  });
});
