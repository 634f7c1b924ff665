/**
 * Issue 23: a finished photo's results by keyboard alone, in web mode. A job's list of photos
 * is one Tab stop (arrow keys inside), so its Download links are not Tab stops; the focused
 * finished photo takes D instead, shows that key beside it, and the help lists it with where
 * it works. The download that arrives is byte for byte the file on disk.
 * Screenshots, light and dark: test-results/e2e/photo-keys-*.png.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Download, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addFolderByPath, poll } from './addFolderByPath.ts';
import { startWebMode, writeSyntheticPhotos, type WebModeSession } from './webModeHarness.ts';

/** The focused element's text and its photo card's id (evaluated in the page: no DOM library here). */
function focused(
  page: Page,
): Promise<{ text: string; fileId: string | null; list: string | null }> {
  return page.evaluate(`(() => {
    const element = document.activeElement;
    const card = element && element.closest('[data-file-id]');
    const list = card && card.closest('ul');
    return {
      text: element ? element.textContent.trim() : '',
      fileId: card ? card.getAttribute('data-file-id') : null,
      list: list ? list.getAttribute('aria-label') : null,
    };
  })()`);
}

/** The key hints shown (not display: none) in the page, as text. */
function visibleHints(page: Page): Promise<string[]> {
  return page.evaluate(`[...document.querySelectorAll('[data-testid="output-keys"]')]
    .filter((hint) => getComputedStyle(hint).display !== 'none')
    .map((hint) => hint.textContent.replace(/\\s+/g, ' ').trim())`);
}

type Focus = Awaited<ReturnType<typeof focused>>;

/** Photos of `count` written into `name`, added, started and run: the job's card. */
async function finishedJob(session: WebModeSession, name: string, count: number) {
  const { page, workDir } = session;
  const folder = path.join(workDir, name);
  await writeSyntheticPhotos(folder, count, 320, 240);
  await page.goto(session.url);
  await addFolderByPath(page, folder);
  await poll(() => page.getByTestId('preflight-files').textContent()).toBe(String(count));
  await page.getByRole('button', { name: 'Start batch' }).click();
  const job = page.getByRole('article', { name: `Job ${name}` });
  await poll(() => job.getByTestId('job-state').textContent(), { timeout: 120_000 }).toBe(
    'Finished',
  );
  return job;
}

/**
 * Presses `key` and answers what downloaded: its suggested name, and whether its bytes are
 * those of `expected` on disk (and not empty).
 */
async function downloadByKey(page: Page, key: string, expected: string) {
  const [download] = (await Promise.all([
    page.waitForEvent('download'),
    page.keyboard.press(key),
  ])) as [Download, void];
  const bytes = await readFile(await download.path());
  return {
    name: download.suggestedFilename(),
    sameBytes: bytes.length > 0 && bytes.equals(await readFile(expected)),
  };
}

/** Tab from the top of the page until `reached` says the focus is where it should be. */
async function tabUntil(page: Page, reached: (focus: Focus) => boolean): Promise<void> {
  await page.locator('body').focus();
  for (let presses = 0; !reached(await focused(page)); presses++) {
    if (presses > 80)
      throw new Error(`Tab never got there: ${JSON.stringify(await focused(page))}`);
    await page.keyboard.press('Tab');
  }
}

