/**
 * The labeling loop on stored data (fake-indexeddb, wasm): pick from the unlabeled train
 * pool with a trained LeNet, save labels and skips, retrain with a warm start into a new
 * dataset version, and keep every round.
 */
import 'fake-indexeddb/auto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../src/lib/compute/backends';
import { buildSampleDataset, parseMnistFiles } from '../../src/lib/data/samples/catalog';
import { getLabelSession, retrainWithLabels, saveRoundLabels, selectForLabeling, selfSupervisedStart } from '../../src/lib/select/session';
import { createProject } from '../../src/lib/storage/projects';
import { putSamples, type NewSample } from '../../src/lib/storage/samples';
import { openHearthDb, type HearthDb } from '../../src/lib/storage/schema';
import { createVersion, latestVersion } from '../../src/lib/storage/versions';
import { startTraining } from '../../src/lib/train/runs';
import { readMnistFiles } from '../helpers/mnist';

const DIGITS = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];
let db: HearthDb;
let projectId: string;
/** True labels of the pool, by sample id: the simulated user. */
const truth = new Map<number, number>();

beforeAll(async () => {
  await useBackend('wasm');
  db = await openHearthDb('select-session-test');
  const files = readMnistFiles();
  const built = buildSampleDataset('mnist', parseMnistFiles(files), { maxPerSplit: 800 });
  const project = await createProject(db, { name: 'al', input: { width: 28, height: 28, channels: 1, resize: 'stretch' }, classes: DIGITS, attributes: [], source: 'test' });
  projectId = project.id;
  // 200 labelled train images, 600 unlabeled (the pool), 200 val.
  const taken = { train: 0, val: 0, test: 0 };
  const samples: (NewSample & { trueLabel: number })[] = [];
  for (const s of built.samples) {
    if (s.split === 'test' || (s.split === 'val' && taken.val >= 200)) continue;
    taken[s.split]++;
    const unlabeled = s.split === 'train' && taken.train > 200;
    samples.push({ projectId, key: s.key, fileName: s.fileName, label: unlabeled ? null : s.label, split: s.split, attributes: {}, provenance: { kind: 'real' as const }, original: null, pixelsHwc: s.pixelsHwc, createdAt: 0, trueLabel: Number(s.label) });
  }
  const stored = await putSamples(db, samples.map(({ trueLabel: _trueLabel, ...rest }) => rest));
  stored.ids.forEach((id, i) => truth.set(id, samples[i]?.trueLabel ?? -1));
  const version = await createVersion(db, projectId, { recipe: null, note: 'start' });
  await startTraining(db, {
    runId: 'first',
    projectId,
    versionId: version.id as number,
    model: { kind: 'lenet' },
    config: { epochs: 2, batchSize: 16, optimizer: { kind: 'sgd', lr: 0.05, momentum: 0.9, nesterov: true }, weightDecay: 5e-4, schedule: { kind: 'constant' }, seed: 7 },
  });
}, 180_000);

afterAll(() => db.close());

describe('label session', () => {
  it('picks, saves labels and skips, retrains into a new version, and keeps the round', async () => {
    const start = await getLabelSession(db, projectId);
    expect(start.unlabeledPool).toBe(600);
    expect(start.modelId).not.toBeNull();
    expect(start.open).toBeNull();

    const picked = await selectForLabeling(db, { projectId, method: 'ours', budget: 20, seed: 3 });
    const open = picked.open;
    if (!open) throw new Error('no open round');
    expect(open.picks).toHaveLength(20);
    expect(new Set(open.picks).size).toBe(20);
    // Picks come from the unlabeled pool only.
    const before = await latestVersion(db, projectId);
    const labelOf = new Map(Array.from(before?.sampleIds ?? [], (id, at) => [id, before?.labels[at] ?? 0]));
    for (const id of open.picks) expect(labelOf.get(id)).toBe(-1);

    // Label 15 with the truth, skip 5; a reload would find them.
    const labels = Object.fromEntries(open.picks.slice(0, 15).map((id) => [id, truth.get(id) as number]));
    await saveRoundLabels(db, projectId, labels, open.picks.slice(15));
    const saved = await getLabelSession(db, projectId);
    expect(Object.keys(saved.open?.labels ?? {})).toHaveLength(15);
    expect(saved.open?.skipped).toHaveLength(5);
    await expect(saveRoundLabels(db, projectId, { 999999: 1 }, [])).rejects.toThrow(/not one of this round's picks/);

    const after = await retrainWithLabels(db, { projectId, epochs: 1 });
    expect(after.open).toBeNull();
    expect(after.rounds).toHaveLength(1);
    const round = after.rounds[0];
    expect(round?.method).toBe('ours');
    expect(round?.seed).toBe(3);
    expect(round?.labelCount).toBe(215);
    expect(round?.accuracy).toBeGreaterThan(0.3);
    expect(round?.perClassAccuracy).toHaveLength(10);
    expect(round?.retrainedModelId).not.toBeNull();
    expect(after.unlabeledPool).toBe(585);
    expect(after.modelId).toBe(round?.retrainedModelId);
    const version = await latestVersion(db, projectId);
    expect(version?.note).toMatch(/round 1: 15 new labels/);
  }, 240_000);

  it('the self-supervised start trains a new model that picks are then made with', async () => {
    const before = await getLabelSession(db, projectId);
    const after = await selfSupervisedStart(db, { projectId, rotationEpochs: 1, epochs: 1, seed: 5 });
    expect(after.modelId).not.toBeNull();
    expect(after.modelId).not.toBe(before.modelId);
    const picked = await selectForLabeling(db, { projectId, method: 'rz', budget: 5, seed: 1 });
    expect(picked.open?.selectedWith).toBe(after.modelId);
    expect(picked.open?.picks).toHaveLength(5);
  }, 240_000);

  it('refuses to select without a budget and to retrain without labels', async () => {
    await expect(selectForLabeling(db, { projectId, method: 'random', budget: 0, seed: 1 })).rejects.toThrow(/budget/);
    await expect(retrainWithLabels(db, { projectId, epochs: 1 })).rejects.toThrow(/No image of this round has a label yet/);
    await expect(selfSupervisedStart(db, { projectId, rotationEpochs: 0, epochs: 1, seed: 1 })).rejects.toThrow(/at least one epoch/);
  });
});
