/**
 * The pre-flight estimate (exact numbers, refusal when the outputs would not fit), progress
 * events with an ETA from measured throughput, and re-doing a finished output damaged later.
 */
import { link, mkdir, readdir, readFile, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  createBatchQueue,
  PreflightRefusal,
  type BatchQueue,
} from '../../src/main/batch/batchQueue.ts';
import type { ImageUpscaler } from '../../src/main/batch/imageUpscaler.ts';
import { formatBytes, freeBytesAt } from '../../src/main/batch/preflight.ts';
import type { JobProgress } from '../../src/shared/jobs.ts';
import {
  fixtureUpscaler,
  jobInputs,
  makeTempDir,
  rawImage,
  removeDir,
  testSettings,
  writeImage,
} from './batchFixtures.ts';
import { pngHeaderOnly } from '../helpers/pngHeaderOnly.ts';

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
  root = await makeTempDir('preflight');
  queue = await createBatchQueue({ stateDir: path.join(root, 'state'), upscaler });
});
afterEach(async () => {
  await queue.close();
  await removeDir(root);
});

async function readSpeedFile(): Promise<
  Record<
    string,
    {
      flopsPerSecond: number;
      pipelineSecondsPerMegapixel: number;
      source: string;
      photos: number;
      overheadSecondsPerPhoto?: number;
    }
  >
> {
  return JSON.parse(await readFile(path.join(root, 'state', 'speed.json'), 'utf8'));
}

describe('pre-flight', () => {
  it('counts files and megapixels and estimates bytes, and time from a calibration on this machine', async () => {
    await writeImage(path.join(root, 'in', 'a.png'), rawImage(24, 16, 3).png());
    await writeImage(path.join(root, 'in', 'b.jpg'), rawImage(20, 20, 3).jpeg());
    await writeFile(path.join(root, 'in', 'notes.png'), 'text');
    const estimate = await queue.preflight({
      inputs: jobInputs([path.join(root, 'in')]),
      settings: testSettings(),
    });
    const outputFolder = path.join(root, 'in-upscaled');
    // The fresh state folder had no speed figure: the pre-flight timed the model first.
    const figure = (await readSpeedFile())['cpu/cmsc-tiny/fp32']!;
    expect([figure.source, figure.photos]).toEqual(['calibrated', 0]);
    // cmsc-tiny's fast preset costs 10144 FLOPs per output pixel.
    const megapixelsPerSecond =
      1 / ((10144 * 1e6) / figure.flopsPerSecond + figure.pipelineSecondsPerMegapixel);
    expect({ ...estimate, freeBytes: 0, speedBasis: '' }).toEqual({
      filesFound: 3,
      upToDate: 0,
      problems: [
        {
          path: path.join(root, 'in', 'notes.png'),
          reason: {
            code: 'not-an-image',
            message: 'not an image, or in a format this build cannot read (e.g. BMP, PSD)',
          },
        },
      ],
      inputMegapixels: (24 * 16 + 20 * 20) / 1e6,
      outputMegapixels: (48 * 32 + 40 * 40) / 1e6,
      // PNG: 48x32 px x 3 channels x 0.8 = 3686.4; JPEG at quality 95: 40x40 px x (0.25 + 0.65 x 0.9) = 1336.
      estimatedOutputBytes: 5022,
      // Nothing written on this machine yet: the formula's figure.
      outputSizeBasis: 'assumed',
      // The larger output (40x40 from a 20x20 RGB JPEG): the engine's 1 GiB budget + 1200 bytes.
      largestPhoto: { outputMegapixels: (40 * 40) / 1e6, memoryBytes: 1024 ** 3 + 20 * 20 * 3 },
      estimatedMs: Math.round((((48 * 32 + 40 * 40) / 1e6) * 1000) / megapixelsPerSecond),
      throughputBasis: 'calibrated',
      speedBasis: '',
      megapixelsPerSecond,
      warnings: [
        {
          code: 'unreadable-files',
          message:
            '1 file cannot be read and will be listed as failed: notes.png (not an image, or in a format this build cannot read (e.g. BMP, PSD)).',
        },
      ],
      outputFolder,
      freeBytes: 0,
      fitsOnDisk: true,
      refusal: null,
    });
    expect(estimate.speedBasis).toMatch(
      /^cmsc-tiny \(fast, fp32\) on CPU at [\d.]+ [MGT]?FLOP\/s, timed on a test photo$/,
    );
    // The volume's free space is real and shared: other test files write and delete files on it
    // meanwhile, so compare with a fresh statfs within a margin.
    expect(Math.abs(estimate.freeBytes - (await freeBytesAt(root)))).toBeLessThan(
      256 * 1024 * 1024,
    );
  });

  it('refuses to queue a job whose outputs exceed the free space, with a clear message', async () => {
    const folder = path.join(root, 'huge');
    await mkdir(folder);
    const original = path.join(folder, 'scan-0.png');
    // Within the engine's limits (larger photos are refused as too large, not estimated).
    await writeFile(original, pngHeaderOnly(5000, 5000));
    // x4 as uncompressed TIFF: 20000 x 20000 x 3 bytes each; enough copies to pass the free space.
    const bytesPerFile = 20000 * 20000 * 3;
    // Two copies more than would fit: a margin of a whole file against other tests freeing space.
    const copies = Math.floor((await freeBytesAt(root)) / bytesPerFile) + 2;
    for (let index = 1; index < copies; index++)
      await link(original, path.join(folder, `scan-${index}.png`));
    const settings = testSettings({
      target: { kind: 'scale', scale: 4 },
      format: 'tiff',
      encoding: { ...testSettings().encoding, tiffCompression: 'none' },
    });
    const attempt = queue.addJob({ inputs: jobInputs([folder]), settings });
    await expect(attempt).rejects.toBeInstanceOf(PreflightRefusal);
    const refusal = (await attempt.catch((error: unknown) => error)) as PreflightRefusal;
    expect([
      refusal.estimate.fitsOnDisk,
      refusal.estimate.filesFound,
      refusal.estimate.estimatedOutputBytes,
    ]).toEqual([false, copies, copies * bytesPerFile]);
    expect(refusal.message).toMatch(
      new RegExp(
        `^Not enough free space in ${path.join(root, 'huge-upscaled').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: the outputs need about [0-9.]+ (GB|TB), but only [0-9.]+ (KB|MB|GB|TB) is free\\.`,
      ),
    );
    expect(queue.jobs()).toEqual([]);
  });
});

