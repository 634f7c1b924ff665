/**
 * Output sharpening (issue 23), in Chromium against web mode: set in Export settings, stored
 * with them, and shown at once on Compare's upscaled pane, from the crop already upscaled.
 * Screenshots, light and dark: test-results/e2e/output-sharpening-*.png.
 */
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWebMode, type WebModeSession } from './webModeHarness.ts';

function poll<T>(read: () => T | Promise<T>, options: { timeout?: number } = {}) {
  return expect.poll(read, { timeout: 30_000, ...options });
}

/** Stripes: edges the sharpening has something to do with. */
async function stripedPhoto(file: string, width: number, height: number): Promise<void> {
  const pixels = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const offset = (y * width + x) * 3;
      const stripe = Math.floor(x / 6) % 2 === 0 ? 70 : 180;
      pixels[offset] = stripe;
      pixels[offset + 1] = Math.round(stripe * 0.9 + (40 * y) / height);
      pixels[offset + 2] = 200 - stripe / 2;
    }
  }
  await sharp(pixels, { raw: { width, height, channels: 3 } })
    .jpeg({ quality: 92 })
    .toFile(file);
}

/**
 * Mean absolute horizontal difference of the right pane's picture (its grey levels): more
 * sharpening, steeper edges. Read in the page from the picture shown (a string: this file is
 * compiled without the DOM library).
 */
async function afterEdgeStrength(page: Page): Promise<number> {
  await page.getByRole('img', { name: /^After: / }).waitFor();
  return page.evaluate(`(async () => {
    const img = [...document.querySelectorAll('img')].find((e) => e.alt.startsWith('After: '));
    await img.decode();
    const canvas = document.createElement('canvas');
    canvas.width = img.naturalWidth;
    canvas.height = img.naturalHeight;
    const context = canvas.getContext('2d');
    context.drawImage(img, 0, 0);
    const { data, width, height } = context.getImageData(0, 0, canvas.width, canvas.height);
    let sum = 0;
    for (let y = 0; y < height; y++)
      for (let x = 1; x < width; x++) sum += Math.abs(data[(y * width + x) * 4 + 1] - data[(y * width + x - 1) * 4 + 1]);
    return sum / (height * (width - 1));
  })()`);
}

describe('Output sharpening', () => {
  let session: WebModeSession;
  beforeAll(async () => {
    session = await startWebMode('output-sharpening', {
      expectedConsoleErrors: [/status of 409 \(Conflict\)/],
    });
  });
  afterAll(async () => {
    await session?.close();
  });

  it('is set in Export settings, stored, and shown live on the upscaled crop in Compare', async () => {
    const { page, workDir } = session;
    const folder = path.join(workDir, 'stripes');
    await mkdir(folder, { recursive: true });
    await stripedPhoto(path.join(folder, 'stripes.jpg'), 480, 320);

    await page.goto(session.url);
    await page.getByRole('button', { name: 'Add folder…' }).click();
    const picker = page.getByRole('dialog', { name: 'Add a folder of photos' });
    await picker.getByRole('button', { name: 'stripes' }).click();
    await poll(() => picker.textContent()).toContain(`directly in ${folder}`);
    await picker.getByRole('button', { name: 'Choose this folder' }).click();
    await page.getByRole('button', { name: 'Preview', exact: true }).click();

    const after = page.getByRole('img', { name: /^After: / });
    await poll(() => after.getAttribute('alt'), { timeout: 90_000 }).toMatch(/ · best · /);
    expect(await after.getAttribute('alt')).not.toContain('sharpened');
    expect(await page.getByTestId('crop-sharpening').count()).toBe(0);
    const plain = await afterEdgeStrength(page);

    // Export settings: sharpening off by default; "Sharpen for" waits for an amount.
    await page.keyboard.press('Control+3');
    const amount = page.getByLabel('Output sharpening');
    const medium = page.getByLabel('Sharpen for');
    expect(await amount.inputValue()).toBe('none');
    expect(await medium.isDisabled()).toBe(true);
    await amount.selectOption('high');
    expect(await medium.isDisabled()).toBe(false);
    await medium.selectOption('print');
    await poll(() => page.getByText('Saved').count()).toBeGreaterThan(0);
    await amount.scrollIntoViewIfNeeded();
    await session.screenshots('output-sharpening-1-settings');
    await poll(async () =>
      JSON.parse(await readFile(path.join(workDir, 'data/settings.json'), 'utf8')),
    ).toMatchObject({ sharpening: { amount: 'high', medium: 'print' } });

    // Back in Compare: the same crop, sharpened, named so, without upscaling it again.
    await page.keyboard.press('Control+2');
    await poll(() => after.getAttribute('alt')).toContain(' · sharpened high');
    await poll(() => page.getByTestId('crop-sharpening').textContent()).toContain(
      'Output sharpening high, for print, as the export applies it',
    );
    await poll(() => page.getByTestId('crop-timing').textContent()).toMatch(/cache/i);
    const sharpened = await afterEdgeStrength(page);
    expect(sharpened).toBeGreaterThan(plain * 1.05);
    await session.screenshots('output-sharpening-2-compare');

    // Off again: the pane goes back to the model's own pixels.
    await page.keyboard.press('Control+3');
    await amount.selectOption('none');
    await page.keyboard.press('Control+2');
    await poll(() => after.getAttribute('alt')).not.toContain('sharpened');
    await poll(() => afterEdgeStrength(page)).toBeCloseTo(plain, 3);
  });
});
