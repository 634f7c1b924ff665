/**
 * The reliability suite: the CLI and the batch worker, run as processes by an ordinary user on
 * a hostile folder (hostileFolder.ts). Whatever the folder holds, every input ends as exactly
 * one output or one reported reason, the inputs are byte-identical afterwards, nothing hangs,
 * no stack trace is printed, and a SIGKILL followed by the same command leaves no temporary
 * file and no photo upscaled twice.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { QueueStore } from '../../src/main/batch/queueStore.ts';
import { mkdtemp } from 'node:fs/promises';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobReport } from '../../src/main/batch/jobReport.ts';
import { DEFAULT_EXPORT_SETTINGS } from '../../src/shared/exportSettings.ts';
import {
  buildHostileFolder,
  cliArgs,
  EXPECTED,
  hashTree,
  listTree,
  runAsUser,
  STACK_TRACE,
  unlockHostileFolder,
  workerArgs,
  type HostileFolder,
  type Outcome,
} from './hostileFolder.ts';

let root: string;
let hostile: HostileFolder;
let inputsBefore: Record<string, string>;

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'cmsc-reliability-'));
  hostile = await buildHostileFolder(root);
  inputsBefore = await hashTree(hostile.photos);
});

afterAll(async () => {
  await hostile.close();
  await unlockHostileFolder(hostile.photos);
  await rm(root, { recursive: true, force: true });
});

/** The one report a run wrote into `outputFolder`. */
async function readReport(outputFolder: string): Promise<JobReport> {
  const reports = (await listTree(outputFolder)).filter((f) => /^cmsc-report-.*\.json$/.test(f));
  expect(reports).toHaveLength(1);
  return JSON.parse(await readFile(path.join(outputFolder, reports[0]!), 'utf8')) as JobReport;
}

/** Each report row as `relative input -> done | reason code`. */
function outcomes(report: JobReport, photos: string): Record<string, Outcome> {
  const seen: Record<string, Outcome> = {};
  for (const row of report.files) {
    const key = row.input.startsWith(photos) ? path.relative(photos, row.input) : row.input;
    expect(seen[key], `${key} is listed twice`).toBeUndefined();
    seen[key] =
      row.state === 'done'
        ? 'done'
        : ((row.error?.split(':')[0] as Outcome | undefined) ?? 'cancelled');
  }
  return seen;
}

/** The outputs and inputs of a finished run, checked against the hostile folder's expectations. */
async function expectEveryInputAccountedFor(
  outputFolder: string,
  extra: Record<string, Outcome> = {},
): Promise<void> {
  const report = await readReport(outputFolder);
  expect(outcomes(report, hostile.photos)).toEqual({ ...EXPECTED, ...extra });
  const done = report.files.filter((row) => row.state === 'done');
  // One output per done input, each where the report says, and nothing else but the report
  // and the output marker: no temporary file, no stray copy.
  const images = (await listTree(outputFolder)).filter(
    (file) =>
      !file.startsWith('cmsc-report-') &&
      file !== '.cmsc-upscaler-output' &&
      file !== '.cmsc-upscaler-manifest.jsonl',
  );
  expect(images.sort()).toEqual(done.map((row) => path.relative(outputFolder, row.output!)).sort());
  for (const row of done) {
    const metadata = await sharp(row.output!).metadata();
    expect([metadata.width, metadata.height]).toEqual([row.outputWidth, row.outputHeight]);
  }
  expect(await hashTree(hostile.photos)).toEqual(inputsBefore);
}

describe('a hostile folder', () => {
  it('CLI: every input ends as one output or one reason, nothing hangs, no stack trace', async () => {
    const out = path.join(root, 'cli-out');
    const [command, args] = cliArgs([
      hostile.photos,
      '-r',
      '--out',
      out,
      '--scale',
      '2',
      // Given explicitly: a device is reported, never read.
      '/dev/null',
    ]);
    const result = await runAsUser(command, args, {
      env: { XDG_CONFIG_HOME: path.join(root, 'cli-config') },
    }).done;
    expect(result.timedOut).toBe(false);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('');
    expect(result.stdout).not.toMatch(STACK_TRACE);
    const lines = result.stdout.split('\n').filter((line) => /^(ok {2}|FAIL|skip) /.test(line));
    expect(lines).toHaveLength(Object.keys(EXPECTED).length + 1);
    expect(lines).toContain(
      'FAIL /dev/null: a device, not a regular file; it is not opened (special-file)',
    );
    await expectEveryInputAccountedFor(out, { '/dev/null': 'special-file' });
    // Sub-folders are mirrored; names other file systems cannot hold are made safe.
    const outputs = await listTree(out);
    for (const expected of [
      'a/p_x2.png',
      'b/p_x2.png',
      'shot 12_00_00_x2.png',
      'new_line_x2.png',
      'tab_here_x2.jpg',
      'фото 2024_x2.jpg',
      '_CON_x2.png',
      '.hidden_x2.png',
    ]) {
      expect(outputs).toContain(expected);
    }
    const long = outputs.find((file) => file.startsWith('long-name-'));
    expect(Buffer.byteLength(long!)).toBe(180 + '.png'.length);
  });

  it('batch worker: the same folder, the same accounting', async () => {
    const out = path.join(root, 'worker-out');
    const request = path.join(root, 'request.json');
    await writeFile(
      request,
      JSON.stringify({
        inputs: {
          paths: [hostile.photos],
          recursive: true,
          includeExtensions: [],
          excludeExtensions: [],
        },
        settings: {
          ...DEFAULT_EXPORT_SETTINGS,
          outputFolder: out,
          device: 'cpu',
          qualityPreset: 'fast',
        },
      }),
    );
    const [command, args] = workerArgs(path.join(root, 'worker-state'), ['--add', request]);
    const result = await runAsUser(command, args).done;
    expect(result.timedOut).toBe(false);
    expect([result.code, result.stderr]).toEqual([0, '']);
    expect(result.stdout).not.toMatch(STACK_TRACE);
    await expectEveryInputAccountedFor(out);
  });
});

