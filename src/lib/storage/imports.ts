import { NotFoundError } from '../jobs/errors';
import type { ImportRecord, Project, Recipe, SampleMeta, StagedFile } from './records';
import { insertSamples, type NewSample, type PutSamplesResult } from './samples';
import type { HearthDb } from './schema';
import { runTx } from './tx';
import { insertVersion } from './versions';

/**
 * The `imports` and `staged` stores: an import's record and the bytes it has staged but
 * not decoded yet. The writes that must land together (a staged batch with the import's
 * counters; decoded samples with their staged bytes removed; CSV rows, the version and
 * `done`) each run in one transaction here. Records may carry fields of their own
 * (`R extends ImportRecord`): the import job stores its CSVs and counters with them.
 */

export async function getImportRecord(db: HearthDb, importId: string): Promise<ImportRecord | undefined> {
  return db.get('imports', importId);
}

/** Every import, or the project's when `projectId` is given, in key order. */
export async function listImportRecords(db: HearthDb, projectId?: string): Promise<ImportRecord[]> {
  return projectId === undefined ? db.getAll('imports') : db.getAllFromIndex('imports', 'by-project', projectId);
}

export async function putImportRecord(db: HearthDb, record: ImportRecord): Promise<void> {
  const tx = db.transaction('imports', 'readwrite');
  await runTx(tx, () => tx.store.put(record));
}

/** Keys (sample keys) of the files an import has staged and not decoded yet. */
export async function stagedKeysOf(db: HearthDb, importId: string): Promise<string[]> {
  return (await db.getAllKeysFromIndex('staged', 'by-import', importId)).map(([, key]) => key);
}

export async function countStaged(db: HearthDb, importId: string): Promise<number> {
  return db.countFromIndex('staged', 'by-import', importId);
}

/** Up to `limit` of an import's staged files, in key order. */
export async function nextStaged(db: HearthDb, importId: string, limit: number): Promise<StagedFile[]> {
  return db.getAllFromIndex('staged', 'by-import', importId, limit);
}

/** Stages a batch of files and writes the import's record, in one transaction. */
export async function putStagedBatch(db: HearthDb, batch: StagedFile[], record: ImportRecord): Promise<void> {
  const tx = db.transaction(['staged', 'imports'], 'readwrite');
  const staged = tx.objectStore('staged');
  await runTx(tx, () => Promise.all([...batch.map((s) => staged.put(s)), tx.objectStore('imports').put(record)]));
}

/**
 * One transaction: new samples (meta and pixels) put, the staged bytes of `stagedKeys`
 * removed, and the record `next(put)` builds from what was inserted written.
 */
export async function commitDecodedBatch<R extends ImportRecord>(
  db: HearthDb,
  importId: string,
  samples: NewSample[],
  stagedKeys: string[],
  next: (put: PutSamplesResult) => R,
): Promise<R> {
  const tx = db.transaction(['samples', 'pixels', 'projects', 'staged', 'imports'], 'readwrite');
  const staged = tx.objectStore('staged');
  return runTx(tx, async () => {
    const put = await insertSamples(
      { samples: tx.objectStore('samples'), pixels: tx.objectStore('pixels'), projects: tx.objectStore('projects') },
      samples,
    );
    await Promise.all(stagedKeys.map((key) => staged.delete([importId, key])));
    const record = next(put);
    await tx.objectStore('imports').put(record);
    return record;
  });
}

/** What `finishImportTx`'s callback decides from the project and its samples. */
export interface ImportFinish<R extends ImportRecord> {
  /** Sample metadata the callback changed (the objects it was given), to write back. */
  changed: Iterable<SampleMeta>;
  /** Whether it changed the project object it was given (classes, attributes). */
  projectChanged: boolean;
  version: { recipe: Recipe | null; note: string };
  /** The import's final record, given the new version's id. */
  record: (versionId: number | null) => R;
}

/**
 * Reads the project and its sample metadata, lets `apply` change them (it must not await:
 * the transaction would commit), writes the changes, makes a version and writes the
 * import's final record, all in one transaction. `now` stamps the version.
 */
export async function finishImportTx<R extends ImportRecord>(
  db: HearthDb,
  projectId: string,
  now: () => number,
  apply: (project: Project, metas: SampleMeta[]) => ImportFinish<R>,
): Promise<R> {
  const tx = db.transaction(['projects', 'samples', 'versions', 'imports'], 'readwrite');
  const projects = tx.objectStore('projects');
  const samples = tx.objectStore('samples');
  const versions = tx.objectStore('versions');
  return runTx(tx, async () => {
    const [project, metas] = await Promise.all([projects.get(projectId), samples.index('by-project').getAll(projectId)]);
    if (!project) throw new NotFoundError(`Project ${projectId} was deleted during the import. Create it again and import again.`);
    const finish = apply(project, metas);
    await Promise.all([...finish.changed].map((m) => samples.put(m)));
    if (finish.projectChanged) await projects.put(project);
    const version = await insertVersion({ projects, samples, versions }, projectId, finish.version, now());
    const done = finish.record(version.id ?? null);
    await tx.objectStore('imports').put(done);
    return done;
  });
}
