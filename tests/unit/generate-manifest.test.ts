import { describe, expect, it } from 'vitest';
import { sha256Hex } from '../../src/lib/export/package';
import { parseGeneratorManifest, verifyGeneratorFiles, type GeneratorManifest } from '../../src/lib/generate/manifest';

const weights = new TextEncoder().encode('weights of a tiny generator');
const topology = new TextEncoder().encode('{"modelTopology":{}}');

async function manifestFor(files: Record<string, Uint8Array>): Promise<GeneratorManifest> {
  return parseGeneratorManifest({
    format: 'hearth-generator',
    version: 1,
    id: 'gan-test',
    name: 'Test GAN',
    kind: 'gan',
    latentSize: 64,
    output: { width: 28, height: 28, channels: 3, layout: 'NHWC', range: [0, 1] },
    files: await Promise.all(Object.entries(files).map(async ([path, b]) => ({ path, bytes: b.length, sha256: await sha256Hex(b) }))),
    training: { seed: 7 },
    figures: {},
  });
}

describe('generator manifests', () => {
  it('hashes as sha256sum does', async () => {
    // printf 'abc' | sha256sum
    expect(await sha256Hex(new TextEncoder().encode('abc'))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('passes files that match and returns their bytes', async () => {
    const m = await manifestFor({ 'model.json': topology, 'weights.bin': weights });
    const got = await verifyGeneratorFiles(m, async (p) => ({ 'model.json': topology, 'weights.bin': weights })[p] ?? null);
    expect([...got.keys()]).toEqual(['model.json', 'weights.bin']);
  });

  it('refuses a file whose sha256 differs, saying which file and what to do', async () => {
    const m = await manifestFor({ 'model.json': topology, 'weights.bin': weights });
    const swapped = weights.slice();
    swapped[3] = (swapped[3] as number) ^ 1;
    const check = verifyGeneratorFiles(m, async (p) => (p === 'weights.bin' ? swapped : topology));
    await expect(check).rejects.toMatchObject({ name: 'GeneratorIntegrityError' });
    await expect(check).rejects.toThrow(/"weights\.bin" does not match its manifest \(sha256 [0-9a-f]{12}…, expected [0-9a-f]{12}…\)\. Reload the page while online/);
  });

  it('refuses a truncated or missing file', async () => {
    const m = await manifestFor({ 'weights.bin': weights });
    await expect(verifyGeneratorFiles(m, async () => weights.slice(0, 5))).rejects.toThrow(/"weights\.bin" has 5 bytes, its manifest says 27/);
    await expect(verifyGeneratorFiles(m, async () => null)).rejects.toThrow(/"weights\.bin" is missing/);
  });

  it('names the first problem of a malformed manifest', () => {
    expect(() => parseGeneratorManifest([])).toThrow(/not a JSON object/);
    expect(() => parseGeneratorManifest({ format: 'x' })).toThrow(/"format" is "x"/);
    const base = { format: 'hearth-generator', version: 1, id: 'a', name: 'A', kind: 'gan', latentSize: 8 };
    const output = { width: 28, height: 28, channels: 3, layout: 'NHWC', range: [0, 1] };
    expect(() => parseGeneratorManifest({ ...base, latentSize: 0 })).toThrow(/latentSize/);
    expect(() => parseGeneratorManifest({ ...base, output: { ...output, channels: 2 } })).toThrow(/output\.channels/);
    expect(() => parseGeneratorManifest({ ...base, output, files: [] })).toThrow(/lists no file/);
    expect(() => parseGeneratorManifest({ ...base, output, files: [{ path: '../x', bytes: 1, sha256: 'a'.repeat(64) }] })).toThrow(/not inside/);
    expect(() => parseGeneratorManifest({ ...base, output, files: [{ path: 'w.bin', bytes: 1, sha256: 'ABC' }] })).toThrow(/no sha256/);
  });
});
