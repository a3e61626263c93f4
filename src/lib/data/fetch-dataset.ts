import { HearthError } from '../jobs/errors';

/**
 * Fetches a gzipped sample-dataset file that the app itself serves (built into
 * /datasets by scripts/make-sample-datasets.mjs), checks it against the sha256 in
 * /datasets/index.json, and returns the decompressed bytes. Same origin only: the
 * service worker answers it from its cache when the machine is offline.
 */
export class DatasetFileError extends HearthError {
  constructor(message: string) {
    super(message, 'DatasetFileError');
  }
}

interface DatasetIndex {
  files: Record<string, { bytes: number; sha256: string }>;
}

let indexPromise: Promise<DatasetIndex> | null = null;

function datasetsBase(): string {
  // Workers and pages both have `location`; the datasets sit at the app's root.
  return new URL('/datasets/', globalThis.location.href).href;
}

async function fetchOk(url: string): Promise<Response> {
  const res = await fetch(url);
  if (!res.ok) {
    throw new DatasetFileError(
      `Could not load ${url} (HTTP ${res.status}). The sample datasets are built with the app: rebuild with \`npm run build\`.`,
    );
  }
  return res;
}

function loadIndex(): Promise<DatasetIndex> {
  indexPromise ??= fetchOk(datasetsBase() + 'index.json')
    .then((r) => r.json() as Promise<DatasetIndex>)
    .catch((err: unknown) => {
      indexPromise = null;
      throw err;
    });
  return indexPromise;
}

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

export async function gunzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** `path` is relative to /datasets/ and names the gzipped file, e.g. `mnist/train-images-idx3-ubyte.gz`. */
export async function fetchDatasetFile(path: string): Promise<Uint8Array> {
  const index = await loadIndex();
  const entry = index.files[path];
  if (!entry) throw new DatasetFileError(`The sample dataset file ${path} is not in this build: rebuild with \`npm run build\`.`);
  const gz = new Uint8Array(await (await fetchOk(datasetsBase() + path)).arrayBuffer());
  const digest = await sha256Hex(gz);
  if (digest !== entry.sha256) {
    throw new DatasetFileError(
      `${path} does not match its sha256 in index.json (got ${digest.slice(0, 12)}…, expected ${entry.sha256.slice(0, 12)}…). Reload the page; if it persists, rebuild the app.`,
    );
  }
  return gunzip(gz);
}
