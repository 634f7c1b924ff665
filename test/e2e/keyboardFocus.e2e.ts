/**
 * Issue 23, defect 11, with Playwright's keyboard only: focus moves to what the person uses next.
 * - Ctrl+O opens the folder dialog with the focus in its Folder field;
 * - once a folder is chosen, the focus is on the new job's Start;
 * - a list of photo cards is one Tab stop, the arrow keys move inside it;
 * - Compare opens with the focus on the crop box, so the arrow keys move it at once;
 * - the help says where each shortcut works.
 * Screenshots, light and dark: test-results/e2e/keyboard-*.png.
 */
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWebMode, writeSyntheticPhotos, type WebModeSession } from './webModeHarness.ts';

function poll<T>(read: () => T | Promise<T>, options: { timeout?: number } = {}) {
  return expect.poll(read, { timeout: 30_000, ...options });
}

interface Focused {
  tag: string;
  id: string;
  text: string;
  testId: string | null;
  /** The focused element's list (`ul`) label and its item's place in it, when in one. */
  list: string | null;
  index: number;
}

/** What has the keyboard focus (evaluated in the page: this file has no DOM library). */
function focused(page: Page): Promise<Focused> {
  return page.evaluate(`(() => {
    const element = document.activeElement;
    const item = element && element.closest('li');
    const list = item && item.closest('ul');
    return {
      tag: element ? element.tagName.toLowerCase() : '',
      id: element ? element.id : '',
      text: element ? element.textContent.trim() : '',
      testId: element ? element.getAttribute('data-testid') : null,
      list: list ? list.getAttribute('aria-label') : null,
      index: list ? [...list.children].indexOf(item) : -1,
    };
  })()`);
}

/** Elements Tab stops at inside the lists labelled `label…`. */
function tabStopsIn(page: Page, label: string): Promise<number> {
  return page.evaluate(`[...document.querySelectorAll('ul[aria-label^=${JSON.stringify(label)}]')]
    .flatMap((list) => [...list.querySelectorAll('button, a, input, [tabindex]')])
    .filter((element) => element.tabIndex >= 0 && !element.disabled).length`);
}

describe('keyboard focus lands where the person goes next', () => {
  let session: WebModeSession;
  beforeAll(async () => {
    session = await startWebMode('keyboard', {
      expectedConsoleErrors: [/status of 409 \(Conflict\)/],
    });
  });
  afterAll(async () => {
    await session?.close();
  });

  const screenshots = (name: string): Promise<void> => session.screenshots(name);

  it('Ctrl+O, a folder typed, Start, the photo list, Compare and the help, keyboard only', async () => {
    const { page, workDir } = session;
    const folder = path.join(workDir, 'trip');
    await writeSyntheticPhotos(folder, 7, 320, 240);
    await page.goto(session.url);
    await page.getByRole('button', { name: 'Add folder…' }).waitFor();

    // Ctrl+O: the dialog opens with the focus in its Folder field.
    await page.keyboard.press('Control+o');
    const picker = page.getByRole('dialog', { name: 'Add a folder of photos' });
    await picker.waitFor();
    await poll(async () => (await focused(page)).id).toBe('folder-path');
    await poll(() => picker.textContent()).toContain('directly in');
    // Type the folder and choose it with Ctrl+Enter (Enter alone opens it).
    await page.keyboard.press('Control+a');
    await page.keyboard.type(folder);
    await page.keyboard.press('Enter');
    await poll(() => picker.textContent()).toContain(`7 images directly in ${folder}`);
    await screenshots('1-folder-field-focused');
    await page.keyboard.press('Control+Enter');
    await picker.waitFor({ state: 'detached' });

    // The focus is on the new job's Start, once the estimate is in.
    await poll(async () => (await focused(page)).text).toBe('Start batch');
    await screenshots('2-start-focused');
    await page.keyboard.press('Enter');
    const job = page.getByRole('article', { name: 'Job trip' });
    await job.waitFor();
    await poll(() => job.getByTestId('job-state').textContent(), { timeout: 120_000 }).toBe(
      'Finished',
    );

    // Seven photo cards, one Tab stop: Tab reaches the list, and the next Tab leaves it.
    expect(await tabStopsIn(page, 'Photos of trip')).toBe(1);
    let presses = 0;
    while ((await focused(page)).list?.startsWith('Photos of trip') !== true) {
      await page.keyboard.press('Tab');
      presses += 1;
      if (presses > 40) throw new Error('Tab never reached the list of photos');
    }
    expect((await focused(page)).index).toBe(0);
    await page.keyboard.press('Tab');
    expect((await focused(page)).list?.startsWith('Photos of trip') ?? false).toBe(false);
    await page.keyboard.press('Shift+Tab');
    expect(await focused(page)).toMatchObject({ text: 'Compare', index: 0 });
    // Arrow keys move inside it: right one photo, down one row, End, Home.
    await page.keyboard.press('ArrowRight');
    expect((await focused(page)).index).toBe(1);
    const columns = await page.evaluate(
      `getComputedStyle(document.querySelector('ul.files')).gridTemplateColumns.split(' ').length`,
    );
    await page.keyboard.press('ArrowDown');
    expect((await focused(page)).index).toBe(Math.min(6, 1 + Number(columns)));
    await page.keyboard.press('End');
    expect((await focused(page)).index).toBe(6);
    await page.keyboard.press('Home');
    expect((await focused(page)).index).toBe(0);
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowRight');
    // Still one Tab stop: the one the arrows moved to.
    expect(await tabStopsIn(page, 'Photos of trip')).toBe(1);
    await screenshots('3-photo-list-focus');

    // Enter opens that photo in Compare, with the focus on the crop box: arrows move it.
    await page.keyboard.press('Enter');
    const photo = page.getByLabel('Photo', { exact: true });
    await poll(() => photo.inputValue()).toBe(path.join(folder, 'photo-3.jpg'));
    await poll(async () => (await focused(page)).testId).toBe('crop-box');
    const cropInfo = page.getByTestId('crop-info');
    const before = /at \((\d+), (\d+)\)/.exec((await cropInfo.textContent()) ?? '');
    const x = Number(before?.[1]);
    await page.keyboard.press(x > 0 ? 'ArrowLeft' : 'ArrowRight');
    await poll(() => cropInfo.textContent()).toContain(`at (${x > 0 ? x - 4 : x + 4}, `);
    // Compare's strip of photos is one Tab stop too.
    expect(await tabStopsIn(page, 'Photos to compare')).toBe(1);
    await screenshots('4-compare-crop-box-focused');

    // The help says where each shortcut works.
    await page.keyboard.press('?');
    const help = page.getByRole('dialog', { name: 'Keyboard shortcuts' });
    await help.waitFor();
    const rows: string[][] = await page.evaluate(`[...document.querySelectorAll(
      '[data-testid="shortcuts"] tbody tr')].map((row) =>
      [...row.cells].map((cell) => cell.textContent.trim()))`);
    expect(rows).toContainEqual([
      'Ctrl+Enter',
      'Start the new job (the added folders)',
      'Batch screen only, with a new job',
    ]);
    expect(rows).toContainEqual([
      'Arrow keys',
      'Move the crop box (Shift: faster)',
      'Compare, crop box (has the focus when Compare opens)',
    ]);
    for (const row of rows) expect(row[2]).toBeTruthy();
    await screenshots('5-help-where');
    await page.keyboard.press('Escape');
    await help.waitFor({ state: 'detached' });
  });
});
