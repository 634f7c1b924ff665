/**
 * The renderer's logic behind the photographer's loop: Compare's photo list (pending inputs
 * first, a photo once), the pane-filling default crop and the fit zoom, progress lines, the
 * readable report, and what a photo's row says while its job is paused.
 */
import { describe, expect, it } from 'vitest';
import { comparePhotos, pickPhoto } from '../../src/renderer/src/lib/comparePhotos.ts';
import { paneFillingCrop, zoomFactor } from '../../src/renderer/src/lib/cropGeometry.ts';
import { fileStateLabel } from '../../src/renderer/src/lib/fileStateLabel.ts';
import { fileFraction, overallProgress } from '../../src/renderer/src/lib/jobProgress.ts';
import { buildReportView, describeTotals } from '../../src/renderer/src/lib/jobReportView.ts';
import { DEFAULT_EXPORT_SETTINGS } from '../../src/shared/exportSettings.ts';
import type { Job, JobFile, JobProgress } from '../../src/shared/jobs.ts';

function file(id: number, relativePath: string, overrides: Partial<JobFile> = {}): JobFile {
  return {
    id,
    inputPath: `/photos/${relativePath}`,
    relativePath,
    inputBytes: 2_000_000,
    inputWidth: 640,
    inputHeight: 480,
    state: 'queued',
    reason: null,
    outputPath: null,
    outputBytes: null,
    outputWidth: null,
    outputHeight: null,
    elapsedMs: null,
    provider: null,
    attempts: 0,
    ...overrides,
  };
}

function job(id: string, files: JobFile[], state: Job['state'] = 'running'): Job {
  return {
    id,
    createdAt: '2026-01-31T00:00:00.000Z',
    inputs: { paths: ['/photos'], recursive: true, includeExtensions: [], excludeExtensions: [] },
    settings: DEFAULT_EXPORT_SETTINGS,
    outputFolder: '/photos-upscaled',
    state,
    files,
    summary: null,
  };
}

describe('Compare photo list', () => {
  it('lists photos not started first, then jobs newest first, each photo once', () => {
    const older = job('old', [file(0, 'a.jpg'), file(1, 'b.jpg')], 'finished');
    const newer = job('new', [file(0, 'b.jpg'), file(1, 'c.jpg', { inputWidth: 0 })], 'finished');
    const pending = [{ inputPath: '/trip/x.jpg', relativePath: 'x.jpg', inputRoot: '/trip' }];
    expect(comparePhotos(pending, [older, newer])).toEqual([
      { inputPath: '/trip/x.jpg', relativePath: 'x.jpg', jobId: null, pendingRoot: '/trip' },
      // b.jpg is in both jobs: once, with the newer job.
      { inputPath: '/photos/b.jpg', relativePath: 'b.jpg', jobId: 'new', pendingRoot: null },
      { inputPath: '/photos/a.jpg', relativePath: 'a.jpg', jobId: 'old', pendingRoot: null },
    ]);
  });

  it('opens a folder not started at its first photo', () => {
    const photos = comparePhotos(
      [
        { inputPath: '/trip/1.jpg', relativePath: '1.jpg', inputRoot: '/trip' },
        { inputPath: '/home/2.jpg', relativePath: '2.jpg', inputRoot: '/home' },
      ],
      [],
    );
    expect(pickPhoto(photos, '/home')?.inputPath).toBe('/home/2.jpg');
    expect(pickPhoto(photos, '/trip/1.jpg')?.inputPath).toBe('/trip/1.jpg');
    expect(pickPhoto(photos, null)?.inputPath).toBe('/trip/1.jpg');
  });
});

describe('Compare geometry', () => {
  it('picks the crop whose upscale fills a pane at 1×, within the limits and the photo', () => {
    // A 452×674 pane at ×2: 226×337 input pixels, centred in 480×360.
    expect(paneFillingCrop(452, 674, 2, 480, 360)).toEqual({
      x: 127,
      y: 11,
      width: 226,
      height: 337,
    });
    // Never above 512 or beyond the photo; never below 16.
    expect(paneFillingCrop(2000, 2000, 1, 4000, 300)).toEqual({
      x: 1744,
      y: 0,
      width: 512,
      height: 300,
    });
    expect(paneFillingCrop(10, 10, 4, 100, 100)).toEqual({ x: 42, y: 42, width: 16, height: 16 });
  });

  it('fit zoom shows the whole crop; fixed levels are screen pixels per output pixel', () => {
    expect(zoomFactor('fit', 452, 674, 452, 674)).toBe(1);
    expect(zoomFactor('fit', 256, 256, 400, 800)).toBe(400 / 256);
    expect(zoomFactor(4, 256, 256, 400, 800)).toBe(4);
  });
});

