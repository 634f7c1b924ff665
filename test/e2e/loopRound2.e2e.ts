/**
 * Round 2 of the photographer's loop (issue 23), in Chromium against web mode:
 * - errors for people: folder errors in words beside the field, `~` as the home folder, the
 *   scale's range beside the scale, no JSON and no errno codes on screen;
 * - empty and changed folders: a plain empty state with the reason Start is grey, Preview that
 *   never shows another folder's photos, "Rescan", and a scan again when the job starts;
 * - Compare decides the batch: the menu names what auto runs for this photo, and "Use these
 *   settings for the batch" writes the right pane's model and preset into the job, visibly.
 * Screenshots in light and dark go to /tmp/shots/ (and test-results/e2e/).
 */
import { copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  repositoryRoot,
  startWebMode,
  writeSyntheticPhotos,
  type WebModeSession,
} from './webModeHarness.ts';

const SHOTS = process.env.ROUND2_SHOTS ?? '/tmp/shots';

function poll<T>(read: () => T | Promise<T>, options: { timeout?: number } = {}) {
  return expect.poll(read, { timeout: 20_000, ...options });
}

/** The fixture model and a photo variant of it (same weights): auto has a choice to make. */
async function modelsWithPhotoVariant(folder: string): Promise<string> {
  await mkdir(folder, { recursive: true });
  const fixtures = path.join(repositoryRoot, 'test/fixtures/models');
  await copyFile(path.join(fixtures, 'cmsc-tiny.onnx'), path.join(folder, 'cmsc-tiny.onnx'));
  const card = JSON.parse(await readFile(path.join(fixtures, 'cmsc-tiny.json'), 'utf8')) as Record<
    string,
    unknown
  >;
  await writeFile(path.join(folder, 'cmsc-tiny.json'), JSON.stringify(card));
  await writeFile(
    path.join(folder, 'cmsc-tiny-photo.json'),
    JSON.stringify({
      ...card,
      name: 'cmsc-tiny-photo',
      displayName: 'CMSC tiny, photo (test fixture)',
      photoVariantOf: 'cmsc-tiny',
    }),
  );
  return folder;
}

