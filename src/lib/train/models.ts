/**
 * The CNNs Hearth trains: LeNet (MNIST-sized data, the active-learning reference model),
 * a small ResNet (the AutoDO reference model) and a MobileNetV1 with a width multiplier
 * (the TinyML person-detection shape). Every model maps NHWC float32 pixels in [0, 1] to
 * logits, is built from a seed so the same spec gives bitwise-identical initial weights,
 * and exposes named intermediate activations for active learning, bias analysis and
 * saliency.
 *
 * Each builder records the layer graph it wires (`GraphStep`s), so the model can also be
 * run eagerly with one layer's output replaced: that is how a gradient with respect to an
 * intermediate activation (Grad-CAM, Fisher-kernel descriptors) is taken without reaching
 * into tfjs-layers internals.
 */
import { tf } from '../compute/register';
import { Rng } from '../data/rng';
import type { InputSpec } from '../storage/records';
import { InvalidInputError } from '../jobs/errors';
import { DEFAULT_WIDTH_MULTIPLIER, isWidthMultiplier, MAX_WIDTH_MULTIPLIER, MODEL_KINDS } from './spec';
import type { ModelSpec } from '../storage/stored-shapes';
export type { ModelKind, ModelSpec } from '../storage/stored-shapes';

export interface ForwardOptions {
  /** BatchNorm uses batch statistics and updates its moving averages when true. */
  training?: boolean;
  /**
   * Layers whose outputs to return; default `activationLayers`. Any layer name of the
   * model is accepted (for LeNet, `pool1` / `pool2` are the reference code's descriptors).
   */
  activations?: readonly string[];
}

export interface ForwardResult {
  logits: tf.Tensor2D;
  /** One tensor per requested layer name, each owned by the caller. */
  activations: Record<string, tf.Tensor>;
  /** The penultimate layer's output [N, F]: the input of the linear head. */
  features: tf.Tensor2D;
}

export interface HearthModel {
  readonly spec: ModelSpec;
  /** Input NHWC float32 in [0, 1] → logits [N, numClasses]. */
  readonly model: tf.LayersModel;
  /** The layers whose activations `forward` returns by default. */
  readonly activationLayers: readonly string[];
  /** The last spatial (convolutional) activation: Grad-CAM's default layer. */
  readonly gradCamLayer: string;
  readonly penultimateLayer: string;
  readonly headLayer: string;
  /**
   * One forward pass returning logits, the named activations and the penultimate
   * features. Every returned tensor is the caller's to dispose.
   */
  forward(xNhwc: tf.Tensor4D, opts?: ForwardOptions): ForwardResult;
  /**
   * Logits (inference mode) with the output of `layer` replaced by `activation`, so a
   * gradient with respect to that intermediate activation can be taken with `tf.grad`.
   * `xNhwc` still feeds every path that bypasses the layer (a residual shortcut), so with
   * the layer's true output this equals `forward(xNhwc).logits`. Call inside `tf.tidy`.
   */
  logitsWithActivation(xNhwc: tf.Tensor4D, layer: string, activation: tf.Tensor): tf.Tensor2D;
  /**
   * Logits (inference mode) with `offsets[layer]` added to each named layer's output, and
   * those layers' outputs. With zero offsets the logits are `forward(xNhwc).logits`, and the
   * gradient of a loss with respect to each offset is its gradient with respect to that
   * layer's output, all from one backward pass (`tf.grads` over the offsets): how Fisher
   * descriptors of several layers are taken at once. Call inside `tf.tidy`.
   */
  logitsWithOffsets(xNhwc: tf.Tensor4D, offsets: Readonly<Record<string, tf.Tensor>>): { logits: tf.Tensor2D; outputs: Record<string, tf.Tensor> };
  /** The head's live weights (kernel [F, C], bias [C]), for last-layer gradients. */
  head(): { kernel: tf.Variable; bias: tf.Variable };
  dispose(): void;
  paramCount(): number;
}

type Layer = tf.LayersModel['layers'][number];
type Initializer = ReturnType<typeof tf.initializers.zeros>;

