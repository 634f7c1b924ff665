/**
 * At-least-once delivery means a file can run twice (a worker thought dead, a task re-added):
 * the shared write path, holding the output folder only around the commit as cluster workers
 * do, must still leave exactly one complete output and one manifest record.
 */
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Job, JobFile } from '../../src/shared/jobs.ts';
import { runFile, type OutputAccess } from '../../src/main/batch/fileRun.ts';
import type { ImageUpscaler } from '../../src/main/batch/imageUpscaler.ts';
import { JobPlanner } from '../../src/main/batch/jobPlanner.ts';
import { OutputManifest } from '../../src/main/batch/outputManifest.ts';
import { OutputBook } from '../../src/main/batch/outputRecord.ts';
import {
  fixtureUpscaler,
  jobInputs,
  listFiles,
  makeTempDir,
  removeDir,
  testSettings,
  writeImage,
  rawImage,
} from '../batch/batchFixtures.ts';

let upscaler: ImageUpscaler;
let root: string;
beforeAll(async () => {
  upscaler = await fixtureUpscaler();
  root = await makeTempDir('double-run');
});
afterAll(async () => {
  await upscaler.close();
  await removeDir(root);
});

/** Shared like a cluster worker shares it: a fresh read, and a lock only around the commit. */
function sharedAccess(): OutputAccess {
  let held: Promise<void> = Promise.resolve();
  return {
    exclusive: false,
    open: async (folder) => (await OutputManifest.open(folder)).manifest,
    withFolder: async (folder, _signal, commit) => {
      const previous = held;
      let release = (): void => undefined;
      held = new Promise((resolve) => (release = resolve));
      await previous;
      try {
        return await commit((await OutputManifest.open(folder)).manifest);
      } finally {
        release();
      }
    },
  };
}

describe('the same file run twice at once, as two workers would', () => {
  it('one output, one record, both runs report it done', async () => {
    const input = await writeImage(path.join(root, 'in', 'a.png'), rawImage(40, 30, 3));
    const settings = testSettings({ outputFolder: path.join(root, 'out') });
    const job: Job = {
      id: 'job-double',
      createdAt: new Date().toISOString(),
      inputs: jobInputs([path.join(root, 'in')]),
      settings,
      outputFolder: path.join(root, 'out'),
      state: 'running',
      files: [],
      summary: null,
    };
    const file = (): JobFile => ({
      id: 0,
      inputPath: input,
      relativePath: 'a.png',
      inputBytes: 0,
      inputWidth: 40,
      inputHeight: 30,
      state: 'running',
      reason: null,
      outputPath: null,
      outputBytes: null,
      outputWidth: null,
      outputHeight: null,
      elapsedMs: null,
      provider: null,
      attempts: 1,
    });
    const planner = new JobPlanner({
      upscaler,
      stateDir: path.join(root, 'state'),
      speedFile: path.join(root, 'state', 'speed.json'),
      outputs: new OutputBook(),
      isBusy: () => true,
      warn: () => undefined,
    });
    await mkdir(path.join(root, 'state'), { recursive: true });
    await planner.open();
    const context = {
      upscaler,
      planner,
      outputs: sharedAccess(),
      reserved: new Set([input]),
      onNote: () => undefined,
    };
    // Two runs of file 0 at once, each with its own temporary name, as two workers' attempts.
    const [one, two] = await Promise.all([
      runFile({ ...context, tempTag: `${job.id}.one` }, job, file(), {
        signal: new AbortController().signal,
      }),
      runFile({ ...context, tempTag: `${job.id}.two` }, job, file(), {
        signal: new AbortController().signal,
      }),
    ]);
    const output = path.join(root, 'out', 'a_x2.png');
    expect(one).toMatchObject({ kind: 'done', outputPath: output });
    expect(two).toMatchObject({ kind: 'done', outputPath: output });
    expect(await listFiles(path.join(root, 'out'))).toEqual([
      '.cmsc-upscaler-manifest.jsonl',
      '.cmsc-upscaler-output',
      'a_x2.png',
    ]);
    const records = (
      await readFile(path.join(root, 'out', '.cmsc-upscaler-manifest.jsonl'), 'utf8')
    )
      .trim()
      .split('\n')
      .slice(1);
    expect(records).toHaveLength(1);
  }, 60_000);
});
