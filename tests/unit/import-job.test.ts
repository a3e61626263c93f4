import 'fake-indexeddb/auto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  getImport,
  resumeImport,
  startImport,
  unfinishedImports,
  type DroppedFile,
  type ImageDecoder,
  type ImportJobRecord,
} from '../../src/lib/data/import/import-job';
import { CancelSource, type Progress } from '../../src/lib/jobs/progress';
import {
  countSamples,
  createProject,
  getPixels,
  getProject,
  getVersion,
  openHearthDb,
  putSamples,
  versionCounts,
  type HearthDb,
  type Project,
  type SampleMeta,
} from '../../src/lib/storage';
import { makePng, nodePngDecoder } from './helpers/node-decoder';

const INPUT = { width: 4, height: 4, channels: 3 as const, resize: 'stretch' as const };
const RED: [number, number, number, number] = [255, 0, 0, 255];
const BLUE: [number, number, number, number] = [0, 0, 255, 255];

let dbName: string;
let db: HearthDb;
let project: Project;
beforeEach(async () => {
  dbName = `import-test-${crypto.randomUUID()}`;
  db = await openHearthDb(dbName);
  project = await createProject(db, { name: 'pets', input: INPUT, classes: [], attributes: [], source: 'import' });
});
afterEach(() => db.close());

function file(path: string, bytes: Uint8Array<ArrayBuffer> | string): DroppedFile {
  return { path, file: new Blob([bytes]) };
}

/** A small ImageFolder: `pets/{train,test}/{cat,dog}/<n>.png`, cats red, dogs blue, 8x6 px. */
function imageFolder(perClass: number): DroppedFile[] {
  const files: DroppedFile[] = [];
  for (const split of ['train', 'test']) {
    for (const [label, colour] of [
      ['cat', RED],
      ['dog', BLUE],
    ] as const) {
      for (let i = 0; i < perClass; i++) files.push(file(`pets/${split}/${label}/${split}-${label}-${i}.png`, makePng(8, 6, colour)));
    }
  }
  return files;
}

async function allSamples(): Promise<SampleMeta[]> {
  return db.getAllFromIndex('samples', 'by-project', project.id);
}

/** Every key once, and as many pixels rows as samples. */
async function expectExactlyOnce(expectedKeys: string[]): Promise<void> {
  const keys = (await allSamples()).map((s) => s.key).sort();
  expect(keys).toEqual([...expectedKeys].sort());
  expect(await db.count('pixels')).toBe(expectedKeys.length);
}

