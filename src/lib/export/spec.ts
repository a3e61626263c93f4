/**
 * What the export job accepts, as plain data: the calibration methods, the defaults and
 * bounds of a request, and the threshold that flags a group. No tfjs, directly or not, so
 * the Export page's form imports it as the job does: one source, nothing to keep in sync.
 */

import type { CalibrationMethod } from '../storage/stored-shapes';
export type { CalibrationMethod } from '../storage/stored-shapes';
/** Every method calibrate.ts implements, in the order the form lists them. */
export const CALIBRATION_METHODS: readonly CalibrationMethod[] = ['minmax', 'percentile', 'mse'];
/** Usually the most accurate (see calibrate.ts). */
export const DEFAULT_CALIBRATION_METHOD: CalibrationMethod = 'mse';

export const DEFAULT_CALIBRATION_SAMPLES = 300;
/** Calibration runs every sample through the float graph (twice for percentile and mse): more than this is slow and adds little. */
export const MAX_CALIBRATION_SAMPLES = 10_000;
export const DEFAULT_MAX_EVAL_PER_SPLIT = 2000;
export const DEFAULT_EXPORT_SEED = 1234;
/** The usual first board for TinyML work; the form starts on it. */
export const DEFAULT_BOARD_ID = 'nano-33-ble-sense';

/** A group whose int8 accuracy falls this many points more than the whole set's is flagged. */
export const GROUP_DROP_FLAG_POINTS = 1;

/** The all-in-one zip the export job writes last; the files list puts it first. */
export const BUNDLE_FILE_NAME = 'hearth-export.zip';
