/**
 * Pause that keeps work (issue 23, defect 1), in Chromium against web mode: Pause lets the photo
 * being upscaled finish ("Pausing after this photo…") and keeps it; "Pause now" stops it at
 * once and keeps its finished part ("Paused · 40 % kept"), which Resume goes on from; the job's
 * bar and % count that part while paused as after Resume; once paused, the bars and the elapsed
 * time stand still; Resume never redoes a finished photo.
 * Screenshots in light and dark.
 */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Locator } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addFolderByPath, poll } from './addFolderByPath.ts';
import { startWebMode, writeSyntheticPhotos, type WebModeSession } from './webModeHarness.ts';

/** What a job card shows that moves while it works: its line, and every bar's value. */
async function counters(job: Locator): Promise<string> {
  const line = await job.getByTestId('job-eta').textContent();
  const bars = await job
    .getByRole('progressbar')
    .evaluateAll((elements) => elements.map((element) => element.getAttribute('aria-valuenow')));
  return `${line} | ${bars.join(',')}`;
}

/** The counters now and `ms` later (equal when they stand still). */
async function twoReadings(job: Locator, ms: number): Promise<[string, string]> {
  const before = await counters(job);
  await new Promise((resolve) => setTimeout(resolve, ms));
  return [before, await counters(job)];
}

/** The job's % from its line (`46% · 8 s elapsed · …`). */
async function jobPercent(job: Locator): Promise<number> {
  const line = (await job.getByTestId('job-eta').textContent()) ?? '';
  return Number(/^(\d+)%/.exec(line)?.[1]);
}

async function expectStandingStill(job: Locator, ms: number): Promise<void> {
  const [before, after] = await twoReadings(job, ms);
  expect(after).toBe(before);
}

