import { expect, test } from './fixtures';

test('build a pipeline, preview it, rebalance MNIST-LT by augmentation, then train on the fly with it through a reload', async ({ page }) => {
  test.setTimeout(900_000);
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
  await pipeline.getByTestId('pipeline-name').fill('Rotate and brighten');
  await pipeline.getByTestId('pipeline-save').click();
  await expect(pipeline.getByTestId('pipeline-save')).toHaveText('Saved');
  await expect(pipeline.getByTestId('pipeline-picker').locator('option:checked')).toHaveText('Rotate and brighten');
  const hash = await pipeline.getByTestId('pipeline-hash').textContent();

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

  // Train on the fly with the saved pipeline: its preview of epoch 1, then two epochs with
  // a reload after the first; the resumed run keeps the pipeline and its report.
  await page.getByTestId('rail-train').click();
  await page.getByTestId('train-model-lenet').click();
  await page.getByTestId('train-field-epochs').fill('2');
  await page.getByTestId('train-field-batchSize').fill('128');
  await page.getByTestId('train-augment-pipeline').selectOption({ label: 'Rotate and brighten · 2 steps' });
  await expect(page.getByTestId('train-augment-steps')).toHaveText('rotate → brightness');
  const trainPreview = page.getByTestId('train-augment-preview');
  await expect(trainPreview).toHaveAttribute('data-state', 'ready', { timeout: 120_000 });
  await expect(trainPreview.getByTestId('train-preview-cell')).toHaveCount(8);
  const path = await trainPreview.getAttribute('data-path');
  expect(path === 'cpu' || path === 'gpu').toBe(true);
  const trainCount = Number(await page.getByTestId('train-dataset').getAttribute('data-train'));
  expect(trainCount).toBeGreaterThan(1000);

  await page.getByTestId('train-start').click();
  await expect(page.getByTestId('train-job-message')).toContainText(`augmentation on the ${path === 'gpu' ? 'GPU' : 'CPU'}`, { timeout: 300_000 });
  await expect(page.getByTestId('train-progress')).toHaveAttribute('data-epoch', '2', { timeout: 400_000 });
  await page.reload();
  await expect(page.getByTestId('notice').filter({ hasText: /interrupted/i }).first()).toBeVisible({ timeout: 60_000 });
  await page.getByTestId('rail-train').click();
  const run = page.getByTestId('train-run').first();
  await expect(run).toHaveAttribute('data-status', 'done', { timeout: 400_000 });
  const record = run.getByTestId('train-run-augment');
  await expect(record).toHaveAttribute('data-pipeline', 'Rotate and brighten');
  expect((await record.getAttribute('data-hash'))?.startsWith(hash ?? '-')).toBe(true);
  await expect(record).toHaveAttribute('data-path', path ?? '');
  // Both epochs' steps are counted, the one before the reload included.
  await expect(record).toHaveAttribute('data-steps', String(2 * Math.ceil(trainCount / 128)));
});
