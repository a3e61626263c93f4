/**
 * The float graph: a trained tfjs model lowered to the operators an int8 microcontroller
 * runtime has, before quantization. Lowering folds every batch normalisation into the
 * convolution or dense layer before it, fuses ReLU / ReLU6 into the op that produces its
 * input, turns global average pooling into an average pool over the whole map plus a
 * reshape, and drops dropout. Each op then maps one to one onto a `QOp`.
 *
 * It is read from the model's Keras-style config (`getConfig()`: layers with their
 * inbound nodes), so it works for any functional or sequential tfjs LayersModel, not
 * just the models Hearth builds; a layer without an int8 TFLite Micro mapping stops the
 * export with an UnsupportedOperatorError that names it.
 */
import { tf } from '../compute/register';
import { HearthError, InvalidInputError } from '../jobs/errors';
import type { FusedActivation, Padding } from './qgraph';

/** A layer the exporter cannot map onto an int8 TFLite Micro kernel. */
export class UnsupportedOperatorError extends HearthError {
  constructor(message: string) {
    super(message, 'UnsupportedOperatorError');
  }
}

interface FOpBase {
  name: string;
  output: string;
}

export interface FConv2D extends FOpBase {
  kind: 'conv2d';
  input: string;
  /** float32, tfjs layout [kH, kW, inC, outC]. */
  kernel: Float32Array;
  kernelShape: [number, number, number, number];
  bias: Float32Array;
  strides: [number, number];
  padding: Padding;
  activation: FusedActivation;
}

export interface FDepthwiseConv2D extends FOpBase {
  kind: 'depthwise-conv2d';
  input: string;
  /** float32, tfjs layout [kH, kW, inC, multiplier]; output channel = c · multiplier + m. */
  kernel: Float32Array;
  kernelShape: [number, number, number, number];
  bias: Float32Array;
  strides: [number, number];
  padding: Padding;
  activation: FusedActivation;
}

export interface FDense extends FOpBase {
  kind: 'fully-connected';
  input: string;
  /** float32, tfjs layout [in, out]. */
  kernel: Float32Array;
  kernelShape: [number, number];
  bias: Float32Array;
  activation: FusedActivation;
}

export interface FPool2D extends FOpBase {
  kind: 'max-pool2d' | 'average-pool2d';
  input: string;
  filter: [number, number];
  strides: [number, number];
  padding: Padding;
  activation: FusedActivation;
}

export interface FAdd extends FOpBase {
  kind: 'add';
  inputs: [string, string];
  activation: FusedActivation;
}

export interface FReshape extends FOpBase {
  kind: 'reshape';
  input: string;
}

export type FOp = FConv2D | FDepthwiseConv2D | FDense | FPool2D | FAdd | FReshape;

export interface FloatGraph {
  name: string;
  input: string;
  output: string;
  /** Shapes with batch 1: [1, H, W, C] or [1, N]. */
  shapes: Record<string, number[]>;
  ops: FOp[];
}

// ---------------------------------------------------------------------------------------
// Reading the model's layers. Configs are tfjs' own (camelCase) `getConfig()` objects.

type TfLayer = tf.LayersModel['layers'][number];

/** The names of the layers a layer reads (its first call: exported models share no layers). */
function inboundNames(layer: TfLayer): string[] {
  return layer.inboundNodes[0]?.inboundLayers.map((l) => l.name) ?? [];
}

/** tfjs' activation identifiers that a TFLite op can fuse, by the name tfjs stores. */
function fusedActivation(value: unknown, where: string): FusedActivation {
  if (value === undefined || value === null || value === 'linear') return 'none';
  if (value === 'relu') return 'relu';
  if (value === 'relu6') return 'relu6';
  throw new UnsupportedOperatorError(
    `${where} uses the activation "${String(value)}", which has no int8 kernel that TFLite Micro fuses into a layer: retrain with relu, relu6 or no activation.`,
  );
}