describe('per-photo results by keyboard (web mode)', () => {
  let session: WebModeSession;
  beforeAll(async () => {
    session = await startWebMode('photo-keys');
  });
  afterAll(async () => {
    await session?.close();
  });

  it('Tab to the photos, arrow to one, D downloads its output; the hint and the help say so', async () => {
    const { page, workDir } = session;
    await finishedJob(session, 'trip', 3);

    // Keyboard only from here: Tab until the list of photos has the focus.
    await tabUntil(page, (focus) => focus.list?.startsWith('Photos of trip') === true);
    expect(await focused(page)).toMatchObject({ text: 'Compare', fileId: '0' });
    // The Download links stay out of the Tab order; the focused photo shows its key instead.
    expect(await visibleHints(page)).toEqual(['D Download']);
    await page.keyboard.press('ArrowRight');
    expect((await focused(page)).fileId).toBe('1');
    expect(await visibleHints(page)).toEqual(['D Download']);
    await session.screenshots('1-focused-photo-hint');

    // D: the focused photo's own output arrives, under its name, byte for byte.
    const outputFolder = path.join(workDir, 'trip-upscaled');
    expect(await downloadByKey(page, 'd', path.join(outputFolder, 'photo-2_x2.jpg'))).toEqual({
      name: 'photo-2_x2.jpg',
      sameBytes: true,
    });
    // The focus stays on that photo, and O (a desktop key) does nothing in the browser.
    expect((await focused(page)).fileId).toBe('1');
    let downloadsAfterO = 0;
    page.on('download', () => (downloadsAfterO += 1));
    await page.keyboard.press('o');
    await page.keyboard.press('End');
    expect((await focused(page)).fileId).toBe('2');
    expect(await downloadByKey(page, 'Shift+D', path.join(outputFolder, 'photo-3_x2.jpg'))).toEqual(
      { name: 'photo-3_x2.jpg', sameBytes: true },
    );
    expect(downloadsAfterO).toBe(1);

    // The help lists the keys and where they work.
    await page.keyboard.press('?');
    const help = page.getByRole('dialog', { name: 'Keyboard shortcuts' });
    await help.waitFor();
    const rows: string[][] = await page.evaluate(`[...document.querySelectorAll(
      '[data-testid="shortcuts"] tbody tr')].map((row) =>
      [...row.cells].map((cell) => cell.textContent.trim()))`);
    expect(rows.filter((row) => row[0] === 'D' || row[0] === 'O')).toEqual([
      [
        'D',
        'Download the photo written (browser); Show in folder (desktop)',
        'Batch, a finished photo in a job’s list',
      ],
      [
        'O',
        'Open the photo written in its viewer',
        'Desktop app: Batch, a finished photo in a job’s list',
      ],
    ]);
    await session.screenshots('2-help');
    await page.keyboard.press('Escape');
    await help.waitFor({ state: 'detached' });
  });

  it('in the windowed list of a long job ("Show all"), the focused photo shows its key unclipped, and D works', async () => {
    const { page, workDir } = session;
    // More than the 60 cards a job shows at first, so "Show all" draws fixed-height rows; at
    // 320×240 a card's details take three lines, so the key's line does not fit in its row.
    const job = await finishedJob(session, 'long', 64);
    // Keyboard only: Tab to "Show all 64 photos", Enter (the focus goes on in the list), End.
    await tabUntil(page, (focus) => focus.text === 'Show all 64 photos');
    await page.keyboard.press('Enter');
    await job.getByTestId('files-window').waitFor();
    await poll(async () => (await focused(page)).list?.startsWith('Photos of long') ?? false).toBe(
      true,
    );
    await page.keyboard.press('End');
    await poll(async () => (await focused(page)).fileId).toBe('63');
    expect(await visibleHints(page)).toEqual(['D Download']);
    // Not clipped by the fixed row nor by the scrolling box: the hint lies inside the box, and
    // near its top and its bottom edge it is the topmost thing on the page.
    expect(
      await page.evaluate(`(() => {
        const hint = [...document.querySelectorAll('[data-testid="output-keys"]')]
          .find((element) => getComputedStyle(element).display !== 'none');
        const box = hint.getBoundingClientRect();
        const frame = hint.closest('[data-testid="files-window"]').getBoundingClientRect();
        const x = box.left + 4;
        const topmost = (y) => hint.contains(document.elementFromPoint(x, y));
        return {
          inside: box.top >= frame.top && box.bottom <= frame.bottom,
          top: topmost(box.top + 2),
          bottom: topmost(box.bottom - 2),
        };
      })()`),
    ).toEqual({ inside: true, top: true, bottom: true });
    await session.screenshots('3-windowed-list-hint');
    expect(
      await downloadByKey(page, 'd', path.join(workDir, 'long-upscaled', 'photo-64_x2.jpg')),
    ).toEqual({ name: 'photo-64_x2.jpg', sameBytes: true });
  });
});