describe('outputs never become inputs', () => {
  it('--out equal to the input folder, run twice: the second run finds only the photos', async () => {
    const folder = path.join(root, 'same-place');
    await mkdir(folder);
    for (const name of ['one.png', 'two.png'])
      await sharp({ create: { width: 10, height: 8, channels: 3, background: '#468' } })
        .png()
        .toFile(path.join(folder, name));
    const env = { XDG_CONFIG_HOME: path.join(root, 'same-place-config') };
    const first = await runAsUser(...cliArgs([folder, '--out', folder]), { env }).done;
    expect(first.code).toBe(0);
    const second = await runAsUser(...cliArgs([folder, '--out', folder, '--overwrite', 'skip']), {
      env,
    }).done;
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/^0 upscaled, 2 up to date, 0 skipped, 0 failed in [\d.]+ s$/m);
    expect((await listTree(folder)).filter((file) => !file.startsWith('cmsc-report-'))).toEqual([
      '.cmsc-upscaler-manifest.jsonl',
      '.cmsc-upscaler-outputs',
      'one.png',
      'one_x2.png',
      'two.png',
      'two_x2.png',
    ]);
  });

  it('the default output place, run twice: nothing is upscaled a second time', async () => {
    const folder = path.join(root, 'default-place');
    await mkdir(folder);
    await sharp({ create: { width: 10, height: 8, channels: 3, background: '#864' } })
      .png()
      .toFile(path.join(folder, 'photo.png'));
    const env = { XDG_CONFIG_HOME: path.join(root, 'default-place-config') };
    for (let run = 0; run < 2; run++) {
      const result = await runAsUser(...cliArgs([folder, '--overwrite', 'skip']), { env }).done;
      expect(result.code).toBe(0);
    }
    expect(await listTree(folder)).toEqual(['photo.png']);
    expect(
      (await listTree(`${folder}-upscaled`)).filter((file) => !file.startsWith('cmsc-report-')),
    ).toEqual(['.cmsc-upscaler-manifest.jsonl', '.cmsc-upscaler-output', 'photo_x2.png']);
  });
});

/** Photos for a kill: small ones first, then one of many tiles for the kill to land in. */
async function photosForKill(folder: string): Promise<string[]> {
  await mkdir(folder, { recursive: true });
  const names = ['a-1.png', 'a-2.png', 'c-big.png', 'd-1.png', 'd-2.png'];
  for (const name of names) {
    const size = name === 'c-big.png' ? { width: 200, height: 160 } : { width: 20, height: 16 };
    await sharp({ create: { ...size, channels: 3, background: '#357' } })
      .png()
      .toFile(path.join(folder, name));
  }
  return names;
}

/**
 * What a kill during the encode of the killed job's third photo, and the command line of
 * earlier versions, leave behind; and a temporary of another job, which a process running
 * that job may be writing right now: it must stay.
 */
async function plantLeftovers(outputFolder: string, stateRoot: string): Promise<string> {
  const lockFile = (await listTree(stateRoot)).find((file) => file.endsWith('queue.lock'));
  const { jobs } = await new QueueStore(path.dirname(path.join(stateRoot, lockFile!))).load();
  await mkdir(outputFolder, { recursive: true });
  await writeFile(path.join(outputFolder, `.cmsc-partial.${jobs[0]!.id}.2.c-big_x2.png`), 'half');
  await writeFile(path.join(outputFolder, '.c-big_x2.0badc0de.partial.png'), 'half');
  const foreign = '.cmsc-partial.job-other-0.0.elsewhere_x2.png';
  await writeFile(path.join(outputFolder, foreign), 'being written by another process');
  return foreign;
}

