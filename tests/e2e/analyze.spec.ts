import { expect, test } from './fixtures';
import { importFolderProject, makeMnistFolder } from './mnist-folder';

test('the analyzer reports the distribution and finds a planted train/test duplicate, which is removed', async ({ page }) => {
  test.setTimeout(300_000);
  // 10 digits × (20 train + 5 val + 5 test) = 300 real MNIST images, plus one byte-identical
  // copy of a training image filed under test/.
  await importFolderProject(page, makeMnistFolder({ train: 20, val: 5, test: 5 }, { plantLeak: true }));
  await expect(page.getByTestId('count-total')).toHaveAttribute('data-count', '301');

  await page.getByTestId('rail-analyze').click();
  await page.getByTestId('analyze-split-all').check();
  await page.getByTestId('analyze-start').click();
  // 30 or 31 images per digit across all splits: nearly balanced.
  const ratio = page.getByTestId('imbalance-ratio');
  await expect(ratio).toHaveAttribute('data-value', /^1(\.0\d*)?$/, { timeout: 120_000 });
  await expect(page.getByTestId('shortcuts')).toBeVisible();

  // The label × ink cell whose base rate differs most from the other group's, with its interval.
  const gap = page.locator('[data-testid="base-rate-gap"][data-attribute="ink"]');
  await expect(gap).toHaveAttribute('data-group', /^(heavy|light)$/);
  await expect(gap).toHaveAttribute('data-label', /^\d$/);
  const [d, low, high] = await Promise.all(['data-gap', 'data-low', 'data-high'].map(async (a) => Number(await gap.getAttribute(a))));
  expect(Math.abs(d as number)).toBeGreaterThan(0);
  expect(low).toBeLessThan(d as number);
  expect(high).toBeGreaterThan(d as number);
  await expect(gap).toHaveAttribute('data-warn', /^(true|false)$/);
  await expect(gap).toContainText(/points/);
  // Four-fifths flags carry their counts and interval, and say whether the data back them.
  const row = page.locator('[data-testid="attribute-bias"][data-attribute="ink"] [data-testid="dataset-comparison"]').first();
  await expect(row).toHaveAttribute('data-di-low', /^\d/);
  await expect(row).toContainText(/\d+\/\d+ vs \d+\/\d+/);
  await page.setViewportSize({ width: 1400, height: 900 });
  await page.getByTestId('dataset-group-metrics').scrollIntoViewIfNeeded();
  await page.screenshot({ path: test.info().outputPath('analyze-base-rate-gap.png') });

  const duplicates = page.getByTestId('duplicates');
  await duplicates.getByTestId('duplicates-start').click();
  const leak = duplicates.locator('[data-testid="duplicate-group"][data-leak="true"]');
  await expect(leak).toHaveCount(1, { timeout: 120_000 });
  await expect(leak.getByTestId('duplicate-thumb')).toHaveCount(2);
  await expect(leak.locator('[data-testid="duplicate-thumb"][data-split="train"]')).toHaveCount(1);
  await expect(leak.locator('[data-testid="duplicate-thumb"][data-split="test"]')).toHaveCount(1);

  await duplicates.getByTestId('remove-leaks').click();
  await page.getByTestId('remove-confirm').click();
  await expect(page.getByTestId('status-version')).toContainText('v2');
  await expect(duplicates.locator('[data-testid="duplicate-group"][data-leak="true"]')).toHaveCount(0);

  // The copy under test/ is gone; the training original stays.
  await page.getByTestId('rail-data').click();
  await expect(page.getByTestId('count-total')).toHaveAttribute('data-count', '300');
  await expect(page.getByTestId('count-split-test')).toHaveAttribute('data-count', '50');
  await expect(page.getByTestId('count-split-train')).toHaveAttribute('data-count', '200');
});

test('a lighting shortcut that spares one digit is named, class by class', async ({ page }) => {
  test.setTimeout(300_000);
  // 10 digits × 40 real MNIST images; a third of every digit but '3' is dimmed and marked
  // night in the CSV, no '3' is: "night ⇒ not 3". One class of ten barely moves the
  // whole-label scores; the per-class scores must name it.
  await importFolderProject(page, makeMnistFolder({ train: 30, val: 5, test: 5 }, { night: { spare: ['3'], rate: 1 / 3 } }));
  await expect(page.getByTestId('count-total')).toHaveAttribute('data-count', '400');
  await page.setViewportSize({ width: 1400, height: 900 });
  await page.getByTestId('rail-analyze').click();
  await page.getByTestId('analyze-split-all').check();
  await page.getByTestId('analyze-start').click();
  const shortcuts = page.getByTestId('shortcuts');
  await expect(shortcuts).toBeVisible({ timeout: 120_000 });
  const light = shortcuts.locator('[data-testid="class-shortcut-warning"][data-stat="attribute:light"][data-classes="3"]');
  await expect(light).toContainText(/Night images \(light = night\) almost never show a '3'/);
  await expect(light).toContainText("a model may learn 'night ⇒ not 3'");
  await expect(shortcuts.getByTestId('no-shortcuts')).toHaveCount(0);
  await expect(shortcuts.locator('[data-testid="class-shortcut-row"][data-flagged="true"][data-stat="attribute:light"]').first()).toBeVisible();
  await light.scrollIntoViewIfNeeded();
  await page.screenshot({ path: test.info().outputPath('analyze-class-shortcut.png') });
});
