/**
 * The resume guarantee with a real worker process: start `runBatch.ts` on a folder, SIGKILL it
 * while it is inside an image, start it again, and check that every input ends with exactly one
 * output, identical to an uninterrupted upscale, with no temporary file left anywhere.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { QueueStore } from '../../src/main/batch/queueStore.ts';
import { verifyOutputs } from '../../src/main/batch/verifyOutputs.ts';
import { createInterface } from 'node:readline';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toUpscaleOptions } from '../../src/main/batch/exportOptions.ts';
import type { BatchEvent, Job } from '../../src/shared/jobs.ts';
import {
  FIXTURE_MODELS_DIR,
  REPO_ROOT,
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

const IMAGE_COUNT = 8;
const RUNNER = path.join(REPO_ROOT, 'src/main/batch/runBatch.ts');

function startRunner(
  stateDir: string,
  extraArgs: string[],
): { child: ChildProcess; events: AsyncIterable<string> } {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      RUNNER,
      '--state',
      stateDir,
      '--models-dir',
      FIXTURE_MODELS_DIR,
      '--threads',
      '1',
      ...extraArgs,
    ],
    { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stderr!.on('data', (chunk: Buffer) => process.stderr.write(chunk));
  return { child, events: createInterface({ input: child.stdout! }) };
}

function exitOf(
  child: ChildProcess,
): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null)
      resolve({ code: child.exitCode, signal: child.signalCode });
    else child.once('exit', (code, signal) => resolve({ code, signal }));
  });
}

describe('SIGKILL of a batch worker in the middle of an image, then resume', () => {
  let root: string;
  let inputDir: string;
  let stateDir: string;
  let inputPaths: string[];
  let hashesBefore: Record<string, string>;
  let persistedAtKill: Job;
  let doneBeforeKill: number;
  let secondExit: { code: number | null; signal: NodeJS.Signals | null };

  beforeAll(async () => {
    root = await makeTempDir('resume');
    inputDir = path.join(root, 'scans');
    stateDir = path.join(root, 'state');
    inputPaths = [];
    for (let index = 1; index <= IMAGE_COUNT; index++) {
      inputPaths.push(
        await writeImage(
          path.join(inputDir, `scan-${index}.png`),
          // The third image is the one the kill lands in: big enough (about 130 tiles) that it
          // is still far from done when the parent reads its first tile and sends the signal.
          (index === 3 ? rawImage(200, 160, 3) : rawImage(64 + index, 48, 3)).png(),
        ),
      );
    }
    hashesBefore = await hashAll(inputPaths);
    const request = path.join(root, 'request.json');
    // 32-pixel tiles: each image takes several inference calls, so the kill lands inside one.
    await writeFile(
      request,
      JSON.stringify({ inputs: jobInputs([inputDir]), settings: testSettings({ tileSize: 32 }) }),
    );

    const first = startRunner(stateDir, ['--add', request]);
    doneBeforeKill = 0;
    for await (const line of first.events) {
      const event = JSON.parse(line) as BatchEvent;
      if (event.type === 'file-state' && event.file.state === 'done') doneBeforeKill++;
      const current = event.type === 'progress' ? event.progress.currentFile : null;
      if (
        doneBeforeKill >= 2 &&
        current &&
        current.tilesDone >= 1 &&
        current.tilesDone < current.tilesTotal
      ) {
        first.child.kill('SIGKILL');
        break;
      }
    }
    const firstExit = await exitOf(first.child);
    expect(firstExit.signal).toBe('SIGKILL');
    persistedAtKill = (await persistedQueue(stateDir)).jobs[0]!;

    const second = startRunner(stateDir, []);
    for await (const _line of second.events) {
      // Drain stdout so the child never blocks on a full pipe.
    }
    secondExit = await exitOf(second.child);
  }, 120_000);

  afterAll(async () => {
    await removeDir(root);
  });

  it('was killed with an image in progress and finished images on record', () => {
    const states = persistedAtKill.files.map((f) => f.state);
    expect(states.filter((s) => s === 'running')).toHaveLength(1);
    expect(states.filter((s) => s === 'done').length).toBeGreaterThanOrEqual(2);
    expect(doneBeforeKill).toBeGreaterThanOrEqual(2);
  });

  it('the second run finishes the job: every input exactly one output, no temporary file', async () => {
    expect(secondExit).toEqual({ code: 0, signal: null });
    const job = (await persistedQueue(stateDir)).jobs[0]!;
    expect(job.state).toBe('finished');
    expect(job.files.map((f) => f.state)).toEqual(Array(IMAGE_COUNT).fill('done'));
    // Files finished before the kill were not redone.
    for (const before of persistedAtKill.files.filter((f) => f.state === 'done')) {
      expect(job.files[before.id]!.attempts).toBe(1);
    }
    expect(job.files.find((f) => persistedAtKill.files[f.id]!.state === 'running')!.attempts).toBe(
      2,
    );
    const outputs = await listFiles(job.outputFolder);
    expect(outputs).toEqual(
      [
        '.cmsc-upscaler-manifest.jsonl',
        '.cmsc-upscaler-output',
        `cmsc-report-${job.id}.csv`,
        `cmsc-report-${job.id}.json`,
        ...Array.from({ length: IMAGE_COUNT }, (_, i) => `scan-${i + 1}_x2.png`),
      ].sort(),
    );
    const everything = await listFiles(root);
    expect(
      everything.filter(
        (f) =>
          f.includes('.cmsc-partial.') || f.includes('.cmsc-atomic.') || f.includes('.partial'),
      ),
    ).toEqual([]);
  });

  it('every output equals an uninterrupted upscale of its input, and no input changed', async () => {
    const upscaler = await fixtureUpscaler();
    try {
      const referenceDir = path.join(root, 'reference');
      await mkdir(referenceDir);
      for (const [index, inputPath] of inputPaths.entries()) {
        const reference = path.join(referenceDir, `scan-${index + 1}.png`);
        await upscaler.upscaleFile(
          inputPath,
          reference,
          toUpscaleOptions(testSettings({ tileSize: 32 }), 'png'),
          'cpu',
          {},
        );
        const produced = path.join(root, 'scans-upscaled', `scan-${index + 1}_x2.png`);
        const [expected, actual] = await Promise.all([
          sharp(reference).raw().toBuffer(),
          sharp(produced).raw().toBuffer(),
        ]);
        expect(actual.equals(expected)).toBe(true);
      }
    } finally {
      await upscaler.close();
    }
    expect(await hashAll(inputPaths)).toEqual(hashesBefore);
  });
});

describe('SIGTERM stops a batch worker cleanly', () => {
  let root: string;

  afterAll(async () => {
    await removeDir(root);
  });

  it('the running image goes back to queued, nothing half-written stays, exit code 130', async () => {
    root = await makeTempDir('sigterm');
    const inputDir = path.join(root, 'in');
    for (let index = 1; index <= 3; index++) {
      await writeImage(path.join(inputDir, `p-${index}.png`), rawImage(96, 64, 3).png());
    }
    const request = path.join(root, 'request.json');
    await writeFile(
      request,
      JSON.stringify({ inputs: jobInputs([inputDir]), settings: testSettings({ tileSize: 32 }) }),
    );
    const stateDir = path.join(root, 'state');
    const runner = startRunner(stateDir, ['--add', request]);
    let signalled = false;
    for await (const line of runner.events) {
      const event = JSON.parse(line) as BatchEvent;
      const current = event.type === 'progress' ? event.progress.currentFile : null;
      if (
        !signalled &&
        current &&
        current.tilesDone >= 1 &&
        current.tilesDone < current.tilesTotal
      ) {
        // Once: a second SIGTERM would meet Node's default handler and end the process outright.
        runner.child.kill('SIGTERM');
        signalled = true;
      }
    }
    expect(await exitOf(runner.child)).toEqual({ code: 130, signal: null });
    const job = (await persistedQueue(stateDir)).jobs[0]!;
    expect(job.files.some((f) => f.state === 'running')).toBe(false);
    expect(job.files.filter((f) => f.state === 'queued').length).toBeGreaterThanOrEqual(1);
    expect(job.state).toBe('running');
    expect(
      (await listFiles(root)).filter((f) => f.includes('.cmsc-partial.') || f.includes('.partial')),
    ).toEqual([]);
  }, 60_000);
});

describe('SIGKILL at several different moments in a row, then resume', () => {
  let root: string;

  afterAll(async () => {
    await removeDir(root);
  });

  it('every input still ends with exactly one output and nothing temporary', async () => {
    root = await makeTempDir('kills');
    const inputDir = path.join(root, 'in');
    const inputs: string[] = [];
    for (let index = 1; index <= 6; index++) {
      inputs.push(
        await writeImage(path.join(inputDir, `k-${index}.png`), rawImage(48, 40 + index, 3).png()),
      );
    }
    const hashes = await hashAll(inputs);
    const request = path.join(root, 'request.json');
    await writeFile(
      request,
      JSON.stringify({
        inputs: jobInputs([inputDir]),
        // rename: a second copy would show as k-N_x2-1.png
        settings: testSettings({ tileSize: 32, overwrite: 'rename' }),
      }),
    );
    const stateDir = path.join(root, 'state');
    // Kill after the n-th event of each run: different phases (start, planning, tiles, commit).
    for (const [run, killAfter] of [3, 7, 12, 5].entries()) {
      const runner = startRunner(stateDir, run === 0 ? ['--add', request] : []);
      let seen = 0;
      for await (const _line of runner.events) {
        if (++seen === killAfter) {
          runner.child.kill('SIGKILL');
          break;
        }
      }
      await exitOf(runner.child);
    }
    const last = startRunner(stateDir, []);
    for await (const _line of last.events) {
      // drain
    }
    expect(await exitOf(last.child)).toEqual({ code: 0, signal: null });
    const job = (await persistedQueue(stateDir)).jobs[0]!;
    expect([job.state, ...job.files.map((f) => f.state)]).toEqual([
      'finished',
      ...Array(6).fill('done'),
    ]);
    expect((await listFiles(job.outputFolder)).filter((f) => f.endsWith('.png'))).toEqual(
      Array.from({ length: 6 }, (_, i) => `k-${i + 1}_x2.png`),
    );
    for (const [index, file] of job.files.entries()) {
      const metadata = await sharp(file.outputPath!).metadata();
      expect([metadata.width, metadata.height]).toEqual([96, 2 * (40 + index + 1)]);
    }
    // The manifest agrees: one intact record per output, none pointing at a partial file.
    const verified = await verifyOutputs(job.outputFolder);
    expect([verified.checked, verified.intact, verified.findings, verified.warnings]).toEqual([
      6,
      6,
      [],
      [],
    ]);
    expect(
      (await listFiles(root)).filter(
        (f) =>
          f.includes('.cmsc-partial.') || f.includes('.partial') || f.includes('.cmsc-atomic.'),
      ),
    ).toEqual([]);
    expect(await hashAll(inputs)).toEqual(hashes);
  }, 120_000);
});

/** The queue as a new process would load it: the snapshot with the journal replayed over it. */
async function persistedQueue(stateDir: string): Promise<{ jobs: Job[] }> {
  return new QueueStore(stateDir).load();
}
