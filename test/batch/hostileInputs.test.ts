/**
 * What one bad file must not do to a job: a decompression bomb does not make the pre-flight
 * refuse the whole job, a photo replaced before its turn is reported as processed, a full
 * disk says "disk full", and names other file systems cannot hold are made safe.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, readdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { expect, it } from 'vitest';
import type { BatchQueue } from '../../src/main/batch/batchQueue.ts';
import { removeStaleCalibrations } from '../../src/main/batch/deviceSpeed.ts';
import { buildReport } from '../../src/main/batch/jobReport.ts';
import { outputFolderFailure } from '../../src/main/batch/outputRecord.ts';
import { freeBytesAt } from '../../src/main/batch/preflight.ts';
import { writeAtomically } from '../../src/main/engine/index.ts';
import { expandNamingTemplate, safeFileNamePart } from '../../src/shared/namingTemplate.ts';
import { pngBomb } from '../reliability/hostileFolder.ts';
import { jobInputs, rawImage, testSettings, writeImage, useFixtureQueue } from './batchFixtures.ts';

let root: string;
let queue: BatchQueue;

useFixtureQueue('hostile', { autoStart: false }, (freshRoot, freshQueue) => {
  root = freshRoot;
  queue = freshQueue;
});

it('a decompression bomb is one problem; the good photos are estimated and the job fits', async () => {
  const folder = path.join(root, 'in');
  await writeImage(path.join(folder, 'good.png'), rawImage(20, 10, 3).png());
  await writeFile(path.join(folder, 'bomb.png'), pngBomb(100_000, 100_000));
  const estimate = await queue.preflight({ inputs: jobInputs([folder]), settings: testSettings() });
  expect(estimate.problems).toEqual([
    {
      path: path.join(folder, 'bomb.png'),
      reason: {
        code: 'too-large',
        message:
          '100000x100000 is 10,000 MP, over the limit of 100 MP (a decompression bomb, or a photo too large to decode safely)',
      },
    },
  ]);
  expect([estimate.filesFound, estimate.inputMegapixels, estimate.outputMegapixels]).toEqual([
    2,
    200 / 1e6,
    800 / 1e6,
  ]);
  expect([estimate.fitsOnDisk, estimate.refusal]).toEqual([true, null]);
  const job = await queue.addJob({ inputs: jobInputs([folder]), settings: testSettings() });
  queue.start();
  await queue.whenIdle();
  const finished = queue.job(job.id)!;
  expect(finished.files.map((file) => [path.basename(file.inputPath), file.state])).toEqual([
    ['bomb.png', 'failed'],
    ['good.png', 'done'],
  ]);
});

it('a photo replaced before its turn is reported with the size that was processed', async () => {
  const folder = path.join(root, 'in');
  const photo = await writeImage(path.join(folder, 'photo.png'), rawImage(16, 12, 3).png());
  const job = await queue.addJob({ inputs: jobInputs([folder]), settings: testSettings() });
  expect([job.files[0]!.inputWidth, job.files[0]!.inputHeight]).toEqual([16, 12]);
  await writeImage(photo, rawImage(30, 20, 4).png());
  const replacedBytes = (await import('node:fs/promises')).stat(photo).then((s) => s.size);
  queue.start();
  await queue.whenIdle();
  const file = queue.job(job.id)!.files[0]!;
  expect([file.state, file.inputWidth, file.inputHeight, file.inputBytes]).toEqual([
    'done',
    30,
    20,
    await replacedBytes,
  ]);
  expect([file.outputWidth, file.outputHeight]).toEqual([60, 40]);
});

it('a full disk fails the file as output-not-writable, saying "disk full"', async () => {
  const full = path.join(root, 'full');
  await mkdir(full);
  // A small file system that fills up after the pre-flight (another program writing there).
  expect(spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=512k', 'tmpfs', full]).status).toBe(0);
  try {
    const folder = path.join(root, 'in');
    const noise = Buffer.alloc(200 * 200 * 3);
    for (let index = 0; index < noise.length; index++) noise[index] = (index * 2654435761) >>> 24;
    const { default: sharp } = await import('sharp');
    await writeImage(
      path.join(folder, 'noise.png'),
      sharp(noise, { raw: { width: 200, height: 200, channels: 3 } }).png(),
    );
    const job = await queue.addJob({
      inputs: jobInputs([folder]),
      settings: testSettings({ outputFolder: full, format: 'jpeg' }),
    });
    await writeFile(path.join(full, 'filler'), Buffer.alloc((await freeBytesAt(full)) - 8192));
    queue.start();
    await queue.whenIdle();
    // Refused by the engine's disk pre-flight before any tile ran (or by the write, when the
    // disk fills during it): either way one sentence that says "disk full" and where.
    const reason = queue.job(job.id)!.files[0]!.reason!;
    expect(reason.code).toBe('output-not-writable');
    expect(reason.message).toMatch(new RegExp(`^disk full: .* in ${full}\\b`));
  } finally {
    spawnSync('umount', [full]);
  }
});

it('names Linux allows become names every file system allows, never refused', () => {
  const values = {
    ext: 'png',
    scale: 2,
    width: 20,
    height: 10,
    model: 'cmsc',
    date: '2026-01-31',
  };
  const expand = (name: string) => expandNamingTemplate('{name}_x{scale}', { ...values, name });
  expect(expand('shot 12:00:00')).toEqual({ ok: true, baseName: 'shot 12_00_00_x2' });
  expect(expand('*')).toEqual({ ok: true, baseName: '__x2' });
  expect(expand('a?b"c<d>e|f\\g')).toEqual({ ok: true, baseName: 'a_b_c_d_e_f_g_x2' });
  expect(expand('new\nline\ttab')).toEqual({ ok: true, baseName: 'new_line_tab_x2' });
  expect(expand('x'.repeat(250))).toEqual({ ok: true, baseName: `${'x'.repeat(177)}_x2` });
  // Multi-byte names are cut on a character boundary, within 180 bytes of UTF-8.
  const cut = expand('фото'.repeat(40));
  expect(cut.ok && [Buffer.byteLength(cut.baseName), cut.baseName.endsWith('_x2')]).toEqual([
    179,
    true,
  ]);
  expect(safeFileNamePart('nul')).toBe('_nul');
  expect(safeFileNamePart('trailing dots..')).toBe('trailing dots__');
  expect(safeFileNamePart('already fine')).toBe('already fine');
});

it('a kill leaves one temporary name: the engine writes the queue’s temporary path in place', async () => {
  const queued = path.join(root, '.cmsc-partial.job-x-1.0.photo_x2.png');
  let written = '';
  await writeAtomically(queued, async (tempPath) => {
    written = tempPath;
    await writeFile(tempPath, 'pixels');
  });
  expect(written).toBe(queued);
  // A failure still leaves nothing behind.
  await expect(
    writeAtomically(queued, async (tempPath) => {
      await writeFile(tempPath, 'half');
      throw new Error('encoder failed');
    }),
  ).rejects.toThrow('encoder failed');
  expect(await readdir(root)).toEqual(['state']);
  // Any other path is still written under a temporary sibling and renamed.
  const plain = path.join(root, 'photo_x2.png');
  await writeAtomically(plain, async (tempPath) => {
    written = tempPath;
    await writeFile(tempPath, 'pixels');
  });
  expect(path.basename(written)).toMatch(/^\.photo_x2\.[0-9a-f]{8}\.partial\.png$/);
  expect((await readdir(root)).sort()).toEqual(['photo_x2.png', 'state']);
});

it('a link planted in the output folder is not followed: that photo fails, the others are done', async () => {
  const folder = path.join(root, 'in');
  await writeImage(path.join(folder, 'trip', 'beach.png'), rawImage(12, 8, 3).png());
  await writeImage(path.join(folder, 'home.png'), rawImage(12, 8, 3).png());
  const out = path.join(root, 'out');
  const elsewhere = path.join(root, 'elsewhere');
  await mkdir(out);
  await mkdir(elsewhere);
  await symlink(elsewhere, path.join(out, 'trip'));
  const job = await queue.addJob({
    inputs: jobInputs([folder]),
    settings: testSettings({ outputFolder: out }),
  });
  queue.start();
  await queue.whenIdle();
  const files = queue.job(job.id)!.files;
  expect(files.map((file) => [file.relativePath, file.state, file.reason])).toEqual([
    ['home.png', 'done', null],
    [
      'trip/beach.png',
      'failed',
      {
        code: 'output-not-writable',
        message: `cannot create the output folder ${path.join(out, 'trip')} (${path.join(out, 'trip')} is a symbolic link; outputs are not written through it)`,
      },
    ],
  ]);
  expect(await readdir(elsewhere)).toEqual([]);
});

it('the pre-flight lists a FIFO and a dangling link as problems without opening them', async () => {
  const folder = path.join(root, 'in');
  await writeImage(path.join(folder, 'good.png'), rawImage(20, 10, 3).png());
  expect(spawnSync('mkfifo', [path.join(folder, 'pipe.png')]).status).toBe(0);
  await symlink('gone.png', path.join(folder, 'dangling.png'));
  const estimate = await queue.preflight({ inputs: jobInputs([folder]), settings: testSettings() });
  expect(estimate.problems).toEqual([
    {
      path: path.join(folder, 'dangling.png'),
      reason: { code: 'broken-link', message: 'a symbolic link whose target does not exist' },
    },
    {
      path: path.join(folder, 'pipe.png'),
      reason: {
        code: 'special-file',
        message: 'a named pipe (FIFO), not a regular file; it is not opened',
      },
    },
  ]);
  expect([estimate.filesFound, estimate.outputMegapixels]).toEqual([3, 800 / 1e6]);
});

it('a calibration killed half-way leaves nothing once the next start sweeps: dead runs only', async () => {
  const folder = path.join(root, 'killed-run');
  const deadPid = spawnSync(process.execPath, ['-e', '0']).pid;
  const names = [
    `calibration-${deadPid}-aB3dEf`,
    'calibration-Zz9Yy8',
    `calibration-${process.pid}-Q1w2E3`,
    'calibration-notes.txt',
    'queue.json',
  ];
  for (const name of names.slice(0, 3)) {
    await mkdir(path.join(folder, name), { recursive: true });
    await writeFile(path.join(folder, name, 'warm-up.png'), 'x');
  }
  await writeFile(path.join(folder, 'calibration-notes.txt'), 'a file, not a scratch folder');
  await writeFile(path.join(folder, 'queue.json'), '{}');
  expect(await removeStaleCalibrations(folder)).toEqual([
    path.join(folder, `calibration-${deadPid}-aB3dEf`),
    path.join(folder, 'calibration-Zz9Yy8'),
  ]);
  expect((await readdir(folder)).sort()).toEqual(
    [`calibration-${process.pid}-Q1w2E3`, 'calibration-notes.txt', 'queue.json'].sort(),
  );
  // A folder that is not there is nothing to sweep.
  expect(await removeStaleCalibrations(path.join(root, 'nowhere'))).toEqual([]);
});

/** An fs error as Node makes them: root ignores mode bits, so EACCES is made by hand. */
function fsError(code: string, syscall: string, target: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: ${syscall} '${target}'`), {
    code,
    syscall,
    path: target,
  });
}

it('an output folder that cannot be written says which case it is: read-only, or not creatable and why', async () => {
  const exists = path.join(root, 'exists');
  await mkdir(exists);
  const marker = path.join(exists, '.cmsc-upscaler-output');
  expect(await outputFolderFailure(fsError('EACCES', 'open', marker), exists)).toEqual({
    code: 'output-not-writable',
    message: `the output folder ${exists} exists but is read-only (no write permission)`,
  });
  expect(await outputFolderFailure(fsError('EROFS', 'open', marker), exists)).toEqual({
    code: 'output-not-writable',
    message: `the output folder ${exists} exists but is on a read-only file system`,
  });
  const child = path.join(exists, 'trip');
  expect(await outputFolderFailure(fsError('EACCES', 'mkdir', child), child)).toEqual({
    code: 'output-not-writable',
    message: `cannot create the output folder ${child}: its parent ${exists} is read-only (no write permission)`,
  });
  const deeper = path.join(exists, 'a', 'b');
  expect(
    await outputFolderFailure(fsError('EROFS', 'mkdir', path.join(exists, 'a')), deeper),
  ).toEqual({
    code: 'output-not-writable',
    message: `cannot create the output folder ${deeper}: ${exists} above it is on a read-only file system`,
  });
  const file = path.join(root, 'a-file');
  await writeFile(file, 'x');
  const underFile = path.join(file, 'out');
  expect(await outputFolderFailure(fsError('ENOTDIR', 'mkdir', underFile), underFile)).toEqual({
    code: 'output-not-writable',
    message: `cannot create the output folder ${underFile}: ${file} is a file, not a folder`,
  });
});

it('an output folder under a file, or on a read-only mount, fails its photos with the case in words', async () => {
  const folder = path.join(root, 'in');
  await writeImage(path.join(folder, 'a.png'), rawImage(8, 6, 3).png());
  const file = path.join(root, 'a-file');
  await writeFile(file, 'x');
  const underFile = path.join(file, 'out');
  const first = await queue.addJob({
    inputs: jobInputs([folder]),
    settings: testSettings({ outputFolder: underFile }),
  });
  const readOnly = path.join(root, 'read-only');
  await mkdir(readOnly);
  const mounted =
    spawnSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=64k', 'tmpfs', readOnly]).status === 0;
  try {
    const second = mounted
      ? await queue.addJob({
          inputs: jobInputs([folder]),
          settings: testSettings({ outputFolder: readOnly }),
        })
      : null;
    queue.start();
    await queue.whenIdle();
    expect(queue.job(first.id)!.files[0]!.reason).toEqual({
      code: 'output-not-writable',
      message: `cannot create the output folder ${underFile}: ${file} is a file, not a folder`,
    });
    if (second) {
      expect(queue.job(second.id)!.files[0]!.reason).toEqual({
        code: 'output-not-writable',
        message: `the output folder ${readOnly} exists but is on a read-only file system`,
      });
    }
  } finally {
    if (mounted) spawnSync('umount', [readOnly]);
  }
});

/** `count` different frames joined into one animated (GIF, WebP) or multi-page (TIFF) file. */
async function framesFile(
  filePath: string,
  format: 'gif' | 'webp' | 'tiff',
  count: number,
): Promise<string> {
  const { default: sharp } = await import('sharp');
  const frames = await Promise.all(
    Array.from({ length: count }, (_, frame) =>
      rawImage(10, 8, 3)
        .linear(1, frame * 15)
        .png()
        .toBuffer(),
    ),
  );
  await mkdir(path.dirname(filePath), { recursive: true });
  await sharp(frames, { join: { animated: true } })
    .toFormat(format)
    .toFile(filePath);
  return filePath;
}

it('an animated GIF or WebP, or a multi-page TIFF, is done with a first-frame-only note; a still has none', async () => {
  const folder = path.join(root, 'in');
  await framesFile(path.join(folder, 'anim.gif'), 'gif', 12);
  await framesFile(path.join(folder, 'anim.webp'), 'webp', 3);
  await framesFile(path.join(folder, 'pages.tiff'), 'tiff', 2);
  await writeImage(path.join(folder, 'still.gif'), rawImage(10, 8, 3).gif());
  await writeImage(path.join(folder, 'still.png'), rawImage(10, 8, 3).png());
  const job = await queue.addJob({
    inputs: jobInputs([folder]),
    settings: testSettings({ format: 'png' }),
  });
  queue.start();
  await queue.whenIdle();
  const finished = queue.job(job.id)!;
  const frameNote = (message: string) => [{ code: 'first-frame-only', message }];
  expect(
    finished.files.map((file) => [path.basename(file.inputPath), file.state, file.notes]),
  ).toEqual([
    ['anim.gif', 'done', frameNote('first frame only: 12 frames, the rest are not upscaled')],
    ['anim.webp', 'done', frameNote('first frame only: 3 frames, the rest are not upscaled')],
    ['pages.tiff', 'done', frameNote('first page only: 2 pages, the rest are not upscaled')],
    ['still.gif', 'done', undefined],
    ['still.png', 'done', undefined],
  ]);
  // The report carries the note on the file's row, and only there.
  const rows = buildReport(finished, 'finished', new Date()).files;
  expect(rows.map((row) => row.notes)).toEqual([
    ['first-frame-only: first frame only: 12 frames, the rest are not upscaled'],
    ['first-frame-only: first frame only: 3 frames, the rest are not upscaled'],
    ['first-frame-only: first page only: 2 pages, the rest are not upscaled'],
    undefined,
    undefined,
  ]);
  expect(Object.keys(rows[4]!)).not.toContain('notes');
});
