/**
 * The upgrades: a database made with the version-1 schema and holding run and model
 * records exactly as the version-1 code wrote them (one of each kind) opens with
 * openHearthDb and reads back, typed, through the repositories (1 → 2); samples stored
 * before version 3 get numbers per project in id order (2 → 3).
 */
import 'fake-indexeddb/auto';
import { openDB } from 'idb';
import { describe, expect, it } from 'vitest';
import { normalizeRunV2 } from '../../src/lib/storage/migrations';
import { getModel, latestCheckpointId, listModelRecords } from '../../src/lib/storage/models';
import { getProject } from '../../src/lib/storage/projects';
import { getRun, getRunOfKind, listRunsOfKind } from '../../src/lib/storage/runs';
import { getSampleMeta, putSamples, sampleIdOfNumber, sampleNumbers } from '../../src/lib/storage/samples';
import { DB_VERSION, openHearthDb } from '../../src/lib/storage/schema';
import type { RunRecord } from '../../src/lib/storage/records';

const INPUT = { width: 28, height: 28, channels: 1, resize: 'stretch' };
const SPEC = { kind: 'lenet', input: INPUT, numClasses: 2, seed: 7 };
const TRAIN = { epochs: 2, batchSize: 32, optimizer: { kind: 'sgd', lr: 0.01, momentum: 0.9, nesterov: true }, weightDecay: 5e-4, schedule: { kind: 'constant' }, seed: 7 };
const EPOCH = { kind: 'epoch', epoch: 1, trainLoss: 0.5, trainAccuracy: 0.8, valLoss: null, valAccuracy: null, lr: 0.01, seconds: 1.5 };
const METRIC = { value: 0.75 };
const SLICE = { sliceId: 's1', name: 'dark', n: 4, correct: 3, accuracy: METRIC, minAccuracy: 0.5, status: 'pass', unlabeled: 0, missingStats: 0 };

/**
 * The version-1 schema, as schema.ts created it before DB_VERSION 2. Version 2 changed
 * records only, not stores or indexes: `version` 2 makes a version-2 database.
 */
async function createVersion1(
  name: string,
  fill: (put: (store: string, value: unknown) => Promise<unknown>) => Promise<void>,
  version: 1 | 2 = 1,
): Promise<void> {
  const db = await openDB(name, version, {
    upgrade(v1) {
      v1.createObjectStore('projects', { keyPath: 'id' });
      const samples = v1.createObjectStore('samples', { keyPath: 'id', autoIncrement: true });
      samples.createIndex('by-project', 'projectId');
      samples.createIndex('by-project-key', ['projectId', 'key'], { unique: true });
      samples.createIndex('by-project-file', ['projectId', 'fileName']);
      v1.createObjectStore('pixels', { keyPath: 'id' });
      const versions = v1.createObjectStore('versions', { keyPath: 'id', autoIncrement: true });
      versions.createIndex('by-project-number', ['projectId', 'number'], { unique: true });
      const imports = v1.createObjectStore('imports', { keyPath: 'id' });
      imports.createIndex('by-project', 'projectId');
      const staged = v1.createObjectStore('staged', { keyPath: ['importId', 'key'] });
      staged.createIndex('by-import', 'importId');
      const runs = v1.createObjectStore('runs', { keyPath: 'id' });
      runs.createIndex('by-project', 'projectId');
      const models = v1.createObjectStore('models', { keyPath: 'id' });
      models.createIndex('by-project', 'projectId');
      v1.createObjectStore('settings', { keyPath: 'key' });
    },
  });
  await fill((store, value) => db.put(store, value));
  db.close();
}

/** Base fields of a version-1 run record. */
const base = (id: string, kind: string) => ({ id, projectId: 'p', kind, datasetVersionId: 1, seed: 7, backend: 'cpu', createdAt: 10, finishedAt: 20 });

