/**
 * Queue behaviour with real files and the real engine: overwrite policies, a file deleted
 * between scan and processing, cancel in the middle of an image, pause/resume, retry, reorder,
 * remove, a read-only output folder, settings snapshots, and recovery when a kill fell between
 * renaming an output into place and recording it.
 */
import { spawnSync } from 'node:child_process';
import { chmod, copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createBatchQueue, type BatchQueue } from '../../src/main/batch/batchQueue.ts';
import type { ImageUpscaler } from '../../src/main/batch/imageUpscaler.ts';
import type { BatchEvent, Job } from '../../src/shared/jobs.ts';
import {
  fixtureUpscaler,
  hashAll,
  jobInputs,
  listFiles,
  makeTempDir,
  rawImage,
  removeDir,
  sha256,
  testSettings,
  writeImage,
} from './batchFixtures.ts';

let upscaler: ImageUpscaler;
let root: string;
let queue: BatchQueue;
let events: BatchEvent[];

beforeAll(async () => {
  upscaler = await fixtureUpscaler();
});
afterAll(async () => {
  await upscaler.close();
});
beforeEach(async () => {
  root = await makeTempDir('control');
  events = [];
});
afterEach(async () => {
  await queue?.close();
  await removeDir(root);
});

async function openQueue(autoStart = true): Promise<BatchQueue> {
  queue = await createBatchQueue({ stateDir: path.join(root, 'state'), upscaler, autoStart });
  queue.onAny((event) => events.push(event));
  return queue;
}

async function runToEnd(job: Job): Promise<Job> {
  await queue.whenIdle();
  return queue.job(job.id)!;
}

/** Every temporary file of ours below `root`. */
async function temporaries(): Promise<string[]> {
  return (await listFiles(root)).filter(
    (f) => f.includes('.cmsc-partial.') || f.includes('.cmsc-atomic.') || f.includes('.partial'),
  );
}

describe('overwrite policies on an existing output name', () => {
  let existing: string;
  let existingHash: string;

  beforeEach(async () => {
    await writeImage(path.join(root, 'in', 'a.png'), rawImage(24, 16, 3).png());
    existing = await writeImage(path.join(root, 'out', 'a_x2.png'), rawImage(5, 5, 3).png());
    existingHash = await sha256(existing);
    await openQueue();
  });

  const run = async (overwrite: 'skip' | 'rename' | 'overwrite') => {
    const job = await queue.addJob({
      inputs: jobInputs([path.join(root, 'in')]),
      settings: testSettings({ overwrite, outputFolder: path.join(root, 'out') }),
    });
    return (await runToEnd(job)).files[0]!;
  };

  it('skip: the file is skipped with a reason, the existing file untouched', async () => {
    const file = await run('skip');
    expect([file.state, file.reason?.code, file.outputPath]).toEqual([
      'skipped',
      'output-exists',
      null,
    ]);
    expect(await sha256(existing)).toBe(existingHash);
    expect((await listFiles(path.join(root, 'out'))).filter((f) => f.endsWith('.png'))).toEqual([
      'a_x2.png',
    ]);
  });

  it('rename: a counter is added, the existing file untouched', async () => {
    const file = await run('rename');
    expect([file.state, file.outputPath]).toEqual(['done', path.join(root, 'out', 'a_x2-1.png')]);
    expect(await sha256(existing)).toBe(existingHash);
    expect((await sharp(file.outputPath!).metadata()).width).toBe(48);
  });

  it('overwrite: the existing file is replaced by the new output', async () => {
    const file = await run('overwrite');
    expect([file.state, file.outputPath]).toEqual(['done', existing]);
    expect(await sha256(existing)).not.toBe(existingHash);
    const metadata = await sharp(existing).metadata();
    expect([metadata.width, metadata.height]).toEqual([48, 32]);
    expect((await listFiles(path.join(root, 'out'))).filter((f) => f.endsWith('.png'))).toEqual([
      'a_x2.png',
    ]);
  });

  it('two inputs of one job that map to one name never overwrite each other, even under overwrite', async () => {
    await writeImage(path.join(root, 'in', 'a.jpg'), rawImage(20, 20, 3).jpeg());
    const job = await queue.addJob({
      inputs: jobInputs([path.join(root, 'in')]),
      settings: testSettings({
        overwrite: 'overwrite',
        format: 'png',
        outputFolder: path.join(root, 'fresh'),
      }),
    });
    const done = await runToEnd(job);
    expect(
      done.files.map((f) => [path.basename(f.inputPath), path.basename(f.outputPath!)]),
    ).toEqual([
      ['a.jpg', 'a_x2.png'],
      ['a.png', 'a_x2-1.png'],
    ]);
  });
});

