import type { ComputeClient } from '../worker-client/compute-client';
import type { AnalyzeService } from './state/analyze.svelte';
import type { AugmentService } from './state/augment.svelte';
import type { DataClient } from './state/data-types';
import type { EvaluateService } from './state/evaluate.svelte';
import type { ExportService } from './state/export.svelte';
import type { LabelService } from './state/label.svelte';
import type { TrainService } from './state/train.svelte';

/**
 * The Train and Evaluate pages' services, backed by the compute worker (which owns tfjs
 * and the GPU). Progress and metrics callbacks arrive already wrapped in Comlink.proxy.
 */
export function trainService(compute: ComputeClient): TrainService {
  return {
    startTraining: (jobId, req, onProgress, onMetrics) =>
      compute.call((r) => r.startTraining(jobId, req, onProgress, onMetrics)),
    resumeTraining: (jobId, runId, onProgress, onMetrics) =>
      compute.call((r) => r.resumeTraining(jobId, runId, onProgress, onMetrics)),
    listRuns: (projectId) => compute.call((r) => r.listRuns(projectId)),
    cancel: (jobId) => compute.call((r) => r.cancel(jobId)),
  };
}

export function evaluateService(compute: ComputeClient): EvaluateService {
  return {
    listModels: (projectId) => compute.call((r) => r.listModels(projectId)),
    evaluate: (jobId, req, onProgress) => compute.call((r) => r.evaluate(jobId, req, onProgress)),
    cancel: async (jobId) => {
      await compute.call((r) => r.cancel(jobId));
    },
    modelBias: (evaluationId, req) => compute.call((r) => r.modelBias(evaluationId, req)),
    runSlices: (evaluationId) => compute.call((r) => r.runSlices(evaluationId)),
    getSlices: (projectId) => compute.call((r) => r.getSlices(projectId)),
    saveSlices: (projectId, slices) => compute.call((r) => r.saveSlices(projectId, slices)),
    saliency: (req) => compute.call((r) => r.saliency(req)),
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
    cancel: async (jobId) => {
      await data.cancel(jobId);
    },
  };
}

/** The Augment page's service: previews and rebalancing run on the CPU path in the data worker. */
export function augmentService(data: DataClient): AugmentService {
  return {
    transforms: () => data.augmentTransforms(),
    preview: (req) => data.augmentPreview(req),
    rebalance: (jobId, req, onProgress) => data.augmentRebalance(jobId, req, onProgress),
    getPlan: (projectId) => data.getPlan(projectId),
    savePipeline: (projectId, pipeline) => data.saveAugmentPipeline(projectId, pipeline),
    getPipeline: (projectId) => data.getAugmentPipeline(projectId),
    cancel: async (jobId) => {
      await data.cancel(jobId);
    },
  };
}

/** The Export page's service: quantization, evaluation and writing run in the compute worker. */
export function exportService(compute: ComputeClient): ExportService {
  return {
    listModels: (projectId) => compute.call((r) => r.listModels(projectId)),
    listExports: (projectId) => compute.call((r) => r.listExports(projectId)),
    startExport: (jobId, req, onProgress) => compute.call((r) => r.startExport(jobId, req, onProgress)),
    exportFiles: (exportId) => compute.call((r) => r.exportFiles(exportId)),
    overrideExport: (exportId) => compute.call((r) => r.overrideExport(exportId)),
    cancel: async (jobId) => {
      await compute.call((r) => r.cancel(jobId));
    },
  };
}

/** The Label page's service: selection and retraining run in the compute worker, pixels come from the data worker. */
export function labelService(compute: ComputeClient, data: DataClient): LabelService {
  return {
    session: (projectId) => compute.call((r) => r.labelSession(projectId)),
    select: (jobId, req, onProgress) => compute.call((r) => r.selectForLabeling(jobId, req, onProgress)),
    saveLabels: (projectId, labels, skipped) => compute.call((r) => r.saveLabels(projectId, labels, skipped)),
    retrain: (jobId, req, onProgress) => compute.call((r) => r.retrainWithLabels(jobId, req, onProgress)),
    pretrain: (jobId, req, onProgress) => compute.call((r) => r.selfSupervisedStart(jobId, req, onProgress)),
    getPixels: (sampleIds) => data.getPixels(sampleIds),
    cancel: async (jobId) => {
      await compute.call((r) => r.cancel(jobId));
    },
  };
}
