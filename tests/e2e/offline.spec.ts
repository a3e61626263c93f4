import type { Page } from '@playwright/test';
import { sampleDatasetInfo } from '../../src/lib/data/samples/catalog';
import { expect, test } from './fixtures';

/** Installing caches the whole build, sample datasets included (~12 MB). */
const PRECACHE_TIMEOUT_MS = 120_000;
/** A whole MNIST-LT load: tens of seconds on a 2-core machine. */
const FULL_LOAD_TIMEOUT_MS = 150_000;
const MNIST_LT_SAMPLES = sampleDatasetInfo('mnist-lt').samples;

/** Sum of the red channel over the first grid cell's canvas: 0 when nothing was drawn. */
async function cellInk(page: Page): Promise<number> {
  return page.getByTestId('sample-cell').first().locator('canvas').evaluate((canvas: HTMLCanvasElement) => {
    const ctx = canvas.getContext('2d');
    if (!ctx) return 0;
    const { data } = ctx.getImageData(0, 0, canvas.width, canvas.height);
    let sum = 0;
    for (let i = 0; i < data.length; i += 4) sum += data[i] ?? 0;
    return sum;
  });
}

test('after one visit the studio runs with no network', async ({ page, context }) => {
  await page.goto('/');
  // register-sw.ts sets this once the worker controls the page and every file is cached.
  await expect(page.locator('html')).toHaveAttribute('data-offline-ready', 'true', { timeout: PRECACHE_TIMEOUT_MS });
  const status = await page.evaluate(async () => {
    const registration = await navigator.serviceWorker.getRegistration();
    return { controlled: navigator.serviceWorker.controller !== null, state: registration?.active?.state };
  });
  expect(status).toEqual({ controlled: true, state: 'activated' });

  await context.setOffline(true);
  const reload = await page.reload();
  expect(reload?.fromServiceWorker(), 'the shell came from the service worker').toBe(true);
  await expect(page.getByRole('heading', { name: 'Hearth', exact: true })).toBeVisible();

  const datasets = await page.evaluate(async () => {
    const response = await fetch('/datasets/index.json');
    return { ok: response.ok, body: (await response.json()) as unknown };
  });
  expect(datasets.ok).toBe(true);
  expect(datasets.body).toBeTruthy();

  // Proves the browser really is offline: a file the worker never cached cannot load.
  const uncached = await page.evaluate(async () => {
    try {
      await fetch('/not-in-the-build.txt');
      return 'loaded';
    } catch {
      return 'failed';
    }
  });
  expect(uncached).toBe('failed');
});

test('a sample dataset loaded on the first visit opens with no network', async ({ page, context }) => {
  await page.goto('/');
  await expect(page.locator('html')).toHaveAttribute('data-offline-ready', 'true', { timeout: PRECACHE_TIMEOUT_MS });
  await page.getByTestId('load-sample-mnist-lt').click();
  await expect(page.getByTestId('count-total')).toHaveAttribute('data-count', String(MNIST_LT_SAMPLES), {
    timeout: FULL_LOAD_TIMEOUT_MS,
  });

  await context.setOffline(true);
  const reload = await page.reload();
  expect(reload?.fromServiceWorker(), 'the shell came from the service worker').toBe(true);
  await expect(page.getByTestId('status-online')).toHaveAttribute('data-online', 'false');
  // The dataset comes from IndexedDB: project, version, counts and pixels, none from a network.
  await expect(page.getByTestId('status-project')).toHaveText(sampleDatasetInfo('mnist-lt').name);
  await expect(page.getByTestId('status-version')).toHaveText('v1');
  await expect(page.getByTestId('count-total')).toHaveAttribute('data-count', String(MNIST_LT_SAMPLES));
  const cell = page.getByTestId('sample-cell').first();
  await expect(cell).toBeVisible();
  // A rendered cell is a canvas (or image) with the digit drawn: not blank, not black.
  await expect.poll(() => cellInk(page), { timeout: 30_000 }).toBeGreaterThan(0);
});
