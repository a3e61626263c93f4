/**
 * The pipeline builder's knowledge of each transform's options: which `…Range` keys,
 * fixed choices and whole numbers it reads, their bounds and a sensible starting value.
 * It mirrors the `sample` functions in src/lib/augment/*.ts (the bounds are theirs), so
 * the form can flag a bad value as it is typed instead of when a preview fails; the
 * library still validates everything it is given. A transform missing here (a new one
 * in the registry) is still listed and runs with its own defaults; its params stay as
 * loaded and show in the JSON view.
 */
import type { PipelineSpec, PipelineStep } from '../../lib/augment/pipeline';
import type { TransformKind } from '../../lib/augment/types';

export interface RangeField {
  kind: 'range';
  key: string;
  label: string;
  min: number;
  max: number;
  /** Input step: whole numbers for integer ranges, hundredths otherwise. */
  step: number;
  integer?: boolean;
  /** Kernel sizes: the interval must hold an odd whole number. */
  odd?: boolean;
  initial: [number, number];
  unit?: string;
}

export interface ChoiceField {
  kind: 'choice';
  key: string;
  label: string;
  choices: readonly string[];
  initial: string;
}

export interface IntField {
  kind: 'int';
  key: string;
  label: string;
  min: number;
  /** Crop's sides are also bounded by the image, which the library checks when it draws. */
  max: number;
  initial: number;
  unit?: string;
}

export type ParamField = RangeField | ChoiceField | IntField;

/** Largest side resize accepts (geometry.ts MAX_RESIZE_SIDE_PX). */
const MAX_RESIZE_SIDE_PX = 4096;
const BORDER_CHOICES = ['constant', 'replicate', 'reflect', 'reflect101'] as const;

const range = (
  key: string,
  label: string,
  min: number,
  max: number,
  initial: [number, number],
  extra: Partial<Pick<RangeField, 'integer' | 'odd' | 'unit'>> = {},
): RangeField => ({ kind: 'range', key, label, min, max, step: extra.integer ? 1 : 0.01, initial, ...extra });

const warpFields: ParamField[] = [
  { kind: 'choice', key: 'border', label: 'Border', choices: BORDER_CHOICES, initial: 'constant' },
  { kind: 'int', key: 'borderValue', label: 'Border value', min: 0, max: 255, initial: 0 },
  { kind: 'choice', key: 'interpolation', label: 'Interpolation', choices: ['bilinear', 'nearest'], initial: 'bilinear' },
];
const filterBorder: ParamField = { kind: 'choice', key: 'border', label: 'Border', choices: BORDER_CHOICES, initial: 'reflect101' };

const thresholdFields: ParamField[] = [
  range('thresholdRange', 'Threshold', 0, 255, [127, 127], { integer: true }),
  range('maxValueRange', 'Max value', 0, 255, [255, 255], { integer: true }),
];
const otsuFields: ParamField[] = [range('maxValueRange', 'Max value', 0, 255, [255, 255], { integer: true })];

