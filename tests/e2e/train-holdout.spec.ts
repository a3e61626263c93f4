/**
 * A dataset with no validation split: the Train page says so before the run and offers a
 * stratified hold-out of train (on by default), and the run's curves then have a
 * validation line; with the hold-out turned off, they show no empty validation key.
 */
import { expect, test } from './fixtures';
import { importFolderProject, makeMnistFolder } from './mnist-folder';

test('with no validation split, the run holds out part of train for validation unless told not to', async ({ page }) => {
  test.setTimeout(300_000);
  await page.setViewportSize({ width: 1400, height: 900 });
  await importFolderProject(page, makeMnistFolder({ train: 30, val: 0, test: 10 }));
  await page.getByTestId('rail-train').click();
  await page.getByTestId('train-model-lenet').click();
  const notice = page.getByTestId('no-validation');
  await expect(notice).toContainText('no validation split');
  await expect(notice.getByTestId('holdout-toggle')).toBeChecked();
  await page.screenshot({ path: test.info().outputPath('train-no-validation.png') });
  // The default epochs come from the dataset: 300 images in batches of 64 take 5 steps an
  // epoch, so the step target asks for more than the cap of 50.
  await expect(page.getByTestId('train-field-epochs')).toHaveValue('50');
  await expect(page.locator('#train-epochs-note')).toContainText('50 epochs for 300 training images');

  await page.getByTestId('train-field-epochs').fill('2');
  await page.getByTestId('train-start').click();
  await expect(page.getByTestId('train-run').first()).toHaveAttribute('data-status', 'done', { timeout: 180_000 });
  const accuracy = page.getByTestId('curve-accuracy');
  await expect(accuracy.locator('[data-series="val"]')).toHaveAttribute('data-points', '2');
  await expect(page.locator('.key.val').first()).toBeVisible();

  // Turned off: no validation points, and no validation key in the legend.
  await notice.getByTestId('holdout-toggle').uncheck();
  await page.getByTestId('train-field-epochs').fill('1');
  await page.getByTestId('train-start').click();
  await expect(page.getByTestId('train-run')).toHaveCount(2);
  await expect(page.getByTestId('train-run').first()).toHaveAttribute('data-status', 'done', { timeout: 180_000 });
  await expect(accuracy.locator('[data-series="val"]')).toHaveAttribute('data-points', '0');
  await expect(page.locator('.key.val')).toHaveCount(0);

  // Held out again, with the suggested epochs and a patience of 1: the run stops when the
  // validation loss first fails to improve, and says so.
  await notice.getByTestId('holdout-toggle').check();
  await page.getByTestId('train-field-epochs').fill('50');
  await page.getByTestId('train-field-patience').fill('1');
  await page.getByTestId('train-start').click();
  await expect(page.getByTestId('train-run')).toHaveCount(3);
  await expect(page.getByTestId('train-run').first()).toHaveAttribute('data-status', 'done', { timeout: 240_000 });
  await expect(page.getByTestId('train-done')).toHaveAttribute('data-stopped-early', 'true');
  await expect(page.getByTestId('train-done')).toContainText(/Stopped early after epoch \d+ of 50/);
});
