// `npm run bench -- NAME [args…]`: runs bench/NAME.bench.ts (or .mjs) in Node through tsx,
// so benchmarks are TypeScript that import src/lib directly. The benchmark prints JSON
// lines (bench/harness.ts); this script adds one `{"bench", "error"}` line if the
// benchmark crashes, times out or exits non-zero, and exits 0 all the same: a benchmark
// never fails a build. Only a NAME that does not exist is an error (exit 1), so a typo
// in a CI script shows instead of silently measuring nothing.
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BENCH_DIR = join(ROOT, 'bench');
const BENCH_FILE = /^(.+)\.bench\.(ts|mjs)$/;
/** A benchmark past this is stuck (a hung browser, a deadlock); override with BENCH_TIMEOUT_MS. */
const TIMEOUT_MS = Number(process.env.BENCH_TIMEOUT_MS ?? 30 * 60_000);

/** name → file of every benchmark in bench/. */
function available() {
  const found = new Map();
  for (const file of readdirSync(BENCH_DIR)) {
    const match = BENCH_FILE.exec(file);
    if (match) found.set(match[1], join(BENCH_DIR, file));
  }
  return new Map([...found].sort(([a], [b]) => a.localeCompare(b)));
}

const [name, ...args] = process.argv.slice(2);
const benches = available();
const file = name ? benches.get(name) : undefined;
if (!file) {
  const list = [...benches.keys()].join(', ') || '(none)';
  console.error(`${name ? `No benchmark named "${name}".` : 'Name a benchmark.'} Usage: npm run bench -- NAME`);
  console.error(`Available: ${list}`);
  process.exit(1);
}

const line = (obj) => process.stdout.write(`${JSON.stringify(obj)}\n`);
// --expose-gc lets the harness collect before a heap measurement, for a stable baseline.
const child = spawn(process.execPath, ['--expose-gc', '--import', import.meta.resolve('tsx'), file, ...args], {
  cwd: ROOT,
  stdio: 'inherit',
});
let timedOut = false;
const timer = setTimeout(() => {
  timedOut = true;
  line({ bench: name, error: `timed out after ${TIMEOUT_MS} ms (set BENCH_TIMEOUT_MS to allow longer)` });
  child.kill('SIGKILL');
}, TIMEOUT_MS);
child.on('error', (err) => {
  clearTimeout(timer);
  line({ bench: name, error: `could not start: ${err.message}` });
});
child.on('exit', (code, signal) => {
  clearTimeout(timer);
  if (code !== 0 && !timedOut) {
    line({ bench: name, error: signal ? `killed by ${signal}` : `exited with code ${code}` });
  }
  process.exitCode = 0;
});