/** Options per transform; transforms with none (colour conversions) are absent. */
export const PARAM_FIELDS: Readonly<Record<string, readonly ParamField[]>> = {
  'threshold-binary': thresholdFields,
  'threshold-binary-inv': thresholdFields,
  'threshold-otsu': otsuFields,
  'threshold-otsu-inv': otsuFields,
  brightness: [range('betaRange', 'Beta (added)', -255, 255, [-32, 32])],
  contrast: [range('alphaRange', 'Alpha (gain)', 0, 16, [0.75, 1.25])],
  gamma: [range('gammaRange', 'Gamma', 0.01, 10, [0.7, 1.5])],
  'hue-saturation': [
    range('hueShiftRange', 'Hue shift', -180, 180, [-9, 9], { integer: true, unit: '×2°' }),
    range('saturationScaleRange', 'Saturation scale', 0, 16, [0.7, 1.3]),
  ],
  'gaussian-noise': [range('sigmaRange', 'Sigma', 0, 255, [5, 15])],
  cutout: [
    range('widthFractionRange', 'Width (fraction)', 0, 1, [0.1, 0.3]),
    range('heightFractionRange', 'Height (fraction)', 0, 1, [0.1, 0.3]),
    range('fillRange', 'Fill value', 0, 255, [0, 0], { integer: true }),
  ],
  mixup: [range('lambdaRange', 'Lambda', 0, 1, [0.2, 0.8])],
  cutmix: [range('lambdaRange', 'Lambda', 0, 1, [0.3, 0.7])],
  flip: [{ kind: 'choice', key: 'mode', label: 'Mode', choices: ['horizontal', 'vertical', 'both'], initial: 'horizontal' }],
  rotate: [range('angleRange', 'Angle', -360, 360, [-15, 15], { unit: '°' }), ...warpFields],
  translate: [
    range('shiftXRange', 'Shift x (fraction)', -1, 1, [-0.1, 0.1]),
    range('shiftYRange', 'Shift y (fraction)', -1, 1, [-0.1, 0.1]),
    ...warpFields,
  ],
  shear: [
    range('shearXRange', 'Shear x', -80, 80, [-10, 10], { unit: '°' }),
    range('shearYRange', 'Shear y', -80, 80, [0, 0], { unit: '°' }),
    ...warpFields,
  ],
  scale: [range('scaleRange', 'Scale', 0.05, 20, [0.9, 1.1]), ...warpFields],
  affine: [
    range('angleRange', 'Angle', -360, 360, [-10, 10], { unit: '°' }),
    range('scaleRange', 'Scale', 0.05, 20, [0.9, 1.1]),
    range('shiftXRange', 'Shift x (fraction)', -1, 1, [-0.05, 0.05]),
    range('shiftYRange', 'Shift y (fraction)', -1, 1, [-0.05, 0.05]),
    range('shearXRange', 'Shear x', -80, 80, [0, 0], { unit: '°' }),
    range('shearYRange', 'Shear y', -80, 80, [0, 0], { unit: '°' }),
    ...warpFields,
  ],
  resize: [
    { kind: 'int', key: 'width', label: 'Width', min: 1, max: MAX_RESIZE_SIDE_PX, initial: 32, unit: 'px' },
    { kind: 'int', key: 'height', label: 'Height', min: 1, max: MAX_RESIZE_SIDE_PX, initial: 32, unit: 'px' },
    { kind: 'choice', key: 'interpolation', label: 'Interpolation', choices: ['nearest', 'bilinear', 'area'], initial: 'bilinear' },
  ],
  crop: [
    { kind: 'int', key: 'width', label: 'Width', min: 1, max: MAX_RESIZE_SIDE_PX, initial: 24, unit: 'px' },
    { kind: 'int', key: 'height', label: 'Height', min: 1, max: MAX_RESIZE_SIDE_PX, initial: 24, unit: 'px' },
    { kind: 'choice', key: 'position', label: 'Position', choices: ['random', 'center'], initial: 'random' },
  ],
  box: [range('ksizeRange', 'Kernel size', 1, 31, [3, 5], { integer: true, odd: true, unit: 'px' }), filterBorder],
  'gaussian-blur': [
    range('ksizeRange', 'Kernel size', 1, 31, [3, 5], { integer: true, odd: true, unit: 'px' }),
    range('sigmaRange', 'Sigma (0 = from size)', 0, 100, [0, 0], { unit: 'px' }),
    filterBorder,
  ],
  median: [range('ksizeRange', 'Kernel size', 3, 7, [3, 5], { integer: true, odd: true, unit: 'px' })],
  bilateral: [
    range('dRange', 'Diameter', 1, 15, [5, 5], { integer: true, odd: true, unit: 'px' }),
    range('sigmaColorRange', 'Sigma colour', 0.01, 1000, [25, 75]),
    range('sigmaSpaceRange', 'Sigma space', 0.01, 100, [25, 75], { unit: 'px' }),
    filterBorder,
  ],
};

export function fieldsOf(transform: string): readonly ParamField[] {
  return PARAM_FIELDS[transform] ?? [];
}

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
  if (f.odd) {
    const first = Math.ceil(lo) % 2 === 0 ? Math.ceil(lo) + 1 : Math.ceil(lo);
    if (first > Math.floor(hi)) return 'Kernel sizes are odd: include an odd number (3, 5, 7…).';
  }
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
      if (!(typeof value === 'number' && Number.isInteger(value) && value >= f.min && value <= f.max)) {
        errors[f.key] = `A whole number in [${f.min}, ${f.max}].`;
      }
    } else if (typeof value !== 'string' || !f.choices.includes(value)) {
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
