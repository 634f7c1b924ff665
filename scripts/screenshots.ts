/**
 * `npm run screenshots`: retakes the pictures of the README and docs/ through web mode in Debian's
 * Chromium, the way the end-to-end tests drive the app (same harness, same server), but with the
 * shipped models in models/ and the bundled sample photo, so the pictures show what a person
 * gets. Writes small palette PNGs to docs/images/ and prints each file with its size.
 */
import { copyFile, mkdir, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Page } from 'playwright-core';
import sharp from 'sharp';
import { repositoryRoot, startWebMode } from '../test/e2e/webModeHarness.ts';

const imagesDir = path.join(repositoryRoot, 'docs/images');
const VIEWPORT = { width: 1200, height: 720 };
const CROP_TIMEOUT_MS = 120_000;

/** The page as a palette PNG: screenshots are flat UI colours, so 256 colours keep them small. */
async function savePicture(page: Page, name: string): Promise<void> {
  const file = path.join(imagesDir, `${name}.png`);
  const raw = `${file}.raw.png`;
  await page.screenshot({ path: raw });
  await sharp(raw).png({ palette: true, quality: 90, effort: 10 }).toFile(file);
  await unlink(raw);
  const { size } = await stat(file);
  console.log(`${path.relative(repositoryRoot, file)}  ${(size / 1024).toFixed(0)} KiB`);
}

async function inBothSchemes(page: Page, name: string): Promise<void> {
  for (const scheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    await savePicture(page, `${name}-${scheme}`);
  }
  await page.emulateMedia({ colorScheme: 'light' });
}

async function main(): Promise<void> {
  await mkdir(imagesDir, { recursive: true });
  const session = await startWebMode('screenshots', {
    modelsDir: path.join(repositoryRoot, 'models'),
    // A crop asked for while the last one runs supersedes it (409), which Chromium logs.
    expectedConsoleErrors: [/status of 409 \(Conflict\)/],
  });
  try {
    const { page } = session;
    await page.setViewportSize(VIEWPORT);
    const photos = path.join(session.workDir, 'Photos');
    await mkdir(photos);
    await copyFile(
      path.join(repositoryRoot, 'assets/sample.png'),
      path.join(photos, 'raccoon.png'),
    );

    await page.goto(session.url);
    await page.getByRole('button', { name: 'Add folder…' }).click();
    const browser = page.getByRole('dialog', { name: 'Add a folder of photos' });
    await browser.getByRole('button', { name: 'Photos' }).click();
    await browser.getByRole('button', { name: 'Choose this folder' }).click();
    await page.getByTestId('preflight-files').waitFor();
    await page.waitForFunction(
      `document.querySelector('[data-testid="preflight-time"]')?.textContent.includes('≈')`,
      undefined,
      { timeout: CROP_TIMEOUT_MS },
    );
    await inBothSchemes(page, 'batch');

    // Compare: bicubic on the left, the model on the right, at 200 % of the output pixels.
    await page.getByRole('button', { name: 'Preview', exact: true }).click();
    await page.getByRole('img', { name: /^After: / }).waitFor({ timeout: CROP_TIMEOUT_MS });
    await page.getByRole('radio', { name: '200 %' }).check();
    // The quick one-stage preview comes first; wait for the full crop that replaces it.
    await page
      .getByRole('img', { name: /^After: (?!.*preview)/ })
      .waitFor({ timeout: CROP_TIMEOUT_MS });
    await inBothSchemes(page, 'compare');

    await page.getByRole('button', { name: 'Export settings' }).click();
    await page.getByRole('heading', { level: 2 }).first().waitFor();
    await inBothSchemes(page, 'settings');
  } finally {
    await session.close();
  }
}

await main();
