/**
 * int8 and float model files through the batch queue: each done photo records which file ran
 * (job file, report, the shared "made by" wording), and the time estimate uses this machine's
 * figure for the file that will run. The real engine on the CPU with the tiny input-resolution
 * fixture, whose card ships an int8 file.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import { createBatchQueue, type BatchQueue } from '../../src/main/batch/batchQueue.ts';
import { createEngineUpscaler } from '../../src/main/batch/engineUpscaler.ts';
import type { ImageUpscaler } from '../../src/main/batch/imageUpscaler.ts';
import { madeByText } from '../../src/shared/jobs.ts';
import type { Precision } from '../../src/shared/upscaleOptions.ts';
import {
  jobInputs,
  makeTempDir,
  rawImage,
  removeDir,
  testSettings,
  writeImage,
  FAST_FIXTURE_MODELS_DIR,
} from './batchFixtures.ts';

/** The fixture's one preset: FLOPs per output pixel from its card. */
const FIXTURE_FLOPS_PER_PIXEL = 2644;

let upscaler: ImageUpscaler;
let root: string;
let queue: BatchQueue;

beforeAll(async () => {
  upscaler = await createEngineUpscaler(
    { modelsDirs: [FAST_FIXTURE_MODELS_DIR], threads: 1 },
    'cpu',
  );
});
afterAll(async () => {
  await upscaler.close();
});
beforeEach(async () => {
  root = await makeTempDir('precision');
});
afterEach(async () => {
  await queue.close();
  await removeDir(root);
});

const settings = (precision: Precision) =>
  testSettings({ model: 'cmsc-tiny-fast', precision, metadata: 'strip' });

it('records int8 for a model with an int8 file and fp32 when fp32 is asked, in the report too', async () => {
  await writeImage(path.join(root, 'in', 'a.png'), rawImage(20, 14, 3).png());
  queue = await createBatchQueue({ stateDir: path.join(root, 'state'), upscaler });
  const run = async (precision: Precision, outputFolder: string) => {
    const job = await queue.addJob({
      inputs: jobInputs([path.join(root, 'in')]),
      settings: { ...settings(precision), outputFolder: path.join(root, outputFolder) },
    });
    await queue.whenIdle();
    const done = queue.job(job.id)!;
    const csv = await readFile(done.summary!.reportCsvPath!, 'utf8');
    const report = JSON.parse(await readFile(done.summary!.reportJsonPath!, 'utf8')) as {
      files: { precision: string | null }[];
    };
    const [header, row] = csv.split('\r\n');
    // The last two columns: the precision, and the error (empty: the photo is done).
    expect(header!.endsWith(',model,source,precision,error')).toBe(true);
    return {
      state: done.files[0]!.state,
      precision: done.files[0]!.precision,
      madeBy: madeByText(done.files[0]!),
      csv: /,([^,]*),$/.exec(row!)?.[1],
      json: report.files[0]!.precision,
    };
  };
  expect(await run('auto', 'out-auto')).toEqual({
    state: 'done',
    precision: 'int8',
    madeBy: 'cmsc-tiny-fast, int8',
    csv: 'int8',
    json: 'int8',
  });
  expect(await run('fp32', 'out-fp32')).toEqual({
    state: 'done',
    precision: 'fp32',
    madeBy: 'cmsc-tiny-fast, fp32',
    csv: 'fp32',
    json: 'fp32',
  });
});

it('estimates from the int8 file’s figure under auto and the float file’s under fp32', async () => {
  const stateDir = path.join(root, 'state');
  await mkdir(stateDir, { recursive: true });
  const figure = (flopsPerSecond: number, photos: number) => ({
    flopsPerSecond,
    pipelineSecondsPerMegapixel: 0.5,
    source: 'measured',
    photos,
  });
  // Measured earlier on this machine: the int8 file four times as fast as the float one.
  await writeFile(
    path.join(stateDir, 'speed.json'),
    JSON.stringify({
      'cpu/cmsc-tiny-fast/int8': figure(4e9, 3),
      'cpu/cmsc-tiny-fast/fp32': figure(1e9, 5),
    }),
  );
  await writeImage(path.join(root, 'in', 'a.png'), rawImage(20, 10, 3).png());
  queue = await createBatchQueue({ stateDir, upscaler });
  const estimate = (precision: Precision) =>
    queue.preflight({ inputs: jobInputs([path.join(root, 'in')]), settings: settings(precision) });
  const speed = (flopsPerSecond: number) =>
    1 / ((FIXTURE_FLOPS_PER_PIXEL * 1e6) / flopsPerSecond + 0.5);
  const auto = await estimate('auto');
  const fp32 = await estimate('fp32');
  expect([auto.megapixelsPerSecond, auto.estimatedMs, auto.speedBasis]).toEqual([
    speed(4e9),
    Math.round(((40 * 20) / 1e6 / speed(4e9)) * 1000),
    'cmsc-tiny-fast (fast, int8) on CPU at 4.0 GFLOP/s, measured over 3 photos',
  ]);
  expect([fp32.megapixelsPerSecond, fp32.speedBasis]).toEqual([
    speed(1e9),
    'cmsc-tiny-fast (fast, fp32) on CPU at 1.0 GFLOP/s, measured over 5 photos',
  ]);
});

it('times the file that will run when it has no figure yet, and files real photos under it', async () => {
  await writeImage(path.join(root, 'in', 'a.png'), rawImage(16, 16, 3).png());
  queue = await createBatchQueue({ stateDir: path.join(root, 'state'), upscaler });
  await queue.preflight({ inputs: jobInputs([path.join(root, 'in')]), settings: settings('fp32') });
  const speedFile = path.join(root, 'state', 'speed.json');
  const keys = async () =>
    Object.entries(
      JSON.parse(await readFile(speedFile, 'utf8')) as Record<string, { source: string }>,
    ).map(([key, value]) => `${key}: ${value.source}`);
  expect(await keys()).toEqual(['cpu/cmsc-tiny-fast/fp32: calibrated']);
  await queue.addJob({ inputs: jobInputs([path.join(root, 'in')]), settings: settings('auto') });
  await queue.whenIdle();
  expect(await keys()).toEqual([
    'cpu/cmsc-tiny-fast/fp32: calibrated',
    'cpu/cmsc-tiny-fast/int8: measured',
  ]);
});