describe('startImport', () => {
  it('imports an ImageFolder with splits, labels and a CSV of attributes, then makes a version', async () => {
    const csv = [
      'filename,label,light,camera',
      'train/cat/train-cat-0.png,,night,a', // exact relative path, label kept from the folder
      'test-dog-1.png,,day,b', // bare name that is unique
      'train-dog-0.png,cat,day,', // relabels a dog as cat; empty camera stays missing
    ].join('\n');
    const files = [...imageFolder(2), file('pets/labels.csv', csv), file('pets/.DS_Store', 'junk')];
    const seen: Progress[] = [];
    let t = 0;
    const record = await startImport(db, project.id, files, {
      decoder: nodePngDecoder,
      onProgress: (p) => seen.push(p),
      now: () => (t += 1000),
    });

    expect(record.status).toBe('done');
    expect(record).toMatchObject({ totalFiles: 9, staged: 8, decoded: 8, skippedExisting: 0, csvRowsApplied: 3, decodeFailed: 0 });
    expect(record.errors).toEqual([]);
    expect(record.ignored.map((i) => i.key)).toEqual(['.DS_Store']);
    expect(await db.count('staged')).toBe(0);
    expect(seen.some((p) => p.message === 'Staging 0 / 8 files')).toBe(true);
    expect(seen.some((p) => /^Decoding \d+ \/ 8$/.test(p.message))).toBe(true);

    const byKey = new Map((await allSamples()).map((s) => [s.key, s]));
    expect(byKey.get('train/cat/train-cat-0.png')).toMatchObject({
      label: 'cat',
      split: 'train',
      fileName: 'train-cat-0.png',
      attributes: { light: 'night', camera: 'a' },
      provenance: { kind: 'real' },
    });
    expect(byKey.get('test/dog/test-dog-1.png')).toMatchObject({ label: 'dog', split: 'test', attributes: { light: 'day', camera: 'b' } });
    expect(byKey.get('train/dog/train-dog-0.png')).toMatchObject({ label: 'cat', attributes: { light: 'day' } });

    // Pixels at the project's input size; a solid red 8x6 stays solid red at 4x4.
    const red = byKey.get('train/cat/train-cat-1.png')?.id as number;
    const [px] = await getPixels(db, [red]);
    expect(px?.length).toBe(4 * 4 * 3);
    expect(Array.from((px as Uint8Array).subarray(0, 6))).toEqual([255, 0, 0, 255, 0, 0]);
    const stored = await db.get('pixels', red);
    expect(stored?.original).toMatchObject({ mimeType: 'image/png', width: 8, height: 6 });

    const updated = await getProject(db, project.id);
    expect(updated.classes.sort()).toEqual(['cat', 'dog']);
    expect(updated.attributes).toEqual(['light', 'camera']);

    const version = await getVersion(db, record.versionId as number);
    expect(version.recipe).toEqual({ tool: 'import', params: { importId: record.id, files: 9 }, seed: 0 });
    const counts = versionCounts(version);
    expect(counts.total).toBe(8);
    expect(counts.bySplit).toMatchObject({ train: 4, test: 4 });
    expect(counts.byLabel).toEqual({ cat: 5, dog: 3 });
    expect(counts.byLabelAttribute.light).toEqual({ night: { cat: 1 }, day: { dog: 1, cat: 1 }, '': { cat: 3, dog: 2 } });
  });

  it('skips files already in the project when the same folder is dropped again', async () => {
    const first = await startImport(db, project.id, imageFolder(1), { decoder: nodePngDecoder });
    const second = await startImport(db, project.id, imageFolder(2), { decoder: nodePngDecoder });
    expect(second).toMatchObject({ status: 'done', staged: 4, decoded: 4, skippedExisting: 4 });
    expect(await countSamples(db, project.id)).toBe(8);
    expect((await getVersion(db, second.versionId as number)).parentVersionId).toBe(first.versionId);
  });

  it('turns bad files into per-file errors and imports the good ones', async () => {
    const truncated = makePng(8, 6, RED).slice(0, 40);
    const garbledData = makePng(8, 6, BLUE);
    // Keep the header and chunk lengths intact but break the compressed pixel data.
    garbledData.fill(0, 41, garbledData.length - 16);
    const files = [
      file('cat/good.png', makePng(8, 6, RED)),
      file('cat/empty.png', new Uint8Array(0)),
      file('cat/notes.png', 'this is a text file'),
      file('cat/truncated.png', truncated),
      file('dog/garbled.png', garbledData),
      file('dog/good.png', makePng(3, 3, BLUE)),
    ];
    const record = await startImport(db, project.id, files, { decoder: nodePngDecoder });
    expect(record.status).toBe('done');
    expect(record.decoded).toBe(2);
    expect(record.decodeFailed).toBe(4);
    const errors = Object.fromEntries(record.errors.map((e) => [e.key, e]));
    expect(errors['cat/empty.png']?.name).toBe('EmptyFileError');
    expect(errors['cat/notes.png']?.name).toBe('NotAnImageError');
    expect(errors['cat/truncated.png']?.name).toBe('CorruptImageError');
    expect(errors['dog/garbled.png']?.name).toBe('CorruptImageError');
    expect(errors['dog/garbled.png']?.message).toContain('"garbled.png"');
    await expectExactlyOnce(['cat/good.png', 'dog/good.png']);
    expect(await db.count('staged')).toBe(0);
  });

  it('refuses a drop with nothing to import', async () => {
    await expect(startImport(db, project.id, [file('.DS_Store', 'x')], { decoder: nodePngDecoder })).rejects.toMatchObject({
      name: 'InvalidInputError',
    });
    await expect(startImport(db, 'no-such-project', imageFolder(1), { decoder: nodePngDecoder })).rejects.toMatchObject({
      name: 'NotFoundError',
    });
  });
});

