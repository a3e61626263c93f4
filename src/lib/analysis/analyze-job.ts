/**
 * The analyze job: reads a dataset version's pixels from IndexedDB in chunks, computes
 * per-sample image statistics, then the data-bias metrics and the shortcut detector
 * (data-bias.ts) on the version's columns. Runs in the analysis worker and in Node.
 *
 * Memory: only one chunk of pixels is alive at a time; what grows with the dataset is the
 * per-sample statistics (SampleStatColumns: 30 bytes a sample, 2.1 MB for 70,000) and the
 * version's columns, which the report returns.
 */
import type { InputSpec, SamplePixels, Split } from '../storage/records';
import { getPixelRecords } from '../storage/samples';
import { InvalidInputError } from '../jobs/errors';
import { NEVER_CANCELLED, ProgressReporter, type CancelToken, type ProgressFn } from '../jobs/progress';
import { getProject } from '../storage/projects';
import type { HearthDb } from '../storage/schema';
import { getVersion } from '../storage/versions';
import { analyzeDataBias, versionColumns, type DataBiasAnalysis } from './data-bias';
import { computeImageStats } from './image-stats';
import { createStatColumns, setSampleStats, type SampleStatColumns } from './shortcuts';

/** Samples read per IndexedDB transaction at most (~0.8 MB of 28×28 gray pixels). */
export const ANALYZE_CHUNK_SAMPLES = 1000;
/**
 * Bytes (pixels plus original files) one chunk may bring into memory. A record is read
 * whole, original file included, so 1,000 photos of 200 KB would be 200 MB at once: after
 * each chunk the next one is sized to this budget from the bytes per sample just seen.
 */
export const ANALYZE_CHUNK_BYTES = 32 * 1024 * 1024;

export interface AnalyzeVersionOptions {
  /** Which split to analyse; 'all' (the default) = every sample of the version. */
  split?: Split | 'all';
  onProgress?: ProgressFn;
  cancel?: CancelToken;
  /** Seeds the shortcut detector's permutation baseline; recorded in the report. */
  seed: number;
  /** Per attribute, its privileged value(s); see data-bias.ts. */
  privileged?: Record<string, readonly string[]>;
}

export interface DataBiasReport extends DataBiasAnalysis {
  versionId: number;
  versionNumber: number;
  projectId: string;
  split: Split | 'all';
  seed: number;
  input: Pick<InputSpec, 'width' | 'height' | 'channels'>;
  /** Analysed samples in order; `stats` rows are parallel to it. */
  sampleIds: Uint32Array;
  /** Per-sample statistics, for histograms and slices in the UI. */
  stats: SampleStatColumns;
  timingsMs: { readAndStats: number; metrics: number; total: number };
  createdAt: number;
}

/** Pixel records of `ids`, in order, original files included (their width and height are needed). */
async function readChunk(db: HearthDb, ids: number[]): Promise<SamplePixels[]> {
  return getPixelRecords(
    db,
    ids,
    (id) => new InvalidInputError(`Sample id ${id} of this dataset version has no pixels (it may have been deleted). Create a new version and analyse that.`),
  );
}

export async function analyzeVersion(db: HearthDb, versionId: number, opts: AnalyzeVersionOptions): Promise<DataBiasReport> {
  const started = performance.now();
  const cancel = opts.cancel ?? NEVER_CANCELLED;
  const split = opts.split ?? 'all';
  const progress = new ProgressReporter(opts.onProgress);
  cancel.throwIfCancelled();

  const version = await getVersion(db, versionId);
  const project = await getProject(db, version.projectId);
  const { width, height, channels } = project.input;
  const { indices, input } = versionColumns(version, split);
  const total = indices.length;
  const sampleIds = Uint32Array.from(indices, (i) => version.sampleIds[i] as number);
  const stats = createStatColumns(total);

  const message = `Computing image statistics (${split === 'all' ? 'all splits' : split})`;
  progress.report(0, total, message, true);
  let done = 0;
  let chunk = ANALYZE_CHUNK_SAMPLES;
  while (done < total) {
    cancel.throwIfCancelled();
    const ids = Array.from(sampleIds.subarray(done, Math.min(total, done + chunk)));
    const records = await readChunk(db, ids);
    let bytes = 0;
    for (const [k, r] of records.entries()) {
      bytes += r.pixelsHwc.byteLength + (r.original?.bytes.byteLength ?? 0);
      const original = r.original ? { width: r.original.width, height: r.original.height } : null;
      setSampleStats(stats, done + k, computeImageStats(r.pixelsHwc, width, height, channels), original);
    }
    done += records.length;
    const perSample = bytes / Math.max(1, records.length);
    chunk = Math.max(1, Math.min(ANALYZE_CHUNK_SAMPLES, Math.floor(ANALYZE_CHUNK_BYTES / Math.max(1, perSample))));
    progress.report(done, total, message);
  }
  const readAndStats = performance.now() - started;

  cancel.throwIfCancelled();
  progress.report(total, total, 'Computing bias metrics and looking for shortcuts', true);
  const metricsStart = performance.now();
  const analysis = analyzeDataBias({ ...input, stats }, { seed: opts.seed, privileged: opts.privileged });
  const metrics = performance.now() - metricsStart;
  progress.report(total, total, 'Done', true);

  return {
    ...analysis,
    versionId,
    versionNumber: version.number,
    projectId: version.projectId,
    split,
    seed: opts.seed,
    input: { width, height, channels },
    sampleIds,
    stats,
    timingsMs: { readAndStats, metrics, total: performance.now() - started },
    createdAt: Date.now(),
  };
}
