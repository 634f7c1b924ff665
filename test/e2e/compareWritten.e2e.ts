/**
 * Issue 23, defect 8: Compare on a finished photo shows the file that was written (its region,
 * pixel for pixel), labelled "written file", not a fresh upscale of the crop; another model on
 * the right still upscales.
 */
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWebMode, writeSyntheticPhotos, type WebModeSession } from './webModeHarness.ts';

describe('Compare on a finished photo (web mode)', () => {
  let session: WebModeSession;
  beforeAll(async () => {
    // A crop asked for while the last one runs supersedes it (409), which Chromium logs.
    session = await startWebMode('compare-written', {
      expectedConsoleErrors: [/status of 409 \(Conflict\)/],
    });
  });
  afterAll(async () => {
    await session?.close();
  });

  it('shows the region of the written file, byte for byte, and says so', async () => {
    const { page } = session;
    await writeSyntheticPhotos(path.join(session.workDir, 'garden'), 1, 480, 360);
    await page.goto(session.url);
    await page.getByRole('button', { name: 'Add folder…' }).click();
    const browser = page.getByRole('dialog', { name: 'Add a folder of photos' });
    await browser.getByRole('button', { name: 'garden' }).click();
    await browser.getByRole('button', { name: 'Choose this folder' }).click();
    await page.getByRole('button', { name: 'Start batch' }).click();
    await page.waitForSelector(
      '[aria-label="Job garden"] [data-testid="job-state"]:text("Finished")',
      { timeout: 120_000 },
    );
    await page.getByRole('button', { name: 'Compare', exact: true }).first().click();

    const after = page.getByRole('img', { name: 'After: written file photo-1_x2.jpg' });
    await after.waitFor({ timeout: 60_000 });
    expect(await page.getByTestId('crop-timing').textContent()).toMatch(
      /^Read from the written file in [\d.]+ s$/,
    );
    const right = page.getByLabel('Model and preset on the right');
    expect(await right.locator('option:checked').textContent()).toBe(
      'Written file: photo-1_x2.jpg',
    );
    await session.screenshots('1-written-file');

    // The pane's pixels are the output file's pixels over the crop (x2: twice the crop's box).
    const info = (await page.getByTestId('crop-info').textContent()) ?? '';
    const [, w, h, x, y] = /crop (\d+)×(\d+) at \((\d+), (\d+)\)/.exec(info)?.map(Number) ?? [];
    if (w === undefined || h === undefined || x === undefined || y === undefined)
      throw new Error(`no crop in "${info}"`);
    // The picture's own pixels, read in the page through a canvas (the page's CSP lets no
    // fetch read a blob; a string: this file is compiled without the DOM library).
    const shownBase64 = (await page.evaluate(`(() => {
      const image = [...document.querySelectorAll('img')]
        .find((element) => element.alt === 'After: written file photo-1_x2.jpg');
      const canvas = document.createElement('canvas');
      canvas.width = image.naturalWidth;
      canvas.height = image.naturalHeight;
      const context = canvas.getContext('2d');
      context.drawImage(image, 0, 0);
      const rgba = context.getImageData(0, 0, canvas.width, canvas.height).data;
      let text = '';
      for (let index = 0; index < rgba.length; index += 4)
        text += String.fromCharCode(rgba[index], rgba[index + 1], rgba[index + 2]);
      return JSON.stringify([canvas.width, canvas.height, btoa(text)]);
    })()`)) as string;
    const [shownWidth, shownHeight, shownRgb] = JSON.parse(shownBase64) as [number, number, string];
    const shown = {
      info: { width: shownWidth, height: shownHeight },
      data: Buffer.from(shownRgb, 'base64'),
    };
    const onDisk = await sharp(path.join(session.workDir, 'garden-upscaled', 'photo-1_x2.jpg'))
      .extract({ left: 2 * x, top: 2 * y, width: 2 * w, height: 2 * h })
      .raw()
      .toBuffer({ resolveWithObject: true });
    expect([shown.info.width, shown.info.height]).toEqual([2 * w, 2 * h]);
    expect(shown.data.equals(onDisk.data)).toBe(true);

    // Another model on the right is a fresh upscale again, named by its model.
    await right.selectOption('cmsc-tiny|fast');
    await page.getByRole('img', { name: 'After: cmsc-tiny · fast' }).waitFor({ timeout: 60_000 });
    expect(await page.getByTestId('crop-timing').textContent()).toMatch(/^Upscaled in /);
  });
});
