// `npm test`: every test, in order of cost. Typecheck + lint, unit tests in Node,
// then the built app end to end in Debian's Chromium.
import { spawnSync } from 'node:child_process';
import { ensureChromium } from './ensure-chromium.mjs';
import { ensurePythonOnnx } from './ensure-python-onnx.mjs';
import { ensureTestRuntimes } from './ensure-test-runtimes.mjs';

function step(title, cmd, args) {
  console.log(`\n=== ${title}: ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { stdio: 'inherit', shell: false });
  if (r.status !== 0) {
    console.error(`\n${title} failed (exit ${r.status}).`);
    process.exit(r.status ?? 1);
  }
}

ensureChromium();
// The TFLite interpreter the export tests check .tflite files with, isolated from the app's tfjs.
ensureTestRuntimes();
ensurePythonOnnx();
step('typecheck and lint', 'npm', ['run', '--silent', 'check']);
step('unit tests (Node)', 'npx', ['vitest', 'run']);
step('build', 'npm', ['run', '--silent', 'build']);
step('e2e tests (Chromium)', 'npx', ['playwright', 'test']);
