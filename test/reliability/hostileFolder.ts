/**
 * A folder as a real user's disk holds it, built with real files: good photos beside names
 * Linux allows and other systems do not, damaged and empty files, a decompression bomb, FIFOs,
 * sockets, broken and looping links, links out of the folder, an unreadable folder and file,
 * hidden files and leftovers of earlier runs. `EXPECTED` says how each input must end.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, lstat, mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import sharp from 'sharp';
import type { FileReasonCode } from '../../src/shared/jobs.ts';
import { pngHeaderOnly } from '../helpers/pngHeaderOnly.ts';

export const REPO_ROOT = path.resolve(import.meta.dirname, '../..');
export const FIXTURE_MODELS_DIR = path.join(REPO_ROOT, 'test/fixtures/models');

/** How each input (relative to the photo folder) must end: `done`, or the reason's code. */
export type Outcome = 'done' | FileReasonCode;

const LONG_NAME = `${'long-name-'.repeat(24)}end.png`; // 250 bytes: near Linux's 255 limit

export const EXPECTED: Readonly<Record<string, Outcome>> = {
  'a/p.png': 'done',
  'b/p.png': 'done', // same name in another sub-folder: mirrored, never a collision
  'shot 12:00:00.png': 'done',
  '*.png': 'done',
  '?.png': 'done',
  'new\nline.png': 'done',
  'tab\there.jpg': 'done',
  'фото 2024.jpg': 'done',
  '-rf.png': 'done',
  'CON.png': 'done',
  'UPPER.PNG': 'done',
  '.hidden.png': 'done',
  [LONG_NAME]: 'done',
  'jpeg-named.png': 'done', // a JPEG behind a .png name: read by content
  '1x1.png': 'done',
  '._IMG_0001.jpg': 'not-an-image', // macOS AppleDouble metadata beside a copied photo
  'empty.png': 'empty-file',
  'text.png': 'not-an-image',
  'cut.jpg': 'decode-failed',
  'bomb.png': 'too-large',
  'fifo.png': 'special-file',
  'socket.png': 'special-file',
  'dangling.png': 'broken-link',
  'loop.png': 'broken-link',
  'link-to-photo.png': 'symlink',
  up: 'symlink',
  locked: 'unreadable',
  'secret.png': 'unreadable',
  // Names whose bytes are not UTF-8 (Latin-1 `café`, `déjà`): Linux allows them, a string
  // path cannot name them, so they are reported, not lost.
  'caf\uFFFD.png': 'unreadable',
  'd\uFFFDj\uFFFD': 'unreadable',
};

/** Files that are not photo inputs at all (other extensions): never listed, never touched. */
const IGNORED = ['notes.txt', 'raw.cr2.txt', '.DS_Store', 'Thumbs.db', 'desktop.ini'];

export interface HostileFolder {
  photos: string;
  /** Open sockets must stay bound while the run scans them. */
  close(): Promise<void>;
}

function tinyImage(width: number, height: number, seed: number) {
  const pixels = Buffer.alloc(width * height * 3);
  for (let index = 0; index < pixels.length; index++)
    pixels[index] = (index * 37 + seed * 11) % 256;
  return sharp(pixels, { raw: { width, height, channels: 3 } });
}

/** A decompression bomb: a PNG whose header declares `width` x `height` (10 GP here). */
export const pngBomb = pngHeaderOnly;