it('a file deleted between scan and processing fails with input-missing; the others are done', async () => {
  const inputs = [];
  for (const name of ['one', 'two', 'three'])
    inputs.push(await writeImage(path.join(root, 'in', `${name}.png`), rawImage(16, 16, 3).png()));
  await openQueue(false);
  const job = await queue.addJob({
    inputs: jobInputs([path.join(root, 'in')]),
    settings: testSettings(),
  });
  await rm(path.join(root, 'in', 'three.png'));
  queue.start();
  const done = await runToEnd(job);
  expect(done.files.map((f) => [f.relativePath, f.state, f.reason?.code ?? null])).toEqual([
    ['one.png', 'done', null],
    ['three.png', 'failed', 'input-missing'],
    ['two.png', 'done', null],
  ]);
  expect(await temporaries()).toEqual([]);
});

describe('cancel and pause in the middle of an image', () => {
  let inputs: string[];
  let hashes: Record<string, string>;

  beforeEach(async () => {
    // 128x128 at x2 in 32-pixel tiles: dozens of inference calls, time to act inside the image.
    inputs = [
      await writeImage(path.join(root, 'in', 'big.png'), rawImage(128, 128, 3).png()),
      await writeImage(path.join(root, 'in', 'small.png'), rawImage(16, 16, 3).png()),
    ];
    hashes = await hashAll(inputs);
    await openQueue();
  });

  /** Resolves with the tile progress when the first file is part-way through its tiles. */
  const midImage = (fromFraction = 0) =>
    new Promise<{ tilesDone: number; tilesTotal: number }>((resolve) => {
      const off = queue.on('progress', ({ progress }) => {
        const current = progress.currentFile;
        if (
          current &&
          current.fileId === 0 &&
          current.tilesDone >= Math.max(1, current.tilesTotal * fromFraction) &&
          current.tilesDone < current.tilesTotal
        ) {
          off();
          resolve({ tilesDone: current.tilesDone, tilesTotal: current.tilesTotal });
        }
      });
    });

  const settings = () => testSettings({ tileSize: 32 });

  it('cancel one file: it ends cancelled with no output and no temporary file; the next file is done', async () => {
    const reached = midImage();
    const job = await queue.addJob({
      inputs: jobInputs([path.join(root, 'in')]),
      settings: settings(),
    });
    const at = await reached;
    await queue.cancelFile(job.id, 0);
    const done = await runToEnd(job);
    expect(at.tilesDone).toBeLessThan(at.tilesTotal);
    expect(
      done.files.map((f) => [
        f.relativePath,
        f.state,
        f.reason?.code ?? null,
        f.outputPath === null,
      ]),
    ).toEqual([
      ['big.png', 'cancelled', 'cancelled', true],
      ['small.png', 'done', null, false],
    ]);
    expect(await listFiles(done.outputFolder)).toEqual([
      '.cmsc-upscaler-manifest.jsonl',
      '.cmsc-upscaler-output',
      `cmsc-report-${job.id}.csv`,
      `cmsc-report-${job.id}.json`,
      'small_x2.png',
    ]);
    expect(await temporaries()).toEqual([]);
    expect(await hashAll(inputs)).toEqual(hashes);
  });

  it('cancel the job: the running and queued files end cancelled, the job reports', async () => {
    const reached = midImage();
    const job = await queue.addJob({
      inputs: jobInputs([path.join(root, 'in')]),
      settings: settings(),
    });
    await reached;
    await queue.cancelJob(job.id);
    const done = await runToEnd(job);
    expect([done.state, ...done.files.map((f) => f.state)]).toEqual([
      'cancelled',
      'cancelled',
      'cancelled',
    ]);
    expect(done.summary?.counts.cancelled).toBe(2);
    const report = JSON.parse(await readFile(done.summary!.reportJsonPath!, 'utf8')) as {
      state: string;
      files: { state: string }[];
    };
    expect([report.state, ...report.files.map((row) => row.state)]).toEqual([
      'cancelled',
      'cancelled',
      'cancelled',
    ]);
    expect(await temporaries()).toEqual([]);
  });

  it('pause now stops the running image and keeps its finished part; resume goes on from it', async () => {
    // Half-way: whole bands of tiles are done.
    const reached = midImage(0.5);
    const job = await queue.addJob({
      inputs: jobInputs([path.join(root, 'in')]),
      settings: settings(),
    });
    await reached;
    await queue.pauseJob(job.id, 'now');
    await queue.whenIdle();
    const paused = queue.job(job.id)!;
    expect([paused.state, ...paused.files.map((f) => f.state)]).toEqual([
      'paused',
      'queued',
      'queued',
    ]);
    const kept = paused.files[0]!.keptFraction!;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(1);
    // What is kept: the photo's finished rows and their record, nothing else.
    expect(
      (await temporaries()).map((f) => path.basename(f).replace(/^.*\.kept\./, '*.kept.')),
    ).toEqual(['*.kept.raster.json', '*.kept.raster.tif']);
    const resumedProgress: { tilesDone: number; tilesTotal: number }[] = [];
    queue.on('progress', ({ progress }) => {
      if (progress.jobId === job.id && progress.currentFile?.fileId === 0)
        resumedProgress.push(progress.currentFile);
    });
    await queue.resumeJob(job.id);
    const done = await runToEnd(job);
    expect([done.state, ...done.files.map((f) => `${f.state}/${f.attempts}`)]).toEqual([
      'finished',
      'done/2',
      'done/1',
    ]);
    // Its bar starts from the kept part, not from 0, and the record says it went on from it.
    const first = resumedProgress.find((p) => p.tilesTotal > 0)!;
    expect(first.tilesDone / first.tilesTotal).toBeGreaterThan(0);
    expect(done.files[0]!.notes?.map((note) => note.code)).toEqual(['resumed']);
    expect(done.files[0]!.keptFraction).toBeUndefined();
    expect(await temporaries()).toEqual([]);
    // The same file as a run never paused: the same photos into another folder.
    const again = await queue.addJob({
      inputs: jobInputs([path.join(root, 'in')]),
      settings: testSettings({ tileSize: 32, outputFolder: path.join(root, 'uninterrupted') }),
    });
    const reference = await runToEnd(again);
    expect(reference.files[0]!.notes).toBeUndefined();
    expect(await sha256(done.files[0]!.outputPath!)).toBe(
      await sha256(reference.files[0]!.outputPath!),
    );
  });

  it('pause (after this photo) lets the running photo finish and keeps it; resume never redoes it', async () => {
    const reached = midImage();
    const job = await queue.addJob({
      inputs: jobInputs([path.join(root, 'in')]),
      settings: settings(),
    });
    const at = await reached;
    await queue.pauseJob(job.id);
    // Pausing, not yet paused: the photo is still being upscaled.
    const pausing = queue.job(job.id)!;
    expect([pausing.state, ...pausing.files.map((f) => f.state)]).toEqual([
      'paused',
      'running',
      'queued',
    ]);
    await queue.whenIdle();
    const paused = queue.job(job.id)!;
    expect(at.tilesDone).toBeLessThan(at.tilesTotal);
    expect([paused.state, ...paused.files.map((f) => `${f.state}/${f.attempts}`)]).toEqual([
      'paused',
      'done/1',
      'queued/0',
    ]);
    expect(await temporaries()).toEqual([]);
    // Paused: its progress stands still (nothing running, time spent = the finished photo's).
    const still = queue.progress(job.id)!;
    expect(still.currentFile).toBeNull();
    expect(still.elapsedMs).toBe(Math.round(paused.files[0]!.elapsedMs!));
    await queue.resumeJob(job.id);
    const done = await runToEnd(job);
    expect([done.state, ...done.files.map((f) => `${f.state}/${f.attempts}`)]).toEqual([
      'finished',
      'done/1',
      'done/1',
    ]);
  });

  it('pause now stops the counters at once, also after a pause waiting for its photo', async () => {
    const reached = midImage();
    const job = await queue.addJob({
      inputs: jobInputs([path.join(root, 'in')]),
      settings: settings(),
    });
    await reached;
    await queue.pauseJob(job.id);
    const afterPause: BatchEvent[] = [];
    queue.onAny((event) => afterPause.push(event));
    const request = queue.pauseJob(job.id, 'now');
    // At once, before the engine has stopped: the photo waits again and its progress is gone.
    expect(queue.job(job.id)!.files[0]!.state).toBe('queued');
    expect(queue.progress(job.id)!.currentFile).toBeNull();
    await request;
    await queue.whenIdle();
    const progressEvents = afterPause.flatMap((event) =>
      event.type === 'progress' && event.progress.jobId === job.id ? [event.progress] : [],
    );
    expect(progressEvents.length).toBeGreaterThan(0);
    expect(progressEvents.filter((progress) => progress.currentFile !== null)).toEqual([]);
    expect(new Set(progressEvents.map((progress) => progress.elapsedMs))).toEqual(new Set([0]));
    const paused = queue.job(job.id)!;
    expect([paused.state, ...paused.files.map((f) => `${f.state}/${f.attempts}`)]).toEqual([
      'paused',
      'queued/1',
      'queued/0',
    ]);
    // Only what Pause now kept of the photo (its rows and their record), if a band was done.
    const keptFiles = paused.files[0]!.keptFraction === undefined ? 0 : 2;
    expect(await temporaries()).toHaveLength(keptFiles);
    expect((await temporaries()).filter((f) => f.includes('.kept.raster.'))).toHaveLength(
      keptFiles,
    );
  });

  it('a pause that waited for the last photo leaves the job finished', async () => {
    await rm(inputs[1]!);
    const reached = midImage();
    const job = await queue.addJob({
      inputs: jobInputs([path.join(root, 'in')]),
      settings: settings(),
    });
    await reached;
    await queue.pauseJob(job.id);
    const done = await runToEnd(job);
    expect([done.state, ...done.files.map((f) => `${f.state}/${f.attempts}`)]).toEqual([
      'finished',
      'done/1',
    ]);
    expect(done.summary?.counts.done).toBe(1);
  });
});

