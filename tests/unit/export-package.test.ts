import { strFromU8, strToU8, unzipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import type { InputSpec } from '../../src/lib/storage/records';
import { estimateArena } from '../../src/lib/export/arena';
import {
  ARDUINO_TFLM_DEPENDENCY,
  METADATA_FORMAT_VERSION,
  SKETCH_ARENA_ROUNDING_BYTES,
  TFLM_RESOLVER_CALLS,
  arduinoLibraryName,
  arduinoLibraryZip,
  buildExportMetadata,
  cString,
  describeFiles,
  exportBundleZip,
  graphOpKinds,
  labelsTxt,
  metadataJson,
  sha256Hex,
  type ExportMetadata,
} from '../../src/lib/export/package';
import type { QGraph, QOpKind } from '../../src/lib/export/qgraph';
import { randomInputs, randomQGraph } from '../helpers/random-qgraph';

const LABELS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'];
const SPEC: InputSpec = { width: 12, height: 12, channels: 3, resize: 'stretch' };
/** Hand-checked: `printf 'hearth\n' | sha256sum`. */
const SHA256_HEARTH_NEWLINE = '1613649c73bcb7784a5882325c6ae45ff0d6cb45c2d0662e2f975a086f0d25ad';
/** Hand-checked: `printf '' | sha256sum`. */
const SHA256_EMPTY = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

async function metadataFor(graph: QGraph, files: Record<string, Uint8Array> = {}): Promise<ExportMetadata> {
  return buildExportMetadata({
    graph,
    inputSpec: SPEC,
    labels: LABELS,
    modelName: 'digits "v2"',
    hearthVersion: '0.1.0',
    createdAt: Date.UTC(2025, 0, 2, 3, 4, 5),
    quantization: { calibration: 'minmax', sampleCount: 300, seed: 42 },
    provenance: { projectId: 'p1', datasetVersion: 3, runId: 'run-1', backend: 'wasm', seed: 7 },
    files,
  });
}

/** A graph that uses only conv2d, reshape and fully-connected: the random graph's tail cut off. */
function convReshapeFc(): QGraph {
  const g = randomQGraph(5);
  const conv = g.ops.find((op) => op.kind === 'conv2d' && op.name === 'c1');
  const fc = g.ops.find((op) => op.kind === 'fully-connected');
  if (conv?.kind !== 'conv2d' || fc?.kind !== 'fully-connected') throw new Error('random graph changed');
  // c1 is [1,12,12,8]; reshape to [1,1152] and a new FC with 10 outputs.
  const tensors = { input: g.tensors.input!, c1: g.tensors.c1!, flat: { ...g.tensors.c1!, name: 'flat', shape: [1, 1152] }, logits: g.tensors.logits! };
  return {
    name: 'tiny',
    input: 'input',
    output: 'logits',
    tensors,
    ops: [
      conv,
      { kind: 'reshape', name: 'flat', input: 'c1', output: 'flat' },
      { ...fc, input: 'flat', weights: new Int8Array(10 * 1152), weightsShape: [10, 1152] },
    ],
  };
}

function vectorsFor(graph: QGraph): { inputs: Int8Array[]; expected: Int8Array[]; labels: number[] } {
  const inputs = randomInputs(graph, 2, 9);
  const expected = [Int8Array.from({ length: 10 }, (_, i) => i - 5), Int8Array.from({ length: 10 }, (_, i) => 4 - i)];
  return { inputs, expected, labels: [9, 0] };
}

describe('sha256Hex and describeFiles', () => {
  it('matches sha256sum on known inputs', async () => {
    expect(await sha256Hex(strToU8('hearth\n'))).toBe(SHA256_HEARTH_NEWLINE);
    expect(await sha256Hex(new Uint8Array(0))).toBe(SHA256_EMPTY);
    // A view into a larger buffer hashes only its own bytes.
    const big = strToU8('xxhearth\nyy');
    expect(await sha256Hex(big.subarray(2, 9))).toBe(SHA256_HEARTH_NEWLINE);
  });

  it('lists files sorted by path with size and hash', async () => {
    const files = await describeFiles({ 'b.txt': strToU8('hearth\n'), 'a.bin': new Uint8Array(0) });
    expect(files).toEqual([
      { path: 'a.bin', bytes: 0, sha256: SHA256_EMPTY },
      { path: 'b.txt', bytes: 7, sha256: SHA256_HEARTH_NEWLINE },
    ]);
  });
});

describe('buildExportMetadata', () => {
  it('pins the input and output contract from the InputSpec and the graph', async () => {
    const graph = randomQGraph(1);
    const meta = await metadataFor(graph, { 'labels.txt': strToU8('hearth\n') });
    expect(meta.format).toBe('hearth-export');
    expect(meta.formatVersion).toBe(METADATA_FORMAT_VERSION);
    expect(meta.createdAt).toBe('2025-01-02T03:04:05.000Z');
    expect(meta.model).toEqual({ name: 'digits "v2"', kind: 'random-1' });
    expect(meta.input).toMatchObject({
      width: 12,
      height: 12,
      channels: 3,
      layout: 'NHWC',
      dtype: 'int8',
      scale: graph.tensors.input?.scale,
      zeroPoint: -128,
      floatScaling: 'pixel / 255',
      mean: [0, 0, 0],
      std: [1, 1, 1],
      resize: { mode: 'stretch', shrink: 'area', enlarge: 'bilinear' },
      colour: 'rgb',
    });
    expect(meta.output).toEqual({ name: 'logits', dtype: 'int8', scale: graph.tensors.logits?.scale, zeroPoint: graph.tensors.logits?.zeroPoint, numClasses: 10 });
    expect(meta.ops).toEqual(['conv2d', 'depthwise-conv2d', 'add', 'max-pool2d', 'average-pool2d', 'reshape', 'fully-connected']);
    expect(meta.arena).toEqual(estimateArena(graph));
    expect(meta.files).toEqual([{ path: 'labels.txt', bytes: 7, sha256: SHA256_HEARTH_NEWLINE }]);
    expect(JSON.parse(metadataJson(meta))).toEqual(meta);
  });

  it('refuses labels that do not match the outputs, and an input that is not the project\'s', async () => {
    const graph = randomQGraph(1);
    await expect(buildExportMetadata({ ...(await baseOpts(graph)), labels: ['a', 'b'] })).rejects.toThrow(/10 outputs but 2 labels/);
    await expect(buildExportMetadata({ ...(await baseOpts(graph)), inputSpec: { ...SPEC, channels: 1 } })).rejects.toThrow(/project's input is \[1, 12, 12, 1\]/);
  });
});

async function baseOpts(graph: QGraph): Promise<Parameters<typeof buildExportMetadata>[0]> {
  return {
    graph,
    inputSpec: SPEC,
    labels: LABELS,
    modelName: 'm',
    hearthVersion: '0.1.0',
    createdAt: 0,
    quantization: { calibration: 'minmax', sampleCount: 1, seed: 1 },
    provenance: { projectId: 'p', datasetVersion: null, runId: null, backend: 'cpu', seed: 1 },
    files: {},
  };
}

describe('labelsTxt and cString', () => {
  it('writes one label per line and refuses line breaks', () => {
    expect(labelsTxt(['cat', 'dog house'])).toBe('cat\ndog house\n');
    expect(() => labelsTxt(['a\nb'])).toThrow(/without line breaks/);
    expect(() => labelsTxt([''])).toThrow(/not empty/);
  });

  it('escapes quotes, backslashes and UTF-8 bytes as octal', () => {
    expect(cString('café "x" \\')).toBe('"caf\\303\\251 \\042x\\042 \\134"');
    expect(cString('a?')).toBe('"a\\077"');
  });

  it('derives a library name that is a C identifier', () => {
    expect(arduinoLibraryName('my cat-model v2')).toBe('HearthMyCatModelV2');
    expect(arduinoLibraryName('')).toBe('Hearth');
  });
});

describe('arduinoLibraryZip', () => {
  it('lays out a valid Arduino library that reads back from the zip', async () => {
    const graph = randomQGraph(1);
    const model = Uint8Array.from({ length: 300 }, (_, i) => (i * 37) % 256);
    const zip = arduinoLibraryZip({ libraryName: 'HearthDigits', model, metadata: await metadataFor(graph), testVectors: vectorsFor(graph), graph });
    const entries = unzipSync(zip);
    expect(Object.keys(entries).sort()).toEqual([
      'HearthDigits/README.md',
      'HearthDigits/examples/HearthDigitsClassify/HearthDigitsClassify.ino',
      'HearthDigits/extras/hearth-metadata.json',
      'HearthDigits/extras/labels.txt',
      'HearthDigits/library.properties',
      'HearthDigits/src/HearthDigits.h',
      'HearthDigits/src/model_data.cc',
      'HearthDigits/src/model_data.h',
      'HearthDigits/src/preprocessing.h',
      'HearthDigits/src/test_vectors.h',
    ]);
    const text = (path: string): string => strFromU8(entries[`HearthDigits/${path}`] as Uint8Array);

    const props = Object.fromEntries(
      text('library.properties')
        .trim()
        .split('\n')
        .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
    );
    expect(props).toMatchObject({
      name: 'HearthDigits',
      version: '1.0.0',
      author: 'Hearth',
      category: 'Data Processing',
      architectures: '*',
      depends: ARDUINO_TFLM_DEPENDENCY,
      includes: 'HearthDigits.h',
    });
    expect(props.sentence?.length).toBeGreaterThan(10);
    expect(props.paragraph).toContain('10 classes');

    const cc = text('src/model_data.cc');
    const hex = cc.slice(cc.indexOf('{') + 1, cc.indexOf('}')).match(/0x[0-9a-f]{2}/g) ?? [];
    expect(Uint8Array.from(hex, (h) => parseInt(h, 16))).toEqual(model);
    expect(cc).toContain('alignas(16)');

    const header = text('src/HearthDigits.h');
    expect(header).toContain('#include "model_data.h"');
    expect(header).toContain('#include "preprocessing.h"');
    expect(header).toContain(`const char* const kLabels[kNumLabels] = {${LABELS.map((l) => `"${l}"`).join(', ')}};`);
    expect(header).toContain('static_cast<int>(pixels[i]) + kInputZeroPoint');
    expect(text('src/preprocessing.h')).toContain('constexpr int kInputZeroPoint = -128;');
    expect(text('src/test_vectors.h')).toContain('const int kTestLabels[kTestVectorCount] = {9, 0};');
    expect(text('extras/labels.txt')).toBe(labelsTxt(LABELS));
    expect(JSON.parse(text('extras/hearth-metadata.json'))).toEqual(await metadataFor(graph));
  });

  it('registers every op the graph uses and no other, in a resolver of that size', async () => {
    for (const graph of [randomQGraph(1), convReshapeFc()]) {
      const zip = arduinoLibraryZip({ libraryName: 'Lib', model: Uint8Array.of(1), metadata: await metadataFor(graph), testVectors: vectorsFor(graph), graph });
      const sketch = strFromU8(unzipSync(zip)['Lib/examples/LibClassify/LibClassify.ino'] as Uint8Array);
      const used = graphOpKinds(graph);
      const registered = [...sketch.matchAll(/resolver\.(Add\w+)\(\)/g)].map((m) => m[1]);
      expect(registered.sort()).toEqual(used.map((k) => TFLM_RESOLVER_CALLS[k]).sort());
      expect(sketch).toContain(`constexpr int kOpCount = ${used.length};`);
      expect(sketch).toContain('tflite::MicroMutableOpResolver<kOpCount> resolver;');
      const unused = (Object.keys(TFLM_RESOLVER_CALLS) as QOpKind[]).filter((k) => !used.includes(k));
      for (const k of unused) expect(sketch).not.toContain(TFLM_RESOLVER_CALLS[k]);
    }
    expect(graphOpKinds(convReshapeFc())).toEqual(['conv2d', 'reshape', 'fully-connected']);
  });

  it('declares the estimated arena rounded up to 1 KiB and runs the test vectors', async () => {
    const graph = randomQGraph(2);
    const metadata = await metadataFor(graph);
    const zip = arduinoLibraryZip({ libraryName: 'Lib', model: Uint8Array.of(1), metadata, testVectors: vectorsFor(graph), graph });
    const sketch = strFromU8(unzipSync(zip)['Lib/examples/LibClassify/LibClassify.ino'] as Uint8Array);
    const arena = Number(/constexpr size_t kTensorArenaSize = (\d+);/.exec(sketch)?.[1]);
    expect(arena % SKETCH_ARENA_ROUNDING_BYTES).toBe(0);
    expect(arena).toBeGreaterThanOrEqual(metadata.arena.totalBytes);
    expect(arena - metadata.arena.totalBytes).toBeLessThan(SKETCH_ARENA_ROUNDING_BYTES);
    expect(sketch).toContain('alignas(16) uint8_t tensor_arena[kTensorArenaSize];');
    expect(sketch).toContain('#include <Chirale_TensorFlowLite.h>');
    expect(sketch).toContain('#include <Lib.h>');
    expect(sketch).toMatch(/for \(int v = 0; v < kTestVectorCount; \+\+v\)/);
    expect(sketch).toContain('Serial.print(kLabels[predicted]);');
    expect(sketch).toContain('": PASS" : ": FAIL"');
  });

  it('refuses a library name that cannot be a folder, header and sketch name, and a graph the metadata does not describe', async () => {
    const graph = randomQGraph(1);
    const base = { model: Uint8Array.of(1), metadata: await metadataFor(graph), testVectors: vectorsFor(graph), graph };
    expect(() => arduinoLibraryZip({ ...base, libraryName: 'My Lib' })).toThrow(/Arduino library name/);
    expect(() => arduinoLibraryZip({ ...base, libraryName: 'Lib', version: '1.0' })).toThrow(/1\.0\.0/);
    expect(() => arduinoLibraryZip({ ...base, libraryName: 'Lib', graph: convReshapeFc() })).toThrow(/ops/);
  });
});

describe('exportBundleZip', () => {
  it('zips every file readably and gives the same bytes for the same files', () => {
    const files = { 'model.tflite': Uint8Array.of(1, 2, 3), 'tfjs/model.json': strToU8('{}'), 'labels.txt': strToU8('a\n') };
    const zip = exportBundleZip(files);
    const back = unzipSync(zip);
    expect(Object.keys(back).sort()).toEqual(['labels.txt', 'model.tflite', 'tfjs/model.json']);
    expect(back['model.tflite']).toEqual(Uint8Array.of(1, 2, 3));
    expect(strFromU8(back['tfjs/model.json'] as Uint8Array)).toBe('{}');
    expect(exportBundleZip(files)).toEqual(zip);
  });

  it('refuses paths that would escape the folder it is unzipped into', () => {
    expect(() => exportBundleZip({ '../evil': Uint8Array.of(1) })).toThrow(/no '\.\.'/);
    expect(() => exportBundleZip({ '/abs': Uint8Array.of(1) })).toThrow(/relative paths/);
    expect(() => exportBundleZip({})).toThrow(/Nothing to zip/);
  });
});
