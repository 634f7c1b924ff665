/**
 * The estimate predicts, per file, the model that will run: with Source = Auto a JPEG saved
 * below the photo threshold runs the photo variant (fp32 only here), a PNG the clean default
 * (whose card ships an int8 file), and each file's share of the time comes from that model's
 * figure, in the pre-flight and in the queued job's ETA. Calibrations file their figure under
 * the model that ran. The real engine on the CPU with the tiny fixtures: the input-resolution
 * fixture (int8 file) as the clean model, the paper-style fixture as its photo variant.
 */
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createBatchQueue, type BatchQueue } from '../../src/main/batch/batchQueue.ts';
import type { SpeedFigure } from '../../src/main/batch/deviceSpeed.ts';
import { createEngineUpscaler } from '../../src/main/batch/engineUpscaler.ts';
import type { ImageUpscaler } from '../../src/main/batch/imageUpscaler.ts';
import type { ExportSettings } from '../../src/shared/exportSettings.ts';
import {
  FIXTURE_MODELS_DIR,
  jobInputs,
  makeTempDir,
  rawImage,
  removeDir,
  testSettings,
  writeImage,
  FAST_FIXTURE_MODELS_DIR,
} from './batchFixtures.ts';

const CLEAN = 'cmsc-tiny-fast';
const PHOTO = 'cmsc-tiny-photo';
/** FLOPs per output pixel of the `fast` preset, from the two cards. */
const CLEAN_FLOPS_PER_PIXEL = 2644;
const PHOTO_FLOPS_PER_PIXEL = 10144;
/** Every test photo is 20x16 in, 40x32 out at the default x2. */
const OUTPUT_MEGAPIXELS = (40 * 32) / 1e6;

let root: string;
let upscaler: ImageUpscaler;
let queue: BatchQueue;

beforeEach(async () => {
  root = await makeTempDir('photo-estimate');
  const models = path.join(root, 'models');
  await writeCleanAndPhotoModels(models);
  upscaler = await createEngineUpscaler({ modelsDirs: [models], threads: 1 }, 'cpu');
});
afterEach(async () => {
  await queue.close();
  await upscaler.close();
  await removeDir(root);
});

/** The fast fixture (int8 file) as the clean model, the tiny paper-style fixture as its photo variant. */
async function writeCleanAndPhotoModels(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const file of ['cmsc-tiny-fast.json', 'cmsc-tiny-fast.onnx', 'cmsc-tiny-fast-int8.onnx'])
    await copyFile(path.join(FAST_FIXTURE_MODELS_DIR, file), path.join(dir, file));
  await copyFile(path.join(FIXTURE_MODELS_DIR, 'cmsc-tiny.onnx'), path.join(dir, 'cmsc-tiny.onnx'));
  const card = JSON.parse(
    await readFile(path.join(FIXTURE_MODELS_DIR, 'cmsc-tiny.json'), 'utf8'),
  ) as Record<string, unknown>;
  await writeFile(
    path.join(dir, `${PHOTO}.json`),
    JSON.stringify({ ...card, name: PHOTO, photoVariantOf: CLEAN }),
  );
}

const measured = (flopsPerSecond: number, photos: number): SpeedFigure => ({
  flopsPerSecond,
  pipelineSecondsPerMegapixel: 0.5,
  source: 'measured',
  photos,
});
/** Seeded figures: the clean model's int8 file four times the photo variant's FLOP/s. */
const FIGURES = {
  [`cpu/${CLEAN}/int8`]: measured(4e9, 3),
  [`cpu/${PHOTO}/fp32`]: measured(1e9, 5),
};
/** Output megapixels per second of a model at a seeded FLOP/s. */
const speed = (flopsPerPixel: number, flopsPerSecond: number) =>
  1 / ((flopsPerPixel * 1e6) / flopsPerSecond + 0.5);