export async function buildHostileFolder(root: string): Promise<HostileFolder> {
  const photos = path.join(root, 'photos');
  await mkdir(path.join(photos, 'a'), { recursive: true });
  await mkdir(path.join(photos, 'b'));
  let seed = 0;
  for (const [name, outcome] of Object.entries(EXPECTED)) {
    if (outcome !== 'done') continue;
    const image = name === '1x1.png' ? tinyImage(1, 1, 7) : tinyImage(12 + (seed % 5), 10, seed++);
    const jpeg = /\.jpe?g$/i.test(name) || name === 'jpeg-named.png';
    await (jpeg ? image.jpeg() : image.png()).toFile(path.join(photos, name));
  }
  await writeFile(path.join(photos, 'empty.png'), '');
  await writeFile(
    path.join(photos, '._IMG_0001.jpg'),
    Buffer.concat([Buffer.from([0, 5, 0x16, 7, 0, 2, 0, 0]), Buffer.from('Mac OS X        ')]),
  );
  await writeFile(path.join(photos, 'text.png'), 'a text file with an image name\n');
  const jpeg = await tinyImage(64, 48, 99).jpeg().toBuffer();
  await writeFile(path.join(photos, 'cut.jpg'), jpeg.subarray(0, Math.floor(jpeg.length / 2)));
  await writeFile(path.join(photos, 'bomb.png'), pngBomb(100_000, 100_000));
  await run('mkfifo', [path.join(photos, 'fifo.png')]);
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(path.join(photos, 'socket.png'), resolve));
  await symlink('nowhere.png', path.join(photos, 'dangling.png'));
  await symlink('loop.png', path.join(photos, 'loop.png'));
  await symlink('a/p.png', path.join(photos, 'link-to-photo.png'));
  await symlink('..', path.join(photos, 'up'));
  await mkdir(path.join(photos, 'locked'));
  await tinyImage(8, 8, 1)
    .png()
    .toFile(path.join(photos, 'locked', 'inside.png'));
  await chmod(path.join(photos, 'locked'), 0o000);
  await tinyImage(8, 8, 2).png().toFile(path.join(photos, 'secret.png'));
  await chmod(path.join(photos, 'secret.png'), 0o000);
  for (const name of IGNORED) await writeFile(path.join(photos, name), 'x');
  const latin1 = (name: string): Buffer =>
    Buffer.concat([Buffer.from(`${photos}/`), Buffer.from(name, 'latin1')]);
  await writeFile(latin1('caf\u00e9.png'), await tinyImage(8, 8, 3).png().toBuffer());
  await mkdir(latin1('d\u00e9j\u00e0'));
  await writeFile(
    Buffer.concat([latin1('d\u00e9j\u00e0'), Buffer.from('/inside.png')]),
    await tinyImage(8, 8, 4).png().toBuffer(),
  );
  return {
    photos,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Makes a hostile folder removable again. */
export async function unlockHostileFolder(photos: string): Promise<void> {
  await chmod(path.join(photos, 'locked'), 0o755).catch(() => undefined);
  await chmod(path.join(photos, 'secret.png'), 0o644).catch(() => undefined);
}

/** sha256 of every regular file below `dir` (by lstat; folders that cannot be read skipped). */
export async function hashTree(dir: string): Promise<Record<string, string>> {
  const hashes: Record<string, string> = {};
  const visit = async (folder: string): Promise<void> => {
    const entries = await readdir(folder, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      const entryPath = path.join(folder, entry.name);
      if (entry.isDirectory()) await visit(entryPath);
      else if (entry.isFile()) {
        const content = await readFile(entryPath).catch(() => null);
        const mode = (await lstat(entryPath).catch(() => null))?.mode.toString(8) ?? 'no-stat';
        hashes[path.relative(dir, entryPath)] =
          `${mode}:${content ? createHash('sha256').update(content).digest('hex') : 'unreadable'}`;
      }
    }
  };
  await visit(dir);
  return hashes;
}

/** Every file below `dir`, relative, sorted (regular files only). */
export async function listTree(dir: string): Promise<string[]> {
  const found: string[] = [];
  const visit = async (folder: string): Promise<void> => {
    const entries = await readdir(folder, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      const entryPath = path.join(folder, entry.name);
      if (entry.isDirectory()) await visit(entryPath);
      else if (entry.isFile()) found.push(path.relative(dir, entryPath));
    }
  };
  await visit(dir);
  return found.sort();
}

export interface ProcessResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/**
 * Runs a command as an ordinary user would (root's permission override dropped, so a folder
 * of mode 000 really cannot be read), with a deadline: a hang is a failure, not a stuck test.
 */
export function runAsUser(
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number; onStdout?: (text: string) => void } = {},
): { done: Promise<ProcessResult>; kill: (signal: NodeJS.Signals) => void } {
  const dropped = '-dac_override,-dac_read_search,-fowner';
  const child = spawn(
    'setpriv',
    [`--inh-caps=${dropped}`, `--bounding-set=${dropped}`, '--', command, ...args],
    { cwd: REPO_ROOT, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  let timedOut = false;
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    options.onStdout?.(stdout);
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, options.timeoutMs ?? 90_000);
  const done = new Promise<ProcessResult>((resolve) => {
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
  return { done, kill: (signal) => child.kill(signal) };
}

/** The CLI through its package bin, as a user types it. */
export function cliArgs(args: string[]): [string, string[]] {
  return [
    process.execPath,
    [
      path.join(REPO_ROOT, 'bin/cmsc-upscale.js'),
      ...args,
      '--models',
      FIXTURE_MODELS_DIR,
      '--device',
      'cpu',
      '--threads',
      '1',
      '--preset',
      'fast',
    ],
  ];
}

/** The batch worker process (`runBatch.ts`), as the app could run it. */
export function workerArgs(stateDir: string, extra: string[]): [string, string[]] {
  return [
    process.execPath,
    [
      '--import',
      'tsx',
      path.join(REPO_ROOT, 'src/main/batch/runBatch.ts'),
      '--state',
      stateDir,
      '--models-dir',
      FIXTURE_MODELS_DIR,
      '--threads',
      '1',
      ...extra,
    ],
  ];
}

/** A stack trace line (`    at fn (file.ts:12:3)`) anywhere in what a process printed. */
export const STACK_TRACE = /^\s+at .+:\d+:\d+\)?$/m;

function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: 'ignore' });
    child.once('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`${command} exited ${code}`)),
    );
  });
}
