/**
 * A small DCGAN (Radford et al., 2016) for 28×28 RGB images: the generator Hearth ships
 * pretrained on Colored MNIST (static-models/gan-colored-mnist/), so that its latent space
 * holds both the digit and its colour, and the discriminator that trains it.
 *
 *   G: z [N, latent] → dense 7·7·gChannels → reshape → BN → ReLU
 *        → conv2dTranspose(gChannels/2, 4, stride 2) → BN → ReLU      14×14
 *        → conv2dTranspose(3, 4, stride 2) → sigmoid                 28×28×3 in [0, 1]
 *   D: x [N / pack, 28, 28, 3·pack] → conv(dChannels, 4, s2) → LeakyReLU(0.2)
 *        → conv(2·dChannels, 4, s2) → [BN] → LeakyReLU(0.2) → [minibatch std]
 *        → flatten → dense 1 (a logit)
 *
 * Both are tfjs layers models (`tf.sequential`), so the generator saves and loads with
 * `tf.io` like any other layers model. Every weight is drawn from a seeded initialiser
 * whose seed is a function of the model seed and the layer name, so a config and a seed
 * give bitwise-identical weights on every backend.
 *
 * Every convolution here trains on the wasm backend: a transposed convolution runs the
 * wasm `Conv2DBackpropInput` kernel forward and needs `Conv2D` and `Conv2DBackpropFilter`
 * (registered by compute/wasm-grad-kernels.ts) backward.
 */
import { tf } from '../compute/register';
import { Rng } from '../data/rng';
import { InvalidInputError } from '../jobs/errors';
import { Optimizer, type AdamConfig, type OptimizerState } from '../train/optim';

export interface DcganConfig {
  /** Length of the latent vector z, drawn N(0, 1) per entry. */
  latentSize: number;
  /** Generator channels at 7×7; it halves at 14×14. */
  gChannels: number;
  /** Discriminator channels at 14×14; it doubles at 7×7. */
  dChannels: number;
  /**
   * BatchNorm after the discriminator's second convolution, as DCGAN's paper has it;
   * default false. With it, D fed pure real and pure fake batches won within 20 steps on
   * Colored MNIST (D(G(z)) 0.00, generator loss climbing past 5, samples black with a few
   * dots after 200 steps); without it, the same 200 steps gave digit-like strokes.
   */
  dBatchNorm?: boolean;
  /**
   * Append the minibatch standard deviation (Karras et al., 2018) as one more feature
   * map before D's dense layer; default false. A per-image D cannot see that every fake
   * in a batch wears the same colour: without it, the generator wore green only after
   * 800 steps, then yellow (mode hopping), and drew mostly 1s.
   */
  minibatchStd?: boolean;
  /**
   * PacGAN packing (Lin et al., 2018): D judges this many images at once, stacked along
   * the channel axis, so a pack of fakes that all wear one colour stands out against a
   * pack of real digits, which (90 % of the time) do not; default 1 (no packing). With
   * the minibatch-std feature alone the generator still wore one colour per checkpoint
   * (pink at step 194, blue at step 397). The batch size must be a multiple of it.
   */
  pack?: number;
  /**
   * Initial bias of the output layer before the sigmoid; default 0 (mid-grey). A negative
   * value starts the generator dark, as the training images mostly are.
   */
  outputBias?: number;
}

export const DCGAN_SIDE_PX = 28;
export const DCGAN_CHANNELS = 3;
/** The generator's first feature map is 7×7, upsampled twice by stride 2 to 28×28. */
const BASE_SIDE_PX = 7;
const KERNEL_PX = 4;
const STRIDE = 2;
/** DCGAN's initialisation: every kernel N(0, 0.02). */
const INIT_STDDEV = 0.02;
const LEAKY_ALPHA = 0.2;
/**
 * Keras momentum 0.9 (PyTorch 0.1): the generator's moving statistics, which inference
 * uses, follow the weights closely during a run of a few thousand steps. With Keras'
 * 0.99 they lag the last few hundred updates, and samples drawn in inference mode drift
 * from what the discriminator last saw.
 */
const BN_MOMENTUM = 0.9;
const BN_EPSILON = 1e-5;

/**
 * The shipped generator's config (static-models/gan-colored-mnist/): 235k parameters, so
 * its weights stay under a megabyte and ~2,000 training steps fit half an hour at ~60 img/s
 * on one wasm thread. It starts dark (output bias −2.5, about the logit of Colored MNIST's
 * mean pixel), as the images mostly are.
 */
export const DEFAULT_DCGAN_CONFIG: Readonly<DcganConfig> = { latentSize: 64, gChannels: 64, dChannels: 32, dBatchNorm: false, minibatchStd: true, pack: 2, outputBias: -2.5 };

