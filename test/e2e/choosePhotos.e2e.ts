/**
 * "Choose the photos" (issue 23), in Chromium against web mode: before a job starts, star or
 * exclude its photos with the keyboard (S, X, arrow keys), and export only the starred ones.
 * Excluded photos are not counted in the estimate and never run. Screenshots in light and dark.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addFolderByPath, poll } from './addFolderByPath.ts';
import { startWebMode, writeSyntheticPhotos, type WebModeSession } from './webModeHarness.ts';

describe('choose the photos', () => {
  let session: WebModeSession;
  beforeAll(async () => {
    session = await startWebMode('choose');
  });
  afterAll(async () => {
    await session?.close();
  });

  it('stars and excludes with the keyboard; only starred photos are estimated and run', async () => {
    const { page, workDir } = session;
    const folder = path.join(workDir, 'pick');
    await writeSyntheticPhotos(folder, 6, 96, 72);
    await page.goto(session.url);
    await addFolderByPath(page, folder);
    await poll(() => page.getByTestId('preflight-files').textContent()).toBe('6');

    await page.getByRole('button', { name: 'Choose photos…' }).click();
    const chooser = page.getByTestId('photo-chooser');
    const summary = chooser.getByTestId('selection-summary');
    await poll(() => summary.textContent()).toBe('6 of 6 photos will be upscaled');
    // One Tab stop for the list: the first photo; then the keyboard alone.
    await chooser.locator('[data-index="0"]').focus();
    await page.keyboard.press('x');
    await poll(() => summary.textContent()).toBe('1 excluded · 5 of 6 photos will be upscaled');
    // Excluded photos are not counted in the estimate.
    await poll(() => page.getByTestId('preflight-files').textContent()).toBe('5');
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('s');
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('s');
    await poll(() => summary.textContent()).toBe(
      '2 starred · 1 excluded · 5 of 6 photos will be upscaled',
    );
    expect(
      await chooser
        .locator('[role="button"][aria-pressed="true"]')
        .evaluateAll((tiles) => tiles.map((tile) => tile.getAttribute('aria-label'))),
    ).toEqual(['photo-2.jpg, starred', 'photo-3.jpg, starred']);
    expect(await page.evaluate(`document.activeElement?.getAttribute('aria-label')`)).toBe(
      'photo-3.jpg, starred',
    );
    await session.screenshots('1-starred-excluded');

    await chooser.getByTestId('only-starred').check();
    await poll(() => summary.textContent()).toBe(
      '2 starred · 1 excluded · 2 of 6 photos will be upscaled',
    );
    await poll(() => page.getByTestId('preflight-files').textContent()).toBe('2');
    await session.screenshots('2-only-starred');

    await page.getByRole('button', { name: 'Start batch' }).click();
    const job = page.getByRole('article', { name: 'Job pick' });
    await poll(() => job.getByTestId('job-state').textContent(), { timeout: 120_000 }).toBe(
      'Finished',
    );
    expect(await job.getByTestId('job-counts').textContent()).toBe('2 of 2 done');
    const outputs = (await readdir(`${folder}-upscaled`)).filter((name) => name.endsWith('.jpg'));
    expect(outputs.sort()).toEqual(['photo-2_x2.jpg', 'photo-3_x2.jpg']);
    await session.screenshots('3-only-starred-done');
  });
});
