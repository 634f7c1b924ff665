/**
 * A job is a build, in the app: "Verify outputs" on a finished job names what is missing and
 * damaged, "Repair" runs the job again and makes exactly those, and the second verify is clean.
 */
import { readdir, rm, truncate } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWebMode, writeSyntheticPhotos, type WebModeSession } from './webModeHarness.ts';

const poll = expect.poll;

describe('verify and repair outputs in the browser UI', () => {
  let session: WebModeSession;
  beforeAll(async () => {
    session = await startWebMode('verify');
  });
  afterAll(async () => {
    await session?.close();
  });

  const screenshots = (name: string): Promise<void> => session.screenshots(name);

  it('lists a missing and a damaged output, repairs exactly those, then finds all intact', async () => {
    const { page } = session;
    const photos = path.join(session.workDir, 'shoot');
    await writeSyntheticPhotos(photos, 3, 96, 64);
    await page.goto(session.url);
    await page.getByRole('button', { name: 'Add folder…' }).click();
    const browser = page.getByRole('dialog', { name: 'Add a folder of photos' });
    await browser.getByRole('button', { name: 'shoot' }).click();
    await poll(() => browser.textContent()).toContain('3 images directly in');
    await browser.getByRole('button', { name: 'Choose this folder' }).click();
    await poll(() => page.getByTestId('preflight-files').textContent()).toBe('3');
    await page.getByRole('button', { name: 'Start batch' }).click();
    const job = page.getByRole('article', { name: 'Job shoot' });
    await poll(() => job.getByTestId('job-state').textContent(), { timeout: 60_000 }).toBe(
      'Finished',
    );

    const out = `${photos}-upscaled`;
    const outputs = (await readdir(out)).filter((name) => name.endsWith('.jpg')).sort();
    expect(outputs).toEqual(['photo-1_x2.jpg', 'photo-2_x2.jpg', 'photo-3_x2.jpg']);
    await rm(path.join(out, 'photo-1_x2.jpg'));
    await truncate(path.join(out, 'photo-3_x2.jpg'), 200);

    await job.getByRole('button', { name: 'Verify outputs' }).click();
    const dialog = page.getByRole('dialog', { name: 'Outputs of shoot' });
    await poll(() => dialog.getByTestId('verify-summary').textContent()).toMatch(
      /^\s*1 of 3 outputs intact; 2 need a look\.\s*$/,
    );
    const findings = dialog.getByTestId('verify-finding');
    await poll(
      async () =>
        await findings.evaluateAll((items) => items.map((item) => item.getAttribute('data-kind'))),
    ).toEqual(['missing', 'damaged']);
    await poll(() => findings.allTextContents()).toEqual([
      expect.stringMatching(/photo-1_x2\.jpg\s+from photo-1\.jpg/),
      expect.stringMatching(/photo-3_x2\.jpg\s+from photo-3\.jpg/),
    ]);
    await screenshots('1-findings');

    await dialog.getByRole('button', { name: /^Repair: run the job again \(2 to make\)$/ }).click();
    const jobs = page.getByRole('article', { name: 'Job shoot' });
    await poll(() => jobs.count()).toBe(2);
    const again = jobs.first();
    await poll(() => again.getByTestId('job-state').textContent(), { timeout: 60_000 }).toBe(
      'Finished',
    );
    await poll(() => again.getByTestId('job-counts').textContent()).toBe(
      '2 of 2 done · 1 up to date',
    );
    await screenshots('2-repaired');

    await again.getByRole('button', { name: 'Verify outputs' }).click();
    await poll(() =>
      page
        .getByRole('dialog', { name: 'Outputs of shoot' })
        .getByTestId('verify-summary')
        .textContent(),
    ).toMatch(/^\s*All 3 outputs are intact and up to date\.\s*$/);
    await screenshots('3-intact');
    expect((await readdir(out)).filter((name) => name.endsWith('.jpg')).sort()).toEqual(outputs);
  });
});
