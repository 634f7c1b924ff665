import { readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWebMode, writeSyntheticPhotos, type WebModeSession } from './webModeHarness.ts';

describe('a corrupt photo in a batch', () => {
  let session: WebModeSession;
  beforeAll(async () => {
    // The corrupt photo has no thumbnail: the server answers 422 and Chromium logs it.
    session = await startWebMode('corrupt', {
      expectedConsoleErrors: [/status of 422 \(Unprocessable/],
    });
  });
  afterAll(async () => {
    await session?.close();
  });

  it('shows the broken file with its error while the other photos finish', async () => {
    const { page } = session;
    const folder = path.join(session.workDir, 'mixed');
    await writeSyntheticPhotos(folder, 3, 160, 120);
    await writeFile(path.join(folder, 'broken.jpg'), 'this is not a JPEG at all');

    await page.goto(session.url);
    await page.keyboard.press('Control+o');
    const folderBrowser = page.getByRole('dialog', { name: 'Add a folder of photos' });
    await folderBrowser.getByRole('button', { name: 'mixed' }).click();
    await folderBrowser.getByRole('button', { name: 'Choose this folder' }).click();
    await expect.poll(() => page.getByTestId('preflight-files').textContent()).toBe('4');
    await session.screenshot('1-preflight');
    await page.keyboard.press('Control+Enter');

    await page.waitForSelector('[data-testid="job-state"]:text("Finished")', { timeout: 90_000 });
    await expect.poll(() => page.locator('[data-file-state="done"]').count()).toBe(3);
    const failed = page.locator('[data-file-state="failed"]');
    await expect.poll(() => failed.count()).toBe(1);
    expect(await failed.locator('.file-name').textContent()).toBe('broken.jpg');
    expect(await failed.getByTestId('file-error').textContent()).toMatch(/\S/);
    expect(await page.getByTestId('job-counts').textContent()).toBe('3 of 4 done · 1 failed');
    await session.screenshot('2-finished-with-error');

    const outputs = (await readdir(`${folder}-upscaled`))
      .filter((name) => name.endsWith('.jpg'))
      .sort();
    expect(outputs).toEqual(['photo-1_x2.jpg', 'photo-2_x2.jpg', 'photo-3_x2.jpg']);

    await page.getByRole('button', { name: 'Open report' }).click();
    await expect.poll(() => page.getByTestId('report-text').textContent()).toContain('broken.jpg');
    await session.screenshot('3-report');
    await page.getByRole('button', { name: 'Close' }).click();

    // The broken file can never succeed as it is: no "Retry failed" is offered for it.
    expect(await page.getByRole('button', { name: 'Retry failed' }).count()).toBe(0);
  });
});
