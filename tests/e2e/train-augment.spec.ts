/**
 * On-the-fly augmentation on tfjs' WebGPU backend, in real Chromium: with the backend
 * forced to webgpu (SwiftShader here, so the run is small), a saved pipeline of transforms
 * that all have GPU kernels previews and trains on the GPU path, and the job's report and
 * the run's record say so, with no step run on the CPU kernels.
 */
import { expect, test } from './fixtures';
import { importFolderProject, makeMnistFolder } from './mnist-folder';

/** The start-up probe and a forced switch: SwiftShader compiles WebGPU shaders slowly. */
const BACKEND_TIMEOUT_MS = 120_000;

test('forced to WebGPU, a pipeline of GPU transforms trains on the GPU path with zero CPU fallbacks', async ({ page }) => {
  test.setTimeout(600_000);
  await importFolderProject(page, makeMnistFolder({ train: 10, val: 3, test: 2 }));
  await expect(page.getByTestId('count-total')).toHaveAttribute('data-count', '150');

  await page.getByTestId('rail-compute').click();
  await expect(page.getByTestId('backend-active')).toHaveText(/^(webgpu|webgl|wasm|cpu)$/, { timeout: BACKEND_TIMEOUT_MS });
  await page.getByTestId('backend-option-webgpu').click();
  await expect(page.getByTestId('backend-active')).toHaveText('webgpu', { timeout: BACKEND_TIMEOUT_MS });

  // Every step has a GPU kernel: a bilinear warp, a flip that fires for some images only
  // (the batch splits on the GPU), a fused brightness/contrast table, and mixup.
  await page.getByTestId('rail-augment').click();
  const pipeline = page.getByTestId('pipeline');
  for (const step of ['flip', 'rotate', 'brightness', 'contrast', 'mixup']) await pipeline.getByTestId('add-step').selectOption(step);
  await expect(pipeline.getByTestId('pipeline-step')).toHaveCount(5);
  await pipeline.getByTestId('pipeline-step').first().getByTestId('step-p').fill('0.5');
  await pipeline.getByTestId('pipeline-name').fill('GPU set');
  await pipeline.getByTestId('pipeline-save').click();
  await expect(pipeline.getByTestId('pipeline-save')).toHaveText('Saved');

  // Previews would run on the GPU only on a real adapter; SwiftShader is a software one.
  await expect(page.getByTestId('preview-placement')).toHaveAttribute('data-where', 'cpu');
  await expect(page.getByTestId('preview-placement')).toContainText('software adapter');

  // A second pipeline, saved with Ctrl+S; switching away keeps unsaved edits as a draft;
  // a clashing name is refused before saving; delete leaves the first one.
  await pipeline.getByTestId('pipeline-new').click();
  await expect(pipeline.getByTestId('pipeline-name')).toHaveValue('Pipeline 2');
  await expect(pipeline.getByTestId('pipeline-empty')).toBeVisible();
  await pipeline.getByTestId('add-step').selectOption('gamma');
  await pipeline.getByTestId('pipeline-name').fill('gpu SET');
  await expect(pipeline.getByTestId('pipeline-status')).toContainText('already has a pipeline named "gpu SET"');
  await expect(pipeline.getByTestId('pipeline-save')).toBeDisabled();
  await pipeline.getByTestId('pipeline-name').fill('Gamma only');
  await page.keyboard.press('Control+s');
  await expect(pipeline.getByTestId('pipeline-save')).toHaveText('Saved');
  const picker = pipeline.getByTestId('pipeline-picker');
  await expect(picker.locator('option')).toHaveText(['Gamma only', 'GPU set', 'New pipeline…']);
  await pipeline.getByTestId('add-step').selectOption('flip');
  await picker.selectOption({ label: 'GPU set' });
  await expect(pipeline.getByTestId('pipeline-step')).toHaveCount(5);
  await expect(picker.locator('option')).toHaveText(['Gamma only (edited)', 'GPU set', 'New pipeline…']);
  await picker.selectOption({ label: 'Gamma only (edited)' });
  await expect(pipeline.getByTestId('pipeline-step')).toHaveCount(2);
  await pipeline.getByTestId('pipeline-delete').click();
  await expect(picker.locator('option')).toHaveText(['GPU set', 'New pipeline…']);
  await expect(pipeline.getByTestId('pipeline-step')).toHaveCount(5);

  await page.getByTestId('rail-train').click();
  await page.getByTestId('train-model-lenet').click();
  await page.getByTestId('train-field-epochs').fill('1');
  await page.getByTestId('train-field-batchSize').fill('25');
  await page.getByTestId('train-augment-pipeline').selectOption({ label: 'GPU set · 5 steps' });
  const preview = page.getByTestId('train-augment-preview');
  await expect(preview).toHaveAttribute('data-state', 'ready', { timeout: 180_000 });
  await expect(preview).toHaveAttribute('data-path', 'gpu');
  await expect(preview.getByTestId('train-preview-cell')).toHaveCount(8);

  await page.getByTestId('train-start').click();
  // The job's own report, while it trains.
  await expect(page.getByTestId('train-job-message')).toContainText('augmentation on the GPU', { timeout: 300_000 });
  const run = page.getByTestId('train-run').first();
  await expect(run).toHaveAttribute('data-status', 'done', { timeout: 400_000 });
  const record = run.getByTestId('train-run-augment');
  await expect(record).toHaveAttribute('data-pipeline', 'GPU set');
  await expect(record).toHaveAttribute('data-path', 'gpu');
  await expect(record).toHaveAttribute('data-cpu-fallbacks', '0');
  await expect(record).toHaveAttribute('data-steps', '4');
  await expect(record).toContainText('no CPU fallbacks');
  await expect(run.locator('td').nth(4)).toHaveText('webgpu');
});
