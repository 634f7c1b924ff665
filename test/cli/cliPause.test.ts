/**
 * Ctrl-C in the real `cmsc-upscale` process (the package bin, real SIGINT): the first finishes
 * the photo being upscaled and keeps it, the second stops it at once and keeps its finished
 * rows; both leave the job for the same command to resume, and a resumed job never redoes a
 * finished photo nor the finished tiles of a stopped one.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { listFiles } from '../batch/batchFixtures.ts';
import { FIXTURE_MODELS_DIR, makeTempDir, writeTexturedImage } from '../helpers/testImages.ts';

const repoRoot = path.resolve(import.meta.dirname, '../..');
const bin = path.join(repoRoot, 'bin/cmsc-upscale.js');
let temp: Awaited<ReturnType<typeof makeTempDir>>;
let photos: string;
let out: string;

beforeEach(async () => {
  temp = await makeTempDir();
  photos = path.join(temp.dir, 'photos');
  out = path.join(temp.dir, 'out');
  await mkdir(photos, { recursive: true });
  // The first photo in small tiles takes seconds: time to press Ctrl-C inside it.
  await writeTexturedImage(path.join(photos, 'a-big.png'), 320, 320);
  await writeTexturedImage(path.join(photos, 'b-small.png'), 16, 16);
});
afterEach(async () => temp.remove());

/** The same command every time (so a second run resumes the first). */
function commandArgs(): string[] {
  return [
    bin,
    photos,
    '--out',
    out,
    '--tile',
    '32',
    '--models',
    FIXTURE_MODELS_DIR,
    '--device',
    'cpu',
    '--threads',
    '1',
  ];
}
const environment = (): NodeJS.ProcessEnv => ({ ...process.env, XDG_CONFIG_HOME: temp.dir });

const isTemporary = (name: string): boolean =>
  name.includes('.cmsc-partial.') || name.includes('.cmsc-atomic.') || name.includes('.partial');

async function waitFor(check: () => Promise<boolean> | boolean, what: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Bytes of the first photo's raster file being written (its finished rows), 0 when none. */
async function rasterBytes(): Promise<number> {
  const names = await listFiles(out).catch(() => [] as string[]);
  const raster = names.find((name) => name.endsWith('.raster.tif') && !name.includes('.kept.'));
  return raster ? ((await stat(path.join(out, raster)).catch(() => null))?.size ?? 0) : 0;
}

/**
 * Runs the command, sends SIGINT once the first photo is being written (its temporary file
 * exists; with `rowsFirst`, once its raster file holds that many bytes of finished rows), and a
 * second one after the first's message when `twice`.
 */
async function interrupted(
  twice: boolean,
  rowsFirst = 0,
): Promise<{ code: number | null; stdout: string }> {
  const child = spawn(process.execPath, commandArgs(), { cwd: temp.dir, env: environment() });
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  await waitFor(
    async () => (await listFiles(out).catch(() => [] as string[])).some(isTemporary),
    'the first photo to start',
  );
  if (rowsFirst > 0) await waitFor(async () => (await rasterBytes()) >= rowsFirst, 'finished rows');
  child.kill('SIGINT');
  await waitFor(() => stdout.includes('finishing the current photo'), 'the first message');
  if (twice) child.kill('SIGINT');
  return { code: await exited, stdout };
}

async function resumed(args = commandArgs()): Promise<string> {
  const { stdout } = await promisify(execFile)(process.execPath, args, {
    cwd: temp.dir,
    env: environment(),
  });
  return stdout;
}

const okLines = (stdout: string): string[] =>
  stdout
    .split('\n')
    .filter((line) => line.startsWith('ok   '))
    .map((line) => path.basename(line.split(' -> ')[0]!.slice(5)));

describe('Ctrl-C in cmsc-upscale', () => {
  it('once: finishes and keeps the current photo, pauses; the same command does only the rest', async () => {
    const first = await interrupted(false);
    expect(first.code).toBe(130);
    expect(first.stdout).toContain('finishing the current photo… (Ctrl-C again to stop now)\n');
    expect(okLines(first.stdout)).toEqual(['a-big.png']);
    expect(first.stdout).toMatch(
      /1 upscaled, 0 up to date, 0 skipped, 0 failed in [\d.]+ s, paused with 1 left: run the same command again to resume\n$/,
    );
    const kept = await stat(path.join(out, 'a-big_x2.png'));
    expect((await listFiles(out)).filter(isTemporary)).toEqual([]);

    const second = await resumed();
    expect(second).toContain('resuming an interrupted run: 1 of 2 files already handled');
    expect(okLines(second)).toEqual(['b-small.png']);
    // The finished photo was not made again.
    expect((await stat(path.join(out, 'a-big_x2.png'))).mtimeMs).toBe(kept.mtimeMs);
  }, 180_000);

  it('twice: stops the current photo at once and keeps its finished rows; the same command goes on from them', async () => {
    // 320x320 at x2 as 8-bit RGB: a quarter of the photo's rows written before the presses.
    const first = await interrupted(true, (640 * 640 * 3) / 4);
    expect(first.code).toBe(130);
    expect(first.stdout).toContain(
      'stopping now: the finished part of the current photo is kept for the resume\n',
    );
    expect(okLines(first.stdout)).toEqual([]);
    expect(first.stdout).toMatch(/paused with 2 left: run the same command again to resume\n$/);
    expect((await listFiles(out)).filter((name) => name.endsWith('.png'))).toEqual([]);
    // What is left: the photo's finished rows and their record.
    expect(
      (await listFiles(out)).filter(isTemporary).map((name) => name.replace(/^.*\.kept\./, '')),
    ).toEqual(['raster.json', 'raster.tif']);

    const second = await resumed();
    expect(second).toContain('resuming an interrupted run: 0 of 2 files already handled');
    expect(okLines(second).sort()).toEqual(['a-big.png', 'b-small.png']);
    // The tiles done before the stop were not redone.
    const went = /a-big\.png -> .*went on from (\d+) of (\d+) tiles kept by Pause now/.exec(second);
    expect(went).not.toBeNull();
    expect(Number(went![1])).toBeGreaterThan(0);
    expect(Number(went![1])).toBeLessThan(Number(went![2]));
    expect((await listFiles(out)).filter(isTemporary)).toEqual([]);
    // The same file as a run never stopped (the same photos into another folder).
    const reference = path.join(temp.dir, 'reference');
    await resumed(commandArgs().map((arg) => (arg === out ? reference : arg)));
    expect(await readFile(path.join(out, 'a-big_x2.png'))).toEqual(
      await readFile(path.join(reference, 'a-big_x2.png')),
    );
  }, 180_000);
});
