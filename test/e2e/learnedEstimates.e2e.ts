/**
 * Estimates that learn (issue 23, defects 6 and 10), in Chromium against web mode: the output
 * size of a second folder comes from what the first one wrote and lands within 1.5x of what is
 * written; a running job shows what it wrote of what it will write; the time left never reads
 * 0 while photos remain; a big photo gets a memory line. Screenshots in light and dark.
 */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addFolderByPath, poll } from './addFolderByPath.ts';
import { startWebMode, writeSyntheticPhotos, type WebModeSession } from './webModeHarness.ts';

/** `≈ 2.4 MB (…)` → bytes (the units of the renderer's formatBytes: powers of 1000). */
function parseBytes(text: string): number {
  const match = /≈\s*([\d.]+)\s*(B|KB|MB|GB)/.exec(text);
  if (!match) throw new Error(`no size in ${text}`);
  const unit = { B: 1, KB: 1e3, MB: 1e6, GB: 1e9 }[match[2] as 'B' | 'KB' | 'MB' | 'GB'];
  return Number(match[1]) * unit;
}

async function photoBytes(folder: string): Promise<number> {
  let bytes = 0;
  for (const name of await readdir(folder))
    if (name.endsWith('.jpg')) bytes += (await stat(path.join(folder, name))).size;
  return bytes;
}

describe('estimates that learn', () => {
  let session: WebModeSession;
  beforeAll(async () => {
    session = await startWebMode('estimates');
  });
  afterAll(async () => {
    await session?.close();
  });

  it('learns the output size from written files, shows it while running, never says 0 s left, and names the memory of a big photo', async () => {
    const { page, workDir } = session;
    await page.goto(session.url);

    // First folder: nothing written yet, the size is the formula's (on the high side).
    const first = path.join(workDir, 'first');
    await writeSyntheticPhotos(first, 2, 800, 600);
    await addFolderByPath(page, first);
    await poll(() => page.getByTestId('preflight-size-basis').textContent()).toBe(
      '(assumed, on the high side)',
    );
    await page.getByRole('button', { name: 'Start batch' }).click();
    const firstJob = page.getByRole('article', { name: 'Job first' });
    await poll(() => firstJob.getByTestId('job-state').textContent(), {
      timeout: 120_000,
    }).toBe('Finished');

    // Second folder of such photos: the size now comes from what the first job wrote.
    const second = path.join(workDir, 'second');
    await writeSyntheticPhotos(second, 4, 1200, 900);
    await addFolderByPath(page, second);
    await poll(() => page.getByTestId('preflight-size-basis').textContent()).toBe(
      '(from outputs written here)',
    );
    const estimated = parseBytes(
      (await page.locator('dt:text-is("Output") + dd').textContent()) ?? '',
    );
    await session.screenshots('1-learned-size');

    await page.getByRole('button', { name: 'Start batch' }).click();
    const job = page.getByRole('article', { name: 'Job second' });
    const eta = job.getByTestId('job-eta');
    // While it runs: what it wrote of what it will write, and never "0 s left".
    await poll(() => eta.textContent(), { timeout: 60_000 }).toMatch(
      /· [\d.]+ (B|KB|MB) of ≈ [\d.]+ (KB|MB)$/,
    );
    await session.screenshots('2-running-size');
    const seen: string[] = [];
    while ((await job.getByTestId('job-state').textContent()) !== 'Finished') {
      seen.push((await eta.textContent()) ?? '');
      await page.waitForTimeout(150);
    }
    expect(seen.length).toBeGreaterThan(3);
    expect(seen.filter((text) => /about 0(\.0)? s left/.test(text))).toEqual([]);
    const written = await photoBytes(`${second}-upscaled`);
    expect({
      estimated,
      written,
      within: estimated <= written * 1.5 && written <= estimated * 1.5,
    }).toEqual({ estimated, written, within: true });

    // A big photo: the pre-flight says how much memory it needs.
    const big = path.join(workDir, 'big');
    await writeSyntheticPhotos(big, 1, 4000, 3000);
    await addFolderByPath(page, big);
    await poll(() => page.getByTestId('preflight-memory').textContent()).toMatch(
      /^needs about 1\.\d GB \(largest photo, 48 MP out\)$/,
    );
    await session.screenshots('3-memory');
  });
});
