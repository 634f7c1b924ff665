/** Real image files made by the tests, in a per-test temporary folder. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';

export const FIXTURE_MODELS_DIR = path.resolve(import.meta.dirname, '../fixtures/models');

export async function makeTempDir(): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'cmsc-test-'));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * A deterministic textured RGB(A) image: smooth gradients plus a fine pattern, so the model
 * and the tiling see detail at every position.
 */
export function texturedPixels(width: number, height: number, channels: 3 | 4, seed = 0): Buffer {
  const pixels = Buffer.alloc(width * height * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * channels;
      pixels[i] = (x * 7 + y * 3 + ((x * y) % 17) * 5 + seed * 31) % 256;
      pixels[i + 1] = Math.round(128 + 100 * Math.sin(x / 3) * Math.cos(y / 5));
      pixels[i + 2] = ((x ^ y) * 9) % 256;
      if (channels === 4) pixels[i + 3] = (x * 11 + y * 13) % 256;
    }
  }
  return pixels;
}

export async function writeTexturedImage(
  filePath: string,
  width: number,
  height: number,
  options: { channels?: 3 | 4; format?: 'png' | 'jpeg' | 'webp' | 'tiff'; seed?: number } = {},
): Promise<string> {
  const channels = options.channels ?? 3;
  await sharp(texturedPixels(width, height, channels, options.seed), {
    raw: { width, height, channels },
  })
    .toFormat(options.format ?? 'png')
    .toFile(filePath);
  return filePath;
}
