/**
 * A small convolutional VAE (Kingma & Welling, 2014) for 28×28 RGB images, shipped beside
 * the DCGAN (static-models/vae-colored-mnist/) because it has an encoder: a real image can
 * be mapped into the latent space, edited there and decoded, which a GAN cannot do.
 *
 *   encoder: x [N, 28, 28, 3] → conv(32, 4, s2) → ReLU → conv(64, 4, s2) → ReLU → flatten
 *            → dense 2·latent: [μ | log σ²]
 *   decoder: z [N, latent] → dense 7·7·64 → ReLU → reshape → conv2dTranspose(32, 4, s2) → ReLU
 *            → conv2dTranspose(3, 4, s2) → sigmoid: NHWC in [0, 1]
 *
 * Loss per image: the Bernoulli negative log-likelihood summed over its 2,352 values
 * (binary cross-entropy, which suits images that are mostly 0 with bright strokes) plus
 * KL(q(z|x) ‖ N(0, I)). Seeded like the DCGAN: each layer's initialiser seed is a function
 * of the model seed and the layer name.
 */
import { tf } from '../compute/register';
import { Rng } from '../data/rng';
import { InvalidInputError } from '../jobs/errors';
import { Optimizer, type AdamConfig, type OptimizerState } from '../train/optim';
import { DCGAN_CHANNELS as CHANNELS, DCGAN_SIDE_PX as SIDE_PX } from './dcgan';

export interface VaeConfig {
  latentSize: number;
  /** Channels of the first encoder convolution and the last hidden decoder layer; doubled in between. */
  channels: number;
}

export const DEFAULT_VAE_CONFIG: Readonly<VaeConfig> = { latentSize: 32, channels: 32 };
export const VAE_ADAM: Readonly<AdamConfig> = { kind: 'adam', lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8 };

const BASE_SIDE_PX = 7;
const KERNEL_PX = 4;
const STRIDE = 2;
/** Starts the decoder dark (about the logit of Colored MNIST's mean pixel), as the images mostly are. */
const OUTPUT_BIAS = -2.5;
/**
 * log σ² is clipped to this range before exp: a fresh or diverging encoder can emit a
 * large log-variance whose exp overflows float32 and turns the loss into NaN.
 */
const LOG_VAR_LIMIT = 10;

export function validateVaeConfig(config: VaeConfig): void {
  if (!Number.isInteger(config.latentSize) || config.latentSize < 1) {
    throw new InvalidInputError(`The latent size must be a positive integer, got ${config.latentSize}.`);
  }
  if (!Number.isInteger(config.channels) || config.channels < 1) {
    throw new InvalidInputError(`The channel count must be a positive integer, got ${config.channels}.`);
  }
}

function init(seed: number, layerName: string): ReturnType<typeof tf.initializers.zeros> {
  // He-uniform: the VAE has no BatchNorm, so the initial scale must keep the signal alive through ReLUs.
  return tf.initializers.heUniform({ seed: new Rng(seed).fork(layerName).nextUint32() });
}

/** The encoder: NHWC [N, 28, 28, 3] in [0, 1] → [N, 2·latent], μ then log σ². */
export function buildEncoder(config: VaeConfig, seed: number): tf.Sequential {
  validateVaeConfig(config);
  const { latentSize, channels } = config;
  return tf.sequential({
    name: 'vae_encoder',
    layers: [
      tf.layers.conv2d({ name: 'e_conv1', inputShape: [SIDE_PX, SIDE_PX, CHANNELS], filters: channels, kernelSize: KERNEL_PX, strides: STRIDE, padding: 'same', activation: 'relu', kernelInitializer: init(seed, 'e_conv1') }),
      tf.layers.conv2d({ name: 'e_conv2', filters: 2 * channels, kernelSize: KERNEL_PX, strides: STRIDE, padding: 'same', activation: 'relu', kernelInitializer: init(seed, 'e_conv2') }),
      tf.layers.flatten({ name: 'e_flatten' }),
      // Glorot, not He: these are the Gaussian's parameters, not a ReLU's input, and they should start near 0.
      tf.layers.dense({ name: 'e_stats', units: 2 * latentSize, kernelInitializer: tf.initializers.glorotUniform({ seed: new Rng(seed).fork('e_stats').nextUint32() }) }),
    ],
  });
}

/** The decoder: z [N, latent] → NHWC [N, 28, 28, 3] in [0, 1]. */
export function buildDecoder(config: VaeConfig, seed: number): tf.Sequential {
  validateVaeConfig(config);
  const { latentSize, channels } = config;
  return tf.sequential({
    name: 'vae_decoder',
    layers: [
      tf.layers.dense({ name: 'v_dense', inputShape: [latentSize], units: BASE_SIDE_PX * BASE_SIDE_PX * 2 * channels, activation: 'relu', kernelInitializer: init(seed, 'v_dense') }),
      tf.layers.reshape({ name: 'v_reshape', targetShape: [BASE_SIDE_PX, BASE_SIDE_PX, 2 * channels] }),
      tf.layers.conv2dTranspose({ name: 'v_deconv1', filters: channels, kernelSize: KERNEL_PX, strides: STRIDE, padding: 'same', activation: 'relu', kernelInitializer: init(seed, 'v_deconv1') }),
      tf.layers.conv2dTranspose({
        name: 'v_deconv2',
        filters: CHANNELS,
        kernelSize: KERNEL_PX,
        strides: STRIDE,
        padding: 'same',
        activation: 'sigmoid',
        kernelInitializer: tf.initializers.glorotUniform({ seed: new Rng(seed).fork('v_deconv2').nextUint32() }),
        biasInitializer: tf.initializers.constant({ value: OUTPUT_BIAS }),
      }),
    ],
  });
}

