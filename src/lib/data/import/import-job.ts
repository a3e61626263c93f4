/**
 * The resumable import job: a dropped ImageFolder (plus label CSVs) becomes samples and
 * a new dataset version. Two phases, each built so that a reload at any moment loses
 * nothing and duplicates nothing:
 *
 * 1. Staging copies each image's bytes into the `staged` store. After a reload the
 *    browser's File handles are gone, so whatever was not staged must be dropped again;
 *    whatever was staged survives.
 * 2. Decoding turns staged bytes into samples. A sample's meta and pixels, the deletion
 *    of its staged bytes and the import's counters commit in one transaction, so each
 *    staged file is decoded exactly once however often the job is interrupted.
 *
 * Finally the CSV rows are applied and a version is made, again in one transaction,
 * together with the import's `done` status.
 */
import { InvalidInputError, NotFoundError, describeError, isCancelled } from '../../jobs/errors';
import { NEVER_CANCELLED, ProgressReporter, type CancelToken, type ProgressFn } from '../../jobs/progress';
import type { HearthDb } from '../../storage/schema';
import {
  commitDecodedBatch,
  countStaged,
  finishImportTx,
  getImportRecord,
  listImportRecords,
  nextStaged,
  putImportRecord,
  putStagedBatch,
  stagedKeysOf,
} from '../../storage/imports';
import { extendProject, keysOfProject, type NewSample } from '../../storage/samples';
import { getProject } from '../../storage/projects';
import type { ImportFileError, ImportRecord, ImportStatus, Project, SampleMeta, StagedFile } from '../../storage/records';
import { parseLabelCsv, type LabelRow } from './csv';
import { CsvRowError } from './errors';
import { classifyPaths } from './paths';
import { rgbaToInput } from './pixels';
import { sniffImage, type ImageHeader } from './sniff';

export interface DecodedImage {
  width: number;
  height: number;
  rgba: Uint8Array | Uint8ClampedArray;
}

/**
 * Platform decoding: the browser one uses createImageBitmap + OffscreenCanvas (in a
 * worker); tests use a Node one. Throws CorruptImageError when the bytes do not decode.
 * It must not detach `bytes`: the same buffer is stored as the sample's original file.
 * `fileName` (when given) is for the error message.
 */
export interface ImageDecoder {
  decode(bytes: ArrayBuffer, header: ImageHeader, fileName?: string): Promise<DecodedImage>;
}

/** One dropped file; `path` is relative to the drop (webkitRelativePath or the folder walk). */
export interface DroppedFile {
  path: string;
  file: Blob;
}

export interface ImportOptions {
  decoder: ImageDecoder;
  onProgress?: ProgressFn;
  cancel?: CancelToken;
  /** Clock in ms for timestamps and progress rates (Date.now by default). */
  now?: () => number;
}

/** A label CSV of the drop, parsed at staging time so a resumed import still applies it. */
export interface ImportCsv {
  key: string;
  attributes: string[];
  rows: LabelRow[];
}

/**
 * What this job stores in the `imports` store: the shared ImportRecord plus the fields
 * only the job needs. Older or foreign records lacking them are read with empty defaults.
 */
export interface ImportJobRecord extends ImportRecord {
  csvs: ImportCsv[];
  /** Files of the drop that are not images or CSVs (system clutter, other types), and why. */
  ignored: { key: string; reason: string }[];
  /** Staged files that did not decode (each also in `errors`), so progress reaches its total. */
  decodeFailed: number;
}

/** Staged files read per batch: bounds memory while keeping transactions few. */
const STAGE_BATCH_FILES = 32;
const STAGE_BATCH_BYTES = 32 * 1024 * 1024;
/**
 * Decoded files committed per transaction. Each commit carries its own staged-entry
 * deletions, so a batch lands whole or not at all and exactly-once still holds; a crash
 * costs at most one batch of re-decoding.
 */
const DECODE_BATCH_FILES = 32;
/** How many matching keys an "ambiguous file name" message lists before eliding. */
const AMBIGUOUS_KEYS_SHOWN = 3;

/** Statuses an import can be resumed from. `failed` too: after "storage full", free space and resume. */
const RESUMABLE: ReadonlySet<ImportStatus> = new Set<ImportStatus>(['staging', 'decoding', 'cancelled', 'failed']);

