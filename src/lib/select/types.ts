import type { SelectMethod } from '../storage/stored-shapes';
export type { SelectMethod, LabelRound } from '../storage/stored-shapes';
/**
 * Active learning: which unlabeled images to ask the user about. The shared contract of
 * src/lib/select (selection strategies, rotation pretraining, the labeling loop) and of
 * the compute worker that runs them as jobs.
 *
 * The method is "Deep Active Learning for Biased Datasets via Fisher Kernel
 * Self-Supervision" (Gudovskiy et al., CVPR 2020), as its released code does it
 * (gudovskiy/al-fk-self-supervision).
 */

export const SELECT_METHODS: readonly SelectMethod[] = ['ours', 'ours-hadamard', 'rz', 'random', 'entropy', 'varr'];

/**
 * Labels for the pool's gradients, which need a class to take the loss against:
 * - 'nearest-val': the label of the most feature-similar validation example (1-NN label
 *   transfer; the paper's choice);
 * - 'argmax': the model's own prediction;
 * - 'true': the real labels (the oracle limit; benchmarks only).
 */
export type PseudoLabelMode = 'nearest-val' | 'argmax' | 'true';

/** Images by position, read in ranges so a pool never has to be in memory at once. */
export interface ImageSet {
  count: number;
  /** uint8 HWC pixels of images start ≤ i < end, each width·height·channels bytes. */
  read(start: number, end: number): Promise<Uint8Array[]>;
  /** Class per image, -1 where unknown. Required for the validation set and for 'true' pseudo-labels. */
  labels?: Int16Array;
}

export interface SelectRequest {
  method: SelectMethod;
  /** How many pool images to pick (b). */
  budget: number;
  seed: number;
  /**
   * Layers whose activations and gradients make the descriptors. Default for LeNet: pool1,
   * pool2, dense1, the reference code's x1, x2, x4 (10 + 20 + 50, L = 80; our conv layers
   * carry the same channels before pooling).
   */
  layers?: readonly string[];
  /** Default 'nearest-val'. */
  pseudoLabels?: PseudoLabelMode;
  /** MC-dropout passes for 'varr'; default 128. */
  mcSamples?: number;
  /** Pool neighbours taken per centre, rank by rank; default 32. */
  neighbours?: number;
  /** Images per forward/backward batch; default 256. */
  batchSize?: number;
}

export interface SelectResult {
  /** Positions in the pool ImageSet, unique, exactly min(budget, pool.count) of them. */
  picks: number[];
  /** Validation positions used as centres (the Fisher-kernel and R_z methods), else empty. */
  centres: number[];
  /** Validation examples the model gets wrong (the Fisher-kernel and R_z methods), else 0. */
  misclassified: number;
  timings: { descriptorsMs: number; similarityMs: number; selectMs: number; totalMs: number };
}