describe('resumable import', () => {
  /** Wraps the decoder to cancel the job once `n` files have been decoded. */
  function cancellingAfter(n: number, cancel: CancelSource): ImageDecoder & { calls: number } {
    const d = {
      calls: 0,
      async decode(...args: Parameters<ImageDecoder['decode']>) {
        d.calls++;
        if (d.calls === n) cancel.cancel();
        return nodePngDecoder.decode(...args);
      },
    };
    return d;
  }

  it('continues after a stop mid-decode with every file exactly once', async () => {
    const files = imageFolder(10); // 40 images: more than one decode batch
    const keys = files.map((f) => f.path.slice('pets/'.length));
    const cancel = new CancelSource();
    const decoder = cancellingAfter(37, cancel);
    const stopped = await startImport(db, project.id, files, { decoder, cancel });
    expect(stopped.status).toBe('cancelled');
    expect(stopped.decoded).toBe(37);
    expect(await countSamples(db, project.id)).toBe(37);
    expect(await db.countFromIndex('staged', 'by-import', stopped.id)).toBe(3);

    // A reload: the page's connection goes away, the job restarts from what is stored.
    db.close();
    db = await openHearthDb(dbName);
    expect((await unfinishedImports(db, project.id)).map((r) => r.id)).toEqual([stopped.id]);
    const resumed = await resumeImport(db, stopped.id, { decoder: nodePngDecoder });
    expect(resumed).toMatchObject({ status: 'done', decoded: 40, staged: 40, skippedExisting: 0 });
    await expectExactlyOnce(keys);
    expect(await db.count('staged')).toBe(0);
    expect(await unfinishedImports(db)).toEqual([]);
    expect(versionCounts(await getVersion(db, resumed.versionId as number)).total).toBe(40);
    // Resuming a finished import changes nothing.
    const again = await resumeImport(db, stopped.id, { decoder: nodePngDecoder });
    expect(again.versionId).toBe(resumed.versionId);
    expect(await db.count('versions')).toBe(1);
  });

  it('recovers when the page died between decode commits (status still decoding)', async () => {
    const files = imageFolder(3);
    const cancel = new CancelSource();
    const stopped = await startImport(db, project.id, files, { decoder: cancellingAfter(5, cancel), cancel });
    // What a crash leaves: the record says decoding, nothing says cancelled.
    await db.put('imports', { ...(await getImport(db, stopped.id)), status: 'decoding' });
    expect((await unfinishedImports(db))[0]?.status).toBe('decoding');
    const resumed = await resumeImport(db, stopped.id, { decoder: nodePngDecoder });
    expect(resumed.status).toBe('done');
    await expectExactlyOnce(files.map((f) => f.path.slice('pets/'.length)));
  });

  it('keeps what was staged when stopped while staging; dropping the rest again completes it', async () => {
    const files = imageFolder(2);
    const cancel = new CancelSource();
    let reads = 0;
    // A Blob that stops the job while it is being read: the platform side of a cancel click.
    class CancellingBlob extends Blob {
      override async arrayBuffer(): Promise<ArrayBuffer> {
        if (++reads === 3) cancel.cancel();
        return super.arrayBuffer();
      }
    }
    const dropped = await Promise.all(
      files.map(async (f) => ({ path: f.path, file: new CancellingBlob([await f.file.arrayBuffer()]) })),
    );
    const stopped: ImportJobRecord = await startImport(db, project.id, dropped, { decoder: nodePngDecoder, cancel });
    expect(stopped).toMatchObject({ status: 'cancelled', staged: 3, decoded: 0 });

    // A second drop of the whole folder skips the staged keys of the unfinished import.
    const other = await startImport(db, project.id, files, { decoder: nodePngDecoder });
    expect(other).toMatchObject({ status: 'done', staged: 5, skippedExisting: 3 });
    const resumed = await resumeImport(db, stopped.id, { decoder: nodePngDecoder });
    expect(resumed).toMatchObject({ status: 'done', decoded: 3 });
    await expectExactlyOnce(files.map((f) => f.path.slice('pets/'.length)));
  });

  it('names an unknown import', async () => {
    await expect(getImport(db, 'nope')).rejects.toMatchObject({ name: 'NotFoundError' });
    await expect(resumeImport(db, 'nope', { decoder: nodePngDecoder })).rejects.toMatchObject({ name: 'NotFoundError' });
  });
});

describe('CSV matching', () => {
  it('matches by exact path, by folder of the CSV, by unique name, and explains ambiguous and missing rows', async () => {
    // Imported earlier: two files named x.png in different folders, one y.png.
    await putSamples(
      db,
      ['a/x.png', 'b/x.png', 'a/y.png'].map((key) => ({
        projectId: project.id,
        key,
        fileName: key.slice(2),
        label: null,
        split: 'unassigned' as const,
        attributes: {},
        provenance: { kind: 'real' as const },
        original: null,
        pixelsHwc: new Uint8Array(4 * 4 * 3),
        createdAt: 0,
      })),
    );
    const rootCsv = ['filename,label,site', 'a/x.png,cat,north', 'y.png,dog,south', 'x.png,cat,east', 'z.png,dog,west'].join('\n');
    const folderCsv = ['filename,label', 'x.png,bird'].join('\n');
    const record = await startImport(db, project.id, [file('labels.csv', rootCsv), file('b/labels.csv', folderCsv)], {
      decoder: nodePngDecoder,
    });

    expect(record.status).toBe('done');
    expect(record.csvRowsApplied).toBe(3);
    const byKey = new Map((await allSamples()).map((s) => [s.key, s]));
    expect(byKey.get('a/x.png')).toMatchObject({ label: 'cat', attributes: { site: 'north' } });
    expect(byKey.get('a/y.png')).toMatchObject({ label: 'dog', attributes: { site: 'south' } });
    expect(byKey.get('b/x.png')).toMatchObject({ label: 'bird', attributes: {} });

    const errors = Object.fromEntries(record.errors.map((e) => [e.key, e]));
    expect(errors['labels.csv:4']).toEqual({
      key: 'labels.csv:4',
      name: 'CsvRowError',
      message: 'labels.csv line 4: "x.png" matches 2 files (a/x.png, b/x.png): write its relative path instead.',
    });
    expect(errors['labels.csv:5']?.message).toBe(
      'labels.csv line 5: "z.png" names a file that is not in this project: import it or fix the row.',
    );
    expect(record.errors).toHaveLength(2);

    // A CSV-only drop still makes a version, with the new labels in it.
    const version = await getVersion(db, record.versionId as number);
    expect(versionCounts(version).byLabel).toEqual({ cat: 1, dog: 1, bird: 1 });
    expect((await getProject(db, project.id)).attributes).toEqual(['site']);
  });
});