/** One layer application in a model's graph; its output is named by the layer's name. */
interface GraphStep {
  layer: Layer;
  inputs: readonly string[];
}

/** The name of the model input in a recorded graph; no layer may take it. */
const INPUT_NAME = 'input';

/**
 * PyTorch's BatchNorm defaults (momentum 0.1, i.e. Keras 0.9; epsilon 1e-5), which the
 * reference models were trained with. Keras' 0.99 lags too far behind on the short runs
 * of a small on-device dataset: the moving statistics would still be near their initial
 * values when training ends, and inference would disagree with training.
 */
const BN_MOMENTUM = 0.9;
const BN_EPSILON = 1e-5;
/** MobileNet's activation cap: ReLU6 keeps activations in a range int8 represents well. */
const RELU6_MAX = 6;

/** Records layer applications while wiring a functional model, and hands out seeds. */
class GraphBuilder {
  readonly steps: GraphStep[] = [];
  readonly #symbolic = new Map<string, tf.SymbolicTensor>();
  readonly #rng: Rng;

  constructor(
    readonly input: tf.SymbolicTensor,
    seed: number,
  ) {
    this.#symbolic.set(INPUT_NAME, input);
    this.#rng = new Rng(seed);
  }

  /**
   * A seed for one initialiser, a function of the model seed, the layer name and the
   * weight's role only: adding a layer never changes another layer's initial weights.
   */
  seed(layerName: string, role: 'kernel' | 'bias'): number {
    return this.#rng.fork(`${layerName}/${role}`).nextUint32();
  }

