/**
 * What each transform's options are, as plain data: the `…Range` keys, fixed choices and
 * whole numbers a pipeline step may carry, their bounds and the value a new step starts
 * from. The transforms' `sample` functions read their bounds and choices from here, and
 * the pipeline builder draws and checks its form from the same schema, so a bad value is
 * flagged as it is typed instead of when a preview fails; the library still validates
 * everything it is given. No tfjs, directly or not.
 */
import type { BorderMode } from './types';

/** OpenCV's border modes, in the order the form lists them. */
export const BORDER_MODES: readonly BorderMode[] = ['constant', 'replicate', 'reflect', 'reflect101'];

export type FlipMode = 'horizontal' | 'vertical' | 'both';
export type WarpInterpolation = 'bilinear' | 'nearest';
export type ResizeInterpolation = 'nearest' | 'bilinear' | 'area';
export const FLIP_MODES: readonly FlipMode[] = ['horizontal', 'vertical', 'both'];
export const WARP_INTERPOLATIONS: readonly WarpInterpolation[] = ['bilinear', 'nearest'];
export const RESIZE_INTERPOLATIONS: readonly ResizeInterpolation[] = ['nearest', 'bilinear', 'area'];
export const CROP_POSITIONS = ['random', 'center'] as const;

/** Largest side a resize may ask for: 4096² RGB is 48 MiB, beyond any training input. */
export const MAX_RESIZE_SIDE_PX = 4096;
/** Shear beyond ±80° sends the image to infinity (tan 90°). */
export const MAX_SHEAR_DEG = 80;
export const MIN_SCALE = 0.05;
export const MAX_SCALE = 20;
export const MAX_SHIFT_FRACTION = 1;
export const MAX_ANGLE_DEG = 360;
/** The largest value of an 8-bit channel: thresholds, fills and border values. */
export const MAX_U8 = 255;

export const MAX_BOX_KSIZE = 31;
export const MAX_GAUSSIAN_KSIZE = 31;
export const MAX_MEDIAN_KSIZE = 7;
export const MIN_MEDIAN_KSIZE = 3;
export const MAX_BILATERAL_D = 15;
export const MAX_SIGMA = 100;
/** OpenCV turns sigma ≤ 0 into 1 silently; we refuse it instead, down to this floor. */
export const MIN_BILATERAL_SIGMA = 0.01;
/** Bilateral's sigmaColor is in grey levels; beyond ~1000 it is a plain Gaussian. */
export const MAX_SIGMA_COLOR = 1000;

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

/** A range field; its input steps by whole numbers when it is an integer range, by hundredths otherwise. */
const range = (
  key: string,
  label: string,
  min: number,
  max: number,
  initial: [number, number],
  extra: Partial<Pick<RangeField, 'integer' | 'odd' | 'unit'>> = {},
): RangeField => ({ kind: 'range', key, label, min, max, step: extra.integer ? 1 : 0.01, initial, ...extra });