const CLEAN_SPEED = speed(CLEAN_FLOPS_PER_PIXEL, 4e9);
const PHOTO_SPEED = speed(PHOTO_FLOPS_PER_PIXEL, 1e9);
const CLEAN_BASIS = `${CLEAN} (fast, int8) on CPU at 4.0 GFLOP/s, measured over 3 photos`;
const PHOTO_BASIS = `${PHOTO} (fast, fp32) on CPU at 1.0 GFLOP/s, measured over 5 photos`;

async function openQueue(figures: Record<string, SpeedFigure> | null): Promise<string> {
  const stateDir = path.join(root, 'state');
  await mkdir(stateDir, { recursive: true });
  if (figures) await writeFile(path.join(stateDir, 'speed.json'), JSON.stringify(figures));
  queue = await createBatchQueue({ stateDir, upscaler, autoStart: false });
  return stateDir;
}

/** `count` photos of 20x16 in `in/`: JPEGs saved at `jpegQuality`, or PNGs. */
async function writePhotos(kind: 'jpeg' | 'png', count: number, jpegQuality = 70): Promise<void> {
  for (let i = 0; i < count; i++) {
    const image = rawImage(20, 16, 3);
    await writeImage(
      path.join(root, 'in', `${kind}-${i}.${kind === 'jpeg' ? 'jpg' : 'png'}`),
      kind === 'jpeg' ? image.jpeg({ quality: jpegQuality }) : image.png(),
    );
  }
}

const preflight = (settings: Partial<ExportSettings> = {}) =>
  queue.preflight({ inputs: jobInputs([path.join(root, 'in')]), settings: testSettings(settings) });

/** Milliseconds for `files` photos at `megapixelsPerSecond`, as the estimate rounds them. */
const ms = (files: number, megapixelsPerSecond: number) =>
  Math.round(((files * OUTPUT_MEGAPIXELS) / megapixelsPerSecond) * 1000);