interface JobContext {
  db: HearthDb;
  decoder: ImageDecoder;
  cancel: CancelToken;
  now: () => number;
  progress: ProgressReporter;
}

function contextOf(db: HearthDb, opts: ImportOptions): JobContext {
  const now = opts.now ?? Date.now;
  return {
    db,
    decoder: opts.decoder,
    cancel: opts.cancel ?? NEVER_CANCELLED,
    now,
    progress: new ProgressReporter(opts.onProgress, now),
  };
}

/** Fills the job's own fields for a record that lacks them (written by other code). */
function asJobRecord(r: ImportRecord): ImportJobRecord {
  const partial = r as Partial<ImportJobRecord> & ImportRecord;
  return { ...partial, csvs: partial.csvs ?? [], ignored: partial.ignored ?? [], decodeFailed: partial.decodeFailed ?? 0 };
}

function fileNameOf(key: string): string {
  return key.slice(key.lastIndexOf('/') + 1);
}

export async function getImport(db: HearthDb, importId: string): Promise<ImportJobRecord> {
  const r = await getImportRecord(db, importId);
  if (!r) throw new NotFoundError(`Import ${importId} does not exist (its project may have been deleted). Drop the files again.`);
  return asJobRecord(r);
}

/** Imports not `done` (interrupted, cancelled or failed), newest first; of one project when given. */
export async function unfinishedImports(db: HearthDb, projectId?: string): Promise<ImportJobRecord[]> {
  const all = await listImportRecords(db, projectId);
  return all
    .filter((r) => r.status !== 'done')
    .map(asJobRecord)
    .sort((a, b) => b.createdAt - a.createdAt);
}

/**
 * Stages then decodes a drop into the project, applies its CSVs and makes a version.
 * Images whose key is already in the project, or staged by another unfinished import of
 * it, are skipped (counted in `skippedExisting`). A file that fails becomes an entry in
 * `errors` and the import goes on. Cancelling keeps what was committed and resolves with
 * status `cancelled` (resumeImport continues it); other failures mark the import
 * `failed` and throw.
 */
export async function startImport(
  db: HearthDb,
  projectId: string,
  files: DroppedFile[],
  opts: ImportOptions,
): Promise<ImportJobRecord> {
  const ctx = contextOf(db, opts);
  await getProject(db, projectId);
  const entries = classifyPaths(files.map((f) => f.path));
  const ignored: ImportJobRecord['ignored'] = [];
  const images: { file: Blob; key: string; label: string | null; split: StagedFile['split'] }[] = [];
  const csvFiles: { file: Blob; key: string }[] = [];
  entries.forEach((e, i) => {
    const file = (files[i] as DroppedFile).file;
    if (e.kind === 'image') images.push({ file, key: e.key, label: e.label, split: e.split });
    else if (e.kind === 'csv') csvFiles.push({ file, key: e.key });
    else ignored.push({ key: e.key, reason: e.reason });
  });
  if (images.length === 0 && csvFiles.length === 0) {
    const why = ignored[0] ? ` ("${ignored[0].key}": ${ignored[0].reason})` : '';
    throw new InvalidInputError(
      `Nothing to import${why}. Drop a folder of images (PNG, JPEG, GIF, BMP, WebP), optionally with class sub-folders and a labels .csv.`,
    );
  }

  // CSVs first and onto the record itself: they are small, and a reload during staging
  // must not lose the labels of the images that did get staged.
  const errors: ImportFileError[] = [];
  const csvs: ImportCsv[] = [];
  for (const { file, key } of csvFiles) {
    try {
      const parsed = parseLabelCsv(await file.text(), key);
      csvs.push({ key, attributes: parsed.attributes, rows: parsed.rows });
      errors.push(...parsed.errors);
    } catch (err) {
      errors.push(unreadable(key, err));
    }
  }
  const createdAt = ctx.now();
  let record: ImportJobRecord = {
    id: crypto.randomUUID(),
    projectId,
    status: 'staging',
    createdAt,
    updatedAt: createdAt,
    totalFiles: images.length + csvFiles.length,
    staged: 0,
    decoded: 0,
    skippedExisting: 0,
    errors,
    csvRowsApplied: 0,
    versionId: null,
    csvs,
    ignored,
    decodeFailed: 0,
  };
  await putRecord(db, record);

  return guard(ctx, () => record, async () => {
    record = await stage(ctx, record, images);
    if (record.status === 'cancelled') return record;
    return decodeAndFinish(ctx, record);
  });
}

