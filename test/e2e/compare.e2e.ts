import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { paneFillingCrop } from '../../src/renderer/src/lib/cropGeometry.ts';
import {
  startWebMode,
  unlabelledControls,
  writeSyntheticPhotos,
  type WebModeSession,
} from './webModeHarness.ts';

describe('compare in the browser UI', () => {
  let session: WebModeSession;
  beforeAll(async () => {
    // A crop requested while the last one runs supersedes it: main answers the older one 409,
    // which the page ignores but Chromium logs.
    session = await startWebMode('compare', {
      expectedConsoleErrors: [/status of 409 \(Conflict\)/],
    });
  });
  afterAll(async () => {
    await session?.close();
  });

  it('upscales the crop, follows a moved crop box, zooms to 4x and switches to the split view', async () => {
    const { page } = session;
    await writeSyntheticPhotos(path.join(session.workDir, 'garden'), 1, 480, 360);
    await page.goto(session.url);
    await page.getByRole('button', { name: 'Add folder…' }).click();
    const folderBrowser = page.getByRole('dialog', { name: 'Add a folder of photos' });
    await folderBrowser.getByRole('button', { name: 'garden' }).click();
    await folderBrowser.getByRole('button', { name: 'Choose this folder' }).click();
    // Previewed before it starts: once a photo is written, the right pane shows the file
    // (compareWritten.e2e.ts), and this test is about upscaling crops.
    await page.getByRole('button', { name: 'Preview', exact: true }).click();

    // The 480x360 photo is shown 300x225 (ratio 0.625) with a crop whose x2 upscale fills one of
    // the two panes at 1x, on the photo's busiest part (issue 23: detail, not the centre).
    const view = await page
      .locator('.view')
      .evaluate((element) => ({ width: element.clientWidth, height: element.clientHeight }));
    const size = paneFillingCrop((view.width - 8) / 2, view.height - 56, 2, 480, 360);
    const { width, height } = size;
    const cropInfo = page.getByTestId('crop-info');
    await expect
      .poll(() => cropInfo.textContent())
      .toMatch(new RegExp(`^480×360 · crop ${width}×${height} at \\(\\d+, \\d+\\) · ×2$`));
    const [, xText, yText] = /at \((\d+), (\d+)\)/.exec((await cropInfo.textContent()) ?? '') ?? [];
    const detailX = Number(xText);
    const y = Number(yText);
    const timing = page.getByTestId('crop-timing');
    const shownRect = () => page.locator('[data-shown-rect]').getAttribute('data-shown-rect');
    await expect.poll(shownRect, { timeout: 60_000 }).toBe(`${detailX},${y},${width},${height}`);
    await expect.poll(() => timing.textContent()).toMatch(/^Upscaled in [\d.]+ s · CPU · 1 stage$/);
    await session.screenshot('1-first-crop');
    // To the left edge (Shift+arrows: 32 pixels a step), where the drag below has room.
    await page.getByTestId('crop-box').focus();
    for (let press = 0; press < 10; press++) await page.keyboard.press('Shift+ArrowLeft');
    const x = 0;
    await expect.poll(shownRect, { timeout: 60_000 }).toBe(`${x},${y},${width},${height}`);

    // In a short window the side panel scrolls rather than squashing its items: the overview
    // keeps the photo's 4:3 shape, and no select (long model labels) reaches past the panel.
    const viewport = page.viewportSize();
    await page.setViewportSize({ width: viewport?.width ?? 1280, height: 480 });
    const sideBox = await page.locator('.side').boundingBox();
    const overviewBox = await page.locator('.overview').boundingBox();
    const selectBoxes = await Promise.all(
      (await page.locator('.side select').all()).map((select) => select.boundingBox()),
    );
    if (!sideBox || !overviewBox) throw new Error('side panel or overview not visible');
    const layout = {
      sideRight: sideBox.x + sideBox.width,
      overview: overviewBox.height / overviewBox.width,
      selects: selectBoxes.map((box) => (box ? box.x + box.width : Infinity)),
    };
    expect(layout.overview).toBeCloseTo(360 / 480, 2);
    expect(layout.selects.length).toBeGreaterThan(1);
    for (const right of layout.selects) expect(right).toBeLessThanOrEqual(layout.sideRight);
    if (viewport) await page.setViewportSize(viewport);

    // Drag the crop box 50 px right on screen: 80 input pixels.
    const box = await page.getByTestId('crop-box').boundingBox();
    if (!box) throw new Error('crop box not visible');
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width / 2 + 25, box.y + box.height / 2, { steps: 4 });
    await page.mouse.move(box.x + box.width / 2 + 50, box.y + box.height / 2, { steps: 4 });
    await page.mouse.up();
    await expect
      .poll(() => cropInfo.textContent())
      .toBe(`480×360 · crop ${width}×${height} at (${x + 80}, ${y}) · ×2`);
    await expect.poll(shownRect, { timeout: 60_000 }).toBe(`${x + 80},${y},${width},${height}`);
    await expect.poll(() => timing.textContent()).toMatch(/^Upscaled in [\d.]+ s · CPU · 1 stage$/);
    await session.screenshot('2-moved-crop');

    // 400 % zoom (4 screen pixels per output pixel): the x2 crop is drawn 8 times its input size, in
    // both panes; the label names the model that made it.
    await page.getByRole('radio', { name: '400 %' }).check();
    const after = page.getByRole('img', { name: 'After: cmsc-tiny · best' });
    const drawn = new RegExp(`^width: ${width * 8}px; height: ${height * 8}px;`);
    await expect.poll(() => after.getAttribute('style')).toMatch(drawn);
    const before = page.getByRole('img', { name: 'Before: bicubic' });
    await expect.poll(() => before.getAttribute('style')).toMatch(drawn);
    // A quality-90 JPEG counts as a photo; with no photo variant installed the clean model runs.
    expect(await page.getByTestId('crop-model').textContent()).toBe(
      'Model cmsc-tiny: photo (JPEG quality ≈ 90)',
    );
    await session.screenshot('3-zoom-4x');

    // Nearest-neighbour before view, then the split slider (keyboard shortcut S).
    await page.getByRole('radio', { name: 'Nearest neighbour' }).check();
    await page.locator('body').press('s');
    await expect.poll(() => page.getByTestId('viewer').getAttribute('data-mode')).toBe('split');
    await page.getByRole('slider', { name: /Split position/ }).fill('30');
    // The line sits over the slider's thumb (issue 23: it was about 30 px off): a 16 px thumb's
    // centre runs from 8 px past the slider's left end to 8 px before its right end.
    const slider = await page.getByRole('slider', { name: /Split position/ }).boundingBox();
    const line = await page.locator('.split-line').boundingBox();
    if (!slider || !line) throw new Error('split line or slider not drawn');
    const thumbCentre = slider.x + 8 + 0.3 * (slider.width - 16);
    expect(Math.abs(line.x + line.width / 2 - thumbCentre)).toBeLessThanOrEqual(3);
    await session.screenshot('4-split-nearest');
    expect(await unlabelledControls(page)).toEqual([]);

    // Moving back to the first place answers from the crop cache at once.
    await page.getByTestId('crop-box').focus();
    for (let press = 0; press < 20; press++) await page.keyboard.press('ArrowLeft');
    await expect
      .poll(() => cropInfo.textContent())
      .toBe(`480×360 · crop ${width}×${height} at (${x}, ${y}) · ×2`);
    await expect.poll(shownRect).toBe(`${x},${y},${width},${height}`);
    await expect.poll(() => timing.textContent()).toBe('From cache · CPU · 1 stage');

    // The corner handle resizes the box: 20 and 10 screen pixels are 32 and 16 input pixels.
    const handle = await page.getByTitle('Drag to resize').boundingBox();
    if (!handle) throw new Error('resize handle not visible');
    await page.mouse.move(handle.x + handle.width / 2, handle.y + handle.height / 2);
    await page.mouse.down();
    await page.mouse.move(handle.x + handle.width / 2 - 20, handle.y + handle.height / 2 - 10, {
      steps: 4,
    });
    await page.mouse.up();
    await expect
      .poll(() => cropInfo.textContent())
      .toBe(`480×360 · crop ${width - 32}×${height - 16} at (${x}, ${y}) · ×2`);
    await expect
      .poll(shownRect, { timeout: 60_000 })
      .toBe(`${x},${y},${width - 32},${height - 16}`);
    await session.screenshot('5-resized');
  });
});
