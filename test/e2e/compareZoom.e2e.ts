/**
 * Issue 23, defect 7 and the crop box of defect 10, in Chromium against web mode: Compare
 * zooms like a photo tool.
 * - the default crop lands on the photo's detail, not its middle;
 * - double-click toggles Fit / 100 %, the wheel zooms around the pointer, zoom is named in % of
 *   the output pixels;
 * - zoomed in, the overview marks the part on screen;
 * - moving the crop keeps the pan;
 * - a 12 MP photo's crop box is still a box a pointer can grab, its handle outside it;
 * - Compare remembers each photo's crop, zoom, view and model when you leave and come back.
 * Screenshots, light and dark: test-results/e2e/compare-zoom-*.png.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWebMode, type WebModeSession } from './webModeHarness.ts';

function poll<T>(read: () => T | Promise<T>, options: { timeout?: number } = {}) {
  return expect.poll(read, { timeout: 30_000, ...options });
}

/**
 * A smooth gradient with one busy patch (a fine checkerboard with rings) in `patch`: the only
 * detail in the photo, well away from its middle.
 */
async function photoWithDetail(
  file: string,
  width: number,
  height: number,
  patch: { x: number; y: number; width: number; height: number },
): Promise<void> {
  const pixels = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const offset = (y * width + x) * 3;
      const inside =
        x >= patch.x && x < patch.x + patch.width && y >= patch.y && y < patch.y + patch.height;
      const busy = inside && ((x >> 2) + (y >> 2)) % 2 === 0;
      pixels[offset] = busy ? 250 : Math.round(90 + (60 * x) / width);
      pixels[offset + 1] = busy ? 240 : Math.round(110 + (50 * y) / height);
      pixels[offset + 2] = busy ? 30 : 150;
    }
  }
  await sharp(pixels, { raw: { width, height, channels: 3 } })
    .jpeg({ quality: 92 })
    .toFile(file);
}

/** `1200×900 · crop 230×330 at (850, 560) · ×2` → the crop. */
function cropOf(text: string | null): { x: number; y: number; width: number; height: number } {
  const match = /crop (\d+)×(\d+) at \((\d+), (\d+)\)/.exec(text ?? '');
  if (!match) throw new Error(`no crop in ${text}`);
  return { width: +match[1]!, height: +match[2]!, x: +match[3]!, y: +match[4]! };
}

/** Where the right pane's picture sits: its pane's inner corner, its offset and drawn size. */
async function afterGeometry(page: Page): Promise<{
  left: number;
  top: number;
  paneWidth: number;
  paneHeight: number;
  x: number;
  y: number;
  width: number;
  height: number;
}> {
  await page.getByRole('img', { name: /^After: / }).waitFor();
  // Evaluated in the page (a string: this file is compiled without the DOM library).
  return page.evaluate(`(() => {
    const img = [...document.querySelectorAll('img')].find((element) => element.alt.startsWith('After: '));
    const pane = img.closest('.viewport');
    const bounds = pane.getBoundingClientRect();
    const match = /translate\\(([-\\d.]+)px, ([-\\d.]+)px\\)/.exec(img.style.transform);
    return {
      left: bounds.left + pane.clientLeft,
      top: bounds.top + pane.clientTop,
      paneWidth: pane.clientWidth,
      paneHeight: pane.clientHeight,
      x: Number(match[1]),
      y: Number(match[2]),
      width: parseFloat(img.style.width),
      height: parseFloat(img.style.height),
    };
  })()`);
}

