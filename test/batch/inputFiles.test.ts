/**
 * One recursive job over a folder holding every kind of input the issue lists, processed by
 * the real engine with the tiny fixture model. Each file must end with its documented outcome,
 * and no input may change.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBatchQueue, type BatchQueue } from '../../src/main/batch/batchQueue.ts';
import type { ImageUpscaler } from '../../src/main/batch/imageUpscaler.ts';
import { scanInputs } from '../../src/main/batch/inputScan.ts';
import type { Job, JobFile } from '../../src/shared/jobs.ts';
import {
  fixtureUpscaler,
  hashAll,
  jobInputs,
  listFiles,
  makeTempDir,
  rawImage,
  removeDir,
  testSettings,
  writeImage,
} from './batchFixtures.ts';

describe('a recursive job over every kind of input', () => {
  let root: string;
  let photos: string;
  let upscaler: ImageUpscaler;
  let queue: BatchQueue;
  let job: Job;
  let inputPaths: string[];
  let hashesBefore: Record<string, string>;

  const file = (relativePath: string): JobFile => {
    const found = job.files.find((f) => f.relativePath === relativePath);
    if (!found) throw new Error(`no job file ${relativePath}`);
    return found;
  };
  const output = (relativePath: string): string => {
    const outputPath = file(relativePath).outputPath;
    if (!outputPath) throw new Error(`${relativePath} has no output`);
    return outputPath;
  };

  beforeAll(async () => {
    root = await makeTempDir('inputs');
    photos = path.join(root, 'photos');
    await writeImage(path.join(photos, 'a.png'), rawImage(24, 16, 3).png());
    await writeImage(path.join(photos, '2024/b.jpg'), rawImage(20, 18, 3).jpeg({ quality: 90 }));
    await writeImage(
      path.join(photos, '2024/deep/c.webp'),
      rawImage(16, 16, 3).webp({ quality: 90 }),
    );
    await writeImage(path.join(photos, '2024/d.tiff'), rawImage(18, 12, 3).tiff());
    await writeImage(
      path.join(photos, 'sixteen.png'),
      rawImage(20, 16, 3).toColourspace('rgb16').png(),
    );
    await writeImage(path.join(photos, 'gray.jpg'), rawImage(16, 20, 1).jpeg({ quality: 90 }));
    await writeImage(path.join(photos, 'alpha.png'), rawImage(16, 16, 4).png());
    await writeImage(
      path.join(photos, 'cmyk.jpg'),
      rawImage(20, 16, 3).toColourspace('cmyk').jpeg({ quality: 90 }),
    );
    await writeFile(path.join(photos, 'empty.jpg'), Buffer.alloc(0));
    const jpeg = await rawImage(32, 32, 3).jpeg({ quality: 95 }).toBuffer();
    await writeFile(
      path.join(photos, 'truncated.jpg'),
      jpeg.subarray(0, Math.floor(jpeg.length / 2)),
    );
    await writeFile(path.join(photos, 'notes.png'), 'this is a text file, not a PNG\n');
    await writeFile(path.join(photos, 'readme.txt'), 'not an image extension: never scanned\n');

    inputPaths = (await listFiles(photos)).map((relative) => path.join(photos, relative));
    hashesBefore = await hashAll(inputPaths);
    upscaler = await fixtureUpscaler();
    queue = await createBatchQueue({ stateDir: path.join(root, 'state'), upscaler });
    const added = await queue.addJob({ inputs: jobInputs([photos]), settings: testSettings() });
    await queue.whenIdle();
    job = queue.job(added.id)!;
  });

  afterAll(async () => {
    await queue.close();
    await upscaler.close();
    await removeDir(root);
  });

  it('scans recursively, sorted, only image extensions', () => {
    expect(job.files.map((f) => f.relativePath)).toEqual([
      '2024/b.jpg',
      '2024/d.tiff',
      '2024/deep/c.webp',
      'a.png',
      'alpha.png',
      'cmyk.jpg',
      'empty.jpg',
      'gray.jpg',
      'notes.png',
      'sixteen.png',
      'truncated.jpg',
    ]);
    expect(job.outputFolder).toBe(path.join(root, 'photos-upscaled'));
    expect(job.state).toBe('finished');
  });

  it('mirrors the folder structure under the sibling output folder, same format as the input', async () => {
    expect(await listFiles(job.outputFolder)).toEqual([
      '.cmsc-upscaler-manifest.jsonl',
      '.cmsc-upscaler-output',
      '2024/b_x2.jpg',
      '2024/d_x2.tiff',
      '2024/deep/c_x2.webp',
      'a_x2.png',
      'alpha_x2.png',
      `cmsc-report-${job.id}.csv`,
      `cmsc-report-${job.id}.json`,
      'cmyk_x2.jpg',
      'gray_x2.jpg',
      'sixteen_x2.png',
    ]);
    const formats = await Promise.all(
      ['2024/b.jpg', '2024/d.tiff', '2024/deep/c.webp', 'a.png'].map(async (f) => {
        const m = await sharp(output(f)).metadata();
        return [m.format, m.width, m.height];
      }),
    );
    expect(formats).toEqual([
      ['jpeg', 40, 36],
      ['tiff', 36, 24],
      ['webp', 32, 32],
      ['png', 48, 32],
    ]);
  });

  it('keeps 16 bits per sample for a 16-bit PNG', async () => {
    const m = await sharp(output('sixteen.png')).metadata();
    expect([m.depth, m.width, m.height, file('sixteen.png').state]).toEqual([
      'ushort',
      40,
      32,
      'done',
    ]);
  });

  it('upscales a grayscale JPEG to a neutral image', async () => {
    const { data, info } = await sharp(output('gray.jpg'))
      .raw()
      .toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([32, 40]);
    let maxSpread = 0;
    for (let i = 0; i < data.length; i += info.channels) {
      const samples = [...data.subarray(i, i + info.channels)];
      maxSpread = Math.max(maxSpread, Math.max(...samples) - Math.min(...samples));
    }
    // JPEG chroma quantisation may tint a grey pixel by a level or two, never more.
    expect(maxSpread).toBeLessThanOrEqual(3);
  });

  it('keeps the alpha channel of a PNG', async () => {
    const m = await sharp(output('alpha.png')).metadata();
    expect([m.hasAlpha, m.channels, m.width, m.height]).toEqual([true, 4, 32, 32]);
  });

  it('converts a CMYK JPEG to an RGB JPEG', async () => {
    const input = await sharp(path.join(photos, 'cmyk.jpg')).metadata();
    const m = await sharp(output('cmyk.jpg')).metadata();
    expect([input.space, m.space, m.channels, m.width, m.height]).toEqual([
      'cmyk',
      'srgb',
      3,
      40,
      32,
    ]);
  });

  it('fails the zero-byte file, the truncated JPEG and the text file named .png, with reasons', () => {
    const outcome = (f: string) => [file(f).state, file(f).reason?.code, file(f).outputPath];
    expect(outcome('empty.jpg')).toEqual(['failed', 'empty-file', null]);
    expect(outcome('truncated.jpg')).toEqual(['failed', 'decode-failed', null]);
    expect(outcome('notes.png')).toEqual(['failed', 'not-an-image', null]);
    expect(job.summary?.counts).toEqual({
      queued: 0,
      running: 0,
      done: 8,
      skipped: 0,
      failed: 3,
      cancelled: 0,
    });
  });

  it('writes a JSON and a CSV report with one row per file', async () => {
    const report = JSON.parse(await readFile(job.summary!.reportJsonPath!, 'utf8')) as {
      files: {
        input: string;
        state: string;
        error: string | null;
        device: string | null;
        model: string | null;
        source: string | null;
        precision: string | null;
      }[];
    };
    expect(
      report.files.map((row) => [
        path.relative(photos, row.input),
        row.state,
        row.error?.split(':')[0] ?? null,
      ]),
    ).toEqual([
      ['2024/b.jpg', 'done', null],
      ['2024/d.tiff', 'done', null],
      ['2024/deep/c.webp', 'done', null],
      ['a.png', 'done', null],
      ['alpha.png', 'done', null],
      ['cmyk.jpg', 'done', null],
      ['empty.jpg', 'failed', 'empty-file'],
      ['gray.jpg', 'done', null],
      ['notes.png', 'failed', 'not-an-image'],
      ['sixteen.png', 'done', null],
      ['truncated.jpg', 'failed', 'decode-failed'],
    ]);
    expect(
      report.files.filter((row) => row.state === 'done').every((row) => row.device === 'cpu'),
    ).toBe(true);
    // Each output names the model that made it and why its clean (or photo) variant ran.
    const done = report.files.filter((row) => row.state === 'done');
    expect(done.every((row) => row.model === 'cmsc-tiny')).toBe(true);
    // The fixture ships no int8 file: every photo ran the float one.
    expect(done.every((row) => row.precision === 'fp32')).toBe(true);
    expect(done.find((row) => row.input.endsWith('a.png'))?.source).toMatch(/^PNG, noise σ ≈ /);
    const csv = (await readFile(job.summary!.reportCsvPath!, 'utf8')).split('\r\n');
    expect(csv[0]).toBe(
      'input,output,state,inputBytes,outputBytes,inputWidth,inputHeight,outputWidth,outputHeight,timeMs,device,model,source,precision,error',
    );
    expect(csv.length).toBe(1 + 11 + 1);
  });

  it('leaves every input byte for byte unchanged and no temporary file anywhere', async () => {
    expect(await hashAll(inputPaths)).toEqual(hashesBefore);
    const everything = await listFiles(root);
    expect(
      everything.filter((f) => f.includes('.cmsc-partial.') || f.includes('.cmsc-atomic.')),
    ).toEqual([]);
  });

  it('never scans an output folder placed inside the input tree', async () => {
    const second = await queue.addJob({
      inputs: jobInputs([path.join(photos, '2024')]),
      settings: testSettings({ outputFolder: path.join(photos, '2024', 'results') }),
    });
    await queue.whenIdle();
    expect(queue.job(second.id)!.files.filter((f) => f.state === 'done').length).toBe(3);
    const rescan = await scanInputs(jobInputs([photos]));
    // The second job's outputs (marker, manifest, three images and a report under
    // photos/2024/results) stay invisible.
    expect(await listFiles(path.join(photos, '2024', 'results'))).toHaveLength(1 + 1 + 3 + 2);
    expect(rescan.map((f) => f.relativePath)).toEqual(job.files.map((f) => f.relativePath));
  });
});
