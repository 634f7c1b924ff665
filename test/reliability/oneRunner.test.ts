/**
 * One job runner: `cmsc-upscale` and the batch queue as the app drives it, on one folder with
 * the same settings, give the same tree of outputs (same pixels) and the same report.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { createHash } from 'node:crypto';
import sharp from 'sharp';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createBatchQueue } from '../../src/main/batch/batchQueue.ts';
import { createEngineUpscaler } from '../../src/main/batch/engineUpscaler.ts';
import type { JobReport } from '../../src/main/batch/jobReport.ts';
import { runCli } from '../../src/main/cli/runCli.ts';
import { DEFAULT_EXPORT_SETTINGS, type ExportSettings } from '../../src/shared/exportSettings.ts';
import { FIXTURE_MODELS_DIR, listTree } from './hostileFolder.ts';

let root: string;
let photos: string;

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'cmsc-one-runner-'));
  photos = path.join(root, 'Photos');
  const image = (width: number, height: number, seed: number) => {
    const pixels = Buffer.alloc(width * height * 3);
    for (let index = 0; index < pixels.length; index++) pixels[index] = (index * 29 + seed) % 256;
    return sharp(pixels, { raw: { width, height, channels: 3 } });
  };
  await mkdir(path.join(photos, '2023', 'trip'), { recursive: true });
  await mkdir(path.join(photos, '2024'));
  await image(14, 10, 1).png().toFile(path.join(photos, 'cover.png'));
  await image(12, 12, 2)
    .withExif({ IFD0: { Artist: 'A. Tester' } })
    .jpeg()
    .toFile(path.join(photos, '2023', 'trip', 'beach 10:30.jpg'));
  await image(10, 16, 3)
    .png()
    .toFile(path.join(photos, '2024', 'cover.png'));
  await writeFile(path.join(photos, '2024', 'broken.png'), 'not a picture');
  await writeFile(path.join(photos, '2024', 'empty.jpg'), '');
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** What must match between the two runs: rows relative to the folders, no times or job ids. */
function comparable(report: JobReport, outputFolder: string) {
  const { outputFolder: _folder, ...settings } = report.settings;
  return {
    state: report.state,
    counts: report.counts,
    settings,
    files: report.files.map((row) => ({
      input: path.relative(photos, row.input),
      output: row.output === null ? null : path.relative(outputFolder, row.output),
      state: row.state,
      inputBytes: row.inputBytes,
      inputSize: [row.inputWidth, row.inputHeight],
      outputSize: [row.outputWidth, row.outputHeight],
      error: row.error,
    })),
  };
}

async function treeWithPixels(folder: string): Promise<Record<string, string>> {
  const tree: Record<string, string> = {};
  for (const file of await listTree(folder)) {
    if (file.startsWith('cmsc-report-')) continue;
    const full = path.join(folder, file);
    tree[file] = /\.(png|jpg)$/.test(file)
      ? createHash('sha256')
          .update(await sharp(full).raw().toBuffer())
          .digest('hex')
      : 'marker';
  }
  return tree;
}

async function onlyReport(folder: string): Promise<JobReport> {
  const [name] = (await listTree(folder)).filter((file) => /^cmsc-report-.*\.json$/.test(file));
  return JSON.parse(await readFile(path.join(folder, name!), 'utf8')) as JobReport;
}

const cliOut = () => path.join(root, 'cli-out');
const appOut = () => path.join(root, 'app-out');

async function runCliJob(): Promise<number> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  stdout.resume();
  stderr.resume();
  return runCli(
    [
      photos,
      '-r',
      '--out',
      cliOut(),
      '--scale',
      '2.5',
      '--quality',
      '92',
      '--keep-metadata',
      '--preset',
      'fast',
      '--models',
      FIXTURE_MODELS_DIR,
      '--device',
      'cpu',
      '--threads',
      '1',
    ],
    { stdout, stderr },
    undefined,
    { stateRoot: path.join(root, 'cli-state') },
  );
}

