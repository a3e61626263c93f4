/**
 * The Train page's form as plain data: per-model defaults, validation with messages that
 * say what to type instead, and the conversion to the training loop's TrainConfig. Pure
 * functions (no Svelte, no DOM), so the rules read in one place.
 *
 * The defaults, bounds and the rules the training loop applies too come from
 * src/lib/train/spec.ts (no tfjs), which models.ts and optim.ts import as well; the worker
 * validates again, and checking here first lets the form name the field instead of
 * failing a job.
 */
import type { TrainConfig } from '../../lib/train/train';
import {
  ADAM_DEFAULTS,
  DEFAULT_SEED,
  DEFAULT_HOLDOUT_FRACTION,
  DEFAULT_PATIENCE,
  DEFAULT_WIDTH_MULTIPLIER,
  isMomentum,
  isStepEvery,
  isWarmupEpochs,
  isWidthMultiplier,
  MAX_BATCH_SIZE,
  MAX_EPOCHS,
  MAX_LR,
  MAX_SEED,
  MAX_WIDTH_MULTIPLIER,
  MODEL_DEFAULTS,
  MODEL_KINDS,
  nesterovLacksMomentum,
  SGD_DEFAULTS,
  WEIGHT_DECAY_DEFAULT,
  type ModelKind,
} from '../../lib/train/spec';

/** The model a run trains: the architecture and, for MobileNet, its width. */
export interface ModelChoice {
  kind: ModelKind;
  /** MobileNet only. */
  widthMultiplier?: number;
}

export type OptimizerKind = TrainConfig['optimizer']['kind'];
export type ScheduleKind = TrainConfig['schedule']['kind'];

/** A number input's value: Svelte binds an empty number field as null. */
export type NumberField = number | null | undefined;

/** What the form edits. Numbers may be empty while the user types; validation says so. */
export interface TrainForm {
  modelKind: ModelKind;
  widthMultiplier: NumberField;
  epochs: NumberField;
  batchSize: NumberField;
  optimizer: OptimizerKind;
  lr: NumberField;
  momentum: NumberField;
  nesterov: boolean;
  beta1: NumberField;
  beta2: NumberField;
  eps: NumberField;
  weightDecay: NumberField;
  schedule: ScheduleKind;
  everyEpochs: NumberField;
  gamma: NumberField;
  warmupEpochs: NumberField;
  seed: NumberField;
  /** A saved augmentation pipeline of the project, or null for none. */
  augmentPipelineId: string | null;
  /** With no validation split: hold out DEFAULT_HOLDOUT_FRACTION of train, stratified (on by default). */
  holdout: boolean;
  /** Stop when the validation loss has not improved for `patience` epochs (on by default; needs validation). */
  earlyStop: boolean;
  patience: NumberField;
}

export type FormErrors = Partial<Record<keyof TrainForm, string>>;

/** What the form knows of the dataset, to check the batch size against it. */
export interface DatasetFacts {
  /** Labeled samples in the train split. */
  trainCount: number;
  /** Ids of the project's saved augmentation pipelines, when known. */
  pipelineIds?: readonly string[];
  /** Labeled samples in the val split; 0 offers the hold-out. */
  valCount?: number;
}

export const MODEL_INFO: Record<ModelKind, { label: string; blurb: string }> = {
  lenet: { label: 'LeNet', blurb: 'Two conv layers and a small head. Fast; right for MNIST-sized, grey images.' },
  'resnet-small': {
    label: 'Small ResNet',
    blurb: 'Residual blocks with BatchNorm. Stronger on colour images; several times slower per epoch.',
  },
  'mobilenet-v1': {
    label: 'MobileNet v1',
    blurb: 'Depthwise-separable convolutions, the TinyML shape: pick the width to fit a microcontroller.',
  },
};
/** The order the model picker lists them: the spec's. */
export const MODEL_ORDER: readonly ModelKind[] = MODEL_KINDS;

