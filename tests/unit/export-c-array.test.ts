import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Rng } from '../../src/lib/data/rng';
import { C_ARRAY_BYTES_PER_LINE, cFloat, includeGuard, modelDataCc, modelDataH, preprocessingH, testVectorsH } from '../../src/lib/export/c-array';
import type { ExportInput, ExportOutput } from '../../src/lib/export/package';
import { INPUT_SCALE, INPUT_ZERO_POINT } from '../../src/lib/export/qgraph';

const hasTool = (tool: string): boolean => {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};
const HAS_XXD = hasTool('xxd');
const HAS_GXX = hasTool('g++');
const work = mkdtempSync(join(tmpdir(), 'hearth-c-array-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function randomBytes(n: number, seed: number): Uint8Array {
  const rng = new Rng(seed);
  return Uint8Array.from({ length: n }, () => rng.int(256));
}

/** Every 0xNN literal between the braces of the first array in `source`. */
function parseHexArray(source: string): Uint8Array {
  const body = source.slice(source.indexOf('{') + 1, source.indexOf('}'));
  return Uint8Array.from(body.match(/0x[0-9a-f]{2}/g) ?? [], (h) => parseInt(h, 16));
}

const input: ExportInput = {
  name: 'input',
  width: 28,
  height: 28,
  channels: 1,
  layout: 'NHWC',
  dtype: 'int8',
  scale: INPUT_SCALE,
  zeroPoint: INPUT_ZERO_POINT,
  floatScaling: 'pixel / 255',
  mean: [0],
  std: [1],
  resize: { mode: 'stretch', shrink: 'area', enlarge: 'bilinear' },
  colour: 'gray',
  alpha: 'over-black',
};
const output: ExportOutput = { name: 'logits', dtype: 'int8', scale: Math.fround(0.1234567), zeroPoint: -7, numClasses: 10 };

describe('modelDataCc', () => {
  it('writes every byte back, 12 per line, in a 16-byte-aligned array with its length', () => {
    const bytes = randomBytes(1000, 7);
    const cc = modelDataCc(bytes);
    expect(parseHexArray(cc)).toEqual(bytes);
    expect(cc).toContain('#include "model_data.h"');
    expect(cc).toContain('alignas(16) const unsigned char g_model[] = {');
    expect(cc).toContain('const unsigned int g_model_len = 1000;');
    const rows = cc.split('\n').filter((l) => l.startsWith('  0x'));
    expect(rows).toHaveLength(Math.ceil(1000 / C_ARRAY_BYTES_PER_LINE));
    expect(rows.slice(0, -1).every((r) => r.split(', ').length === 12 && r.endsWith(','))).toBe(true);
    expect(rows.at(-1)?.split(', ')).toHaveLength(1000 % 12);
    expect(rows.at(-1)?.endsWith(',')).toBe(false);
  });

  it('takes another variable and header name, and refuses names C cannot hold', () => {
    const cc = modelDataCc(Uint8Array.of(1, 2, 3), { variableName: 'person_model', headerName: 'person_model.h' });
    expect(cc).toContain('#include "person_model.h"');
    expect(cc).toContain('const unsigned char person_model[] = {\n  0x01, 0x02, 0x03\n};');
    expect(cc).toContain('const unsigned int person_model_len = 3;');
    expect(() => modelDataCc(Uint8Array.of(1), { variableName: '2model' })).toThrow(/letters, digits and underscores/);
    expect(() => modelDataCc(Uint8Array.of(1), { headerName: 'model.hpp' })).toThrow(/ending in .h/);
    expect(() => modelDataCc(new Uint8Array(0))).toThrow(/empty/);
  });

  // Golden: the array body must be what `xxd -i` prints for the same file.
  it.skipIf(!HAS_XXD)('matches xxd -i byte for byte in the array body', () => {
    const bytes = randomBytes(257, 11);
    const file = join(work, 'g_model');
    writeFileSync(file, bytes);
    const xxd = execFileSync('xxd', ['-i', 'g_model'], { cwd: work, encoding: 'utf8' });
    const body = (source: string): string => source.slice(source.indexOf('{') + 1, source.indexOf('}')).trim();
    expect(body(modelDataCc(bytes))).toBe(body(xxd));
    expect(xxd).toContain('g_model_len = 257;');
  });
});

describe('modelDataH', () => {
  it('declares the array and its length extern inside an include guard', () => {
    const h = modelDataH();
    expect(h).toContain('#ifndef MODEL_DATA_H_\n#define MODEL_DATA_H_');
    expect(h).toContain('extern const unsigned char g_model[];');
    expect(h).toContain('extern const unsigned int g_model_len;');
    expect(h.trimEnd().endsWith('#endif  // MODEL_DATA_H_')).toBe(true);
    expect(includeGuard('person-detect.v2.h')).toBe('PERSON_DETECT_V2_H_');
  });
});

describe('testVectorsH', () => {
  const vectors = {
    inputs: [Int8Array.of(-128, 0, 127, 5), Int8Array.of(1, 2, 3, 4)],
    expected: [Int8Array.of(10, -3, 7), Int8Array.of(-128, 127, 0)],
    labels: [0, 1],
  };

  it('writes the inputs, expected outputs and labels as int8 C arrays that read back', () => {
    const h = testVectorsH(vectors);
    expect(h).toContain('constexpr int kTestVectorCount = 2;');
    expect(h).toContain('constexpr int kTestInputSize = 4;');
    expect(h).toContain('constexpr int kTestOutputSize = 3;');
    const arrayValues = (name: string): number[] => {
      const start = h.indexOf(name);
      const body = h.slice(h.indexOf('= {', start) + 3, h.indexOf('};', start));
      return (body.match(/-?\d+/g) ?? []).map(Number);
    };
    expect(arrayValues('kTestInputs[')).toEqual([-128, 0, 127, 5, 1, 2, 3, 4]);
    expect(arrayValues('kTestExpected[')).toEqual([10, -3, 7, -128, 127, 0]);
    expect(h).toContain('const int kTestLabels[kTestVectorCount] = {0, 1};');
    expect(h).toContain('#ifndef TEST_VECTORS_H_');
  });

  it('accepts plain number arrays as well as Int8Array', () => {
    const plain = { inputs: vectors.inputs.map((v) => Array.from(v)), expected: vectors.expected.map((v) => Array.from(v)), labels: vectors.labels };
    expect(testVectorsH(plain)).toBe(testVectorsH(vectors));
  });

  it('refuses vectors that disagree in count or size, values outside int8, or labels out of range', () => {
    expect(() => testVectorsH({ ...vectors, labels: [0] })).toThrow(/disagree in count/);
    expect(() => testVectorsH({ ...vectors, inputs: [Int8Array.of(1, 2, 3, 4), Int8Array.of(1)] })).toThrow(/Test input 1 has 1 values/);
    expect(() => testVectorsH({ ...vectors, expected: [[1, 2, 3], [1, 2, 300]] })).toThrow(/outside int8/);
    expect(() => testVectorsH({ ...vectors, labels: [0, 3] })).toThrow(/class index in \[0, 2\]/);
    expect(() => testVectorsH({ inputs: [], expected: [], labels: [] })).toThrow(/at least one/);
  });
});

describe('preprocessingH', () => {
  it('writes the input contract as constants, floats exact to float32', () => {
    const h = preprocessingH({ input, output });
    expect(h).toContain('constexpr int kInputWidth = 28;');
    expect(h).toContain('constexpr int kInputChannels = 1;');
    expect(h).toContain('constexpr int kInputZeroPoint = -128;');
    expect(h).toContain('constexpr int kNumClasses = 10;');
    expect(h).toContain('constexpr int kOutputZeroPoint = -7;');
    const scale = /kInputScale = ([^f]+)f;/.exec(h)?.[1];
    expect(Math.fround(Number(scale))).toBe(INPUT_SCALE);
    expect(h).toMatch(/stretching/);
    expect(h).toMatch(/0\.299 R \+ 0\.587 G \+ 0\.114 B/);
  });

  it('refuses an input quantization that pixel − 128 would not match', () => {
    expect(() => preprocessingH({ input: { ...input, zeroPoint: 0 }, output })).toThrow(/not Hearth's 1\/255 and −128/);
  });

  it('cFloat reads back to the same float32', () => {
    for (const v of [INPUT_SCALE, 0.1, 1e-7, 3, 123456.789, -0.0078125]) {
      const text = cFloat(v);
      expect(text.endsWith('f')).toBe(true);
      expect(Math.fround(Number(text.slice(0, -1)))).toBe(Math.fround(v));
    }
    expect(cFloat(3)).toBe('3.00000000f');
  });
});

// The generated files must compile as C++ and hold the right values, checked by a real compiler.
describe.skipIf(!HAS_GXX)('generated sources compile with g++', () => {
  it('model_data.cc links, keeps 16-byte alignment and reproduces the bytes; the headers compile', () => {
    const bytes = randomBytes(100, 3);
    writeFileSync(join(work, 'model_data.cc'), modelDataCc(bytes));
    writeFileSync(join(work, 'model_data.h'), modelDataH());
    writeFileSync(
      join(work, 'test_vectors.h'),
      testVectorsH({ inputs: [Int8Array.of(-128, 127)], expected: [Int8Array.of(-5, 9, 0)], labels: [1] }),
    );
    writeFileSync(join(work, 'preprocessing.h'), preprocessingH({ input, output }));
    writeFileSync(
      join(work, 'main.cc'),
      `#include <cstdint>
#include <cstdio>
#include "model_data.h"
#include "test_vectors.h"
#include "test_vectors.h"
#include "preprocessing.h"
static_assert(kTestInputSize == 2 && kTestOutputSize == 3 && kTestVectorCount == 1, "sizes");
static_assert(kInputSize == 784 && kInputZeroPoint == -128, "preprocessing");
int main() {
  if (reinterpret_cast<uintptr_t>(g_model) % 16 != 0) return 2;
  for (unsigned int i = 0; i < g_model_len; ++i) std::printf("%02x", g_model[i]);
  std::printf(" %d %d %d\\n", kTestInputs[0][0], kTestExpected[0][1], kTestLabels[0]);
  return 0;
}
`,
    );
    execFileSync('g++', ['-std=c++11', '-Wall', '-Wextra', '-Werror', '-o', 'check', 'main.cc', 'model_data.cc'], { cwd: work });
    const out = execFileSync(join(work, 'check'), { encoding: 'utf8' }).trim();
    expect(out).toBe(`${Buffer.from(bytes).toString('hex')} -128 9 1`);
  });
});
