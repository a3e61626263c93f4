/**
 * The dataset model shared by every pipeline step. Plain data only: every record here
 * is stored in IndexedDB and crosses worker boundaries by structured clone.
 */
import type { InputSpec } from './stored-shapes';

/** Which part of the dataset a sample belongs to. `unassigned` = no split folder / column. */
export type Split = 'train' | 'val' | 'test' | 'unassigned';
export const SPLITS: readonly Split[] = ['train', 'val', 'test', 'unassigned'];

/** Where a sample came from. Every derived sample names its parent and how it was made. */
export type Provenance =
  | { kind: 'real' }
  | { kind: 'augmented'; parentId: number; recipe: Recipe }
  | { kind: 'synthetic'; parentId: number | null; recipe: Recipe };
export type ProvenanceKind = Provenance['kind'];

/** A reproducible description of how something was made: the tool, its parameters, its seed. */
export interface Recipe {
  tool: string;
  params: Record<string, unknown>;
  seed: number;
}

export interface Project {
  id: string;
  name: string;
  input: InputSpec;
  /** Class names in a fixed order; a label's index into this array is its class id. */
  classes: string[];
  /** Names of the group attributes seen so far (CSV columns past `filename,label`). */
  attributes: string[];
  createdAt: number;
  /** Where the project came from: `import`, or a sample dataset id such as `mnist`. */
  source: string;
  /**
   * The `number` the project's next new sample gets (SampleRecord.number). It only grows,
   * so the number of a deleted sample is never given to another one.
   */
  nextSampleNumber: number;
}

/** Original file bytes as imported (null for samples made from raw pixel datasets). */
export interface OriginalFile {
  bytes: ArrayBuffer;
  mimeType: string;
  width: number;
  height: number;
}

export interface SampleRecord {
  /**
   * Auto-increment key, global across projects; absent only before the first put. Every
   * other record (versions, runs, predictions, recipes) names a sample by it.
   */
  id?: number;
  projectId: string;
  /**
   * What the user sees (`#12`): 1, 2, 3… within the project, in the order samples were
   * stored, given from Project.nextSampleNumber in the transaction that adds the sample.
   * Never changes, never reused; ascending with `id` within a project.
   */
  number: number;
  /**
   * Stable identity within a project, unique: the relative path for imported files
   * (`train/cat/001.png`), `mnist/train/12345` for sample datasets. Re-importing the same
   * key is a no-op, which is what makes import resumable without duplicates.
   */
  key: string;
  /** File name without folders, as shown to the user and matched by CSV rows. */
  fileName: string;
  label: string | null;
  split: Split;
  attributes: Record<string, string>;
  provenance: Provenance;
  original: OriginalFile | null;
  /** Pixels at the project's input size, HWC, uint8. Length = width * height * channels. */
  pixelsHwc: Uint8Array;
  createdAt: number;
}

/** Sample metadata without pixels or original bytes: what lists and filters need. */
export type SampleMeta = Omit<SampleRecord, 'pixelsHwc' | 'original'>;

/** The heavy part of a sample, stored apart from its metadata under the same id. */
export interface SamplePixels {
  id: number;
  pixelsHwc: Uint8Array;
  original: OriginalFile | null;
}

/**
 * An immutable, columnar snapshot of a project's samples at one moment. Pixels are
 * immutable per sample id, so ids plus the metadata columns pin the data exactly.
 */
export interface DatasetVersion {
  id?: number;
  projectId: string;
  /** 1, 2, 3… per project. */
  number: number;
  createdAt: number;
  parentVersionId: number | null;
  /** What produced this version: an import, a sample dataset load, a rebalance… */
  recipe: Recipe | null;
  note: string;
  classes: string[];
  /** Sorted ascending. */
  sampleIds: Uint32Array;
  /** Index into `classes`, -1 for unlabeled. Parallel to sampleIds. */
  labels: Int16Array;
  /** Index into SPLITS. Parallel to sampleIds. */
  splits: Uint8Array;
  /** Index into PROVENANCE_KINDS: 0 real, 1 augmented, 2 synthetic. Parallel to sampleIds. */
  provenance: Uint8Array;
  /** Per attribute: the distinct values and, parallel to sampleIds, a code (-1 = missing). */
  attributes: Record<string, { values: string[]; codes: Int16Array }>;
}
export const PROVENANCE_KINDS: readonly ProvenanceKind[] = ['real', 'augmented', 'synthetic'];

export type * from './run-records';
export type * from './stored-shapes';

/** One file of an import that could not be imported, with what to do about it. */
export interface ImportFileError {
  key: string;
  /** Error class name, e.g. `CorruptImageError`. */
  name: string;
  message: string;
}

export type ImportStatus = 'staging' | 'decoding' | 'done' | 'cancelled' | 'failed';

/**
 * A running or finished import. Files are first staged (bytes copied into IndexedDB),
 * then decoded one by one; a decoded sample and the removal of its staged bytes commit
 * in one transaction, so a reload at any point resumes without loss or duplicates.
 */
export interface ImportRecord {
  id: string;
  projectId: string;
  status: ImportStatus;
  createdAt: number;
  updatedAt: number;
  /** Files seen in the drop (images and CSVs). */
  totalFiles: number;
  staged: number;
  decoded: number;
  skippedExisting: number;
  errors: ImportFileError[];
  /** CSV rows applied (labels / attributes set on samples). */
  csvRowsApplied: number;
  /** Version created when the import finished. */
  versionId: number | null;
}

/** Bytes of one dropped file, waiting to be decoded. */
export interface StagedFile {
  importId: string;
  key: string;
  bytes: ArrayBuffer;
  /** Label / split implied by the folder layout, decided at staging time. */
  label: string | null;
  split: Split;
}
