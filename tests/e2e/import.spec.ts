import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PNG } from 'pngjs';
import type { Page } from '@playwright/test';
import { expect, test } from './fixtures';

const FIXTURES = resolve('tests/fixtures/import');

async function newProject(page: Page, name: string, preset: RegExp): Promise<void> {
  await page.goto('/');
  await page.getByTestId('project-new').or(page.getByTestId('new-project-form')).first().waitFor();
  if (!(await page.getByTestId('new-project-form').isVisible())) await page.getByTestId('project-new').click();
  await page.getByTestId('new-project-name').fill(name);
  await page.getByRole('radio', { name: preset }).check();
  await page.getByTestId('new-project-create').click();
  await expect(page.getByTestId('status-project')).toContainText(name);
}

async function count(page: Page, testId: string): Promise<number> {
  const el = page.getByTestId(testId);
  return Number(await el.getAttribute('data-count'));
}

async function lastImportDone(page: Page): Promise<void> {
  await expect(page.getByTestId('import-report')).toHaveAttribute('data-status', 'done', { timeout: 120_000 });
}

test('an ImageFolder with train/ and test/ plus a CSV of attributes lands with its counts, labels, splits and attributes', async ({
  page,
}) => {
  await newProject(page, 'Pets', /32×32 RGB/);
  await page.getByTestId('import-folder-input').setInputFiles(join(FIXTURES, 'good'));
  await lastImportDone(page);

  // 14 images: train cat 3 / dog 3 / bird 2, test cat 2 / dog 2 / bird 1, one unlabeled root image.
  await expect(page.getByTestId('count-total')).toHaveAttribute('data-count', '14');
  expect(await count(page, 'count-split-train')).toBe(8);
  expect(await count(page, 'count-split-test')).toBe(5);
  expect(await count(page, 'count-split-unassigned')).toBe(1);
  expect(await count(page, 'count-label-cat')).toBe(5);
  expect(await count(page, 'count-label-dog')).toBe(5);
  expect(await count(page, 'count-label-bird')).toBe(3);
  // CSV attributes, including a quoted comma and a file named only by its relative path.
  expect(await count(page, 'count-attr-color-orange, striped-cat')).toBe(1);
  expect(await count(page, 'count-attr-color-brown-dog')).toBe(1);
  expect(await count(page, 'count-attr-color-red-bird')).toBe(1);
  expect(await count(page, 'count-attr-size-large-dog')).toBe(2);
  // No errors for a clean folder; junk files are ignored, not reported as errors.
  expect(await count(page, 'import-errors')).toBe(0);
  await expect(page.getByTestId('import-error-row')).toHaveCount(0);
  expect(await count(page, 'import-csv-rows')).toBe(7);
  // The job's title and the report count the same files, the ignored ones included, and
  // the ignored count is one element (its list has a test id of its own).
  const seen = await count(page, 'import-files');
  expect(seen).toBe(14 + 1 + (await count(page, 'import-ignored')));
  await expect(page.locator('[data-testid="job"][data-kind="import"]').first()).toContainText(`Import ${seen} files`);
  await expect(page.locator('[data-testid="import-ignored"]')).toHaveCount(1);
  // The grid shows every sample, with its label.
  await expect(page.getByTestId('sample-cell')).toHaveCount(14);
  await expect(page.locator('[data-testid="sample-cell"][data-label="bird"]')).toHaveCount(3);
  await expect(page.getByTestId('status-version')).toContainText('v1');

  // Samples are shown by their number in the project, from #1 in each project (not by the
  // global id, which a second project's samples would continue: #15…#28).
  await page.getByTestId('sample-cell').first().hover();
  await expect(page.getByTestId('inspect-number')).toHaveText('#1');
  await newProject(page, 'Pets again', /32×32 RGB/);
  await page.getByTestId('import-folder-input').setInputFiles(join(FIXTURES, 'good'));
  await lastImportDone(page);
  await expect(page.getByTestId('sample-cell')).toHaveCount(14);
  await page.getByTestId('sample-cell').first().hover();
  await expect(page.getByTestId('inspect-number')).toHaveText('#1');
  await page.getByTestId('sample-cell').last().hover();
  await expect(page.getByTestId('inspect-number')).toHaveText('#14');
});