  add(layer: Layer, ...inputs: string[]): string {
    if (this.#symbolic.has(layer.name)) throw new Error(`Duplicate layer name ${layer.name}.`);
    const xs = inputs.map((name) => this.symbolic(name));
    const out = layer.apply(xs.length === 1 ? (xs[0] as tf.SymbolicTensor) : xs);
    if (!(out instanceof tf.SymbolicTensor)) throw new Error(`Layer ${layer.name} did not give one symbolic output.`);
    this.#symbolic.set(layer.name, out);
    this.steps.push({ layer, inputs });
    return layer.name;
  }

  symbolic(name: string): tf.SymbolicTensor {
    const t = this.#symbolic.get(name);
    if (!t) throw new Error(`No layer named ${name} in this graph.`);
    return t;
  }

  has(name: string): boolean {
    return this.#symbolic.has(name);
  }
}

// ---------------------------------------------------------------------------------------
// Initialisers. Each is seeded; tfjs draws seeded values in JavaScript (seedrandom), so
// they are identical on every backend.

/**
 * PyTorch's default for Conv2d / Linear (kaiming_uniform with a = √5): U(±1/√fanIn),
 * which the LeNet reference code and AutoDO's linear head use. Variance scaling with
 * scale 1/3 gives limit √(3·(1/3)/fanIn) = 1/√fanIn.
 */
function torchDefaultKernel(seed: number): Initializer {
  return tf.initializers.varianceScaling({ scale: 1 / 3, mode: 'fanIn', distribution: 'uniform', seed });
}

/** PyTorch's default bias: U(±1/√fanIn) with the layer's fan-in. */
function torchDefaultBias(fanIn: number, seed: number): Initializer {
  const limit = 1 / Math.sqrt(fanIn);
  return tf.initializers.randomUniform({ minval: -limit, maxval: limit, seed });
}

/**
 * He initialisation over the fan-out, as AutoDO's ResNet initialises its convolutions
 * (normal, std √(2 / (k·k·outChannels))); tfjs draws it truncated at 2σ.
 */
function heFanOut(seed: number): Initializer {
  return tf.initializers.varianceScaling({ scale: 2, mode: 'fanOut', distribution: 'normal', seed });
}

/**
 * He initialisation over the fan-in, uniform: keeps the signal's scale through ReLUs. Uniform
 * rather than normal because tfjs truncates its 'normal' at 2σ without rescaling, which
 * loses 12 % of the standard deviation per layer, too much over MobileNet's 27 layers.
 */
function heFanIn(seed: number): Initializer {
  return tf.initializers.varianceScaling({ scale: 2, mode: 'fanIn', distribution: 'uniform', seed });
}

/**
 * He initialisation for a depthwise kernel [k, k, C, 1]. tfjs (like Keras) counts its
 * fan-in as k·k·C, but each output sums only k·k inputs; the fan-out k·k·1 is the true
 * fan-in. With the k·k·C count (Keras' glorot default) the signal shrinks by about √C per
 * block, and at initialisation a 13-block MobileNet's logits no longer depend on its input:
 * saliency and inference-mode checks of a fresh model see nothing.
 */
function heDepthwise(seed: number): Initializer {
  return tf.initializers.varianceScaling({ scale: 2, mode: 'fanOut', distribution: 'uniform', seed });
}

/** Keras' default for a dense layer, which Keras' MobileNet head uses. */
function glorot(seed: number): Initializer {
  return tf.initializers.glorotUniform({ seed });
}

function batchNorm(name: string): Layer {
  return tf.layers.batchNormalization({ name, axis: -1, momentum: BN_MOMENTUM, epsilon: BN_EPSILON });
}

// ---------------------------------------------------------------------------------------
// Validation.

function validateSpec(spec: ModelSpec): void {
  const { width, height, channels } = spec.input;
  if (!MODEL_KINDS.includes(spec.kind)) {
    throw new InvalidInputError(`Unknown model kind "${String(spec.kind)}": pick one of ${MODEL_KINDS.join(', ')}.`);
  }
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new InvalidInputError(`The input size ${width}×${height} is not a positive whole number of pixels: fix the project's input size.`);
  }
  if (channels !== 1 && channels !== 3) {
    throw new InvalidInputError(`The input has ${String(channels)} channels: a project stores 1 (grey) or 3 (RGB).`);
  }
  if (!Number.isInteger(spec.numClasses) || spec.numClasses < 2) {
    throw new InvalidInputError(`A classifier needs at least 2 classes, got ${spec.numClasses}: add another label.`);
  }
  if (!Number.isInteger(spec.seed)) {
    throw new InvalidInputError(`The model seed must be an integer, got ${spec.seed}.`);
  }
  const alpha = spec.widthMultiplier;
  if (alpha !== undefined && !isWidthMultiplier(alpha)) {
    throw new InvalidInputError(`The width multiplier must be in (0, ${MAX_WIDTH_MULTIPLIER}], got ${alpha}: 0.25 suits a microcontroller.`);
  }
}

// ---------------------------------------------------------------------------------------
// LeNet, as in the Fisher-kernel active-learning reference code (Gudovskiy et al. 2020,
// gudovskiy/al-fk-self-supervision mnist/custom_models/model.py):
// conv 5×5·10 → max-pool 2 → ReLU → conv 5×5·20 → max-pool 2 → ReLU → dense 50 → ReLU →
// dense C. Here ReLU is fused into each convolution and the pool follows it: ReLU and
// max-pool are both monotone, so relu(pool(z)) = pool(relu(z)) exactly and the function is
// the same, while the fused conv+ReLU kernel is faster. Consequently on 28×28:
//   conv1 [N,24,24,10] → pool1 [N,12,12,10] (the reference's x1)
//   conv2 [N, 8, 8,20] → pool2 [N, 4, 4,20] (x2) → flatten [N,320] → dense1 [N,50] (x4).

const LENET_KERNEL_PX = 5;
const LENET_CONV1_FILTERS = 10;
const LENET_CONV2_FILTERS = 20;
const LENET_HIDDEN_UNITS = 50;
/** conv5 → pool2 → conv5 → pool2 leaves ⌊(⌊(s−4)/2⌋−4)/2⌋ ≥ 1 only for s ≥ 16. */
const LENET_MIN_SIDE_PX = 16;

function leNetSide(side: number): number {
  return Math.floor((Math.floor((side - LENET_KERNEL_PX + 1) / 2) - LENET_KERNEL_PX + 1) / 2);
}

