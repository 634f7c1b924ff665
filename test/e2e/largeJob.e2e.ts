/**
 * Issue 23, defect 12, in Chromium against web mode: a job of 1,200 photos.
 * - "Show all 1200 photos" draws only the rows on screen (a window of fixed-height rows);
 * - the summary's photos and times cover the same unfinished jobs (a paused one included);
 * - Compare's list names each photo's folder: two cards with the same file names apart.
 * Screenshots, light and dark: test-results/e2e/large-job-*.png.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWebMode, type WebModeSession } from './webModeHarness.ts';

function poll<T>(read: () => T | Promise<T>, options: { timeout?: number } = {}) {
  return expect.poll(read, { timeout: 60_000, ...options });
}

describe('a job of 1,200 photos', () => {
  let session: WebModeSession;
  beforeAll(async () => {
    session = await startWebMode('large-job', {
      expectedConsoleErrors: [/status of 409 \(Conflict\)/],
    });
  });
  afterAll(async () => {
    await session?.close();
  });

  const screenshots = (name: string): Promise<void> => session.screenshots(name);

  it('draws a window of cards, sums the same jobs, and names folders in Compare', async () => {
    const { page, workDir } = session;
    // Two memory cards' worth: the same 600 file names in two folders, one small JPEG written
    // 1,200 times.
    const jpeg = await sharp({
      create: { width: 24, height: 16, channels: 3, background: { r: 90, g: 140, b: 60 } },
    })
      .jpeg({ quality: 90 })
      .toBuffer();
    const cards = ['card-a', 'card-b'].map((card) => path.join(workDir, 'big', card, 'DCIM'));
    for (const folder of cards) {
      await mkdir(folder, { recursive: true });
      await Promise.all(
        Array.from({ length: 600 }, (_, index) =>
          writeFile(path.join(folder, `IMG_${String(index + 1).padStart(4, '0')}.jpg`), jpeg),
        ),
      );
    }

    await page.goto(session.url);
    await page.getByRole('button', { name: 'Add folder…' }).click();
    const picker = page.getByRole('dialog', { name: 'Add a folder of photos' });
    await picker.getByRole('button', { name: 'big' }).click();
    await poll(() => picker.textContent()).toContain(`directly in ${path.join(workDir, 'big')}`);
    await picker.getByRole('button', { name: 'Choose this folder' }).click();
    await poll(() => page.getByTestId('preflight-files').textContent()).toBe('1200');
    await page.getByRole('button', { name: 'Start batch' }).click();
    const job = page.getByRole('article', { name: 'Job big' });
    await job.getByRole('button', { name: 'Pause' }).click();
    await poll(() => job.getByTestId('job-state').textContent()).toBe('Paused');

    // The summary: the paused job's photos, and its time left with them, said to be paused.
    await poll(() => page.getByTestId('overall-progress').textContent()).toMatch(
      /^\d+ of 1200 photos in 1 unfinished job · [\d.]+ (s|min \d+ s) elapsed · (about [\d.]+ (s|min \d+ s|h \d+ min) left \(1 paused\)|time left not known yet)$/,
    );

    // 60 cards at first; "Show all" draws a window of rows, not 1,200 cards.
    expect(await page.getByTestId('file-row').count()).toBe(60);
    const elementsBefore = Number(await page.evaluate('document.querySelectorAll("*").length'));
    await job.getByRole('button', { name: 'Show all 1200 photos' }).click();
    const window = job.getByTestId('files-window');
    await window.waitFor();
    const drawn = await page.getByTestId('file-row').count();
    const elements = Number(await page.evaluate('document.querySelectorAll("*").length'));
    console.log(
      `1,200 photos shown: ${drawn} cards, ${elements} elements (${elementsBefore} with 60 cards)`,
    );
    expect(drawn).toBeGreaterThan(8);
    expect(drawn).toBeLessThanOrEqual(60);
    expect(elements).toBeLessThan(elementsBefore + 200);
    // The scroll box is as tall as 1,200 cards: the scroll bar tells how long the list is.
    const scrollHeight = Number(
      await page.evaluate(`document.querySelector('[data-testid="files-window"]').scrollHeight`),
    );
    expect(scrollHeight).toBeGreaterThan(124 * 100);
    await screenshots('1-show-all-1200');

    // Scrolling draws the rows that come on screen, still a window of them.
    const box = await window.boundingBox();
    if (!box) throw new Error('no list window');
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    const started = Date.now();
    for (let step = 0; step < 20; step++) await page.mouse.wheel(0, 400);
    await poll(() =>
      page.evaluate(`document.querySelector('[data-testid="files-window"]').scrollTop`),
    ).toBeGreaterThan(7000);
    console.log(`20 scroll steps: ${Date.now() - started} ms`);
    const names = await page.getByTestId('file-row').locator('.file-name').allTextContents();
    expect(names.length).toBeLessThanOrEqual(60);
    expect(names).not.toContain('card-a/DCIM/IMG_0001.jpg');
    await screenshots('2-scrolled');

    // The keyboard: End goes to the last photo, scrolling its row in.
    await page.getByTestId('file-row').first().locator('.compare-link').focus();
    await page.keyboard.press('End');
    await poll(() =>
      page.evaluate(`document.activeElement.closest('li').querySelector('.file-name').textContent`),
    ).toBe('card-b/DCIM/IMG_0600.jpg');

    // Compare (Enter): the list is grouped by folder, so the two IMG_0600.jpg are told apart.
    await page.keyboard.press('Enter');
    const photo = page.getByLabel('Photo', { exact: true });
    await poll(() => photo.inputValue()).toBe(path.join(cards[1]!, 'IMG_0600.jpg'));
    const groups = await page.evaluate(
      `[...document.querySelectorAll('#compare-photo optgroup')].map((group) => [group.label, group.children.length])`,
    );
    expect(groups).toEqual([
      [cards[0], 600],
      [cards[1], 600],
    ]);
    expect(await page.getByTestId('photo-folder').textContent()).toContain(`In ${cards[1]}`);
    // The strip shows the photos around it, this one included.
    await page.getByRole('button', { name: 'Compare card-b/DCIM/IMG_0600.jpg in DCIM' }).waitFor();
    await screenshots('3-compare-folders');
  });
});
