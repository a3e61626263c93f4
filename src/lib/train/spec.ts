/**
 * What a training run accepts, as plain data: the model kinds, each model's starting
 * configuration, the bounds of every hyperparameter and the rules the training loop and
 * the Train page's form share. No tfjs, directly or not, so the form imports it as
 * models.ts and optim.ts do: one source, nothing to keep in sync.
 */

import type { ModelKind } from '../storage/stored-shapes';
export type { ModelKind } from '../storage/stored-shapes';
/** Every model Hearth builds, in the order the Train page lists them. */
export const MODEL_KINDS: readonly ModelKind[] = ['lenet', 'resnet-small', 'mobilenet-v1'];

/** MobileNet's default width: the TinyML person-detection network. */
export const DEFAULT_WIDTH_MULTIPLIER = 0.25;
/** Wider than 4× the reference MobileNet is far beyond what a browser trains in minutes. */
export const MAX_WIDTH_MULTIPLIER = 4;

/** The form's ceilings: a longer run or a larger batch is a typo, not a plan, in a browser. */
export const MAX_EPOCHS = 500;
/** The share of the training samples held out for validation when a version has no validation split. */
export const DEFAULT_HOLDOUT_FRACTION = 0.1;
/**
 * Default epochs: a first run should take enough optimiser steps to learn (TARGET_STEPS;
 * a user's 300-image dataset reached 24 % test accuracy in 3 epochs, 67 % in 20) without
 * running past a time budget when a finished run of the same model has measured the
 * throughput; early stopping ends it sooner once validation stops improving.
 */
export const TARGET_STEPS = 600;
export const MIN_DEFAULT_EPOCHS = 3;
export const MAX_DEFAULT_EPOCHS = 50;
export const EPOCH_TIME_BUDGET_S = 60;

export interface EpochSuggestion {
  epochs: number;
  /** Why, in words for the form's hint. */
  reason: string;
}

export function suggestEpochs(trainCount: number, batchSize: number, imgPerSec: number | null, budgetS = EPOCH_TIME_BUDGET_S): EpochSuggestion {
  const stepsPerEpoch = Math.max(1, Math.ceil(trainCount / Math.max(1, batchSize)));
  const bySteps = Math.ceil(TARGET_STEPS / stepsPerEpoch);
  const byTime = imgPerSec !== null && imgPerSec > 0 && trainCount > 0 ? Math.floor((budgetS * imgPerSec) / trainCount) : Infinity;
  const epochs = Math.min(MAX_DEFAULT_EPOCHS, Math.max(MIN_DEFAULT_EPOCHS, Math.min(bySteps, byTime)));
  const seconds = imgPerSec !== null && imgPerSec > 0 ? Math.round((epochs * trainCount) / imgPerSec) : null;
  const reason =
    `${epochs} epochs for ${trainCount} training images: about ${epochs * stepsPerEpoch} steps` +
    (seconds !== null ? ` and ${seconds} s at the ${Math.round(imgPerSec as number)} img/s the last run measured` : '') +
    '; early stopping ends sooner when validation stops improving.';
  return { epochs, reason };
}

/** Validated epochs without a better validation loss before a run stops early (Keras' common choice). */
export const DEFAULT_PATIENCE = 5;
export const MAX_BATCH_SIZE = 1024;
/** Above this every optimizer here diverges on normalised pixels. */
export const MAX_LR = 10;
/** Seeds are 32-bit unsigned (src/lib/data/rng.ts). */
export const MAX_SEED = 0xffffffff;
export const DEFAULT_SEED = 42;

export type OptimizerKind = 'sgd' | 'adam';

export const SGD_DEFAULTS = { lr: 0.05, momentum: 0.9, nesterov: true } as const;
// PyTorch's Adam defaults; the loop's Adam decay is decoupled (AdamW), whose usual 1e-2
// would be a hundred times too weak as an SGD L2 term and vice versa.
export const ADAM_DEFAULTS = { lr: 0.001, beta1: 0.9, beta2: 0.999, eps: 1e-8 } as const;
export const WEIGHT_DECAY_DEFAULT: Readonly<Record<OptimizerKind, number>> = { sgd: 5e-4, adam: 1e-2 };

/** Per model: sizes that train in minutes in a browser and reach a useful accuracy. */
export const MODEL_DEFAULTS: Readonly<
  Record<ModelKind, { optimizer: OptimizerKind; batchSize: number; epochs: number; warmupEpochs: number; lr: number }>
> = {
  lenet: { optimizer: 'sgd', batchSize: 64, epochs: 3, warmupEpochs: 0, lr: 0.05 },
  'resnet-small': { optimizer: 'sgd', batchSize: 128, epochs: 5, warmupEpochs: 1, lr: 0.1 },
  'mobilenet-v1': { optimizer: 'adam', batchSize: 32, epochs: 5, warmupEpochs: 1, lr: 0.001 },
};

/** A MobileNet width multiplier: above 0, at most MAX_WIDTH_MULTIPLIER. */
export function isWidthMultiplier(w: number): boolean {
  return Number.isFinite(w) && w > 0 && w <= MAX_WIDTH_MULTIPLIER;
}

/** An SGD momentum, or an Adam beta: in [0, 1). */
export function isMomentum(m: number): boolean {
  return m >= 0 && m < 1;
}

/** Nesterov's look-ahead is the momentum term: with momentum 0 it would silently do nothing. */
export function nesterovLacksMomentum(nesterov: boolean, momentum: number): boolean {
  return nesterov && momentum === 0;
}

/** Epochs between a step schedule's rate drops: a whole number, at least 1. */
export function isStepEvery(everyEpochs: number): boolean {
  return Number.isInteger(everyEpochs) && everyEpochs >= 1;
}

/** A cosine schedule's warm-up, in epochs: 0 or more. */
export function isWarmupEpochs(w: number): boolean {
  return Number.isFinite(w) && w >= 0;
}
