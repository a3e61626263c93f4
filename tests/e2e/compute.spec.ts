/**
 * The compute backend ladder in real Chromium, through the studio's Compute page.
 * Chromium runs with playwright.config.ts's flags, so WebGPU is SwiftShader (a software
 * adapter) and WebGL is SwiftShader GL: all four backends run here. On these GPU-less
 * machines wasm measures fastest by far (about 8,000 img/s against 240 for webgl, 430 for
 * cpu and 18 for webgpu on a 2-core machine), but the test does not rely on the ranking:
 * it checks that the backend in use is the one the page measured fastest.
 */
import type { Page } from '@playwright/test';
import { expect, test } from './fixtures';

const BACKENDS = ['webgpu', 'webgl', 'wasm', 'cpu'] as const;
/** The start-up probe: about ten seconds here, most of it SwiftShader compiling WebGPU shaders. */
const PROBE_TIMEOUT_MS = 120_000;

async function openCompute(page: Page): Promise<void> {
  await page.goto('/');
  await page.getByTestId('rail-compute').click();
  await expect(page.getByTestId('backend-active')).toHaveText(/^(webgpu|webgl|wasm|cpu)$/, { timeout: PROBE_TIMEOUT_MS });
}

test('the probe measures all four backends and uses the fastest one measured', async ({ page }) => {
  await openCompute(page);
  const rates: Record<string, number> = {};
  for (const name of BACKENDS) {
    await expect(page.getByTestId(`backend-option-${name}`), name).toHaveAttribute('data-available', 'true');
    const rate = page.getByTestId(`backend-rate-${name}`);
    await expect(rate, name).toHaveText(/img\/s/);
    rates[name] = Number(await rate.getAttribute('data-img-per-sec'));
    expect(rates[name], name).toBeGreaterThan(0);
  }
  const fastest = Object.entries(rates).sort((a, b) => b[1] - a[1])[0]![0];
  // SwiftShader's WebGPU adapter says it is a software fallback; the UI flags it.
  await expect(page.getByTestId('backend-fallback-webgpu')).toBeVisible();
  await expect(page.getByTestId('backend-active')).toHaveText(fastest);
  await expect(page.getByTestId('status-backend')).toHaveText(fastest);
});

test('forcing each available backend switches to it, and the choice survives a reload', async ({ page }) => {
  await openCompute(page);
  for (const name of BACKENDS) {
    await page.getByTestId(`backend-option-${name}`).click();
    await expect(page.getByTestId('backend-active')).toHaveText(name, { timeout: PROBE_TIMEOUT_MS });
    await expect(page.getByTestId('status-backend')).toHaveText(name);
  }
  await page.getByTestId('backend-option-cpu').click();
  await expect(page.getByTestId('backend-active')).toHaveText('cpu');

  await page.reload();
  await page.getByTestId('rail-compute').click();
  await expect(page.getByTestId('backend-active')).toHaveText('cpu', { timeout: PROBE_TIMEOUT_MS });
});

test('the measurement is kept for this browser and device: a reload reuses it at once, and Measure again measures', async ({ page }) => {
  await openCompute(page);
  await expect(page.getByTestId('probe-source')).toHaveAttribute('data-reused', 'false');
  const rates: Record<string, string | null> = {};
  for (const name of BACKENDS) rates[name] = await page.getByTestId(`backend-rate-${name}`).getAttribute('data-img-per-sec');
  const active = await page.getByTestId('backend-active').textContent();

  await page.reload();
  await page.getByTestId('rail-compute').click();
  // The same numbers, from the earlier measurement, and the same choice.
  await expect(page.getByTestId('probe-source')).toHaveAttribute('data-reused', 'true', { timeout: PROBE_TIMEOUT_MS });
  for (const name of BACKENDS) {
    await expect(page.getByTestId(`backend-rate-${name}`), name).toHaveAttribute('data-img-per-sec', rates[name] ?? '');
  }
  await expect(page.getByTestId('backend-active')).toHaveText(active ?? '');

  await page.getByRole('button', { name: 'Measure again' }).click();
  await expect(page.getByTestId('probe-source')).toHaveAttribute('data-reused', 'false', { timeout: PROBE_TIMEOUT_MS });
});
