import { describe, expect, it } from 'vitest';
import {
  centredCrop,
  clampCrop,
  clampPan,
  nextZoom,
} from '../../src/renderer/src/lib/cropGeometry.ts';
import { formatBytes, formatDuration } from '../../src/renderer/src/lib/format.ts';
import {
  countStates,
  fileFraction,
  jobFraction,
  jobTitle,
} from '../../src/renderer/src/lib/jobProgress.ts';
import type { Job, JobFile, JobProgress } from '../../src/shared/jobs.ts';
import { DEFAULT_EXPORT_SETTINGS } from '../../src/shared/exportSettings.ts';

describe('crop geometry', () => {
  it('centres the default crop and shrinks it for small photos', () => {
    expect(centredCrop(480, 360, 128)).toEqual({ x: 176, y: 116, width: 128, height: 128 });
    expect(centredCrop(100, 60, 128)).toEqual({ x: 0, y: 0, width: 100, height: 60 });
  });

  it('keeps the crop inside the photo and its sides within 16..512', () => {
    expect(clampCrop({ x: 400.4, y: -5, width: 128, height: 128 }, 480, 360)).toEqual({
      x: 352,
      y: 0,
      width: 128,
      height: 128,
    });
    expect(clampCrop({ x: 10, y: 10, width: 4, height: 900 }, 2000, 2000)).toEqual({
      x: 10,
      y: 10,
      width: 16,
      height: 512,
    });
    expect(clampCrop({ x: 0, y: 0, width: 4, height: 4 }, 10, 8)).toEqual({
      x: 0,
      y: 0,
      width: 10,
      height: 8,
    });
  });

  it('steps zoom through fit, 1, 2, 4, 8 and stops at the ends', () => {
    expect([
      nextZoom('fit', 1),
      nextZoom(1, 1),
      nextZoom(4, 1),
      nextZoom(8, 1),
      nextZoom(2, -1),
      nextZoom(1, -1),
      nextZoom('fit', -1),
    ]).toEqual([1, 2, 8, 8, 1, 'fit', 'fit']);
  });

  it('centres content smaller than the viewport and keeps larger content covering it', () => {
    expect(clampPan(0, 200, 400)).toBe(100);
    expect(clampPan(50, 1024, 400)).toBe(0);
    expect(clampPan(-900, 1024, 400)).toBe(-624);
    expect(clampPan(-300, 1024, 400)).toBe(-300);
  });
});

describe('formatting', () => {
  it('formats bytes and durations as people read them', () => {
    expect([
      formatBytes(999),
      formatBytes(1500),
      formatBytes(2_900_000),
      formatBytes(82e9),
    ]).toEqual(['999 B', '1.5 KB', '2.9 MB', '82 GB']);
    expect([
      formatDuration(850),
      formatDuration(4000),
      formatDuration(75_000),
      formatDuration(7_500_000),
    ]).toEqual(['0.9 s', '4 s', '1 min 15 s', '2 h 5 min']);
  });
});

describe('job progress', () => {
  const file = (id: number, state: JobFile['state']): JobFile => ({
    id,
    inputPath: `/p/${id}.jpg`,
    relativePath: `${id}.jpg`,
    inputBytes: 1,
    inputWidth: 10,
    inputHeight: 10,
    state,
    reason: null,
    outputPath: null,
    outputBytes: null,
    outputWidth: null,
    outputHeight: null,
    elapsedMs: null,
    provider: null,
    attempts: 0,
  });
  const job: Job = {
    id: 'j',
    createdAt: '2026-01-31T00:00:00.000Z',
    inputs: {
      paths: ['/photos/holiday', '/photos/x.jpg'],
      recursive: true,
      includeExtensions: [],
      excludeExtensions: [],
    },
    settings: DEFAULT_EXPORT_SETTINGS,
    outputFolder: '/photos/holiday-upscaled',
    state: 'running',
    files: [file(0, 'done'), file(1, 'running'), file(2, 'queued'), file(3, 'failed')],
    summary: null,
  };
  const progress: JobProgress = {
    jobId: 'j',
    filesTotal: 4,
    filesFinished: 2,
    currentFile: { fileId: 1, tilesDone: 1, tilesTotal: 4, elapsedMs: 1000, etaMs: 3000 },
    outputMegapixelsDone: 3,
    outputMegapixelsTotal: 12,
    megapixelsPerSecond: 1,
    elapsedMs: 5000,
    etaMs: 9000,
  };

  it('follows the running file by its tiles', () => {
    expect(job.files.map((entry) => fileFraction(entry, progress))).toEqual([1, 0.25, 0, 1]);
  });

  it('weights the job by output pixels, or by files without a measurement', () => {
    expect(jobFraction(job, progress)).toBe(0.25);
    expect(jobFraction(job, undefined)).toBe(0.5);
  });

  it('counts states and names the job after its first input', () => {
    expect(countStates(job)).toEqual({
      queued: 1,
      running: 1,
      done: 1,
      skipped: 0,
      failed: 1,
      cancelled: 0,
    });
    expect(jobTitle(job)).toBe('holiday + 1 more');
  });
});