/**
 * Continues an import left in `staging`, `decoding`, `cancelled` or `failed` (after a
 * reload, a cancel, or a full disk): decodes what is still staged, applies the CSVs and
 * makes the version. No sample is lost or duplicated. A `done` import is returned as is.
 */
export async function resumeImport(db: HearthDb, importId: string, opts: ImportOptions): Promise<ImportJobRecord> {
  const ctx = contextOf(db, opts);
  const record = await getImport(db, importId);
  if (!RESUMABLE.has(record.status)) return record;
  return guard(ctx, () => record, () => decodeAndFinish(ctx, record));
}

/**
 * Runs a phase; a cancel resolves with status `cancelled`, any other error marks the
 * stored record `failed` (best effort: the error may be the disk itself) and rethrows.
 */
async function guard(
  ctx: JobContext,
  current: () => ImportJobRecord,
  body: () => Promise<ImportJobRecord>,
): Promise<ImportJobRecord> {
  try {
    return await body();
  } catch (err) {
    const status: ImportStatus = isCancelled(err) ? 'cancelled' : 'failed';
    // Re-read: the stored counters are the committed truth, the in-memory copy may be ahead.
    const stored = await getImportRecord(ctx.db, current().id).catch(() => undefined);
    const marked = { ...asJobRecord(stored ?? current()), status, updatedAt: ctx.now() };
    await putRecord(ctx.db, marked).catch(() => undefined);
    if (status === 'cancelled') return marked;
    throw err;
  }
}

async function putRecord(db: HearthDb, record: ImportJobRecord): Promise<void> {
  await putImportRecord(db, record);
}

function unreadable(key: string, err: unknown): ImportFileError {
  const { name, message } = describeError(err);
  return {
    key,
    name,
    message: `"${key}" could not be read (${message}). Check that it still exists and is not open elsewhere, then import it again.`,
  };
}

/** Keys staged by the project's other unfinished imports: they will land when those resume. */
async function keysStagedElsewhere(db: HearthDb, projectId: string, importId: string): Promise<Set<string>> {
  const keys = new Set<string>();
  for (const other of await unfinishedImports(db, projectId)) {
    if (other.id === importId) continue;
    for (const key of await stagedKeysOf(db, other.id)) keys.add(key);
  }
  return keys;
}

async function stage(
  ctx: JobContext,
  start: ImportJobRecord,
  images: { file: Blob; key: string; label: string | null; split: StagedFile['split'] }[],
): Promise<ImportJobRecord> {
  const { db, progress } = ctx;
  let record = start;
  const skip = await keysOfProject(db, record.projectId);
  for (const key of await keysStagedElsewhere(db, record.projectId, record.id)) skip.add(key);

  let batch: StagedFile[] = [];
  let batchBytes = 0;
  let skipped = 0;
  let failed: ImportFileError[] = [];
  const flush = async (): Promise<void> => {
    const next: ImportJobRecord = {
      ...record,
      staged: record.staged + batch.length,
      skippedExisting: record.skippedExisting + skipped,
      errors: failed.length > 0 ? [...record.errors, ...failed] : record.errors,
      updatedAt: ctx.now(),
    };
    await putStagedBatch(db, batch, next);
    record = next;
    batch = [];
    batchBytes = 0;
    skipped = 0;
    failed = [];
  };

  progress.restart();
  progress.report(0, images.length, `Staging 0 / ${images.length} files`, true);
  for (const [i, image] of images.entries()) {
    if (ctx.cancel.cancelled) {
      await flush();
      return markStatus(ctx, record, 'cancelled');
    }
    if (skip.has(image.key)) {
      skipped++;
    } else {
      try {
        const bytes = await image.file.arrayBuffer();
        batch.push({ importId: record.id, key: image.key, bytes, label: image.label, split: image.split });
        batchBytes += bytes.byteLength;
      } catch (err) {
        failed.push(unreadable(image.key, err));
      }
    }
    if (batch.length >= STAGE_BATCH_FILES || batchBytes >= STAGE_BATCH_BYTES) await flush();
    progress.report(i + 1, images.length, `Staging ${i + 1} / ${images.length} files`);
  }
  await flush();
  return markStatus(ctx, record, 'decoding');
}

