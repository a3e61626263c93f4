/**
 * The pipeline builder's form over each transform's options. The options themselves (keys,
 * bounds, choices, starting values) are src/lib/augment/spec.ts's schema, the one the
 * transforms' `sample` functions read their bounds from, so the form can flag a bad value
 * as it is typed instead of when a preview fails; the library still validates everything
 * it is given. A transform missing from the schema (a new one in the registry) is still
 * listed and runs with its own defaults; its params stay as loaded and show in the JSON view.
 */
import type { PipelineSpec, PipelineStep } from '../../lib/augment/pipeline';
import { fieldsOf, isChoice, isIntIn, oddBounds, type RangeField } from '../../lib/augment/spec';
import type { TransformKind } from '../../lib/augment/types';

/** Image sides the builder starts resize and crop from, so a new step fits the project's images. */
export interface ImageSides {
  width: number;
  height: number;
}

/** The share of each side a new crop keeps: a mild crop that still shows the subject. */
const CROP_KEEP_FRACTION = 0.875;

/** A new step with every option at its starting value, so the spec shows what runs. */
export function newStep(transform: string, image: ImageSides | null): PipelineStep {
  const params: Record<string, unknown> = {};
  for (const f of fieldsOf(transform)) {
    if (f.kind === 'range') params[f.key] = [...f.initial];
    else params[f.key] = f.initial;
  }
  if (image && transform === 'resize') {
    params.width = image.width;
    params.height = image.height;
  }
  if (image && transform === 'crop') {
    params.width = Math.max(1, Math.round(image.width * CROP_KEEP_FRACTION));
    params.height = Math.max(1, Math.round(image.height * CROP_KEEP_FRACTION));
  }
  return { transform, p: 1, params };
}

/** A Range value as a [min, max] pair for the form; null when it is not one. */
export function asPair(value: unknown): [number, number] | null {
  if (typeof value === 'number') return [value, value];
  if (Array.isArray(value) && value.length === 2 && typeof value[0] === 'number' && typeof value[1] === 'number') {
    return [value[0], value[1]];
  }
  return null;
}

/** Errors per key of one step ('p' for its probability); empty when the step is valid. */
export type StepErrors = Record<string, string>;

function rangeError(f: RangeField, value: unknown): string | null {
  const pair = asPair(value);
  if (!pair || !Number.isFinite(pair[0]) || !Number.isFinite(pair[1])) return 'Give a number for both min and max.';
  const [lo, hi] = pair;
  if (lo > hi) return `Min ${lo} is above max ${hi}: swap them.`;
  if (lo < f.min || hi > f.max) return `Keep both within [${f.min}, ${f.max}].`;
  if (f.integer && (!Number.isInteger(lo) || !Number.isInteger(hi))) return 'Use whole numbers.';
  if (f.odd && oddBounds(lo, hi) === null) return 'Kernel sizes are odd: include an odd number (3, 5, 7…).';
  return null;
}

export function validateStep(step: PipelineStep): StepErrors {
  const errors: StepErrors = {};
  const p = step.p ?? 1;
  if (!(typeof p === 'number' && Number.isFinite(p) && p >= 0 && p <= 1)) errors.p = 'The probability must lie between 0 and 1.';
  const params = step.params ?? {};
  for (const f of fieldsOf(step.transform)) {
    const value = params[f.key];
    if (value === undefined) continue;
    if (f.kind === 'range') {
      const e = rangeError(f, value);
      if (e) errors[f.key] = e;
    } else if (f.kind === 'int') {
      if (!isIntIn(value, f.min, f.max)) {
        errors[f.key] = `A whole number in [${f.min}, ${f.max}].`;
      }
    } else if (!isChoice(value, f.choices)) {
      errors[f.key] = `One of ${f.choices.join(', ')}.`;
    }
  }
  return errors;
}

/** Errors of every step, by index; empty when the whole pipeline is valid. */
export function validateSteps(spec: PipelineSpec): Map<number, StepErrors> {
  const out = new Map<number, StepErrors>();
  spec.steps.forEach((s, i) => {
    const e = validateStep(s);
    if (Object.keys(e).length > 0) out.set(i, e);
  });
  return out;
}

/** The order kinds are listed in the add-step menu: cheapest and most common first. */
export const KIND_ORDER: readonly TransformKind[] = ['geometric', 'pointwise', 'neighbourhood', 'global', 'mixing'];
export const KIND_LABEL: Record<TransformKind, string> = {
  geometric: 'Geometry',
  pointwise: 'Colour and photometric (per pixel)',
  neighbourhood: 'Filters',
  global: 'Whole-image (thresholds)',
  mixing: 'Mixing (two images)',
};

/** A drawn parameter for the hover panel: numbers to 3 significant digits, partner images omitted. */
export function formatDrawnParams(params: unknown): string {
  if (typeof params !== 'object' || params === null) return '';
  const parts: string[] = [];
  for (const [k, v] of Object.entries(params as Record<string, unknown>)) {
    if (typeof v === 'number') parts.push(`${k} ${Number.isInteger(v) ? v : Number(v.toPrecision(3))}`);
    else if (typeof v === 'string' || typeof v === 'boolean') parts.push(`${k} ${String(v)}`);
    // Objects are partner images (mixup/cutmix) or buffers: too big to show and meaningless as text.
  }
  return parts.join(', ');
}
