/**
 * Everything an embedded developer downloads besides the model files: the metadata
 * contract (what the model expects, what it returns, where it came from, with a sha256
 * per file), labels.txt, an Arduino library with an example sketch that checks the port
 * on the board, and one zip for the whole bundle.
 */
import { strToU8, zipSync, type Zippable } from 'fflate';
import { InvalidInputError } from '../jobs/errors';
import type { InputSpec } from '../storage/records';
import type { ArenaEstimate } from './arena';
import { estimateArena } from './arena';
import type { TestVectors } from './c-array';
import {
  METADATA_FORMAT,
  METADATA_FORMAT_VERSION,
  type ExportFile,
  type ExportInput,
  type ExportMetadata,
  type ExportOutput,
  type ExportProvenance,
  type ExportQuantization,
} from './contract';
import { includeGuard, modelDataCc, modelDataH, preprocessingH, testVectorsH } from './c-array';
import type { QGraph, QOpKind, QTensor } from './qgraph';

export { METADATA_FORMAT, METADATA_FORMAT_VERSION };
export type { ExportFile, ExportInput, ExportMetadata, ExportOutput, ExportProvenance, ExportQuantization };

/** Lower-case hex sha256 (WebCrypto: Node 20, browsers, workers). */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  // WebCrypto takes ArrayBuffer-backed views only; copy a view of a SharedArrayBuffer.
  const view = bytes.buffer instanceof ArrayBuffer ? (bytes as Uint8Array<ArrayBuffer>) : new Uint8Array(bytes);
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', view));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Size and sha256 of each file, sorted by path so the list reads the same every time. */
export async function describeFiles(files: Record<string, Uint8Array>): Promise<ExportFile[]> {
  const paths = Object.keys(files).sort();
  return Promise.all(paths.map(async (path) => ({ path, bytes: (files[path] as Uint8Array).length, sha256: await sha256Hex(files[path] as Uint8Array) })));
}

/** The op kinds of a graph, each once, in order of first use. */
export function graphOpKinds(graph: QGraph): QOpKind[] {
  return [...new Set(graph.ops.map((op) => op.kind))];
}

export interface MetadataOptions {
  graph: QGraph;
  /** The project's input contract. */
  inputSpec: InputSpec;
  labels: readonly string[];
  /** The name the user gave the model; the model kind is the graph's name. */
  modelName: string;
  hearthVersion: string;
  createdAt: Date | number;
  quantization: ExportQuantization;
  provenance: ExportProvenance;
  /** The files of the bundle the metadata describes (not the metadata file itself). */
  files: Record<string, Uint8Array>;
  /** Defaults to `estimateArena(graph)`. */
  arena?: ArenaEstimate;
}

export async function buildExportMetadata(opts: MetadataOptions): Promise<ExportMetadata> {
  const { graph, inputSpec } = opts;
  const inT = graph.tensors[graph.input];
  const outT = graph.tensors[graph.output];
  if (!inT || !outT) throw new InvalidInputError(`The graph "${graph.name}" lacks its input or output tensor; export the model again.`);
  const expectedIn = [1, inputSpec.height, inputSpec.width, inputSpec.channels];
  if (inT.shape.join(',') !== expectedIn.join(',')) {
    throw new InvalidInputError(
      `The model input is [${inT.shape.join(', ')}] but the project's input is [${expectedIn.join(', ')}] (NHWC); export a model trained on this project.`,
    );
  }
  const numClasses = numClassesOf(outT);
  if (opts.labels.length !== numClasses) {
    throw new InvalidInputError(`The model has ${numClasses} outputs but ${opts.labels.length} labels were given; export a model trained on this project's classes.`);
  }
  for (const label of opts.labels) checkLabel(label);
  const createdAt = new Date(opts.createdAt);
  if (Number.isNaN(createdAt.getTime())) throw new InvalidInputError('The export time is not a valid date.');
  return {
    format: METADATA_FORMAT,
    formatVersion: METADATA_FORMAT_VERSION,
    model: { name: opts.modelName, kind: graph.name },
    hearthVersion: opts.hearthVersion,
    createdAt: createdAt.toISOString(),
    labels: [...opts.labels],
    input: {
      name: graph.input,
      width: inputSpec.width,
      height: inputSpec.height,
      channels: inputSpec.channels,
      layout: 'NHWC',
      dtype: 'int8',
      scale: inT.scale,
      zeroPoint: inT.zeroPoint,
      floatScaling: 'pixel / 255',
      mean: new Array<number>(inputSpec.channels).fill(0),
      std: new Array<number>(inputSpec.channels).fill(1),
      resize: { mode: inputSpec.resize, shrink: 'area', enlarge: 'bilinear' },
      colour: inputSpec.channels === 1 ? 'gray' : 'rgb',
      alpha: 'over-black',
    },
    output: { name: 'logits', dtype: 'int8', scale: outT.scale, zeroPoint: outT.zeroPoint, numClasses },
    ops: graphOpKinds(graph),
    quantization: { ...opts.quantization },
    provenance: { ...opts.provenance },
    arena: opts.arena ?? estimateArena(graph),
    files: await describeFiles(opts.files),
  };
}

