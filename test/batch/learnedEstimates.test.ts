/**
 * Estimates that learn from what this machine did (issue 23, defects 6 and 10): output size
 * from the bytes per output pixel of files really written (by format and quality), time that
 * scales with each photo's pixels (a per-photo overhead learned from small photos apart from
 * the per-pixel rates), and a time left within 1.5x once the first photo is done (the job's own
 * pace against the figures, jobPace.ts).
 */
import { copyFile, stat } from 'node:fs/promises';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { BatchQueue } from '../../src/main/batch/batchQueue.ts';
import { SpeedLog, type SpeedFigure } from '../../src/main/batch/deviceSpeed.ts';
import type { Job, JobProgress } from '../../src/shared/jobs.ts';
// Photo-like JPEGs (gradients and rings, q90): they compress as photos do, not as noise.
import { writeSyntheticPhotos } from '../e2e/webModeHarness.ts';
import { jobInputs, testSettings, useFixtureQueue } from './batchFixtures.ts';

async function writtenBytes(job: Job): Promise<number> {
  let bytes = 0;
  for (const file of job.files) if (file.outputPath) bytes += (await stat(file.outputPath)).size;
  return bytes;
}

function within(estimate: number, actual: number, factor: number): boolean {
  return estimate <= actual * factor && actual <= estimate * factor;
}

