/**
 * The Train page's augmentation wording and form rules (src/ui/train/augment-view.ts and
 * train-form.ts): what a picker option, a preview caption and a run's record say, and
 * that the pipeline choice reaches the request, is refused when deleted, and is reused.
 */
import { describe, expect, it } from 'vitest';
import type { AugmentationReport } from '../../src/lib/augment/report';
import { describeAugmentation, emptyAugmentationReport, fallbackImageSteps } from '../../src/lib/augment/report';
import type { RunAugmentation } from '../../src/lib/train/runs';
import {
  pathLabel,
  pipelineOptionLabel,
  runAugmentationDetail,
  runAugmentationText,
  shortHash,
  softLabelText,
  stepsSummary,
} from '../../src/ui/train/augment-view';
import { defaultForm, formatHyper, formFromConfig, validateForm } from '../../src/ui/train/train-form';

const HASH = 'a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9';
const AUG: RunAugmentation = {
  pipelineId: 'p1',
  name: 'Flip and rotate',
  hash: HASH,
  spec: { version: 1, steps: [{ transform: 'flip', p: 0.5 }, { transform: 'rotate' }] },
  seed: 42,
};

function report(patch: Partial<AugmentationReport>): AugmentationReport {
  return { ...emptyAugmentationReport(), ...patch };
}

describe('augmentation wording', () => {
  it('names pipelines, steps and hashes the way the page shows them', () => {
    expect(pipelineOptionLabel({ name: 'Geo', spec: AUG.spec })).toBe('Geo · 2 steps');
    expect(pipelineOptionLabel({ name: 'One', spec: { version: 1, steps: [{ transform: 'flip' }] } })).toBe('One · 1 step');
    expect(pipelineOptionLabel({ name: 'Empty', spec: { version: 1, steps: [] } })).toBe('Empty · no steps');
    expect(stepsSummary(AUG.spec)).toBe('flip (p 0.5) → rotate');
    expect(stepsSummary({ version: 1, steps: [{ transform: 'mixup', p: 1 }, { transform: 'gamma', p: 0.333333 }] })).toBe('mixup → gamma (p 0.33)');
    expect(shortHash(HASH)).toBe('a1b2c3d4');
  });

  it('writes a soft label largest share first, and a hard one as its class', () => {
    expect(softLabelText([{ label: '3', weight: 0.625 }, { label: '7', weight: 0.375 }])).toBe('3 63% · 7 38%');
    expect(softLabelText([{ label: '3', weight: 1 }])).toBe('3');
  });

  it("words a run's record: pipeline, hash, path and fallbacks", () => {
    expect(runAugmentationText(null, null)).toBe('No augmentation');
    expect(runAugmentationText(AUG, null)).toBe('Flip and rotate (a1b2c3d4) · not started');
    expect(runAugmentationText(AUG, report({ path: 'gpu', gpuSteps: 20, dispatches: 60 }))).toBe(
      'Flip and rotate (a1b2c3d4) · augmentation on the GPU, no CPU fallbacks',
    );
    const withFallbacks = report({
      path: 'gpu',
      gpuSteps: 20,
      stepsWithFallback: 12,
      fallbacks: [{ transform: 'rotate', reason: 'nearest-neighbour interpolation has no GPU kernel', steps: 380 }],
    });
    expect(runAugmentationText(AUG, withFallbacks)).toBe('Flip and rotate (a1b2c3d4) · augmentation on the GPU, 12 steps with CPU fallbacks (rotate)');
    expect(fallbackImageSteps(withFallbacks)).toBe(380);
    expect(runAugmentationDetail(withFallbacks)).toContain('rotate ran on the CPU for 380 images: nearest-neighbour');
    const cpu = report({ path: 'cpu', cpuSteps: 1500, cpuPathReason: 'the wasm backend has no WebGPU device' });
    expect(runAugmentationText(AUG, cpu)).toBe('Flip and rotate (a1b2c3d4) · augmentation on the CPU');
    expect(runAugmentationDetail(cpu)).toBe('1,500 steps on the CPU: the wasm backend has no WebGPU device.');
    expect(describeAugmentation(report({ path: 'mixed', gpuSteps: 5, cpuSteps: 1 }))).toBe('augmentation on the GPU for 5 steps, the CPU for 1 step');
    expect([pathLabel(null), pathLabel(report({ path: 'gpu' })), pathLabel(cpu), pathLabel(report({ path: 'mixed' }))]).toEqual([
      'not started',
      'GPU',
      'CPU',
      'GPU + CPU',
    ]);
  });
});

describe('the pipeline in the training form', () => {
  it('sends the chosen pipeline with the request, and none by default', () => {
    const form = defaultForm('lenet');
    const none = validateForm(form, { trainCount: 500, pipelineIds: ['p1'] });
    expect(none.ok && none.augmentation).toBeNull();
    const chosen = validateForm({ ...form, augmentPipelineId: 'p1' }, { trainCount: 500, pipelineIds: ['p1'] });
    expect(chosen.ok && chosen.augmentation).toEqual({ pipelineId: 'p1' });
  });

  it('refuses a pipeline that is no longer saved, naming what to do', () => {
    const result = validateForm({ ...defaultForm('lenet'), augmentPipelineId: 'gone' }, { trainCount: 500, pipelineIds: ['p1'] });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.errors.augmentPipelineId).toMatch(/no longer saved.*None/);
    // Before the list has loaded the form cannot know: it does not block.
    expect(validateForm({ ...defaultForm('lenet'), augmentPipelineId: 'gone' }, { trainCount: 500 }).ok).toBe(true);
  });

  it("reuses a run's pipeline with its settings", () => {
    const config = { epochs: 2, batchSize: 32, optimizer: { kind: 'sgd' as const, lr: 0.05, momentum: 0.9, nesterov: true }, weightDecay: 5e-4, schedule: { kind: 'constant' as const }, seed: 7 };
    expect(formFromConfig('lenet', undefined, config, 'p1')).toMatchObject({ augmentPipelineId: 'p1', seed: 7, epochs: 2 });
    expect(formFromConfig('lenet', undefined, config).augmentPipelineId).toBeNull();
  });
});

describe('hyperparameters as people read them', () => {
  it('rounds a scheduled learning rate to four significant digits', () => {
    expect(formatHyper(4.933178929321103e-5)).toBe('4.933e-5');
    expect(formatHyper(0.049331789293)).toBe('0.04933');
  });

  it('writes typed values as they were typed', () => {
    expect(formatHyper(5e-4)).toBe('5e-4');
    expect(formatHyper(0.05)).toBe('0.05');
    expect(formatHyper(0.9)).toBe('0.9');
    expect(formatHyper(0)).toBe('0');
  });
});