function pair(value: unknown, fallback: number): [number, number] {
  if (Array.isArray(value)) return [Number(value[0] ?? fallback), Number(value[1] ?? value[0] ?? fallback)];
  if (typeof value === 'number') return [value, value];
  return [fallback, fallback];
}

function padding(value: unknown, where: string): Padding {
  if (value === 'same' || value === 'valid') return value;
  throw new UnsupportedOperatorError(`${where} uses padding "${String(value)}": only 'same' and 'valid' map onto TFLite.`);
}

function checkChannelsLast(config: Record<string, unknown>, where: string): void {
  const format = config.dataFormat;
  if (format !== undefined && format !== null && format !== 'channelsLast') {
    throw new UnsupportedOperatorError(`${where} is ${String(format)}: TFLite runs NHWC, so build the model channels_last.`);
  }
  const dilation = pair(config.dilationRate, 1);
  if (dilation[0] !== 1 || dilation[1] !== 1) {
    throw new UnsupportedOperatorError(`${where} is dilated (${dilation.join('×')}): Hearth's int8 export supports dilation 1 only.`);
  }
}

/** TensorFlow's output size for one spatial axis. */
export function outputSize(size: number, k: number, stride: number, pad: Padding): number {
  return pad === 'same' ? Math.ceil(size / stride) : Math.floor((size - k) / stride) + 1;
}

async function weightsOf(model: tf.LayersModel, layerName: string): Promise<Float32Array[]> {
  const ws = model.getLayer(layerName).getWeights();
  return Promise.all(ws.map(async (w) => Float32Array.from(await w.data())));
}

const LAYERS_WITHOUT_OP = new Set(['Dropout', 'SpatialDropout2D', 'GaussianNoise', 'GaussianDropout', 'AlphaDropout']);

/**
 * Lowers a tfjs LayersModel (float32 NHWC input, one output) to a FloatGraph. Throws
 * UnsupportedOperatorError naming the first layer that has no int8 TFLite Micro mapping.
 */
export async function extractFloatGraph(model: tf.LayersModel): Promise<FloatGraph> {
  if (model.inputs.length !== 1 || model.outputs.length !== 1) {
    throw new InvalidInputError(`The model has ${model.inputs.length} inputs and ${model.outputs.length} outputs: an exported classifier has one of each.`);
  }
  // A functional view over the model's own tensors: for a Sequential model it adds the
  // input layer and the inbound links that `Sequential.layers` hides. It shares the
  // layers, so it is not disposed.
  const view = tf.model({ inputs: model.inputs, outputs: model.outputs });
  const g = new GraphBuilder(view.layers);
  for (const layer of view.layers) await lowerLayer(model, g, layer);
  const output = graphOutput(model, g);
  return { name: model.name, input: g.inputName, output, shapes: g.shapes, ops: g.ops };
}

/** The float graph as lowering builds it, layer by layer. */
class GraphBuilder {
  readonly shapes: Record<string, number[]> = {};
  readonly ops: FOp[] = [];
  /** A layer that produces no op of its own forwards its input's name. */
  readonly alias = new Map<string, string>();
  /** Layers whose output some later layer reads, with how many readers. */
  private readonly readers = new Map<string, number>();
  readonly producer = new Map<string, FOp>();
  inputName = '';

  constructor(layers: readonly TfLayer[]) {
    for (const layer of layers) for (const n of inboundNames(layer)) this.readers.set(n, (this.readers.get(n) ?? 0) + 1);
  }

  resolve(name: string): string {
    return this.alias.get(name) ?? name;
  }

  emit(op: FOp, shape: number[]): void {
    this.ops.push(op);
    this.shapes[op.output] = shape;
    this.producer.set(op.output, op);
  }

  /** The op that made `tensor`, when this layer is its only reader: it can absorb BN or an activation. */
  soleProducer(tensor: string, layerInput: string): FOp | undefined {
    return (this.readers.get(layerInput) ?? 0) === 1 ? this.producer.get(tensor) : undefined;
  }
}