describe('progress', () => {
  const progress = (overrides: Partial<JobProgress>): JobProgress => ({
    jobId: 'a',
    filesTotal: 2,
    filesFinished: 0,
    currentFile: null,
    outputMegapixelsDone: 0,
    outputMegapixelsTotal: 2,
    megapixelsPerSecond: 0.1,
    elapsedMs: 0,
    etaMs: null,
    ...overrides,
  });

  it('a one-tile photo moves by its time before its tile is done', () => {
    const running = file(0, 'a.jpg', { state: 'running' });
    const current = { fileId: 0, tilesDone: 0, tilesTotal: 1, elapsedMs: 3000, etaMs: 9000 };
    expect(fileFraction(running, progress({ currentFile: current }))).toBe(0.25);
    // Without a speed figure it follows its tiles.
    expect(fileFraction(running, progress({ currentFile: { ...current, etaMs: null } }))).toBe(0);
  });

  it('a photo resumed after Pause now starts from the part it kept; its time covers the rest', () => {
    const running = file(0, 'a.jpg', { state: 'running' });
    // Paused with 40 % kept, its bar shows that part.
    expect(fileFraction(file(0, 'a.jpg', { keptFraction: 0.4 }), progress({}))).toBe(0.4);
    // Running again, before the engine's first count: still the kept part.
    expect(
      fileFraction(
        file(0, 'a.jpg', { state: 'running', keptFraction: 0.4 }),
        progress({
          currentFile: { fileId: 0, tilesDone: 0, tilesTotal: 0, elapsedMs: 0, etaMs: null },
        }),
      ),
    ).toBe(0.4);
    const current = { fileId: 0, tilesDone: 4, tilesTotal: 10, tilesReused: 4 };
    // Before its first new tile: the kept tiles.
    expect(
      fileFraction(running, progress({ currentFile: { ...current, elapsedMs: 100, etaMs: null } })),
    ).toBe(0.4);
    // A quarter of the rest's time gone: 0.4 + 0.6 × 0.25.
    expect(
      fileFraction(
        running,
        progress({ currentFile: { ...current, tilesDone: 5, elapsedMs: 3000, etaMs: 9000 } }),
      ),
    ).toBeCloseTo(0.55, 10);
    // Its kept rows, not its share of tiles reused (1 band of 3 fed 40 % of the rows): no jump
    // at the engine's first count, and the rest by its time or its tiles from there.
    const resumed = file(0, 'a.jpg', { state: 'running', keptFraction: 0.4 });
    const band = { fileId: 0, tilesDone: 1, tilesTotal: 3, tilesReused: 1, elapsedMs: 100 };
    expect(fileFraction(resumed, progress({ currentFile: { ...band, etaMs: null } }))).toBe(0.4);
    expect(
      fileFraction(resumed, progress({ currentFile: { ...band, tilesDone: 2, etaMs: null } })),
    ).toBeCloseTo(0.7, 10);
    expect(
      fileFraction(resumed, progress({ currentFile: { ...band, elapsedMs: 3000, etaMs: 9000 } })),
    ).toBeCloseTo(0.55, 10);
  });

  it('adds up unfinished jobs: photos, time spent and time left of the same jobs', () => {
    const running = job('a', [
      file(0, 'a.jpg', { state: 'done', elapsedMs: 4000 }),
      file(1, 'b.jpg', { state: 'running' }),
    ]);
    const paused = job('b', [file(0, 'c.jpg')], 'paused');
    const finished = job('c', [file(0, 'd.jpg', { state: 'done' })], 'finished');
    // A paused job's photos are counted, so is its time left (issue 23: no mixing).
    expect(
      overallProgress([running, paused, finished], {
        a: progress({ jobId: 'a', elapsedMs: 6000, etaMs: 5000 }),
        b: progress({ jobId: 'b', elapsedMs: 1000, etaMs: 7000 }),
      }),
    ).toEqual({
      jobs: 2,
      paused: 1,
      filesFinished: 1,
      filesTotal: 3,
      elapsedMs: 7000,
      etaMs: 12000,
    });
    expect(overallProgress([finished], {})).toBe(null);
    expect(
      overallProgress([paused], { b: progress({ jobId: 'b', elapsedMs: 1000, etaMs: 7000 }) }),
    ).toEqual({
      jobs: 1,
      paused: 1,
      filesFinished: 0,
      filesTotal: 1,
      elapsedMs: 1000,
      etaMs: 7000,
    });
    // A job without an estimate yet: the time left of all of them is not known, not a part of it.
    expect(
      overallProgress([running, paused], {
        a: progress({ etaMs: 5000 }),
        b: progress({ jobId: 'b', etaMs: null }),
      })?.etaMs,
    ).toBe(null);
  });

  it('a paused job says Paused for the photo it was working on; an up-to-date one says so', () => {
    const paused = { state: 'paused' as const };
    const none = { reason: null };
    expect(fileStateLabel({ state: 'running', attempts: 1, ...none }, paused)).toBe(
      'Finishing, then pausing',
    );
    expect(fileStateLabel({ state: 'queued', attempts: 1, ...none }, paused)).toBe('Paused');
    // Pause now kept part of it: how much, never rounded up to a whole photo.
    expect(
      fileStateLabel({ state: 'queued', attempts: 1, ...none, keptFraction: 0.479 }, paused),
    ).toBe('Paused · 47 % kept');
    expect(
      fileStateLabel({ state: 'queued', attempts: 1, ...none, keptFraction: 0.996 }, paused),
    ).toBe('Paused · 99 % kept');
    expect(fileStateLabel({ state: 'queued', attempts: 0, ...none }, paused)).toBe('Waiting');
    expect(fileStateLabel({ state: 'running', attempts: 1, ...none }, { state: 'running' })).toBe(
      'Upscaling',
    );
    const upToDate = { code: 'up-to-date' as const, message: 'up to date' };
    expect(
      fileStateLabel({ state: 'skipped', attempts: 0, reason: upToDate }, { state: 'finished' }),
    ).toBe('Up to date');
    const exists = { code: 'output-exists' as const, message: 'exists' };
    expect(
      fileStateLabel({ state: 'skipped', attempts: 0, reason: exists }, { state: 'finished' }),
    ).toBe('Skipped');
  });
});