function numClassesOf(outT: QTensor): number {
  if (outT.shape.length !== 2 || outT.shape[0] !== 1) {
    throw new InvalidInputError(`The model output "${outT.name}" is [${outT.shape.join(', ')}], not [1, classes]; export a classifier.`);
  }
  return outT.shape[1] as number;
}

function checkLabel(label: string): void {
  if (label.length === 0 || /[\r\n]/.test(label)) {
    throw new InvalidInputError(`The class name ${JSON.stringify(label)} cannot go in labels.txt: rename the class without line breaks and not empty.`);
  }
}

/** One label per line, in class-id order, newline-terminated. */
export function labelsTxt(labels: readonly string[]): string {
  for (const label of labels) checkLabel(label);
  return labels.map((l) => `${l}\n`).join('');
}

export function metadataJson(meta: ExportMetadata): string {
  return `${JSON.stringify(meta, null, 2)}\n`;
}

// ---------------------------------------------------------------------------------------
// Arduino library

/**
 * The TFLM library the example depends on. `Chirale_TensorFLowLite` (spelled so in its
 * library.properties, which is the name `depends` must match) is in the Arduino Library
 * Manager, so the IDE installs it together with this library, and it is regenerated from
 * current TFLM for the mbed (Nano 33 BLE, Portenta, Nicla, Giga) and ESP32 cores. The
 * official `Arduino_TensorFlowLite` is no longer in the Library Manager (it is installed by
 * cloning tflite-micro-arduino-examples), so a `depends` on it cannot be resolved.
 */
export const ARDUINO_TFLM_DEPENDENCY = 'Chirale_TensorFLowLite';
/** Its main header (its library.properties `includes`). */
export const ARDUINO_TFLM_HEADER = 'Chirale_TensorFlowLite.h';
/** The sketch declares the estimated arena rounded up to a multiple of this. */
export const SKETCH_ARENA_ROUNDING_BYTES = 1024;

/** MicroMutableOpResolver registration for each op kind Hearth writes. */
export const TFLM_RESOLVER_CALLS: Readonly<Record<QOpKind, string>> = {
  conv2d: 'AddConv2D',
  'depthwise-conv2d': 'AddDepthwiseConv2D',
  'fully-connected': 'AddFullyConnected',
  add: 'AddAdd',
  'max-pool2d': 'AddMaxPool2D',
  'average-pool2d': 'AddAveragePool2D',
  reshape: 'AddReshape',
};

/** Arduino library names become folder, header and sketch names here, so: a C identifier, ≤ 63 chars. */
const ARDUINO_LIBRARY_NAME = /^[A-Za-z][A-Za-z0-9_]{0,62}$/;
const SEMVER = /^\d+\.\d+\.\d+$/;

/** `my cat model` → `HearthMyCatModel`: a valid library name from a model name. */
export function arduinoLibraryName(modelName: string): string {
  const words = modelName.match(/[A-Za-z0-9]+/g) ?? [];
  const pascal = words.map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join('');
  return `Hearth${pascal}`.slice(0, 63);
}

/** A C string literal: printable ASCII as is, everything else (UTF-8 bytes included) as octal escapes. */
export function cString(text: string): string {
  let out = '"';
  for (const byte of strToU8(text)) {
    const ch = String.fromCharCode(byte);
    if (byte >= 0x20 && byte < 0x7f && ch !== '"' && ch !== '\\' && ch !== '?') out += ch;
    else out += `\\${byte.toString(8).padStart(3, '0')}`;
  }
  return `${out}"`;
}

/** One line for library.properties: no line breaks. */
const oneLine = (text: string): string => text.replace(/\s+/g, ' ').trim();