async function markStatus(ctx: JobContext, record: ImportJobRecord, status: ImportStatus): Promise<ImportJobRecord> {
  const next = { ...record, status, updatedAt: ctx.now() };
  await putRecord(ctx.db, next);
  return next;
}

type DecodeResult = { staged: StagedFile; sample: NewSample } | { staged: StagedFile; error: ImportFileError };

async function decodeAndFinish(ctx: JobContext, start: ImportJobRecord): Promise<ImportJobRecord> {
  let record = start.status === 'decoding' ? start : await markStatus(ctx, start, 'decoding');
  record = await decodeStaged(ctx, record);
  if (record.status === 'cancelled') return record;
  if (ctx.cancel.cancelled) return markStatus(ctx, record, 'cancelled');
  return finish(ctx, record);
}

async function decodeStaged(ctx: JobContext, start: ImportJobRecord): Promise<ImportJobRecord> {
  const { db, progress } = ctx;
  let record = start;
  const project = await getProject(db, record.projectId);
  const before = record.decoded + record.decodeFailed;
  const total = before + (await countStaged(db, record.id));
  let done = before;
  progress.restart(done);
  progress.report(done, total, `Decoding ${done} / ${total}`, true);
  for (;;) {
    if (ctx.cancel.cancelled) return markStatus(ctx, record, 'cancelled');
    const batch = await nextStaged(db, record.id, DECODE_BATCH_FILES);
    if (batch.length === 0) return record;
    const results: DecodeResult[] = [];
    for (const staged of batch) {
      // Between files: what is decoded so far in this batch is still committed below.
      if (ctx.cancel.cancelled) break;
      results.push(await decodeOne(ctx, project, staged));
      done++;
      progress.report(done, total, `Decoding ${done} / ${total}`);
    }
    record = await commitDecoded(ctx, record, results);
  }
}

async function decodeOne(ctx: JobContext, project: Project, staged: StagedFile): Promise<DecodeResult> {
  const fileName = fileNameOf(staged.key);
  try {
    const header = sniffImage(new Uint8Array(staged.bytes), fileName);
    const image = await ctx.decoder.decode(staged.bytes, header, fileName);
    const pixelsHwc = rgbaToInput(image.rgba, image.width, image.height, project.input);
    const sample: NewSample = {
      projectId: project.id,
      key: staged.key,
      fileName,
      label: staged.label,
      split: staged.split,
      attributes: {},
      provenance: { kind: 'real' },
      original: { bytes: staged.bytes, mimeType: header.mimeType, width: image.width, height: image.height },
      pixelsHwc,
      createdAt: ctx.now(),
    };
    return { staged, sample };
  } catch (err) {
    if (isCancelled(err)) throw err;
    return { staged, error: { key: staged.key, ...describeError(err) } };
  }
}

/** One transaction: new samples (meta + pixels), their staged bytes removed, the counters updated. */
async function commitDecoded(ctx: JobContext, record: ImportJobRecord, results: DecodeResult[]): Promise<ImportJobRecord> {
  const samples = results.flatMap((r) => ('sample' in r ? [r.sample] : []));
  const failed = results.flatMap((r) => ('error' in r ? [r.error] : []));
  // A key that is already a sample (another tab resumed the same import) is skipped by
  // insertSamples; its staged bytes go either way.
  return commitDecodedBatch(
    ctx.db,
    record.id,
    samples,
    results.map((r) => r.staged.key),
    (put): ImportJobRecord => ({
      ...record,
      decoded: record.decoded + put.inserted,
      skippedExisting: record.skippedExisting + put.skippedExisting,
      decodeFailed: record.decodeFailed + failed.length,
      errors: failed.length > 0 ? [...record.errors, ...failed] : record.errors,
      updatedAt: ctx.now(),
    }),
  );
}

/** A CSV row resolved to a sample, or the error that says why it could not be. */
type RowMatch = { sample: SampleMeta } | { error: ImportFileError };

