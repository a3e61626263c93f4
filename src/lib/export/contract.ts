/**
 * The contract of an exported model (metadata.json): what the model expects, what it
 * returns and where it came from. Plain types and constants, imported by the package
 * writer, the C writers and the UI alike; it imports no writer.
 */
import type { Channels, InputSpec } from '../storage/records';
import type { ArenaEstimate } from './arena';
import type { QOpKind } from './qgraph';

export const METADATA_FORMAT = 'hearth-export';
export const METADATA_FORMAT_VERSION = 1;

/**
 * The input contract, taken from the project's `InputSpec` and the graph's input tensor.
 * The resize is described as `src/lib/data/import/pixels.ts` does it, so firmware can
 * prepare camera frames the way the training images were prepared.
 */
export interface ExportInput {
  name: string;
  width: number;
  height: number;
  channels: Channels;
  layout: 'NHWC';
  dtype: 'int8';
  scale: number;
  zeroPoint: number;
  /** How a uint8 pixel becomes the float the model was trained on. */
  floatScaling: 'pixel / 255';
  /** Per channel, applied after floatScaling: (x − mean) / std. Hearth trains with 0 and 1. */
  mean: number[];
  std: number[];
  resize: {
    /** Aspect ratio not kept (InputSpec.resize). */
    mode: InputSpec['resize'];
    /** A shrinking axis: area averaging (OpenCV INTER_AREA). */
    shrink: 'area';
    /** A growing axis: bilinear with half-pixel centres and edge replication (OpenCV INTER_LINEAR). */
    enlarge: 'bilinear';
  };
  /** 'gray' = 0.299 R + 0.587 G + 0.114 B (ITU-R BT.601, as cv2.COLOR_RGB2GRAY). */
  colour: 'rgb' | 'gray';
  /** Transparent pixels are composited over black before anything else. */
  alpha: 'over-black';
}

export interface ExportOutput {
  name: 'logits';
  dtype: 'int8';
  scale: number;
  zeroPoint: number;
  numClasses: number;
}

export interface ExportQuantization {
  /** e.g. 'minmax' or 'percentile-99.99', as the calibration step names it. */
  calibration: string;
  sampleCount: number;
  seed: number;
}

export interface ExportProvenance {
  projectId: string;
  /** The dataset version number (1, 2, 3… within the project) the model was trained on. */
  datasetVersion: number | null;
  runId: string | null;
  /** Compute backend of the training run (webgpu, wasm…). */
  backend: string;
  seed: number;
}

export interface ExportFile {
  path: string;
  bytes: number;
  /** Lower-case hex. */
  sha256: string;
}

export interface ExportMetadata {
  format: typeof METADATA_FORMAT;
  formatVersion: typeof METADATA_FORMAT_VERSION;
  model: { name: string; kind: string };
  hearthVersion: string;
  /** ISO 8601, UTC. */
  createdAt: string;
  labels: string[];
  input: ExportInput;
  output: ExportOutput;
  /** The op kinds the graph uses, in order of first use: what firmware must register. */
  ops: QOpKind[];
  quantization: ExportQuantization;
  provenance: ExportProvenance;
  arena: ArenaEstimate;
  files: ExportFile[];
}
