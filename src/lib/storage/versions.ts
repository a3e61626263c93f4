import { InvalidInputError, NotFoundError } from '../jobs/errors';
import {
  PROVENANCE_KINDS,
  SPLITS,
  type DatasetVersion,
  type ProvenanceKind,
  type Recipe,
  type Split,
} from './records';
import type { HearthDb } from './schema';
import type { Store } from './stores';
import { runTx } from './tx';

/** Label and attribute codes are Int16 with -1 for "none": this many distinct values fit. */
const MAX_CODES = 32767;

export type VersionSummary = Omit<DatasetVersion, 'sampleIds' | 'labels' | 'splits' | 'provenance' | 'attributes'>;

export interface VersionFilter {
  /** Class names; null = unlabeled. */
  labels?: (string | null)[];
  splits?: Split[];
  provenance?: ProvenanceKind[];
  /** Per attribute, the values kept; null = samples without that attribute. */
  attributes?: Record<string, (string | null)[]>;
}

export interface VersionCounts {
  total: number;
  /** Class name → n; key '' for unlabeled. Every class of the version is present, zero or not. */
  byLabel: Record<string, number>;
  bySplit: Record<Split, number>;
  byProvenance: Record<ProvenanceKind, number>;
  /** Attribute → value → label → n; value '' = attribute missing, label '' = unlabeled. */
  byLabelAttribute: Record<string, Record<string, Record<string, number>>>;
}

function versionRange(projectId: string): IDBKeyRange {
  return IDBKeyRange.bound([projectId, -Infinity], [projectId, Infinity]);
}

export interface VersionStores {
  projects: Store<'projects'>;
  samples: Store<'samples'>;
  versions: Store<'versions'>;
}

/**
 * Freezes the project's current samples into an immutable columnar DatasetVersion,
 * number = previous + 1, parent = the previous version. Scans only the samples store
 * (metadata), never pixels.
 */
export async function createVersion(
  db: HearthDb,
  projectId: string,
  opts: { recipe: Recipe | null; note: string },
): Promise<DatasetVersion> {
  // One read-write transaction over all three stores: a concurrent import cannot slip a
  // sample in between the scan and the numbering, nor two versions take the same number.
  const tx = db.transaction(['projects', 'samples', 'versions'], 'readwrite');
  return runTx(tx, () =>
    insertVersion(
      { projects: tx.objectStore('projects'), samples: tx.objectStore('samples'), versions: tx.objectStore('versions') },
      projectId,
      opts,
      Date.now(),
    ),
  );
}

/** `createVersion` inside a caller's transaction (an import finishes and versions atomically). */
export async function insertVersion(
  stores: VersionStores,
  projectId: string,
  opts: { recipe: Recipe | null; note: string },
  createdAt: number,
): Promise<DatasetVersion> {
  const [project, metas, previous] = await Promise.all([
    stores.projects.get(projectId),
    stores.samples.index('by-project').getAll(projectId),
    stores.versions.index('by-project-number').openCursor(versionRange(projectId), 'prev'),
  ]);
  if (!project) throw new NotFoundError(`Project ${projectId} does not exist (it may have been deleted). Pick another project.`);
  metas.sort((a, b) => (a.id as number) - (b.id as number));
  const n = metas.length;

  const classes = [...project.classes];
  const classIndex = new Map(classes.map((c, i) => [c, i]));
  const sampleIds = new Uint32Array(n);
  const labels = new Int16Array(n);
  const splits = new Uint8Array(n);
  const provenance = new Uint8Array(n);
  const attributeNames = new Set(project.attributes);
  for (const [i, m] of metas.entries()) {
    sampleIds[i] = m.id as number;
    if (m.label === null) {
      labels[i] = -1;
    } else {
      let c = classIndex.get(m.label);
      if (c === undefined) {
        // A label the project record lacks (written by an older code path): keep it rather than drop it.
        c = classes.length;
        classes.push(m.label);
        classIndex.set(m.label, c);
      }
      labels[i] = c;
    }
    splits[i] = SPLITS.indexOf(m.split);
    provenance[i] = PROVENANCE_KINDS.indexOf(m.provenance.kind);
    for (const name of Object.keys(m.attributes)) attributeNames.add(name);
  }
  if (classes.length > MAX_CODES) {
    throw new InvalidInputError(`The project has ${classes.length} classes; Hearth supports up to ${MAX_CODES}. Merge classes, then try again.`);
  }

  const attributes: DatasetVersion['attributes'] = {};
  for (const name of attributeNames) {
    const values = [...new Set(metas.flatMap((m) => (name in m.attributes ? [m.attributes[name] as string] : [])))].sort();
    if (values.length > MAX_CODES) {
      throw new InvalidInputError(
        `Attribute "${name}" has ${values.length} different values; a group attribute may have up to ${MAX_CODES}. ` +
          'Remove that column from the CSV (an id column is not a group) and import the CSV again.',
      );
    }
    const valueIndex = new Map(values.map((v, i) => [v, i]));
    const codes = new Int16Array(n);
    for (const [i, m] of metas.entries()) {
      const v = m.attributes[name];
      codes[i] = v === undefined ? -1 : (valueIndex.get(v) as number);
    }
    attributes[name] = { values, codes };
  }

  const version: DatasetVersion = {
    projectId,
    number: previous ? previous.value.number + 1 : 1,
    createdAt,
    parentVersionId: previous ? (previous.value.id ?? null) : null,
    recipe: opts.recipe,
    note: opts.note,
    classes,
    sampleIds,
    labels,
    splits,
    provenance,
    attributes,
  };
  const id = await stores.versions.add(version);
  return { ...version, id };
}

