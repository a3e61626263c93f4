import type { ComputeClient } from '../worker-client/compute-client';
import type { AnalyzeService } from './analyze/analyze.svelte';
import type { AugmentService } from './augment/augment.svelte';
import type { DataClient } from './shell/data-types';
import type { EvaluateService } from './evaluate/evaluate.svelte';
import type { ExportService } from './export/export.svelte';
import type { LabelService } from './label/label.svelte';
import type { TrainService } from './train/train.svelte';

/**
 * The pages' services: each forwards its methods to the worker that runs them (their
 * types come from the workers' APIs, see shell/service-types.ts). The compute worker owns
 * tfjs and the GPU; the data worker owns pixels and storage. Progress and metrics
 * callbacks arrive already wrapped in Comlink.proxy.
 *
 * A compute job's call carries its `jobId`, and Cancel goes through the owner's
 * `cancel(jobId, CANCEL_GRACE_MS)`: a job that has not stopped by then (a kernel that
 * never returns) has its worker terminated, and the next call starts a fresh one.
 */

/**
 * How long a compute job has to stop after Cancel. The loops check the cancel flag between
 * batches; the slowest batch (a MobileNet training step on the wasm backend) takes a few
 * seconds, so a job still running after this is stuck.
 */
export const CANCEL_GRACE_MS = 15_000;

function cancelCompute(compute: ComputeClient): (jobId: string) => Promise<void> {
  return (jobId) => compute.cancel(jobId, CANCEL_GRACE_MS);
}
export function trainService(compute: ComputeClient): TrainService {
  return {
    startTraining: (jobId, req, onProgress, onMetrics) =>
      compute.call((r) => r.startTraining(jobId, req, onProgress, onMetrics), { jobId }),
    resumeTraining: (jobId, runId, onProgress, onMetrics) =>
      compute.call((r) => r.resumeTraining(jobId, runId, onProgress, onMetrics), { jobId }),
    listRuns: (projectId) => compute.call((r) => r.listRuns(projectId)),
    previewAugmentation: (req) => compute.call((r) => r.trainAugmentPreview(req)),
    cancel: cancelCompute(compute),
  };
}

/** The Evaluate page's service: evaluation runs in the compute worker, pixels come from the data worker. */
export function evaluateService(compute: ComputeClient, data: DataClient): EvaluateService {
  return {
    listModels: (projectId) => compute.call((r) => r.listModels(projectId)),
    evaluate: (jobId, req, onProgress) => compute.call((r) => r.evaluate(jobId, req, onProgress), { jobId }),
    cancel: cancelCompute(compute),
    modelBias: (evaluationId, req) => compute.call((r) => r.modelBias(evaluationId, req)),
    groupGaps: (evaluationId) => compute.call((r) => r.groupGaps(evaluationId)),
    runSlices: (evaluationId) => compute.call((r) => r.runSlices(evaluationId)),
    getSlices: (projectId) => compute.call((r) => r.getSlices(projectId)),
    saveSlices: (projectId, slices) => compute.call((r) => r.saveSlices(projectId, slices)),
    saliency: (req) => compute.call((r) => r.saliency(req)),
    getPixels: (ids) => data.getPixels(ids),
  };
}

/** The Analyze page's service, backed by the data worker (pixels and storage live there). */
export function analyzeService(data: DataClient): AnalyzeService {
  return {
    analyze: (jobId, req, onProgress) => data.analyze(jobId, req, onProgress),
    findDuplicates: (jobId, req, onProgress) => data.findDuplicates(jobId, req, onProgress),
    removeSamples: (projectId, ids, note) => data.removeSamples(projectId, ids, note),
    planRebalance: (versionId, target) => data.planRebalance(versionId, target),
    getPlan: (projectId) => data.getPlan(projectId),
    savePlan: (projectId, plan) => data.savePlan(projectId, plan),
    getPixels: (ids) => data.getPixels(ids),
    cancel: async (jobId) => {
      await data.cancel(jobId);
    },
  };
}

/**
 * The Augment page's service. Previews and rebalancing run where the page's placement
 * says (augment/placement.ts): on the GPU in the compute worker, or on the CPU kernels
 * in the data worker; pipelines and plans are stored by the data worker.
 */
export function augmentService(data: DataClient, compute: ComputeClient): AugmentService {
  /** Rebalance jobs running in the compute worker, so a cancel reaches the worker that runs them. */
  const onCompute = new Set<string>();
  return {
    transforms: () => data.augmentTransforms(),
    placement: () => compute.call((r) => r.augmentPlacement()),
    preview: (req, where) => (where === 'gpu' ? compute.call((r) => r.augmentPreview(req)) : data.augmentPreview(req)),
    rebalance: async (jobId, req, where, onProgress) => {
      if (where !== 'gpu') return data.augmentRebalance(jobId, req, onProgress);
      onCompute.add(jobId);
      try {
        return await compute.call((r) => r.augmentRebalance(jobId, req, onProgress), { jobId });
      } finally {
        onCompute.delete(jobId);
      }
    },
    getPlan: (projectId) => data.getPlan(projectId),
    filterVersion: (versionId, filter) => data.filterVersion(versionId, filter),
    getPixels: (ids) => data.getPixels(ids),
    listPipelines: (projectId) => data.listAugmentPipelines(projectId),
    savePipeline: (projectId, draft) => data.saveAugmentPipeline(projectId, draft),
    deletePipeline: (projectId, id) => data.deleteAugmentPipeline(projectId, id),
    cancel: async (jobId) => {
      if (onCompute.has(jobId)) await compute.cancel(jobId, CANCEL_GRACE_MS);
      else await data.cancel(jobId);
    },
  };
}

/** The Export page's service: quantization, evaluation and writing run in the compute worker. */
export function exportService(compute: ComputeClient): ExportService {
  return {
    listModels: (projectId) => compute.call((r) => r.listModels(projectId)),
    listExports: (projectId) => compute.call((r) => r.listExports(projectId)),
    startExport: (jobId, req, onProgress) => compute.call((r) => r.startExport(jobId, req, onProgress), { jobId }),
    exportFiles: (exportId) => compute.call((r) => r.exportFiles(exportId)),
    overrideExport: (exportId) => compute.call((r) => r.overrideExport(exportId)),
    cancel: cancelCompute(compute),
  };
}

/** The Label page's service: selection and retraining run in the compute worker, pixels come from the data worker. */
export function labelService(compute: ComputeClient, data: DataClient): LabelService {
  return {
    session: (projectId) => compute.call((r) => r.labelSession(projectId)),
    select: (jobId, req, onProgress) => compute.call((r) => r.selectForLabeling(jobId, req, onProgress), { jobId }),
    saveLabels: (projectId, labels, skipped) => compute.call((r) => r.saveLabels(projectId, labels, skipped)),
    retrain: (jobId, req, onProgress) => compute.call((r) => r.retrainWithLabels(jobId, req, onProgress), { jobId }),
    pretrain: (jobId, req, onProgress) => compute.call((r) => r.selfSupervisedStart(jobId, req, onProgress), { jobId }),
    getPixels: (sampleIds) => data.getPixels(sampleIds),
    cancel: cancelCompute(compute),
  };
}