function buildLeNet(g: GraphBuilder, spec: ModelSpec): Taps {
  const { width, height, channels } = spec.input;
  if (width < LENET_MIN_SIDE_PX || height < LENET_MIN_SIDE_PX) {
    throw new InvalidInputError(
      `LeNet needs inputs of at least ${LENET_MIN_SIDE_PX}×${LENET_MIN_SIDE_PX} pixels, got ${width}×${height}: pick a larger input size or another model.`,
    );
  }
  const k = LENET_KERNEL_PX;
  const conv = (name: string, filters: number, inChannels: number): Layer =>
    tf.layers.conv2d({
      name,
      filters,
      kernelSize: k,
      padding: 'valid',
      activation: 'relu',
      kernelInitializer: torchDefaultKernel(g.seed(name, 'kernel')),
      biasInitializer: torchDefaultBias(k * k * inChannels, g.seed(name, 'bias')),
    });
  const dense = (name: string, units: number, fanIn: number, activation: 'relu' | 'linear'): Layer =>
    tf.layers.dense({
      name,
      units,
      activation,
      kernelInitializer: torchDefaultKernel(g.seed(name, 'kernel')),
      biasInitializer: torchDefaultBias(fanIn, g.seed(name, 'bias')),
    });
  const flatFeatures = leNetSide(height) * leNetSide(width) * LENET_CONV2_FILTERS;

  g.add(conv('conv1', LENET_CONV1_FILTERS, channels), INPUT_NAME);
  g.add(tf.layers.maxPooling2d({ name: 'pool1', poolSize: 2, strides: 2 }), 'conv1');
  g.add(conv('conv2', LENET_CONV2_FILTERS, LENET_CONV1_FILTERS), 'pool1');
  g.add(tf.layers.maxPooling2d({ name: 'pool2', poolSize: 2, strides: 2 }), 'conv2');
  g.add(tf.layers.flatten({ name: 'flatten' }), 'pool2');
  g.add(dense('dense1', LENET_HIDDEN_UNITS, flatFeatures, 'relu'), 'flatten');
  g.add(dense('head', spec.numClasses, LENET_HIDDEN_UNITS, 'linear'), 'dense1');
  return {
    activationLayers: ['conv1', 'conv2', 'dense1'],
    gradCamLayer: 'conv2',
    penultimateLayer: 'dense1',
    headLayer: 'head',
  };
}

// ---------------------------------------------------------------------------------------
// The small ResNet of AutoDO (Gudovskiy et al. 2021, gudovskiy/autodo
// custom_models/resnet.py, dataset 'MNIST'): stem conv 3×3·16 + BN + act, three stages of
// two basic blocks (16/32/64 channels, stride 2 opening stages 2 and 3, a 1×1 conv + BN
// projection shortcut where the shape changes), global average pool, linear head.
// Convolutions carry no bias (BN follows). AutoDO uses CELU; ReLU is used here because
// int8 export and microcontroller kernels fuse it for free.

const RESNET_STAGE_CHANNELS = [16, 32, 64] as const;
const RESNET_BLOCKS_PER_STAGE = 2;