export async function getVersion(db: HearthDb, id: number): Promise<DatasetVersion> {
  const v = await db.get('versions', id);
  if (!v) throw new NotFoundError(`Dataset version ${id} does not exist (its project may have been deleted). Reload the project.`);
  return v;
}

export async function latestVersion(db: HearthDb, projectId: string): Promise<DatasetVersion | null> {
  const tx = db.transaction('versions', 'readonly');
  return runTx(tx, async () => {
    const cursor = await tx.store.index('by-project-number').openCursor(versionRange(projectId), 'prev');
    return cursor ? cursor.value : null;
  });
}

/** The project's versions without their columns, newest (highest number) first. */
export async function listVersions(db: HearthDb, projectId: string): Promise<VersionSummary[]> {
  const versions = await db.getAllFromIndex('versions', 'by-project-number', versionRange(projectId));
  return versions.reverse().map(({ sampleIds: _s, labels: _l, splits: _p, provenance: _v, attributes: _a, ...summary }) => summary);
}

/** Indices into v.sampleIds that pass the filter, ascending. An absent criterion keeps everything. */
/** Ids of the project's versions, oldest first; keys only, so no version columns are read. */
export async function versionIdsOf(db: HearthDb, projectId: string): Promise<number[]> {
  return db.getAllKeysFromIndex('versions', 'by-project-number', versionRange(projectId));
}

export function filterVersion(v: DatasetVersion, filter: VersionFilter): Uint32Array {
  const n = v.sampleIds.length;
  const keep = new Uint8Array(n).fill(1);
  const restrict = (codeOf: (i: number) => number, allowed: Set<number>): void => {
    for (let i = 0; i < n; i++) if (keep[i] && !allowed.has(codeOf(i))) keep[i] = 0;
  };
  if (filter.labels) {
    const allowed = new Set<number>();
    for (const l of filter.labels) {
      // A class name the version does not know matches nothing (indexOf's -1 would mean "unlabeled").
      if (l === null) allowed.add(-1);
      else if (v.classes.includes(l)) allowed.add(v.classes.indexOf(l));
    }
    restrict((i) => v.labels[i] as number, allowed);
  }
  if (filter.splits) restrict((i) => v.splits[i] as number, new Set(filter.splits.map((s) => SPLITS.indexOf(s))));
  if (filter.provenance) {
    restrict((i) => v.provenance[i] as number, new Set(filter.provenance.map((p) => PROVENANCE_KINDS.indexOf(p))));
  }
  for (const [name, wanted] of Object.entries(filter.attributes ?? {})) {
    const column = v.attributes[name];
    const allowed = new Set<number>();
    for (const value of wanted) {
      if (value === null) allowed.add(-1);
      else if (column && column.values.includes(value)) allowed.add(column.values.indexOf(value));
    }
    // An attribute this version never saw is missing (-1) on every sample.
    restrict(column ? (i) => column.codes[i] as number : () => -1, allowed);
  }
  let count = 0;
  for (let i = 0; i < n; i++) count += keep[i] as number;
  const out = new Uint32Array(count);
  let j = 0;
  for (let i = 0; i < n; i++) if (keep[i]) out[j++] = i;
  return out;
}

/** Counts for the dataset browser, over the samples that pass `filter` (all when absent). Columns only. */
export function versionCounts(v: DatasetVersion, filter?: VersionFilter): VersionCounts {
  const indices = filter ? filterVersion(v, filter) : null;
  const total = indices ? indices.length : v.sampleIds.length;
  const at = (k: number): number => (indices ? (indices[k] as number) : k);
  const labelName = (code: number): string => (code < 0 ? '' : (v.classes[code] as string));

  const byLabel: Record<string, number> = Object.fromEntries(v.classes.map((c) => [c, 0]));
  const bySplit = Object.fromEntries(SPLITS.map((s) => [s, 0])) as Record<Split, number>;
  const byProvenance = Object.fromEntries(PROVENANCE_KINDS.map((p) => [p, 0])) as Record<ProvenanceKind, number>;
  const byLabelAttribute: VersionCounts['byLabelAttribute'] = {};
  for (let k = 0; k < total; k++) {
    const i = at(k);
    const label = labelName(v.labels[i] as number);
    byLabel[label] = (byLabel[label] ?? 0) + 1;
    const split = SPLITS[v.splits[i] as number] as Split;
    bySplit[split]++;
    const kind = PROVENANCE_KINDS[v.provenance[i] as number] as ProvenanceKind;
    byProvenance[kind]++;
  }
  for (const [name, column] of Object.entries(v.attributes)) {
    const byValue: Record<string, Record<string, number>> = {};
    for (let k = 0; k < total; k++) {
      const i = at(k);
      const code = column.codes[i] as number;
      const value = code < 0 ? '' : (column.values[code] as string);
      const label = labelName(v.labels[i] as number);
      const row = (byValue[value] ??= {});
      row[label] = (row[label] ?? 0) + 1;
    }
    byLabelAttribute[name] = byValue;
  }
  return { total, byLabel, bySplit, byProvenance, byLabelAttribute };
}
