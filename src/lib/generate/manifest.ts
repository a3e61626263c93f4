/**
 * A generator's manifest: what it is (kind, latent size, output contract), where it came
 * from (training command, seed, dataset), how good it is (figures), and the sha256 of each
 * of its files. The app checks every file against its hash before it runs the generator,
 * so a truncated download, a stale cache or a swapped file is refused with a message that
 * says what to do, instead of sampling from weights that are not the ones described.
 */
import { sha256Hex } from '../export/package';
import { InvalidInputError } from '../jobs/errors';

export const GENERATOR_MANIFEST_FORMAT = 'hearth-generator';
export const GENERATOR_MANIFEST_VERSION = 1;

export interface GeneratorFile {
  /** Relative to the manifest. */
  path: string;
  bytes: number;
  /** Lower-case hex. */
  sha256: string;
}

/** What the generator returns for a batch of latents. */
export interface GeneratorOutput {
  width: number;
  height: number;
  channels: 1 | 3;
  layout: 'NHWC';
  /** Pixel values are in [low, high]; [0, 1] for the shipped models. */
  range: [number, number];
}

export interface GeneratorManifest {
  format: typeof GENERATOR_MANIFEST_FORMAT;
  version: typeof GENERATOR_MANIFEST_VERSION;
  id: string;
  name: string;
  kind: 'gan' | 'vae';
  latentSize: number;
  output: GeneratorOutput;
  files: GeneratorFile[];
  /** How it was made: command, seed, dataset, steps, backend… (free-form, shown as is). */
  training: Record<string, unknown>;
  /** The figures that judge it (free-form, shown as is). */
  figures: Record<string, unknown>;
}

/** A file that does not match its manifest: the generator is not used. */
export class GeneratorIntegrityError extends InvalidInputError {
  constructor(message: string) {
    super(message);
    this.name = 'GeneratorIntegrityError';
  }
}

const HEX64 = /^[0-9a-f]{64}$/;

function fail(what: string): never {
  throw new InvalidInputError(`This generator manifest is not usable: ${what}. Use a manifest.json written by Hearth's generator training script.`);
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Checks a parsed manifest.json field by field; throws InvalidInputError naming the first problem. */
export function parseGeneratorManifest(json: unknown): GeneratorManifest {
  if (!isRecord(json)) fail('it is not a JSON object');
  if (json.format !== GENERATOR_MANIFEST_FORMAT) fail(`"format" is ${JSON.stringify(json.format)}, not "${GENERATOR_MANIFEST_FORMAT}"`);
  if (json.version !== GENERATOR_MANIFEST_VERSION) fail(`version ${JSON.stringify(json.version)} is not ${GENERATOR_MANIFEST_VERSION}`);
  if (typeof json.id !== 'string' || json.id === '') fail('"id" is missing');
  if (typeof json.name !== 'string' || json.name === '') fail('"name" is missing');
  if (json.kind !== 'gan' && json.kind !== 'vae') fail(`"kind" is ${JSON.stringify(json.kind)}, not "gan" or "vae"`);
  if (!Number.isInteger(json.latentSize) || (json.latentSize as number) < 1) fail('"latentSize" is not a positive integer');
  const out = json.output;
  if (!isRecord(out)) fail('"output" is missing');
  for (const k of ['width', 'height'] as const) if (!Number.isInteger(out[k]) || (out[k] as number) < 1) fail(`"output.${k}" is not a positive integer`);
  if (out.channels !== 1 && out.channels !== 3) fail('"output.channels" is not 1 or 3');
  if (out.layout !== 'NHWC') fail('"output.layout" is not "NHWC"');
  const range = out.range;
  if (!Array.isArray(range) || range.length !== 2 || typeof range[0] !== 'number' || typeof range[1] !== 'number' || !(range[0] < range[1])) {
    fail('"output.range" is not [low, high]');
  }
  if (!Array.isArray(json.files) || json.files.length === 0) fail('"files" lists no file');
  const files: GeneratorFile[] = json.files.map((f: unknown, i: number) => {
    if (!isRecord(f) || typeof f.path !== 'string' || f.path === '') fail(`file ${i + 1} has no path`);
    if (f.path.startsWith('/') || f.path.split('/').includes('..')) fail(`file "${f.path}" is not inside the manifest's folder`);
    if (!Number.isInteger(f.bytes) || (f.bytes as number) < 0) fail(`file "${f.path}" has no byte count`);
    if (typeof f.sha256 !== 'string' || !HEX64.test(f.sha256)) fail(`file "${f.path}" has no sha256 (64 lower-case hex digits)`);
    return { path: f.path, bytes: f.bytes as number, sha256: f.sha256 };
  });
  return {
    format: GENERATOR_MANIFEST_FORMAT,
    version: GENERATOR_MANIFEST_VERSION,
    id: json.id,
    name: json.name,
    kind: json.kind,
    latentSize: json.latentSize as number,
    output: { width: out.width as number, height: out.height as number, channels: out.channels, layout: 'NHWC', range: [range[0], range[1]] },
    files,
    training: isRecord(json.training) ? json.training : {},
    figures: isRecord(json.figures) ? json.figures : {},
  };
}

/**
 * Checks each of the manifest's files against its size and sha256. `read` returns a file's
 * bytes by its manifest path, or null when it cannot be had. Throws GeneratorIntegrityError
 * naming the file, the expected and the actual hash, and what to do.
 */
export async function verifyGeneratorFiles(
  manifest: GeneratorManifest,
  read: (path: string) => Promise<Uint8Array | null>,
): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  const remedy =
    'Reload the page while online so the app fetches the generator again; if this persists, the files on the server ' +
    'do not match their manifest: train or export the generator again (its script writes the manifest with the files).';
  for (const f of manifest.files) {
    const bytes = await read(f.path);
    if (bytes === null) throw new GeneratorIntegrityError(`${manifest.name}: "${f.path}" is missing. ${remedy}`);
    if (bytes.length !== f.bytes) {
      throw new GeneratorIntegrityError(`${manifest.name}: "${f.path}" has ${bytes.length} bytes, its manifest says ${f.bytes}. ${remedy}`);
    }
    const actual = await sha256Hex(bytes);
    if (actual !== f.sha256) {
      throw new GeneratorIntegrityError(
        `${manifest.name}: "${f.path}" does not match its manifest (sha256 ${actual.slice(0, 12)}…, expected ${f.sha256.slice(0, 12)}…). ${remedy}`,
      );
    }
    out.set(f.path, bytes);
  }
  return out;
}
