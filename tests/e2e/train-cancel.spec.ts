/**
 * Cancel on the Train page goes through the compute worker's owner (worker-owner.ts
 * `cancel(jobId, grace)`): the loop stops at its next batch, the run is recorded as
 * cancelled with the epochs it finished, and the same worker trains the next run.
 */
import { expect, test } from './fixtures';
import { importFolderProject, makeMnistFolder } from './mnist-folder';

test('a training run cancelled mid-run is recorded as cancelled, and the next run trains', async ({ page }) => {
  test.setTimeout(420_000);
  await importFolderProject(page, makeMnistFolder({ train: 30, val: 10, test: 10 }));
  await page.getByTestId('rail-train').click();
  await page.getByTestId('train-model-lenet').click();
  await page.getByTestId('train-field-epochs').fill('200');
  // The run must still be training when Cancel is clicked: no early stop.
  await page.getByTestId('train-field-earlyStop').uncheck();
  await page.getByTestId('train-start').click();
  await expect(page.getByTestId('train-progress')).toHaveAttribute('data-epoch', /^([2-9]|\d\d+)$/, { timeout: 180_000 });

  // The live status reports the training throughput.
  await expect(page.getByTestId('train-throughput')).toHaveAttribute('data-value', /^[1-9]\d*$/);
  await page.getByTestId('train-cancel').click();
  const run = page.getByTestId('train-run').first();
  await expect(run).toHaveAttribute('data-status', 'cancelled', { timeout: 60_000 });
  await expect(page.getByTestId('train-cancel')).toHaveCount(0);

  await page.getByTestId('train-field-epochs').fill('1');
  await page.getByTestId('train-start').click();
  await expect(page.getByTestId('train-run')).toHaveCount(2);
  await expect(page.getByTestId('train-run').first()).toHaveAttribute('data-status', 'done', { timeout: 180_000 });
  await expect(page.getByTestId('train-run').nth(1)).toHaveAttribute('data-status', 'cancelled');
});
