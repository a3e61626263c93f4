/**
 * Optimizers and learning-rate schedules for the training loop.
 *
 * The updates are written here on tf variables rather than wrapping `tf.train.*`, because
 * the loop needs three things those optimizers do not give cleanly:
 *  - a learning rate set per step by a schedule (tf.train's optimizers fix it at
 *    construction; changing it means poking at a protected field);
 *  - explicit weight decay with a stated meaning (tf.train has none);
 *  - optimizer state (momentum, Adam moments, step count) that can be read out bit for
 *    bit and written back, so a run resumed from a checkpoint continues exactly as an
 *    uninterrupted one (tf.train's getWeights/setWeights also exist, but their slot names
 *    depend on global variable-name counters that differ between sessions).
 *
 * Weight decay, stated:
 *  - SGD: L2, added to the gradient before momentum, g ← g + λ·θ (PyTorch `SGD`).
 *  - Adam: decoupled, θ ← θ − lr·λ·θ before the Adam step (PyTorch `AdamW`,
 *    Loshchilov & Hutter 2019); with L2 inside Adam the decay would be rescaled by the
 *    adaptive denominator and lose its meaning.
 * Decay applies to every trainable weight (biases and BatchNorm scales included), as a
 * PyTorch optimizer given `model.parameters()` does.
 */
import { tf } from '../compute/register';
import { InvalidInputError } from '../jobs/errors';
import type { OptimizerConfig, ScheduleConfig, SlotState, OptimizerState } from '../storage/stored-shapes';
export type { SgdConfig, AdamConfig, OptimizerConfig, ScheduleConfig, SlotState, OptimizerState } from '../storage/stored-shapes';
import { isMomentum, isStepEvery, isWarmupEpochs, nesterovLacksMomentum } from './spec';

/** Where a step sits in the run, which is all a schedule depends on. */
export interface ScheduleClock {
  /** Global step index, 0-based, counted over all epochs. */
  step: number;
  stepsPerEpoch: number;
  epochs: number;
}

/** The learning rate at one step; a pure function so a resumed run recomputes it exactly. */
export function learningRateAt(baseLr: number, schedule: ScheduleConfig, clock: ScheduleClock): number {
  const { step, stepsPerEpoch, epochs } = clock;
  switch (schedule.kind) {
    case 'constant':
      return baseLr;
    case 'step': {
      const epoch = Math.floor(step / stepsPerEpoch);
      return baseLr * schedule.gamma ** Math.floor(epoch / schedule.everyEpochs);
    }
    case 'cosine': {
      const warmupSteps = Math.round(schedule.warmupEpochs * stepsPerEpoch);
      if (step < warmupSteps) return (baseLr * (step + 1)) / warmupSteps;
      const decaySteps = epochs * stepsPerEpoch - warmupSteps;
      if (decaySteps <= 0) return baseLr;
      // PyTorch's CosineAnnealingLR with T_max = decaySteps: the last step still moves
      // (a schedule reaching exactly 0 would waste it).
      const progress = Math.min(1, (step - warmupSteps) / decaySteps);
      return baseLr * 0.5 * (1 + Math.cos(Math.PI * progress));
    }
  }
}

/** Refuses configurations that would train to NaN or silently do nothing. */
export function validateOptimization(optimizer: OptimizerConfig, schedule: ScheduleConfig, weightDecay: number): void {
  const positive = (v: number): boolean => Number.isFinite(v) && v > 0;
  if (!positive(optimizer.lr)) throw new InvalidInputError(`The learning rate must be a positive number, got ${optimizer.lr}: try 0.01 for SGD or 0.001 for Adam.`);
  if (!(Number.isFinite(weightDecay) && weightDecay >= 0)) {
    throw new InvalidInputError(`Weight decay must be 0 or more, got ${weightDecay}: 5e-4 is a common choice.`);
  }
  if (optimizer.kind === 'sgd' && !isMomentum(optimizer.momentum)) {
    throw new InvalidInputError(`SGD momentum must be in [0, 1), got ${optimizer.momentum}: 0.9 is usual.`);
  }
  if (optimizer.kind === 'sgd' && nesterovLacksMomentum(optimizer.nesterov, optimizer.momentum)) {
    throw new InvalidInputError('Nesterov momentum needs a momentum above 0: set momentum to 0.9 or turn Nesterov off.');
  }
  if (optimizer.kind === 'adam') {
    const { beta1, beta2, eps } = optimizer;
    if (!(isMomentum(beta1) && isMomentum(beta2))) {
      throw new InvalidInputError(`Adam's betas must be in [0, 1), got ${beta1} and ${beta2}: use 0.9 and 0.999.`);
    }
    if (!positive(eps)) throw new InvalidInputError(`Adam's epsilon must be positive, got ${eps}: use 1e-8.`);
  }
  if (schedule.kind === 'step' && !(isStepEvery(schedule.everyEpochs) && positive(schedule.gamma))) {
    throw new InvalidInputError('A step schedule needs a whole number of epochs ≥ 1 between steps and a positive gamma (e.g. every 10 epochs, gamma 0.1).');
  }
  if (schedule.kind === 'cosine' && !isWarmupEpochs(schedule.warmupEpochs)) {
    throw new InvalidInputError(`Cosine warm-up must be 0 epochs or more, got ${schedule.warmupEpochs}.`);
  }
}

