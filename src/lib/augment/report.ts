/**
 * What the training hook reports about a run's augmentation, and how it reads in a line:
 * tfjs-free, so the Train page can word a run's record the same way the job's progress
 * messages do (the hook itself, train/augment-hook.ts, runs in the compute worker with tfjs).
 */
import type { CpuFallback } from './gpu/execute';
import type { AugmentationReport } from '../storage/stored-shapes';
export type { AugmentationPath, AugmentationReport } from '../storage/stored-shapes';

export type { CpuFallback };

export function emptyAugmentationReport(): AugmentationReport {
  return { path: 'none', cpuPathReason: null, gpuSteps: 0, cpuSteps: 0, stepsWithFallback: 0, fallbacks: [], readbacks: 0, dispatches: 0 };
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;
}

/** "augmentation on the GPU", "… on the GPU, 12 steps with CPU fallbacks (rotate)", "… on the CPU". */
export function describeAugmentation(report: AugmentationReport): string {
  if (report.path === 'none') return 'augmentation not started';
  if (report.path === 'cpu') return 'augmentation on the CPU';
  const where = report.path === 'gpu' ? 'on the GPU' : `on the GPU for ${plural(report.gpuSteps, 'step')}, the CPU for ${plural(report.cpuSteps, 'step')}`;
  if (report.stepsWithFallback === 0) return `augmentation ${where}`;
  const transforms = [...new Set(report.fallbacks.map((f) => f.transform))].join(', ');
  return `augmentation ${where}, ${plural(report.stepsWithFallback, 'step')} with CPU fallbacks (${transforms})`;
}

/** The image-steps that fell back to the CPU kernels, summed over transforms. */
export function fallbackImageSteps(report: AugmentationReport): number {
  return report.fallbacks.reduce((n, f) => n + f.steps, 0);
}