function buildResNetSmall(g: GraphBuilder, spec: ModelSpec): Taps {
  const conv = (name: string, filters: number, kernelSize: number, strides: number): Layer =>
    tf.layers.conv2d({
      name,
      filters,
      kernelSize,
      strides,
      padding: 'same',
      useBias: false,
      kernelInitializer: heFanOut(g.seed(name, 'kernel')),
    });
  const stemChannels = RESNET_STAGE_CHANNELS[0];
  g.add(conv('stem_conv', stemChannels, 3, 1), INPUT_NAME);
  g.add(batchNorm('stem_bn'), 'stem_conv');
  let x = g.add(tf.layers.reLU({ name: 'stem' }), 'stem_bn');
  let inChannels: number = stemChannels;

  RESNET_STAGE_CHANNELS.forEach((channels, stageIndex) => {
    for (let b = 0; b < RESNET_BLOCKS_PER_STAGE; b++) {
      const p = `s${stageIndex + 1}b${b + 1}`;
      const strides = stageIndex > 0 && b === 0 ? 2 : 1;
      g.add(conv(`${p}_conv1`, channels, 3, strides), x);
      g.add(batchNorm(`${p}_bn1`), `${p}_conv1`);
      g.add(tf.layers.reLU({ name: `${p}_relu1` }), `${p}_bn1`);
      g.add(conv(`${p}_conv2`, channels, 3, 1), `${p}_relu1`);
      g.add(batchNorm(`${p}_bn2`), `${p}_conv2`);
      let shortcut = x;
      if (strides !== 1 || inChannels !== channels) {
        g.add(conv(`${p}_proj`, channels, 1, strides), x);
        shortcut = g.add(batchNorm(`${p}_proj_bn`), `${p}_proj`);
      }
      g.add(tf.layers.add({ name: `${p}_add` }), `${p}_bn2`, shortcut);
      // The last block of a stage is named after the stage: those are the exposed taps.
      const outName = b === RESNET_BLOCKS_PER_STAGE - 1 ? `stage${stageIndex + 1}` : `${p}_out`;
      x = g.add(tf.layers.reLU({ name: outName }), `${p}_add`);
      inChannels = channels;
    }
  });
  g.add(tf.layers.globalAveragePooling2d({ name: 'pool' }), x);
  g.add(
    tf.layers.dense({
      name: 'head',
      units: spec.numClasses,
      kernelInitializer: torchDefaultKernel(g.seed('head', 'kernel')),
      biasInitializer: torchDefaultBias(inChannels, g.seed('head', 'bias')),
    }),
    'pool',
  );
  return {
    activationLayers: ['stem', 'stage1', 'stage2', 'stage3'],
    gradCamLayer: 'stage3',
    penultimateLayer: 'pool',
    headLayer: 'head',
  };
}

// ---------------------------------------------------------------------------------------
// MobileNetV1 (Howard et al. 2017) with a width multiplier, laid out and named as Keras'
// MobileNet (conv1, conv_dw_i, conv_pw_i, each + _bn + _relu): conv 3×3 stride 2, then 13
// depthwise-separable blocks (depthwise 3×3 + BN + ReLU6, pointwise 1×1 + BN + ReLU6),
// global average pool, dense head. At 96×96 with multiplier 0.25 this is the TinyML
// person-detection network (8 → 256 channels, final map 3×3).
//
// Small inputs: a stride-2 layer (the stem or a block) runs at stride 1 when halving would
// leave the feature map's smaller side below MOBILENET_MIN_FEATURE_SIDE_PX (3, the final
// size of the 96×96 reference). With 'same' padding a side is ⌈s/2⌉ after stride 2, so the
// map never vanishes, but a 1×1 or 2×2 map wastes the remaining downsampling and leaves
// Grad-CAM nothing to localise. 96 → 48,24,12,6,3 keeps all five; 28 → 14,7,4 and then two
// stride-1 stages (final 4×4); 32 → 16,8,4 likewise.
//
// Initialisation: He (uniform) over each kernel's true fan-in, see heDepthwise; Keras'
// glorot default lets a fresh model's logits go flat, blinding saliency before training.
//
// No dropout layer: tfjs's seeded dropout draws the same mask on every call (one fixed set
// of dropped units for the whole run) and an unseeded one breaks reproducibility; the
// training loop regularises instead.

const MOBILENET_MIN_CHANNELS = 8;
export const MOBILENET_MIN_FEATURE_SIDE_PX = 3;
const MOBILENET_STEM_CHANNELS = 32;
/** [pointwise channels, nominal stride] of each depthwise-separable block, at width 1. */
const MOBILENET_BLOCKS: readonly (readonly [number, 1 | 2])[] = [
  [64, 1],
  [128, 2],
  [128, 1],
  [256, 2],
  [256, 1],
  [512, 2],
  [512, 1],
  [512, 1],
  [512, 1],
  [512, 1],
  [512, 1],
  [1024, 2],
  [1024, 1],
];
/** The last block at each nominal resolution: the exposed taps (a feature pyramid). */
const MOBILENET_TAP_BLOCKS = [1, 3, 5, 11, 13] as const;

