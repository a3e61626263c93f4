import { expect, test } from './fixtures';

test('build a pipeline, preview it, and rebalance MNIST-LT by augmentation with provenance on every new sample', async ({ page }) => {
  test.setTimeout(600_000);
  await page.goto('/');
  await page.getByTestId('load-sample-mnist-lt').click();
  await expect(page.getByTestId('count-total')).toHaveAttribute('data-count', '45838', { timeout: 300_000 });
  const nineBefore = Number(await page.getByTestId('count-label-9').getAttribute('data-count'));

  await page.getByTestId('rail-augment').click();
  const pipeline = page.getByTestId('pipeline');
  await pipeline.getByTestId('add-step').selectOption('rotate');
  await pipeline.getByTestId('add-step').selectOption('brightness');
  await expect(pipeline.getByTestId('pipeline-step')).toHaveCount(2);
  await expect(pipeline.locator('[data-testid="pipeline-step"]').first()).toHaveAttribute('data-transform', 'rotate');
  await pipeline.getByTestId('pipeline-save').click();
  await expect(pipeline.getByTestId('pipeline-save')).toHaveText('Saved');

  // One image under many seeds: every cell drew its own steps.
  const preview = page.getByTestId('preview');
  await expect(preview.getByTestId('preview-cell')).toHaveCount(12, { timeout: 60_000 });
  const seeds = await preview.getByTestId('preview-cell').evaluateAll((cells) => cells.map((c) => c.getAttribute('data-seed')));
  expect(new Set(seeds).size).toBe(12);

  // Per-class targets: lift digit 9's training samples by 60.
  const rebalance = page.getByTestId('augment-rebalance');
  if (await rebalance.getByTestId('augment-source-classes').isVisible()) await rebalance.getByTestId('augment-source-classes').check();
  const nineTrain = 49;
  await rebalance.getByTestId('target-9').fill(String(nineTrain + 60));
  await expect(rebalance.getByTestId('target-add-9')).toHaveAttribute('data-value', '60');
  await rebalance.getByTestId('augment-start').click();
  await expect(rebalance.getByTestId('augment-result')).toContainText('+60', { timeout: 300_000 });
  await expect(page.getByTestId('status-version')).toContainText('v2');

  // The new version: 60 more 9s, all augmented, each naming its parent and recipe.
  await page.getByTestId('rail-data').click();
  await expect(page.getByTestId('count-total')).toHaveAttribute('data-count', String(45838 + 60));
  await expect(page.getByTestId('count-label-9')).toHaveAttribute('data-count', String(nineBefore + 60));
  await page.getByTestId('filter-provenance').getByRole('button', { name: 'augmented', exact: true }).click();
  await expect(page.getByTestId('count-total')).toHaveAttribute('data-count', '60');
  const cell = page.locator('[data-testid="sample-cell"][data-label="9"]').first();
  await cell.hover();
  await expect(page.getByTestId('inspect-provenance')).toContainText(/augmented\sof\s#\d+\s\(augment, seed \d+\)/);
});