/** One layer as lowering reads it: its config, its name for errors, and what it reads. */
interface LayerView {
  layer: TfLayer;
  c: Record<string, unknown>;
  className: string;
  where: string;
  ins: string[];
  inName: string;
  inShape: number[];
}

async function lowerLayer(model: tf.LayersModel, g: GraphBuilder, layer: TfLayer): Promise<void> {
  const c = layer.getConfig() as Record<string, unknown>;
  const className = layer.getClassName();
  const where = `Layer "${layer.name}" (${className})`;
  const ins = inboundNames(layer);
  const inName = ins[0] ? g.resolve(ins[0]) : '';
  const inShape = g.shapes[inName] ?? [];
  const l: LayerView = { layer, c, className, where, ins, inName, inShape };
  switch (className) {
    case 'InputLayer':
      return lowerInput(g, l);
    case 'Conv2D':
      return lowerConv2D(model, g, l);
    case 'DepthwiseConv2D':
      return lowerDepthwiseConv2D(model, g, l);
    case 'Dense':
      return lowerDense(model, g, l);
    case 'BatchNormalization':
      return lowerBatchNorm(model, g, l);
    case 'ReLU':
    case 'Activation':
      return lowerActivation(g, l);
    case 'MaxPooling2D':
    case 'AveragePooling2D':
      return lowerPool2D(g, l);
    case 'GlobalAveragePooling2D':
      return lowerGlobalAveragePool2D(g, l);
    case 'Flatten':
      return lowerFlatten(g, l);
    case 'Add':
      return lowerAdd(g, l);
    default:
      if (LAYERS_WITHOUT_OP.has(className)) {
        g.alias.set(layer.name, inName);
        return;
      }
      throw new UnsupportedOperatorError(
        `${where} has no int8 TFLite Micro kernel that Hearth's exporter maps it to (supported: Conv2D, DepthwiseConv2D, Dense, BatchNormalization after a convolution or dense layer, ReLU/ReLU6, MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D, Flatten, Add, Dropout). Replace it, or export the float model only.`,
      );
  }
}

function lowerInput(g: GraphBuilder, { layer, c, where }: LayerView): void {
  const shape = c.batchInputShape as (number | null)[] | undefined;
  if (!shape || shape.length !== 4 || shape.slice(1).some((d) => typeof d !== 'number')) {
    throw new UnsupportedOperatorError(`${where} has shape [${String(shape)}]: the export needs a fixed image input [N, H, W, C].`);
  }
  g.inputName = layer.name;
  g.shapes[layer.name] = [1, ...(shape.slice(1) as number[])];
}

async function lowerConv2D(model: tf.LayersModel, g: GraphBuilder, { layer, c, where, inName, inShape }: LayerView): Promise<void> {
  checkChannelsLast(c, where);
  const [kernel, bias] = await weightsOf(model, layer.name);
  const [kh, kw] = pair(c.kernelSize, 1);
  const strides = pair(c.strides, 1);
  const pad = padding(c.padding, where);
  const filters = Number(c.filters);
  const inC = inShape[3] ?? 0;
  g.emit(
    {
      kind: 'conv2d',
      name: layer.name,
      input: inName,
      output: layer.name,
      kernel: kernel as Float32Array,
      kernelShape: [kh, kw, inC, filters],
      bias: bias ?? new Float32Array(filters),
      strides,
      padding: pad,
      activation: fusedActivation(c.activation, where),
    },
    [1, outputSize(inShape[1] ?? 0, kh, strides[0], pad), outputSize(inShape[2] ?? 0, kw, strides[1], pad), filters],
  );
}

