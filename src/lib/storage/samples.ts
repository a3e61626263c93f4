import { InvalidInputError, NotFoundError } from '../jobs/errors';
import type { Project, SampleMeta, SamplePixels, SampleRecord } from './records';
import type { HearthDb } from './schema';
import type { Store } from './stores';
import { runTx } from './tx';

/** A sample as its writer makes it: the store gives it its `id`, the project its `number`. */
export type NewSample = Omit<SampleRecord, 'id' | 'number'>;

export interface PutSamplesResult {
  inserted: number;
  skippedExisting: number;
  /** Parallel to the input: the new id, or the id of the sample that already had that key. */
  ids: number[];
}

/**
 * Puts samples (metadata and pixels, same transaction). A sample whose (projectId, key)
 * already exists is skipped, not duplicated, so re-running an interrupted load is safe.
 * Each new sample takes the project's next sample number, in input order; new labels,
 * attribute names and the advanced counter are written to the project in the same transaction.
 */
export async function putSamples(db: HearthDb, samples: NewSample[]): Promise<PutSamplesResult> {
  const tx = db.transaction(['samples', 'pixels', 'projects'], 'readwrite');
  return runTx(tx, () =>
    insertSamples(
      { samples: tx.objectStore('samples'), pixels: tx.objectStore('pixels'), projects: tx.objectStore('projects') },
      samples,
    ),
  );
}

/** The stores `insertSamples` writes, from whatever transaction the caller holds. */
export interface SampleStores {
  samples: Store<'samples'>;
  pixels: Store<'pixels'>;
  projects: Store<'projects'>;
}

/**
 * `putSamples` inside a caller's transaction. Places only IndexedDB requests (no other
 * awaits), so the transaction stays alive. Throws NotFoundError for an unknown project and
 * InvalidInputError for pixels of the wrong size; the caller's runTx then aborts everything.
 */
export async function insertSamples(stores: SampleStores, samples: NewSample[]): Promise<PutSamplesResult> {
  const projectIds = [...new Set(samples.map((s) => s.projectId))];
  const projects = new Map<string, Project>();
  await Promise.all(
    projectIds.map(async (pid) => {
      const project = await stores.projects.get(pid);
      if (!project) throw new NotFoundError(`Project ${pid} does not exist (it may have been deleted). Pick another project.`);
      projects.set(pid, project);
    }),
  );

  // Duplicates inside this batch would both miss the unique-index lookup (all lookups are
  // placed before any add) and then abort the transaction on the second add: fold them here.
  const firstIndexOf = new Map<string, number>();
  const duplicateOf = samples.map((s, i) => {
    const k = JSON.stringify([s.projectId, s.key]);
    const first = firstIndexOf.get(k);
    if (first === undefined) firstIndexOf.set(k, i);
    return first ?? -1;
  });

  const ids = new Array<number>(samples.length).fill(-1);
  let inserted = 0;
  const changed = new Set<string>();
  // Requests run in the order placed, so ids come out ascending in input order, and the
  // numbers, taken just before each add, ascend with them.
  await Promise.all(
    samples.map(async (s, i) => {
      if (duplicateOf[i] !== -1) return;
      const project = projects.get(s.projectId) as Project;
      const { width, height, channels } = project.input;
      if (s.pixelsHwc.length !== width * height * channels) {
        throw new InvalidInputError(
          `Sample "${s.key}" has ${s.pixelsHwc.length} pixel values; project "${project.name}" stores ` +
            `${width}x${height}x${channels} = ${width * height * channels}. Resize it to the project's input first.`,
        );
      }
      const existing = await stores.samples.index('by-project-key').getKey([s.projectId, s.key]);
      if (existing !== undefined) {
        ids[i] = existing;
        return;
      }
      const meta: SampleMeta = {
        projectId: s.projectId,
        number: project.nextSampleNumber++,
        key: s.key,
        fileName: s.fileName,
        label: s.label,
        split: s.split,
        attributes: s.attributes,
        provenance: s.provenance,
        createdAt: s.createdAt,
      };
      const id = await stores.samples.add(meta);
      const pixels: SamplePixels = { id, pixelsHwc: ownBuffer(s.pixelsHwc), original: s.original };
      await stores.pixels.put(pixels);
      ids[i] = id;
      inserted++;
      // Written back for its counter, if not for a new label or attribute.
      extendProject(project, s.label, Object.keys(s.attributes));
      changed.add(project.id);
    }),
  );
  for (const [i, first] of duplicateOf.entries()) if (first !== -1) ids[i] = ids[first] as number;
  await Promise.all([...changed].map((pid) => stores.projects.put(projects.get(pid) as Project)));
  return { inserted, skippedExisting: samples.length - inserted, ids };
}

/**
 * Structured clone stores a typed array's whole underlying buffer: a `subarray` view into a
 * dataset file would store the entire file once per sample. Copy views; pass whole arrays.
 */
function ownBuffer(pixels: Uint8Array): Uint8Array {
  if (pixels.byteOffset === 0 && pixels.byteLength === pixels.buffer.byteLength) return pixels;
  return pixels.slice();
}

