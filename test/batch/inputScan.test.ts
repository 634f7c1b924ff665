/** Scanning inputs and choosing the default output folder, on real folders. */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { scanInputs } from '../../src/main/batch/inputScan.ts';
import { defaultOutputFolder, OUTPUT_FOLDER_MARKER } from '../../src/main/batch/outputPlan.ts';
import { jobInputs, makeTempDir, removeDir } from './batchFixtures.ts';

let root: string;

beforeEach(async () => {
  root = await makeTempDir('scan');
  const files = [
    'a/1.jpg',
    'a/10.jpg',
    'a/2.PNG',
    'a/notes.txt',
    'a/sub/3.webp',
    'a/sub/.cmsc-partial.job-x.0.3_x2.webp',
    'a/sub/.cmsc-atomic.cmsc-report-job-x.json.ab12',
    'a/previous-run/4.png',
    'b/1.jpg',
  ];
  for (const file of files) {
    await mkdir(path.dirname(path.join(root, file)), { recursive: true });
    await writeFile(path.join(root, file), 'x');
  }
  await writeFile(path.join(root, 'a/previous-run', OUTPUT_FOLDER_MARKER), '');
});

afterEach(async () => {
  await removeDir(root);
});

const relative = async (...args: Parameters<typeof scanInputs>) =>
  (await scanInputs(...args)).map((f) => f.relativePath);

it('walks recursively in natural order, skipping our temporaries and marked output folders', async () => {
  expect(await relative(jobInputs([path.join(root, 'a')]))).toEqual([
    '1.jpg',
    '2.PNG',
    '10.jpg',
    'sub/3.webp',
  ]);
});

it('stays in the top folder when not recursive', async () => {
  expect(await relative(jobInputs([path.join(root, 'a')], { recursive: false }))).toEqual([
    '1.jpg',
    '2.PNG',
    '10.jpg',
  ]);
});

it('filters by extension, case-insensitively, include first then exclude', async () => {
  expect(
    await relative(jobInputs([path.join(root, 'a')], { includeExtensions: ['png', '.JPG'] })),
  ).toEqual(['1.jpg', '2.PNG', '10.jpg']);
  expect(await relative(jobInputs([path.join(root, 'a')], { excludeExtensions: ['jpg'] }))).toEqual(
    ['2.PNG', 'sub/3.webp'],
  );
});

it('prefixes paths with the folder name when several folders are picked, and lists a file once', async () => {
  expect(
    await relative(
      jobInputs([path.join(root, 'a'), path.join(root, 'b'), path.join(root, 'b', '1.jpg')], {
        recursive: false,
      }),
    ),
  ).toEqual(['a/1.jpg', 'a/2.PNG', 'a/10.jpg', 'b/1.jpg']);
});

it('skips an explicitly named folder (the job’s own output folder)', async () => {
  expect(await relative(jobInputs([path.join(root, 'a')]), [path.join(root, 'a', 'sub')])).toEqual([
    '1.jpg',
    '2.PNG',
    '10.jpg',
  ]);
});

it('puts outputs in a sibling folder, never among the inputs', () => {
  expect(defaultOutputFolder(['/photos/2024'], ['/photos/2024'])).toBe('/photos/2024-upscaled');
  expect(defaultOutputFolder(['/photos/2024/a.jpg', '/photos/2024/b.jpg'], [])).toBe(
    '/photos/2024/upscaled',
  );
  expect(defaultOutputFolder(['/photos/2024', '/photos/2025/c.jpg'], ['/photos/2024'])).toBe(
    '/photos/upscaled',
  );
});