it('counts what jobs queued earlier will still write on the same volume', async () => {
  // Two jobs that each need about 60% of the free space: either alone fits, both do not.
  const free = await freeBytesAt(root);
  // Enough files that each output stays within the engine's 400 MP limit.
  const filesPerJob = Math.ceil((0.6 * free) / (19_000 ** 2 * 3));
  const outputSide = Math.ceil(Math.sqrt((0.6 * free) / filesPerJob / 3));
  const inputSide = Math.ceil(outputSide / 4);
  const bytesPerFile = (inputSide * 4) ** 2 * 3;
  const makeJobFolder = async (name: string): Promise<string> => {
    const folder = path.join(root, name);
    await mkdir(folder);
    await writeFile(path.join(folder, 'scan-0.png'), pngHeaderOnly(inputSide, inputSide));
    for (let index = 1; index < filesPerJob; index++) {
      await link(path.join(folder, 'scan-0.png'), path.join(folder, `scan-${index}.png`));
    }
    return folder;
  };
  const settings = testSettings({
    target: { kind: 'scale', scale: 4 },
    format: 'tiff',
    encoding: { ...testSettings().encoding, tiffCompression: 'none' },
  });
  await queue.close();
  queue = await createBatchQueue({
    stateDir: path.join(root, 'state'),
    upscaler,
    autoStart: false,
  });
  const first = await queue.addJob({ inputs: jobInputs([await makeJobFolder('first')]), settings });
  const second = { inputs: jobInputs([await makeJobFolder('second')]), settings };
  const behindFirst = await queue.preflight(second);
  expect([behindFirst.estimatedOutputBytes, behindFirst.fitsOnDisk]).toEqual([
    filesPerJob * bytesPerFile,
    false,
  ]);
  expect(behindFirst.refusal).toContain(
    `(plus ${formatBytes(filesPerJob * bytesPerFile)} still to be written by jobs queued before it)`,
  );
  await expect(queue.addJob(second)).rejects.toBeInstanceOf(PreflightRefusal);
  // Once the first job is gone, the second fits.
  await queue.removeJob(first.id);
  expect((await queue.preflight(second)).fitsOnDisk).toBe(true);
});