describe('time that scales with pixels', () => {
  /** Seconds a photo of `megapixels` output really takes in this synthetic machine. */
  const OVERHEAD_S = 0.4;
  const FLOPS_PER_PIXEL = 1e6;
  const FLOPS_PER_SECOND = 1e12;
  const PIPELINE_S_PER_MP = 0.5;
  const inferenceMs = (megapixels: number) =>
    ((megapixels * 1e6 * FLOPS_PER_PIXEL) / FLOPS_PER_SECOND) * 1000;
  const trueSeconds = (megapixels: number) =>
    OVERHEAD_S + inferenceMs(megapixels) / 1000 + megapixels * PIPELINE_S_PER_MP;
  const predictedSeconds = (figure: SpeedFigure, megapixels: number) =>
    (figure.overheadSecondsPerPhoto ?? 0) +
    (megapixels * 1e6 * FLOPS_PER_PIXEL) / figure.flopsPerSecond +
    megapixels * figure.pipelineSecondsPerMegapixel;

  it('a 24 MP photo after 154 thumbnails is estimated from its pixels, within 1.5x', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'cmsc-learn-'));
    try {
      const log = new SpeedLog(path.join(dir, 'speed.json'));
      const key = { provider: 'cpu' as const, model: 'cmsc-lite', precision: 'fp32' as const };
      // The calibration times the upscale alone (no file overhead) on a 0.2 MP output.
      await log.recordCalibration(key, {
        flopsPerPixel: FLOPS_PER_PIXEL,
        outputPixels: 0.2e6,
        inferenceMs: inferenceMs(0.2),
        elapsedMs: (trueSeconds(0.2) - OVERHEAD_S) * 1000,
      });
      let figure: SpeedFigure | null = null;
      // 154 thumbnails of 0.02 MP output: their time is mostly the per-photo overhead.
      for (let photo = 0; photo < 154; photo++) {
        figure = await log.recordPhoto(key, {
          flopsPerPixel: FLOPS_PER_PIXEL,
          outputPixels: 0.02e6,
          inferenceMs: inferenceMs(0.02),
          elapsedMs: trueSeconds(0.02) * 1000,
        });
      }
      const estimate = predictedSeconds(figure!, 24);
      // The rates of the thumbnails' whole time (what the figure held before) said 13x.
      const perPixelOnly = (trueSeconds(0.02) / 0.02) * 24;
      expect(perPixelOnly / trueSeconds(24)).toBeGreaterThan(10);
      expect(within(estimate, trueSeconds(24), 1.5)).toBe(true);
      // And the thumbnails themselves are still estimated right.
      expect(within(predictedSeconds(figure!, 0.02), trueSeconds(0.02), 1.5)).toBe(true);
      expect(figure!.overheadSecondsPerPhoto).toBeCloseTo(OVERHEAD_S, 1);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('learned from the files written', () => {
  let root: string;
  let queue: BatchQueue;
  useFixtureQueue('learn', {}, (freshRoot, freshQueue) => {
    root = freshRoot;
    queue = freshQueue;
  });

  it('output size: the next estimate of the same format and quality is within 1.5x of what is written', async () => {
    const settings = testSettings({ outputFolder: path.join(root, 'out-a'), metadata: 'strip' });
    await writeSyntheticPhotos(path.join(root, 'a'), 2, 320, 240);
    const first = await queue.preflight({ inputs: jobInputs([path.join(root, 'a')]), settings });
    expect(first.outputSizeBasis).toBe('assumed');
    const jobA = await queue.addJob({ inputs: jobInputs([path.join(root, 'a')]), settings });
    await queue.whenIdle();
    const writtenA = await writtenBytes(queue.job(jobA.id)!);

    // Another folder of such photos, same format and quality: estimated from what A wrote.
    await writeSyntheticPhotos(path.join(root, 'b'), 3, 400, 300);
    const settingsB = { ...settings, outputFolder: path.join(root, 'out-b') };
    const second = await queue.preflight({
      inputs: jobInputs([path.join(root, 'b')]),
      settings: settingsB,
    });
    expect(second.outputSizeBasis).toBe('written');
    const jobB = await queue.addJob({
      inputs: jobInputs([path.join(root, 'b')]),
      settings: settingsB,
    });
    await queue.whenIdle();
    const writtenB = await writtenBytes(queue.job(jobB.id)!);
    expect({
      firstEstimateOverWritten: first.estimatedOutputBytes / writtenA,
      learnedWithin1_5x: within(second.estimatedOutputBytes, writtenB, 1.5),
    }).toEqual({
      firstEstimateOverWritten: expect.any(Number),
      learnedWithin1_5x: true,
    });
  });

  it("a running job's output size and time left after its first photo are within 1.5x of what it writes and takes", async () => {
    // A job before it in the same session, as in the app (the engine has run more than the
    // calibration), and five copies of one photo: what is measured is the estimator, not how
    // differently two photos compress.
    await writeSyntheticPhotos(path.join(root, 'before'), 1, 480, 360);
    await queue.addJob({
      inputs: jobInputs([path.join(root, 'before')]),
      settings: testSettings({ outputFolder: path.join(root, 'out-before'), metadata: 'strip' }),
    });
    await queue.whenIdle();
    const [photo] = await writeSyntheticPhotos(path.join(root, 'in'), 1, 480, 360);
    for (const copy of [2, 3, 4, 5])
      await copyFile(photo!, path.join(root, 'in', `photo-${copy}.jpg`));
    const progress: JobProgress[] = [];
    let firstDone: { at: number; progress: JobProgress } | null = null;
    queue.onAny((event) => {
      if (event.type === 'progress') progress.push(event.progress);
      if (
        firstDone === null &&
        event.type === 'progress' &&
        event.progress.filesFinished === 1 &&
        event.progress.currentFile === null
      )
        firstDone = { at: performance.now(), progress: event.progress };
    });
    const job = await queue.addJob({
      inputs: jobInputs([path.join(root, 'in')]),
      settings: testSettings({ outputFolder: path.join(root, 'out'), metadata: 'strip' }),
    });
    await queue.whenIdle();
    const ended = performance.now();
    const written = await writtenBytes(queue.job(job.id)!);
    const after = firstDone as { at: number; progress: JobProgress } | null;
    expect(after).not.toBeNull();
    expect(after!.progress.outputBytesWritten).toBeGreaterThan(0);
    const expectedBytes = after!.progress.outputBytesExpected!;
    const etaMs = after!.progress.etaMs!;
    const remainingMs = ended - after!.at;
    // Before the job's own pace corrected the figures (and before the calibration's warm-up ran
    // the timed photo itself), this came out 1.2x to 2.1x on the shared 2-core machine.
    const detail = `expected ${expectedBytes} bytes, wrote ${written} (${(expectedBytes / written).toFixed(2)}x); ETA ${etaMs} ms, took ${Math.round(remainingMs)} ms (${(etaMs / remainingMs).toFixed(2)}x)`;
    console.log(`learnedEstimates after the first photo: ${detail}`);
    expect({
      bytes: within(expectedBytes, written, 1.5),
      time: within(etaMs, remainingMs, 1.5),
      detail,
    }).toEqual({ bytes: true, time: true, detail: expect.any(String) });
    // While photos remained, the time left was never 0.
    const whileWorking = progress.filter((p) => p.filesFinished < p.filesTotal && p.etaMs !== null);
    expect(whileWorking.length).toBeGreaterThan(0);
    expect(whileWorking.filter((p) => p.etaMs! <= 0)).toEqual([]);
  });
});
