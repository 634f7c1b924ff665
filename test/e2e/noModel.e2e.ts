import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWebMode, type WebModeSession } from './webModeHarness.ts';

describe('the browser UI without a model', () => {
  let session: WebModeSession;
  beforeAll(async () => {
    // engine:devices answers 500 (no model to open a session with), which Chromium logs.
    session = await startWebMode('no-model', {
      modelsDir: null,
      expectedConsoleErrors: [/status of 500 \(Internal Server Error\)/],
    });
  });
  afterAll(async () => {
    await session?.close();
  });

  it('says what is missing and keeps the rest of the app usable', async () => {
    const { page } = session;
    await page.goto(session.url);
    const notice = page.getByTestId('notice');
    await expect
      .poll(() => notice.textContent())
      .toBe(
        'No upscaling model was found (no model cards found (problems: none)). Put a model and its card in models/, or start with --models <folder>.',
      );
    await session.screenshot('1-notice');
    await page.getByRole('button', { name: 'Export settings' }).click();
    await expect.poll(() => page.getByLabel('File format').inputValue()).toBe('same');
  });
});
