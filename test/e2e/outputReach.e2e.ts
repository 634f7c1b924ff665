/**
 * Issue 23: results within reach in web mode (defect 8) and progress outside the app. A job
 * runs; the window title carries its progress; each written photo downloads under its own name
 * and the whole job as one zip, both byte for byte what is on disk; the report's two paths read
 * "… and …".
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWebMode, writeSyntheticPhotos, type WebModeSession } from './webModeHarness.ts';

const run = promisify(execFile);
const { poll } = expect;

describe('results within reach (web mode)', () => {
  let session: WebModeSession;
  beforeAll(async () => {
    session = await startWebMode('output-reach');
  });
  afterAll(async () => {
    await session?.close();
  });

  it('shows progress in the title, downloads one photo and the whole job as a zip, and reports both paths', async () => {
    const { page } = session;
    const folder = path.join(session.workDir, 'trip');
    await writeSyntheticPhotos(folder, 3, 640, 480);
    await page.goto(session.url);
    expect(await page.title()).toBe('CMSC Upscaler');
    // Every title the page shows from here on, in order.
    await page.evaluate(`window.titlesSeen = [];
      new MutationObserver(() => window.titlesSeen.push(document.title))
        .observe(document.querySelector('title'), { childList: true, subtree: true, characterData: true });`);

    await page.getByRole('button', { name: 'Add folder…' }).click();
    const browser = page.getByRole('dialog', { name: 'Add a folder of photos' });
    await browser.getByRole('button', { name: 'trip' }).click();
    await browser.getByRole('button', { name: 'Choose this folder' }).click();
    await poll(() => page.getByTestId('preflight-files').textContent()).toBe('3');
    await page.getByRole('button', { name: 'Start batch' }).click();
    const job = page.getByRole('article', { name: 'Job trip' });
    await page.waitForSelector(
      '[aria-label="Job trip"] [data-testid="job-state"]:text("Finished")',
      {
        timeout: 120_000,
      },
    );
    await poll(() => page.title()).toBe('CMSC Upscaler');
    const titles = (await page.evaluate('window.titlesSeen')) as string[];
    const percents = titles.flatMap((title) => {
      const match = /^(\d+)% — CMSC Upscaler$/.exec(title);
      return match ? [Number(match[1])] : [];
    });
    // While it ran, the title said how far it was, and never went backwards or reached 100 %.
    expect(percents.length).toBeGreaterThan(0);
    expect(percents).toEqual([...percents].sort((a, b) => a - b));
    expect(Math.max(...percents)).toBeLessThan(100);
    expect(titles.at(-1)).toBe('CMSC Upscaler');

    // One photo: the file on disk, under its own name.
    const outputFolder = path.join(session.workDir, 'trip-upscaled');
    const [single] = await Promise.all([
      page.waitForEvent('download'),
      job.getByRole('link', { name: 'Download photo-2_x2.jpg' }).click(),
    ]);
    expect(single.suggestedFilename()).toBe('photo-2_x2.jpg');
    const downloaded = await readFile(await single.path());
    expect(downloaded.equals(await readFile(path.join(outputFolder, 'photo-2_x2.jpg')))).toBe(true);

    // The whole job: one zip of the three outputs, byte for byte.
    const [zip] = await Promise.all([
      page.waitForEvent('download'),
      job.getByRole('link', { name: 'Download all (.zip)' }).click(),
    ]);
    expect(zip.suggestedFilename()).toBe('trip-upscaled.zip');
    const zipPath = await zip.path();
    const listing = await run('unzip', ['-Z1', zipPath]);
    expect(listing.stdout.split('\n').filter(Boolean).sort()).toEqual([
      'photo-1_x2.jpg',
      'photo-2_x2.jpg',
      'photo-3_x2.jpg',
    ]);
    const unpacked = await run('unzip', ['-p', zipPath, 'photo-3_x2.jpg'], {
      encoding: 'buffer',
      maxBuffer: 64 * 1024 * 1024,
    });
    expect(unpacked.stdout.equals(await readFile(path.join(outputFolder, 'photo-3_x2.jpg')))).toBe(
      true,
    );
    // Desktop-only actions are not offered in the browser.
    expect(await job.getByRole('button', { name: /^Show .* in its folder$/ }).count()).toBe(0);
    await job.getByRole('link', { name: 'Download photo-1_x2.jpg' }).scrollIntoViewIfNeeded();
    await session.screenshots('1-finished-with-downloads');

    await job.getByRole('button', { name: 'Open report' }).click();
    const report = page.getByRole('dialog', { name: 'Report of trip' });
    expect(await report.locator('.report-path').textContent()).toMatch(
      /^\s*For spreadsheets and scripts: \S+\.csv and \S+\.json\s*$/,
    );
    await session.screenshots('2-report-paths');
  });
});
