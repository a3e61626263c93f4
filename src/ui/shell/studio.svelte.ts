import { getContext, setContext } from 'svelte';
import type { DatasetVersion, ImportRecord, Project } from '../../lib/storage/records';
import { describeError } from '../../lib/jobs/errors';
import { formatCount } from '../format';
import { SampleNumbers } from '../shared/sample-numbers.svelte';
import type { JobError, JobManager, JobResult, JobRunner } from './jobs.svelte';
import type { Called, DataApi } from './service-types';
import type {
  DataClient,
  DroppedFile,
  ImportResult,
  ProjectInit,
  SampleDatasetId,
  SampleDatasetInfo,
  StorageInfo,
} from './data-types';

/** Remembers which project was open, so a reload comes back to it. */
const CURRENT_PROJECT_KEY = 'hearth.currentProject';
/** How often the status bar re-reads storage use while idle (imports change it). */
export const STORAGE_REFRESH_MS = 15_000;

/** An unfinished sample-dataset load (see src/lib/data/samples/load.ts). */
export type IncompleteSampleLoad = NonNullable<Awaited<ReturnType<DataClient['incompleteSampleLoad']>>>;

export interface Notice {
  id: number;
  kind: 'info' | 'error';
  text: string;
}

/**
 * The studio's shared state: the projects, the open project and its latest dataset
 * version, storage and connectivity. One instance per app, handed out by context.
 */
export class StudioState {
  projects = $state.raw<Project[]>([]);
  project = $state.raw<Project | null>(null);
  /** Latest version of the open project; raw because its columns are big typed arrays. */
  version = $state.raw<DatasetVersion | null>(null);
  /** The open project's unfinished sample-dataset load, or null (it is complete or not a sample). */
  incomplete = $state.raw<IncompleteSampleLoad | null>(null);
  /** Project id → sample dataset, for every sample load running now (their jobs' subject is the project). */
  runningSampleLoads = $state<Record<string, SampleDatasetId>>({});
  sampleDatasets = $state.raw<SampleDatasetInfo[]>([]);
  storage = $state.raw<StorageInfo | null>(null);
  /** The report of the import that finished last (in this session). */
  lastImport = $state.raw<ImportResult | null>(null);
  loading = $state(true);
  loadError = $state<JobError | null>(null);
  online = $state(typeof navigator === 'undefined' ? true : navigator.onLine);
  offlineReady = $state(false);
  notices = $state<Notice[]>([]);

  readonly data: DataClient;
  readonly jobs: JobManager;
  /** Sample id → the number the user sees (`#12`), for every page. */
  readonly sampleNumbers: SampleNumbers;
  #nextNoticeId = 1;

  constructor(data: DataClient, jobs: JobManager) {
    this.data = data;
    this.jobs = jobs;
    this.sampleNumbers = new SampleNumbers({
      sampleNumbers: (ids) => data.sampleNumbers(ids),
      sampleIdOfNumber: (projectId, number) => data.sampleIdOfNumber(projectId, number),
    });
  }

  // What the Data page's components read of the data worker, through the studio (the Data
  // page's state) rather than by reaching into its client.
  /** A version's label and attribute counts, of the samples that pass `filter` if given. */
  readonly versionCounts: Called<DataApi['versionCounts']> = (versionId, filter) => this.data.versionCounts(versionId, filter);
  /** The indices of a version's samples that pass `filter`. */
  readonly filterVersion: Called<DataApi['filterVersion']> = (versionId, filter) => this.data.filterVersion(versionId, filter);
  readonly getSampleMeta: Called<DataApi['getSampleMeta']> = (id) => this.data.getSampleMeta(id);
  /** Sample pixels (HWC uint8), for thumbnails and the inspector. */
  readonly getPixels: Called<DataApi['getPixels']> = (ids) => this.data.getPixels(ids);
  /** The project's sample count and newest samples, while an import decodes them. */
  readonly landedSamples: Called<DataApi['landedSamples']> = (projectId, limit) => this.data.landedSamples(projectId, limit);

  /** Loads projects, opens the last one, and resumes imports a reload interrupted. */
  async init(): Promise<void> {
    this.loading = true;
    try {
      const [projects, samples] = await Promise.all([this.data.listProjects(), this.data.sampleDatasets()]);
      this.projects = projects;
      this.sampleDatasets = samples;
      const remembered = localStorage.getItem(CURRENT_PROJECT_KEY);
      const first = projects.find((p) => p.id === remembered) ?? projects[0];
      if (first) await this.openProject(first.id);
      this.loadError = null;
    } catch (err) {
      this.loadError = describeError(err);
    } finally {
      this.loading = false;
    }
    void this.refreshStorage();
    void this.#resumeImports();
    void this.#resumeSampleLoads();
  }

