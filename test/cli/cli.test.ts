import { execFile, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../../src/main/cli/runCli.ts';
import { listFiles } from '../batch/batchFixtures.ts';
import { FIXTURE_MODELS_DIR, makeTempDir, writeTexturedImage } from '../helpers/testImages.ts';

const repoRoot = path.resolve(import.meta.dirname, '../..');
let temp: Awaited<ReturnType<typeof makeTempDir>>;
beforeEach(async () => {
  temp = await makeTempDir();
});
afterEach(async () => temp.remove());

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const chunks = { out: '', err: '' };
  stdout.on('data', (d: Buffer) => (chunks.out += d.toString()));
  stderr.on('data', (d: Buffer) => (chunks.err += d.toString()));
  const code = await runCli(
    [...args, '--models', FIXTURE_MODELS_DIR, '--device', 'cpu', '--threads', '1'],
    { stdout, stderr },
    undefined,
    { stateRoot: path.join(temp.dir, '.state') },
  );
  return { code, ...chunks };
}

describe('cmsc-upscale', () => {
  it('upscales a folder recursively, reports a bad file, goes on, and exits non-zero', async () => {
    const photos = path.join(temp.dir, 'photos');
    await mkdir(path.join(photos, 'trip'), { recursive: true });
    const a = await writeTexturedImage(path.join(photos, 'a.png'), 12, 10);
    const b = await writeTexturedImage(path.join(photos, 'trip', 'b.jpg'), 10, 8, {
      format: 'jpeg',
    });
    const good = await readFile(a);
    await writeFile(path.join(photos, 'broken.png'), good.subarray(0, 60));
    await writeFile(path.join(photos, 'notes.txt'), 'not an image');
    const inputBytes = await readFile(b);
    const out = path.join(temp.dir, 'out');

    const result = await cli(photos, '-r', '--out', out, '--scale', '2', '--format', 'png');

    expect(result.code).toBe(1);
    const lines = result.out.trim().split('\n');
    expect(lines.filter((l) => l.startsWith('ok   '))).toHaveLength(2);
    // Each line names the model that made the output and its file's precision (the tiny
    // fixture ships no int8 file); a JPEG judged a photo also says why (the fixture has no photo
    // variant, so it runs itself).
    expect(lines.find((l) => l.startsWith(`ok   ${a} `))).toMatch(/, cpu, cmsc-tiny, fp32\)$/);
    expect(lines.find((l) => l.startsWith(`ok   ${b} `))).toMatch(
      /, cpu, cmsc-tiny \(JPEG quality ≈ 80\), fp32\)$/,
    );
    expect(lines.filter((l) => l.startsWith('FAIL '))).toEqual([
      `FAIL ${path.join(photos, 'broken.png')}: cannot read the image header (Input file has corrupt header:) (decode-failed)`,
    ]);
    expect(lines.at(-2)).toMatch(/^2 upscaled, 0 up to date, 0 skipped, 1 failed in \d+\.\d s$/);
    expect(lines.at(-1)).toMatch(/^report .*\/out\/cmsc-report-job-[^/]+\.json$/);
    // Sub-folders are mirrored, as in the app.
    expect((await listFiles(out)).filter((f) => !f.startsWith('cmsc-report-'))).toEqual([
      '.cmsc-upscaler-manifest.jsonl',
      '.cmsc-upscaler-output',
      'a_x2.png',
      'trip/b_x2.png',
    ]);
    expect((await sharp(path.join(out, 'trip', 'b_x2.png')).metadata()).width).toBe(20);
    expect(await readFile(b)).toEqual(inputBytes);
  });

  it('applies the name template and the overwrite policies', async () => {
    const input = await writeTexturedImage(path.join(temp.dir, 'cat.png'), 10, 10);
    const first = await cli(input, '--width', '25', '--name', '{name}-{width}w');
    expect(first.code).toBe(0);
    const outputs = path.join(temp.dir, 'upscaled');
    // Our own output is up to date: no policy applies to it.
    const again = await cli(input, '--width', '25', '--name', '{name}-{width}w');
    expect(again.out).toMatch(/0 upscaled, 1 up to date, 0 skipped, 0 failed/);
    // A file someone else put at the name: the policies decide.
    const other = await writeTexturedImage(path.join(temp.dir, 'dog.png'), 10, 10);
    await writeFile(path.join(outputs, 'dog-25w.png'), await readFile(other));
    const skipped = await cli(
      other,
      '--width',
      '25',
      '--name',
      '{name}-{width}w',
      '--overwrite',
      'skip',
    );
    expect(skipped.out).toContain(
      `skip ${other}: ${path.join(outputs, 'dog-25w.png')} already exists and was not written by us (overwrite policy: skip) (output-exists)`,
    );
    expect(skipped.out).toMatch(/0 upscaled, 0 up to date, 1 skipped, 0 failed/);
    const renamed = await cli(
      other,
      '--width',
      '25',
      '--name',
      '{name}-{width}w',
      '--overwrite',
      'rename',
    );
    expect(renamed.code).toBe(0);
    expect((await readdir(outputs)).filter((f) => f.endsWith('.png')).sort()).toEqual([
      'cat-25w.png',
      'dog-25w-1.png',
      'dog-25w.png',
    ]);
  });

  it('--keep-metadata carries EXIF, ICC and XMP; without it none are written', async () => {
    const input = path.join(temp.dir, 'shot.jpg');
    await sharp(await readFile(await writeTexturedImage(path.join(temp.dir, 'src.png'), 12, 8)))
      .withExif({ IFD0: { Copyright: 'CMSC test rights', Artist: 'A. Tester' } })
      .withIccProfile('p3')
      .withXmp(
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/></x:xmpmeta>',
      )
      .jpeg()
      .toFile(input);
    expect((await cli(input, '--keep-metadata', '--name', '{name}-kept')).code).toBe(0);
    const kept = await sharp(path.join(temp.dir, 'upscaled', 'shot-kept.jpg')).metadata();
    expect(kept.exif?.toString('latin1')).toContain('CMSC test rights');
    expect(kept.icc?.subarray(16, 20).toString('latin1')).toBe('RGB ');
    expect(kept.xmp).toBeDefined();
    expect((await cli(input, '--name', '{name}-plain')).code).toBe(0);
    const plain = await sharp(path.join(temp.dir, 'upscaled', 'shot-plain.jpg')).metadata();
    expect([plain.exif, plain.icc, plain.xmp]).toEqual([undefined, undefined, undefined]);
  });

  it('says once that no model is installed instead of failing every file', async () => {
    const input = await writeTexturedImage(path.join(temp.dir, 'p.png'), 8, 8);
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let err = '';
    stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await runCli([input, '--models', path.join(temp.dir, 'no-models')], {
      stdout,
      stderr,
    });
    expect(code).toBe(1);
    expect(err).toBe(
      `cmsc-upscale: no model installed in ${path.join(temp.dir, 'no-models')} (each model is an ONNX file with a JSON card; see README)\n`,
    );
  });

  it('rejects bad arguments with exit code 2 and a one-line reason', async () => {
    const scale = await cli('x.png', '--scale', '7');
    expect([scale.code, scale.err.split('\n')[0]]).toEqual([
      2,
      'cmsc-upscale: --scale must be a number from 1 to 4 (got "7")',
    ]);
    const both = await cli('x.png', '--scale', '2', '--width', '100');
    expect(both.err.split('\n')[0]).toBe(
      'cmsc-upscale: give only one of --scale, --width, --height (got --scale, --width)',
    );
    const template = await cli('x.png', '--name', '{nme}');
    expect(template.code).toBe(2);
    expect(template.err).toContain('--name:');
    // Number('0x2') is 2: the flag takes plain decimals only.
    const hex = await cli('x.png', '--scale', '0x2');
    expect([hex.code, hex.err.split('\n')[0]]).toEqual([
      2,
      'cmsc-upscale: --scale must be a number from 1 to 4 (got "0x2")',
    ]);
  });

  it('passes every option into the job: the report holds the settings it ran with', async () => {
    const input = await writeTexturedImage(path.join(temp.dir, 'p.png'), 8, 8);
    const out = path.join(temp.dir, 'out');
    const result = await cli(input, '--out', out, '--source', 'clean', '--quality', '77');
    expect(result.code).toBe(0);
    const [reportName] = (await readdir(out)).filter((f) => f.endsWith('.json'));
    const report = JSON.parse(await readFile(path.join(out, reportName!), 'utf8'));
    expect([report.settings.source, report.settings.encoding.jpegQuality]).toEqual(['clean', 77]);
    // --no-report: the outputs alone.
    const quiet = await cli(input, '--out', path.join(temp.dir, 'quiet'), '--no-report');
    expect(quiet.code).toBe(0);
    expect((await readdir(path.join(temp.dir, 'quiet'))).sort()).toEqual([
      '.cmsc-upscaler-manifest.jsonl',
      '.cmsc-upscaler-output',
      'p_x2.png',
    ]);
  });

  it('says once that nothing it was given can be read, and writes nothing anywhere', async () => {
    const missing = path.join(temp.dir, 'typo.jpg');
    const result = await cli(missing, '/dev/null');
    expect([result.code, result.out, result.err]).toEqual([
      1,
      '',
      `cmsc-upscale: nothing to upscale: ${missing}: no such file or folder (input-missing); /dev/null: a device, not a regular file; it is not opened (special-file)\n`,
    ]);
    // Only the (emptied) folder the CLI keeps its job queues in.
    expect(await readdir(temp.dir)).toEqual(['.state']);
    expect(await readdir(path.join(temp.dir, '.state'))).toEqual([]);
  });

  it('says in one line when it cannot keep its job state', async () => {
    const input = await writeTexturedImage(path.join(temp.dir, 'p.png'), 8, 8);
    const notAFolder = path.join(temp.dir, 'state-file');
    await writeFile(notAFolder, 'x');
    const stderr = new PassThrough();
    let err = '';
    stderr.on('data', (d: Buffer) => (err += d.toString()));
    const args = [input, '--models', FIXTURE_MODELS_DIR, '--device', 'cpu'];
    const code = await runCli(args, { stdout: new PassThrough(), stderr }, undefined, {
      stateRoot: notAFolder,
    });
    expect(code).toBe(1);
    expect(err).toMatch(
      new RegExp(
        `^cmsc-upscale: cannot keep the job's state in ${notAFolder}/[0-9a-f]{24} \\(.*ENOTDIR.*\\); set XDG_CONFIG_HOME to a writable folder\n$`,
      ),
    );
  });

  it('refuses --out naming an existing file once, as a usage error', async () => {
    const input = await writeTexturedImage(path.join(temp.dir, 'p.png'), 8, 8);
    const other = await writeTexturedImage(path.join(temp.dir, 'q.png'), 8, 8);
    const notAFolder = path.join(temp.dir, 'taken.txt');
    await writeFile(notAFolder, 'x');
    const result = await cli(input, other, '--out', notAFolder);
    expect([result.code, result.out, result.err]).toEqual([
      2,
      '',
      `cmsc-upscale: --out: ${notAFolder} exists and is not a folder\nRun cmsc-upscale --help for the options.\n`,
    ]);
  });

  it('runs as the package bin with plain lines when not on a terminal', async () => {
    const input = await writeTexturedImage(path.join(temp.dir, 'p.png'), 8, 8);
    await writeFile(path.join(temp.dir, 'empty.png'), '');
    const run = promisify(execFile)(
      process.execPath,
      [
        path.join(repoRoot, 'bin/cmsc-upscale.js'),
        input,
        path.join(temp.dir, 'empty.png'),
        '--models',
        FIXTURE_MODELS_DIR,
        '--device',
        'cpu',
      ],
      { cwd: temp.dir, env: { ...process.env, XDG_CONFIG_HOME: temp.dir } },
    );
    const failure = await run.then(
      () => null,
      (error: { code: number; stdout: string }) => error,
    );
    expect(failure?.code).toBe(1);
    expect(failure?.stdout).toContain(
      `FAIL ${path.join(temp.dir, 'empty.png')}: the file is empty (0 bytes) (empty-file)`,
    );
    expect(failure?.stdout).toContain('1 upscaled, 0 up to date, 0 skipped, 1 failed');
    expect(failure?.stdout).not.toContain('\r');
  });
});

