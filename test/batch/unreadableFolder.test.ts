/**
 * A sub-folder that cannot be read is named a folder, not "1 file" (issue 23, defect 9): the
 * scan marks its entry as a folder, and the pre-flight's words count folders and files apart.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { scanInputs } from '../../src/main/batch/inputScan.ts';
import { unreadableText } from '../../src/shared/jobs.ts';
import { jobInputs, makeTempDir, removeDir } from './batchFixtures.ts';

let root: string;
beforeEach(async () => {
  root = await makeTempDir('unreadable-folder');
});
afterEach(async () => removeDir(root));

it('an unreadable sub-folder is one problem entry marked as a folder', async () => {
  await writeFile(path.join(root, 'a.png'), 'x');
  // A name that is not UTF-8 cannot be opened by the name Node reads back (even as root).
  await mkdir(Buffer.from(`${root}/bad-\xff-name`, 'latin1'));
  const found = await scanInputs(jobInputs([root]));
  expect(
    found.map((entry) => [
      path.basename(entry.inputPath),
      entry.problem?.code ?? null,
      entry.folder ?? false,
    ]),
  ).toEqual([
    ['a.png', null, false],
    ['bad-\uFFFD-name', 'unreadable', true],
  ]);
});

it('says how many folders and files cannot be read, each by its name', () => {
  expect(unreadableText([{ folder: true }])).toBe('1 folder cannot be read');
  expect(unreadableText([{}, {}])).toBe('2 files cannot be read');
  expect(unreadableText([{ folder: true }, { folder: true }, {}])).toBe(
    '2 folders and 1 file cannot be read',
  );
});
