/**
 * The data worker: decoding and storage. Wiring only — every function is in src/lib.
 * It owns its own IndexedDB connection; the main thread never holds pixels it does
 * not show.
 */
import { expose, transfer } from 'comlink';
import type { ProgressFn } from '../src/lib/jobs/progress';
import { openHearthDb, type HearthDb } from '../src/lib/storage/schema';
import { createProject, deleteProject, getProject, listProjects } from '../src/lib/storage/projects';
import { getPixels, getSampleMeta, landedSamples, sampleIdOfNumber, sampleNumbers } from '../src/lib/storage/samples';
import {
  filterVersion,
  getVersion,
  latestVersion,
  versionCounts,
  type VersionFilter,
} from '../src/lib/storage/versions';
import { requestPersistence, storageInfo } from '../src/lib/storage/quota';
import { getImport, resumeImport, startImport, unfinishedImports, type DroppedFile } from '../src/lib/data/import/import-job';
import { browserDecoder } from '../src/lib/data/import/browser-decoder';
import { SAMPLE_DATASETS, type SampleDatasetId } from '../src/lib/data/samples/catalog';
import {
  incompleteSampleLoad,
  incompleteSampleLoads,
  loadSampleDataset,
  resumeSampleDataset,
} from '../src/lib/data/samples/load';
import { JobRegistry } from '../src/lib/jobs/registry';
import type { Split } from '../src/lib/storage/records';
import { analyzeVersion } from '../src/lib/analysis/analyze-job';
import {
  countCells,
  getPlan,
  planRebalance,
  savePlan,
  targetAttribute,
  type RebalancePlan,
  type RebalanceTarget,
} from '../src/lib/analysis/rebalance';
import { removeSamples } from '../src/lib/storage/remove';
import { findVersionDuplicates } from '../src/lib/analysis/find-duplicates';
import type { PipelineSpec } from '../src/lib/augment/pipeline';
import { deletePipeline, listPipelines, savePipeline, type PipelineDraft } from '../src/lib/augment/pipelines';
import { previewPipeline, type PreviewRequest } from '../src/lib/augment/preview';
import { runAugmentRebalance, type AugmentTarget } from '../src/lib/augment/rebalance-augment';
import { listTransforms } from '../src/lib/augment/registry';
import { fetchDatasetFile } from '../src/lib/data/fetch-dataset';

let dbPromise: Promise<HearthDb> | null = null;
const db = (): Promise<HearthDb> => (dbPromise ??= openHearthDb());
const jobs = new JobRegistry();

const api = {
  analyze: async (jobId: string, req: { versionId: number; split: Split | 'all'; seed: number }, onProgress: ProgressFn) =>
    jobs.run(jobId, async (cancel) =>
      analyzeVersion(await db(), req.versionId, { split: req.split, seed: req.seed, onProgress, cancel }),
    ),
  findDuplicates: async (jobId: string, req: { versionId: number; maxDistance: number }, onProgress: ProgressFn) =>
    jobs.run(jobId, async (cancel) => findVersionDuplicates(await db(), req.versionId, { maxDistance: req.maxDistance, onProgress, cancel })),
  removeSamples: async (projectId: string, ids: number[], note: string) => {
    const version = await removeSamples(await db(), projectId, ids, { note });
    return { versionId: version.id ?? -1, number: version.number };
  },
  planRebalance: async (versionId: number, target: RebalanceTarget) => {
    const version = await getVersion(await db(), versionId);
    return planRebalance(countCells(version, targetAttribute(target)), target);
  },
  getPlan: async (projectId: string) => getPlan(await db(), projectId),
  augmentTransforms: () => listTransforms(),
  augmentPreview: async (req: PreviewRequest) => previewPipeline(await db(), req),
  augmentRebalance: async (
    jobId: string,
    req: { projectId: string; versionId: number; pipeline: PipelineSpec; seed: number; targets: AugmentTarget[] },
    onProgress: ProgressFn,
  ) =>
    jobs.run(jobId, async (cancel) => runAugmentRebalance(await db(), { ...req, onProgress, cancel })),
  listAugmentPipelines: async (projectId: string) => listPipelines(await db(), projectId),
  saveAugmentPipeline: async (projectId: string, draft: PipelineDraft) => savePipeline(await db(), projectId, draft),
  deleteAugmentPipeline: async (projectId: string, id: string) => deletePipeline(await db(), projectId, id),
  savePlan: async (projectId: string, plan: RebalancePlan) => savePlan(await db(), projectId, plan),
  listProjects: async () => listProjects(await db()),
  getProject: async (id: string) => getProject(await db(), id),
  createProject: async (init: Parameters<typeof createProject>[1]) => createProject(await db(), init),
  deleteProject: async (id: string) => deleteProject(await db(), id),
  latestVersion: async (projectId: string) => latestVersion(await db(), projectId),
  versionCounts: async (versionId: number, filter?: VersionFilter) =>
    versionCounts(await getVersion(await db(), versionId), filter),
  filterVersion: async (versionId: number, filter: VersionFilter) => {
    const indices = filterVersion(await getVersion(await db(), versionId), filter);
    return transfer(indices, [indices.buffer]);
  },
  getSampleMeta: async (id: number) => getSampleMeta(await db(), id),
  getPixels: async (ids: number[]) => getPixels(await db(), ids),
  /** Each sample's number within its project (what the user sees), null where it is gone. */
  sampleNumbers: async (ids: number[]) => sampleNumbers(await db(), ids),
  sampleIdOfNumber: async (projectId: string, number: number) => sampleIdOfNumber(await db(), projectId, number),
  /** The project's sample count and newest samples: an import's progress as samples land. */
  landedSamples: async (projectId: string, limit: number) => landedSamples(await db(), projectId, limit),
  sampleDatasets: () =>
    SAMPLE_DATASETS.map((d) => ({ id: d.id, name: d.name, description: d.description, samples: d.samples })),
  /** `projectId` lets the caller know the project before the load makes it (to follow and resume it). */
  loadSampleDataset: async (jobId: string, id: SampleDatasetId, onProgress: ProgressFn, projectId?: string) =>
    jobs.run(jobId, async (cancel) =>
      loadSampleDataset(await db(), id, fetchDatasetFile, { onProgress, cancel, projectId }),
    ),
  incompleteSampleLoad: async (projectId: string) => incompleteSampleLoad(await db(), projectId),
  incompleteSampleLoads: async () => incompleteSampleLoads(await db()),
  resumeSampleDataset: async (jobId: string, projectId: string, onProgress: ProgressFn) =>
    jobs.run(jobId, async (cancel) =>
      resumeSampleDataset(await db(), projectId, fetchDatasetFile, { onProgress, cancel }),
    ),
  importFiles: async (jobId: string, projectId: string, files: DroppedFile[], onProgress: ProgressFn) =>
    jobs.run(jobId, async (cancel) =>
      startImport(await db(), projectId, files, { decoder: browserDecoder, onProgress, cancel }),
    ),
  unfinishedImports: async () => unfinishedImports(await db()),
  resumeImport: async (jobId: string, importId: string, onProgress: ProgressFn) =>
    jobs.run(jobId, async (cancel) =>
      resumeImport(await db(), importId, { decoder: browserDecoder, onProgress, cancel }),
    ),
  getImport: async (importId: string) => getImport(await db(), importId),
  storage: () => storageInfo(),
  persist: () => requestPersistence(),
  cancel: (jobId: string) => jobs.cancel(jobId),
};

expose(api);
export type DataApi = typeof api;
