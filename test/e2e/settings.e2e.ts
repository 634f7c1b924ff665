import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWebMode, unlabelledControls, type WebModeSession } from './webModeHarness.ts';

describe('export settings in the browser UI', () => {
  let session: WebModeSession;
  beforeAll(async () => {
    session = await startWebMode('settings');
  });
  afterAll(async () => {
    await session?.close();
  });

  it('keeps changed settings across a reload and stores them with the schema version', async () => {
    const { page } = session;
    await page.goto(session.url);
    await page.keyboard.press('Control+3');
    await page.getByRole('spinbutton', { name: 'Scale factor' }).fill('3');
    await page.getByRole('spinbutton', { name: 'Scale factor' }).press('Tab');
    await page.getByLabel('File format').selectOption('webp');
    await page.getByLabel('WebP quality').fill('75');
    await page.getByLabel('WebP quality').press('Tab');
    await page.getByLabel('File name template').fill('{name}_{width}px');
    await page.getByRole('radio', { name: 'Skip the photo' }).check();
    // The technical options sit behind a disclosure (issue 23), which stays open once opened.
    await page.locator('summary', { hasText: 'Details: device, model' }).click();
    await page.getByLabel('Self-ensemble (8× slower, slightly sharper)').check();
    await page.getByLabel('Precision').selectOption('fp32');
    // A fixed tile size says what its repeated context costs.
    await page.getByLabel('Tile size mode').selectOption('fixed');
    await expect
      .poll(() => page.getByTestId('tile-cost').textContent())
      .toMatch(/about\s+18 % more model work/);
    await page.getByLabel('Tile side in pixels').fill('1024');
    await page.getByLabel('Tile side in pixels').press('Tab');
    await expect
      .poll(() => page.getByTestId('tile-cost').textContent())
      .toMatch(/about\s+8 % more model work/);
    await expect
      .poll(() => page.getByTestId('naming-example').textContent())
      .toContain('IMG_0042_12000px.webp');
    await expect.poll(() => page.getByTestId('settings-status').textContent()).toBe('Saved');
    expect(await page.getByTestId('size-example').textContent()).toBe(
      'A 4000×3000 photo becomes 12000×9000 (108 MP).',
    );
    await session.screenshot('1-changed');
    expect(await unlabelledControls(page)).toEqual([]);

    await page.reload();
    await page.getByRole('button', { name: 'Export settings' }).click();
    expect(await page.getByRole('spinbutton', { name: 'Scale factor' }).inputValue()).toBe('3');
    expect(await page.getByLabel('File format').inputValue()).toBe('webp');
    expect(await page.getByLabel('WebP quality').inputValue()).toBe('75');
    expect(await page.getByLabel('File name template').inputValue()).toBe('{name}_{width}px');
    expect(await page.getByRole('radio', { name: 'Skip the photo' }).isChecked()).toBe(true);
    expect(await page.getByLabel('Self-ensemble (8× slower, slightly sharper)').isChecked()).toBe(
      true,
    );
    expect(await page.getByLabel('Precision').inputValue()).toBe('fp32');
    await session.screenshot('2-after-reload');
    await page.getByLabel('Precision').scrollIntoViewIfNeeded();
    await session.screenshot('2a-precision');
    // The theme follows the system: the same screen with a dark preference.
    await page.emulateMedia({ colorScheme: 'dark' });
    expect(await page.evaluate('getComputedStyle(document.documentElement).backgroundColor')).toBe(
      'rgb(21, 24, 29)',
    );
    await session.screenshot('2b-dark');
    await page.getByLabel('Precision').scrollIntoViewIfNeeded();
    await session.screenshot('2c-precision-dark');
    await page.emulateMedia({ colorScheme: 'light' });

    const stored = JSON.parse(
      await readFile(path.join(session.workDir, 'data/settings.json'), 'utf8'),
    ) as Record<string, unknown>;
    expect(stored).toMatchObject({
      schemaVersion: 1,
      target: { kind: 'scale', scale: 3 },
      format: 'webp',
      namingTemplate: '{name}_{width}px',
      overwrite: 'skip',
      selfEnsemble: true,
      precision: 'fp32',
      encoding: { webpQuality: 75 },
    });

    // An invalid template is explained and never stored.
    await page.getByLabel('File name template').fill('{name}_{nam}');
    await expect
      .poll(() => page.getByTestId('naming-example').textContent())
      .toContain('unknown token {nam}');
    await session.screenshot('3-invalid-template');
    await page.reload();
    await page.keyboard.press('Control+3');
    expect(await page.getByLabel('File name template').inputValue()).toBe('{name}_{width}px');
  });
});