export interface ArduinoLibraryOptions {
  libraryName: string;
  /** The .tflite flatbuffer. */
  model: Uint8Array;
  metadata: ExportMetadata;
  testVectors: TestVectors;
  /** library.properties version (x.y.z); default 1.0.0. */
  version?: string;
  /**
   * The graph the model was written from. When given, its ops must be the metadata's:
   * the sketch registers exactly `metadata.ops`, and a mismatch would fail on the board.
   */
  graph?: QGraph;
}

function checkArduinoInputs(opts: ArduinoLibraryOptions): void {
  const { libraryName, metadata, testVectors } = opts;
  if (!ARDUINO_LIBRARY_NAME.test(libraryName)) {
    throw new InvalidInputError(`"${libraryName}" cannot be an Arduino library name here: start with a letter, then letters, digits or '_', at most 63 characters.`);
  }
  if (opts.version !== undefined && !SEMVER.test(opts.version)) throw new InvalidInputError(`Library version "${opts.version}" must look like 1.0.0.`);
  if (metadata.labels.length !== metadata.output.numClasses) {
    throw new InvalidInputError(`The metadata has ${metadata.labels.length} labels for ${metadata.output.numClasses} outputs; build it again from the graph.`);
  }
  const inputSize = metadata.input.width * metadata.input.height * metadata.input.channels;
  if (testVectors.inputs.some((v) => v.length !== inputSize) || testVectors.expected.some((v) => v.length !== metadata.output.numClasses)) {
    throw new InvalidInputError(`Test vectors must have ${inputSize} input and ${metadata.output.numClasses} output values, as the model does.`);
  }
  if (metadata.ops.length === 0) throw new InvalidInputError('The metadata lists no ops; build it again from the graph.');
  if (opts.graph) {
    const used = graphOpKinds(opts.graph);
    if (used.join(',') !== metadata.ops.join(',')) {
      throw new InvalidInputError(`The graph uses ops [${used.join(', ')}] but the metadata lists [${metadata.ops.join(', ')}]; build the metadata from this graph.`);
    }
  }
}

function libraryProperties(opts: ArduinoLibraryOptions): string {
  const { libraryName, metadata } = opts;
  const { input, labels } = metadata;
  const classes = labels.length <= 6 ? labels.join(', ') : `${labels.slice(0, 6).join(', ')}…`;
  return [
    `name=${libraryName}`,
    `version=${opts.version ?? '1.0.0'}`,
    'author=Hearth',
    'maintainer=Hearth',
    `sentence=${oneLine(`Int8 image classifier "${metadata.model.name}" (${metadata.model.kind}) for TensorFlow Lite Micro, exported by Hearth.`)}`,
    `paragraph=${oneLine(
      `${input.width}x${input.height}x${input.channels} int8 input (pixel - 128), ${labels.length} classes (${classes}). ` +
        `Includes the model as a C array, labels, preprocessing constants and test vectors; the example checks the model on the board.`,
    )}`,
    'category=Data Processing',
    'url=https://github.com/spaziochirale/Chirale_TensorFlowLite',
    'architectures=*',
    `depends=${ARDUINO_TFLM_DEPENDENCY}`,
    `includes=${libraryName}.h`,
    '',
  ].join('\n');
}

function libraryHeader(opts: ArduinoLibraryOptions): string {
  const { libraryName, metadata } = opts;
  const guard = includeGuard(`${libraryName}.h`);
  return (
    `// ${libraryName}: "${oneLine(metadata.model.name)}" exported by Hearth ${oneLine(metadata.hearthVersion)} on ${metadata.createdAt}.\n` +
    `// The model (g_model), its class names and its input contract.\n\n` +
    `#ifndef ${guard}\n#define ${guard}\n\n` +
    `#include <stddef.h>\n#include <stdint.h>\n\n` +
    `#include "model_data.h"\n#include "preprocessing.h"\n\n` +
    `// Class names; index = class id = position in the output logits.\n` +
    `constexpr int kNumLabels = ${metadata.labels.length};\n` +
    `const char* const kLabels[kNumLabels] = {${metadata.labels.map(cString).join(', ')}};\n\n` +
    `// uint8 pixels (${metadata.input.layout}, already resized and ${metadata.input.colour === 'gray' ? 'grayed' : 'in RGB order'}, see\n` +
    `// preprocessing.h) to the int8 input tensor: q = pixel - 128 (scale 1/255, zero point -128).\n` +
    `inline void hearthPixelsToInput(const uint8_t* pixels, int8_t* input, size_t count) {\n` +
    `  for (size_t i = 0; i < count; ++i) input[i] = static_cast<int8_t>(static_cast<int>(pixels[i]) + kInputZeroPoint);\n` +
    `}\n\n` +
    `// Index of the largest logit (the first one on ties): the predicted class.\n` +
    `inline int hearthArgmax(const int8_t* logits, int count) {\n` +
    `  int best = 0;\n` +
    `  for (int i = 1; i < count; ++i) {\n` +
    `    if (logits[i] > logits[best]) best = i;\n` +
    `  }\n` +
    `  return best;\n` +
    `}\n\n` +
    `#endif  // ${guard}\n`
  );
}

