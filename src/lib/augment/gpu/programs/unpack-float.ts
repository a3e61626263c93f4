/**
 * The two pipelines between packed uint8 batches and tfjs' float32 tensors: unpack (bytes
 * → byte / 255, each image into its slot) and pack (pixels / 255 → bytes). Neither fits the
 * runner's GpuProgram shape, whose input and output are packed bytes.
 */
import packWgsl from './pack-unit-float.wgsl?raw';
import unpackWgsl from './unpack-float.wgsl?raw';
import type { WordPipelineSpec } from './word-pipeline';

/** Largest uint8 value: the unpacked value is byte / U8_MAX. */
const U8_MAX = 255;
const U8_LEVELS = 256;

/**
 * byte → float32(byte / 255), rounded once from the exact quotient: the same float32 the
 * CPU path stores when it writes `byte / 255` into a Float32Array.
 */
export const BYTE_TO_UNIT_FLOAT: Float32Array = Float32Array.from({ length: U8_LEVELS }, (_, v) => v / U8_MAX);

/** Bindings: packed input words, the byte → float table, the slot of each input image, the float output. */
export const UNPACK_FLOAT: WordPipelineSpec = {
  label: 'augment:unpack-float',
  wgsl: unpackWgsl,
  bindings: ['read-only-storage', 'read-only-storage', 'read-only-storage', 'storage'],
};

/** Bindings: float input values, packed output words. */
export const PACK_UNIT_FLOAT: WordPipelineSpec = {
  label: 'augment:pack-unit-float',
  wgsl: packWgsl,
  bindings: ['read-only-storage', 'storage'],
};