it('progress: elapsed time and an ETA from the first event on, and real photos refine the speed', async () => {
  for (const name of ['a', 'b', 'c'])
    await writeImage(path.join(root, 'in', `${name}.png`), rawImage(32, 32, 3).png());
  const progress: JobProgress[] = [];
  queue.on('progress', (event) => progress.push(event.progress));
  const first = await queue.addJob({
    inputs: jobInputs([path.join(root, 'in')]),
    settings: testSettings({ outputFolder: path.join(root, 'one') }),
  });
  await queue.whenIdle();
  // Queuing the job calibrated the model: the job's time left shows as soon as it is queued.
  expect([progress[0]!.currentFile, progress[0]!.elapsedMs]).toEqual([null, 0]);
  expect(progress[0]!.etaMs).toBeGreaterThan(0);
  // And the first photo's first event (before any tile) has its own ETA.
  const opening = progress.find((event) => event.currentFile !== null)!;
  expect([
    opening.filesFinished,
    opening.currentFile?.fileId,
    opening.currentFile?.tilesDone,
  ]).toEqual([0, 0, 0]);
  // The tiny model's photos take milliseconds, so the time left may already round to 0.
  expect(typeof opening.etaMs).toBe('number');
  expect(typeof opening.currentFile!.etaMs).toBe('number');
  expect(opening.megapixelsPerSecond).toBeGreaterThan(0);
  const last = progress.at(-1)!;
  expect([
    last.jobId,
    last.filesFinished,
    last.filesTotal,
    last.currentFile,
    last.outputMegapixelsDone,
    last.etaMs,
  ]).toEqual([first.id, 3, 3, null, (3 * 64 * 64) / 1e6, 0]);
  const files = queue.job(first.id)!.files;
  expect(last.elapsedMs).toBe(Math.round(files.reduce((sum, f) => sum + f.elapsedMs!, 0)));
  const figure = (await readSpeedFile())['cpu/cmsc-tiny/fp32']!;
  expect([figure.source, figure.photos]).toEqual(['measured', 3]);

  progress.length = 0;
  await queue.addJob({
    inputs: jobInputs([path.join(root, 'in')]),
    settings: testSettings({ outputFolder: path.join(root, 'two') }),
  });
  await queue.whenIdle();
  const start = progress[0]!;
  const speed = 1 / ((10144 * 1e6) / figure.flopsPerSecond + figure.pipelineSecondsPerMegapixel);
  expect(start.megapixelsPerSecond).toBe(speed);
  // Queued, nothing run yet: the time left is the whole job at the measured speed, plus the
  // per-photo overhead the three small photos of the first job taught.
  expect(figure.overheadSecondsPerPhoto).toBeGreaterThan(0);
  expect([start.currentFile, start.etaMs]).toEqual([
    null,
    Math.round(((3 * 64 * 64) / 1e6 / speed + 3 * figure.overheadSecondsPerPhoto!) * 1000),
  ]);
  const estimate = await queue.preflight({
    inputs: jobInputs([path.join(root, 'in')]),
    settings: testSettings(),
  });
  expect(estimate.throughputBasis).toBe('measured');
  expect(estimate.speedBasis).toMatch(/, measured over 6 photos$/);
});

/**
 * A job of one photo, finished, then put back on record as still running (as if it had more
 * work when the process died); the queue is closed. Returns the job id and its output.
 */
async function finishedJobMarkedRunning(): Promise<{ jobId: string; outputPath: string }> {
  await writeImage(path.join(root, 'in', 'a.png'), rawImage(16, 16, 3).png());
  const job = await queue.addJob({
    inputs: jobInputs([path.join(root, 'in')]),
    settings: testSettings(),
  });
  await queue.whenIdle();
  const outputPath = queue.job(job.id)!.files[0]!.outputPath!;
  await queue.close();
  const statePath = path.join(root, 'state', 'queue.json');
  const state = JSON.parse(await readFile(statePath, 'utf8')) as {
    jobs: { state: string; summary: unknown }[];
  };
  state.jobs[0]!.state = 'running';
  state.jobs[0]!.summary = null;
  await writeFile(statePath, JSON.stringify(state));
  return { jobId: job.id, outputPath };
}

it('a finished output damaged after the fact is made again at the next start', async () => {
  const { jobId, outputPath } = await finishedJobMarkedRunning();
  // Its finished output replaced by something else.
  await writeImage(outputPath, rawImage(7, 7, 3).png());
  queue = await createBatchQueue({ stateDir: path.join(root, 'state'), upscaler });
  expect(queue.loadWarnings).toEqual([
    `${jobId}: the output of ${path.join(root, 'in', 'a.png')} is missing or damaged; it will be made again in place`,
  ]);
  await queue.whenIdle();
  const redone = queue.job(jobId)!.files[0]!;
  expect([redone.state, redone.attempts, redone.outputWidth]).toEqual(['done', 2, 32]);
});

it('a finished output truncated after the fact is replaced in place at the next start (no -1 copy)', async () => {
  const { jobId, outputPath } = await finishedJobMarkedRunning();
  await truncate(outputPath, 40);
  queue = await createBatchQueue({ stateDir: path.join(root, 'state'), upscaler });
  await queue.whenIdle();
  const redone = queue.job(jobId)!.files[0]!;
  expect([redone.state, redone.outputPath, redone.rerun]).toEqual([
    'done',
    outputPath,
    { kind: 'replaced', why: 'damaged' },
  ]);
  expect((await readdir(path.dirname(outputPath))).filter((f) => f.endsWith('.png'))).toEqual([
    path.basename(outputPath),
  ]);
  expect((await sharp(outputPath).metadata()).width).toBe(32);
});