/**
 * SGD (momentum, Nesterov) or Adam over a fixed list of variables. Slots are created
 * lazily at the first step with the variable's shape, zero-filled; `step` runs in
 * `tf.tidy` and assigns in place, so it leaves no tensors behind.
 */
export class Optimizer {
  readonly #config: OptimizerConfig;
  readonly #weightDecay: number;
  readonly #vars: readonly tf.Variable[];
  /** Per slot name ('momentum' | 'm' | 'v'), one variable per entry of #vars. */
  readonly #slots = new Map<string, tf.Variable[]>();
  #stepCount = 0;

  constructor(config: OptimizerConfig, weightDecay: number, variables: readonly tf.Variable[]) {
    this.#config = config;
    this.#weightDecay = weightDecay;
    this.#vars = variables;
  }

  get stepCount(): number {
    return this.#stepCount;
  }

  #slotNames(): string[] {
    if (this.#config.kind === 'adam') return ['m', 'v'];
    return this.#config.momentum > 0 ? ['momentum'] : [];
  }

  #slot(name: string): tf.Variable[] {
    let slot = this.#slots.get(name);
    if (!slot) {
      slot = this.#vars.map((v) => tf.tidy(() => tf.variable(tf.zerosLike(v), false)));
      this.#slots.set(name, slot);
    }
    return slot;
  }

  /**
   * Applies one update with learning rate `lr`. `grads[i]` is the gradient of variable i
   * (same order as the constructor's list); the caller keeps ownership of the gradients.
   */
  step(grads: readonly tf.Tensor[], lr: number): void {
    if (grads.length !== this.#vars.length) {
      throw new Error(`Optimizer got ${grads.length} gradients for ${this.#vars.length} variables.`);
    }
    const slots = this.#slotNames().map((n) => this.#slot(n));
    this.#stepCount++;
    const t = this.#stepCount;
    const config = this.#config;
    const wd = this.#weightDecay;
    tf.tidy(() => {
      this.#vars.forEach((theta, i) => {
        let g = grads[i] as tf.Tensor;
        if (config.kind === 'sgd') {
          if (wd > 0) g = g.add(theta.mul(wd));
          if (config.momentum > 0) {
            const buf = (slots[0] as tf.Variable[])[i] as tf.Variable;
            // buf ← μ·buf + g; PyTorch starts buf at g, which is this with buf = 0.
            const next = buf.mul(config.momentum).add(g);
            buf.assign(next);
            g = config.nesterov ? g.add(next.mul(config.momentum)) : next;
          }
          theta.assign(theta.sub(g.mul(lr)));
        } else {
          const m = (slots[0] as tf.Variable[])[i] as tf.Variable;
          const v = (slots[1] as tf.Variable[])[i] as tf.Variable;
          const decayed = wd > 0 ? theta.mul(1 - lr * wd) : theta;
          const mNext = m.mul(config.beta1).add(g.mul(1 - config.beta1));
          const vNext = v.mul(config.beta2).add(g.square().mul(1 - config.beta2));
          m.assign(mNext);
          v.assign(vNext);
          const mHat = mNext.div(1 - config.beta1 ** t);
          const vHat = vNext.div(1 - config.beta2 ** t);
          theta.assign(decayed.sub(mHat.div(vHat.sqrt().add(config.eps)).mul(lr)));
        }
      });
    });
  }

  /** The state to checkpoint; reads every slot back from the backend. */
  async state(): Promise<OptimizerState> {
    const slots: SlotState[] = [];
    for (const [name, vars] of this.#slots) {
      for (const [i, v] of vars.entries()) {
        slots.push({ name: `${name}/${i}`, shape: [...v.shape], values: (await v.data()) as Float32Array });
      }
    }
    return { kind: this.#config.kind, stepCount: this.#stepCount, slots };
  }

  /** Restores a checkpoint's state; it must come from the same optimizer over the same model. */
  setState(state: OptimizerState): void {
    if (state.kind !== this.#config.kind) {
      throw new InvalidInputError(`The checkpoint holds ${state.kind} state but the run uses ${this.#config.kind}: resume with the run's own configuration.`);
    }
    const byName = new Map(state.slots.map((s) => [s.name, s]));
    for (const slotName of this.#slotNames()) {
      const vars = this.#slot(slotName);
      vars.forEach((v, i) => {
        const saved = byName.get(`${slotName}/${i}`);
        if (!saved || saved.values.length !== v.size) {
          throw new InvalidInputError(`The checkpoint's optimizer state does not fit this model (slot ${slotName}/${i}): resume with the model it was trained with.`);
        }
        tf.tidy(() => v.assign(tf.tensor(saved.values, v.shape, 'float32')));
      });
    }
    this.#stepCount = state.stepCount;
  }

  dispose(): void {
    for (const vars of this.#slots.values()) tf.dispose(vars);
    this.#slots.clear();
  }
}
