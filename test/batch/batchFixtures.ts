/** Real files for the batch tests: tiny images written with sharp, hashes, temp folders, the real engine. */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp, { type Sharp } from 'sharp';
import {
  DEFAULT_EXPORT_SETTINGS,
  cloneSettings,
  type ExportSettings,
} from '../../src/shared/exportSettings.ts';
import type { JobInputs } from '../../src/shared/jobs.ts';
import { createEngineUpscaler } from '../../src/main/batch/engineUpscaler.ts';
import type { ImageUpscaler } from '../../src/main/batch/imageUpscaler.ts';
import { createBatchQueue, type BatchQueue } from '../../src/main/batch/batchQueue.ts';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';

export const REPO_ROOT = path.resolve(import.meta.dirname, '../..');
export const FIXTURE_MODELS_DIR = path.join(REPO_ROOT, 'test/fixtures/models');
/** The input-resolution fixture (cmsc-tiny-fast), with an int8 file. */
export const FAST_FIXTURE_MODELS_DIR = path.join(REPO_ROOT, 'test/fixtures/models-fast');

export async function makeTempDir(label: string): Promise<string> {
  return mkdtemp(path.join(tmpdir(), `cmsc-batch-${label}-`));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/** The real engine on the CPU with the tiny random-weight fixture model. */
export function fixtureUpscaler(): Promise<ImageUpscaler> {
  return createEngineUpscaler({ modelsDirs: [FIXTURE_MODELS_DIR], threads: 1 }, 'cpu');
}

/**
 * Registers a fresh batch queue in its own temporary folder around each test of the calling
 * file, over one fixture upscaler for the whole file; `onFresh` receives each test's folder and
 * queue. The queue is closed and the folder removed after each test.
 */
export function useFixtureQueue(
  label: string,
  options: { autoStart?: boolean },
  onFresh: (root: string, queue: BatchQueue) => void,
): void {
  let upscaler: ImageUpscaler;
  let root: string;
  let queue: BatchQueue;
  beforeAll(async () => {
    upscaler = await fixtureUpscaler();
  });
  afterAll(async () => {
    await upscaler.close();
  });
  beforeEach(async () => {
    root = await makeTempDir(label);
    queue = await createBatchQueue({
      stateDir: path.join(root, 'state'),
      upscaler,
      ...(options.autoStart === undefined ? {} : { autoStart: options.autoStart }),
    });
    onFresh(root, queue);
  });
  afterEach(async () => {
    await queue.close();
    await removeDir(root);
  });
}

export function testSettings(overrides: Partial<ExportSettings> = {}): ExportSettings {
  return {
    ...cloneSettings(DEFAULT_EXPORT_SETTINGS),
    device: 'cpu',
    qualityPreset: 'fast',
    ...overrides,
  };
}

export function jobInputs(paths: string[], overrides: Partial<JobInputs> = {}): JobInputs {
  return { paths, recursive: true, includeExtensions: [], excludeExtensions: [], ...overrides };
}

/** A smooth RGB gradient, deterministic, `channels` 3 or 4. */
export function gradientPixels(width: number, height: number, channels: 1 | 3 | 4): Buffer {
  const pixels = Buffer.alloc(width * height * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const at = (y * width + x) * channels;
      pixels[at] = Math.round((x / Math.max(1, width - 1)) * 255);
      if (channels >= 3) {
        pixels[at + 1] = Math.round((y / Math.max(1, height - 1)) * 255);
        pixels[at + 2] = (x * 7 + y * 13) % 256;
      }
      if (channels === 4) pixels[at + 3] = 128 + ((x + y) % 128);
    }
  }
  return pixels;
}

export function rawImage(width: number, height: number, channels: 1 | 3 | 4): Sharp {
  return sharp(gradientPixels(width, height, channels), { raw: { width, height, channels } });
}

export async function writeImage(filePath: string, image: Sharp): Promise<string> {
  await mkdir(path.dirname(filePath), { recursive: true });
  await image.toFile(filePath);
  return filePath;
}

export async function sha256(filePath: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(filePath))
    .digest('hex');
}

/** Every file below `dir`, relative, sorted. */
export async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)))
    .sort();
}

export async function hashAll(paths: string[]): Promise<Record<string, string>> {
  const hashes: Record<string, string> = {};
  for (const p of paths) hashes[p] = await sha256(p);
  return hashes;
}