/** μ and log σ² [N, latent] each, from the encoder's output. Call inside tf.tidy. */
export function splitStats(stats: tf.Tensor2D, latentSize: number): { mu: tf.Tensor2D; logVar: tf.Tensor2D } {
  const [mu, logVar] = tf.split(stats, [latentSize, latentSize], 1) as [tf.Tensor2D, tf.Tensor2D];
  return { mu, logVar: tf.clipByValue(logVar, -LOG_VAR_LIMIT, LOG_VAR_LIMIT) };
}

export interface VaeStepResult {
  /** Mean over the batch of reconstruction + KL, in nats per image. */
  loss: number;
  reconstruction: number;
  kl: number;
}

/** Sum over the image of binary cross-entropy, per image [N]; `recon` is clipped away from 0 and 1. */
function bcePerImage(x: tf.Tensor4D, recon: tf.Tensor4D): tf.Tensor1D {
  const eps = 1e-6;
  const p = tf.clipByValue(recon, eps, 1 - eps);
  return tf.neg(tf.sum(x.mul(tf.log(p)).add(tf.sub(1, x).mul(tf.log(tf.sub(1, p)))), [1, 2, 3])) as tf.Tensor1D;
}

/** One gradient step per `step` on the ELBO, Adam over encoder and decoder together. */
export class VaeTrainer {
  readonly encoder: tf.Sequential;
  readonly decoder: tf.Sequential;
  readonly #latentSize: number;
  readonly #vars: tf.Variable[];
  readonly #opt: Optimizer;
  readonly #lr: number;

  constructor(encoder: tf.Sequential, decoder: tf.Sequential, latentSize: number, adam: AdamConfig = VAE_ADAM) {
    this.encoder = encoder;
    this.decoder = decoder;
    this.#latentSize = latentSize;
    this.#vars = [...encoder.trainableWeights, ...decoder.trainableWeights].map((w) => w.read() as tf.Variable);
    this.#opt = new Optimizer(adam, 0, this.#vars);
    this.#lr = adam.lr;
  }

  get stepCount(): number {
    return this.#opt.stepCount;
  }

  /** `eps` [N, latent] are the reparameterisation's N(0, 1) draws; the caller keeps the inputs. */
  async step(xNhwc: tf.Tensor4D, eps: tf.Tensor2D): Promise<VaeStepResult> {
    const out = tf.tidy(() => {
      let recLoss: tf.Scalar | null = null;
      let klLoss: tf.Scalar | null = null;
      const { value, grads } = tf.variableGrads(() => {
        const { mu, logVar } = splitStats(this.encoder.apply(xNhwc, { training: true }) as tf.Tensor2D, this.#latentSize);
        const z = mu.add(tf.exp(logVar.mul(0.5)).mul(eps));
        const recon = this.decoder.apply(z, { training: true }) as tf.Tensor4D;
        const rec = bcePerImage(xNhwc, recon).mean() as tf.Scalar;
        const kl = tf.sum(tf.exp(logVar).add(mu.square()).sub(1).sub(logVar), 1).mul(0.5).mean() as tf.Scalar;
        recLoss = tf.keep(rec);
        klLoss = tf.keep(kl);
        return rec.add(kl) as tf.Scalar;
      }, this.#vars);
      this.#opt.step(this.#vars.map((v) => grads[v.name] as tf.Tensor), this.#lr);
      return { value, rec: recLoss as unknown as tf.Scalar, kl: klLoss as unknown as tf.Scalar };
    });
    const [loss, rec, kl] = await Promise.all([out.value.data(), out.rec.data(), out.kl.data()]);
    tf.dispose([out.value, out.rec, out.kl]);
    return { loss: loss[0] as number, reconstruction: rec[0] as number, kl: kl[0] as number };
  }

  async state(): Promise<OptimizerState> {
    return this.#opt.state();
  }

  setState(state: OptimizerState): void {
    this.#opt.setState(state);
  }

  dispose(): void {
    this.#opt.dispose();
  }
}

/** μ of q(z|x) for each image (the encoder's deterministic code, for editing), [N, latent]. */
export function encodeMean(encoder: tf.LayersModel, xNhwc: tf.Tensor4D, latentSize: number): tf.Tensor2D {
  return tf.tidy(() => splitStats(encoder.predict(xNhwc) as tf.Tensor2D, latentSize).mu);
}