test('each bad-input fixture shows its own error while the good files land', async ({ page }) => {
  await newProject(page, 'Bad input', /28×28 gray/);
  await page.getByTestId('import-folder-input').setInputFiles(join(FIXTURES, 'good'));
  await lastImportDone(page);
  await expect(page.getByTestId('count-total')).toHaveAttribute('data-count', '14');

  // The bad folder: its images sit at its root, so each is an (unlabeled) file that must fail
  // alone; its CSVs name missing files and have broken rows.
  await page.getByTestId('import-folder-input').setInputFiles(join(FIXTURES, 'bad'));
  await lastImportDone(page);
  const expected: Record<string, string> = {
    'zero-byte.png': 'EmptyFileError',
    'truncated.png': 'CorruptImageError',
    'truncated.jpg': 'CorruptImageError',
    'truncated.gif': 'CorruptImageError',
    'truncated.bmp': 'CorruptImageError',
    'truncated.webp': 'CorruptImageError',
    'corrupt-header.png': 'CorruptImageError',
    'not-an-image.png': 'NotAnImageError',
    'tiff-named.png': 'NotAnImageError',
    'huge-20000x20000.png': 'ImageTooLargeError',
    'wide-20000x1.png': 'ImageTooLargeError',
  };
  const rows = page.getByTestId('import-error-row');
  for (const [file, name] of Object.entries(expected)) {
    const row = rows.filter({ has: page.locator('td.key', { hasText: new RegExp(`^${file.replace('.', '\\.')}$`) }) });
    await expect(row, file).toHaveCount(1);
    await expect(row).toHaveAttribute('data-error-name', name);
  }
  // CSV problems: rows naming missing files, wrong column counts, a header without filename/label.
  await expect(rows.filter({ hasText: 'ghost-1.png' })).toHaveAttribute('data-error-name', 'CsvRowError');
  await expect(rows.filter({ hasText: 'bad-header.csv' }).first()).toHaveAttribute('data-error-name', 'CsvHeaderError');
  await expect(rows.filter({ hasText: 'unterminated-quote.csv' }).first()).toHaveAttribute('data-error-name', 'CsvSyntaxError');
  // bad-columns.csv: three rows with the wrong number of columns, and its two good rows
  // name files (a.png, e.png) that are in no drop.
  const badColumns = rows.filter({ hasText: 'bad-columns.csv' });
  await expect(badColumns).toHaveCount(5);
  await expect(badColumns.filter({ has: page.locator('td:nth-child(3)', { hasText: /has \d+ (of \d+ )?columns/ }) })).toHaveCount(3);
  // What was stored before is untouched and nothing bad was added.
  await expect(page.getByTestId('count-total')).toHaveAttribute('data-count', '14');
  await expect(page.getByTestId('status-version')).toContainText('v2');
});

/** A folder of `n` small PNGs in `train/<class>/`, big enough that a reload lands mid-import. */
function makePngFolder(n: number): string {
  const root = mkdtempSync(join(tmpdir(), 'hearth-resume-'));
  const dir = join(root, 'many');
  for (let i = 0; i < n; i++) {
    const label = `c${i % 4}`;
    mkdirSync(join(dir, 'train', label), { recursive: true });
    const png = new PNG({ width: 48, height: 48 });
    for (let p = 0; p < 48 * 48; p++) {
      png.data[p * 4] = (i * 7 + p) & 0xff;
      png.data[p * 4 + 1] = (i * 13) & 0xff;
      png.data[p * 4 + 2] = p & 0xff;
      png.data[p * 4 + 3] = 255;
    }
    writeFileSync(join(dir, 'train', label, `${i}.png`), PNG.sync.write(png));
  }
  return dir;
}

test('a reload mid-import resumes with no sample lost or duplicated', async ({ page }) => {
  const N = 1500;
  const dir = makePngFolder(N);
  await newProject(page, 'Resume', /28×28 gray/);
  await page.getByTestId('import-folder-input').setInputFiles(dir);
  // Wait until decoding has begun and committed some samples, then pull the plug.
  const job = page.locator('[data-testid="job"][data-kind="import"]').first();
  await expect(job).toHaveAttribute('data-status', 'running');
  // Staging copies every file first; decoding then commits samples in small transactions.
  await expect(job.locator('.message')).toContainText(/Decoding [1-9]/, { timeout: 120_000 });
  await page.reload();

  // After the reload the studio resumes the import by itself and finishes it.
  await expect(page.getByTestId('notice').filter({ hasText: 'interrupted by a reload' })).toBeVisible();
  await expect(page.locator('[data-testid="job"][data-kind="import"]').first()).toContainText('Resume import');
  await lastImportDone(page);
  await expect(page.getByTestId('count-total')).toHaveAttribute('data-count', String(N), { timeout: 60_000 });
  for (let c = 0; c < 4; c++) expect(await count(page, `count-label-c${c}`)).toBe(N / 4);
});

test('the Data page shows a running import with its progress and the samples as they land', async ({ page }) => {
  test.setTimeout(300_000);
  await page.setViewportSize({ width: 1400, height: 900 });
  await newProject(page, 'Landing', /28×28 gray/);
  await page.getByTestId('import-folder-input').setInputFiles(makePngFolder(1500));
  const landing = page.getByTestId('import-landing');
  await expect(landing.getByTestId('import-progress')).toBeVisible();
  // Decoded samples show while the import still runs, and "No samples yet" does not.
  await expect(landing.getByTestId('landed-count')).toHaveAttribute('data-count', /^[1-9]\d*$/, { timeout: 120_000 });
  await expect(landing.getByTestId('landed-thumb').first()).toBeVisible();
  await expect(page.getByTestId('no-samples')).toHaveCount(0);
  await page.screenshot({ path: test.info().outputPath('data-mid-import.png') });
  await lastImportDone(page);
  await expect(landing).toHaveCount(0);
  await expect(page.getByTestId('count-total')).toHaveAttribute('data-count', '1500');
});