/** The form for `kind` with its defaults; `seed` carries over when the user switches model. */
export function defaultForm(kind: ModelKind, seed: NumberField = DEFAULT_SEED): TrainForm {
  const d = MODEL_DEFAULTS[kind];
  return {
    modelKind: kind,
    widthMultiplier: DEFAULT_WIDTH_MULTIPLIER,
    epochs: d.epochs,
    batchSize: d.batchSize,
    optimizer: d.optimizer,
    lr: d.lr,
    momentum: SGD_DEFAULTS.momentum,
    nesterov: SGD_DEFAULTS.nesterov,
    beta1: ADAM_DEFAULTS.beta1,
    beta2: ADAM_DEFAULTS.beta2,
    eps: ADAM_DEFAULTS.eps,
    weightDecay: WEIGHT_DECAY_DEFAULT[d.optimizer],
    schedule: 'cosine',
    everyEpochs: Math.max(1, Math.ceil(d.epochs / 3)),
    gamma: 0.1,
    warmupEpochs: d.warmupEpochs,
    seed,
    augmentPipelineId: null,
    holdout: true,
    earlyStop: true,
    patience: DEFAULT_PATIENCE,
  };
}

/** The rate and decay that suit `kind` (an SGD rate is ~50× an Adam one). */
export function optimizerDefaults(kind: OptimizerKind): { lr: number; weightDecay: number } {
  return { lr: kind === 'sgd' ? SGD_DEFAULTS.lr : ADAM_DEFAULTS.lr, weightDecay: WEIGHT_DECAY_DEFAULT[kind] };
}

/**
 * The form that would run `config` again (the "Use these settings" of a past run), with
 * the run's saved pipeline when it still exists (`augmentPipelineId`, or null).
 */
export function formFromConfig(kind: ModelKind, widthMultiplier: number | undefined, config: TrainConfig, augmentPipelineId: string | null = null): TrainForm {
  const form = defaultForm(kind, config.seed);
  form.augmentPipelineId = augmentPipelineId;
  form.holdout = config.holdout !== undefined;
  form.earlyStop = config.earlyStop !== undefined;
  if (config.earlyStop) form.patience = config.earlyStop.patience;
  form.widthMultiplier = widthMultiplier ?? DEFAULT_WIDTH_MULTIPLIER;
  form.epochs = config.epochs;
  form.batchSize = config.batchSize;
  form.weightDecay = config.weightDecay;
  const o = config.optimizer;
  form.optimizer = o.kind;
  form.lr = o.lr;
  if (o.kind === 'sgd') {
    form.momentum = o.momentum;
    form.nesterov = o.nesterov;
  } else {
    form.beta1 = o.beta1;
    form.beta2 = o.beta2;
    form.eps = o.eps;
  }
  const s = config.schedule;
  form.schedule = s.kind;
  if (s.kind === 'step') {
    form.everyEpochs = s.everyEpochs;
    form.gamma = s.gamma;
  } else if (s.kind === 'cosine') {
    form.warmupEpochs = s.warmupEpochs;
  }
  return form;
}

/** A fresh 32-bit seed; the run records it, so "random" runs stay reproducible. */
export function randomSeed(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0] ?? DEFAULT_SEED;
}

function isNum(v: NumberField): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

export type FormResult =
  | { ok: true; model: ModelChoice; config: TrainConfig; augmentation: { pipelineId: string } | null }
  | { ok: false; errors: FormErrors };

/**
 * Checks every field that matters for the chosen optimizer and schedule, and builds the
 * config when all pass. Fields hidden by the current choices (Adam's betas under SGD)
 * are neither checked nor sent.
 */