/** The example sketch: registers exactly the graph's ops, runs the test vectors, prints the verdict. */
export function classifySketch(libraryName: string, metadata: ExportMetadata): string {
  const arenaBytes = Math.ceil(metadata.arena.totalBytes / SKETCH_ARENA_ROUNDING_BYTES) * SKETCH_ARENA_ROUNDING_BYTES;
  const registrations = metadata.ops
    .map((kind) => `  if (resolver.${TFLM_RESOLVER_CALLS[kind]}() != kTfLiteOk) halt("Could not register ${TFLM_RESOLVER_CALLS[kind].slice(3)}.");`)
    .join('\n');
  const a = metadata.arena;
  return `// ${libraryName}Classify: runs the test vectors Hearth embedded through the model with
// TensorFlow Lite Micro, then prints PASS/FAIL and the predicted label of each over Serial
// (115200 baud). A full pass means this board computes what Hearth computed.
// Needs the ${ARDUINO_TFLM_DEPENDENCY} library (the Library Manager installs it with this one).

#include <${ARDUINO_TFLM_HEADER}>

#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"
#include "tensorflow/lite/schema/schema_generated.h"

#include <${libraryName}.h>
#include <test_vectors.h>

namespace {

// Hearth's estimate: ${a.activationBytes} bytes of activations + ${a.scratchBytes} of kernel scratch
// (${a.kernels} kernels) + ${a.overheadBytes} of runtime structs, peak during op "${a.peakOp}",
// rounded up to ${SKETCH_ARENA_ROUNDING_BYTES} bytes. If AllocateTensors() fails, raise it.
constexpr size_t kTensorArenaSize = ${arenaBytes};
alignas(16) uint8_t tensor_arena[kTensorArenaSize];

// The ops this model uses, and only those: the linker drops every other kernel.
constexpr int kOpCount = ${metadata.ops.length};

void halt(const char* message) {
  Serial.println(message);
  while (true) {
    delay(1000);
  }
}

}  // namespace

void setup() {
  Serial.begin(115200);
  // Boards with native USB: give the Serial Monitor up to 5 s to connect.
  const unsigned long waitStart = millis();
  while (!Serial && millis() - waitStart < 5000) {
  }

  const tflite::Model* model = tflite::GetModel(g_model);
  if (model->version() != TFLITE_SCHEMA_VERSION) halt("The model's schema version differs from this TFLM library's: update the library.");

  static tflite::MicroMutableOpResolver<kOpCount> resolver;
${registrations}

  static tflite::MicroInterpreter interpreter(model, resolver, tensor_arena, kTensorArenaSize);
  if (interpreter.AllocateTensors() != kTfLiteOk) halt("AllocateTensors() failed: raise kTensorArenaSize, or use a board with more RAM.");
  Serial.print("Tensor arena: ");
  Serial.print(static_cast<unsigned long>(interpreter.arena_used_bytes()));
  Serial.print(" of ");
  Serial.print(static_cast<unsigned long>(kTensorArenaSize));
  Serial.println(" bytes used.");

  TfLiteTensor* input = interpreter.input(0);
  TfLiteTensor* output = interpreter.output(0);
  if (input->type != kTfLiteInt8 || input->bytes != static_cast<size_t>(kTestInputSize)) halt("The model input is not the int8 tensor the test vectors expect.");
  if (output->type != kTfLiteInt8 || output->bytes != static_cast<size_t>(kTestOutputSize)) halt("The model output is not the int8 tensor the test vectors expect.");

  int passed = 0;
  for (int v = 0; v < kTestVectorCount; ++v) {
    memcpy(input->data.int8, kTestInputs[v], kTestInputSize);
    const unsigned long started = micros();
    if (interpreter.Invoke() != kTfLiteOk) halt("Invoke() failed.");
    const unsigned long elapsedUs = micros() - started;

    int maxDiff = 0;
    for (int i = 0; i < kTestOutputSize; ++i) {
      int diff = output->data.int8[i] - kTestExpected[v][i];
      if (diff < 0) diff = -diff;
      if (diff > maxDiff) maxDiff = diff;
    }
    const int predicted = hearthArgmax(output->data.int8, kTestOutputSize);
    const bool pass = maxDiff <= kTestToleranceSteps && predicted == kTestLabels[v];
    if (pass) ++passed;

    Serial.print("Vector ");
    Serial.print(v);
    Serial.print(pass ? ": PASS" : ": FAIL");
    Serial.print(" (max difference ");
    Serial.print(maxDiff);
    Serial.print(" steps), predicted ");
    Serial.print(kLabels[predicted]);
    Serial.print(", expected ");
    Serial.print(kLabels[kTestLabels[v]]);
    Serial.print(", ");
    Serial.print(elapsedUs);
    Serial.println(" us");
  }
  Serial.print(passed);
  Serial.print("/");
  Serial.print(kTestVectorCount);
  Serial.println(passed == kTestVectorCount ? " test vectors passed." : " test vectors passed: this build does not compute what Hearth did; check the TFLM library version.");
}

void loop() {
  // Replace with your application: fill a camera frame, hearthPixelsToInput(frame,
  // input->data.int8, kInputSize), Invoke(), hearthArgmax(output->data.int8, kNumClasses).
}
`;
}