describe('Compare zooms like a photo tool', () => {
  let session: WebModeSession;
  beforeAll(async () => {
    session = await startWebMode('compare-zoom', {
      expectedConsoleErrors: [/status of 409 \(Conflict\)/],
    });
  });
  afterAll(async () => {
    await session?.close();
  });

  const screenshots = (name: string): Promise<void> => session.screenshots(name);

  it('opens on detail, zooms at the pointer, marks what is visible and remembers each photo', async () => {
    const { page, workDir } = session;
    const folder = path.join(workDir, 'walk');
    await mkdir(folder, { recursive: true });
    // The detail sits in the lower right of the first photo, the upper left of the second.
    const detail = { x: 820, y: 560, width: 300, height: 280 };
    await photoWithDetail(path.join(folder, '1-detail.jpg'), 1200, 900, detail);
    const bigDetail = { x: 300, y: 250, width: 500, height: 400 };
    await photoWithDetail(path.join(folder, '2-big.jpg'), 4000, 3000, bigDetail);

    await page.goto(session.url);
    await page.getByRole('button', { name: 'Add folder…' }).click();
    const picker = page.getByRole('dialog', { name: 'Add a folder of photos' });
    await picker.getByRole('button', { name: 'walk' }).click();
    await poll(() => picker.textContent()).toContain(`directly in ${folder}`);
    await picker.getByRole('button', { name: 'Choose this folder' }).click();
    await page.getByRole('button', { name: 'Preview', exact: true }).click();

    // The default crop is on the detail, not in the middle of the photo.
    const cropInfo = page.getByTestId('crop-info');
    await poll(() => cropInfo.textContent()).toMatch(/^1200×900 · crop \d+×\d+ at/);
    const first = cropOf(await cropInfo.textContent());
    const centre = { x: first.x + first.width / 2, y: first.y + first.height / 2 };
    expect(centre.x).toBeGreaterThan(detail.x);
    expect(centre.x).toBeLessThan(detail.x + detail.width);
    expect(centre.y).toBeGreaterThan(detail.y);
    expect(centre.y).toBeLessThan(detail.y + detail.height);
    const shownRect = () => page.locator('[data-shown-rect]').getAttribute('data-shown-rect');
    const rectText = (crop: typeof first) => `${crop.x},${crop.y},${crop.width},${crop.height}`;
    await poll(shownRect, { timeout: 90_000 }).toBe(rectText(first));
    const zoomText = page.getByTestId('zoom-text');
    await poll(() => zoomText.textContent()).toMatch(/^Fit: \d+ %$/);
    expect(await page.getByRole('radio', { name: 'Fit' }).isChecked()).toBe(true);
    // Fit shows the whole crop: nothing to mark inside it.
    expect(await page.getByTestId('visible-box').count()).toBe(0);
    await screenshots('1-default-crop-on-detail');

    // Double-click at a point of the right pane: 100 %, that point of the crop stays put.
    const fit = await afterGeometry(page);
    const pointer = { x: fit.left + fit.paneWidth / 2 + 40, y: fit.top + fit.paneHeight / 2 + 30 };
    /** The crop's output pixel under the pointer. */
    const under = (g: typeof fit) => ({
      x: ((pointer.x - g.left - g.x) / g.width) * first.width * 2,
      y: ((pointer.y - g.top - g.y) / g.height) * first.height * 2,
    });
    const atFit = under(fit);
    await page.mouse.dblclick(pointer.x, pointer.y);
    await poll(() => zoomText.textContent()).toBe('100 %');
    expect(await page.getByRole('radio', { name: '100 %' }).isChecked()).toBe(true);
    const at100 = await afterGeometry(page);
    expect(at100.width).toBe(first.width * 2);
    expect(Math.abs(under(at100).x - atFit.x)).toBeLessThanOrEqual(2);
    expect(Math.abs(under(at100).y - atFit.y)).toBeLessThanOrEqual(2);

    // The wheel zooms in around the pointer (182 % for three notches), no step level needed.
    await page.mouse.move(pointer.x, pointer.y);
    await page.mouse.wheel(0, -300);
    await poll(() => zoomText.textContent()).toBe('182 %');
    const wheeled = await afterGeometry(page);
    expect(Math.abs(under(wheeled).x - atFit.x)).toBeLessThanOrEqual(2);
    expect(Math.abs(under(wheeled).y - atFit.y)).toBeLessThanOrEqual(2);
    // A pinch (ctrl+wheel) zooms too; the page itself is not zoomed.
    await page.keyboard.down('Control');
    await page.mouse.wheel(0, -20);
    await page.keyboard.up('Control');
    await poll(() => zoomText.textContent()).toBe('223 %');
    // Double-click again: back to Fit.
    await page.mouse.dblclick(pointer.x, pointer.y);
    await poll(() => zoomText.textContent()).toMatch(/^Fit: \d+ %$/);

    // 400 %: the overview marks the part of the crop on screen, inside the crop's window.
    await page.getByRole('radio', { name: '400 %' }).check();
    await poll(() => zoomText.textContent()).toBe('400 %');
    const visibleBox = page.getByTestId('visible-box');
    await visibleBox.waitFor();
    const windowBox = await page.locator('.window').boundingBox();
    const marked = await visibleBox.boundingBox();
    const at400 = await afterGeometry(page);
    if (!windowBox || !marked) throw new Error('overview boxes not drawn');
    // The pane shows paneWidth / (4 × output width) of the crop across.
    const across = Math.min(1, at400.paneWidth / at400.width);
    expect(marked.width / windowBox.width).toBeCloseTo(across, 1);
    expect(marked.x).toBeGreaterThanOrEqual(windowBox.x - 2);
    expect(marked.x + marked.width).toBeLessThanOrEqual(windowBox.x + windowBox.width + 2);
    await screenshots('2-zoom-400-visible-part');

    // Pan to the crop's upper left, then move the crop: the pan stays where it was.
    const afterPane = page.getByRole('application', { name: /^After: / });
    await afterPane.focus();
    for (let press = 0; press < 6; press++) await page.keyboard.press('ArrowLeft');
    for (let press = 0; press < 4; press++) await page.keyboard.press('ArrowUp');
    const panned = await afterGeometry(page);
    expect(panned.x).not.toBe(at400.x);
    await page.getByTestId('crop-box').focus();
    for (let press = 0; press < 3; press++) await page.keyboard.press('ArrowLeft');
    const moved = { ...first, x: first.x - 12 };
    await poll(() => cropInfo.textContent()).toContain(`at (${moved.x}, ${moved.y})`);
    await poll(shownRect, { timeout: 90_000 }).toBe(rectText(moved));
    const afterMove = await afterGeometry(page);
    expect([afterMove.x, afterMove.y]).toEqual([panned.x, panned.y]);

    // Split view and another model on the right: part of this photo's state.
    await page.locator('body').press('s');
    await poll(() => page.getByTestId('viewer').getAttribute('data-mode')).toBe('split');
    await page.getByLabel('Model and preset on the right').selectOption('cmsc-tiny|fast');
    await page.getByRole('img', { name: /^After: cmsc-tiny · fast/ }).waitFor({ timeout: 90_000 });
    const splitPan = await afterGeometry(page);

    // The second photo (12 MP): its crop is a few pixels of the overview, yet the box is a
    // target a pointer can grab, and the resize handle sits outside it.
    await page.getByLabel('Photo', { exact: true }).selectOption(path.join(folder, '2-big.jpg'));
    await poll(() => cropInfo.textContent()).toMatch(/^4000×3000 · crop \d+×\d+ at/);
    const big = cropOf(await cropInfo.textContent());
    expect(big.x + big.width / 2).toBeGreaterThan(bigDetail.x);
    expect(big.x + big.width / 2).toBeLessThan(bigDetail.x + bigDetail.width);
    await poll(shownRect, { timeout: 90_000 }).toBe(rectText(big));
    const box = await page.getByTestId('crop-box').boundingBox();
    const handle = await page.getByTitle('Drag to resize').boundingBox();
    if (!box || !handle) throw new Error('crop box not drawn');
    expect(Math.min(box.width, box.height)).toBeGreaterThanOrEqual(28);
    expect(handle.x).toBeGreaterThanOrEqual(box.x + box.width - 1);
    expect(handle.y).toBeGreaterThanOrEqual(box.y + box.height - 1);
    // Grab the middle of the box and drag it 10 screen pixels right.
    const ratio = 300 / 4000;
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width / 2 + 10, box.y + box.height / 2, { steps: 3 });
    await page.mouse.up();
    const dragged = { ...big, x: big.x + Math.round(10 / ratio) };
    await poll(() => cropInfo.textContent()).toContain(`at (${dragged.x}, ${dragged.y})`);
    // This photo in side-by-side at Fit: its own state, not the first photo's.
    await page.locator('body').press('s');
    await page.getByRole('radio', { name: 'Fit' }).check();
    await poll(shownRect, { timeout: 90_000 }).toBe(rectText(dragged));
    await screenshots('3-big-photo-crop-box');

    // Leave Compare and come back: the second photo as it was.
    await page.keyboard.press('Control+1');
    await page.getByRole('button', { name: 'Start batch' }).waitFor();
    await page.keyboard.press('Control+2');
    await poll(() => cropInfo.textContent()).toContain(`at (${dragged.x}, ${dragged.y})`);
    await poll(() => zoomText.textContent()).toMatch(/^Fit: \d+ %$/);
    expect(await page.getByTestId('viewer').getAttribute('data-mode')).toBe('side-by-side');

    // And the first photo as it was: crop, 400 %, the pan, split view, the fast preset.
    await page.getByLabel('Photo', { exact: true }).selectOption(path.join(folder, '1-detail.jpg'));
    await poll(() => cropInfo.textContent()).toContain(`at (${moved.x}, ${moved.y})`);
    await poll(shownRect, { timeout: 90_000 }).toBe(rectText(moved));
    expect(await zoomText.textContent()).toBe('400 %');
    expect(await page.getByTestId('viewer').getAttribute('data-mode')).toBe('split');
    expect(await page.getByLabel('Model and preset on the right').inputValue()).toBe(
      'cmsc-tiny|fast',
    );
    await page.getByRole('img', { name: /^After: cmsc-tiny · fast/ }).waitFor({ timeout: 90_000 });
    const back = await afterGeometry(page);
    expect([back.x, back.y]).toEqual([splitPan.x, splitPan.y]);
    await screenshots('4-first-photo-restored');
  });
});