export function validateForm(f: TrainForm, data: DatasetFacts | null): FormResult {
  const errors: FormErrors = {};
  const { epochs, batchSize, lr, weightDecay, seed } = f;

  if (!isNum(epochs) || !Number.isInteger(epochs) || epochs < 1 || epochs > MAX_EPOCHS) {
    errors.epochs = `Enter a whole number of epochs from 1 to ${MAX_EPOCHS}; 3 is enough to see LeNet learn.`;
  }
  if (!isNum(batchSize) || !Number.isInteger(batchSize) || batchSize < 1 || batchSize > MAX_BATCH_SIZE) {
    errors.batchSize = `Enter a whole batch size from 1 to ${MAX_BATCH_SIZE}; 32–128 suits most runs.`;
  } else if (data && data.trainCount > 0 && batchSize > data.trainCount) {
    errors.batchSize = `The batch (${batchSize}) is larger than the ${data.trainCount} labeled training samples: use ${data.trainCount} or fewer.`;
  }
  if (!isNum(lr) || lr <= 0) {
    errors.lr = `Enter a learning rate above 0: ${f.optimizer === 'sgd' ? '0.05 suits SGD' : '0.001 suits Adam'}.`;
  } else if (lr > MAX_LR) {
    errors.lr = `A learning rate above ${MAX_LR} makes training diverge: try ${f.optimizer === 'sgd' ? '0.05' : '0.001'}.`;
  }
  if (!isNum(weightDecay) || weightDecay < 0 || weightDecay >= 1) {
    errors.weightDecay = 'Enter a weight decay from 0 up to (not including) 1; 5e-4 is common for SGD, 1e-2 for Adam.';
  }
  if (!isNum(seed) || !Number.isInteger(seed) || seed < 0 || seed > MAX_SEED) {
    errors.seed = `Enter a whole-number seed from 0 to ${MAX_SEED}, or press Random.`;
  }
  if (f.augmentPipelineId !== null && data?.pipelineIds && !data.pipelineIds.includes(f.augmentPipelineId)) {
    errors.augmentPipelineId = 'That pipeline is no longer saved in this project: pick another one, or None.';
  }
  if (f.earlyStop && !(isNum(f.patience) && Number.isInteger(f.patience) && f.patience >= 1)) {
    errors.patience = `Enter a whole number of epochs, 1 or more; ${DEFAULT_PATIENCE} is usual.`;
  }
  if (f.modelKind === 'mobilenet-v1') {
    const w = f.widthMultiplier;
    if (!isNum(w) || !isWidthMultiplier(w)) {
      errors.widthMultiplier = `Enter a width above 0 and at most ${MAX_WIDTH_MULTIPLIER}; ${DEFAULT_WIDTH_MULTIPLIER} is the TinyML person-detection size.`;
    }
  }

  let optimizer: TrainConfig['optimizer'] | null = null;
  if (f.optimizer === 'sgd') {
    const m = f.momentum;
    if (!isNum(m) || !isMomentum(m)) errors.momentum = 'Enter a momentum from 0 up to (not including) 1; 0.9 is usual.';
    else if (nesterovLacksMomentum(f.nesterov, m)) errors.nesterov = 'Nesterov needs a momentum above 0: set momentum to 0.9 or turn Nesterov off.';
    if (isNum(lr) && isNum(m)) optimizer = { kind: 'sgd', lr, momentum: m, nesterov: f.nesterov };
  } else {
    const { beta1, beta2, eps } = f;
    if (!isNum(beta1) || !isMomentum(beta1)) errors.beta1 = 'Enter β1 from 0 up to (not including) 1; 0.9 is usual.';
    if (!isNum(beta2) || !isMomentum(beta2)) errors.beta2 = 'Enter β2 from 0 up to (not including) 1; 0.999 is usual.';
    if (!isNum(eps) || eps <= 0 || eps >= 1) errors.eps = 'Enter an epsilon above 0 and below 1; 1e-8 is usual.';
    if (isNum(lr) && isNum(beta1) && isNum(beta2) && isNum(eps)) optimizer = { kind: 'adam', lr, beta1, beta2, eps };
  }

  let schedule: TrainConfig['schedule'] | null = null;
  if (f.schedule === 'constant') {
    schedule = { kind: 'constant' };
  } else if (f.schedule === 'step') {
    const { everyEpochs, gamma } = f;
    if (!isNum(everyEpochs) || !isStepEvery(everyEpochs)) {
      errors.everyEpochs = 'Enter a whole number of epochs ≥ 1 between rate drops.';
    } else if (isNum(epochs) && everyEpochs >= epochs) {
      errors.everyEpochs = `Dropping every ${everyEpochs} epochs in a ${epochs}-epoch run never drops the rate: use fewer than ${epochs}, or the constant schedule.`;
    }
    if (!isNum(gamma) || gamma <= 0 || gamma > 1) errors.gamma = 'Enter a factor above 0 and at most 1; 0.1 divides the rate by ten.';
    if (isNum(everyEpochs) && isNum(gamma)) schedule = { kind: 'step', everyEpochs, gamma };
  } else {
    const w = f.warmupEpochs;
    if (!isNum(w) || !isWarmupEpochs(w)) errors.warmupEpochs = 'Enter 0 or more warm-up epochs; 0 starts at the full rate.';
    else if (isNum(epochs) && w >= epochs) errors.warmupEpochs = `Warm-up must be shorter than the run (${epochs} epochs), or the rate never decays.`;
    if (isNum(w)) schedule = { kind: 'cosine', warmupEpochs: w };
  }

  if (Object.keys(errors).length > 0 || !optimizer || !schedule || !isNum(epochs) || !isNum(batchSize) || !isNum(weightDecay) || !isNum(seed)) {
    return { ok: false, errors };
  }
  const model: ModelChoice =
    f.modelKind === 'mobilenet-v1' && isNum(f.widthMultiplier)
      ? { kind: f.modelKind, widthMultiplier: f.widthMultiplier }
      : { kind: f.modelKind };
  const augmentation = f.augmentPipelineId === null ? null : { pipelineId: f.augmentPipelineId };
  const config: TrainConfig = { epochs, batchSize, optimizer, weightDecay, schedule, seed };
  // Only a version without validation samples holds part of train out; the run records it.
  if (f.holdout && data?.valCount === 0) config.holdout = { fraction: DEFAULT_HOLDOUT_FRACTION };
  // Early stopping reads the validation loss: without validation samples it cannot act.
  const validates = (data?.valCount ?? 0) > 0 || config.holdout !== undefined;
  if (f.earlyStop && validates && isNum(f.patience)) config.earlyStop = { patience: f.patience };
  return { ok: true, model, config, augmentation };
}

