/**
 * Starts web mode as a user would (`tsx src/main/server/serve.ts`) with the tiny fixture model
 * and a fresh data folder, and opens it in Debian's Chromium through playwright-core (never a
 * downloaded browser). Screenshots go to test-results/e2e/ for people to look at.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import sharp from 'sharp';

export const repositoryRoot = path.resolve(import.meta.dirname, '../..');
export const screenshotDir = path.join(repositoryRoot, 'test-results/e2e');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export interface WebModeSession {
  url: string;
  token: string;
  port: number;
  /** Scratch folder for this test's photos and outputs. */
  workDir: string;
  browser: BrowserContext;
  page: Page;
  screenshot(name: string): Promise<string>;
  /** `<name>-light` and `<name>-dark`: the page in each colour scheme (left in light). */
  screenshots(name: string): Promise<void>;
  close(): Promise<void>;
}

export interface WebModeOptions {
  /** Console errors the scenario causes on purpose; any other console error fails the test. */
  expectedConsoleErrors?: RegExp[];
  /** The models folder; null starts with an empty one. Default: the tiny fixture model. */
  modelsDir?: string | null;
}

export async function startWebMode(
  testName: string,
  options: WebModeOptions = {},
): Promise<WebModeSession> {
  const expectedConsoleErrors = options.expectedConsoleErrors ?? [];
  const workDir = await mkdtemp(path.join(os.tmpdir(), `cmsc-e2e-${testName}-`));
  const dataDir = path.join(workDir, 'data');
  const modelsDir =
    options.modelsDir === undefined
      ? path.join(repositoryRoot, 'test/fixtures/models')
      : options.modelsDir;
  if (modelsDir === null) await mkdir(path.join(workDir, 'no-models'));
  const server = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      path.join(repositoryRoot, 'src/main/server/serve.ts'),
      '--models',
      modelsDir ?? path.join(workDir, 'no-models'),
      '--data',
      dataDir,
      '--threads',
      '1',
    ],
    {
      cwd: repositoryRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, HOME: workDir },
    },
  );
  const url = await waitForUrl(server);
  const parsed = new URL(url);
  // A fresh profile per test: nothing a previous run stored can leak into this one.
  const browser = await chromium.launchPersistentContext(path.join(workDir, 'chromium-profile'), {
    executablePath: CHROMIUM,
    viewport: { width: 1280, height: 800 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  const page = browser.pages()[0] ?? (await browser.newPage());
  const pageErrors: string[] = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));
  // Console errors include Content-Security-Policy violations and failed loads.
  page.on('console', (message) => {
    const text = message.text();
    if (
      message.type() === 'error' &&
      !expectedConsoleErrors.some((pattern) => pattern.test(text))
    ) {
      pageErrors.push(`console: ${text}`);
    }
  });
  await mkdir(screenshotDir, { recursive: true });
  const screenshot = async (name: string): Promise<string> => {
    const file = path.join(screenshotDir, `${testName}-${name}.png`);
    await page.screenshot({ path: file });
    return file;
  };
  return {
    url,
    token: parsed.searchParams.get('token') ?? '',
    port: Number(parsed.port),
    workDir,
    browser,
    page,
    screenshot,
    async screenshots(name) {
      for (const scheme of ['light', 'dark'] as const) {
        await page.emulateMedia({ colorScheme: scheme });
        await screenshot(`${name}-${scheme}`);
      }
      await page.emulateMedia({ colorScheme: 'light' });
    },
    async close() {
      await browser.close();
      server.kill('SIGTERM');
      await new Promise((resolve) => server.once('exit', resolve));
      await rm(workDir, { recursive: true, force: true });
      if (pageErrors.length > 0) throw new Error(`errors in the page: ${pageErrors.join('; ')}`);
    },
  };
}

function waitForUrl(server: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let output = '';
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      const match = output.match(/http:\/\/127\.0\.0\.1:\d+\/\?token=[A-Za-z0-9_-]+/);
      if (match) resolve(match[0]);
    };
    server.stdout?.on('data', onData);
    server.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    server.once('exit', (code) => reject(new Error(`serve exited with ${code}:\n${output}`)));
  });
}

/**
 * Writes `count` synthetic photos (smooth gradients with a few sharp shapes, so the upscale
 * has edges to show) as JPEG, `width`×`height` each.
 */
export async function writeSyntheticPhotos(
  folder: string,
  count: number,
  width: number,
  height: number,
): Promise<string[]> {
  await mkdir(folder, { recursive: true });
  const files: string[] = [];
  for (let index = 0; index < count; index++) {
    const pixels = Buffer.alloc(width * height * 3);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const offset = (y * width + x) * 3;
        const ring = Math.hypot(x - width / 2, y - height / 2) % 24 < 12;
        pixels[offset] = Math.round((255 * x) / width);
        pixels[offset + 1] = Math.round((255 * y) / height);
        pixels[offset + 2] = ring ? 220 - index * 40 : 40 + index * 30;
      }
    }
    const file = path.join(folder, `photo-${index + 1}.jpg`);
    await sharp(pixels, { raw: { width, height, channels: 3 } })
      .jpeg({ quality: 90 })
      .toFile(file);
    files.push(file);
  }
  return files;
}

/**
 * Controls a person cannot identify without seeing them: no <label>, no aria-label(ledby),
 * no text. Answers "tag#id.class" descriptions; an empty list means every control is named.
 */
export async function unlabelledControls(page: Page): Promise<string[]> {
  // Evaluated in the page (a string, since this file is compiled without the DOM library).
  return page.evaluate(`[...document.querySelectorAll('button, input, select, textarea, [role="slider"]')]
    .filter((element) => {
      const labelled = (element.labels && element.labels.length > 0)
        || element.getAttribute('aria-label')
        || element.getAttribute('aria-labelledby')
        || element.getAttribute('title')
        || element.textContent.trim() !== '';
      return !labelled;
    })
    .map((element) => element.tagName.toLowerCase() + (element.id ? '#' + element.id : '') + (element.className ? '.' + String(element.className).split(' ')[0] : ''))`);
}
