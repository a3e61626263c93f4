// `npm test`: every test, in order of cost. Typecheck + lint, unit tests in Node,
// then the built app end to end in Debian's Chromium.
import { spawnSync } from 'node:child_process';
import { ensureChromium } from './ensure-chromium.mjs';
import { ensurePythonPackages } from './ensure-python-packages.mjs';
import { ensureTestRuntimes } from './ensure-test-runtimes.mjs';

/**
 * Everything the tests need is installed above, so a test that finds a dependency missing
 * (Dawn's WebGPU, python3-opencv) fails instead of skipping (tests/unit/helpers/required.ts).
 */
const env = { ...process.env, HEARTH_REQUIRE_ALL_TESTS: '1' };

function step(title, cmd, args) {
  console.log(`\n=== ${title}: ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { stdio: 'inherit', shell: false, env });
  if (r.status !== 0) {
    console.error(`\n${title} failed (exit ${r.status}).`);
    process.exit(r.status ?? 1);
  }
}

ensureChromium();
// The TFLite interpreter the export tests check .tflite files with, isolated from the app's tfjs.
ensureTestRuntimes();
ensurePythonPackages();
step('typecheck and lint', 'npm', ['run', '--silent', 'check']);
step('unit tests (Node)', 'npx', ['vitest', 'run']);
step('build', 'npm', ['run', '--silent', 'build']);
step('e2e tests (Chromium)', 'npx', ['playwright', 'test']);
