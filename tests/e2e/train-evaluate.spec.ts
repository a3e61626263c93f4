import type { Page } from '@playwright/test';
import { expect, test } from './fixtures';
import { importFolderProject, makeMnistFolder } from './mnist-folder';

async function tensorsHeld(page: Page): Promise<number> {
  await page.getByTestId('rail-compute').click();
  await page.getByTestId('compute-memory-refresh').click();
  const held = page.getByTestId('compute-tensors');
  await expect(held).toHaveAttribute('data-count', /^\d+$/);
  return Number(await held.getAttribute('data-count'));
}

async function startTraining(page: Page, epochs: number): Promise<void> {
  await page.getByTestId('rail-train').click();
  await page.getByTestId('train-model-lenet').click();
  await page.getByTestId('train-field-epochs').fill(String(epochs));
  // Every epoch is wanted here (the curves are counted), so no early stop.
  await page.getByTestId('train-field-earlyStop').uncheck();
  await page.getByTestId('train-start').click();
}

test('train on a dataset, reload mid-training and resume, then evaluate: confusion matrix, group metrics, slices and Grad-CAM', async ({
  page,
}) => {
  test.setTimeout(600_000);
  await importFolderProject(page, makeMnistFolder({ train: 30, val: 10, test: 10 }));
  await expect(page.getByTestId('count-total')).toHaveAttribute('data-count', '500');

  // Two short runs first, for the leak check: the compute worker holds as many tensors
  // after the second run as after the first.
  await startTraining(page, 1);
  await expect(page.getByTestId('train-run').first()).toHaveAttribute('data-status', 'done', { timeout: 180_000 });
  const afterFirst = await tensorsHeld(page);
  await startTraining(page, 1);
  await expect(page.getByTestId('train-run')).toHaveCount(2);
  await expect(page.getByTestId('train-run').first()).toHaveAttribute('data-status', 'done', { timeout: 180_000 });
  expect(await tensorsHeld(page)).toBe(afterFirst);

  // The run that gets interrupted: enough epochs that a reload lands in the middle.
  await startTraining(page, 12);
  const loss = page.getByTestId('curve-loss').locator('[data-series="step-raw"]');
  await expect(loss).toHaveAttribute('data-points', /^([3-9]|\d\d+)$/, { timeout: 120_000 });
  const progress = page.getByTestId('train-progress');
  await expect(progress).toHaveAttribute('data-epoch', /^([3-9]|1[01])$/, { timeout: 180_000 });
  await page.reload();

  // The studio resumes the interrupted run by itself from its last checkpoint.
  await expect(page.getByTestId('notice').filter({ hasText: /interrupted/i }).first()).toBeVisible({ timeout: 60_000 });
  await page.getByTestId('rail-train').click();
  const resumed = page.locator('[data-testid="train-run"]').first();
  await expect(resumed).toHaveAttribute('data-status', 'done', { timeout: 300_000 });
  await expect(page.getByTestId('train-run')).toHaveCount(3);
  // Curves for the finished run show every epoch, the ones from before the reload included.
  await expect(page.getByTestId('curve-accuracy').locator('[data-series="val"]')).toHaveAttribute('data-points', '12');
  expect(await tensorsHeld(page)).toBe(afterFirst);

  // Evaluate the newest model on the test split.
  await page.getByTestId('rail-evaluate').click();
  await page.getByTestId('evaluate-split-test').check();
  await page.getByTestId('evaluate-start').click();
  await expect(page.getByTestId('confusion-matrix')).toBeVisible({ timeout: 120_000 });
  await expect(page.getByTestId('confusion-cell')).toHaveCount(100);
  const accuracy = Number(await page.getByTestId('accuracy').getAttribute('data-value'));
  expect(accuracy).toBeGreaterThan(0.3);

  // Group metrics for the ink attribute.
  const groups = page.getByTestId('group-metrics');
  await groups.getByTestId('group-attribute').selectOption('ink');
  await groups.getByTestId('privileged-groups').getByLabel('heavy').check();
  await expect(groups.getByTestId('group-row')).toHaveCount(2);
  await expect(groups.getByTestId('comparison-row')).toHaveCount(1);
  await expect(groups.getByTestId('four-fifths-note')).toContainText('convention');
  // The DI shows its counts and the ratio's interval; a flag says whether the data back it.
  const comparison = groups.getByTestId('comparison-row');
  await expect(comparison).toContainText(/\d+\/\d+ vs \d+\/\d+/);
  await expect(page.locator('[data-testid="group-gap"][data-attribute="ink"]')).toHaveAttribute('data-group', /^(heavy|light)$/);

  // A data unit test, saved with the project, and its result.
  const slices = page.getByTestId('slices');
  await slices.getByTestId('slice-add').click();
  await slices.getByTestId('slice-name').fill('eights');
  await slices.getByTestId('slice-predicate').fill('label = 8');
  await slices.getByTestId('slice-min').fill('0.1');
  await slices.getByTestId('slice-done').click();
  await slices.getByTestId('slice-save').click();
  await expect(slices.getByTestId('slice-result')).toHaveCount(1);
  await expect(slices.getByTestId('slice-result')).toHaveAttribute('data-status', /^(pass|fail)$/);

  // Grad-CAM on a misclassified sample, one click from the confusion matrix.
  const offDiagonal = page.locator('[data-testid="confusion-cell"]:not([data-count="0"])').filter({
    has: page.locator(':scope'),
  });
  const cells = await offDiagonal.all();
  let opened = false;
  for (const cell of cells) {
    if ((await cell.getAttribute('data-true')) === (await cell.getAttribute('data-pred'))) continue;
    await cell.click();
    opened = true;
    break;
  }
  expect(opened, 'some test sample is misclassified').toBe(true);
  await page.getByTestId('misclassified-thumb').first().click();
  const saliency = page.getByTestId('saliency');
  await saliency.getByRole('tab', { name: /Grad-CAM/i }).click();
  await expect(saliency.locator('[data-testid="saliency-overlay"][data-method="gradcam"]')).toHaveAttribute('data-ready', 'true', {
    timeout: 60_000,
  });
});

test('a sample dataset trains in one epoch and its model evaluates', async ({ page }) => {
  test.setTimeout(600_000);
  await page.goto('/');
  await page.getByTestId('load-sample-mnist-lt').click();
  await expect(page.getByTestId('count-total')).toHaveAttribute('data-count', '45838', { timeout: 300_000 });

  await startTraining(page, 1);
  // The curve grows while the epoch runs, then the run finishes with a validation score.
  const loss = page.getByTestId('curve-loss').locator('[data-series="step-raw"]');
  await expect(loss).toHaveAttribute('data-points', /^([2-9]|\d\d+)$/, { timeout: 300_000 });
  const run = page.getByTestId('train-run').first();
  await expect(run).toHaveAttribute('data-status', 'done', { timeout: 400_000 });

  await page.getByTestId('rail-evaluate').click();
  await page.getByTestId('evaluate-split-val').check();
  await page.getByTestId('evaluate-start').click();
  await expect(page.getByTestId('confusion-cell')).toHaveCount(100, { timeout: 300_000 });
  // Balanced validation (1,000 per digit) after one epoch on the long-tailed train split:
  // well above chance (0.1), though the rare digits 5–9 pull it far below plain MNIST's.
  expect(Number(await page.getByTestId('accuracy').getAttribute('data-value'))).toBeGreaterThan(0.3);
});
