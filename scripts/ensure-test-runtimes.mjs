// Installs the independent runtimes that the tests check exported models against
// (tests/runtimes: TFLite's interpreter as WASM from @tensorflow/tfjs-tflite, with the
// tfjs-core 4.9 it pins as a peer). They live in their own folder with their own lockfile
// so that their tfjs 4.9 never meets the app's tfjs.
//
// Installs only when tests/runtimes/node_modules is missing or was installed from a
// different lockfile: the lockfile's sha256 is stamped into node_modules after `npm ci`.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const TEST_RUNTIMES_DIR = join(ROOT, 'tests', 'runtimes');
const LOCKFILE = join(TEST_RUNTIMES_DIR, 'package-lock.json');
const NODE_MODULES = join(TEST_RUNTIMES_DIR, 'node_modules');
const STAMP = join(NODE_MODULES, '.hearth-lock-sha256');

function lockHash() {
  return createHash('sha256').update(readFileSync(LOCKFILE)).digest('hex');
}

/** True when node_modules matches the lockfile it was installed from. */
export function testRuntimesAreCurrent() {
  return existsSync(STAMP) && readFileSync(STAMP, 'utf8').trim() === lockHash();
}

export function ensureTestRuntimes() {
  if (testRuntimesAreCurrent()) return TEST_RUNTIMES_DIR;
  console.log('Installing the test runtimes: npm ci --prefix tests/runtimes');
  // --ignore-scripts: the runtimes are plain JS and WASM files served to the browser;
  // nothing in them needs building.
  const r = spawnSync('npm', ['ci', '--prefix', TEST_RUNTIMES_DIR, '--ignore-scripts', '--no-audit', '--no-fund'], {
    stdio: 'inherit',
    shell: false,
  });
  if (r.status !== 0) {
    // Thrown, not process.exit: Playwright workers call this too (tests/e2e/tflite-runtime.ts).
    throw new Error(`npm ci in tests/runtimes failed (exit ${r.status}). Check the connection to the npm registry and run \`node scripts/ensure-test-runtimes.mjs\` again.`);
  }
  writeFileSync(STAMP, `${lockHash()}\n`);
  return TEST_RUNTIMES_DIR;
}

if (import.meta.url === `file://${process.argv[1]}`) ensureTestRuntimes();