describe('cmsc-upscale on hostile arguments', () => {
  it('answers --scale -1 with our message and exit code 2, not Node\'s "ambiguous"', async () => {
    const result = await cli('x.png', '--scale', '-1');
    expect([result.code, result.out, result.err]).toEqual([
      2,
      '',
      'cmsc-upscale: --scale must be a number from 1 to 4 (got "-1")\nRun cmsc-upscale --help for the options.\n',
    ]);
  });
});

describe('cmsc-upscale with --threads far above the cores', () => {
  /** Threads of this process now (the inference worker and ONNX Runtime's pool live in it). */
  const threadsNow = async (): Promise<number> =>
    Number(/^Threads:\s+(\d+)$/m.exec(await readFile('/proc/self/status', 'utf8'))![1]);

  it.skipIf(!existsSync('/proc/self/status') || availableParallelism() >= 1000)(
    'runs on as many threads as cores, and says so in one line first',
    async () => {
      const input = await writeTexturedImage(path.join(temp.dir, 'p.png'), 8, 8);
      const stdout = new PassThrough();
      let out = '';
      stdout.on('data', (d: Buffer) => (out += d.toString()));
      const before = await threadsNow();
      let most = before;
      const sampler = setInterval(() => {
        void threadsNow().then((count) => (most = Math.max(most, count)));
      }, 5);
      const code = await runCli(
        [input, '--models', FIXTURE_MODELS_DIR, '--device', 'cpu', '--threads', '1000'],
        { stdout, stderr: new PassThrough() },
        undefined,
        { stateRoot: path.join(temp.dir, '.state') },
      ).finally(() => clearInterval(sampler));
      const cores = availableParallelism();
      expect(code).toBe(0);
      expect(out.split('\n')[0]).toBe(
        `note --threads 1000 is more than this machine's ${cores} core${cores === 1 ? '' : 's'}; using ${cores}`,
      );
      // The worker, ONNX Runtime's pool (the cores) and libvips's: nowhere near 1,000.
      expect(most - before).toBeLessThan(cores + 40);
    },
  );

  it("deletes the calibration images that killed runs left in its state folder, not a live run's", async () => {
    const stateRoot = path.join(temp.dir, '.state');
    // A process that has exited: its pid names no running program.
    const deadPid = spawnSync(process.execPath, ['-e', '0']).pid;
    const leftovers = {
      dead: path.join(stateRoot, 'a'.repeat(24), `calibration-${deadPid}-Xy12Zq`),
      // Named before the pid was part of the name: only a kill leaves one behind.
      old: path.join(stateRoot, 'b'.repeat(24), 'calibration-Ab3dEf'),
      live: path.join(stateRoot, 'c'.repeat(24), `calibration-${process.pid}-Q1w2E3`),
    };
    for (const folder of Object.values(leftovers)) {
      await mkdir(folder, { recursive: true });
      await writeFile(path.join(folder, 'calibration.png'), 'x');
    }
    const input = await writeTexturedImage(path.join(temp.dir, 'p.png'), 8, 8);
    expect((await cli(input)).code).toBe(0);
    expect(Object.values(leftovers).map((folder) => existsSync(folder))).toEqual([
      false,
      false,
      true,
    ]);
    // A killed run's job stays, so the same command resumes it.
    expect((await readdir(stateRoot)).sort()).toEqual([
      'a'.repeat(24),
      'b'.repeat(24),
      'c'.repeat(24),
    ]);
  });
});

