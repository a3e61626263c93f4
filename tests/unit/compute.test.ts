/**
 * The backend ladder in Node. Only `cpu` and `wasm` run here: `webgl` registers only in a
 * browser or worker scope (tfjs checks `device_util.isBrowser()`), and `webgpu` only where
 * `navigator.gpu` exists, which Node lacks unless a test file sets it up from the `webgpu`
 * (Dawn) package, as augment-gpu.test.ts does in its own process (vitest runs each file in
 * a fork). Both are exercised in Chromium by tests/e2e/compute.spec.ts; here they must
 * report unavailable, with a reason.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  chooseFastest,
  probeBackends,
  useBackend,
  type BackendReport,
} from '../../src/lib/compute/backends';
import { WASM_BINARY_NAMES, configureWasmPaths, tf } from '../../src/lib/compute/register';

const PROBE_BUDGET_MS = 150;

/**
 * In Node the wasm backend's own Node build finds its binaries beside itself, but the app
 * passes an explicit map (from Vite `?url` imports), so the tests do the same with
 * absolute paths into node_modules: emscripten reads a path with fs in Node.
 */
function nodeWasmPaths(): Record<string, string> {
  const require = createRequire(import.meta.url);
  const dist = join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');
  return Object.fromEntries(WASM_BINARY_NAMES.map((name) => [name, join(dist, name)]));
}

describe('probeBackends in Node', () => {
  let reports: BackendReport[] = [];
  let tensorsBefore = 0;
  let tensorsAfter = 0;

  beforeAll(async () => {
    // tf.memory() asks the active backend, so one must be set before counting.
    await useBackend('cpu');
    tensorsBefore = tf.memory().numTensors;
    reports = await probeBackends({ timeBudgetMs: PROBE_BUDGET_MS, wasmPaths: nodeWasmPaths() });
    tensorsAfter = tf.memory().numTensors;
    console.log(
      'probe:',
      reports.map((r) => `${r.name}=${r.available ? `${Math.round(r.imgPerSec ?? 0)} img/s` : 'unavailable'}`).join(' '),
    );
  });

  it('measures cpu and wasm', () => {
    for (const name of ['cpu', 'wasm'] as const) {
      const r = reports.find((x) => x.name === name);
      expect(r?.available, `${name}: ${r?.reason}`).toBe(true);
      expect(r?.imgPerSec).toBeGreaterThan(0);
    }
  });

  it('reports webgpu and webgl unavailable with a reason', () => {
    for (const name of ['webgpu', 'webgl'] as const) {
      const r = reports.find((x) => x.name === name);
      expect(r?.available).toBe(false);
      expect(r?.reason).toMatch(/\S/);
      expect(r?.imgPerSec).toBeUndefined();
    }
  });

  it('leaves no tensor behind', () => {
    expect(tensorsAfter).toBe(tensorsBefore);
  });

  it('picks wasm over cpu on measured speed', () => {
    // DESIGN.md measured ~10,000 vs ~450 img/s on a 2-core machine: a 20x gap that noise
    // cannot close.
    expect(chooseFastest(reports)).toBe('wasm');
  });

  it('restores the backend that was active before probing', async () => {
    await useBackend('cpu');
    const before = tf.memory().numTensors;
    await probeBackends({ names: ['wasm'], timeBudgetMs: PROBE_BUDGET_MS });
    expect(tf.getBackend()).toBe('cpu');
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('chooseFastest', () => {
  const slowGpu: BackendReport = { name: 'webgpu', available: true, imgPerSec: 120 };
  const fastWasm: BackendReport = { name: 'wasm', available: true, imgPerSec: 900 };
  const cpu: BackendReport = { name: 'cpu', available: true, imgPerSec: 40 };

  it('picks the highest measured rate whatever the order', () => {
    expect(chooseFastest([slowGpu, fastWasm, cpu])).toBe('wasm');
    expect(chooseFastest([cpu, fastWasm, slowGpu])).toBe('wasm');
    expect(chooseFastest([fastWasm, slowGpu, cpu])).toBe('wasm');
  });

  it('ignores unavailable backends even when they carry a rate', () => {
    const brokenFast: BackendReport = { name: 'webgl', available: false, imgPerSec: 5000, reason: 'wrong numbers' };
    expect(chooseFastest([brokenFast, slowGpu, cpu])).toBe('webgpu');
  });

  it('falls back to cpu when nothing was measured', () => {
    expect(chooseFastest([{ name: 'webgpu', available: false, reason: 'none' }])).toBe('cpu');
    expect(chooseFastest([])).toBe('cpu');
  });
});

describe('useBackend', () => {
  it('switches to a backend that runs here', async () => {
    await useBackend('wasm');
    expect(tf.getBackend()).toBe('wasm');
    await useBackend('cpu');
    expect(tf.getBackend()).toBe('cpu');
  });

  it('names the error and says what to do when the backend cannot run', async () => {
    const err: unknown = await useBackend('webgpu').catch((e: unknown) => e);
    expect((err as Error).name).toBe('BackendUnavailableError');
    expect((err as Error).message).toMatch(/WebGPU.*pick wasm/);
    expect(tf.getBackend()).toBe('cpu');
  });
});

describe('configureWasmPaths', () => {
  it('refuses a map that misses a binary', () => {
    expect(() => configureWasmPaths({ 'tfjs-backend-wasm.wasm': '/x.wasm' })).toThrow(
      expect.objectContaining({ name: 'InvalidInputError' }),
    );
  });
});
