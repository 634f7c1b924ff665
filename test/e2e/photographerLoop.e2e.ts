/**
 * The loop a photographer runs, in Chromium against web mode: preview crops of a folder before
 * starting it (two models or presets side by side), start it from Compare, read the estimate and
 * its basis, watch per-photo progress, read the report. Screenshots in light and dark.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { paneFillingCrop } from '../../src/renderer/src/lib/cropGeometry.ts';
import {
  startWebMode,
  unlabelledControls,
  writeSyntheticPhotos,
  type WebModeSession,
} from './webModeHarness.ts';

/** expect.poll with room for a loaded machine (the default second is too short there). */
function poll<T>(read: () => T | Promise<T>, options: { timeout?: number } = {}) {
  return expect.poll(read, { timeout: 15_000, ...options });
}

describe("the photographer's loop", () => {
  let session: WebModeSession;
  beforeAll(async () => {
    session = await startWebMode('loop', {
      expectedConsoleErrors: [
        // Compare sends a new crop while the last one runs; main answers the older one
        // "superseded", which the page ignores but Chromium logs.
        /status of 409 \(Conflict\)/,
        // The folder picker test types a folder that does not exist.
        /status of 400 \(Bad Request\)/,
        // The report test's broken.jpg has no thumbnail.
        /status of 422 \(Unprocessable Entity\)/,
      ],
    });
  });
  afterAll(async () => {
    await session?.close();
  });

  const screenshots = (name: string): Promise<void> => session.screenshots(name);

  /** Adds a folder of the work folder through the folder browser, typing its path. */
  async function addFolder(page: Page, name: string): Promise<void> {
    await page.getByRole('button', { name: 'Add folder…' }).click();
    const browser = page.getByRole('dialog', { name: 'Add a folder of photos' });
    const field = browser.getByLabel('Folder', { exact: true });
    // The folder it opens at fills the field when its listing comes; type after that.
    await poll(() => browser.textContent(), { timeout: 30_000 }).toContain('directly in');
    await field.fill(path.join(session.workDir, name));
    await field.press('Enter');
    await poll(() => browser.textContent(), { timeout: 30_000 }).toContain(
      `directly in ${path.join(session.workDir, name)}`,
    );
    await browser.getByRole('button', { name: 'Choose this folder' }).click();
  }

  it('previews a folder that was added but not started, two presets side by side, then starts it from Compare', async () => {
    const { page } = session;
    const garden = path.join(session.workDir, 'garden');
    await writeSyntheticPhotos(garden, 2, 480, 360);
    await page.goto(session.url);
    await addFolder(page, 'garden');

    // The estimate comes from a timed run on this machine, and says so.
    await poll(() => page.getByTestId('preflight-files').textContent()).toBe('2');
    await poll(() => page.getByTestId('preflight-time').textContent()).toMatch(
      /≈ [\d.]+ s\s+\(timed on this machine\)/,
    );
    expect(await page.getByTestId('preflight-speed').textContent()).toMatch(
      /^\s*Speed: cmsc-tiny \(best, fp32\) on CPU at [\d.]+ [MG]FLOP\/s, timed on a test photo · [\d.]+ MP\/s\s*$/,
    );
    await screenshots('1-preflight');

    // Preview before starting: Compare opens the folder's first photo.
    await page.getByRole('button', { name: 'Preview', exact: true }).click();
    const photo = page.getByLabel('Photo', { exact: true });
    await poll(() => photo.inputValue()).toBe(path.join(garden, 'photo-1.jpg'));
    expect(await photo.locator('option').allTextContents()).toEqual([
      'photo-1.jpg (not started)',
      'photo-2.jpg (not started)',
    ]);
    // The default crop fills one pane at 1×: the upscaled crop is as large as the pane allows.
    const view = await page
      .locator('.view')
      .evaluate((element) => ({ width: element.clientWidth, height: element.clientHeight }));
    const size = paneFillingCrop((view.width - 8) / 2, view.height - 56, 2, 480, 360);
    // Placed on the photo's busiest part (issue 23), so read where it went.
    const cropInfo = page.getByTestId('crop-info');
    await poll(() => cropInfo.textContent()).toMatch(
      new RegExp(`crop ${size.width}×${size.height} at \\(\\d+, \\d+\\)`),
    );
    const [, cropX, cropY] = /at \((\d+), (\d+)\)/.exec((await cropInfo.textContent()) ?? '') ?? [];
    const expected = { ...size, x: Number(cropX), y: Number(cropY) };
    const shownRect = () => page.locator('[data-shown-rect]').getAttribute('data-shown-rect');
    await poll(shownRect, { timeout: 60_000 }).toBe(
      `${expected.x},${expected.y},${expected.width},${expected.height}`,
    );
    expect(expected.width).toBeGreaterThan(128);
    // Which model made the crop, and the zoom says what it is relative to.
    const after = page.getByRole('img', { name: 'After: cmsc-tiny · best' });
    await after.waitFor();
    expect(await page.getByRole('group', { name: /^Zoom: % of the output pixels/ }).count()).toBe(
      1,
    );
    expect(await page.getByRole('radio', { name: 'Fit' }).isChecked()).toBe(true);
    await screenshots('2-preview-not-started');

    // Two presets of the registry's model on the same crop: fast on the left, best on the right.
    await page.getByRole('radio', { name: 'Model' }).check();
    const leftChoices = await page
      .getByLabel('Model and preset on the left')
      .locator('option')
      .allTextContents();
    expect(leftChoices.slice(1)).toEqual([
      'cmsc-tiny · fast',
      'cmsc-tiny · balanced',
      'cmsc-tiny · best',
    ]);
    await page.getByLabel('Model and preset on the left').selectOption('cmsc-tiny|fast');
    await page.getByRole('img', { name: 'Left: cmsc-tiny · fast' }).waitFor({ timeout: 60_000 });
    await page.getByRole('radio', { name: '200 %' }).check();
    await poll(() => after.getAttribute('style')).toMatch(
      new RegExp(`^width: ${expected.width * 4}px; height: ${expected.height * 4}px;`),
    );
    await screenshots('3-two-presets');
    expect(await unlabelledControls(page)).toEqual([]);

    // Looks good: the folder starts, and Compare's list now holds its job's photos once each.
    await page.getByRole('button', { name: 'Looks good → start garden' }).click();
    await page.getByRole('article', { name: 'Job garden' }).waitFor();
    expect(await page.locator('[aria-label="New job"]').count()).toBe(0);
    await page.waitForSelector('[data-testid="job-state"]:text("Finished")', { timeout: 90_000 });
    await page.getByRole('button', { name: 'Compare', exact: true }).first().click();
    await poll(() =>
      page.getByLabel('Photo', { exact: true }).locator('option').allTextContents(),
    ).toEqual(['photo-1.jpg', 'photo-2.jpg']);
  });

  it('warns before starting: outputs that exist (and what happens to them), photos only in sub-folders', async () => {
    const { page } = session;
    // garden was upscaled above: adding it again finds its outputs up to date (the output
    // folder's manifest), so there is nothing to warn about and nothing to do.
    await page.getByRole('button', { name: 'Batch', exact: true }).click();
    await addFolder(page, 'garden');
    const warnings = page.getByTestId('preflight-warning');
    await poll(() => page.getByTestId('preflight-up-to-date').textContent()).toMatch(
      /^\s*0 to upscale, 2 up to date\s*$/,
    );
    await poll(() => warnings.count()).toBe(0);
    await poll(() => page.getByTestId('start-blocked').textContent()).toMatch(
      /^Nothing to do: every output is up to date/,
    );
    await screenshots('4-up-to-date');
    await page.getByRole('button', { name: 'Remove garden' }).click();

    const trip = path.join(session.workDir, 'trip');
    await writeSyntheticPhotos(path.join(trip, 'day1'), 2, 64, 48);
    await writeSyntheticPhotos(path.join(trip, 'day2'), 1, 64, 48);
    await page.getByLabel('Include subfolders').uncheck();
    await addFolder(page, 'trip');
    await poll(() => page.getByTestId('no-photos').textContent()).toContain('No photos in trip');
    await poll(() => warnings.allTextContents()).toEqual([
      expect.stringMatching(
        /^\s*0 photos here, 3 in sub-folders: tick “Include subfolders” to upscale them too\.\s*$/,
      ),
    ]);
    await screenshots('4-warnings');
    await page.getByLabel('Include subfolders').check();
    await poll(() => page.getByTestId('preflight-files').textContent()).toBe('3');
    await poll(() => warnings.count()).toBe(0);
    await page.getByRole('button', { name: 'Remove trip' }).click();
  });

  it('shows elapsed and remaining time per photo from its start, "Paused" when paused, and a report people read', async () => {
    const { page } = session;
    const big = path.join(session.workDir, 'big');
    await writeSyntheticPhotos(big, 2, 1600, 1200);
    await writeFile(path.join(big, 'broken.jpg'), 'not a JPEG');
    await page.getByRole('button', { name: 'Export settings' }).click();
    // Small tiles: many steps per photo, so a photo is running long enough to look at.
    await page.getByLabel('Tile size mode').selectOption('fixed');
    await page.getByLabel('Tile side in pixels').fill('96');
    await page.getByLabel('Tile side in pixels').press('Tab');
    await poll(() => page.getByTestId('settings-status').textContent()).toBe('Saved');
    await page.getByRole('button', { name: 'Batch', exact: true }).click();
    await addFolder(page, 'big');
    await poll(() => page.getByTestId('preflight-files').textContent()).toBe('3');
    await page.getByRole('button', { name: 'Start batch' }).click();

    const job = page.getByRole('article', { name: 'Job big' });
    const running = job.locator('[data-file-state="running"]');
    await running.first().waitFor({ timeout: 60_000 });
    // From the first moments on: time spent and time left for the photo, the job and overall.
    await poll(() => running.first().locator('.dims').textContent(), { timeout: 30_000 }).toMatch(
      /^1600×1200 · [\d.]+ s elapsed · about [\d.]+ (s|min [\d]+ s) left$/,
    );
    await poll(() => job.getByTestId('job-eta').textContent()).toMatch(
      // Then what it wrote of what it will write (issue 23: learned from its own outputs).
      /^\d+% · [\d.]+ s elapsed · about [\d.]+ (s|min \d+ s) left · [\d.]+ MP\/s · [\d.]+ (B|KB|MB) of ≈ [\d.]+ (KB|MB)$/,
    );
    await poll(() => page.getByTestId('overall-progress').textContent()).toMatch(
      /^\d of 3 photos in 1 unfinished job · [\d.]+ s elapsed · about [\d.]+ (s|min \d+ s) left$/,
    );
    await screenshots('5-running');

    await job.getByRole('button', { name: 'Pause', exact: true }).click();
    // Pause lets the photo finish; "Pause now" stops it (its finished part kept for Resume).
    await job.getByRole('button', { name: 'Pause now' }).click();
    await poll(() => job.getByTestId('job-state').textContent()).toBe('Paused');
    await poll(() => job.getByTestId('file-state').allTextContents()).not.toContain('Upscaling');
    await poll(async () =>
      (await job.getByTestId('file-state').allTextContents()).some((state) =>
        /^Paused( · \d+ % kept)?$/.test(state),
      ),
    ).toBe(true);
    await screenshots('6-paused');
    await job.getByRole('button', { name: 'Resume' }).click();
    await page.waitForSelector(
      '[aria-label="Job big"] [data-testid="job-state"]:text("Finished")',
      {
        timeout: 120_000,
      },
    );
    // The broken file can never succeed: no "Retry failed" for it.
    expect(await job.getByRole('button', { name: 'Retry failed' }).count()).toBe(0);

    await job.getByRole('button', { name: 'Open report' }).click();
    const report = page.getByRole('dialog', { name: 'Report of big' });
    await poll(() => report.getByTestId('report-totals').textContent()).toMatch(
      /^3 photos · 2 done · 1 failed · [\d.]+ [KM]B → [\d.]+ [KM]B · [\d.]+ (s|min \d+ s)$/,
    );
    expect(await report.getByTestId('report-failure').allTextContents()).toEqual([
      expect.stringMatching(/^\s*broken\.jpg: Not an image, or in a format this build cannot read/),
    ]);
    // Failures first in the folder's table, then the others; sizes in MB, times in s.
    const rows = report.getByTestId('report-row');
    expect(await rows.locator('td:first-child').allTextContents()).toEqual([
      'broken.jpg',
      'photo-1.jpg',
      'photo-2.jpg',
    ]);
    expect(await rows.nth(1).locator('td').nth(2).textContent()).toMatch(
      /^[\d.]+ [KM]B → [\d.]+ MB · 1600×1200 → 3200×2400 · [\d.]+ s$/,
    );
    await screenshots('7-report');
    // Each photo links into Compare.
    await report.getByRole('button', { name: 'Compare photo-2.jpg' }).click();
    await poll(() => page.getByLabel('Photo', { exact: true }).inputValue()).toBe(
      path.join(big, 'photo-2.jpg'),
    );
  });

  it('folder picker: opens at the last folder, makes a new folder, never chooses a folder it does not show, previews a photo', async () => {
    const { page } = session;
    await page.getByRole('button', { name: 'Export settings' }).click();
    await page.getByRole('button', { name: 'Choose…' }).click();
    const picker = page.getByRole('dialog', { name: 'Choose the output folder' });
    // Opens at the input folder used last, not at home.
    await poll(() => picker.getByLabel('Folder', { exact: true }).inputValue()).toBe(
      path.join(session.workDir, 'big'),
    );
    // A typed folder that does not exist: an error, and "Choose" does not take the one listed.
    await picker.getByLabel('Folder', { exact: true }).fill(path.join(session.workDir, 'nowhere'));
    await picker.getByRole('button', { name: 'Choose this folder' }).click();
    await picker.getByRole('alert').waitFor();
    expect(await picker.getByRole('alert').textContent()).toBe('This folder does not exist');
    expect(await picker.getByRole('button', { name: 'Choose this folder' }).isDisabled()).toBe(
      true,
    );
    await screenshots('8-picker-missing-folder');
    // New folder inside the one shown, then chosen.
    await picker.getByRole('button', { name: 'Parent folder' }).click();
    await poll(() => picker.getByLabel('Folder', { exact: true }).inputValue()).toBe(
      session.workDir,
    );
    await picker.getByRole('button', { name: 'New folder…' }).click();
    await picker.getByLabel(/^New folder in/).fill('prints');
    await picker.getByRole('button', { name: 'Create' }).click();
    await poll(() => picker.getByLabel('Folder', { exact: true }).inputValue()).toBe(
      path.join(session.workDir, 'prints'),
    );
    await picker.getByRole('button', { name: 'Choose this folder' }).click();
    await poll(() => page.getByLabel('Output folder').inputValue()).toBe(
      path.join(session.workDir, 'prints'),
    );

    // "Preview" on a photo in the folder browser opens it in Compare, nothing started.
    const portraits = path.join(session.workDir, 'portraits');
    await writeSyntheticPhotos(portraits, 2, 200, 150);
    await mkdir(path.join(portraits, 'unused'), { recursive: true });
    await page.getByRole('button', { name: 'Batch', exact: true }).click();
    await page.getByRole('button', { name: 'Add folder…' }).click();
    const browser = page.getByRole('dialog', { name: 'Add a folder of photos' });
    await browser.getByRole('button', { name: 'Parent folder' }).click();
    await browser.getByRole('button', { name: 'portraits', exact: true }).click();
    await browser.getByRole('button', { name: 'Preview photo-2.jpg' }).click();
    await poll(() => page.getByLabel('Photo', { exact: true }).inputValue()).toBe(
      path.join(portraits, 'photo-2.jpg'),
    );
    await page.getByRole('button', { name: 'Looks good → start portraits' }).waitFor();
    await poll(() => page.locator('[data-shown-rect]').getAttribute('data-shown-rect'), {
      timeout: 60_000,
    }).not.toBe('');
    await screenshots('9-preview-from-browser');
  });

  it('settings show only what the format uses, say what Default means here, explain stages, tiles and self-ensemble', async () => {
    const { page } = session;
    await page.goto(session.url);
    await page.getByRole('button', { name: 'Export settings' }).click();
    // The output folder chosen in the previous test was stored, though the screen was left at once.
    expect(await page.getByLabel('Output folder').inputValue()).toBe(
      path.join(session.workDir, 'prints'),
    );
    const visible = (label: string) => page.getByLabel(label, { exact: true }).count();
    await page.getByLabel('File format').selectOption('png');
    expect(
      await Promise.all(
        [
          'PNG compression (0–9)',
          'JPEG quality',
          'WebP quality',
          'AVIF quality',
          'TIFF compression',
          'Bit depth',
        ].map(visible),
      ),
    ).toEqual([1, 0, 0, 0, 0, 1]);
    await page.getByLabel('File format').selectOption('jpeg');
    expect(
      await Promise.all(
        [
          'PNG compression (0–9)',
          'JPEG quality',
          'WebP quality',
          'TIFF compression',
          'Bit depth',
        ].map(visible),
      ),
    ).toEqual([0, 1, 0, 0, 0]);
    // "Default" names the model it means on this machine, and the name example uses it.
    expect(
      await page.getByLabel('Model', { exact: true }).locator('option').first().textContent(),
    ).toBe('Default (cmsc-tiny on this hardware)');
    await page.getByLabel('File name template').fill('{name}_{model}');
    await poll(() => page.getByTestId('naming-example').textContent()).toMatch(
      /IMG_0042\.jpg →\s*IMG_0042_cmsc-tiny\.jpg/,
    );
    const text = ((await page.locator('.settings').textContent()) ?? '').replace(/\s+/g, ' ');
    expect(text).not.toContain('Settings schema version');
    expect(text).toContain('The network refines the picture in stages');
    expect(text).toContain('the tile size changes memory use and speed, never the result');
    expect(text).toContain('flipped and turned 8 ways and averages them');
    await screenshots('10-settings');
    await page.getByLabel('File name template').fill('{name}_x{scale}');
    await poll(() => page.getByTestId('settings-status').textContent()).toBe('Saved');
  });
});
