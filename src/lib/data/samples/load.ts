import { InvalidInputError } from '../../jobs/errors';
import { NEVER_CANCELLED, ProgressReporter, type CancelToken, type ProgressFn } from '../../jobs/progress';
import { createProject, getProject } from '../../storage/projects';
import { putSamples } from '../../storage/samples';
import type { HearthDb } from '../../storage/schema';
import { createVersion } from '../../storage/versions';
import type { Project, SampleRecord } from '../types';
import {
  MNIST_FILES,
  SAMPLE_DATASET_SEED,
  buildSampleDataset,
  parseMnistFiles,
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

  const total = built.total;
  const writing = `Writing ${built.project.name} samples`;
  progress.restart(0);
  progress.report(0, total, writing, true);
  let done = 0;
  let batch: Omit<SampleRecord, 'id'>[] = [];
  const flush = async (): Promise<void> => {
    cancel.throwIfCancelled();
    await putSamples(db, batch);
    done += batch.length;
    batch = [];
    progress.report(done, total, writing);
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
      params: { id, maxPerSplit: opts.maxPerSplit ?? null },
      seed: SAMPLE_DATASET_SEED,
    },
    note: `${built.project.name} sample dataset (${total.toLocaleString('en-US')} samples)`,
  });
  if (version.id === undefined) {
    // createVersion returns the stored record, which always has its auto-increment id.
    throw new InvalidInputError('The dataset version was stored without an id. Reload and try again.');
  }
  progress.report(total, total, 'Done', true);
  return { projectId: project.id, versionId: version.id };
}

async function openOrCreateProject(
  db: HearthDb,
  id: SampleDatasetId,
  init: Omit<Project, 'id' | 'createdAt'>,
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
