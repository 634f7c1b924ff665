import { readdir } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  startWebMode,
  unlabelledControls,
  writeSyntheticPhotos,
  type WebModeSession,
} from './webModeHarness.ts';

describe('batch in the browser UI', () => {
  let session: WebModeSession;
  beforeAll(async () => {
    session = await startWebMode('batch');
  });
  afterAll(async () => {
    await session?.close();
  });

  it('upscales a folder of photos to PNG files named by the template, showing per-file progress', async () => {
    const { page } = session;
    const photos = path.join(session.workDir, 'holiday');
    await writeSyntheticPhotos(photos, 4, 320, 240);

    await page.goto(session.url);
    await page.getByText('Add a folder of photos to begin.').waitFor();
    await session.screenshot('0-empty');
    await page.keyboard.press('?');
    await page.getByRole('dialog', { name: 'Keyboard shortcuts' }).waitFor();
    await session.screenshot('0b-shortcuts');
    await page.keyboard.press('Escape');
    await page.getByRole('button', { name: 'Export settings' }).click();
    await page.getByLabel('File format').selectOption('png');
    await page.getByLabel('File name template').fill('{name}-big-x{scale}');
    // Small tiles make each photo many steps, so its own progress bar visibly fills.
    await page.getByLabel('Tile size mode').selectOption('fixed');
    await page.getByLabel('Tile side in pixels').fill('32');
    await page.getByLabel('Tile side in pixels').press('Tab');
    await expect
      .poll(() => page.getByTestId('naming-example').textContent())
      .toContain('IMG_0042-big-x2.png');
    await expect.poll(() => page.getByTestId('settings-status').textContent()).toBe('Saved');

    await page.getByRole('button', { name: 'Batch', exact: true }).click();
    await page.getByRole('button', { name: 'Add folder…' }).click();
    const browser = page.getByRole('dialog', { name: 'Add a folder of photos' });
    await browser.getByRole('button', { name: 'holiday' }).click();
    await expect.poll(() => browser.textContent()).toContain('4 images directly in');
    const previews = browser.getByRole('list', { name: 'Photos in this folder' }).getByRole('img');
    await expect.poll(() => previews.count()).toBe(4);
    await session.screenshot('1-folder-browser');
    await browser.getByRole('button', { name: 'Choose this folder' }).click();

    await expect.poll(() => page.getByTestId('preflight-files').textContent()).toBe('4');
    const pending = page.getByRole('list', { name: `Photos in ${photos}` }).getByRole('img');
    await expect.poll(() => pending.count()).toBe(4);
    await session.screenshot('2-preflight');
    await page.getByRole('button', { name: 'Start batch' }).click();

    const rows = page.getByTestId('file-row');
    await expect.poll(() => rows.count()).toBe(4);
    // Per-file progress: a running photo's own bar stands between empty and full.
    const partial = page.locator(
      '[data-file-state="running"] [role="progressbar"]:not([aria-valuenow="0"]):not([aria-valuenow="100"])',
    );
    await partial.first().waitFor({ timeout: 60_000 });
    await session.screenshot('3-running');
    expect(await unlabelledControls(page)).toEqual([]);

    // Pause holds the queue (the running photo finishes first); Resume finishes the rest.
    await page.getByRole('button', { name: 'Pause' }).click();
    // "Pausing after this photo…" until the running photo is written: as long as a photo takes.
    await expect
      .poll(() => page.getByTestId('job-state').textContent(), { timeout: 60_000 })
      .toBe('Paused');
    await expect.poll(() => page.locator('[data-file-state="running"]').count()).toBe(0);
    await session.screenshot('3b-paused');
    await page.getByRole('button', { name: 'Resume' }).click();
    await page.waitForSelector('[data-testid="job-state"]:text("Finished")', { timeout: 90_000 });
    await expect.poll(() => page.locator('[data-file-state="done"]').count()).toBe(4);
    await expect.poll(() => page.getByTestId('job-counts').textContent()).toBe('4 of 4 done');
    // Each done row names the model that made it and, for a file judged a photo, why (these
    // are JPEGs saved at quality 90; the tiny fixture has no photo variant, so it runs itself).
    await expect
      .poll(() => page.locator('[data-file-state="done"] .dims').first().textContent())
      .toMatch(/^320×240 → 640×480 · .+ · cmsc-tiny \(JPEG quality ≈ 90\), fp32$/);
    await session.screenshot('4-finished');

    const outputFolder = `${photos}-upscaled`;
    const outputs = (await readdir(outputFolder)).filter((name) => name.endsWith('.png')).sort();
    expect(outputs).toEqual([
      'photo-1-big-x2.png',
      'photo-2-big-x2.png',
      'photo-3-big-x2.png',
      'photo-4-big-x2.png',
    ]);
    const metadata = await sharp(path.join(outputFolder, 'photo-1-big-x2.png')).metadata();
    expect([metadata.format, metadata.width, metadata.height]).toEqual(['png', 640, 480]);
  });
});
