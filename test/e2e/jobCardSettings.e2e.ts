/**
 * Issue 23, defect 5: scale, format and quality on each job card, editable until the job
 * starts; a wrong value answered in words beside the fields; the job then runs with what the
 * card says.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import type { Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWebMode, writeSyntheticPhotos, type WebModeSession } from './webModeHarness.ts';

const { poll } = expect;

describe('job card: scale, format and quality until the job starts', () => {
  let session: WebModeSession;
  beforeAll(async () => {
    // Scale 5 is refused with 400 on purpose, which Chromium logs.
    session = await startWebMode('job-card-settings', {
      expectedConsoleErrors: [/status of 400 \(Bad Request\)/],
    });
  });
  afterAll(async () => {
    await session?.close();
  });

  async function addAndStart(page: Page, name: string): Promise<void> {
    await page.getByRole('button', { name: 'Add folder…' }).click();
    const browser = page.getByRole('dialog', { name: 'Add a folder of photos' });
    // It opens at the folder used last: type the path.
    await poll(() => browser.textContent(), { timeout: 30_000 }).toContain('directly in');
    const folder = path.join(session.workDir, name);
    await browser.getByLabel('Folder', { exact: true }).fill(folder);
    await browser.getByLabel('Folder', { exact: true }).press('Enter');
    await poll(() => browser.textContent(), { timeout: 30_000 }).toContain(`directly in ${folder}`);
    await browser.getByRole('button', { name: 'Choose this folder' }).click();
    await page.getByRole('button', { name: 'Start batch' }).click();
    await page.getByRole('article', { name: `Job ${name}` }).waitFor();
  }

  it('edits a waiting job, refuses scale 5 beside the field, and runs it as edited', async () => {
    const { page } = session;
    // The first job keeps the queue busy while the second waits (and is paused to stay unstarted).
    await writeSyntheticPhotos(path.join(session.workDir, 'first'), 4, 1600, 1200);
    await writeSyntheticPhotos(path.join(session.workDir, 'second'), 2, 320, 240);
    await page.goto(session.url);
    await addAndStart(page, 'first');
    const first = page.getByRole('article', { name: 'Job first' });
    await first.locator('[data-file-state="running"]').first().waitFor({ timeout: 60_000 });
    // A running job's settings are fixed: no editor on its card.
    expect(await first.getByRole('group', { name: 'Output of this job' }).count()).toBe(0);

    await addAndStart(page, 'second');
    const second = page.getByRole('article', { name: 'Job second' });
    await second.getByRole('button', { name: 'Pause', exact: true }).click();
    await poll(() => second.getByTestId('job-state').textContent()).toBe('Paused');
    const editor = second.getByRole('group', { name: 'Output of this job' });
    expect(await editor.getByLabel('Scale').inputValue()).toBe('2');
    expect(await editor.getByLabel('Format').locator('option:checked').textContent()).toBe(
      'Same as the photo',
    );
    expect(await editor.getByLabel('Quality').locator('option').allTextContents()).toEqual([
      'fast',
      'balanced',
      'best',
    ]);

    // Scale 5 is refused in words, beside the fields, and the job keeps its settings.
    await editor.getByLabel('Scale').fill('5');
    await editor.getByLabel('Scale').press('Tab');
    await poll(() => editor.getByRole('alert').textContent()).toBe('Scale goes from 1 to 4');
    expect(await second.getByTestId('job-settings').textContent()).toBe(
      'x2 · same format · auto model · best',
    );
    await session.screenshots('1-refused');

    await editor.getByLabel('Scale').fill('3');
    await editor.getByLabel('Scale').press('Tab');
    await poll(() => second.getByTestId('job-settings').textContent()).toBe(
      'x3 · same format · auto model · best',
    );
    // The change rebuilt the job (a new card), and focus is where Tab took it: on Format of
    // the rebuilt card, not lost to the page.
    // Evaluated in the page as a string: this file has no DOM library.
    const focused = (): Promise<string> =>
      page.evaluate(`(() => {
        const active = document.activeElement;
        return \`\${active?.closest('article')?.getAttribute('aria-label')}:\${active?.dataset.field}\`;
      })()`);
    await poll(focused).toBe('Job second:format');
    // Each change rebuilds the job (a new card): look the fields up again.
    const rebuilt = () =>
      page.getByRole('article', { name: 'Job second' }).getByRole('group', {
        name: 'Output of this job',
      });
    await rebuilt().getByLabel('Format').selectOption('png');
    await poll(() => second.getByTestId('job-settings').textContent()).toBe(
      'x3 · PNG · auto model · best',
    );
    await rebuilt().getByLabel('Quality').focus();
    await rebuilt().getByLabel('Quality').selectOption('fast');
    await poll(() => second.getByTestId('job-settings').textContent()).toBe(
      'x3 · PNG · auto model · fast',
    );
    await poll(focused).toBe('Job second:quality');
    expect(await rebuilt().getByRole('alert').count()).toBe(0);
    await session.screenshots('2-edited');

    await second.getByRole('button', { name: 'Resume' }).click();
    await page.waitForSelector(
      '[aria-label="Job second"] [data-testid="job-state"]:text("Finished")',
      { timeout: 180_000 },
    );
    // Once it ran, the card only describes its settings.
    expect(await second.getByRole('group', { name: 'Output of this job' }).count()).toBe(0);
    const outputFolder = path.join(session.workDir, 'second-upscaled');
    const written = (await readdir(outputFolder)).filter((name) => name.endsWith('.png')).sort();
    expect(written).toEqual(['photo-1_x3.png', 'photo-2_x3.png']);
    const size = await sharp(path.join(outputFolder, 'photo-1_x3.png')).metadata();
    expect([size.format, size.width, size.height]).toEqual(['png', 960, 720]);
  });
});
