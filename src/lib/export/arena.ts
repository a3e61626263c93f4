/**
 * An estimate of the TensorFlow Lite Micro tensor arena a graph needs, so the Export page
 * can say which boards it fits before anything is flashed, and the generated sketch can
 * declare an arena that `AllocateTensors()` accepts on the first try.
 *
 * The arena has two parts (tensorflow/lite/micro/docs/memory_management.md):
 *
 * - the head: activation tensors and kernel scratch buffers, laid out by TFLM's
 *   `GreedyMemoryPlanner`, which this file reproduces step by step
 *   (tensorflow/lite/micro/memory_planner/greedy_memory_planner.cc), with the lifetimes
 *   that `AllocationInfoBuilder::MarkAllocationLifetimes` gives
 *   (tensorflow/lite/micro/micro_allocation_info.cc) and every size rounded up to 16 bytes
 *   as `CreatePlan` does (tensorflow/lite/micro/micro_allocator.cc);
 * - the tail: persistent runtime structs (one `TfLiteEvalTensor` per tensor, one
 *   `NodeAndRegistration` per op, kernels' cached quantization data…), estimated from the
 *   ballpark figures below.
 *
 * Weights and biases are not in the arena: TFLM reads them in place from the model in
 * flash.
 */
import { InvalidInputError } from '../jobs/errors';
import type { QGraph, QOp, QTensor } from './qgraph';
import { opInputs } from './qgraph';
import type { ArenaKernels, ArenaEstimate } from '../storage/stored-shapes';
export type { ArenaKernels, ArenaEstimate } from '../storage/stored-shapes';

/** TFLM aligns every planned buffer to 16 bytes (`MicroArenaBufferAlignment()`), for SIMD loads. */
export const ARENA_BUFFER_ALIGNMENT_BYTES = 16;

// Tail (persistent) overhead. Sources: the RecordingMicroAllocator sample output in
// tensorflow/lite/micro/docs/memory_management.md (measured on a 64-bit host, where
// pointers are twice their size on a Cortex-M, so these figures carry a margin for
// 32-bit boards) and the kernels' Prepare functions for per-channel data.

/** 'TfLiteEvalTensor data': 360 bytes for 15 tensors in the doc's sample. Every tensor, weights included. */
export const TFLM_EVAL_TENSOR_BYTES = 24;
/** 'NodeAndRegistration struct': 392 bytes for 7 ops in the doc's sample. */
export const TFLM_NODE_AND_REGISTRATION_BYTES = 56;
/**
 * 'Operator runtime data' (each kernel's OpData): the doc's sample shows 136 bytes for 5
 * ops; a convolution's OpData (padding, offsets, activation range, pointers) is larger
 * than average, so this rounds up.
 */
export const TFLM_OP_DATA_BYTES = 64;
/**
 * Convolution and depthwise kernels cache an int32 multiplier and an int32 shift per
 * output channel (`per_channel_output_multiplier` / `_shift`, allocated in Prepare with
 * `AllocatePersistentBuffer`).
 */
export const TFLM_PER_CHANNEL_QUANT_BYTES = 8;
/**
 * `interpreter->input(0)` / `output(0)` allocate a persistent `TfLiteTensor` (about 112
 * bytes on a 64-bit host) plus its quantization params (`TfLiteAffineQuantization` and a
 * zero-point array, about 32 bytes). The sketch asks for one input and one output.
 */
export const TFLM_IO_TENSOR_BYTES = 144;
/**
 * The allocator objects themselves (`MicroAllocator::GetDefaultTailUsage`: the arena
 * allocators, `MicroAllocator`, `GreedyMemoryPlanner`, `SubgraphAllocations`) plus
 * alignment slack between tail allocations: a few hundred bytes, rounded up.
 */
export const TFLM_RUNTIME_FIXED_BYTES = 1024;
/**
 * While planning, TFLM holds an `AllocationInfo` per tensor and scratch buffer (about
 * 24 bytes) in the temporary section, and the greedy planner needs about 40 bytes per
 * planned buffer (requirements, two sorted int arrays, a list entry, an offset). That
 * space is freed before the head is committed, so it only matters when it is larger than
 * the head.
 */
export const TFLM_PLANNING_BYTES_PER_BUFFER = 64;