/** 0.05 → "0.05", 0.0005 → "5e-4": the way people write rates and decays. */
export function formatHyper(v: number): string {
  // A scheduled learning rate is any real number: four significant digits are what a
  // person compares ("4.933e-5", not "4.933178929321103e-5"); a typed 5e-4 stays "5e-4".
  const rounded = Number(v.toPrecision(4));
  if (v !== 0 && Math.abs(v) < 1e-3) return rounded.toExponential();
  return String(rounded);
}

/** One line a person can compare between runs: "SGD lr 0.05 · m 0.9 Nesterov · batch 64 · 3 ep · cosine · wd 5e-4". */
export function configSummary(config: TrainConfig): string {
  const o = config.optimizer;
  const opt =
    o.kind === 'sgd'
      ? `SGD lr ${formatHyper(o.lr)} · m ${formatHyper(o.momentum)}${o.nesterov ? ' Nesterov' : ''}`
      : `Adam lr ${formatHyper(o.lr)} · β ${formatHyper(o.beta1)}/${formatHyper(o.beta2)}`;
  const s = config.schedule;
  const sched =
    s.kind === 'constant'
      ? 'constant'
      : s.kind === 'step'
        ? `step ×${formatHyper(s.gamma)}/${s.everyEpochs} ep`
        : s.warmupEpochs > 0
          ? `cosine, ${formatHyper(s.warmupEpochs)} ep warm-up`
          : 'cosine';
  return `${opt} · batch ${config.batchSize} · ${config.epochs} ep · ${sched} · wd ${formatHyper(config.weightDecay)}`;
}
