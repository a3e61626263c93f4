/**
 * The compute worker: owns tfjs and its backend. On start it probes every backend and
 * uses the fastest, unless the caller forces one; then it trains, evaluates and explains
 * models. Wiring only: the logic is in src/lib (compute, train, analysis).
 */
import { expose } from 'comlink';
// The app's CSP allows only its own origin, so the wasm binaries are bundled assets.
import wasmUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimdUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreadedSimdUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import { chooseFastest, describeWebGpuAdapter, probeBackends, useBackend, type BackendName, type BackendReport, type ProbeOptions } from '$lib/compute/backends';
import { configureWasmPaths, tf } from '$lib/compute/register';
import { fingerprintOf, loadCachedProbe, saveProbe, type CachedProbe, type DeviceFingerprint } from '$lib/compute/probe-cache';
import type { Slice } from '$lib/evaluate/slices';
import {
  evaluateStored,
  getSlices,
  modelBiasFor,
  groupGapsFor,
  runSlicesFor,
  saliencyFor,
  saveSlices,
  type EvalSplit,
  type SaliencyMethod,
} from '$lib/evaluate/evaluations';
import { gpuApplier } from '$lib/augment/gpu/applier';
import type { PipelineSpec } from '$lib/augment/pipeline';
import { augmentPlacement, type AugmentPlacement } from '$lib/augment/placement';
import { previewPipeline, type PreviewRequest } from '$lib/augment/preview';
import { runAugmentRebalance, type AugmentTarget } from '$lib/augment/rebalance-augment';
import { previewTrainingAugmentation, type TrainPreviewRequest } from '$lib/train/augment-preview';
import { getExport, listExports, overrideExportBlock, runExport, type ExportRequest } from '$lib/export/export-job';
import { JobRegistry } from '$lib/jobs/registry';
import { getLabelSession, retrainWithLabels, saveRoundLabels, selectForLabeling, selfSupervisedStart } from '$lib/select/session';
import type { SelectMethod } from '$lib/select/types';
import type { ProgressFn } from '$lib/jobs/progress';
import { openHearthDb, type HearthDb } from '$lib/storage/schema';
import { listModels, listRuns, ModelCache, resumeTraining, startTraining, type TrainRequest } from '$lib/train/runs';
import type { EpochMetrics, StepMetrics } from '$lib/train/train';

configureWasmPaths({
  'tfjs-backend-wasm.wasm': wasmUrl,
  'tfjs-backend-wasm-simd.wasm': wasmSimdUrl,
  'tfjs-backend-wasm-threaded-simd.wasm': wasmThreadedSimdUrl,
});

export interface ComputeState {
  /** The backend every later computation in this worker runs on. */
  active: BackendName;
  /** The latest probe, empty when a forced start skipped it. */
  reports: BackendReport[];
  /** When `reports` were measured; null without reports. */
  measuredAt: number | null;
  /** True when `reports` were measured in an earlier visit on this browser and device (probe-cache.ts). */
  reused: boolean;
}

export interface StartOptions {
  /** Use this backend without probing (the user's choice, or a restart keeping its backend). */
  force?: BackendName;
  timeBudgetMs?: number;
}

let state: ComputeState | null = null;
let dbPromise: Promise<HearthDb> | null = null;
const db = (): Promise<HearthDb> => (dbPromise ??= openHearthDb());
const jobs = new JobRegistry();
const modelCache = new ModelCache();
type MetricsFn = (m: StepMetrics | EpochMetrics) => void;
let started: Promise<ComputeState> | null = null;

async function deviceFingerprint(): Promise<DeviceFingerprint> {
  return fingerprintOf(navigator, await describeWebGpuAdapter());
}

/** Measures every backend and keeps the result for this browser and device. */
async function measure(opts: Pick<ProbeOptions, 'names' | 'timeBudgetMs'>): Promise<CachedProbe> {
  const reports = await probeBackends(opts);
  // A partial probe (some backends only) is not what a later start can choose from.
  if (opts.names !== undefined) return { fingerprint: await deviceFingerprint(), measuredAt: Date.now(), reports };
  return saveProbe(await db(), await deviceFingerprint(), reports, Date.now());
}

async function begin(opts: StartOptions): Promise<ComputeState> {
  if (opts.force) {
    await useBackend(opts.force);
    return (state = { active: opts.force, reports: [], measuredAt: null, reused: false });
  }
  const cached = await loadCachedProbe(await db(), await deviceFingerprint()).catch(() => null);
  if (cached) {
    const active = chooseFastest(cached.reports);
    try {
      await useBackend(active);
      return (state = { active, reports: cached.reports, measuredAt: cached.measuredAt, reused: true });
    } catch {
      // The backend that measured fastest no longer starts: measure again.
    }
  }
  const probe = await measure({ timeBudgetMs: opts.timeBudgetMs });
  const active = chooseFastest(probe.reports);
  await useBackend(active);
  return (state = { active, reports: probe.reports, measuredAt: probe.measuredAt, reused: false });
}