/** One buffer for the planner: size and the inclusive range of allocation scopes it lives in. */
export interface BufferRequest {
  /** Tensor name, or `scratch:<op name>`. */
  name: string;
  /** Already aligned. */
  bytes: number;
  firstUsed: number;
  lastUsed: number;
}

export interface PlannedBuffer extends BufferRequest {
  offset: number;
}

export function alignUp(bytes: number, alignment = ARENA_BUFFER_ALIGNMENT_BYTES): number {
  return Math.ceil(bytes / alignment) * alignment;
}

function tensorOf(graph: QGraph, name: string, context: string): QTensor {
  const t = graph.tensors[name];
  if (!t) throw new InvalidInputError(`The graph "${graph.name}" names a tensor "${name}" (${context}) that it does not define; export the model again.`);
  return t;
}

const elementCount = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/**
 * Lifetimes as TFLM marks them. Allocation scope 0 is the start of the invocation, op i
 * runs in scope i + 1. The graph input is created in scope 0; an op's output is created
 * in its op's scope; a tensor lives until the last op that reads it, and the graph output
 * until the last scope.
 */
export function tensorLifetimes(graph: QGraph): BufferRequest[] {
  const first = new Map<string, number>();
  const last = new Map<string, number>();
  const order: string[] = [];
  const touch = (name: string, scope: number): void => {
    if (!first.has(name)) {
      first.set(name, scope);
      order.push(name);
    }
    last.set(name, Math.max(last.get(name) ?? scope, scope));
  };
  tensorOf(graph, graph.input, 'graph input');
  touch(graph.input, 0);
  graph.ops.forEach((op, i) => {
    const scope = i + 1;
    for (const input of opInputs(op)) {
      if (!first.has(input)) {
        throw new InvalidInputError(`Op "${op.name}" reads "${input}" before any op writes it; the ops must be in execution order.`);
      }
      touch(input, scope);
    }
    tensorOf(graph, op.output, `output of ${op.name}`);
    touch(op.output, scope);
  });
  if (!first.has(graph.output)) throw new InvalidInputError(`No op writes the graph output "${graph.output}"; export the model again.`);
  last.set(graph.output, graph.ops.length);
  return order.map((name) => ({
    name,
    bytes: alignUp(elementCount(tensorOf(graph, name, 'lifetime').shape)),
    firstUsed: first.get(name) as number,
    lastUsed: last.get(name) as number,
  }));
}

/** Scratch bytes a CMSIS-NN kernel asks for (see `ArenaKernels`), before alignment. */
export function cmsisNnScratchBytes(graph: QGraph, op: QOp): number {
  const inShape = tensorOf(graph, opInputs(op)[0] as string, `input of ${op.name}`).shape;
  const inC = inShape[inShape.length - 1] ?? 1;
  switch (op.kind) {
    case 'conv2d': {
      const [, kH, kW] = op.filterShape;
      const fast1x1 = kH === 1 && kW === 1 && op.strides[0] === 1 && op.strides[1] === 1;
      return fast1x1 ? 0 : 2 * inC * kH * kW * 2;
    }
    case 'depthwise-conv2d': {
      const [, kH, kW] = op.filterShape;
      return op.depthMultiplier === 1 ? inC * kH * kW * 2 : 0;
    }
    case 'average-pool2d':
      return inC * 4;
    case 'max-pool2d':
    case 'add':
    case 'reshape':
    case 'fully-connected':
      return 0;
  }
}

function overlapsInTime(a: BufferRequest, firstUsed: number, lastUsed: number): boolean {
  return !(a.firstUsed > lastUsed || firstUsed > a.lastUsed);
}

/**
 * TFLM's greedy-by-size planner. Buffers are visited largest first; ties go to the buffer
 * added last, because TFLM fills its sort array from the tail and its bubble sort is
 * stable. Each buffer takes the lowest offset where it fits in a gap between the buffers
 * already placed that are alive at the same time.
 */