async function lowerDepthwiseConv2D(model: tf.LayersModel, g: GraphBuilder, { layer, c, where, inName, inShape }: LayerView): Promise<void> {
  checkChannelsLast(c, where);
  const [kernel, bias] = await weightsOf(model, layer.name);
  const [kh, kw] = pair(c.kernelSize, 1);
  const strides = pair(c.strides, 1);
  const pad = padding(c.padding, where);
  const mult = Number(c.depthMultiplier ?? 1);
  const inC = inShape[3] ?? 0;
  g.emit(
    {
      kind: 'depthwise-conv2d',
      name: layer.name,
      input: inName,
      output: layer.name,
      kernel: kernel as Float32Array,
      kernelShape: [kh, kw, inC, mult],
      bias: bias ?? new Float32Array(inC * mult),
      strides,
      padding: pad,
      activation: fusedActivation(c.activation, where),
    },
    [1, outputSize(inShape[1] ?? 0, kh, strides[0], pad), outputSize(inShape[2] ?? 0, kw, strides[1], pad), inC * mult],
  );
}

async function lowerDense(model: tf.LayersModel, g: GraphBuilder, { layer, c, where, inName, inShape }: LayerView): Promise<void> {
  if (inShape.length !== 2) throw new UnsupportedOperatorError(`${where} reads a rank-${inShape.length} tensor: flatten or pool to [N, features] before a dense layer.`);
  const [kernel, bias] = await weightsOf(model, layer.name);
  const units = Number(c.units);
  g.emit(
    {
      kind: 'fully-connected',
      name: layer.name,
      input: inName,
      output: layer.name,
      kernel: kernel as Float32Array,
      kernelShape: [inShape[1] ?? 0, units],
      bias: bias ?? new Float32Array(units),
      activation: fusedActivation(c.activation, where),
    },
    [1, units],
  );
}

/** Folds the batch norm into the op before it, which then stands for both. */
async function lowerBatchNorm(model: tf.LayersModel, g: GraphBuilder, { layer, c, where, ins, inName, inShape }: LayerView): Promise<void> {
  const target = g.soleProducer(inName, ins[0] ?? '');
  if (!target || (target.kind !== 'conv2d' && target.kind !== 'depthwise-conv2d' && target.kind !== 'fully-connected') || target.activation !== 'none') {
    throw new UnsupportedOperatorError(
      `${where} does not follow a convolution or dense layer without activation, so it cannot be folded, and TFLite Micro has no int8 batch-norm kernel: put batch norm directly after a convolution.`,
    );
  }
  const axis = Number(c.axis ?? -1);
  if (axis !== -1 && axis !== inShape.length - 1) throw new UnsupportedOperatorError(`${where} normalises axis ${axis}: only the channel axis folds.`);
  foldBatchNorm(target, await weightsOf(model, layer.name), c);
  g.alias.set(layer.name, inName);
}

/** Fuses the activation into the op that produces its input. */
function lowerActivation(g: GraphBuilder, { layer, c, className, where, ins, inName }: LayerView): void {
  const act =
    className === 'ReLU'
      ? reluActivation(c, where)
      : fusedActivation(c.activation, where);
  const target = g.soleProducer(inName, ins[0] ?? '');
  if (act === 'none') {
    g.alias.set(layer.name, inName);
    return;
  }
  if (!target || target.kind === 'reshape' || target.activation !== 'none') {
    throw new UnsupportedOperatorError(
      `${where} does not directly follow a convolution, dense, pooling or add layer, so it cannot be fused, and Hearth's int8 export has no stand-alone activation op: apply it right after such a layer.`,
    );
  }
  target.activation = act;
  g.alias.set(layer.name, inName);
}

function lowerPool2D(g: GraphBuilder, { layer, c, className, where, inName, inShape }: LayerView): void {
  checkChannelsLast(c, where);
  const filter = pair(c.poolSize, 2);
  const strides = pair(c.strides ?? c.poolSize, filter[0]);
  const pad = padding(c.padding ?? 'valid', where);
  g.emit(
    {
      kind: className === 'MaxPooling2D' ? 'max-pool2d' : 'average-pool2d',
      name: layer.name,
      input: inName,
      output: layer.name,
      filter,
      strides,
      padding: pad,
      activation: 'none',
    },
    [1, outputSize(inShape[1] ?? 0, filter[0], strides[0], pad), outputSize(inShape[2] ?? 0, filter[1], strides[1], pad), inShape[3] ?? 0],
  );
}

