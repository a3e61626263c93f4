/**
 * The compute backend ladder in real Chromium, through the studio's Compute page.
 * Chromium runs with playwright.config.ts's flags, so WebGPU is SwiftShader (a software
 * adapter) and WebGL is SwiftShader GL: all four backends run, and on these GPU-less
 * machines wasm measures fastest by far (about 8,000 img/s against 240 for webgl, 430 for
 * cpu and 18 for webgpu on a 2-core machine), so the probe must pick it.
 */
import { expect, test, type Page } from '@playwright/test';

const BACKENDS = ['webgpu', 'webgl', 'wasm', 'cpu'] as const;
/** The start-up probe: about ten seconds here, most of it SwiftShader compiling WebGPU shaders. */
const PROBE_TIMEOUT_MS = 120_000;

/** Opens the Compute page and waits for the probe; collects requests that leave the app's origin. */
async function openCompute(page: Page, appOrigin: string, offOrigin: string[]): Promise<void> {
  page.on('request', (req) => {
    const url = new URL(req.url());
    if (url.protocol.startsWith('http') && url.origin !== appOrigin) offOrigin.push(req.url());
  });
  await page.goto('/');
  await page.getByTestId('rail-compute').click();
  await expect(page.getByTestId('backend-active')).toHaveText(/^(webgpu|webgl|wasm|cpu)$/, { timeout: PROBE_TIMEOUT_MS });
}

test('the probe measures all four backends and uses the fastest', async ({ page, baseURL }) => {
  const offOrigin: string[] = [];
  await openCompute(page, new URL(baseURL ?? '').origin, offOrigin);

  for (const name of BACKENDS) {
    await expect(page.getByTestId(`backend-option-${name}`), name).toHaveAttribute('data-available', 'true');
    await expect(page.getByTestId(`backend-rate-${name}`), name).toHaveText(/img\/s/);
  }
  // SwiftShader's WebGPU adapter says it is a software fallback; the UI flags it.
  await expect(page.getByTestId('backend-fallback-webgpu')).toBeVisible();
  await expect(page.getByTestId('backend-active')).toHaveText('wasm');
  await expect(page.getByTestId('status-backend')).toHaveText('wasm');
  // The wasm binaries came from the app itself: the CSP allows nothing else.
  expect(offOrigin).toEqual([]);
});

test('forcing a backend switches to it and survives a reload', async ({ page, baseURL }) => {
  const offOrigin: string[] = [];
  await openCompute(page, new URL(baseURL ?? '').origin, offOrigin);

  await page.getByTestId('backend-option-cpu').click();
  await expect(page.getByTestId('backend-active')).toHaveText('cpu');
  await expect(page.getByTestId('status-backend')).toHaveText('cpu');

  await page.reload();
  await page.getByTestId('rail-compute').click();
  await expect(page.getByTestId('backend-active')).toHaveText('cpu', { timeout: PROBE_TIMEOUT_MS });
  expect(offOrigin).toEqual([]);
});