describe('pause keeps work', () => {
  let session: WebModeSession;
  beforeAll(async () => {
    session = await startWebMode('pause');
  });
  afterAll(async () => {
    await session?.close();
  });

  it('Pause finishes the photo and keeps it; Pause now stops at once; the counters freeze; Resume redoes nothing', async () => {
    const { page, workDir } = session;
    const folder = path.join(workDir, 'trip');
    // Photos big enough to take seconds each with the fixture model on this machine.
    await writeSyntheticPhotos(folder, 3, 1600, 1200);
    await page.goto(session.url);
    // Tiles of 512 px: a photo runs in several bands, so "Pause now" half-way has some to keep.
    await page.keyboard.press('Control+3');
    await page.locator('summary', { hasText: 'Details: device, model' }).click();
    await page.getByLabel('Tile size mode').selectOption('fixed');
    await page.getByLabel('Tile side in pixels').fill('512');
    await page.getByLabel('Tile side in pixels').press('Tab');
    await poll(() => page.getByTestId('settings-status').textContent()).toBe('Saved');
    await page.keyboard.press('Control+1');
    await addFolderByPath(page, folder);
    await poll(() => page.getByTestId('preflight-files').textContent()).toBe('3');
    await page.getByRole('button', { name: 'Start batch' }).click();

    const job = page.getByRole('article', { name: 'Job trip' });
    const badge = job.getByTestId('job-state');
    const fileStates = () => job.getByTestId('file-state').allTextContents();
    await job.locator('[data-file-state="running"]').first().waitFor({ timeout: 60_000 });

    // Pause: the running photo finishes; nothing else starts.
    await job.getByRole('button', { name: 'Pause', exact: true }).click();
    await poll(() => badge.textContent()).toBe('Pausing after this photo…');
    expect(await fileStates()).toEqual(['Finishing, then pausing', 'Waiting', 'Waiting']);
    expect(await job.getByRole('button', { name: 'Pause now' }).isVisible()).toBe(true);
    await session.screenshots('1-pausing');

    await poll(() => badge.textContent(), { timeout: 120_000 }).toBe('Paused');
    expect(await fileStates()).toEqual(['Done', 'Waiting', 'Waiting']);
    expect(await job.getByRole('button', { name: 'Pause now' }).count()).toBe(0);
    // Paused: once the finished photo's last numbers are in, the bars and the elapsed time
    // stand still.
    await poll(() => twoReadings(job, 500).then(([before, after]) => before === after)).toBe(true);
    await expectStandingStill(job, 2500);
    expect(await job.getByTestId('job-eta').textContent()).not.toMatch(/left/);
    const firstOutput = path.join(`${folder}-upscaled`, 'photo-1_x2.jpg');
    const kept = await stat(firstOutput);
    await session.screenshots('2-paused-after-photo');

    // Resume, then Pause and "Pause now" half-way through the second photo: it stops at once,
    // waits again, and its finished part is kept.
    await job.getByRole('button', { name: 'Resume' }).click();
    const running = job.locator('[data-file-state="running"]');
    await poll(() => running.getByTestId('file-state').allTextContents()).toEqual(['Upscaling']);
    await poll(
      async () => Number(await running.getByRole('progressbar').getAttribute('aria-valuenow')),
      { timeout: 120_000 },
    ).toBeGreaterThanOrEqual(50);
    await job.getByRole('button', { name: 'Pause', exact: true }).click();
    const pauseNow = job.getByRole('button', { name: 'Pause now' });
    expect(await pauseNow.getAttribute('title')).toBe(
      'Stop now; the finished part of this photo is kept',
    );
    await pauseNow.click();
    await poll(() => badge.textContent(), { timeout: 5_000 }).toBe('Paused');
    await poll(() => fileStates()).toEqual([
      'Done',
      expect.stringMatching(/^Paused · \d+ % kept$/),
      'Waiting',
    ]);
    const keptPercent = Number(/(\d+) % kept/.exec((await fileStates())[1]!)![1]);
    expect(keptPercent).toBeGreaterThan(0);
    expect(keptPercent).toBeLessThan(100);
    // Its bar shows the kept part (the label rounds down, the bar to the nearest).
    const keptBar = Number(
      await job
        .locator('[data-file-id="1"]')
        .getByRole('progressbar')
        .getAttribute('aria-valuenow'),
    );
    expect(keptBar - keptPercent).toBeGreaterThanOrEqual(0);
    expect(keptBar - keptPercent).toBeLessThanOrEqual(1);
    // On disk: the kept rows and their record beside the output, nothing else temporary.
    const outputs = await readdir(`${folder}-upscaled`);
    expect(
      outputs
        .filter((name) => name.includes('.cmsc-partial.'))
        .map((name) => name.replace(/^.*\.kept\./, '')),
    ).toEqual(['raster.json', 'raster.tif']);
    await expectStandingStill(job, 2500);
    // The job's bar and % count the kept part as they will once resumed: 1 photo done and the
    // kept part of the second, of 3 photos of one size (the label's % rounds down, so within 1).
    const jobBar = job.getByRole('progressbar', { name: 'Overall progress of trip' });
    const pausedPercent = await jobPercent(job);
    expect(Math.abs(pausedPercent - (100 + keptPercent) / 3)).toBeLessThanOrEqual(1);
    expect(Number(await jobBar.getAttribute('aria-valuenow'))).toBe(pausedPercent);
    expect(await page.title()).toBe('Paused — CMSC Upscaler');
    await session.screenshots('3-paused-now');

    // Resume goes on from the kept part: the photo's bar is past it before the photo ends.
    await job.getByRole('button', { name: 'Resume' }).click();
    await poll(() => running.getByTestId('file-state').allTextContents()).toEqual(['Upscaling']);
    await poll(async () =>
      Number(
        await running
          .getByRole('progressbar')
          .getAttribute('aria-valuenow')
          .catch(() => 0),
      ),
    ).toBeGreaterThanOrEqual(keptPercent);
    // The job goes on from the % it showed while paused, and the window title says as much
    // (rounded down there).
    expect(await jobPercent(job)).toBeGreaterThanOrEqual(pausedPercent);
    const titlePercent = Number(/^(\d+)% — CMSC Upscaler$/.exec(await page.title())?.[1]);
    expect(titlePercent).toBeGreaterThanOrEqual(pausedPercent - 1);
    // The bar's width eases in over 0.2 s.
    await new Promise((resolve) => setTimeout(resolve, 400));
    await session.screenshots('4-resumed');
    await poll(() => badge.textContent(), { timeout: 240_000 }).toBe('Finished');
    expect(await fileStates()).toEqual(['Done', 'Done', 'Done']);
    expect(
      (await readdir(`${folder}-upscaled`)).filter((name) => name.includes('.cmsc-partial.')),
    ).toEqual([]);
    // The photo finished before the pause was not made again.
    expect((await stat(firstOutput)).mtimeMs).toBe(kept.mtimeMs);
  }, 480_000);
});