/** An average pool over the whole map, then a reshape to [1, C]. */
function lowerGlobalAveragePool2D(g: GraphBuilder, { layer, c, where, inName, inShape }: LayerView): void {
  checkChannelsLast(c, where);
  const [, h = 0, w = 0, ch = 0] = inShape;
  const pooled = `${layer.name}/pool`;
  g.emit(
    { kind: 'average-pool2d', name: pooled, input: inName, output: pooled, filter: [h, w], strides: [h, w], padding: 'valid', activation: 'none' },
    [1, 1, 1, ch],
  );
  g.emit({ kind: 'reshape', name: layer.name, input: pooled, output: layer.name }, [1, ch]);
}

function lowerFlatten(g: GraphBuilder, { layer, inName, inShape }: LayerView): void {
  g.emit({ kind: 'reshape', name: layer.name, input: inName, output: layer.name }, [1, inShape.slice(1).reduce((a, b) => a * b, 1)]);
}

function lowerAdd(g: GraphBuilder, { layer, where, ins }: LayerView): void {
  if (ins.length !== 2) throw new UnsupportedOperatorError(`${where} adds ${ins.length} tensors: TFLite's ADD takes two; chain Add layers.`);
  const a = g.resolve(ins[0] ?? '');
  const b = g.resolve(ins[1] ?? '');
  const sa = g.shapes[a] ?? [];
  const sb = g.shapes[b] ?? [];
  if (sa.join() !== sb.join()) throw new UnsupportedOperatorError(`${where} adds [${sa.join(', ')}] and [${sb.join(', ')}]: Hearth's int8 export does not broadcast.`);
  g.emit({ kind: 'add', name: layer.name, inputs: [a, b], output: layer.name, activation: 'none' }, sa);
}

/** The tensor that holds the model's logits, checked to come from an op and to be [1, classes]. */
function graphOutput(model: tf.LayersModel, g: GraphBuilder): string {
  const outputLayer = model.outputs[0]?.sourceLayer.name ?? '';
  const output = g.resolve(outputLayer);
  if (!g.producer.has(output)) throw new UnsupportedOperatorError(`The model's output (${outputLayer}) is not produced by any exported op.`);
  if ((g.shapes[output] ?? []).length !== 2) throw new UnsupportedOperatorError(`The model outputs [${(g.shapes[output] ?? []).join(', ')}]: a classifier exports logits [N, classes].`);
  return output;
}

function reluActivation(c: Record<string, unknown>, where: string): FusedActivation {
  const maxValue = c.maxValue;
  const slope = Number(c.negativeSlope ?? 0);
  const threshold = Number(c.threshold ?? 0);
  if (slope !== 0 || threshold !== 0) throw new UnsupportedOperatorError(`${where} is a leaky or thresholded ReLU: only ReLU and ReLU6 fuse into int8 TFLite ops.`);
  if (maxValue === undefined || maxValue === null) return 'relu';
  if (Number(maxValue) === 6) return 'relu6';
  throw new UnsupportedOperatorError(`${where} caps at ${String(maxValue)}: only ReLU (no cap) and ReLU6 fuse into int8 TFLite ops.`);
}

/**
 * y = γ·(x − μ)/√(σ² + ε) + β folded into the op before it: each output channel's
 * weights scale by γ/√(σ² + ε), and its bias becomes (b − μ)·γ/√(σ² + ε) + β.
 */
