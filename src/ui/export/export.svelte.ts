import { getContext, setContext } from 'svelte';
// Type-only: export-job.ts pulls in tfjs, which must stay out of the main thread's bundle.
import type { ExportReport, ExportRequest } from '../../lib/export/export-job';
import { describeError } from '../../lib/jobs/errors';
import { downloadFileName, downloadsAllowed, mimeTypeOf, type ExportSettings } from './export-view';
import type { ModelInfo } from '../evaluate/evaluate.svelte';
import type { Job, JobError, JobManager } from '../shell/jobs.svelte';
import type { ComputeApi, Methods } from '../shell/service-types';

export const EXPORT_JOB_KIND = 'export';

/**
 * Chromium starts a download synchronously on click(), but Firefox reads the Blob URL a
 * moment later: revoking at once can save an empty file there.
 */
const REVOKE_URL_DELAY_MS = 10_000;

/** What the Export page needs of the compute worker, typed by its API. */
export interface ExportService
  extends Methods<ComputeApi, 'listModels' | 'listExports' | 'startExport' | 'exportFiles' | 'overrideExport'> {
  /** Stops the export job `jobId` (it runs in the compute worker). */
  cancel(jobId: string): Promise<void>;
}

/**
 * The Export page's state: the project's models and earlier exports, the report shown,
 * and the files of that export once fetched. One instance per app, handed out by
 * context, so switching pages keeps the report.
 */
export class ExportState {
  models = $state.raw<ModelInfo[]>([]);
  /** The open project's exports, newest first. */
  exports = $state.raw<ExportReport[]>([]);
  projectId = $state<string | null>(null);
  loading = $state(false);
  loadError = $state<JobError | null>(null);

  /** The report on the page: the export just made, or one picked from the history. */
  report = $state.raw<ExportReport | null>(null);
  running = $state(false);
  exportError = $state<JobError | null>(null);
  overriding = $state(false);
  overrideError = $state<JobError | null>(null);
  /** The file being fetched for download, or null. */
  downloading = $state<string | null>(null);
  downloadError = $state<JobError | null>(null);

  readonly #service: ExportService;
  readonly #jobs: JobManager;
  /**
   * The shown export's files, fetched once: an export is a few MB at most, and the user
   * usually downloads several of its files in a row. One export at a time, so browsing
   * the history does not pile up buffers.
   */
  #files: { exportId: string; pending: Promise<Record<string, Uint8Array>> } | null = null;

  constructor(service: ExportService, jobs: JobManager) {
    this.#service = service;
    this.#jobs = jobs;
  }

  /** The export job running for `projectId`, for the page's progress line. */
  jobFor(projectId: string): Job | undefined {
    return this.#jobs.running.find((j) => j.kind === EXPORT_JOB_KIND && j.subject === projectId);
  }

