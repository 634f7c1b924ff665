/** Each export setting reaches the file written: size targets, naming tokens, bit depth, compression, quality, AVIF. */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBatchQueue, type BatchQueue } from '../../src/main/batch/batchQueue.ts';
import type { ImageUpscaler } from '../../src/main/batch/imageUpscaler.ts';
import type { ExportSettings } from '../../src/shared/exportSettings.ts';
import type { JobFile } from '../../src/shared/jobs.ts';
import {
  fixtureUpscaler,
  jobInputs,
  makeTempDir,
  rawImage,
  removeDir,
  testSettings,
  writeImage,
} from './batchFixtures.ts';

describe('export settings in the written files', () => {
  let root: string;
  let upscaler: ImageUpscaler;
  let queue: BatchQueue;
  let png8: string;
  let png16: string;
  let outputCount = 0;

  beforeAll(async () => {
    root = await makeTempDir('encoding');
    png8 = await writeImage(path.join(root, 'in', 'photo.png'), rawImage(32, 20, 3).png());
    png16 = await writeImage(
      path.join(root, 'in16', 'deep.png'),
      rawImage(20, 16, 3).toColourspace('rgb16').png(),
    );
    upscaler = await fixtureUpscaler();
    queue = await createBatchQueue({ stateDir: path.join(root, 'state'), upscaler });
  });

  afterAll(async () => {
    await queue.close();
    await upscaler.close();
    await removeDir(root);
  });

  const run = async (input: string, settings: Partial<ExportSettings>): Promise<JobFile> => {
    outputCount++;
    const job = await queue.addJob({
      inputs: jobInputs([input]),
      settings: testSettings({ outputFolder: path.join(root, `out-${outputCount}`), ...settings }),
    });
    await queue.whenIdle();
    const file = queue.job(job.id)!.files[0]!;
    expect([file.state, file.reason]).toEqual(['done', null]);
    return file;
  };

  it('a width target keeps the aspect ratio and names the resolved scale', async () => {
    const file = await run(png8, { target: { kind: 'width', width: 50 } });
    expect([path.basename(file.outputPath!), file.outputWidth, file.outputHeight]).toEqual([
      'photo_x1.563.png',
      50,
      31,
    ]);
  });

  it('a height target and every naming token', async () => {
    const file = await run(png8, {
      target: { kind: 'height', height: 60 },
      namingTemplate: '{name}-{ext}-{width}x{height}-{model}-{date}',
    });
    const date = new Date().toISOString().slice(0, 10);
    expect(path.basename(file.outputPath!)).toBe(`photo-png-96x60-cmsc-tiny-${date}.png`);
  });

  it('bit depth 8 reduces a 16-bit PNG; auto keeps 16', async () => {
    const reduced = await run(png16, { bitDepth: '8' });
    const kept = await run(png16, { bitDepth: 'auto' });
    const depths = await Promise.all(
      [reduced, kept].map(async (f) => (await sharp(f.outputPath!).metadata()).depth),
    );
    expect(depths).toEqual(['uchar', 'ushort']);
  });

  it('PNG compression level changes the size, never the pixels', async () => {
    const fast = await run(png8, {
      encoding: { ...testSettings().encoding, pngCompressionLevel: 0 },
    });
    const small = await run(png8, {
      encoding: { ...testSettings().encoding, pngCompressionLevel: 9 },
    });
    expect(fast.outputBytes!).toBeGreaterThan(small.outputBytes!);
    const [a, b] = await Promise.all(
      [fast, small].map((f) => sharp(f.outputPath!).raw().toBuffer()),
    );
    expect(a!.equals(b!)).toBe(true);
  });

  it('uncompressed TIFF holds every sample', async () => {
    const file = await run(png8, {
      format: 'tiff',
      encoding: { ...testSettings().encoding, tiffCompression: 'none' },
    });
    expect(path.extname(file.outputPath!)).toBe('.tiff');
    expect((await stat(file.outputPath!)).size).toBeGreaterThanOrEqual(64 * 40 * 3);
  });

  it('JPEG quality reaches the encoder', async () => {
    const low = await run(png8, {
      format: 'jpeg',
      encoding: { ...testSettings().encoding, jpegQuality: 20 },
    });
    const high = await run(png8, {
      format: 'jpeg',
      encoding: { ...testSettings().encoding, jpegQuality: 98 },
    });
    expect([path.extname(low.outputPath!), low.outputBytes! < high.outputBytes!]).toEqual([
      '.jpg',
      true,
    ]);
  });

  it('AVIF output', async () => {
    const file = await run(png8, { format: 'avif' });
    const metadata = await sharp(file.outputPath!).metadata();
    expect([
      path.extname(file.outputPath!),
      metadata.format,
      metadata.width,
      metadata.height,
    ]).toEqual(['.avif', 'heif', 64, 40]);
  });
});
