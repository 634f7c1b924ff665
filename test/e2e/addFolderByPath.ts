/**
 * Adds a folder as a person does with the keyboard: "Add folder…", its path typed into the
 * folder browser, "Choose this folder". Shared by the e2e files of issue 23.
 */
import type { Page } from 'playwright-core';
import { expect } from 'vitest';

/** expect.poll with room for a loaded machine (the training job shares its cores). */
export function poll<T>(read: () => T | Promise<T>, options: { timeout?: number } = {}) {
  return expect.poll(read, { timeout: 30_000, ...options });
}

export async function addFolderByPath(page: Page, folder: string): Promise<void> {
  await page.getByRole('button', { name: 'Add folder…' }).click();
  const browser = page.getByRole('dialog', { name: 'Add a folder of photos' });
  const field = browser.getByLabel('Folder', { exact: true });
  // The folder it opens at fills the field when its listing comes; type after that.
  await poll(() => browser.textContent()).toContain('directly in');
  await field.fill(folder);
  await field.press('Enter');
  await poll(() => browser.textContent()).toContain(`directly in ${folder}`);
  await browser.getByRole('button', { name: 'Choose this folder' }).click();
  await browser.waitFor({ state: 'detached' });
}