describe('cmsc-upscale when the output folder cannot be written', () => {
  it("keeps the failed job's report where the report line says, and says why it is there", async () => {
    const input = await writeTexturedImage(path.join(temp.dir, 'p.png'), 8, 8);
    const file = path.join(temp.dir, 'a-file');
    await writeFile(file, 'x');
    const out = path.join(file, 'out');
    const result = await cli(input, '--out', out);
    expect(result.code).toBe(1);
    const lines = result.out.trim().split('\n');
    expect(lines.filter((line) => line.startsWith('FAIL '))).toEqual([
      `FAIL ${input}: cannot create the output folder ${out}: ${file} is a file, not a folder (output-not-writable)`,
    ]);
    const reportLine = lines.find((line) => line.startsWith('report '))!;
    const reports = path.join(temp.dir, '.state', 'reports');
    expect(reportLine).toMatch(
      new RegExp(`^report ${reports}/cmsc-report-job-[a-z0-9]+-[0-9a-f]{6}\\.json$`),
    );
    // The command has ended: the file it named is there, with the reason of the failed photo.
    const reportPath = reportLine.slice('report '.length);
    const report = JSON.parse(await readFile(reportPath, 'utf8'));
    expect(
      report.files.map((row: { state: string; error: string }) => [row.state, row.error]),
    ).toEqual([
      [
        'failed',
        `output-not-writable: cannot create the output folder ${out}: ${file} is a file, not a folder`,
      ],
    ]);
    expect(existsSync(reportPath.replace(/\.json$/, '.csv'))).toBe(true);
    expect(lines).toContain(
      `note the output folder could not take the report (ENOTDIR: not a directory, mkdir '${out}'); it is in ${reports}`,
    );
  });
});

