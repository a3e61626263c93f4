/**
 * The jobs drawer opens only on request, and when it is open the page beside it keeps all
 * of its content reachable: wide tables and charts scroll inside their card, nothing is
 * cut off by a container that hides its overflow. Checked at 1400×900 on the pages with
 * the widest tables: Data, Train (runs) and Evaluate (per class, confusion matrix), once
 * the page has re-laid itself out for its new width (the sample grid reflows on resize).
 */
import type { Page } from '@playwright/test';
import { expect, test } from './fixtures';
import { importFolderProject, makeMnistFolder } from './mnist-folder';

/** Elements in the page whose content is wider than they are and who hide the rest. */
async function clipped(page: Page): Promise<string[]> {
  return page.getByTestId('main-scroll').evaluate((main) => {
    const out: string[] = [];
    for (const el of main.querySelectorAll<HTMLElement>('*')) {
      if (el.closest('.visually-hidden')) continue;
      const { overflowX } = getComputedStyle(el);
      if ((overflowX === 'hidden' || overflowX === 'clip') && el.scrollWidth > el.clientWidth + 1) {
        out.push(`${el.tagName.toLowerCase()}.${[...el.classList].join('.')} ${el.scrollWidth}>${el.clientWidth}`);
      }
    }
    // The page itself must not run wider than its column either.
    if (main.scrollWidth > main.clientWidth + 1) out.push(`main ${main.scrollWidth}>${main.clientWidth}`);
    return out;
  });
}

test('the jobs drawer opens on request only, and the page beside it clips nothing', async ({ page }) => {
  test.setTimeout(300_000);
  await page.setViewportSize({ width: 1400, height: 900 });
  await importFolderProject(page, makeMnistFolder({ train: 30, val: 10, test: 10 }));
  // The import ran as a job, and the drawer stayed shut: the status bar counts jobs instead.
  await expect(page.locator('[data-testid="job"][data-kind="import"]')).toHaveCount(1);
  await expect(page.getByTestId('jobs-drawer')).toBeHidden();

  await page.keyboard.press('j');
  await expect(page.getByTestId('jobs-drawer')).toBeVisible();
  await expect.poll(() => clipped(page), { message: 'content clipped beside the drawer' }).toEqual([]);

  await page.getByTestId('rail-train').click();
  await page.getByTestId('train-model-lenet').click();
  await page.getByTestId('train-field-epochs').fill('1');
  await page.getByTestId('train-start').click();
  await expect(page.getByTestId('train-run').first()).toHaveAttribute('data-status', 'done', { timeout: 180_000 });
  await expect(page.getByTestId('jobs-drawer')).toBeVisible();
  await expect.poll(() => clipped(page), { message: 'content clipped beside the drawer' }).toEqual([]);

  await page.getByTestId('rail-evaluate').click();
  await page.getByTestId('evaluate-split-test').check();
  await page.getByTestId('evaluate-start').click();
  await expect(page.getByTestId('confusion-matrix')).toBeVisible({ timeout: 120_000 });
  // The worst-off group per attribute, above the per-class tables, with its gap and interval.
  const gap = page.locator('[data-testid="group-gap"][data-attribute="ink"]');
  await expect(gap).toHaveAttribute('data-group', /^(heavy|light)$/);
  await expect(gap).toHaveAttribute('data-warn', /^(true|false)$/);
  const [g, low, high, p] = await Promise.all(['data-gap', 'data-low', 'data-high', 'data-p'].map(async (a) => Number(await gap.getAttribute(a))));
  expect(g).toBeGreaterThanOrEqual(0);
  expect(low).toBeLessThanOrEqual(g as number);
  expect(high).toBeGreaterThanOrEqual(g as number);
  expect(p).toBeGreaterThan(0);
  expect(p).toBeLessThanOrEqual(1);
  await expect(gap).toContainText(/\d+\.\d% \(\d+\/\d+\)/);
  await expect(gap).toContainText(/[−+±]\d+\.\d to [−+±]\d+\.\d points/);
  const gapsCard = page.getByTestId('group-gaps');
  const perClass = page.getByTestId('evaluation').locator('.top');
  expect((await gapsCard.boundingBox())?.y).toBeLessThan((await perClass.boundingBox())?.y ?? 0);
  await expect.poll(() => clipped(page), { message: 'content clipped beside the drawer' }).toEqual([]);

  // Closed again, the page gets its width back.
  await page.keyboard.press('j');
  await expect(page.getByTestId('jobs-drawer')).toBeHidden();
  await expect.poll(() => clipped(page), { message: 'content clipped beside the drawer' }).toEqual([]);
  await gapsCard.scrollIntoViewIfNeeded();
  await page.screenshot({ path: test.info().outputPath('evaluate-group-gaps.png') });
});
