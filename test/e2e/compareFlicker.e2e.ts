/**
 * Issue 23, "expected and missing": Flicker A/B (hold F, or the Swap button, to swap the two
 * pictures compared) and 3-up (bicubic | A | B) in Compare, in Chromium against web mode.
 * Screenshots, light and dark: test-results/e2e/compare-flicker-*.png.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWebMode, writeSyntheticPhotos, type WebModeSession } from './webModeHarness.ts';

function poll<T>(read: () => T | Promise<T>, options: { timeout?: number } = {}) {
  return expect.poll(read, { timeout: 60_000, ...options });
}

describe('Compare: flicker and 3-up', () => {
  let session: WebModeSession;
  beforeAll(async () => {
    session = await startWebMode('compare-flicker', {
      expectedConsoleErrors: [/status of 409 \(Conflict\)/],
    });
  });
  afterAll(async () => {
    await session?.close();
  });

  const screenshots = (name: string): Promise<void> => session.screenshots(name);

  it('holding F swaps the panes, the 3-up shows bicubic, A and B', async () => {
    const { page, workDir } = session;
    const folder = path.join(workDir, 'pair');
    await writeSyntheticPhotos(folder, 1, 480, 360);
    await page.goto(session.url);
    await page.getByRole('button', { name: 'Add folder…' }).click();
    const picker = page.getByRole('dialog', { name: 'Add a folder of photos' });
    await picker.getByRole('button', { name: 'pair' }).click();
    await poll(() => picker.textContent()).toContain(`directly in ${folder}`);
    await picker.getByRole('button', { name: 'Choose this folder' }).click();
    await page.getByRole('button', { name: 'Preview', exact: true }).click();

    const before = page.getByRole('img', { name: 'Before: bicubic' });
    const after = page.getByRole('img', { name: 'After: cmsc-tiny · best · fp32' });
    await after.waitFor({ timeout: 90_000 });
    const beforeSrc = await before.getAttribute('src');
    const afterSrc = await after.getAttribute('src');
    const viewer = page.getByTestId('viewer');
    const captions = () => page.locator('.pane-label').allTextContents();
    /** The picture in the right-hand pane. */
    const rightSrc = () => page.locator('.panes figure').last().locator('img').getAttribute('src');
    expect(await captions()).toEqual(['Before: bicubic', 'After: cmsc-tiny · best · fp32']);

    // Hold F (the crop box has the focus): the panes change places until it is let go.
    await page.keyboard.down('f');
    await poll(() => viewer.getAttribute('data-swapped')).toBe('true');
    expect(await rightSrc()).toBe(beforeSrc);
    expect(await captions()).toEqual(['⇄ After: cmsc-tiny · best · fp32', '⇄ Before: bicubic']);
    await screenshots('1-f-held');
    await page.keyboard.up('f');
    await poll(() => viewer.getAttribute('data-swapped')).toBe('false');
    expect(await rightSrc()).toBe(afterSrc);

    // The same with the pointer: press and hold "Hold to swap".
    const swap = page.getByRole('button', { name: /^Hold to swap/ });
    await swap.scrollIntoViewIfNeeded();
    const swapBox = await swap.boundingBox();
    if (!swapBox) throw new Error('no swap button');
    await page.mouse.move(swapBox.x + swapBox.width / 2, swapBox.y + swapBox.height / 2);
    await page.mouse.down();
    await poll(() => viewer.getAttribute('data-swapped')).toBe('true');
    expect(await swap.getAttribute('aria-pressed')).toBe('true');
    await page.mouse.up();
    await poll(() => viewer.getAttribute('data-swapped')).toBe('false');

    // 3-up: bicubic | A (the fast preset by default) | B (the batch's own choice).
    await page.getByRole('radio', { name: '3-up: bicubic | A | B' }).check();
    await poll(() => viewer.getAttribute('data-mode')).toBe('three-up');
    await page
      .getByRole('img', { name: 'A: cmsc-tiny · fast · fp32' })
      .waitFor({ timeout: 90_000 });
    await poll(captions).toEqual([
      'Bicubic',
      'A: cmsc-tiny · fast · fp32',
      'B: cmsc-tiny · best · fp32',
    ]);
    // Three panes of one width, side by side.
    const paneWidths = (await page.evaluate(
      `[...document.querySelectorAll('.panes figure')].map((figure) => figure.clientWidth)`,
    )) as number[];
    expect(paneWidths).toHaveLength(3);
    expect(Math.max(...paneWidths) - Math.min(...paneWidths)).toBeLessThanOrEqual(1);
    await screenshots('2-three-up');

    // Flicker in the 3-up swaps A and B; bicubic stays.
    await page.keyboard.down('f');
    await poll(captions).toEqual([
      '⇄ Bicubic',
      '⇄ B: cmsc-tiny · best · fp32',
      '⇄ A: cmsc-tiny · fast · fp32',
    ]);
    await page.keyboard.up('f');
    await poll(captions).toEqual([
      'Bicubic',
      'A: cmsc-tiny · fast · fp32',
      'B: cmsc-tiny · best · fp32',
    ]);
  });
});