/** The same job through the queue, with the settings the app's screen would hold. */
async function runAppJob(): Promise<void> {
  const settings: ExportSettings = {
    ...DEFAULT_EXPORT_SETTINGS,
    target: { kind: 'scale', scale: 2.5 },
    encoding: {
      ...DEFAULT_EXPORT_SETTINGS.encoding,
      jpegQuality: 92,
      webpQuality: 92,
      avifQuality: 92,
    },
    outputFolder: appOut(),
    metadata: 'keep',
    qualityPreset: 'fast',
    device: 'cpu',
  };
  const upscaler = await createEngineUpscaler(
    { modelsDirs: [FIXTURE_MODELS_DIR], threads: 1 },
    'cpu',
  );
  const queue = await createBatchQueue({ stateDir: path.join(root, 'app-state'), upscaler });
  try {
    await queue.addJob({
      inputs: { paths: [photos], recursive: true, includeExtensions: [], excludeExtensions: [] },
      settings,
    });
    await queue.whenIdle();
  } finally {
    await queue.close();
    await upscaler.close();
  }
}

/** The newest report of a folder (each run that did something writes one). */
async function newestReport(folder: string): Promise<JobReport> {
  const reports = [];
  for (const name of (await listTree(folder)).filter((f) => /^cmsc-report-.*\.json$/.test(f)))
    reports.push(JSON.parse(await readFile(path.join(folder, name), 'utf8')) as JobReport);
  return reports.sort((a, b) => (a.finishedAt < b.finishedAt ? 1 : -1))[0]!;
}

it('the CLI and the queue (as the app runs it) give the same outputs and the same report', async () => {
  expect(await runCliJob()).toBe(1);
  await runAppJob();

  const cliTree = await treeWithPixels(cliOut());
  expect(Object.keys(cliTree).sort()).toEqual([
    '.cmsc-upscaler-manifest.jsonl',
    '.cmsc-upscaler-output',
    '2023/trip/beach 10_30_x2.5.jpg',
    '2024/cover_x2.5.png',
    'cover_x2.5.png',
  ]);
  expect(await treeWithPixels(appOut())).toEqual(cliTree);
  const cliReport = comparable(await onlyReport(cliOut()), cliOut());
  expect(cliReport.counts).toMatchObject({ done: 3, failed: 2 });
  expect(comparable(await onlyReport(appOut()), appOut())).toEqual(cliReport);
});

it('reruns too: a changed and an added photo are redone, the rest is up to date, in both', async () => {
  const image = (width: number, height: number, seed: number) => {
    const pixels = Buffer.alloc(width * height * 3);
    for (let index = 0; index < pixels.length; index++) pixels[index] = (index * 13 + seed) % 256;
    return sharp(pixels, { raw: { width, height, channels: 3 } });
  };
  await image(14, 10, 9).png().toFile(path.join(photos, 'cover.png'));
  await image(8, 8, 4).png().toFile(path.join(photos, 'added.png'));

  expect(await runCliJob()).toBe(1);
  await runAppJob();

  const cliTree = await treeWithPixels(cliOut());
  expect(Object.keys(cliTree).sort()).toEqual([
    '.cmsc-upscaler-manifest.jsonl',
    '.cmsc-upscaler-output',
    '2023/trip/beach 10_30_x2.5.jpg',
    '2024/cover_x2.5.png',
    'added_x2.5.png',
    'cover_x2.5.png',
  ]);
  expect(await treeWithPixels(appOut())).toEqual(cliTree);
  const cliReport = comparable(await newestReport(cliOut()), cliOut());
  expect(cliReport.counts).toMatchObject({ done: 2, skipped: 2, failed: 2 });
  expect(
    cliReport.files
      .filter((row) => row.state === 'skipped')
      .map((row) => row.input)
      .sort(),
  ).toEqual(['2023/trip/beach 10:30.jpg', '2024/cover.png']);
  expect(comparable(await newestReport(appOut()), appOut())).toEqual(cliReport);

  // Nothing changed since: only the two broken files are tried again.
  expect(await runCliJob()).toBe(1);
  await runAppJob();
  const third = comparable(await newestReport(cliOut()), cliOut());
  expect(third.counts).toMatchObject({ done: 0, skipped: 4, failed: 2 });
  expect(comparable(await newestReport(appOut()), appOut())).toEqual(third);
  expect(await treeWithPixels(appOut())).toEqual(await treeWithPixels(cliOut()));
});