function foldBatchNorm(op: FConv2D | FDepthwiseConv2D | FDense, weights: Float32Array[], c: Record<string, unknown>): void {
  const eps = Number(c.epsilon ?? 1e-3);
  const hasScale = c.scale !== false;
  const hasCenter = c.center !== false;
  // tfjs orders a batch norm's weights gamma (if scale), beta (if center), mean, variance.
  const gamma = hasScale ? weights[0] : undefined;
  const beta = hasCenter ? weights[hasScale ? 1 : 0] : undefined;
  const [mean, variance] = weights.slice(-2) as [Float32Array, Float32Array];
  const channels = op.bias.length;
  const factor = new Float64Array(channels);
  for (let ch = 0; ch < channels; ch++) {
    factor[ch] = (gamma ? (gamma[ch] as number) : 1) / Math.sqrt((variance[ch] as number) + eps);
  }
  // In every layout used here ([kH,kW,inC,outC], [kH,kW,inC,mult], [in,out]) the output
  // channel is the fastest-varying index, so element j belongs to channel j mod channels.
  const kernel = Float32Array.from(op.kernel, (v, j) => v * (factor[j % channels] as number));
  const bias = Float32Array.from(op.bias, (b, ch) => (b - (mean[ch] as number)) * (factor[ch] as number) + (beta ? (beta[ch] as number) : 0));
  op.kernel = kernel;
  op.bias = bias;
}

// ---------------------------------------------------------------------------------------
// Running a float graph with tfjs: for calibration, and to check that lowering kept the
// function (the folded graph must give the model's own logits).

function applyActivation(x: tf.Tensor, act: FusedActivation): tf.Tensor {
  if (act === 'relu') return tf.relu(x);
  if (act === 'relu6') return tf.clipByValue(x, 0, 6);
  return x;
}

/**
 * Runs the graph on a batch [N, H, W, C]; returns every tensor by name (the input
 * included). The caller disposes them (`tf.dispose(Object.values(result))`).
 */
export function runFloatGraph(graph: FloatGraph, xNhwc: tf.Tensor4D): Record<string, tf.Tensor> {
  return tf.tidy(() => {
    const values: Record<string, tf.Tensor> = { [graph.input]: xNhwc.clone() };
    const get = (name: string): tf.Tensor => {
      const v = values[name];
      if (!v) throw new Error(`Float graph ${graph.name}: tensor ${name} used before it is made.`);
      return v;
    };
    for (const op of graph.ops) {
      let y: tf.Tensor;
      switch (op.kind) {
        case 'conv2d': {
          const w = tf.tensor4d(op.kernel, op.kernelShape);
          y = tf.add(tf.conv2d(get(op.input) as tf.Tensor4D, w, op.strides, op.padding), tf.tensor1d(op.bias));
          break;
        }
        case 'depthwise-conv2d': {
          const w = tf.tensor4d(op.kernel, op.kernelShape);
          y = tf.add(tf.depthwiseConv2d(get(op.input) as tf.Tensor4D, w, op.strides, op.padding), tf.tensor1d(op.bias));
          break;
        }
        case 'fully-connected':
          y = tf.add(tf.matMul(get(op.input) as tf.Tensor2D, tf.tensor2d(op.kernel, op.kernelShape)), tf.tensor1d(op.bias));
          break;
        case 'max-pool2d':
          y = tf.maxPool(get(op.input) as tf.Tensor4D, op.filter, op.strides, op.padding);
          break;
        case 'average-pool2d':
          y = tf.avgPool(get(op.input) as tf.Tensor4D, op.filter, op.strides, op.padding);
          break;
        case 'add':
          y = tf.add(get(op.inputs[0]), get(op.inputs[1]));
          break;
        case 'reshape': {
          const shape = graph.shapes[op.output] ?? [];
          y = tf.reshape(get(op.input), [-1, ...shape.slice(1)]);
          break;
        }
      }
      values[op.output] = op.kind === 'reshape' ? y : applyActivation(y, op.activation);
    }
    return values;
  });
}

/** Logits of the float graph for a batch; the caller disposes them. */
export function floatGraphLogits(graph: FloatGraph, xNhwc: tf.Tensor4D): tf.Tensor2D {
  const all = runFloatGraph(graph, xNhwc);
  const logits = all[graph.output] as tf.Tensor2D;
  tf.dispose(Object.entries(all).filter(([name]) => name !== graph.output).map(([, t]) => t));
  return logits;
}