it('retry failed: a file that failed is processed again once fixed', async () => {
  const broken = path.join(root, 'in', 'photo.png');
  await writeImage(path.join(root, 'in', 'ok.png'), rawImage(16, 16, 3).png());
  await mkdir(path.dirname(broken), { recursive: true });
  await writeFile(broken, 'not yet a picture');
  await openQueue();
  const job = await queue.addJob({
    inputs: jobInputs([path.join(root, 'in')]),
    settings: testSettings(),
  });
  const first = await runToEnd(job);
  expect(first.files.map((f) => f.state)).toEqual(['done', 'failed']);
  await writeImage(broken, rawImage(16, 12, 3).png());
  expect(await queue.retryFailed(job.id)).toBe(1);
  const second = await runToEnd(job);
  // The broken file was refused by the scan's header check, before any attempt: the retry is
  // its first attempt.
  expect(first.files[1]!.attempts).toBe(0);
  expect([second.state, ...second.files.map((f) => `${f.state}/${f.attempts}`)]).toEqual([
    'finished',
    'done/1',
    'done/1',
  ]);
  expect(second.summary?.counts.done).toBe(2);
});

it('reorder runs the moved job first; remove takes a finished job off the queue', async () => {
  await writeImage(path.join(root, 'first', 'a.png'), rawImage(16, 16, 3).png());
  await writeImage(path.join(root, 'second', 'b.png'), rawImage(16, 16, 3).png());
  await openQueue(false);
  const first = await queue.addJob({
    inputs: jobInputs([path.join(root, 'first')]),
    settings: testSettings(),
  });
  const second = await queue.addJob({
    inputs: jobInputs([path.join(root, 'second')]),
    settings: testSettings(),
  });
  await queue.moveJob(second.id, 0);
  expect(queue.jobs().map((j) => j.id)).toEqual([second.id, first.id]);
  queue.start();
  await queue.whenIdle();
  const finishOrder = events.flatMap((e) => (e.type === 'job-summary' ? [e.summary.jobId] : []));
  expect(finishOrder).toEqual([second.id, first.id]);
  await queue.removeJob(second.id);
  expect(queue.jobs().map((j) => j.id)).toEqual([first.id]);
  // The removal is persisted: a reopened queue has one job.
  await queue.close();
  await openQueue();
  expect(queue.jobs().map((j) => j.id)).toEqual([first.id]);
});

