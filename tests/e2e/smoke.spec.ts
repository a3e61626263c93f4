import { expect, test } from '@playwright/test';

test('the studio shell loads', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByRole('heading', { name: 'Hearth' })).toBeVisible();
});
