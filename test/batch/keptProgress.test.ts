/**
 * A job paused by "Pause now" counts its photo's kept part as it will once resumed: the
 * megapixels done (hence the job's bar, its % and the window title) include the kept rows, its
 * time left covers only the rest of that photo, and neither moves at Resume. The planner keeps
 * the kept pixels in its running tally, so a progress tick still walks no file.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobFromPlan } from '../../src/main/batch/batchQueue.ts';
import type { ImageUpscaler } from '../../src/main/batch/imageUpscaler.ts';
import { JobPlanner, type RunningFileView } from '../../src/main/batch/jobPlanner.ts';
import { OutputBook } from '../../src/main/batch/outputRecord.ts';
import type { Job, JobProgress } from '../../src/shared/jobs.ts';
import {
  fixtureUpscaler,
  jobInputs,
  makeTempDir,
  rawImage,
  removeDir,
  testSettings,
  writeImage,
} from './batchFixtures.ts';

let upscaler: ImageUpscaler;
let root: string;
let planner: JobPlanner;
let job: Job;
/** One photo's output pixels (all three are the same size). */
let photoPixels: number;

beforeAll(async () => {
  upscaler = await fixtureUpscaler();
  root = await makeTempDir('kept-progress');
  // Big enough that the rest of a photo takes over a second (the least a running photo's time
  // left shows); only their headers are read.
  for (const name of ['a', 'b', 'c'])
    await writeImage(path.join(root, 'in', `${name}.png`), rawImage(1600, 1200, 3).png());
  await mkdir(path.join(root, 'state'), { recursive: true });
  planner = new JobPlanner({
    upscaler,
    stateDir: path.join(root, 'state'),
    speedFile: path.join(root, 'state', 'speed.json'),
    outputs: new OutputBook(),
    isBusy: () => false,
    warn: () => undefined,
  });
  await planner.open();
  // Planning times the model here, so the time left is a measured figure, not null.
  job = jobFromPlan(
    await planner.plan(
      { inputs: jobInputs([path.join(root, 'in')]), settings: testSettings() },
      { jobs: [], estimatedOutputBytes: new Map() },
    ),
    'job-kept',
  );
  photoPixels = 3200 * 2400;
}, 120_000);
afterAll(async () => {
  await upscaler.close();
  await removeDir(root);
});

/** Sets file `id` of the job as the queue does, and tells the planner (one file's share). */
function setFile(
  id: number,
  change: Partial<Job['files'][number]>,
  drop: 'keptFraction'[] = [],
): void {
  const file = job.files[id]!;
  Object.assign(file, change);
  for (const key of drop) delete file[key];
  planner.noteFile(job, file);
}

/** Photo 0 of the job by the queue's steps up to "Pause now" with `kept` of photo 1 kept. */
function pausedWithKept(kept: number): JobProgress {
  job.state = 'paused';
  setFile(0, { state: 'done', elapsedMs: 0, outputWidth: 3200, outputHeight: 2400 });
  setFile(1, { state: 'queued', keptFraction: kept });
  return planner.progress(job, null);
}

/**
 * Megapixels done a moment after `before`: not fewer, and more only by the few ms a photo ran
 * since (under 1 % of a photo: its time left here is seconds).
 */
function expectJustAfter(after: number, before: number): void {
  expect(after).toBeGreaterThanOrEqual(before - 1e-9);
  expect(after - before).toBeLessThan((0.01 * photoPixels) / 1e6);
}

describe('progress of a job paused by Pause now', () => {
  it('counts the kept part in the megapixels done and only the rest in the time left', () => {
    job.state = 'paused';
    setFile(1, { state: 'queued' }, ['keptFraction']);
    setFile(0, { state: 'done', elapsedMs: 0, outputWidth: 3200, outputHeight: 2400 });
    const nothingKept = planner.progress(job, null);
    const paused = pausedWithKept(0.4);
    expect(paused.outputMegapixelsTotal).toBeCloseTo((3 * photoPixels) / 1e6, 12);
    // One photo done and 40 % of the second: (1 + 0.4) of 3 photos' pixels.
    expect(paused.outputMegapixelsDone).toBeCloseTo((1.4 * photoPixels) / 1e6, 12);
    expect(paused.outputMegapixelsDone / paused.outputMegapixelsTotal).toBeCloseTo(1.4 / 3, 12);
    // Two photos left, 0.4 of one of them kept: 1.6 photos' time of the 2 photos' time.
    expect(nothingKept.etaMs).toBeGreaterThan(0);
    expect(paused.etaMs! / nothingKept.etaMs!).toBeCloseTo(1.6 / 2, 2);
    // The kept rows are still to be written: the bytes expected do not shrink.
    expect(paused.outputBytesExpected).toBe(nothingKept.outputBytesExpected);
  });

  it('goes on from the same numbers at Resume, before and after the engine first counts', () => {
    const paused = pausedWithKept(0.4);
    // Resume: the photo runs again and its engine has not counted yet (decoding).
    job.state = 'running';
    setFile(1, { state: 'running' });
    const view: RunningFileView = {
      fileId: 1,
      tilesDone: 0,
      tilesTotal: 0,
      imageEtaMs: null,
      startedAt: performance.now(),
    };
    const resumed = planner.progress(job, view);
    expectJustAfter(resumed.outputMegapixelsDone, paused.outputMegapixelsDone);
    // Its predicted time less the few ms since it started (rounded to whole ms each).
    expect(Math.abs(resumed.etaMs! - paused.etaMs!)).toBeLessThanOrEqual(50);
    // The engine's first count: 1 of 3 bands reused, which feed fewer rows than the 40 % kept
    // (the rows, not the tiles, are what the paused bar showed).
    const counted = planner.progress(job, {
      ...view,
      tilesDone: 1,
      tilesTotal: 3,
      tilesReused: 1,
      imageEtaMs: 20_000,
      imageEtaAt: view.startedAt,
      startedAt: view.startedAt,
    });
    expectJustAfter(counted.outputMegapixelsDone, paused.outputMegapixelsDone);
  });

  it('counts nothing kept once the photo is done, cancelled or started over', () => {
    pausedWithKept(0.4);
    // The engine started over (no tile reused): the photo's bar starts from 0.
    job.state = 'running';
    setFile(1, { state: 'running' });
    const startedOver = planner.progress(job, {
      fileId: 1,
      tilesDone: 0,
      tilesTotal: 3,
      imageEtaMs: null,
      startedAt: performance.now(),
    });
    expectJustAfter(startedOver.outputMegapixelsDone, photoPixels / 1e6);
    // Cancelled while paused: the queue drops its kept part with it.
    pausedWithKept(0.4);
    setFile(1, { state: 'cancelled' }, ['keptFraction']);
    expect(planner.progress(job, null).outputMegapixelsDone).toBeCloseTo(photoPixels / 1e6, 12);
  });
});