/** Appends an unseen label / attribute names to the project (in place); true if it changed. */
export function extendProject(project: Project, label: string | null, attributeNames: Iterable<string>): boolean {
  let changed = false;
  if (label !== null && !project.classes.includes(label)) {
    project.classes.push(label);
    changed = true;
  }
  for (const name of attributeNames) {
    if (!project.attributes.includes(name)) {
      project.attributes.push(name);
      changed = true;
    }
  }
  return changed;
}

/** Names the sample by its id: with the sample gone, its number can no longer be read. */
function missingSample(id: number): NotFoundError {
  return new NotFoundError(`Sample id ${id} does not exist (its project or import may have been deleted). Reload the dataset.`);
}

export async function getSampleMeta(db: HearthDb, id: number): Promise<SampleMeta> {
  const meta = await db.get('samples', id);
  if (!meta) throw missingSample(id);
  return meta;
}

/**
 * The number (`#12`, SampleRecord.number) of each sample, in the order asked; null for a
 * sample that no longer exists. Reads metadata only: what lists of ids show the user.
 */
export async function sampleNumbers(db: HearthDb, ids: readonly number[]): Promise<(number | null)[]> {
  const tx = db.transaction('samples', 'readonly');
  return runTx(tx, () => Promise.all(ids.map(async (id) => (await tx.store.get(id))?.number ?? null)));
}

/** The id of the project's sample `number` (what the user typed), or null when it has none. */
export async function sampleIdOfNumber(db: HearthDb, projectId: string, number: number): Promise<number | null> {
  if (!Number.isInteger(number)) return null;
  return (await db.getKeyFromIndex('samples', 'by-project-number', [projectId, number])) ?? null;
}

/** Full samples (metadata and pixels), in the order asked. */
export async function getSamples(db: HearthDb, ids: number[]): Promise<SampleRecord[]> {
  const tx = db.transaction(['samples', 'pixels'], 'readonly');
  const samples = tx.objectStore('samples');
  const pixels = tx.objectStore('pixels');
  return runTx(tx, () =>
    Promise.all(
      ids.map(async (id) => {
        const [meta, px] = await Promise.all([samples.get(id), pixels.get(id)]);
        if (!meta || !px) throw missingSample(id);
        return { ...meta, pixelsHwc: px.pixelsHwc, original: px.original };
      }),
    ),
  );
}

/** Pixels (HWC, the project's input size) of each sample, in the order asked. */
export async function getPixels(db: HearthDb, ids: number[]): Promise<Uint8Array[]> {
  const tx = db.transaction('pixels', 'readonly');
  return runTx(tx, () =>
    Promise.all(
      ids.map(async (id) => {
        const px = await tx.store.get(id);
        if (!px) throw missingSample(id);
        return px.pixelsHwc;
      }),
    ),
  );
}

/** Pixel records (pixels and original file) of each sample, in the order asked; a missing one fails with `missing(id)`. */
export async function getPixelRecords(db: HearthDb, ids: number[], missing: (id: number) => Error = missingSample): Promise<SamplePixels[]> {
  const tx = db.transaction('pixels', 'readonly');
  return runTx(tx, () =>
    Promise.all(
      ids.map(async (id) => {
        const px = await tx.store.get(id);
        if (!px) throw missing(id);
        return px;
      }),
    ),
  );
}

/** What an import has landed so far: the project's sample count and its newest samples, newest first. */
export async function landedSamples(db: HearthDb, projectId: string, limit: number): Promise<{ count: number; newest: SampleMeta[] }> {
  const tx = db.transaction('samples', 'readonly');
  const index = tx.store.index('by-project');
  return runTx(tx, async () => {
    const newest: SampleMeta[] = [];
    // The index orders a project's samples by id, which grows as samples land.
    let cursor = await index.openCursor(IDBKeyRange.only(projectId), 'prev');
    while (cursor && newest.length < limit) {
      newest.push(cursor.value);
      cursor = await cursor.continue();
    }
    return { count: await index.count(projectId), newest };
  });
}

export async function countSamples(db: HearthDb, projectId: string): Promise<number> {
  return db.countFromIndex('samples', 'by-project', projectId);
}

/** Every sample key of the project (what an import skips). Reads metadata only. */
export async function keysOfProject(db: HearthDb, projectId: string): Promise<Set<string>> {
  const metas = await db.getAllFromIndex('samples', 'by-project', projectId);
  return new Set(metas.map((m) => m.key));
}

/**
 * Sets the label of stored samples (by class name), all in one transaction: a sample that
 * no longer exists aborts it with `missing(id)`, and no label is written.
 */
export async function setSampleLabels(db: HearthDb, labels: Map<number, string>, missing: (id: number) => Error = missingSample): Promise<void> {
  const tx = db.transaction('samples', 'readwrite');
  await runTx(tx, async () => {
    for (const [id, label] of labels) {
      const record = await tx.store.get(id);
      if (!record) throw missing(id);
      await tx.store.put({ ...record, label });
    }
  });
}