/**
 * Finds the sample a CSV row names: its relative path exactly, else that path relative
 * to the CSV's own folder, else its bare file name when exactly one sample has it.
 */
export function matchCsvRow(
  csvKey: string,
  row: LabelRow,
  byKey: ReadonlyMap<string, SampleMeta>,
  byFileName: ReadonlyMap<string, readonly SampleMeta[]>,
): RowMatch {
  const where = `${csvKey} line ${row.line}`;
  const csvFolder = csvKey.includes('/') ? csvKey.slice(0, csvKey.lastIndexOf('/') + 1) : '';
  const exact = byKey.get(row.fileName) ?? (csvFolder === '' ? undefined : byKey.get(csvFolder + row.fileName));
  if (exact) return { sample: exact };
  const named = row.fileName.includes('/') ? [] : (byFileName.get(row.fileName) ?? []);
  if (named.length === 1) return { sample: named[0] as SampleMeta };
  const key = `${csvKey}:${row.line}`;
  if (named.length === 0) {
    const err = new CsvRowError(`${where}: "${row.fileName}" names a file that is not in this project: import it or fix the row.`);
    return { error: { key, name: err.name, message: err.message } };
  }
  const shown = named.slice(0, AMBIGUOUS_KEYS_SHOWN).map((s) => s.key);
  const list = named.length > AMBIGUOUS_KEYS_SHOWN ? `${shown.join(', ')}, …` : shown.join(', ');
  const err = new CsvRowError(
    `${where}: "${row.fileName}" matches ${named.length} files (${list}): write its relative path instead.`,
  );
  return { error: { key, name: err.name, message: err.message } };
}

/**
 * Applies the CSV rows to the project's samples (this drop's and earlier ones'), makes
 * the version and marks the import done, all in one transaction: a reload before it
 * commits redoes all of it, after it nothing is left to do, so rows and version apply once.
 */
async function finish(ctx: JobContext, record: ImportJobRecord): Promise<ImportJobRecord> {
  ctx.progress.report(record.decoded, record.decoded, 'Applying labels and saving the dataset version', true);
  const next = await finishImportTx(ctx.db, record.projectId, () => ctx.now(), (project, metas) => {
    const byKey = new Map(metas.map((m) => [m.key, m]));
    const byFileName = new Map<string, SampleMeta[]>();
    for (const m of metas) {
      const list = byFileName.get(m.fileName);
      if (list) list.push(m);
      else byFileName.set(m.fileName, [m]);
    }
    const errors: ImportFileError[] = [];
    const changed = new Set<SampleMeta>();
    let applied = 0;
    let projectChanged = false;
    for (const csv of record.csvs) {
      if (extendProject(project, null, csv.attributes)) projectChanged = true;
      for (const row of csv.rows) {
        const match = matchCsvRow(csv.key, row, byKey, byFileName);
        if ('error' in match) {
          errors.push(match.error);
          continue;
        }
        const sample = match.sample;
        // An empty label cell keeps the folder's label; the CSV only adds what it states.
        if (row.label !== null) sample.label = row.label;
        sample.attributes = { ...sample.attributes, ...row.attributes };
        if (extendProject(project, row.label, Object.keys(row.attributes))) projectChanged = true;
        changed.add(sample);
        applied++;
      }
    }
    return {
      changed,
      projectChanged,
      version: {
        recipe: { tool: 'import', params: { importId: record.id, files: record.totalFiles }, seed: 0 },
        note: importNote(record, applied),
      },
      record: (versionId): ImportJobRecord => ({
        ...record,
        status: 'done',
        errors: errors.length > 0 ? [...record.errors, ...errors] : record.errors,
        csvRowsApplied: applied,
        versionId,
        updatedAt: ctx.now(),
      }),
    };
  });
  ctx.progress.report(next.decoded, next.decoded, 'Import finished', true);
  return next;
}

function importNote(record: ImportJobRecord, csvRowsApplied: number): string {
  const parts = [`Imported ${record.decoded} image${record.decoded === 1 ? '' : 's'}`];
  if (record.csvs.length > 0) parts.push(`${csvRowsApplied} CSV row${csvRowsApplied === 1 ? '' : 's'} applied`);
  if (record.skippedExisting > 0) parts.push(`${record.skippedExisting} already in the project`);
  return parts.join(', ');
}
