import { InvalidInputError, describeError, isCancelled } from '../../jobs/errors';
import { NEVER_CANCELLED, ProgressReporter, type CancelToken, type ProgressFn } from '../../jobs/progress';
import { createProject, getProject, listProjects, type NewProject } from '../../storage/projects';
import { countSamples, putSamples, type NewSample } from '../../storage/samples';
import type { HearthDb } from '../../storage/schema';
import { getSetting, setSetting } from '../../storage/settings';
import { createVersion, versionIdsOf } from '../../storage/versions';
import type { Project } from '../../storage/records';
import {
  MNIST_FILES,
  SAMPLE_DATASETS,
  SAMPLE_DATASET_SEED,
  buildSampleDataset,
  parseMnistFiles,
  sampleDatasetInfo,
  type MnistFileRole,
  type SampleDatasetId,
} from './catalog';

/**
 * Samples written per transaction: large enough that transaction overhead is small
 * (~1 MB of pixels for grey MNIST), small enough that a cancel or a reload loses little
 * and progress moves often.
 */
export const SAMPLE_BATCH_SIZE = 1000;

export interface LoadSampleDatasetOptions {
  onProgress?: ProgressFn;
  cancel?: CancelToken;
  /** Keep only the first N samples of each split (tests, quick demos). */
  maxPerSplit?: number;
  /**
   * Load into this project id: created if missing, resumed if it exists (from a load that
   * was cancelled or cut by a reload). Without it a new project with a random id is made.
   */
  projectId?: string;
}

/**
 * Loads a sample dataset into IndexedDB as a new project (or resumes one) and records a
 * dataset version. `fetchGz(path)` must return the decompressed bytes of
 * public/datasets/<path> (paths are MNIST_FILES' values); it is injected so the same code
 * runs against `fetch` + a gunzip in the browser and against local files in Node tests.
 *
 * Resuming is safe because putSamples skips keys the project already holds: a second
 * call with the same projectId writes only what is missing, never duplicates.
 */
export async function loadSampleDataset(
  db: HearthDb,
  id: SampleDatasetId,
  fetchGz: (path: string) => Promise<Uint8Array>,
  opts: LoadSampleDatasetOptions = {},
): Promise<{ projectId: string; versionId: number }> {
  const cancel = opts.cancel ?? NEVER_CANCELLED;
  const progress = new ProgressReporter(opts.onProgress);
  cancel.throwIfCancelled();

  const roles = Object.keys(MNIST_FILES) as MnistFileRole[];
  const files = {} as Record<MnistFileRole, Uint8Array>;
  for (const [i, role] of roles.entries()) {
    progress.report(i, roles.length, `Reading ${MNIST_FILES[role]}`, true);
    files[role] = await fetchGz(MNIST_FILES[role]);
    cancel.throwIfCancelled();
  }

  const built = buildSampleDataset(id, parseMnistFiles(files), { maxPerSplit: opts.maxPerSplit });
  const project = await openOrCreateProject(db, id, built.project, opts.projectId);
  const maxPerSplit = opts.maxPerSplit ?? null;
  await writeLoadRecord(db, project.id, { datasetId: id, maxPerSplit, state: 'loading', error: null });

  try {
    const total = built.total;
    const writing = `Writing ${built.project.name} samples`;
    progress.restart(0);
    progress.report(0, total, writing, true);
    let done = 0;
    let batch: NewSample[] = [];
    const flush = async (): Promise<void> => {
      cancel.throwIfCancelled();
      const { inserted } = await putSamples(db, batch);
      done += batch.length;
      batch = [];
      // A resumed load first walks past the samples a previous run stored, a batch in a
      // few milliseconds: measuring the rate from there would promise an ETA far too short.
      if (inserted === 0) progress.restart(done);
      // Every committed batch is reported (a batch is a whole transaction, far slower than
      // the throttle interval): the count a caller sees is then always a committed count,
      // whatever the machine's speed.
      progress.report(done, total, writing, true);
    };
    const createdAt = Date.now();
    for (const s of built.samples) {
      batch.push({
        projectId: project.id,
        key: s.key,
        fileName: s.fileName,
        label: s.label,
        split: s.split,
        attributes: s.attributes,
        provenance: { kind: 'real' },
        original: null,
        pixelsHwc: s.pixelsHwc,
        createdAt,
      });
      if (batch.length >= SAMPLE_BATCH_SIZE) await flush();
    }
    if (batch.length > 0) await flush();
    cancel.throwIfCancelled();

    progress.report(done, total, 'Recording a dataset version', true);
    const version = await createVersion(db, project.id, {
      recipe: {
        tool: 'sample-dataset',
        params: { id, maxPerSplit },
        seed: SAMPLE_DATASET_SEED,
      },
      note: `${built.project.name} sample dataset (${total.toLocaleString('en-US')} samples)`,
    });
    if (version.id === undefined) {
      // createVersion returns the stored record, which always has its auto-increment id.
      throw new InvalidInputError('The dataset version was stored without an id. Reload and try again.');
    }
    // The version is what makes the project complete; a record that fails to say so is harmless.
    await writeLoadRecord(db, project.id, { datasetId: id, maxPerSplit, state: 'done', error: null }).catch(
      () => undefined,
    );
    progress.report(total, total, 'Done', true);
    return { projectId: project.id, versionId: version.id };
  } catch (err) {
    // Remember that the user (or a failure) stopped this load, so that the next start of
    // the studio shows it as stopped instead of resuming it by itself as if a reload had
    // cut it off.
    const state = isCancelled(err) ? 'cancelled' : 'failed';
    await writeLoadRecord(db, project.id, {
      datasetId: id,
      maxPerSplit,
      state,
      error: state === 'failed' ? describeError(err) : null,
    }).catch(() => undefined); // The load's own error is what the user needs to see.
    throw err;
  }
}