  /** Lists the project's models and exports; a different project drops the report. */
  async openProject(projectId: string): Promise<void> {
    if (this.projectId !== projectId) {
      this.report = null;
      this.exportError = null;
      this.overrideError = null;
      this.downloadError = null;
      this.#files = null;
    }
    this.projectId = projectId;
    this.loading = true;
    try {
      const [models, exports] = await Promise.all([this.#service.listModels(projectId), this.#service.listExports(projectId)]);
      if (this.projectId !== projectId) return;
      this.models = [...models].sort((a, b) => b.createdAt - a.createdAt);
      this.exports = [...exports].sort((a, b) => b.createdAt - a.createdAt);
      // After a reload the last export is still there: show it rather than an empty page.
      this.report ??= this.exports[0] ?? null;
      this.loadError = null;
    } catch (err) {
      if (this.projectId === projectId) this.loadError = describeError(err);
    } finally {
      if (this.projectId === projectId) this.loading = false;
    }
  }

  /** Quantizes and exports a model as an 'export' job; the report lands in `report` and the history. */
  async start(projectId: string, settings: ExportSettings): Promise<void> {
    if (this.running) return;
    const name = this.models.find((m) => m.modelId === settings.modelId)?.name ?? settings.modelId;
    const req: ExportRequest = { ...settings, exportId: crypto.randomUUID() };
    this.running = true;
    this.exportError = null;
    try {
      const result = await this.#jobs.start(
        EXPORT_JOB_KIND,
        `Export ${name} to int8`,
        (jobId, onProgress) => this.#service.startExport(jobId, req, onProgress),
        { subject: projectId, cancel: (jobId) => this.#service.cancel(jobId) },
      );
      if (!result.ok) {
        // A cancel is the user's own doing: the drawer already says so, no error here.
        if (result.status === 'failed') this.exportError = result.error;
        return;
      }
      if (this.projectId !== projectId) return;
      this.#remember(result.value);
      this.report = result.value;
      this.overrideError = null;
      this.downloadError = null;
    } finally {
      this.running = false;
    }
  }

  /** Shows an earlier export of the open project. */
  select(exportId: string): void {
    const picked = this.exports.find((r) => r.exportId === exportId);
    if (!picked) return;
    this.report = picked;
    this.overrideError = null;
    this.downloadError = null;
  }

  /** Records the user's decision to download the shown export despite failing data unit tests. */
  async override(): Promise<void> {
    const report = this.report;
    if (!report || report.override !== null || this.overriding) return;
    this.overriding = true;
    this.overrideError = null;
    try {
      const updated = await this.#service.overrideExport(report.exportId);
      this.#remember(updated);
      if (this.report?.exportId === updated.exportId) this.report = updated;
    } catch (err) {
      this.overrideError = describeError(err);
    } finally {
      this.overriding = false;
    }
  }

  /** Saves one file of the shown export through the browser's download, fetching the export's files once. */
  async download(name: string): Promise<void> {
    const report = this.report;
    if (!report || !downloadsAllowed(report)) return;
    this.downloading = name;
    this.downloadError = null;
    try {
      const files = await this.#filesOf(report.exportId);
      const bytes = files[name];
      if (bytes) saveBytes(bytes, downloadFileName(name), mimeTypeOf(name));
      else this.downloadError = { name: 'NotFoundError', message: `The export has no file "${name}": export the model again.` };
    } catch (err) {
      this.downloadError = describeError(err);
    } finally {
      this.downloading = null;
    }
  }

  #filesOf(exportId: string): Promise<Record<string, Uint8Array>> {
    if (this.#files?.exportId === exportId) return this.#files.pending;
    const pending = this.#service.exportFiles(exportId);
    const entry = { exportId, pending };
    this.#files = entry;
    // A failure is not kept: the next click asks again.
    pending.catch(() => {
      if (this.#files === entry) this.#files = null;
    });
    return pending;
  }

  /** Puts a new or updated report into the history, newest first. */
  #remember(report: ExportReport): void {
    this.exports = [report, ...this.exports.filter((r) => r.exportId !== report.exportId)].sort((a, b) => b.createdAt - a.createdAt);
  }
}

/** Hands bytes to the browser as a download named `fileName`, through a Blob URL revoked afterwards. */
function saveBytes(bytes: Uint8Array, fileName: string, mimeType: string): void {
  const url = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: mimeType }));
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  a.rel = 'noopener';
  a.style.display = 'none';
  document.body.append(a);
  try {
    a.click();
  } finally {
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), REVOKE_URL_DELAY_MS);
  }
}

const EXPORT_KEY = Symbol('hearth.export');

export function setExport(state: ExportState): ExportState {
  return setContext(EXPORT_KEY, state);
}

export function getExport(): ExportState {
  const state = getContext<ExportState | undefined>(EXPORT_KEY);
  if (!state) throw new Error('getExport() called outside the studio: App.svelte sets the ExportState context.');
  return state;
}
