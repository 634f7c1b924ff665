/**
 * Issue 23: photos dropped on the page in web mode are uploaded into a folder the person
 * chooses and become a job; a drop that cannot be uploaded is refused in words.
 */
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWebMode, type WebModeSession } from './webModeHarness.ts';

const { poll } = expect;

/** Drops files (name, base64 bytes) on the app window, as a file manager would. */
function dropScript(files: { name: string; base64: string }[]): string {
  return `(() => {
    const transfer = new DataTransfer();
    for (const file of ${JSON.stringify(files)}) {
      const bytes = Uint8Array.from(atob(file.base64), (c) => c.charCodeAt(0));
      transfer.items.add(new File([bytes], file.name));
    }
    document.querySelector('.shell').dispatchEvent(
      new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }),
    );
  })()`;
}

describe('drop photos on the page (web mode)', () => {
  let session: WebModeSession;
  beforeAll(async () => {
    session = await startWebMode('drop-upload');
  });
  afterAll(async () => {
    await session?.close();
  });

  it('refuses a drop without photos, uploads photos into the chosen folder and adds it as a job', async () => {
    const { page } = session;
    const inbox = path.join(session.workDir, 'inbox');
    await mkdir(inbox);
    await page.goto(session.url);
    await page.getByRole('button', { name: 'Add folder…' }).waitFor();

    await page.evaluate(dropScript([{ name: 'notes.txt', base64: btoa('not a photo') }]));
    await poll(() => page.getByTestId('notice').textContent()).toMatch(
      /^None of the dropped files is a photo this app reads \(jpg, /,
    );
    await session.screenshots('1-refused');

    const png = await sharp({
      create: { width: 64, height: 48, channels: 3, background: { r: 200, g: 80, b: 30 } },
    })
      .png()
      .toBuffer();
    await page.evaluate(
      dropScript([
        { name: 'sunset.png', base64: png.toString('base64') },
        { name: 'readme.txt', base64: btoa('left out') },
      ]),
    );
    const chooser = page.getByRole('dialog', { name: 'Choose where the dropped photos go' });
    await poll(() => chooser.textContent(), { timeout: 30_000 }).toContain('directly in');
    await chooser.getByLabel('Folder', { exact: true }).fill(inbox);
    await chooser.getByLabel('Folder', { exact: true }).press('Enter');
    await poll(() => chooser.textContent(), { timeout: 30_000 }).toContain(`directly in ${inbox}`);
    await chooser.getByRole('button', { name: 'Choose this folder' }).click();

    await poll(() => page.getByTestId('notice').textContent()).toBe(
      `Uploaded 1 photo into ${inbox} (1 file that is not a photo left out).`,
    );
    expect((await readFile(path.join(inbox, 'sunset.png'))).equals(png)).toBe(true);
    await poll(() => page.getByTestId('preflight-files').textContent()).toBe('1');
    await session.screenshots('2-uploaded');
  });
});