describe('SIGKILL, then the same command again', () => {
  it('CLI: resumes, each photo upscaled once, no temporary file left', async () => {
    const folder = path.join(root, 'kill-cli');
    const out = path.join(root, 'kill-cli-out');
    const names = await photosForKill(folder);
    const before = await hashTree(folder);
    const env = { XDG_CONFIG_HOME: path.join(root, 'kill-cli-config') };
    const args = [folder, '--out', out, '--tile', '32'];
    const first = runAsUser(...cliArgs(args), {
      env,
      onStdout: (text) => {
        if ((text.match(/^ok {3}/gm) ?? []).length >= 2) first.kill('SIGKILL');
      },
    });
    expect((await first.done).signal).toBe('SIGKILL');
    const foreign = await plantLeftovers(out, env.XDG_CONFIG_HOME);
    const second = await runAsUser(...cliArgs(args), { env }).done;
    expect([second.code, second.stderr]).toEqual([0, '']);
    expect(second.stdout).toMatch(/^resuming an interrupted run: \d of 5 files already handled$/m);
    expect(second.stdout).not.toMatch(STACK_TRACE);
    expect((await listTree(out)).filter((file) => !file.startsWith('cmsc-report-'))).toEqual([
      foreign,
      '.cmsc-upscaler-manifest.jsonl',
      '.cmsc-upscaler-output',
      ...names.map((name) => name.replace('.png', '_x2.png')),
    ]);
    expect(await hashTree(folder)).toEqual(before);
  });

  it('CLI, Ctrl-C: the job pauses cleanly and the same command resumes it', async () => {
    const folder = path.join(root, 'pause-cli');
    const out = path.join(root, 'pause-cli-out');
    const names = await photosForKill(folder);
    const env = { XDG_CONFIG_HOME: path.join(root, 'pause-cli-config') };
    const args = [folder, '--out', out, '--tile', '32'];
    // Ctrl-C after two photos, and again once it answers: the first lets the running photo
    // finish, the second stops it at once. onStdout sees the whole output so far, so each press
    // happens once.
    let presses = 0;
    const first = runAsUser(...cliArgs(args), {
      env,
      onStdout: (text) => {
        const answered = /^(finishing the current photo|pausing)…/m.test(text);
        if (presses === 0 && (text.match(/^ok {3}/gm) ?? []).length === 2) {
          presses = 1;
          first.kill('SIGINT');
        } else if (presses === 1 && answered) {
          presses = 2;
          first.kill('SIGINT');
        }
      },
    });
    const paused = await first.done;
    expect([paused.code, paused.stderr]).toEqual([130, '']);
    expect(paused.stdout).toMatch(
      /^2 upscaled, 0 up to date, 0 skipped, 0 failed in [\d.]+ s, paused with 3 left: run the same command again to resume$/m,
    );
    // Paused cleanly: the photo it was on left no temporary file.
    expect((await listTree(out)).filter((file) => !file.endsWith('_x2.png'))).toEqual([
      '.cmsc-upscaler-manifest.jsonl',
      '.cmsc-upscaler-output',
    ]);
    const second = await runAsUser(...cliArgs(args), { env }).done;
    expect([second.code, second.stderr]).toEqual([0, '']);
    expect(second.stdout).toMatch(/^resuming an interrupted run: 2 of 5 files already handled$/m);
    expect((await listTree(out)).filter((file) => !file.startsWith('cmsc-report-'))).toEqual([
      '.cmsc-upscaler-manifest.jsonl',
      '.cmsc-upscaler-output',
      ...names.map((name) => name.replace('.png', '_x2.png')),
    ]);
  });

  it('batch worker: resumes, each photo upscaled once, no temporary file left', async () => {
    const folder = path.join(root, 'kill-worker');
    const out = path.join(root, 'kill-worker-out');
    const names = await photosForKill(folder);
    const request = path.join(root, 'kill-request.json');
    await writeFile(
      request,
      JSON.stringify({
        inputs: { paths: [folder], recursive: false, includeExtensions: [], excludeExtensions: [] },
        settings: {
          ...DEFAULT_EXPORT_SETTINGS,
          outputFolder: out,
          device: 'cpu',
          qualityPreset: 'fast',
          tileSize: 32,
        },
      }),
    );
    const state = path.join(root, 'kill-worker-state');
    const first = runAsUser(...workerArgs(state, ['--add', request]), {
      onStdout: (text) => {
        if ((text.match(/"state":"done"/g) ?? []).length >= 2) first.kill('SIGKILL');
      },
    });
    expect((await first.done).signal).toBe('SIGKILL');
    const foreign = await plantLeftovers(out, state);
    const second = await runAsUser(...workerArgs(state, [])).done;
    expect([second.code, second.stderr]).toEqual([0, '']);
    expect((await listTree(out)).filter((file) => !file.startsWith('cmsc-report-'))).toEqual([
      foreign,
      '.cmsc-upscaler-manifest.jsonl',
      '.cmsc-upscaler-output',
      ...names.map((name) => name.replace('.png', '_x2.png')),
    ]);
  });
});
