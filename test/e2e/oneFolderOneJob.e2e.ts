/**
 * Adding folders (issue 23, defect 9), in Chromium against web mode, with the steps: an
 * empty folder (one .txt), then a nested one, then their parent. Each folder is its own job
 * unless the person asks for one; each row counts the photos below it; an empty folder says so
 * and why Start waits; a folder that cannot be read is called a folder; and when one job's
 * output folder moves, it says so. Screenshots in light and dark.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addFolderByPath, poll } from './addFolderByPath.ts';
import { startWebMode, writeSyntheticPhotos, type WebModeSession } from './webModeHarness.ts';

describe('one folder, one job', () => {
  let session: WebModeSession;
  beforeAll(async () => {
    session = await startWebMode('folders', {
      // The folder whose name is not UTF-8 has no thumbnail.
      expectedConsoleErrors: [/status of 4\d\d/],
    });
  });
  afterAll(async () => {
    await session?.close();
  });

  it('the issue’s steps: empty, nested, parent; separate jobs; a moved output folder is named', async () => {
    const { page, workDir } = session;
    const parent = path.join(workDir, 'parent');
    const empty = path.join(parent, 'empty');
    const nested = path.join(parent, 'nested');
    await mkdir(empty, { recursive: true });
    await writeFile(path.join(empty, 'notes.txt'), 'not a photo');
    await writeSyntheticPhotos(nested, 1, 64, 48);
    await writeSyntheticPhotos(path.join(nested, 'deeper'), 12, 64, 48);
    // A sub-folder whose name is not valid UTF-8: it cannot be opened by name.
    await mkdir(Buffer.from(`${parent}/bad-\xff-name`, 'latin1'));
    await page.goto(session.url);

    const pending = page.locator('.pending');
    const row = (folder: string) =>
      pending.locator('li').filter({ has: page.locator(`span[title="${folder}"]`) });

    // An empty folder: a plain empty state, and why Start waits.
    await addFolderByPath(page, empty);
    await poll(() => row(empty).getByTestId('folder-summary').textContent()).toContain(
      'No photos in this folder',
    );
    await poll(() => page.getByTestId('start-blocked').textContent()).toBe(
      'Nothing to start: there are no photos here. Add photos to the folder, then Rescan.',
    );
    expect(await page.getByRole('button', { name: 'Start batch' }).isDisabled()).toBe(true);
    await session.screenshots('1-empty');

    // A nested folder: its own row counts the 13 photos below it; two folders, two jobs.
    await addFolderByPath(page, nested);
    await poll(() => row(nested).getByTestId('folder-photos').textContent()).toBe(
      '13 photos (sub-folders included)',
    );
    await poll(() => row(nested).getByTestId('folder-output').textContent()).toBe(
      `→ ${nested}-upscaled`,
    );
    await poll(() => pending.locator('h3').textContent()).toBe('New jobs (2)');
    await poll(() => page.getByTestId('start-blocked').textContent()).toBe(
      'No photos in empty: remove it (✕) to start the others.',
    );

    // Their parent: its row counts all of it, and names the unreadable sub-folder a folder.
    await addFolderByPath(page, parent);
    await poll(() => row(parent).getByTestId('folder-summary').textContent()).toMatch(
      /13 photos \(sub-folders included\)\s*· 1 folder cannot be read/,
    );
    await poll(() => pending.locator('h3').textContent()).toBe('New jobs (3)');
    await session.screenshots('2-three-folders');

    // The empty one removed, Start makes one job per folder, each into its own output folder.
    await page.getByRole('button', { name: 'Remove empty' }).click();
    await poll(() => page.getByTestId('start-blocked').textContent()).toBe('');
    await page.getByRole('button', { name: 'Start batch' }).click();
    const nestedJob = page.getByRole('article', { name: 'Job nested' });
    const parentJob = page.getByRole('article', { name: 'Job parent' });
    await poll(() => nestedJob.getByTestId('job-state').textContent(), { timeout: 120_000 }).toBe(
      'Finished',
    );
    await poll(() => parentJob.getByTestId('job-state').textContent(), { timeout: 120_000 }).toBe(
      'Finished',
    );
    expect(await nestedJob.getByTestId('job-counts').textContent()).toBe('13 of 13 done');
    expect(await parentJob.getByTestId('job-counts').textContent()).toBe(
      '13 of 14 done · 1 failed',
    );
    await session.screenshots('3-two-jobs');

    // One job of two folders, asked for: its output folder moves, and it says so.
    const other = path.join(workDir, 'other');
    await writeSyntheticPhotos(other, 2, 64, 48);
    await addFolderByPath(page, nested);
    await poll(() => page.getByTestId('preflight-output').textContent()).toMatch(
      new RegExp(`Into\\s+${nested}-upscaled`),
    );
    await addFolderByPath(page, other);
    await poll(() => page.getByTestId('preflight-output').textContent()).toMatch(
      /One job per folder, each into its own output folder/,
    );
    await page.getByTestId('combine-folders').locator('input').check();
    await poll(() => page.getByTestId('output-moved').textContent()).toBe(
      `The output folder moved: it was ${nested}-upscaled, it is now ${path.join(workDir, 'upscaled')} (the folder that holds all of this job's folders).`,
    );
    await session.screenshots('4-output-moved');
  });
});
