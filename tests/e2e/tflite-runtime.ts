/**
 * TensorFlow Lite's own interpreter, compiled to WASM (npm @tensorflow/tfjs-tflite), run in
 * the test's Chromium: the independent runtime that exported `.tflite` files must agree with.
 *
 * tfjs-tflite's ESM entry is broken and it pins tfjs-core 4.9, so it is installed apart
 * from the app (tests/runtimes, by scripts/ensure-test-runtimes.mjs) and loaded the way
 * that works: the UMD bundles of tfjs-core, tfjs-backend-cpu and tfjs-tflite by script
 * tags. Its files are served under `/__runtimes/` on the app's own origin by a Playwright
 * route, so no request leaves the origin (the fixture's network guard checks it) and the
 * app's build never contains them.
 *
 * `openTfliteRuntime` navigates the page it is given to a blank runtime page; to keep the
 * studio open beside it, pass a second page: `await openTfliteRuntime(await context.newPage())`.
 */
import { readFile } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import type { Page, Route } from '@playwright/test';
import { ensureTestRuntimes } from '../../scripts/ensure-test-runtimes.mjs';

const ROUTE_PREFIX = '/__runtimes/';
const BLANK_PAGE = 'index.html';
const SCRIPTS = [
  '@tensorflow/tfjs-core/dist/tf-core.min.js',
  '@tensorflow/tfjs-backend-cpu/dist/tf-backend-cpu.min.js',
  '@tensorflow/tfjs-tflite/dist/tf-tflite.min.js',
];
const WASM_DIR = '@tensorflow/tfjs-tflite/wasm/';
const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  // instantiateStreaming needs this exact type, or emscripten falls back with a warning.
  '.wasm': 'application/wasm',
  '.html': 'text/html; charset=utf-8',
};

/** Serves tests/runtimes/node_modules under /__runtimes/, plus a blank page. */
async function serveRuntimes(page: Page): Promise<void> {
  const root = join(ensureTestRuntimes(), 'node_modules');
  await page.route(`**${ROUTE_PREFIX}**`, async (route: Route) => {
    const path = decodeURIComponent(new URL(route.request().url()).pathname.slice(ROUTE_PREFIX.length));
    if (path === BLANK_PAGE) {
      await route.fulfill({ contentType: TYPES['.html'], body: '<!doctype html><meta charset="utf-8"><title>TFLite runtime</title>' });
      return;
    }
    const file = normalize(join(root, path));
    if (!file.startsWith(root + sep)) {
      await route.fulfill({ status: 403, body: 'outside the test runtimes' });
      return;
    }
    try {
      await route.fulfill({ contentType: TYPES[extname(file)] ?? 'application/octet-stream', body: await readFile(file) });
    } catch {
      await route.fulfill({ status: 404, body: `no such runtime file: ${path}` });
    }
  });
}

/** The page's globals once the UMD bundles have run. */
interface RuntimeWindow {
  tf: {
    setBackend(name: string): Promise<boolean>;
    tensor(values: number[], shape: number[], dtype: 'int32'): { dispose(): void };
  };
  tflite: {
    setWasmPath(path: string): void;
    loadTFLiteModel(model: ArrayBuffer): Promise<{
      predict(input: unknown): { dataSync(): ArrayLike<number>; dispose(): void };
    }>;
  };
}

/** Opens a blank page on the app's origin with TFLite's interpreter loaded. */
export async function openTfliteRuntime(page: Page): Promise<void> {
  await serveRuntimes(page);
  await page.goto(`${ROUTE_PREFIX}${BLANK_PAGE}`);
  for (const script of SCRIPTS) await page.addScriptTag({ url: `${ROUTE_PREFIX}${script}` });
  await page.evaluate(async (wasmPath) => {
    const w = window as unknown as RuntimeWindow;
    await w.tf.setBackend('cpu');
    w.tflite.setWasmPath(wasmPath);
  }, `${ROUTE_PREFIX}${WASM_DIR}`);
}

/**
 * Runs a `.tflite` model with int8 input and output on each input in TFLite's interpreter
 * (opened by `openTfliteRuntime`). `shape` is the input tensor's shape.
 */
export async function runTflite(page: Page, bytes: Uint8Array, inputs: Int8Array[], shape: number[]): Promise<Int8Array[]> {
  const outputs = await page.evaluate(
    async ({ modelBase64, inputValues, inputShape }) => {
      const w = window as unknown as RuntimeWindow;
      const model = await w.tflite.loadTFLiteModel(Uint8Array.from(atob(modelBase64), (c) => c.charCodeAt(0)).buffer);
      return inputValues.map((values) => {
        // tfjs has no int8 dtype: tfjs-tflite takes an int32 tensor and narrows it to the
        // model's int8 input (Int8Array.from), and returns int8 outputs as int32.
        const x = w.tf.tensor(values, inputShape, 'int32');
        const y = model.predict(x);
        const out = Array.from(y.dataSync());
        x.dispose();
        y.dispose();
        return out;
      });
    },
    {
      modelBase64: Buffer.from(bytes).toString('base64'),
      inputValues: inputs.map((x) => Array.from(x)),
      inputShape: shape,
    },
  );
  return outputs.map((values) => Int8Array.from(values));
}

/** How many int8 values two runtimes agree on, and their largest difference in steps. */
export function agreement(got: readonly Int8Array[], expected: readonly ArrayLike<number>[]): { values: number; equal: number; maxDiff: number } {
  let values = 0;
  let equal = 0;
  let maxDiff = 0;
  got.forEach((out, i) =>
    out.forEach((v, j) => {
      const d = Math.abs(v - (expected[i]?.[j] ?? NaN));
      values++;
      if (d === 0) equal++;
      maxDiff = Math.max(maxDiff, d);
    }),
  );
  return { values, equal, maxDiff };
}
