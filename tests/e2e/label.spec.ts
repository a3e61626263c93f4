/**
 * One full active-learning iteration in the studio: a trained model picks images from the
 * unlabeled train pool with the Fisher-kernel method, the user labels them by keyboard
 * (with a skip and an undo), retrains with a warm start, and the accuracy chart gains a
 * point; a reload keeps the round.
 */
import { expect, test } from './fixtures';
import { importFolderProject, makeMnistFolder } from './mnist-folder';

const BUDGET = 8;

test('pick with the Fisher kernel, label by keyboard, retrain, and the chart updates', async ({ page }) => {
  test.setTimeout(600_000);
  await importFolderProject(page, makeMnistFolder({ train: 10, val: 6, test: 0 }, { unlabeledTrain: 120 }));
  await expect(page.getByTestId('count-total')).toHaveAttribute('data-count', String(100 + 60 + 120));

  // A first model, trained on the 100 labelled train images.
  await page.getByTestId('rail-train').click();
  await page.getByTestId('train-model-lenet').click();
  await page.getByTestId('train-field-epochs').fill('2');
  await page.getByTestId('train-start').click();
  await expect(page.getByTestId('train-run').first()).toHaveAttribute('data-status', 'done', { timeout: 240_000 });

  // Pick.
  await page.getByTestId('rail-label').click();
  await page.getByTestId('label-method').selectOption('ours');
  await page.getByTestId('label-budget').fill(String(BUDGET));
  await page.getByTestId('label-select').click();
  const round = page.getByTestId('label-round');
  await expect(round).toBeVisible({ timeout: 240_000 });
  const items = page.getByTestId('label-strip').getByTestId('label-item');
  await expect(items).toHaveCount(BUDGET);

  // Label by keyboard: 3, skip, 7, undo (the 7), 1, then digits for the rest.
  await page.locator('body').click({ position: { x: 1, y: 1 } });
  await page.keyboard.press('3');
  await page.keyboard.press('s');
  await page.keyboard.press('7');
  await page.keyboard.press('u');
  await page.keyboard.press('1');
  for (let i = 3; i < BUDGET; i++) await page.keyboard.press(String(i % 10));
  await expect(items.nth(0)).toHaveAttribute('data-label', '3');
  await expect(items.nth(1)).toHaveAttribute('data-skipped', 'true');
  await expect(items.nth(2)).toHaveAttribute('data-label', '1');
  await expect(page.getByTestId('label-progress')).toContainText(`labelled ${BUDGET - 1}`);

  // Retrain with a warm start; the chart gains its first point.
  await page.getByTestId('label-epochs').fill('1');
  await page.getByTestId('label-retrain').click();
  const points = page.getByTestId('label-chart').getByTestId('label-chart-point');
  await expect(points.first()).toBeVisible({ timeout: 240_000 });
  await expect(points.first()).toHaveAttribute('data-labels', String(100 + BUDGET - 1));
  const accuracy = Number(await points.first().getAttribute('data-accuracy'));
  expect(accuracy).toBeGreaterThan(0);
  await expect(page.getByTestId('label-history')).toContainText('ours');

  // The round is stored: a reload shows it again.
  await page.reload();
  await page.getByTestId('rail-label').click();
  await expect(page.getByTestId('label-chart').getByTestId('label-chart-point').first()).toHaveAttribute('data-labels', String(100 + BUDGET - 1));
});