  async refreshProjects(): Promise<void> {
    this.projects = await this.data.listProjects();
  }

  async openProject(id: string): Promise<void> {
    const [project, version] = await Promise.all([this.data.getProject(id), this.data.latestVersion(id)]);
    // Only a project without a version can be an unfinished sample load: skip the question otherwise.
    const incomplete = version === null ? await this.data.incompleteSampleLoad(id) : null;
    this.project = project;
    this.version = version;
    this.incomplete = incomplete;
    localStorage.setItem(CURRENT_PROJECT_KEY, id);
  }

  /** Re-reads the open project and its latest version (after an import made a new one). */
  async reloadProject(): Promise<void> {
    if (this.project) await this.openProject(this.project.id);
  }

  async createProject(init: ProjectInit): Promise<Project> {
    const wasFirst = this.projects.length === 0;
    const project = await this.data.createProject(init);
    await this.refreshProjects();
    await this.openProject(project.id);
    if (wasFirst) await this.#askPersistence();
    return project;
  }

  async deleteProject(id: string): Promise<void> {
    await this.data.deleteProject(id);
    await this.refreshProjects();
    if (this.project?.id === id) {
      this.project = null;
      this.version = null;
      this.incomplete = null;
      this.lastImport = null;
      localStorage.removeItem(CURRENT_PROJECT_KEY);
      const next = this.projects[0];
      if (next) await this.openProject(next.id);
    }
    void this.refreshStorage();
  }