/** How the last sample load into a project ended, or `loading` while (or if cut off while) it runs. */
export type SampleLoadState = 'loading' | 'cancelled' | 'failed' | 'done';

/**
 * What a sample-dataset load records about itself in the settings store, under
 * `sampleLoadSettingKey(projectId)`. It tells a load that a reload cut off (still
 * `loading`) from one the user cancelled, and keeps `maxPerSplit` so a resume loads the
 * same samples and the "n of N" shown to the user has the right N.
 */
export interface SampleLoadRecord {
  datasetId: SampleDatasetId;
  maxPerSplit: number | null;
  state: SampleLoadState;
  error: { name: string; message: string } | null;
  updatedAt: number;
}

export function sampleLoadSettingKey(projectId: string): string {
  return `sample-load:${projectId}`;
}

async function writeLoadRecord(db: HearthDb, projectId: string, rec: Omit<SampleLoadRecord, 'updatedAt'>): Promise<void> {
  const value: SampleLoadRecord = { ...rec, updatedAt: Date.now() };
  await setSetting(db, sampleLoadSettingKey(projectId), value);
}

export function isSampleDatasetId(source: string): source is SampleDatasetId {
  return SAMPLE_DATASETS.some((d) => d.id === source);
}

/** Samples a whole load of `id` stores, with each split cut to `maxPerSplit` when given. */
export function expectedSampleCount(id: SampleDatasetId, maxPerSplit: number | null): number {
  const { splitCounts } = sampleDatasetInfo(id);
  const cap = maxPerSplit ?? Infinity;
  return Math.min(splitCounts.train, cap) + Math.min(splitCounts.val, cap) + Math.min(splitCounts.test, cap);
}

/**
 * A project made by a sample-dataset load that has not finished: it has samples (or none
 * yet) but no dataset version, so nothing downstream can use it until the load resumes.
 */
export interface IncompleteSampleLoad {
  projectId: string;
  projectName: string;
  datasetId: SampleDatasetId;
  /** Samples stored so far. */
  loaded: number;
  /** Samples the finished load will hold. */
  total: number;
  /**
   * `interrupted`: the page went away mid-load (a reload, a closed tab, a crashed worker);
   * the studio continues it by itself. `cancelled` / `failed`: stopped on purpose or by an
   * error; it waits for the user to continue it.
   */
  stoppedBy: 'interrupted' | 'cancelled' | 'failed';
  /** The failure, when stoppedBy is `failed`. */
  error: { name: string; message: string } | null;
}