export function planGreedy(requests: readonly BufferRequest[]): { buffers: PlannedBuffer[]; totalBytes: number } {
  const order = requests.map((_, i) => i).reverse();
  order.sort((a, b) => (requests[b] as BufferRequest).bytes - (requests[a] as BufferRequest).bytes);
  const offsets = new Array<number>(requests.length).fill(0);
  /** Placed buffer indices, ordered by offset (equal offsets: in placement order). */
  const byOffset: number[] = [];
  for (const id of order) {
    const want = requests[id] as BufferRequest;
    let candidate = 0;
    let priorPos = -1;
    for (;;) {
      let nextPos = -1;
      for (let p = priorPos + 1; p < byOffset.length; p++) {
        if (overlapsInTime(requests[byOffset[p] as number] as BufferRequest, want.firstUsed, want.lastUsed)) {
          nextPos = p;
          break;
        }
      }
      if (priorPos >= 0) {
        const prior = byOffset[priorPos] as number;
        candidate = Math.max(candidate, (offsets[prior] as number) + (requests[prior] as BufferRequest).bytes);
      }
      if (nextPos < 0) break;
      if ((offsets[byOffset[nextPos] as number] as number) - candidate >= want.bytes) break;
      priorPos = nextPos;
    }
    offsets[id] = candidate;
    let insertAt = 0;
    while (insertAt < byOffset.length && (offsets[byOffset[insertAt] as number] as number) <= candidate) insertAt++;
    byOffset.splice(insertAt, 0, id);
  }
  const buffers = requests.map((r, i) => ({ ...r, offset: offsets[i] as number }));
  const totalBytes = buffers.reduce((m, b) => Math.max(m, b.offset + b.bytes), 0);
  return { buffers, totalBytes };
}

/** Highest planned end offset in each allocation scope 0..lastScope. */
function headPerScope(buffers: readonly PlannedBuffer[], lastScope: number): number[] {
  const perScope = new Array<number>(lastScope + 1).fill(0);
  for (const b of buffers) {
    for (let s = b.firstUsed; s <= b.lastUsed; s++) perScope[s] = Math.max(perScope[s] as number, b.offset + b.bytes);
  }
  return perScope;
}

/** Persistent tail bytes for a graph's runtime structs (see the constants above). */
export function tailOverheadBytes(graph: QGraph): number {
  let tensors = Object.keys(graph.tensors).length;
  let bytes = TFLM_RUNTIME_FIXED_BYTES + 2 * TFLM_IO_TENSOR_BYTES;
  for (const op of graph.ops) {
    bytes += TFLM_NODE_AND_REGISTRATION_BYTES + TFLM_OP_DATA_BYTES;
    switch (op.kind) {
      case 'conv2d':
      case 'depthwise-conv2d':
        tensors += 2; // filter, bias
        bytes += TFLM_PER_CHANNEL_QUANT_BYTES * op.filterScales.length;
        break;
      case 'fully-connected':
        tensors += 2; // weights, bias
        break;
      case 'reshape':
        tensors += 1; // the constant new-shape tensor TFLite writers attach
        break;
      case 'add':
      case 'max-pool2d':
      case 'average-pool2d':
        break;
    }
  }
  return bytes + tensors * TFLM_EVAL_TENSOR_BYTES;
}

export function estimateArena(graph: QGraph, opts: { kernels?: ArenaKernels } = {}): ArenaEstimate {
  const kernels = opts.kernels ?? 'cmsis-nn';
  if (graph.ops.length === 0) throw new InvalidInputError(`The graph "${graph.name}" has no ops; there is nothing to run on a board.`);
  const tensors = tensorLifetimes(graph);
  const activations = planGreedy(tensors);

  // TFLM adds scratch buffers after the tensors, alive in their op's scope only.
  const scratch: BufferRequest[] = [];
  if (kernels === 'cmsis-nn') {
    graph.ops.forEach((op, i) => {
      const bytes = cmsisNnScratchBytes(graph, op);
      if (bytes > 0) scratch.push({ name: `scratch:${op.name}`, bytes: alignUp(bytes), firstUsed: i + 1, lastUsed: i + 1 });
    });
  }
  const head = scratch.length > 0 ? planGreedy([...tensors, ...scratch]) : activations;

  const perScope = headPerScope(head.buffers, graph.ops.length);
  let peakScope = 1;
  for (let s = 1; s < perScope.length; s++) if ((perScope[s] as number) > (perScope[peakScope] as number)) peakScope = s;

  const overheadBytes = tailOverheadBytes(graph);
  const planningBytes = (tensors.length + scratch.length) * TFLM_PLANNING_BYTES_PER_BUFFER;
  return {
    activationBytes: activations.totalBytes,
    scratchBytes: head.totalBytes - activations.totalBytes,
    overheadBytes,
    totalBytes: overheadBytes + Math.max(head.totalBytes, planningBytes),
    peakOp: (graph.ops[peakScope - 1] as QOp).name,
    kernels,
  };
}