describe('the model each file is predicted to run', () => {
  it('a folder of JPEGs at quality 70 with the default settings: the photo variant’s figure', async () => {
    await openQueue(FIGURES);
    await writePhotos('jpeg', 3);
    const estimate = await preflight();
    expect([
      estimate.speedBasis,
      estimate.megapixelsPerSecond,
      estimate.estimatedMs,
      estimate.throughputBasis,
    ]).toEqual([PHOTO_BASIS, PHOTO_SPEED, ms(3, PHOTO_SPEED), 'measured']);
    // Well above the clean model's estimate for the same pixels: the honest figure.
    expect(estimate.estimatedMs).toBeGreaterThan(3 * ms(3, CLEAN_SPEED));
  });

  it('PNGs run the clean model (its int8 file on the CPU)', async () => {
    await openQueue(FIGURES);
    await writePhotos('png', 3);
    const estimate = await preflight();
    expect([estimate.speedBasis, estimate.megapixelsPerSecond, estimate.estimatedMs]).toEqual([
      CLEAN_BASIS,
      CLEAN_SPEED,
      ms(3, CLEAN_SPEED),
    ]);
  });

  it('Source = Clean keeps the JPEGs on the clean model; Source = Photo sends PNGs to the photo variant', async () => {
    await openQueue(FIGURES);
    await writePhotos('jpeg', 2);
    const clean = await preflight({ source: 'clean' });
    expect([clean.speedBasis, clean.estimatedMs]).toEqual([CLEAN_BASIS, ms(2, CLEAN_SPEED)]);
    await writePhotos('png', 1);
    const photo = await preflight({ source: 'photo' });
    expect([photo.speedBasis, photo.estimatedMs]).toEqual([PHOTO_BASIS, ms(3, PHOTO_SPEED)]);
  });

  it('a JPEG saved at quality 96 or above counts as clean', async () => {
    await openQueue(FIGURES);
    await writePhotos('jpeg', 2, 97);
    expect((await preflight()).speedBasis).toBe(CLEAN_BASIS);
  });

  it('a model asked for by name follows the same rule', async () => {
    await openQueue(FIGURES);
    await writePhotos('jpeg', 1);
    await writePhotos('png', 1);
    expect((await preflight({ model: CLEAN, source: 'photo' })).speedBasis).toBe(PHOTO_BASIS);
    expect((await preflight({ model: PHOTO, source: 'clean' })).speedBasis).toBe(PHOTO_BASIS);
  });

  it('a mixed folder sums each file at its model’s speed and says what the others run', async () => {
    await openQueue(FIGURES);
    await writePhotos('jpeg', 2);
    await writePhotos('png', 1);
    const estimate = await preflight();
    const seconds = (2 * OUTPUT_MEGAPIXELS) / PHOTO_SPEED + OUTPUT_MEGAPIXELS / CLEAN_SPEED;
    expect(estimate.estimatedMs).toBe(Math.round(seconds * 1000));
    expect(estimate.megapixelsPerSecond).toBeCloseTo((3 * OUTPUT_MEGAPIXELS) / seconds, 12);
    expect(estimate.speedBasis).toBe(
      `${PHOTO_BASIS}; + 1 photo on ${CLEAN} (fast, int8) at 4.0 GFLOP/s`,
    );
  });

  it('the queued job’s ETA counts each file at its model’s speed, and the run agrees with the prediction', async () => {
    await openQueue(FIGURES);
    await writePhotos('jpeg', 2);
    await writePhotos('png', 1);
    const job = await queue.addJob({
      inputs: jobInputs([path.join(root, 'in')]),
      settings: testSettings({ outputFolder: path.join(root, 'out'), metadata: 'strip' }),
    });
    const seconds = (2 * OUTPUT_MEGAPIXELS) / PHOTO_SPEED + OUTPUT_MEGAPIXELS / CLEAN_SPEED;
    const progress = queue.progress(job.id)!;
    expect(progress.etaMs).toBe(Math.round(seconds * 1000));
    expect(progress.megapixelsPerSecond).toBeCloseTo((3 * OUTPUT_MEGAPIXELS) / seconds, 12);
    // The queue file keeps what the prediction needs across a restart.
    expect(queue.job(job.id)!.files.map((f) => [f.relativePath, f.inputJpegQuality])).toEqual([
      ['jpeg-0.jpg', 70],
      ['jpeg-1.jpg', 70],
      ['png-0.png', undefined],
    ]);
    queue.start();
    await queue.whenIdle();
    expect(queue.job(job.id)!.files.map((f) => [f.relativePath, f.state, f.model])).toEqual([
      ['jpeg-0.jpg', 'done', PHOTO],
      ['jpeg-1.jpg', 'done', PHOTO],
      ['png-0.png', 'done', CLEAN],
    ]);
  });
});

describe('calibration', () => {
  const speedKeys = async (stateDir: string) =>
    Object.entries(
      JSON.parse(await readFile(path.join(stateDir, 'speed.json'), 'utf8')) as Record<
        string,
        SpeedFigure
      >,
    )
      .map(([key, figure]) => `${key}: ${figure.source}`)
      .sort();

  it('times the photo variant for a folder of JPEGs, and files the figure under it', async () => {
    const stateDir = await openQueue(null);
    await writePhotos('jpeg', 2);
    const estimate = await preflight();
    expect(await speedKeys(stateDir)).toEqual([`cpu/${PHOTO}/fp32: calibrated`]);
    expect(estimate.speedBasis).toMatch(
      new RegExp(
        `^${PHOTO} \\(fast, fp32\\) on CPU at [\\d.]+ [MGT]?FLOP/s, timed on a test photo$`,
      ),
    );
  });

  it('times both models of a mixed folder, each under its own name and file', async () => {
    const stateDir = await openQueue(null);
    await writePhotos('jpeg', 1);
    await writePhotos('png', 1);
    const estimate = await preflight();
    expect(await speedKeys(stateDir)).toEqual([
      `cpu/${CLEAN}/int8: calibrated`,
      `cpu/${PHOTO}/fp32: calibrated`,
    ]);
    expect(estimate.throughputBasis).toBe('calibrated');
  });
});
