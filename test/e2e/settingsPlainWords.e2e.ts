/**
 * Issue 23, defect 5: Settings in plain words. Quality is fast / balanced / best, int8 is
 * "Fast CPU mode", and the technical details (stages, int8, dB, self-ensemble, device, model,
 * source) wait behind a disclosure.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWebMode, type WebModeSession } from './webModeHarness.ts';

const { poll } = expect;

describe('Export settings in plain words', () => {
  let session: WebModeSession;
  beforeAll(async () => {
    session = await startWebMode('settings-plain-words');
  });
  afterAll(async () => {
    await session?.close();
  });

  it('shows quality and Fast CPU mode in words, with the jargon behind "Details"', async () => {
    const { page } = session;
    await page.goto(session.url);
    await page.getByRole('button', { name: 'Export settings' }).click();
    const settings = page.locator('section.settings');
    expect(
      await page.getByLabel('Quality', { exact: true }).locator('option').allTextContents(),
    ).toEqual(['Fast', 'Balanced', 'Best']);
    const fastCpu = page.getByRole('checkbox', { name: 'Fast CPU mode' });
    expect(await fastCpu.isChecked()).toBe(true);
    // What a person reads with the details closed: none of the jargon.
    const visibleText = await settings.innerText();
    for (const jargon of ['int8', 'dB', 'Self-ensemble', 'stage', 'fp32', 'Set5'])
      expect(visibleText).not.toContain(jargon);
    expect(await page.getByLabel('Precision').isVisible()).toBe(false);
    await page.getByRole('checkbox', { name: 'Fast CPU mode' }).scrollIntoViewIfNeeded();
    await session.screenshots('1-plain');

    // Fast CPU mode off is precision fp32, stored and shown in the details.
    await fastCpu.uncheck();
    await poll(() => page.getByTestId('settings-status').textContent()).toBe('Saved');
    const stored = JSON.parse(
      await readFile(path.join(session.workDir, 'data/settings.json'), 'utf8'),
    ) as { precision: string };
    expect(stored.precision).toBe('fp32');
    await page.locator('summary', { hasText: 'Details: device, model' }).click();
    expect(await page.getByLabel('Precision').inputValue()).toBe('fp32');
    expect(await settings.innerText()).toContain('Self-ensemble');
    await page.getByLabel('Precision').scrollIntoViewIfNeeded();
    await session.screenshots('2-details-open');

    // The disclosure stays as it was left, across a reload.
    await page.reload();
    await page.getByRole('button', { name: 'Export settings' }).click();
    expect(await page.getByLabel('Precision').isVisible()).toBe(true);
    expect(await page.getByRole('checkbox', { name: 'Fast CPU mode' }).isChecked()).toBe(false);
  });
});