const warpFields: ParamField[] = [
  { kind: 'choice', key: 'border', label: 'Border', choices: BORDER_MODES, initial: 'constant' },
  { kind: 'int', key: 'borderValue', label: 'Border value', min: 0, max: MAX_U8, initial: 0 },
  { kind: 'choice', key: 'interpolation', label: 'Interpolation', choices: WARP_INTERPOLATIONS, initial: 'bilinear' },
];
const filterBorder: ParamField = { kind: 'choice', key: 'border', label: 'Border', choices: BORDER_MODES, initial: 'reflect101' };

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
  flip: [{ kind: 'choice', key: 'mode', label: 'Mode', choices: FLIP_MODES, initial: 'horizontal' }],
  rotate: [range('angleRange', 'Angle', -MAX_ANGLE_DEG, MAX_ANGLE_DEG, [-15, 15], { unit: '°' }), ...warpFields],
  translate: [
    range('shiftXRange', 'Shift x (fraction)', -MAX_SHIFT_FRACTION, MAX_SHIFT_FRACTION, [-0.1, 0.1]),
    range('shiftYRange', 'Shift y (fraction)', -MAX_SHIFT_FRACTION, MAX_SHIFT_FRACTION, [-0.1, 0.1]),
    ...warpFields,
  ],
  shear: [
    range('shearXRange', 'Shear x', -MAX_SHEAR_DEG, MAX_SHEAR_DEG, [-10, 10], { unit: '°' }),
    range('shearYRange', 'Shear y', -MAX_SHEAR_DEG, MAX_SHEAR_DEG, [0, 0], { unit: '°' }),
    ...warpFields,
  ],
  scale: [range('scaleRange', 'Scale', MIN_SCALE, MAX_SCALE, [0.9, 1.1]), ...warpFields],
  affine: [
    range('angleRange', 'Angle', -MAX_ANGLE_DEG, MAX_ANGLE_DEG, [-10, 10], { unit: '°' }),
    range('scaleRange', 'Scale', MIN_SCALE, MAX_SCALE, [0.9, 1.1]),
    range('shiftXRange', 'Shift x (fraction)', -MAX_SHIFT_FRACTION, MAX_SHIFT_FRACTION, [-0.05, 0.05]),
    range('shiftYRange', 'Shift y (fraction)', -MAX_SHIFT_FRACTION, MAX_SHIFT_FRACTION, [-0.05, 0.05]),
    range('shearXRange', 'Shear x', -MAX_SHEAR_DEG, MAX_SHEAR_DEG, [0, 0], { unit: '°' }),
    range('shearYRange', 'Shear y', -MAX_SHEAR_DEG, MAX_SHEAR_DEG, [0, 0], { unit: '°' }),
    ...warpFields,
  ],
  resize: [
    { kind: 'int', key: 'width', label: 'Width', min: 1, max: MAX_RESIZE_SIDE_PX, initial: 32, unit: 'px' },
    { kind: 'int', key: 'height', label: 'Height', min: 1, max: MAX_RESIZE_SIDE_PX, initial: 32, unit: 'px' },
    { kind: 'choice', key: 'interpolation', label: 'Interpolation', choices: RESIZE_INTERPOLATIONS, initial: 'bilinear' },
  ],
  crop: [
    { kind: 'int', key: 'width', label: 'Width', min: 1, max: MAX_RESIZE_SIDE_PX, initial: 24, unit: 'px' },
    { kind: 'int', key: 'height', label: 'Height', min: 1, max: MAX_RESIZE_SIDE_PX, initial: 24, unit: 'px' },
    { kind: 'choice', key: 'position', label: 'Position', choices: CROP_POSITIONS, initial: 'random' },
  ],
  box: [range('ksizeRange', 'Kernel size', 1, MAX_BOX_KSIZE, [3, 5], { integer: true, odd: true, unit: 'px' }), filterBorder],
  'gaussian-blur': [
    range('ksizeRange', 'Kernel size', 1, MAX_GAUSSIAN_KSIZE, [3, 5], { integer: true, odd: true, unit: 'px' }),
    range('sigmaRange', 'Sigma (0 = from size)', 0, MAX_SIGMA, [0, 0], { unit: 'px' }),
    filterBorder,
  ],
  median: [range('ksizeRange', 'Kernel size', MIN_MEDIAN_KSIZE, MAX_MEDIAN_KSIZE, [3, 5], { integer: true, odd: true, unit: 'px' })],
  bilateral: [
    range('dRange', 'Diameter', 1, MAX_BILATERAL_D, [5, 5], { integer: true, odd: true, unit: 'px' }),
    range('sigmaColorRange', 'Sigma colour', MIN_BILATERAL_SIGMA, MAX_SIGMA_COLOR, [25, 75]),
    range('sigmaSpaceRange', 'Sigma space', MIN_BILATERAL_SIGMA, MAX_SIGMA, [25, 75], { unit: 'px' }),
    filterBorder,
  ],
};

/** A transform's option fields; none for a transform the schema does not know. */
export function fieldsOf(transform: string): readonly ParamField[] {
  return PARAM_FIELDS[transform] ?? [];
}

/**
 * The bounds of one range option, for the transform's sampler to check a spec against:
 * `readRange(spec, key, { ...rangeBounds(name, key), fallback })`. Throws at module load
 * when the schema lacks the option, a wiring bug.
 */
export function rangeBounds(transform: string, key: string): { min: number; max: number; integer?: boolean } {
  const f = fieldsOf(transform).find((x) => x.key === key);
  if (f?.kind !== 'range') throw new Error(`The augment schema has no range "${key}" for ${transform}.`);
  return f.integer === true ? { min: f.min, max: f.max, integer: true } : { min: f.min, max: f.max };
}

/** A whole number in [min, max]: what an int option must be, in the library and the form. */
export function isIntIn(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}

/** One of `choices`: what a choice option must be, in the library and the form. */
export function isChoice<T extends string>(value: unknown, choices: readonly T[]): value is T {
  return typeof value === 'string' && (choices as readonly string[]).includes(value);
}

/** The smallest and largest odd whole numbers in [lo, hi] (kernel sizes), or null when it holds none. */
export function oddBounds(lo: number, hi: number): [number, number] | null {
  const first = Math.ceil(lo) % 2 === 0 ? Math.ceil(lo) + 1 : Math.ceil(lo);
  const last = Math.floor(hi) % 2 === 0 ? Math.floor(hi) - 1 : Math.floor(hi);
  return first > last ? null : [first, last];
}

