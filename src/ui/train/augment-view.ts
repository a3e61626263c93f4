/**
 * How the Train page words a run's augmentation: the pipeline picker's options, the
 * preview's captions, and the line a run's record shows. Pure functions, tested in Node.
 */
import type { SavedPipeline } from '../../lib/augment/pipelines';
import type { PipelineSpec } from '../../lib/augment/pipeline';
import { describeAugmentation, type AugmentationReport } from '../../lib/augment/report';
import type { RunAugmentation } from './train.svelte';

/** Images the preview strip shows from the start of the first batch. */
export const PREVIEW_IMAGES = 8;
/** Hex digits of a pipeline hash people see: enough to tell pipelines apart at a glance. */
const SHORT_HASH_CHARS = 8;

export function shortHash(hash: string): string {
  return hash.slice(0, SHORT_HASH_CHARS);
}

function stepCount(spec: PipelineSpec): string {
  const n = spec.steps.length;
  return n === 0 ? 'no steps' : n === 1 ? '1 step' : `${n} steps`;
}

/** "Flip and rotate · 2 steps". */
export function pipelineOptionLabel(p: Pick<SavedPipeline, 'name' | 'spec'>): string {
  return `${p.name} · ${stepCount(p.spec)}`;
}

/** "flip (p 0.5) → rotate → mixup": the steps in order, with their probability where it is below 1. */
export function stepsSummary(spec: PipelineSpec): string {
  if (spec.steps.length === 0) return 'No steps: the batches train as loaded.';
  return spec.steps.map((s) => (s.p !== undefined && s.p < 1 ? `${s.transform} (p ${Number(s.p.toFixed(2))})` : s.transform)).join(' → ');
}

/** "3 62% · 7 38%": a soft label's classes, largest share first (one class reads as its name). */
export function softLabelText(entries: readonly { label: string; weight: number }[]): string {
  if (entries.length === 1) return entries[0]?.label ?? '';
  return entries.map((e) => `${e.label} ${Math.round(e.weight * 100)}%`).join(' · ');
}

/** Where a run's augmentation ran, for its badge: GPU, CPU, both, or not yet known. */
export function pathLabel(report: AugmentationReport | null): string {
  if (!report || report.path === 'none') return 'not started';
  return { gpu: 'GPU', cpu: 'CPU', mixed: 'GPU + CPU' }[report.path];
}

/**
 * The run record's augmentation line: "Flip and rotate (a1b2c3d4) · augmentation on the
 * GPU, 0 CPU fallbacks", or "No augmentation".
 */
export function runAugmentationText(augmentation: RunAugmentation | null, report: AugmentationReport | null): string {
  if (!augmentation) return 'No augmentation';
  const head = `${augmentation.name} (${shortHash(augmentation.hash)})`;
  if (!report || report.path === 'none') return `${head} · not started`;
  // The GPU line names its fallbacks when there are any; say so when there are none.
  const none = report.path !== 'cpu' && report.stepsWithFallback === 0 ? ', no CPU fallbacks' : '';
  return `${head} · ${describeAugmentation(report)}${none}`;
}

/** The tooltip of a run's augmentation: why the CPU path, or which steps fell back and why. */
export function runAugmentationDetail(report: AugmentationReport | null): string {
  if (!report || report.path === 'none') return 'The report appears after the first epoch.';
  const lines: string[] = [];
  if (report.gpuSteps > 0) lines.push(`${report.gpuSteps.toLocaleString('en-US')} steps on the GPU, ${report.dispatches.toLocaleString('en-US')} dispatches.`);
  if (report.cpuSteps > 0) lines.push(`${report.cpuSteps.toLocaleString('en-US')} steps on the CPU${report.cpuPathReason ? `: ${report.cpuPathReason}` : ''}.`);
  for (const f of report.fallbacks) lines.push(`${f.transform} ran on the CPU for ${f.steps.toLocaleString('en-US')} images: ${f.reason}.`);
  return lines.join('\n');
}