/** The training recipe of DCGAN's paper: Adam lr 2e-4, β1 0.5. */
export const DCGAN_ADAM: Readonly<AdamConfig> = { kind: 'adam', lr: 2e-4, beta1: 0.5, beta2: 0.999, eps: 1e-8 };

export function validateDcganConfig(config: DcganConfig): void {
  const { latentSize, gChannels, dChannels } = config;
  if (!Number.isInteger(latentSize) || latentSize < 1) {
    throw new InvalidInputError(`The latent size must be a positive integer, got ${latentSize}.`);
  }
  if (!Number.isInteger(gChannels) || gChannels < 2 || gChannels % 2 !== 0) {
    throw new InvalidInputError(`The generator's channel count must be an even integer of at least 2, got ${gChannels}.`);
  }
  const pack = config.pack ?? 1;
  if (!Number.isInteger(pack) || pack < 1) {
    throw new InvalidInputError(`The pack size must be a positive integer, got ${pack}.`);
  }
  if (!Number.isInteger(dChannels) || dChannels < 1) {
    throw new InvalidInputError(`The discriminator's channel count must be a positive integer, got ${dChannels}.`);
  }
}

function packOf(config: DcganConfig): number {
  return config.pack ?? 1;
}

/**
 * [N, H, W, C] → [N / pack, H, W, pack·C]: consecutive images side by side on the channel
 * axis, for a packed discriminator. Call inside tf.tidy.
 */
export function packImages(xNhwc: tf.Tensor4D, pack: number): tf.Tensor4D {
  if (pack === 1) return xNhwc;
  const [n, h, w, c] = xNhwc.shape;
  if (n % pack !== 0) throw new InvalidInputError(`A batch of ${n} images cannot be split into packs of ${pack}: use a batch size that is a multiple of ${pack}.`);
  return xNhwc.reshape([n / pack, pack, h, w, c]).transpose([0, 2, 3, 1, 4]).reshape([n / pack, h, w, pack * c]);
}

/** A seed per layer, a function of the model seed and the layer name only. */
function layerSeed(seed: number, layerName: string): number {
  return new Rng(seed).fork(layerName).nextUint32();
}

function kernelInit(seed: number, layerName: string): ReturnType<typeof tf.initializers.zeros> {
  return tf.initializers.randomNormal({ mean: 0, stddev: INIT_STDDEV, seed: layerSeed(seed, layerName) });
}

function batchNorm(name: string): ReturnType<typeof tf.layers.batchNormalization> {
  return tf.layers.batchNormalization({ name, axis: -1, momentum: BN_MOMENTUM, epsilon: BN_EPSILON });
}

/** Keeps the standard deviation away from sqrt(0), whose gradient is infinite. */
const MBSTD_EPSILON = 1e-8;

/**
 * [N, H, W, C] → [N, H, W, C + 1]: the last channel is, everywhere, the mean over all
 * features of their standard deviation across the batch. A batch of near-identical fakes
 * scores near 0 where a batch of real digits does not, so D can penalise a collapsed
 * generator. Only the discriminator uses it, and D is never saved as a model file, so the
 * layer needs no serialisation beyond its class name.
 */
export class MinibatchStdDev extends tf.layers.Layer {
  static readonly className = 'MinibatchStdDev';

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    return [...shape.slice(0, -1), (shape[shape.length - 1] as number) + 1];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D;
      const centred = x.sub(x.mean(0, true));
      const std = centred.square().mean(0).add(MBSTD_EPSILON).sqrt().mean();
      const [n, h, w] = x.shape;
      return tf.concat([x, tf.ones([n, h, w, 1]).mul(std)], 3);
    });
  }
}
tf.serialization.registerClass(MinibatchStdDev);

/** The generator: z [N, latentSize] → NHWC [N, 28, 28, 3] in [0, 1]. The caller disposes it. */
export function buildGenerator(config: DcganConfig, seed: number): tf.Sequential {
  validateDcganConfig(config);
  const { latentSize, gChannels } = config;
  const half = gChannels / 2;
  return tf.sequential({
    name: 'dcgan_generator',
    layers: [
      tf.layers.dense({
        name: 'g_dense',
        inputShape: [latentSize],
        units: BASE_SIDE_PX * BASE_SIDE_PX * gChannels,
        useBias: false,
        kernelInitializer: kernelInit(seed, 'g_dense'),
      }),
      tf.layers.reshape({ name: 'g_reshape', targetShape: [BASE_SIDE_PX, BASE_SIDE_PX, gChannels] }),
      batchNorm('g_bn1'),
      tf.layers.reLU({ name: 'g_relu1' }),
      tf.layers.conv2dTranspose({
        name: 'g_deconv1',
        filters: half,
        kernelSize: KERNEL_PX,
        strides: STRIDE,
        padding: 'same',
        useBias: false,
        kernelInitializer: kernelInit(seed, 'g_deconv1'),
      }),
      batchNorm('g_bn2'),
      tf.layers.reLU({ name: 'g_relu2' }),
      tf.layers.conv2dTranspose({
        name: 'g_deconv2',
        filters: DCGAN_CHANNELS,
        kernelSize: KERNEL_PX,
        strides: STRIDE,
        padding: 'same',
        activation: 'sigmoid',
        kernelInitializer: kernelInit(seed, 'g_deconv2'),
        biasInitializer: tf.initializers.constant({ value: config.outputBias ?? 0 }),
      }),
    ],
  });
}