describe('schema version 2', () => {
  it('opens a version-1 database and reads each kind of run and model typed', async () => {
    const name = `migration-test-${crypto.randomUUID()}`;
    await createVersion1(name, async (put) => {
      // train/train.ts trainModel, finished.
      await put('runs', { ...base('run-1', 'train'), config: { train: TRAIN, model: SPEC }, status: 'done', result: { modelId: 'run-1/model', history: [EPOCH], final: EPOCH, steps: 8 } });
      // evaluate/evaluations.ts evaluateStored, then runSlicesFor.
      await put('runs', {
        ...base('eval-1', 'evaluate'),
        config: { modelId: 'run-1/model', split: 'val' },
        status: 'done',
        result: {
          evaluationId: 'eval-1',
          modelId: 'run-1/model',
          versionId: 1,
          split: 'val',
          accuracy: METRIC,
          perClass: [{ cls: 0, precision: METRIC, recall: METRIC, f1: METRIC, support: 2 }],
          confusion: [[1, 0], [1, 2]],
          classes: ['a', 'b'],
          predictions: { ids: new Uint32Array([1, 2]), predicted: new Int16Array([0, 1]), trueLabels: new Int16Array([0, 1]) },
          sliceResults: [SLICE],
        },
      });
      // export/export-job.ts runExport (report abridged to the fields read here).
      await put('runs', {
        ...base('exp-1', 'export'),
        config: { exportId: 'exp-1', modelId: 'run-1/model', calibration: { method: 'minmax', samples: 300, seed: 7 }, maxEvalPerSplit: null, boardId: 'nano33', favourableClass: 0 },
        status: 'done',
        result: {
          report: { exportId: 'exp-1', modelId: 'run-1/model', modelName: 'lenet', blocked: [], override: null, files: [{ name: 'model.tflite', bytes: 3, sha256: 'ab', description: 'int8 model' }] },
          files: { 'model.tflite': new Uint8Array([1, 2, 3]) },
        },
      });
      // select/session.ts saveSession.
      await put('runs', {
        ...base('label-session:p', 'label-session'),
        datasetVersionId: null,
        config: {},
        status: 'running',
        finishedAt: null,
        result: { rounds: [{ round: 1, method: 'random', seed: 3, budget: 2, picks: [5, 6], labels: { 5: 1 }, skipped: [6], selectedWith: 'run-1/model', retrainedModelId: null, labelCount: 9, accuracy: null, perClassAccuracy: [], createdAt: 30 }], open: null },
      });
      // train/checkpoint.ts saveModel and saveCheckpoint.
      const artifacts = { projectId: 'p', runId: 'run-1', createdAt: 20, topology: { layers: [] }, weightSpecs: [], weightData: new ArrayBuffer(8) };
      await put('models', { ...artifacts, id: 'run-1/model', name: 'lenet on version 1', meta: { spec: SPEC, datasetVersionId: 1, classes: ['a', 'b'], config: TRAIN, backend: 'cpu', history: [EPOCH] } });
      await put('models', {
        ...artifacts,
        id: 'run-2/checkpoint-000001',
        runId: 'run-2',
        name: 'Checkpoint after epoch 1',
        meta: { checkpointOf: 'run-2', epoch: 1, spec: SPEC, optimizer: { kind: 'sgd', stepCount: 4, slots: [] }, rng: { seed: 7, shuffleStream: 's' }, history: [EPOCH] },
      });
    });

    const db = await openHearthDb(name);
    try {
      expect(db.version).toBe(DB_VERSION);
      const train = await getRunOfKind(db, 'run-1', 'train');
      expect(train?.config.model.kind).toBe('lenet');
      expect(train?.config.train.optimizer.kind).toBe('sgd');
      expect(train?.result?.modelId).toBe('run-1/model');
      expect(train?.result?.history?.map((e) => e.epoch)).toEqual([1]);
      expect(train?.result?.final?.trainAccuracy).toBe(0.8);
      expect(await getRunOfKind(db, 'run-1', 'export')).toBeUndefined();

      const evaluation = await getRunOfKind(db, 'eval-1', 'evaluate');
      expect(evaluation?.config.split).toBe('val');
      expect(evaluation?.result.accuracy.value).toBe(0.75);
      expect(evaluation?.result.sliceResults?.[0]?.status).toBe('pass');
      expect(Array.from(evaluation?.result.predictions.ids ?? [])).toEqual([1, 2]);

      const exported = await getRunOfKind(db, 'exp-1', 'export');
      expect(exported?.config.calibration.method).toBe('minmax');
      expect(exported?.result.report.files[0]?.name).toBe('model.tflite');
      expect(exported?.result.report.override).toBeNull();
      expect(Array.from(exported?.result.files['model.tflite'] ?? [])).toEqual([1, 2, 3]);

      const session = await getRunOfKind(db, 'label-session:p', 'label-session');
      expect(session?.result.open).toBeNull();
      expect(session?.result.rounds[0]?.labels[5]).toBe(1);
      expect(session?.result.rounds[0]?.method).toBe('random');

      expect((await listRunsOfKind(db, 'p', 'evaluate')).map((r) => r.id)).toEqual(['eval-1']);
      expect((await getRun(db, 'exp-1'))?.kind).toBe('export');

      const model = await getModel(db, 'run-1/model');
      expect(model?.meta.checkpointOf).toBeUndefined();
      if (model && model.meta.checkpointOf === undefined) {
        expect(model.meta.classes).toEqual(['a', 'b']);
        expect(model.meta.spec.seed).toBe(7);
        expect(model.meta.config.batchSize).toBe(32);
      }
      expect(new Uint8Array(model?.weightData ?? new ArrayBuffer(0)).length).toBe(8);
      const checkpoint = await getModel(db, 'run-2/checkpoint-000001');
      if (checkpoint?.meta.checkpointOf === undefined) throw new Error('the checkpoint lost its checkpointOf');
      expect(checkpoint.meta.optimizer.stepCount).toBe(4);
      expect(checkpoint.meta.epoch).toBe(1);
      expect(await latestCheckpointId(db, 'run-2')).toBe('run-2/checkpoint-000001');
      expect((await listModelRecords(db, 'p')).length).toBe(2);
    } finally {
      db.close();
    }
  });

  it('fills in a label session result that version 1 left null or partial', async () => {
    const name = `migration-test-${crypto.randomUUID()}`;
    await createVersion1(name, async (put) => {
      await put('runs', { ...base('label-session:a', 'label-session'), config: {}, status: 'running', result: null });
      await put('runs', { ...base('label-session:b', 'label-session'), projectId: 'b', config: {}, status: 'running', result: { rounds: [] } });
    });
    const db = await openHearthDb(name);
    try {
      expect((await getRunOfKind(db, 'label-session:a', 'label-session'))?.result).toEqual({ rounds: [], open: null });
      expect((await getRunOfKind(db, 'label-session:b', 'label-session'))?.result).toEqual({ rounds: [], open: null });
    } finally {
      db.close();
    }
  });

  it('leaves records already in the version-2 shape as they are', () => {
    const run: RunRecord = { ...base('label-session:c', 'label-session'), kind: 'label-session', config: {}, status: 'running', result: { rounds: [], open: null } };
    expect(normalizeRunV2(run)).toBe(run);
  });
});