const api = {
  /**
   * The first call decides; later calls (and every other method) wait for it. A failed
   * start is forgotten, so the caller can start again with another backend.
   */
  start(opts: StartOptions = {}): Promise<ComputeState> {
    started ??= begin(opts).catch((err: unknown) => {
      started = null;
      throw err;
    });
    return started;
  },
  /** Measure again; the active backend stays as it is. */
  async probe(opts: Pick<ProbeOptions, 'names' | 'timeBudgetMs'> = {}): Promise<ComputeState> {
    const current = await api.current();
    const probe = await measure(opts);
    return (state = { ...current, reports: probe.reports, measuredAt: probe.measuredAt, reused: false });
  },
  async use(name: BackendName): Promise<ComputeState> {
    const current = await api.current();
    await useBackend(name);
    return (state = { ...current, active: name });
  },
  async current(): Promise<ComputeState> {
    await api.start();
    return state ?? api.start();
  },
  async memory(): Promise<{ numTensors: number; numBytes: number }> {
    await api.start();
    const { numTensors, numBytes } = tf.memory();
    return { numTensors, numBytes };
  },
  cancel: (jobId: string) => jobs.cancel(jobId),
  /** Where Augment-page previews and rebalancing should run now: here on the GPU, or on the CPU in the data worker. */
  async augmentPlacement(): Promise<AugmentPlacement> {
    // The state as of the last switch, not as the worker started.
    const current = await api.current();
    let adapter = current.reports.find((r) => r.name === 'webgpu')?.adapter ?? null;
    if (current.active === 'webgpu' && !adapter) {
      // A forced start skips the probe, which is what describes the adapter.
      const described = await describeWebGpuAdapter();
      adapter = typeof described === 'string' ? null : described;
    }
    return augmentPlacement(current.active, adapter);
  },
  /** Augment-page previews on the GPU (the data worker has the same on the CPU kernels). */
  async augmentPreview(req: PreviewRequest) {
    await api.start();
    return previewPipeline(await db(), req, await gpuApplier());
  },
  /** Rebalancing by augmentation on the GPU, as the data worker's job does it on the CPU kernels. */
  async augmentRebalance(
    jobId: string,
    req: { projectId: string; versionId: number; pipeline: PipelineSpec; seed: number; targets: AugmentTarget[] },
    onProgress: ProgressFn,
  ) {
    await api.start();
    return jobs.run(jobId, async (cancel) => runAugmentRebalance(await db(), { ...req, onProgress, cancel, applier: await gpuApplier() }));
  },
  async startTraining(jobId: string, req: TrainRequest, onProgress: ProgressFn, onMetrics: MetricsFn) {
    await api.start();
    return jobs.run(jobId, async (cancel) => startTraining(await db(), req, { onProgress, onMetrics, cancel }));
  },
  async resumeTraining(jobId: string, runId: string, onProgress: ProgressFn, onMetrics: MetricsFn) {
    await api.start();
    return jobs.run(jobId, async (cancel) => resumeTraining(await db(), runId, { onProgress, onMetrics, cancel }));
  },
  listRuns: async (projectId: string) => listRuns(await db(), projectId),
  /** The first batch of epoch 1 as a run with these settings will see it, on this backend's path. */
  async trainAugmentPreview(req: TrainPreviewRequest) {
    await api.start();
    return previewTrainingAugmentation(await db(), req);
  },
  listModels: async (projectId: string) => listModels(await db(), projectId),
  async evaluate(jobId: string, req: { modelId: string; versionId: number; split: EvalSplit }, onProgress: ProgressFn) {
    await api.start();
    return jobs.run(jobId, async (cancel) => evaluateStored(await db(), req, { onProgress, cancel }));
  },
  modelBias: async (evaluationId: string, req: { attribute: string; favourableClass: number; privileged: string[] }) =>
    modelBiasFor(await db(), evaluationId, req),
  groupGaps: async (evaluationId: string) => groupGapsFor(await db(), evaluationId),
  runSlices: async (evaluationId: string) => runSlicesFor(await db(), evaluationId),
  getSlices: async (projectId: string) => getSlices(await db(), projectId),
  saveSlices: async (projectId: string, slices: Slice[]) => saveSlices(await db(), projectId, slices),
  async saliency(req: { modelId: string; sampleId: number; method: SaliencyMethod; targetClass?: number }) {
    await api.start();
    return saliencyFor(await db(), modelCache, req);
  },
  async startExport(jobId: string, req: ExportRequest, onProgress: ProgressFn) {
    await api.start();
    return jobs.run(jobId, async (cancel) => runExport(await db(), req, { onProgress, cancel }));
  },
  listExports: async (projectId: string) => listExports(await db(), projectId),
  exportFiles: async (exportId: string) => (await getExport(await db(), exportId)).files,
  overrideExport: async (exportId: string) => overrideExportBlock(await db(), exportId),
  labelSession: async (projectId: string) => getLabelSession(await db(), projectId),
  async selectForLabeling(jobId: string, req: { projectId: string; method: SelectMethod; budget: number; seed: number }, onProgress: ProgressFn) {
    await api.start();
    return jobs.run(jobId, async (cancel) => selectForLabeling(await db(), req, { onProgress, cancel }));
  },
  saveLabels: async (projectId: string, labels: Record<number, number>, skipped: number[]) => saveRoundLabels(await db(), projectId, labels, skipped),
  async selfSupervisedStart(jobId: string, req: { projectId: string; rotationEpochs: number; epochs: number; seed: number }, onProgress: ProgressFn) {
    await api.start();
    return jobs.run(jobId, async (cancel) => selfSupervisedStart(await db(), req, { onProgress, cancel }));
  },
  async retrainWithLabels(jobId: string, req: { projectId: string; epochs: number }, onProgress: ProgressFn) {
    await api.start();
    return jobs.run(jobId, async (cancel) => retrainWithLabels(await db(), req, { onProgress, cancel }));
  },
};

expose(api);
export type ComputeApi = typeof api;