/** The discriminator: NHWC [N, 28, 28, 3] in [0, 1] → a logit [N, 1] (real > 0). */
export function buildDiscriminator(config: DcganConfig, seed: number): tf.Sequential {
  validateDcganConfig(config);
  const { dChannels } = config;
  return tf.sequential({
    name: 'dcgan_discriminator',
    layers: [
      tf.layers.conv2d({
        name: 'd_conv1',
        inputShape: [DCGAN_SIDE_PX, DCGAN_SIDE_PX, DCGAN_CHANNELS * packOf(config)],
        filters: dChannels,
        kernelSize: KERNEL_PX,
        strides: STRIDE,
        padding: 'same',
        kernelInitializer: kernelInit(seed, 'd_conv1'),
        biasInitializer: 'zeros',
      }),
      tf.layers.leakyReLU({ name: 'd_lrelu1', alpha: LEAKY_ALPHA }),
      tf.layers.conv2d({
        name: 'd_conv2',
        filters: 2 * dChannels,
        kernelSize: KERNEL_PX,
        strides: STRIDE,
        padding: 'same',
        useBias: false,
        kernelInitializer: kernelInit(seed, 'd_conv2'),
      }),
      ...(config.dBatchNorm === true ? [batchNorm('d_bn2')] : []),
      tf.layers.leakyReLU({ name: 'd_lrelu2', alpha: LEAKY_ALPHA }),
      ...(config.minibatchStd === true ? [new MinibatchStdDev({ name: 'd_mbstd' })] : []),
      tf.layers.flatten({ name: 'd_flatten' }),
      tf.layers.dense({ name: 'd_logit', units: 1, kernelInitializer: kernelInit(seed, 'd_logit'), biasInitializer: 'zeros' }),
    ],
  });
}

/** `count` latent vectors, N(0, 1) per entry, row-major [count, latentSize]. */
export function sampleLatents(rng: Rng, count: number, latentSize: number): Float32Array {
  const z = new Float32Array(count * latentSize);
  for (let i = 0; i < z.length; i++) z[i] = rng.normal();
  return z;
}

/**
 * Mean binary cross-entropy of logits x against a constant target y, written so it never
 * overflows: max(x, 0) − x·y + log(1 + e^−|x|).
 */
function bceWithLogits(logits: tf.Tensor, target: number): tf.Scalar {
  return tf.tidy(() => tf.relu(logits).sub(logits.mul(target)).add(tf.log(tf.exp(tf.abs(logits).neg()).add(1))).mean() as tf.Scalar);
}

export interface DcganStepResult {
  /** Discriminator loss: BCE on real (against the smoothed label) plus BCE on fake. */
  dLoss: number;
  /** Non-saturating generator loss: BCE of D(G(z)) against "real". */
  gLoss: number;
  /** Mean sigmoid(D(x)) over the real batch, and over the fake batch before D's update. */
  dReal: number;
  dFake: number;
}

export interface DcganTrainerOptions {
  adam?: AdamConfig;
  /**
   * One-sided label smoothing (Salimans et al., 2016): D's target for real images. 0.9
   * keeps D from growing overconfident on real digits early, which starves G of gradient.
   */
  realLabel?: number;
}

/** What a checkpoint holds of the training state, besides the two models' weights. */
export interface DcganTrainerState {
  g: OptimizerState;
  d: OptimizerState;
}

/**
 * One alternating update of D then G per `step`, each with its own Adam (the project's
 * Optimizer, so the state can be checkpointed and restored exactly).
 */
export class DcganTrainer {
  readonly generator: tf.Sequential;
  readonly discriminator: tf.Sequential;
  readonly #gVars: tf.Variable[];
  readonly #dVars: tf.Variable[];
  readonly #gOpt: Optimizer;
  readonly #dOpt: Optimizer;
  readonly #lr: number;
  readonly #realLabel: number;
  readonly #pack: number;