describe("the photographer's loop, round 2", () => {
  let session: WebModeSession;
  beforeAll(async () => {
    const models = await modelsWithPhotoVariant(
      path.join(repositoryRoot, 'test-results/e2e/round2-models'),
    );
    session = await startWebMode('round2', {
      modelsDir: models,
      expectedConsoleErrors: [
        /status of 409 \(Conflict\)/,
        // Folders typed wrong on purpose, and a Rescan refused.
        /status of 400 \(Bad Request\)/,
        // A photo deleted on purpose has no picture.
        /status of 422 \(Unprocessable Entity\)/,
      ],
    });
    await mkdir(SHOTS, { recursive: true });
  });
  afterAll(async () => {
    await session?.close();
  });

  /** A screenshot in the light and the dark colour scheme, into /tmp/shots/. */
  async function screenshots(name: string): Promise<void> {
    const { page } = session;
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      await page.screenshot({ path: path.join(SHOTS, `round2-${name}-${scheme}.png`) });
      await session.screenshot(`${name}-${scheme}`);
    }
    await page.emulateMedia({ colorScheme: 'light' });
  }

  /** Opens "Add folder…" and waits for its first listing. */
  async function openPicker(page: Page) {
    await page.getByRole('button', { name: 'Add folder…' }).click();
    const picker = page.getByRole('dialog', { name: 'Add a folder of photos' });
    await poll(() => picker.textContent(), { timeout: 30_000 }).toContain('directly in');
    return picker;
  }

  async function addFolder(page: Page, typed: string, expected: string): Promise<void> {
    const picker = await openPicker(page);
    const field = picker.getByLabel('Folder', { exact: true });
    await field.fill(typed);
    await field.press('Enter');
    await poll(() => field.inputValue()).toBe(expected);
    await picker.getByRole('button', { name: 'Choose this folder' }).click();
    await picker.waitFor({ state: 'detached' });
  }

  it('errors for people: folder errors in words beside the field, ~ is the home folder', async () => {
    const { page, workDir } = session;
    const empty = path.join(workDir, 'empty');
    await mkdir(empty, { recursive: true });
    await writeFile(path.join(empty, 'notes.txt'), 'not a photo');
    await page.goto(session.url);

    const picker = await openPicker(page);
    const field = picker.getByLabel('Folder', { exact: true });
    const fieldError = picker.locator('#folder-path-hint[role="alert"]');
    // The session's home folder is the work folder: `~/nowhere` is a folder that is not there.
    await field.fill('~/nowhere');
    await field.press('Enter');
    await poll(() => fieldError.textContent()).toBe('This folder does not exist');
    expect(await field.getAttribute('aria-invalid')).toBe('true');
    expect(await field.getAttribute('aria-describedby')).toBe('folder-path-hint');
    await screenshots('1-folder-does-not-exist');

    await field.fill('~/empty/notes.txt');
    await field.press('Enter');
    await poll(() => fieldError.textContent()).toBe(
      'This is a file; pick the folder that holds it',
    );
    await field.fill('empty');
    await field.press('Enter');
    await poll(() => fieldError.textContent()).toBe(
      'Type the whole path of the folder, starting with / or ~',
    );
    // No errno codes, no JSON, anywhere in the dialog.
    expect(await picker.textContent()).not.toMatch(/ENOENT|ENOTDIR|\{"/);

    // `~` alone and `~/…` open the home folder and folders in it.
    await field.fill('~');
    await field.press('Enter');
    await poll(() => field.inputValue()).toBe(workDir);
    expect(await picker.locator('#folder-path-hint').getAttribute('role')).toBeNull();
    await field.fill('~/empty');
    await field.press('Enter');
    await poll(() => field.inputValue()).toBe(empty);
    await picker.getByRole('button', { name: 'Choose this folder' }).click();
    await picker.waitFor({ state: 'detached' });
    await page.getByRole('region', { name: 'New job' }).or(page.getByLabel('New job')).waitFor();
  });

  it('empty and changed folders: a plain empty state, Preview of its own photos only, Rescan, a scan again at Start', async () => {
    const { page, workDir } = session;
    const empty = path.join(workDir, 'empty');
    // A plain empty state, and why Start is grey, in words beside it.
    await poll(() => page.getByTestId('no-photos').textContent()).toContain('No photos in empty');
    expect(await page.getByTestId('no-photos').textContent()).toContain(
      'Nothing here is a photo this app can read.',
    );
    expect(await page.getByRole('button', { name: 'Start batch' }).isDisabled()).toBe(true);
    expect(await page.getByTestId('start-blocked').textContent()).toBe(
      'Nothing to start: there are no photos here. Add photos to the folder, then Rescan.',
    );
    // No "Photos 0 · ≈ 0.0 s (assumed)".
    expect(await page.getByTestId('preflight-time').count()).toBe(0);
    await screenshots('2-empty-folder');

    // Another folder not started yet holds photos: the empty folder's Preview never shows them.
    await writeSyntheticPhotos(path.join(workDir, 'other'), 2, 96, 72);
    await addFolder(page, '~/other', path.join(workDir, 'other'));
    await page
      .getByLabel('New job')
      .getByRole('listitem')
      .filter({ hasText: empty })
      .getByRole('button', { name: 'Preview' })
      .click();
    await poll(() => page.getByTestId('compare-empty').textContent()).toContain(
      'No photos in empty',
    );
    expect(await page.getByLabel('Photo', { exact: true }).count()).toBe(0);
    await screenshots('3-compare-empty-folder');
    await page.getByRole('button', { name: 'Batch', exact: true }).click();
    await page.getByRole('button', { name: 'Remove other' }).click();

    // Photos copied in later: Rescan finds them.
    await poll(() => page.getByTestId('no-photos').count()).toBe(1);
    await writeSyntheticPhotos(empty, 2, 96, 72);
    await page.getByRole('button', { name: 'Rescan' }).click();
    await poll(() => page.getByTestId('preflight-files').textContent()).toBe('2');
    expect(await page.getByRole('button', { name: 'Start batch' }).isDisabled()).toBe(false);
    expect(await page.getByTestId('start-blocked').textContent()).toBe('');
    // Preview now lists this folder's photos, and only them.
    await page.getByRole('button', { name: 'Preview', exact: true }).click();
    const photo = page.getByLabel('Photo', { exact: true });
    await poll(() => photo.locator('option').allTextContents()).toEqual([
      'photo-1.jpg (not started)',
      'photo-2.jpg (not started)',
    ]);
    await page.getByRole('button', { name: 'Batch', exact: true }).click();

    // One more photo after the last scan: Start scans again, so the job has all three.
    await writeSyntheticPhotos(path.join(workDir, 'more'), 3, 96, 72);
    await copyFile(path.join(workDir, 'more/photo-3.jpg'), path.join(empty, 'photo-3.jpg'));
    await page.getByRole('button', { name: 'Start batch' }).click();
    const job = page.getByRole('article', { name: 'Job empty' });
    await poll(() => job.getByTestId('file-row').count(), { timeout: 30_000 }).toBe(3);
    await poll(() => job.getByTestId('job-state').textContent(), { timeout: 90_000 }).toBe(
      'Finished',
    );
    // A photo deleted since: Compare says so in words (the errno code stays in the log).
    await rm(path.join(empty, 'photo-3.jpg'));
    await job
      .getByTestId('file-row')
      .filter({ hasText: 'photo-3.jpg' })
      .getByRole('button', { name: 'Compare' })
      .click();
    await poll(() => page.locator('.side [role="alert"]').textContent()).toBe(
      'photo-3.jpg is not there any more (moved or deleted)',
    );
    await page.getByRole('button', { name: 'Batch', exact: true }).click();
    await job.getByRole('button', { name: 'Remove job empty from the list' }).click();
  });

  it('Compare decides the batch: the menu names what auto runs, "Use these settings for the batch" reaches the job', async () => {
    const { page, workDir } = session;
    const garden = path.join(workDir, 'garden');
    await writeSyntheticPhotos(garden, 2, 160, 120);
    await addFolder(page, '~/garden', garden);
    await poll(() => page.getByTestId('preflight-files').textContent()).toBe('2');
    await poll(() => page.getByTestId('pending-model').textContent()).toMatch(
      /^\s*Runs auto model · best\s*$/,
    );
    await page.getByRole('button', { name: 'Preview', exact: true }).click();

    // Auto ran the photo variant for these JPEGs (quality 90): the menu says so, as the pane does.
    const right = page.getByLabel('Model and preset on the right');
    await page.getByRole('img', { name: /^After: cmsc-tiny-photo · best/ }).waitFor({
      timeout: 60_000,
    });
    await poll(() => right.locator('option').first().textContent()).toBe(
      'auto: cmsc-tiny-photo · best (photo variant, JPEG quality ≈ 90)',
    );
    expect(
      await page.getByRole('button', { name: 'Use these settings for the batch' }).count(),
    ).toBe(0);
    await screenshots('4a-compare-auto-label');

    // Pick the clean model, fast, on the right; use it for the batch.
    await right.selectOption('cmsc-tiny|fast');
    await page.getByRole('img', { name: /^After: cmsc-tiny · fast/ }).waitFor({ timeout: 60_000 });
    await page.getByRole('button', { name: 'Use these settings for the batch' }).click();
    await poll(() => page.getByTestId('choice-note').textContent()).toBe(
      'The new job will run cmsc-tiny · fast.',
    );
    await poll(() => right.inputValue()).toBe('');
    expect(await right.locator('option').first().textContent()).toBe(
      'As the batch runs it: cmsc-tiny · fast',
    );
    await screenshots('4-compare-use-for-batch');

    // The New job card shows it, and the job runs it: the clean model, not the photo variant.
    await page.getByRole('button', { name: 'Batch', exact: true }).click();
    await poll(() => page.getByTestId('pending-model').textContent()).toMatch(
      /^\s*Runs cmsc-tiny · fast\s+\(chosen in Compare\)/,
    );
    await page.getByRole('button', { name: 'Preview', exact: true }).click();
    await page.getByRole('button', { name: 'Looks good → start garden' }).click();
    const job = page.getByRole('article', { name: 'Job garden' });
    await poll(() => job.getByTestId('job-settings').textContent()).toBe(
      'x2 · same format · cmsc-tiny · fast',
    );
    await poll(() => job.getByTestId('job-state').textContent(), { timeout: 90_000 }).toBe(
      'Finished',
    );
    expect(await job.locator('.dims').allTextContents()).toEqual([
      expect.stringMatching(/· cmsc-tiny, fp32$/),
      expect.stringMatching(/· cmsc-tiny, fp32$/),
    ]);
    await screenshots('5-job-runs-the-choice');

    // A job that has started keeps its settings: Compare says so instead of offering the button.
    await job.getByRole('button', { name: 'Compare' }).first().click();
    await right.selectOption('cmsc-tiny-photo|balanced');
    await poll(() => page.locator('.side').textContent()).toContain('This job has started');
    expect(
      await page.getByRole('button', { name: 'Use these settings for the batch' }).count(),
    ).toBe(0);
    await page.getByRole('button', { name: 'Batch', exact: true }).click();
  });

  it('a job that has not started: Rescan finds photos added since, and Compare writes its model into it', async () => {
    const { page, workDir } = session;
    if (!page.url().startsWith('http')) await page.goto(session.url);
    // A long job first, so the next one waits behind it.
    await page.getByRole('button', { name: 'Export settings' }).click();
    await page.getByLabel('Tile size mode').selectOption('fixed');
    await page.getByLabel('Tile side in pixels').fill('64');
    await page.getByLabel('Tile side in pixels').press('Tab');
    await poll(() => page.getByTestId('settings-status').textContent()).toBe('Saved');
    await page.getByRole('button', { name: 'Batch', exact: true }).click();
    const long = path.join(workDir, 'long');
    await writeSyntheticPhotos(long, 2, 1200, 900);
    await addFolder(page, '~/long', long);
    await poll(() => page.getByTestId('preflight-files').textContent()).toBe('2');
    await page.getByRole('button', { name: 'Start batch' }).click();
    const longJob = page.getByRole('article', { name: 'Job long' });
    await poll(() => longJob.getByTestId('job-state').textContent()).toBe('Running');

    const later = path.join(workDir, 'later');
    await writeSyntheticPhotos(later, 1, 96, 72);
    await addFolder(page, '~/later', later);
    await poll(() => page.getByTestId('preflight-files').textContent()).toBe('1');
    await page.getByRole('button', { name: 'Start batch' }).click();
    const laterJob = page.getByRole('article', { name: 'Job later' });
    await poll(() => laterJob.getByTestId('job-state').textContent()).toBe('Waiting');
    // Held, so it cannot start while the test looks at it; then the long job is cancelled.
    await laterJob.getByRole('button', { name: 'Pause' }).click();
    await poll(() => laterJob.getByTestId('job-state').textContent()).toBe('Paused');
    await longJob.getByRole('button', { name: 'Cancel' }).click();
    await poll(() => longJob.getByTestId('job-state').textContent()).toBe('Cancelled');

    // Photos copied in after the job was made: Rescan finds them; the job keeps its place.
    await writeSyntheticPhotos(path.join(workDir, 'later-more'), 3, 96, 72);
    await copyFile(path.join(workDir, 'later-more/photo-2.jpg'), path.join(later, 'photo-2.jpg'));
    await copyFile(path.join(workDir, 'later-more/photo-3.jpg'), path.join(later, 'photo-3.jpg'));
    expect(await laterJob.getByTestId('file-row').count()).toBe(1);
    await laterJob.getByRole('button', { name: 'Rescan' }).click();
    await poll(() => laterJob.getByTestId('file-row').count()).toBe(3);
    await poll(() => laterJob.getByTestId('rescan-note').textContent()).toContain(
      'Rescanned: 3 photos found.',
    );
    expect(await laterJob.getByTestId('job-state').textContent()).toBe('Paused');
    await screenshots('6-rescanned-job');

    // Compare on its photo lists this job's photos only, and writes a model into it.
    await laterJob.getByRole('button', { name: 'Compare' }).first().click();
    const photo = page.getByLabel('Photo', { exact: true });
    await poll(() => photo.locator('option').allTextContents()).toEqual([
      'photo-1.jpg',
      'photo-2.jpg',
      'photo-3.jpg',
    ]);
    await page.getByLabel('Model and preset on the right').selectOption('cmsc-tiny-photo|balanced');
    await page.getByRole('button', { name: 'Use these settings for the batch' }).click();
    await poll(() => page.getByTestId('choice-note').textContent()).toBe(
      'Job later will run cmsc-tiny-photo · balanced.',
    );
    await page.getByRole('button', { name: 'Batch', exact: true }).click();
    await poll(() => laterJob.getByTestId('job-settings').textContent()).toBe(
      'x2 · same format · cmsc-tiny-photo · balanced',
    );
    await screenshots('7-job-card-model');
    await laterJob.getByRole('button', { name: 'Cancel' }).click();
  });

  it('Settings: the scale says its range beside it, the example follows valid input, {date} is today, Reset asks first', async () => {
    const { page } = session;
    await page.getByRole('button', { name: 'Export settings' }).click();
    const scale = page.getByRole('spinbutton', { name: 'Scale factor' });
    await scale.fill('5');
    await scale.press('Tab');
    await poll(() => page.locator('#scale-error').textContent()).toBe('Scale goes from 1 to 4');
    expect(await scale.getAttribute('aria-invalid')).toBe('true');
    expect(await page.getByTestId('settings-status').textContent()).toBe(
      'Not saved: fix the field marked in red',
    );
    expect(await page.getByTestId('naming-example').textContent()).toContain(
      'Fix the size above to see the name.',
    );
    expect(await page.locator('.settings').textContent()).not.toMatch(/\{"|invalid value/);
    await screenshots('8-settings-scale-error');

    await scale.fill('3');
    await scale.press('Tab');
    await poll(() => page.getByTestId('settings-status').textContent()).toBe('Saved');
    expect(await page.locator('#scale-error').textContent()).toBe('');
    expect(await page.getByTestId('naming-example').textContent()).toContain('IMG_0042_x3.jpg');

    // {date} is the day the job is added: the example shows today's, and says so.
    const today = new Date().toISOString().slice(0, 10);
    await page.getByLabel('File name template').fill('{name}_{date}');
    await poll(() => page.getByTestId('naming-example').textContent()).toContain(
      `IMG_0042_${today}.jpg`,
    );
    expect(await page.locator('.settings').textContent()).toContain(`(${today} today, UTC)`);
    await poll(() => page.getByTestId('settings-status').textContent()).toBe('Saved');

    // Reset asks first; Cancel keeps everything; after Reset, Undo puts the settings back.
    // Reset asks first and says what it keeps; Cancel keeps everything.
    const quality = page.getByLabel('Quality', { exact: true });
    await quality.selectOption('fast');
    await poll(() => page.getByTestId('settings-status').textContent()).toBe('Saved');
    await page.getByRole('button', { name: 'Reset to defaults…' }).click();
    const confirm = page.getByRole('alertdialog');
    await poll(async () => (await confirm.textContent())?.replace(/\s+/g, ' ')).toContain(
      'The processing options (device, quality, model, tiles) stay as they are',
    );
    await screenshots('9-settings-reset-confirm');
    await confirm.getByRole('button', { name: 'Cancel' }).click();
    expect(await scale.inputValue()).toBe('3');
    // The export options go back; the processing options stay; Undo puts it all back.
    await page.getByRole('button', { name: 'Reset to defaults…' }).click();
    await page
      .getByRole('alertdialog')
      .getByRole('button', { name: 'Reset export options' })
      .click();
    await poll(() => scale.inputValue()).toBe('2');
    expect(await page.getByLabel('File name template').inputValue()).toBe('{name}_x{scale}');
    expect(await quality.inputValue()).toBe('fast');
    expect(await page.getByTestId('settings-status').textContent()).toBe(
      'Export defaults restored',
    );
    await page.getByRole('button', { name: 'Undo reset' }).click();
    await poll(() => scale.inputValue()).toBe('3');
    expect(await page.getByLabel('File name template').inputValue()).toBe('{name}_{date}');
    // Everything, when asked for.
    await page.getByRole('button', { name: 'Reset to defaults…' }).click();
    await page.getByRole('alertdialog').getByRole('button', { name: 'Reset everything' }).click();
    await poll(() => quality.inputValue()).toBe('best');
    expect(await scale.inputValue()).toBe('2');
  });
});