/** Keras' int(c·α), floored at 8 channels so the thinnest layers still carry features. */
function scaledChannels(channels: number, alpha: number): number {
  return Math.max(MOBILENET_MIN_CHANNELS, Math.floor(channels * alpha));
}

/**
 * The strides actually used for the stem and the 13 blocks on an input of this size,
 * following the rule above; exported so the UI and the tests can show it.
 */
export function mobileNetStrides(input: Pick<InputSpec, 'width' | 'height'>): number[] {
  let side = Math.min(input.width, input.height);
  return [2, ...MOBILENET_BLOCKS.map(([, s]) => s)].map((nominal) => {
    if (nominal === 2 && Math.ceil(side / 2) >= MOBILENET_MIN_FEATURE_SIDE_PX) {
      side = Math.ceil(side / 2);
      return 2;
    }
    return 1;
  });
}

function buildMobileNetV1(g: GraphBuilder, spec: ModelSpec): Taps {
  const alpha = spec.widthMultiplier ?? DEFAULT_WIDTH_MULTIPLIER;
  const strides = mobileNetStrides(spec.input);
  const relu6 = (name: string): Layer => tf.layers.reLU({ name, maxValue: RELU6_MAX });

  g.add(
    tf.layers.conv2d({
      name: 'conv1',
      filters: scaledChannels(MOBILENET_STEM_CHANNELS, alpha),
      kernelSize: 3,
      strides: strides[0] ?? 2,
      padding: 'same',
      useBias: false,
      kernelInitializer: heFanIn(g.seed('conv1', 'kernel')),
    }),
    INPUT_NAME,
  );
  g.add(batchNorm('conv1_bn'), 'conv1');
  let x = g.add(relu6('conv1_relu'), 'conv1_bn');
  let lastChannels = scaledChannels(MOBILENET_STEM_CHANNELS, alpha);

  MOBILENET_BLOCKS.forEach(([channels], i) => {
    const n = i + 1;
    const dw = `conv_dw_${n}`;
    const pw = `conv_pw_${n}`;
    g.add(
      tf.layers.depthwiseConv2d({
        name: dw,
        kernelSize: 3,
        strides: strides[n] ?? 1,
        padding: 'same',
        depthMultiplier: 1,
        useBias: false,
        depthwiseInitializer: heDepthwise(g.seed(dw, 'kernel')),
      }),
      x,
    );
    g.add(batchNorm(`${dw}_bn`), dw);
    g.add(relu6(`${dw}_relu`), `${dw}_bn`);
    lastChannels = scaledChannels(channels, alpha);
    g.add(
      tf.layers.conv2d({
        name: pw,
        filters: lastChannels,
        kernelSize: 1,
        padding: 'same',
        useBias: false,
        kernelInitializer: heFanIn(g.seed(pw, 'kernel')),
      }),
      `${dw}_relu`,
    );
    g.add(batchNorm(`${pw}_bn`), pw);
    x = g.add(relu6(`${pw}_relu`), `${pw}_bn`);
  });
  g.add(tf.layers.globalAveragePooling2d({ name: 'pool' }), x);
  g.add(
    tf.layers.dense({
      name: 'head',
      units: spec.numClasses,
      kernelInitializer: glorot(g.seed('head', 'kernel')),
      biasInitializer: 'zeros',
    }),
    'pool',
  );
  return {
    activationLayers: ['conv1_relu', ...MOBILENET_TAP_BLOCKS.map((n) => `conv_pw_${n}_relu`)],
    gradCamLayer: x,
    penultimateLayer: 'pool',
    headLayer: 'head',
  };
}

// ---------------------------------------------------------------------------------------
// The built model.

/** Which layer outputs a model exposes, by name. */
interface Taps {
  activationLayers: readonly string[];
  gradCamLayer: string;
  penultimateLayer: string;
  headLayer: string;
}