  constructor(generator: tf.Sequential, discriminator: tf.Sequential, opts: DcganTrainerOptions = {}) {
    const adam = opts.adam ?? DCGAN_ADAM;
    this.generator = generator;
    this.discriminator = discriminator;
    // LayerVariable.read() is the layer's own variable, so the optimizer updates the model in place.
    this.#gVars = generator.trainableWeights.map((w) => w.read() as tf.Variable);
    this.#dVars = discriminator.trainableWeights.map((w) => w.read() as tf.Variable);
    this.#gOpt = new Optimizer(adam, 0, this.#gVars);
    this.#dOpt = new Optimizer(adam, 0, this.#dVars);
    this.#lr = adam.lr;
    this.#realLabel = opts.realLabel ?? 0.9;
    // D's input channels say how many images it judges at once.
    const dInput = discriminator.inputs[0]?.shape[3] ?? DCGAN_CHANNELS;
    this.#pack = dInput / DCGAN_CHANNELS;
    if (!(this.#realLabel > 0.5 && this.#realLabel <= 1)) {
      throw new InvalidInputError(`The real label must be in (0.5, 1], got ${this.#realLabel}.`);
    }
  }

  get stepCount(): number {
    return this.#gOpt.stepCount;
  }

  /**
   * One step: D on `realNhwc` and G(zD), then G through D on G(zG). The caller keeps the
   * inputs; the step leaves no tensors behind.
   */
  async step(realNhwc: tf.Tensor4D, zD: tf.Tensor2D, zG: tf.Tensor2D): Promise<DcganStepResult> {
    const g = this.generator;
    const d = this.discriminator;
    const pack = this.#pack;
    const realLabel = this.#realLabel;
    const dOut = tf.tidy(() => {
      // G's output is a constant here: the gradient is taken over D's variables only.
      const fake = g.apply(zD, { training: true }) as tf.Tensor4D;
      let realMean: tf.Scalar | null = null;
      let fakeMean: tf.Scalar | null = null;
      const { value, grads } = tf.variableGrads(() => {
        const realLogits = d.apply(packImages(realNhwc, pack), { training: true }) as tf.Tensor2D;
        const fakeLogits = d.apply(packImages(fake, pack), { training: true }) as tf.Tensor2D;
        realMean = tf.keep(tf.sigmoid(realLogits).mean() as tf.Scalar);
        fakeMean = tf.keep(tf.sigmoid(fakeLogits).mean() as tf.Scalar);
        return bceWithLogits(realLogits, realLabel).add(bceWithLogits(fakeLogits, 0)) as tf.Scalar;
      }, this.#dVars);
      this.#dOpt.step(this.#dVars.map((v) => grads[v.name] as tf.Tensor), this.#lr);
      return { loss: value, realMean: realMean as unknown as tf.Scalar, fakeMean: fakeMean as unknown as tf.Scalar };
    });
    const gLoss = tf.tidy(() => {
      const { value, grads } = tf.variableGrads(() => {
        const fake = g.apply(zG, { training: true }) as tf.Tensor4D;
        const logits = d.apply(packImages(fake, pack), { training: true }) as tf.Tensor2D;
        return bceWithLogits(logits, 1);
      }, this.#gVars);
      this.#gOpt.step(this.#gVars.map((v) => grads[v.name] as tf.Tensor), this.#lr);
      return value;
    });
    const [dLoss, dReal, dFake, gl] = await Promise.all([dOut.loss.data(), dOut.realMean.data(), dOut.fakeMean.data(), gLoss.data()]);
    tf.dispose([dOut.loss, dOut.realMean, dOut.fakeMean, gLoss]);
    return { dLoss: dLoss[0] as number, gLoss: gl[0] as number, dReal: dReal[0] as number, dFake: dFake[0] as number };
  }

  async state(): Promise<DcganTrainerState> {
    return { g: await this.#gOpt.state(), d: await this.#dOpt.state() };
  }

  setState(state: DcganTrainerState): void {
    this.#gOpt.setState(state.g);
    this.#dOpt.setState(state.d);
  }

  /** Disposes the optimizer state; the models stay the caller's. */
  dispose(): void {
    this.#gOpt.dispose();
    this.#dOpt.dispose();
  }
}

/** `count` samples of the generator in inference mode, NHWC in [0, 1]. */
export function generate(generator: tf.LayersModel, zRowMajor: Float32Array, latentSize: number): tf.Tensor4D {
  const count = zRowMajor.length / latentSize;
  if (!Number.isInteger(count)) {
    throw new InvalidInputError(`${zRowMajor.length} latent values are not a whole number of vectors of ${latentSize}.`);
  }
  return tf.tidy(() => generator.predict(tf.tensor2d(zRowMajor, [count, latentSize])) as tf.Tensor4D);
}