describe('schema version 3', () => {
  /** A project as version 2 wrote it: no sample counter. */
  const project = (id: string) => ({ id, name: id, input: { width: 1, height: 1, channels: 1, resize: 'stretch' }, classes: ['a'], attributes: [], createdAt: 1, source: 'import' });
  /** A sample's metadata and pixels as version 2 wrote them: no number. */
  const sample = (id: number, projectId: string) => [
    { id, projectId, key: `k${id}`, fileName: `k${id}.png`, label: 'a', split: 'train', attributes: {}, provenance: { kind: 'real' }, createdAt: 1 },
    { id, pixelsHwc: new Uint8Array([id]), original: null },
  ] as const;

  for (const version of [1, 2] as const) {
    it(`numbers the samples of a version-${version} database per project in id order`, async () => {
      const name = `migration-test-${crypto.randomUUID()}`;
      await createVersion1(
        name,
        async (put) => {
          for (const p of ['p', 'q', 'empty']) await put('projects', project(p));
          // Ids global and interleaved across projects (#2176 in a 14-sample project); 3 and 6 deleted.
          for (const [id, pid] of [[1, 'p'], [2, 'q'], [4, 'p'], [5, 'p'], [7, 'q'], [2176, 'p']] as const) {
            const [meta, pixels] = sample(id, pid);
            await put('samples', meta);
            await put('pixels', pixels);
          }
        },
        version,
      );
      const db = await openHearthDb(name);
      try {
        expect(db.version).toBe(DB_VERSION);
        expect(await sampleNumbers(db, [1, 4, 5, 2176])).toEqual([1, 2, 3, 4]);
        expect(await sampleNumbers(db, [2, 7, 3])).toEqual([1, 2, null]);
        expect(await getSampleMeta(db, 2176)).toMatchObject({ number: 4, key: 'k2176', label: 'a' });
        expect(await sampleIdOfNumber(db, 'p', 4)).toBe(2176);
        expect(await sampleIdOfNumber(db, 'q', 2)).toBe(7);
        expect((await getProject(db, 'p')).nextSampleNumber).toBe(5);
        expect((await getProject(db, 'q')).nextSampleNumber).toBe(3);
        expect((await getProject(db, 'empty')).nextSampleNumber).toBe(1);
        // New samples continue each project's numbers.
        const sampleOf = (projectId: string, key: string) => ({
          projectId, key, fileName: key, label: null, split: 'train' as const, attributes: {}, provenance: { kind: 'real' as const }, original: null, pixelsHwc: new Uint8Array(1), createdAt: 2,
        });
        const added = await putSamples(db, [sampleOf('p', 'new-p'), sampleOf('q', 'new-q'), sampleOf('empty', 'new-e')]);
        expect(await sampleNumbers(db, added.ids)).toEqual([5, 3, 1]);
      } finally {
        db.close();
      }
    });
  }
});
