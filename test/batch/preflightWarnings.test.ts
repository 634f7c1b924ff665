/**
 * What the pre-flight tells a person before starting: outputs that already exist and what the
 * overwrite policy will do, photos only in sub-folders, unreadable files. And "Retry failed"
 * leaves files alone that can never succeed.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { expect, it } from 'vitest';
import type { BatchQueue } from '../../src/main/batch/batchQueue.ts';
import { isRetryableFailure } from '../../src/shared/jobs.ts';
import { jobInputs, rawImage, testSettings, writeImage, useFixtureQueue } from './batchFixtures.ts';

let root: string;
let queue: BatchQueue;

useFixtureQueue('warnings', { autoStart: false }, (freshRoot, freshQueue) => {
  root = freshRoot;
  queue = freshQueue;
});

it('says which outputs already exist and what each overwrite policy will do with them', async () => {
  for (const name of ['a', 'b', 'c', 'd', 'e'])
    await writeImage(path.join(root, 'in', `${name}.png`), rawImage(16, 16, 3).png());
  const out = path.join(root, 'in-upscaled');
  await mkdir(out);
  for (const name of ['a', 'b', 'c', 'd']) await writeFile(path.join(out, `${name}_x2.png`), 'old');
  const warningFor = async (overwrite: 'skip' | 'rename' | 'overwrite') =>
    (
      await queue.preflight({
        inputs: jobInputs([path.join(root, 'in')]),
        settings: testSettings({ overwrite }),
      })
    ).warnings;
  expect(await warningFor('skip')).toEqual([
    {
      code: 'outputs-exist',
      message: `4 outputs already exist in ${out} (a_x2.png, b_x2.png, c_x2.png and 1 more): they will be skipped and left as they are (When the file exists: Skip).`,
    },
  ]);
  expect((await warningFor('rename'))[0]!.message).toBe(
    `4 outputs already exist in ${out} (a_x2.png, b_x2.png, c_x2.png and 1 more): the new files get a number instead, e.g. name-1 (When the file exists: Add a number).`,
  );
  expect((await warningFor('overwrite'))[0]!.message).toBe(
    `4 outputs already exist in ${out} (a_x2.png, b_x2.png, c_x2.png and 1 more): they will be replaced (When the file exists: Replace).`,
  );
});

it('points at photos in sub-folders when sub-folders are not included', async () => {
  await writeImage(path.join(root, 'trip', 'day1', 'a.png'), rawImage(16, 16, 3).png());
  await writeImage(path.join(root, 'trip', 'day2', 'b.png'), rawImage(16, 16, 3).png());
  const flat = await queue.preflight({
    inputs: jobInputs([path.join(root, 'trip')], { recursive: false }),
    settings: testSettings(),
  });
  expect([flat.filesFound, flat.warnings]).toEqual([
    0,
    [
      {
        code: 'photos-in-subfolders',
        message: '0 photos here, 2 in sub-folders: tick “Include subfolders” to upscale them too.',
      },
    ],
  ]);
  const deep = await queue.preflight({
    inputs: jobInputs([path.join(root, 'trip')], { recursive: true }),
    settings: testSettings(),
  });
  expect([deep.filesFound, deep.warnings]).toEqual([2, []]);
});

it('retries only failures another attempt can fix', async () => {
  await writeImage(path.join(root, 'in', 'good.png'), rawImage(16, 16, 3).png());
  await writeFile(path.join(root, 'in', 'notes.png'), 'not a picture');
  const job = await queue.addJob({
    inputs: jobInputs([path.join(root, 'in')]),
    settings: testSettings(),
  });
  queue.start();
  await queue.whenIdle();
  const broken = queue.job(job.id)!.files.find((file) => file.relativePath === 'notes.png')!;
  expect([broken.state, broken.reason?.code, isRetryableFailure(broken)]).toEqual([
    'failed',
    'not-an-image',
    false,
  ]);
  expect(await queue.retryFailed(job.id)).toBe(0);
  expect(queue.job(job.id)!.state).toBe('finished');
  expect(
    isRetryableFailure({ state: 'failed', reason: { code: 'output-not-writable', message: '' } }),
  ).toBe(true);
  expect(
    isRetryableFailure({ state: 'failed', reason: { code: 'scale-out-of-range', message: '' } }),
  ).toBe(false);
});