function readme(opts: ArduinoLibraryOptions): string {
  const { libraryName, metadata } = opts;
  return (
    `# ${libraryName}\n\n` +
    `"${metadata.model.name}" (${metadata.model.kind}), exported by Hearth ${metadata.hearthVersion} on ${metadata.createdAt}.\n\n` +
    `1. Arduino IDE: Sketch > Include Library > Add .ZIP Library, pick this zip. The Library Manager offers to install ${ARDUINO_TFLM_DEPENDENCY}.\n` +
    `2. File > Examples > ${libraryName} > ${libraryName}Classify, upload, open the Serial Monitor at 115200 baud.\n` +
    `3. Every test vector should PASS. Then feed camera frames as preprocessing.h describes.\n\n` +
    `Tensor arena estimate: ${metadata.arena.totalBytes} bytes. Labels and the full input contract: extras/.\n`
  );
}

/** The library's files, keyed by path inside the zip (under `<libraryName>/`). */
export function arduinoLibraryFiles(opts: ArduinoLibraryOptions): Record<string, Uint8Array> {
  checkArduinoInputs(opts);
  const { libraryName, metadata } = opts;
  const root = `${libraryName}/`;
  const text: Record<string, string> = {
    'library.properties': libraryProperties(opts),
    'README.md': readme(opts),
    [`src/${libraryName}.h`]: libraryHeader(opts),
    'src/model_data.h': modelDataH(),
    'src/model_data.cc': modelDataCc(opts.model),
    'src/preprocessing.h': preprocessingH(metadata),
    'src/test_vectors.h': testVectorsH(opts.testVectors),
    [`examples/${libraryName}Classify/${libraryName}Classify.ino`]: classifySketch(libraryName, metadata),
    // extras/ is the Arduino library layout's place for documentation and data.
    'extras/hearth-metadata.json': metadataJson(metadata),
    'extras/labels.txt': labelsTxt(metadata.labels),
  };
  return Object.fromEntries(Object.entries(text).map(([path, content]) => [root + path, strToU8(content)]));
}

export function arduinoLibraryZip(opts: ArduinoLibraryOptions): Uint8Array {
  return exportBundleZip(arduinoLibraryFiles(opts));
}

/**
 * Every entry gets this modification time, so the same files always zip to the same
 * bytes (a download can be checked against a recorded sha256). 1980-01-01 is the
 * earliest time a zip entry can hold.
 */
const ZIP_ENTRY_MTIME = new Date(1980, 0, 1, 0, 0, 0);

export function exportBundleZip(files: Record<string, Uint8Array>): Uint8Array {
  const entries: Zippable = {};
  for (const [path, bytes] of Object.entries(files)) {
    if (path.length === 0 || path.startsWith('/') || path.includes('\\') || path.split('/').some((part) => part === '..' || part === '' || part === '.')) {
      throw new InvalidInputError(`"${path}" cannot be a path in the download: use relative paths with '/' and no '..'.`);
    }
    entries[path] = [bytes, { mtime: ZIP_ENTRY_MTIME }];
  }
  if (Object.keys(entries).length === 0) throw new InvalidInputError('Nothing to zip: export at least one file.');
  return zipSync(entries, { level: 6 });
}
