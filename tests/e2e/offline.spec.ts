import { expect, test } from './fixtures';

/** Installing caches the whole build, sample datasets included (~12 MB). */
const PRECACHE_TIMEOUT_MS = 120_000;

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