describe('cmsc-upscale on an animated GIF', () => {
  it('says in its line and its report that only the first frame was upscaled', async () => {
    const input = path.join(temp.dir, 'anim.gif');
    const frames = await Promise.all(
      [0, 1, 2, 3].map(async (frame) =>
        sharp(await readFile(await writeTexturedImage(path.join(temp.dir, `f${frame}.png`), 10, 8)))
          .linear(1, frame * 30)
          .png()
          .toBuffer(),
      ),
    );
    await sharp(frames, { join: { animated: true } })
      .gif()
      .toFile(input);
    const out = path.join(temp.dir, 'out');
    const result = await cli(input, '--out', out, '--format', 'png');
    expect(result.code).toBe(0);
    const line = result.out.split('\n').find((l) => l.startsWith('ok   '))!;
    expect(line).toMatch(
      new RegExp(
        `^ok   ${input} -> ${path.join(out, 'anim_x2.png')} \\(20x16, .*\\); first frame only: 4 frames, the rest are not upscaled \\(first-frame-only\\)$`,
      ),
    );
    const [reportName] = (await readdir(out)).filter(
      (f) => f.startsWith('cmsc-report-') && f.endsWith('.json'),
    );
    const report = JSON.parse(await readFile(path.join(out, reportName!), 'utf8'));
    expect(report.files[0].notes).toEqual([
      'first-frame-only: first frame only: 4 frames, the rest are not upscaled',
    ]);
  });
});
