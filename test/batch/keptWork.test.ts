/**
 * What "Pause now" keeps of a photo, seen from the batch queue: it survives closing and
 * reopening the queue (recovery's sweep of temporaries spares it) and the resumed photo goes on
 * from it; Cancel and Remove of the paused job leave nothing behind.
 */
import path from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { createBatchQueue, type BatchQueue } from '../../src/main/batch/batchQueue.ts';
import type { Job } from '../../src/shared/jobs.ts';
import {
  fixtureUpscaler,
  jobInputs,
  listFiles,
  rawImage,
  testSettings,
  useFixtureQueue,
  writeImage,
} from './batchFixtures.ts';

let root: string;
let queue: BatchQueue;
useFixtureQueue('kept-work', {}, (fresh, opened) => {
  root = fresh;
  queue = opened;
});
beforeEach(async () => {
  // 128x128 at x2 in 32-pixel tiles: many bands, time to stop half-way.
  await writeImage(path.join(root, 'in', 'big.png'), rawImage(128, 128, 3).png());
  await writeImage(path.join(root, 'in', 'small.png'), rawImage(16, 16, 3).png());
});

async function keptFiles(): Promise<string[]> {
  return (await listFiles(root)).filter((f) => f.includes('.kept.raster.'));
}

async function temporaries(): Promise<string[]> {
  return (await listFiles(root)).filter(
    (f) => f.includes('.cmsc-partial.') || f.includes('.cmsc-atomic.') || f.includes('.partial'),
  );
}

/** Adds the job and stops its first photo with Pause now once half its tiles are done. */
async function pausedHalfWay(): Promise<Job> {
  const reached = new Promise<void>((resolve) => {
    const off = queue.on('progress', ({ progress }) => {
      const current = progress.currentFile;
      if (
        current?.fileId === 0 &&
        current.tilesTotal > 0 &&
        current.tilesDone >= current.tilesTotal / 2
      ) {
        off();
        resolve();
      }
    });
  });
  const job = await queue.addJob({
    inputs: jobInputs([path.join(root, 'in')]),
    settings: testSettings({ tileSize: 32 }),
  });
  await reached;
  await queue.pauseJob(job.id, 'now');
  await queue.whenIdle();
  const paused = queue.job(job.id)!;
  expect(paused.state).toBe('paused');
  expect(paused.files[0]!.keptFraction).toBeGreaterThan(0);
  expect(await keptFiles()).toHaveLength(2);
  return paused;
}

describe('what Pause now keeps', () => {
  it('survives closing and reopening the queue, and the resumed photo goes on from it', async () => {
    const job = await pausedHalfWay();
    await queue.close();
    // A new process: its own engine, the same state folder.
    const upscaler = await fixtureUpscaler();
    queue = await createBatchQueue({ stateDir: path.join(root, 'state'), upscaler });
    try {
      await resumedAfterReopening(job);
    } finally {
      await queue.close();
      await upscaler.close();
    }
  });

  async function resumedAfterReopening(job: Job): Promise<void> {
    const reopened = queue.job(job.id)!;
    expect(reopened.state).toBe('paused');
    expect(reopened.files[0]!.keptFraction).toBe(job.files[0]!.keptFraction);
    expect(await keptFiles()).toHaveLength(2);
    await queue.resumeJob(job.id);
    await queue.whenIdle();
    const done = queue.job(job.id)!;
    expect([done.state, ...done.files.map((f) => f.state)]).toEqual(['finished', 'done', 'done']);
    expect(done.files[0]!.notes?.[0]?.message).toMatch(
      /^went on from \d+ of \d+ tiles kept by Pause now$/,
    );
    expect(await temporaries()).toEqual([]);
  }

  it("counts in the paused job's megapixels done, and its progress goes on from it at Resume", async () => {
    const job = await pausedHalfWay();
    const kept = job.files[0]!.keptFraction!;
    const paused = queue.progress(job.id)!;
    // 128x128 at x2: the kept rows of the first photo, nothing of the second yet.
    expect(paused.outputMegapixelsDone).toBeCloseTo((kept * 256 * 256) / 1e6, 12);
    const resumed: number[] = [];
    queue.on('progress', ({ progress }) => {
      if (progress.currentFile?.fileId === 0) resumed.push(progress.outputMegapixelsDone);
    });
    await queue.resumeJob(job.id);
    await queue.whenIdle();
    expect(resumed.length).toBeGreaterThan(0);
    expect(Math.min(...resumed)).toBeGreaterThanOrEqual(paused.outputMegapixelsDone - 1e-9);
  });

  it('Cancel of the paused job deletes it', async () => {
    const job = await pausedHalfWay();
    await queue.cancelJob(job.id);
    expect(queue.job(job.id)!.state).toBe('cancelled');
    expect(await temporaries()).toEqual([]);
  });

  it('Remove of the paused job deletes it', async () => {
    const job = await pausedHalfWay();
    await queue.removeJob(job.id);
    expect(queue.job(job.id)).toBeNull();
    expect(await temporaries()).toEqual([]);
  });

  it('a cancelled photo: the job finishes without it and deletes what was kept of it', async () => {
    const job = await pausedHalfWay();
    await queue.cancelFile(job.id, 0);
    expect(queue.job(job.id)!.files[0]!.keptFraction).toBeUndefined();
    await queue.resumeJob(job.id);
    await queue.whenIdle();
    const done = queue.job(job.id)!;
    expect([done.state, ...done.files.map((f) => f.state)]).toEqual([
      'finished',
      'cancelled',
      'done',
    ]);
    expect(await temporaries()).toEqual([]);
  });
});