  /** Loads a bundled sample dataset as a job, then opens the project it made. */
  async loadSampleDataset(id: SampleDatasetId): Promise<void> {
    const info = this.sampleDatasets.find((d) => d.id === id);
    const wasFirst = this.projects.length === 0;
    // Chosen here rather than by the worker so the job can name its project from the start.
    const projectId = crypto.randomUUID();
    const result = await this.#runSampleLoad(projectId, id, `Load ${info?.name ?? id}`, (jobId, onProgress) =>
      this.data.loadSampleDataset(jobId, id, onProgress, projectId),
    );
    // A cancelled or failed load may still have written a project: list what is there.
    await this.refreshProjects();
    if (result.ok) {
      await this.openProject(result.value.projectId);
      if (wasFirst) await this.#askPersistence();
    } else if (this.projects.some((p) => p.id === projectId)) {
      // Open what the load left, so the Data page says how far it got and offers to continue.
      await this.openProject(projectId);
    } else if (!this.project && this.projects[0]) {
      await this.openProject(this.projects[0].id);
    }
    void this.refreshStorage();
  }

  /** Continues an unfinished sample load into its own project as a job, without duplicates. */
  async continueSampleLoad(load: Pick<IncompleteSampleLoad, 'projectId' | 'projectName' | 'datasetId'>): Promise<void> {
    // A click that races the automatic resume after a reload must not start a second job.
    if (this.runningSampleLoads[load.projectId]) return;
    await this.#runSampleLoad(load.projectId, load.datasetId, `Continue loading ${load.projectName}`, (jobId, onProgress) =>
      this.data.resumeSampleDataset(jobId, load.projectId, onProgress),
    );
    await this.refreshProjects();
    if (this.project?.id === load.projectId) await this.reloadProject();
    void this.refreshStorage();
  }

  async #runSampleLoad(
    projectId: string,
    datasetId: SampleDatasetId,
    title: string,
    run: JobRunner<{ projectId: string; versionId: number }>,
  ): Promise<JobResult<{ projectId: string; versionId: number }>> {
    this.runningSampleLoads[projectId] = datasetId;
    try {
      return await this.jobs.start('sample-dataset', title, run, { subject: projectId });
    } finally {
      delete this.runningSampleLoads[projectId];
    }
  }

  /** Imports files into the open project as a job; the report lands in `lastImport`. */
  async importFiles(files: DroppedFile[]): Promise<void> {
    const project = this.project;
    if (!project) return;
    const result = await this.jobs.start(
      'import',
      `Import ${files.length} files into ${project.name}`,
      (jobId, onProgress) => this.data.importFiles(jobId, project.id, files, onProgress),
      { subject: project.id, cancelledWhen: (r) => r.status === 'cancelled' },
    );
    if (result.ok) this.lastImport = result.value;
    await this.#afterImport(project.id);
  }

  async refreshStorage(): Promise<void> {
    try {
      this.storage = await this.data.storage();
    } catch {
      // Storage estimates are advisory: a browser that refuses them leaves "unknown".
      this.storage = null;
    }
  }

  notify(kind: Notice['kind'], text: string): void {
    this.notices.push({ id: this.#nextNoticeId++, kind, text });
  }

  dismiss(id: number): void {
    this.notices = this.notices.filter((n) => n.id !== id);
  }

  /**
   * Follows connectivity and the service worker's offline-ready flag (register-sw.ts
   * sets `data-offline-ready="true"` on <html>). Returns the cleanup.
   */
  watchEnvironment(): () => void {
    const update = () => {
      this.online = navigator.onLine;
    };
    window.addEventListener('online', update);
    window.addEventListener('offline', update);
    const root = document.documentElement;
    const readFlag = () => {
      this.offlineReady = root.dataset.offlineReady === 'true';
    };
    readFlag();
    const observer = new MutationObserver(readFlag);
    observer.observe(root, { attributes: true, attributeFilter: ['data-offline-ready'] });
    const timer = setInterval(() => void this.refreshStorage(), STORAGE_REFRESH_MS);
    return () => {
      window.removeEventListener('online', update);
      window.removeEventListener('offline', update);
      observer.disconnect();
      clearInterval(timer);
    };
  }

  async #afterImport(projectId: string): Promise<void> {
    await this.refreshProjects();
    if (this.project?.id === projectId) await this.reloadProject();
    void this.refreshStorage();
  }

  /** A reload mid-import must continue by itself: each unfinished import becomes a job again. */
  async #resumeImports(): Promise<void> {
    let unfinished: ImportResult[];
    try {
      unfinished = await this.data.unfinishedImports();
    } catch (err) {
      const e = describeError(err);
      this.notify('error', `Could not look for unfinished imports (${e.name}): ${e.message}`);
      return;
    }
    // Only imports a reload cut off resume by themselves; one the user cancelled, or one
    // that failed, waits for the Resume button in its report.
    const interrupted = unfinished.filter((r) => r.status === 'staging' || r.status === 'decoding');
    const latestStopped = unfinished.find((r) => r.status === 'cancelled' || r.status === 'failed');
    if (latestStopped && this.project?.id === latestStopped.projectId) this.lastImport = latestStopped;
    if (interrupted.length === 0) return;
    this.notify(
      'info',
      interrupted.length === 1
        ? 'An import was interrupted by a reload; it is continuing where it stopped.'
        : `${interrupted.length} imports were interrupted by a reload; they are continuing where they stopped.`,
    );
    await Promise.all(interrupted.map((rec) => this.resumeImport(rec)));
  }

  /**
   * A reload mid-load must continue by itself, like an import: each sample load the page
   * left behind (not one the user cancelled, nor one that failed) becomes a job again.
   */
  async #resumeSampleLoads(): Promise<void> {
    let loads: IncompleteSampleLoad[];
    try {
      loads = await this.data.incompleteSampleLoads();
    } catch (err) {
      const e = describeError(err);
      this.notify('error', `Could not look for unfinished sample datasets (${e.name}): ${e.message}`);
      return;
    }
    const interrupted = loads.filter((l) => l.stoppedBy === 'interrupted');
    const [only] = interrupted;
    if (!only) return;
    this.notify(
      'info',
      interrupted.length === 1
        ? `${only.projectName} did not finish loading before the page was reloaded ` +
            `(${formatCount(only.loaded)} of ${formatCount(only.total)} samples); it is continuing where it stopped.`
        : `${interrupted.length} sample datasets did not finish loading before the page was reloaded; they are continuing where they stopped.`,
    );
    // One after another: they would only compete for the same cores and disk.
    for (const load of interrupted) await this.continueSampleLoad(load);
  }

  /** Continues an interrupted, cancelled or failed import as a job, without duplicates. */
  async resumeImport(rec: Pick<ImportRecord, 'id' | 'projectId'>): Promise<void> {
    const name = this.projects.find((p) => p.id === rec.projectId)?.name ?? 'a project';
    const result = await this.jobs.start(
      'import',
      `Resume import into ${name}`,
      (jobId, onProgress) => this.data.resumeImport(jobId, rec.id, onProgress),
      { subject: rec.projectId, cancelledWhen: (r) => r.status === 'cancelled' },
    );
    if (result.ok) this.lastImport = result.value;
    await this.#afterImport(rec.projectId);
  }

  /** Asked once, when the first project appears: without it the browser may evict the data. */
  async #askPersistence(): Promise<void> {
    try {
      await this.data.persist();
    } catch {
      // Refusal is a valid answer; the status bar then shows "not persistent".
    }
    await this.refreshStorage();
  }
}

const STUDIO_KEY = Symbol('hearth.studio');

export function setStudio(studio: StudioState): StudioState {
  return setContext(STUDIO_KEY, studio);
}

export function getStudio(): StudioState {
  const studio = getContext<StudioState | undefined>(STUDIO_KEY);
  if (!studio) throw new Error('getStudio() called outside the studio: App.svelte sets the StudioState context.');
  return studio;
}