it('a job keeps the settings it was queued with', async () => {
  await writeImage(path.join(root, 'in', 'a.png'), rawImage(16, 16, 3).png());
  await openQueue(false);
  const settings = testSettings({ target: { kind: 'scale', scale: 3 } });
  const job = await queue.addJob({ inputs: jobInputs([path.join(root, 'in')]), settings });
  settings.target = { kind: 'scale', scale: 1 };
  settings.namingTemplate = '{name}-changed';
  queue.start();
  const done = await runToEnd(job);
  expect(path.basename(done.files[0]!.outputPath!)).toBe('a_x3.png');
  expect([done.files[0]!.outputWidth, done.files[0]!.outputHeight]).toEqual([48, 48]);
});

describe('a read-only output folder', () => {
  let readOnly: string;
  let mountedTmpfs = false;

  // Root ignores permission bits, so chmod alone does not make a folder read-only here. Root
  // gets the immutable attribute (chattr +i: even root cannot create files in it), and where
  // the file system lacks it, a read-only tmpfs mounted on the folder. The test first checks
  // that writing really fails.
  beforeEach(async () => {
    readOnly = path.join(root, 'read-only');
    await mkdir(readOnly);
    await chmod(readOnly, 0o555);
    if (process.getuid?.() === 0 && (await isWritable(readOnly))) {
      spawnSync('chattr', ['+i', readOnly]);
      if (await isWritable(readOnly)) {
        mountedTmpfs =
          spawnSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=64k', 'tmpfs', readOnly]).status === 0;
      }
    }
  });

  afterEach(async () => {
    if (mountedTmpfs) spawnSync('umount', [readOnly]);
    spawnSync('chattr', ['-i', readOnly]);
    await chmod(readOnly, 0o755);
  });

  it('every file fails with output-not-writable and the report goes to the state folder', async () => {
    expect(await isWritable(readOnly)).toBe(false);
    const inputs = [
      await writeImage(path.join(root, 'in', 'a.png'), rawImage(16, 16, 3).png()),
      await writeImage(path.join(root, 'in', 'b.jpg'), rawImage(16, 16, 3).jpeg()),
    ];
    const hashes = await hashAll(inputs);
    await openQueue();
    const job = await queue.addJob({
      inputs: jobInputs([path.join(root, 'in')]),
      settings: testSettings({ outputFolder: readOnly }),
    });
    const done = await runToEnd(job);
    expect(done.files.map((f) => [f.state, f.reason?.code])).toEqual([
      ['failed', 'output-not-writable'],
      ['failed', 'output-not-writable'],
    ]);
    expect(done.summary?.reportJsonPath).toBe(
      path.join(root, 'state', 'reports', `cmsc-report-${job.id}.json`),
    );
    expect(done.summary?.reportError).toMatch(/^the output folder could not take the report/);
    expect(await listFiles(readOnly)).toEqual([]);
    expect(await hashAll(inputs)).toEqual(hashes);
  });
});

