import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import type { PipelineSpec } from '../../src/lib/augment/pipeline';
import { previewPipeline } from '../../src/lib/augment/preview';
import type { InputSpec } from '../../src/lib/storage/records';
import { createProject } from '../../src/lib/storage/projects';
import { putSamples } from '../../src/lib/storage/samples';
import { openHearthDb } from '../../src/lib/storage/schema';

const INPUT: InputSpec = { width: 3, height: 2, channels: 1, resize: 'stretch' };

async function setup() {
  const db = await openHearthDb(`preview-${crypto.randomUUID()}`);
  const project = await createProject(db, { name: 'p', input: INPUT, classes: ['a'], attributes: [], source: 'import' });
  const { ids } = await putSamples(db, [
    {
      projectId: project.id,
      key: 'a/1.png',
      fileName: '1.png',
      label: 'a',
      split: 'train',
      attributes: {},
      provenance: { kind: 'real' },
      original: null,
      pixelsHwc: new Uint8Array([1, 2, 3, 4, 5, 6]),
      createdAt: 0,
    },
  ]);
  return { db, projectId: project.id, id: ids[0] ?? -1 };
}

describe('pipeline previews', () => {
  const flip: PipelineSpec = { version: 1, steps: [{ transform: 'flip', params: { mode: 'horizontal' } }] };

  it('shows one sample under many seeds with the steps each seed drew', async () => {
    const { db, projectId, id } = await setup();
    const out = await previewPipeline(db, { projectId, sampleIds: [id], pipeline: flip, seeds: [1, 2, 3] });
    expect(out.map((p) => p.seed)).toEqual([1, 2, 3]);
    for (const p of out) {
      expect(Array.from(p.image.data)).toEqual([3, 2, 1, 6, 5, 4]);
      expect(p.steps).toEqual([{ transform: 'flip', params: { mode: 'horizontal' } }]);
    }
  });
});