describe('readable report', () => {
  it('totals in MB and s, failures first with their reason, one section per folder', () => {
    const report = buildReportView(
      job(
        'a',
        [
          file(0, 'june/a.jpg', {
            state: 'done',
            outputBytes: 11_595_657,
            outputWidth: 1280,
            outputHeight: 960,
            elapsedMs: 3400,
          }),
          file(1, 'june/b.jpg', {
            state: 'failed',
            inputWidth: 0,
            inputHeight: 0,
            inputBytes: 10,
            reason: {
              code: 'not-an-image',
              message: 'not an image, or in a format this build cannot read',
            },
            elapsedMs: 20,
          }),
          file(2, 'c.jpg', {
            state: 'skipped',
            reason: {
              code: 'output-exists',
              message: '/out/c_x2.jpg already exists (overwrite policy: skip)',
            },
          }),
        ],
        'finished',
      ),
    );
    expect(describeTotals(report.totals)).toBe(
      '3 photos · 1 done · 1 failed · 1 skipped · 4.0 MB → 12 MB · 3 s',
    );
    expect(report.failures.map((photo) => [photo.name, photo.reason])).toEqual([
      ['b.jpg', 'Not an image, or in a format this build cannot read'],
    ]);
    expect(
      report.folders.map((folder) => [folder.folder, folder.photos.map((photo) => photo.name)]),
    ).toEqual([
      ['', ['c.jpg']],
      ['june', ['b.jpg', 'a.jpg']],
    ]);
    const june = report.folders[1]!;
    expect(june.photos.map((photo) => [photo.result, photo.details, photo.comparable])).toEqual([
      ['Failed', '10 B · 0.0 s', false],
      ['Done', '2.0 MB → 12 MB · 640×480 → 1280×960 · 3 s', true],
    ]);
  });
});