async function isWritable(dir: string): Promise<boolean> {
  const probe = path.join(dir, '.write-probe');
  try {
    await writeFile(probe, 'x');
    await rm(probe);
    return true;
  } catch {
    return false;
  }
}

it('a kill between renaming an output into place and recording it: the output is adopted, not made twice', async () => {
  await writeImage(path.join(root, 'in', 'a.png'), rawImage(16, 16, 3).png());
  await openQueue();
  const job = await runToEnd(
    await queue.addJob({ inputs: jobInputs([path.join(root, 'in')]), settings: testSettings() }),
  );
  await queue.close();
  // Rewrite the state as the kill would have left it: file running with its planned path, job running.
  const statePath = path.join(root, 'state', 'queue.json');
  const state = JSON.parse(await readFile(statePath, 'utf8')) as { jobs: Job[] };
  const crashed = state.jobs[0]!;
  crashed.state = 'running';
  crashed.summary = null;
  Object.assign(crashed.files[0]!, {
    state: 'running',
    outputBytes: null,
    outputWidth: null,
    outputHeight: null,
  });
  await writeFile(statePath, JSON.stringify(state));
  // and a temporary output of a second attempt that was in flight
  const leftover = path.join(job.outputFolder, `.cmsc-partial.${job.id}.0.a_x2.png`);
  await copyFile(job.files[0]!.outputPath!, leftover);
  await openQueue();
  const recovered = await runToEnd(crashed);
  expect([recovered.state, recovered.files[0]!.state, recovered.files[0]!.outputPath]).toEqual([
    'finished',
    'done',
    job.files[0]!.outputPath,
  ]);
  expect((await listFiles(job.outputFolder)).filter((f) => f.endsWith('.png'))).toEqual([
    'a_x2.png',
  ]);
  expect(await temporaries()).toEqual([]);
});

it('refuses a job that finds no images', async () => {
  await mkdir(path.join(root, 'empty', 'sub'), { recursive: true });
  await writeFile(path.join(root, 'empty', 'sub', 'a.png'), 'x');
  await openQueue();
  await expect(
    queue.addJob({
      inputs: jobInputs([path.join(root, 'empty')], { recursive: false }),
      settings: testSettings(),
    }),
  ).rejects.toThrow(`no images found in ${path.join(root, 'empty')} (sub-folders not included)`);
  expect(queue.jobs()).toEqual([]);
});