/**
 * Pure part of `incompleteSampleLoad`: decides from what storage holds. A project counts
 * as an incomplete sample load when its source is a sample dataset id and it has no
 * version (a finished load always records one); `record` may be missing for a load cut
 * off between creating the project and writing its record, which is then `interrupted`.
 */
export function describeSampleLoad(
  project: Pick<Project, 'id' | 'name' | 'source'>,
  versionCount: number,
  loaded: number,
  record: SampleLoadRecord | undefined,
): IncompleteSampleLoad | null {
  if (!isSampleDatasetId(project.source) || versionCount > 0) return null;
  const stopped = record?.state === 'cancelled' || record?.state === 'failed' ? record.state : 'interrupted';
  return {
    projectId: project.id,
    projectName: project.name,
    datasetId: project.source,
    loaded,
    total: expectedSampleCount(project.source, record?.maxPerSplit ?? null),
    stoppedBy: stopped,
    error: stopped === 'failed' ? (record?.error ?? null) : null,
  };
}

async function incompleteLoadOf(db: HearthDb, project: Project): Promise<IncompleteSampleLoad | null> {
  // Cheap answer first: most projects are imports or finished loads.
  if (!isSampleDatasetId(project.source)) return null;
  const [versionIds, loaded, record] = await Promise.all([
    versionIdsOf(db, project.id),
    countSamples(db, project.id),
    getSetting<SampleLoadRecord>(db, sampleLoadSettingKey(project.id)),
  ]);
  return describeSampleLoad(project, versionIds.length, loaded, record);
}

/** Whether the project is an unfinished sample-dataset load, and how far it got; null if not. */
export async function incompleteSampleLoad(db: HearthDb, projectId: string): Promise<IncompleteSampleLoad | null> {
  return incompleteLoadOf(db, await getProject(db, projectId));
}

/** Every unfinished sample-dataset load, newest project first. */
export async function incompleteSampleLoads(db: HearthDb): Promise<IncompleteSampleLoad[]> {
  const projects = await listProjects(db);
  const loads = await Promise.all(projects.map((p) => incompleteLoadOf(db, p)));
  return loads.filter((l): l is IncompleteSampleLoad => l !== null);
}

/**
 * Continues an unfinished sample-dataset load into its own project (same dataset, same
 * maxPerSplit), writing only the samples that are missing, then records the version.
 * A project whose load already finished is left as it is and its latest version returned,
 * so a second tab or a double click cannot make a second version.
 */
export async function resumeSampleDataset(
  db: HearthDb,
  projectId: string,
  fetchGz: (path: string) => Promise<Uint8Array>,
  opts: Pick<LoadSampleDatasetOptions, 'onProgress' | 'cancel'> = {},
): Promise<{ projectId: string; versionId: number }> {
  const project = await getProject(db, projectId);
  if (!isSampleDatasetId(project.source)) {
    throw new InvalidInputError(
      `Project "${project.name}" was not made from a sample dataset, so there is no load to continue. Import files into it instead.`,
    );
  }
  const versionIds = await versionIdsOf(db, projectId);
  const latest = versionIds.at(-1);
  if (latest !== undefined) return { projectId, versionId: latest };
  const record = await getSetting<SampleLoadRecord>(db, sampleLoadSettingKey(projectId));
  return loadSampleDataset(db, project.source, fetchGz, {
    ...opts,
    projectId,
    maxPerSplit: record?.maxPerSplit ?? undefined,
  });
}

async function openOrCreateProject(
  db: HearthDb,
  id: SampleDatasetId,
  init: NewProject,
  projectId: string | undefined,
): Promise<Project> {
  if (projectId === undefined) return createProject(db, init);
  try {
    const existing = await getProject(db, projectId);
    if (existing.source !== id) {
      throw new InvalidInputError(
        `Project "${existing.name}" holds ${existing.source}, not the ${id} sample dataset. Load ${id} into a new project.`,
      );
    }
    return existing;
  } catch (err) {
    // Branch on the name, as everywhere: the error may have crossed a worker boundary.
    if ((err as { name?: unknown }).name !== 'NotFoundError') throw err;
    return createProject(db, { ...init, id: projectId });
  }
}