function sameShape(a: readonly (number | null)[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === null || d === b[i]);
}

class GraphModel implements HearthModel {
  readonly activationLayers: readonly string[];
  readonly gradCamLayer: string;
  readonly penultimateLayer: string;
  readonly headLayer: string;
  readonly #graph: GraphBuilder;
  /** Multi-output views of `model`, one per set of requested outputs, built once each. */
  readonly #views = new Map<string, tf.LayersModel>();

  constructor(
    readonly spec: ModelSpec,
    readonly model: tf.LayersModel,
    graph: GraphBuilder,
    taps: Taps,
  ) {
    this.#graph = graph;
    this.activationLayers = taps.activationLayers;
    this.gradCamLayer = taps.gradCamLayer;
    this.penultimateLayer = taps.penultimateLayer;
    this.headLayer = taps.headLayer;
  }

  #checkInput(xNhwc: tf.Tensor): void {
    const { width, height, channels } = this.spec.input;
    const [, h, w, c] = xNhwc.shape;
    if (xNhwc.rank !== 4 || h !== height || w !== width || c !== channels) {
      throw new InvalidInputError(
        `This model takes images of ${width}×${height}×${channels} (NHWC), got a tensor of shape [${xNhwc.shape.join(', ')}]: resize the input to the project's input size.`,
      );
    }
  }

  #checkLayer(name: string): void {
    if (name === INPUT_NAME || !this.#graph.has(name)) {
      throw new InvalidInputError(`The model has no layer named "${name}": pick one of ${this.activationLayers.join(', ')}.`);
    }
  }

  #view(outputNames: readonly string[]): tf.LayersModel {
    const key = outputNames.join('\n');
    let view = this.#views.get(key);
    if (!view) {
      // Shares the layers (and so the weights) of `model`; it is never disposed itself,
      // because disposing a container releases the weights of all its layers.
      view = tf.model({ inputs: this.#graph.input, outputs: outputNames.map((n) => this.#graph.symbolic(n)) });
      this.#views.set(key, view);
    }
    return view;
  }

  forward(xNhwc: tf.Tensor4D, opts: ForwardOptions = {}): ForwardResult {
    this.#checkInput(xNhwc);
    const requested = opts.activations ?? this.activationLayers;
    requested.forEach((name) => this.#checkLayer(name));
    const outputNames = [...new Set([this.headLayer, this.penultimateLayer, ...requested])];
    const view = this.#view(outputNames);
    const outs = tf.tidy((): tf.Tensor[] => {
      // With a concrete input, apply runs the graph and returns concrete tensors.
      const y = view.apply(xNhwc, { training: opts.training ?? false }) as tf.Tensor | tf.Tensor[];
      return Array.isArray(y) ? y : [y];
    });
    const byName = new Map(outputNames.map((name, i) => [name, outs[i] as tf.Tensor]));
    const take = (name: string): tf.Tensor => byName.get(name) as tf.Tensor;
    const activations: Record<string, tf.Tensor> = {};
    for (const name of requested) {
      // A name that is also the logits or the features gets its own handle (a clone
      // shares the data), so the caller can dispose every returned tensor once.
      activations[name] = name === this.headLayer || name === this.penultimateLayer ? tf.clone(take(name)) : take(name);
    }
    return {
      logits: take(this.headLayer) as tf.Tensor2D,
      activations,
      features: take(this.penultimateLayer) as tf.Tensor2D,
    };
  }

  logitsWithActivation(xNhwc: tf.Tensor4D, layer: string, activation: tf.Tensor): tf.Tensor2D {
    this.#checkInput(xNhwc);
    this.#checkLayer(layer);
    const expected = this.#graph.symbolic(layer).shape;
    if (!sameShape(expected, activation.shape) || activation.shape[0] !== xNhwc.shape[0]) {
      throw new InvalidInputError(
        `Layer ${layer} outputs [${expected.map((d) => d ?? 'N').join(', ')}], got an activation of shape [${activation.shape.join(', ')}] for ${xNhwc.shape[0]} images.`,
      );
    }
    const values = new Map<string, tf.Tensor>([[INPUT_NAME, xNhwc]]);
    for (const step of this.#graph.steps) {
      const name = step.layer.name;
      if (name === layer) {
        values.set(name, activation);
        continue;
      }
      const ins = step.inputs.map((n) => values.get(n) as tf.Tensor);
      const out = step.layer.apply(ins.length === 1 ? (ins[0] as tf.Tensor) : ins, { training: false });
      values.set(name, out as tf.Tensor);
    }
    return values.get(this.headLayer) as tf.Tensor2D;
  }

  logitsWithOffsets(xNhwc: tf.Tensor4D, offsets: Readonly<Record<string, tf.Tensor>>): { logits: tf.Tensor2D; outputs: Record<string, tf.Tensor> } {
    this.#checkInput(xNhwc);
    for (const name of Object.keys(offsets)) this.#checkLayer(name);
    const values = new Map<string, tf.Tensor>([[INPUT_NAME, xNhwc]]);
    const outputs: Record<string, tf.Tensor> = {};
    for (const step of this.#graph.steps) {
      const name = step.layer.name;
      const ins = step.inputs.map((n) => values.get(n) as tf.Tensor);
      let out = step.layer.apply(ins.length === 1 ? (ins[0] as tf.Tensor) : ins, { training: false }) as tf.Tensor;
      const offset = offsets[name];
      if (offset) {
        out = tf.add(out, offset);
        outputs[name] = out;
      }
      values.set(name, out);
    }
    return { logits: values.get(this.headLayer) as tf.Tensor2D, outputs };
  }

  head(): { kernel: tf.Variable; bias: tf.Variable } {
    const layer = this.model.getLayer(this.headLayer);
    // getWeights() hands back the layer's own variables (LayerVariable.read()), not copies.
    const [kernel, bias] = layer.getWeights();
    if (!(kernel instanceof tf.Variable) || !(bias instanceof tf.Variable)) {
      throw new Error(`The head layer ${this.headLayer} does not hold a kernel and a bias variable.`);
    }
    return { kernel, bias };
  }

  dispose(): void {
    this.#views.clear();
    this.model.dispose();
  }

  paramCount(): number {
    return this.model.countParams();
  }
}

/** Builds a fresh, seeded model for `spec`; the caller disposes it. */
export function buildModel(spec: ModelSpec): HearthModel {
  validateSpec(spec);
  const { width, height, channels } = spec.input;
  const input = tf.input({ shape: [height, width, channels], name: INPUT_NAME, dtype: 'float32' });
  const graph = new GraphBuilder(input, spec.seed);
  let taps: Taps;
  switch (spec.kind) {
    case 'lenet':
      taps = buildLeNet(graph, spec);
      break;
    case 'resnet-small':
      taps = buildResNetSmall(graph, spec);
      break;
    case 'mobilenet-v1':
      taps = buildMobileNetV1(graph, spec);
      break;
  }
  const model = tf.model({ inputs: input, outputs: graph.symbolic(taps.headLayer), name: spec.kind });
  return new GraphModel(spec, model, graph, taps);
}

/** uint8 HWC images (each `width·height·channels` bytes) → float32 NHWC in [0, 1]. */
export function pixelsToInput(pixelsHwc: readonly Uint8Array[], input: InputSpec): tf.Tensor4D {
  const { width, height, channels } = input;
  const perImage = width * height * channels;
  const values = new Float32Array(pixelsHwc.length * perImage);
  pixelsHwc.forEach((pixels, i) => {
    if (pixels.length !== perImage) {
      throw new InvalidInputError(
        `Image ${i} has ${pixels.length} bytes, but a ${width}×${height}×${channels} input needs ${perImage}: re-import it at the project's input size.`,
      );
    }
    const offset = i * perImage;
    for (let j = 0; j < perImage; j++) values[offset + j] = (pixels[j] as number) / 255;
  });
  return tf.tensor4d(values, [pixelsHwc.length, height, width, channels]);
}
