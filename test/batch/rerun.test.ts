/**
 * A job is a build: reruns through the real CLI on the fixture model. Each test checks what was
 * written (names, bytes, modification times) and what the manifest says.
 */
import { mkdir, readFile, readdir, rm, stat, truncate, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import sharp from 'sharp';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MANIFEST_FILE_NAME, OutputManifest } from '../../src/main/batch/outputManifest.ts';
import { runCli } from '../../src/main/cli/runCli.ts';
import { FIXTURE_MODELS_DIR, makeTempDir, writeTexturedImage } from '../helpers/testImages.ts';

let temp: Awaited<ReturnType<typeof makeTempDir>>;
let photos: string;
let out: string;
beforeEach(async () => {
  temp = await makeTempDir();
  photos = path.join(temp.dir, 'shoot');
  out = path.join(temp.dir, 'shoot-upscaled');
  await mkdir(photos);
  for (const name of ['a', 'b', 'c'])
    await writeTexturedImage(path.join(photos, `${name}.png`), 12, 10);
});
afterEach(async () => temp.remove());

/** Everything the CLI has printed so far, for a test that acts in the middle of a run. */
let printed = '';

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const chunks = { out: '', err: '' };
  printed = '';
  stdout.on('data', (d: Buffer) => {
    chunks.out += d.toString();
    printed += d.toString();
  });
  stderr.on('data', (d: Buffer) => (chunks.err += d.toString()));
  const withModels =
    args[0] === 'verify'
      ? args
      : [...args, '--models', FIXTURE_MODELS_DIR, '--device', 'cpu', '--threads', '1'];
  const code = await runCli(withModels, { stdout, stderr }, undefined, {
    stateRoot: path.join(temp.dir, '.state'),
  });
  return { code, ...chunks };
}

const upscale = (...more: string[]) => cli(photos, '--scale', '2', ...more);

/** Image files in the output folder (reports and the manifest left out), name → mtime. */
async function outputs(): Promise<Map<string, number>> {
  const map = new Map<string, number>();
  for (const name of (await readdir(out)).sort()) {
    if (!/\.(png|jpg)$/.test(name)) continue;
    map.set(name, (await stat(path.join(out, name))).mtimeMs);
  }
  return map;
}

function summary(text: string): string {
  return (
    text
      .trim()
      .split('\n')
      .find((line) => / upscaled, /.test(line)) ?? ''
  );
}

describe('a rerun is a build', () => {
  it('a rerun writes nothing, changes no time, and says everything is up to date', async () => {
    expect((await upscale()).code).toBe(0);
    const before = await readdir(out);
    const times = await outputs();
    const manifestBefore = await readFile(path.join(out, MANIFEST_FILE_NAME), 'utf8');

    const again = await upscale();

    expect(again.code).toBe(0);
    expect(again.out).toContain('0 to upscale, 3 up to date');
    expect(summary(again.out)).toMatch(/^0 upscaled, 3 up to date, 0 skipped, 0 failed in /);
    expect((await readdir(out)).sort()).toEqual(before.sort());
    expect(await outputs()).toEqual(times);
    expect(await readFile(path.join(out, MANIFEST_FILE_NAME), 'utf8')).toBe(manifestBefore);
  });

  it('three photos added: exactly three upscaled', async () => {
    await upscale();
    for (const name of ['d', 'e', 'f'])
      await writeTexturedImage(path.join(photos, `${name}.png`), 12, 10);
    const again = await upscale();
    expect(again.out).toContain('3 to upscale, 3 up to date');
    expect(summary(again.out)).toMatch(/^3 upscaled, 3 up to date, /);
    expect([...(await outputs()).keys()]).toEqual(
      ['a', 'b', 'c', 'd', 'e', 'f'].map((n) => `${n}_x2.png`),
    );
  });

  it('one photo changed: only its output is made again, in place', async () => {
    await upscale();
    const times = await outputs();
    await writeTexturedImage(path.join(photos, 'b.png'), 14, 10, { seed: 7 });
    const again = await upscale();
    expect(summary(again.out)).toMatch(/^1 upscaled, 2 up to date, /);
    expect(again.out).toContain(
      'the photo changed since the last run: its output replaced in place',
    );
    const after = await outputs();
    expect([...after.keys()]).toEqual(['a_x2.png', 'b_x2.png', 'c_x2.png']);
    expect(after.get('a_x2.png')).toBe(times.get('a_x2.png'));
    expect(after.get('b_x2.png')).not.toBe(times.get('b_x2.png'));
    expect((await sharp(path.join(out, 'b_x2.png')).metadata()).width).toBe(28);
  });

  it('--scale 3 writes new outputs beside the x2 ones and leaves them alone', async () => {
    await upscale();
    const times = await outputs();
    const x3 = await cli(photos, '--scale', '3');
    expect(summary(x3.out)).toMatch(/^3 upscaled, 0 up to date, /);
    const after = await outputs();
    for (const [name, time] of times) expect(after.get(name)).toBe(time);
    expect([...after.keys()].filter((n) => n.includes('_x3'))).toEqual([
      'a_x3.png',
      'b_x3.png',
      'c_x3.png',
    ]);
  });

  it('a deleted output is made again, under its own name', async () => {
    await upscale();
    await rm(path.join(out, 'c_x2.png'));
    const again = await upscale();
    expect(summary(again.out)).toMatch(/^1 upscaled, 2 up to date, /);
    expect(again.out).toContain('its output had been deleted: made again');
    expect([...(await outputs()).keys()]).toEqual(['a_x2.png', 'b_x2.png', 'c_x2.png']);
  });

  it('an output edited by hand is kept, and the overwrite policy decides', async () => {
    await upscale();
    const edited = path.join(out, 'a_x2.png');
    await sharp({ create: { width: 24, height: 20, channels: 3, background: '#808080' } })
      .png()
      .toFile(edited);
    const editedBytes = await readFile(edited);

    const renamed = await upscale();
    expect(summary(renamed.out)).toMatch(/^1 upscaled, 2 up to date, /);
    expect(renamed.out).toContain(
      `${edited} was edited since we wrote it: not ours any more, kept`,
    );
    expect(await readFile(edited)).toEqual(editedBytes);
    expect([...(await outputs()).keys()]).toEqual([
      'a_x2-1.png',
      'a_x2.png',
      'b_x2.png',
      'c_x2.png',
    ]);

    // The -1 output is now ours and up to date; the edited file stays someone else's under skip.
    const skipped = await upscale('--overwrite', 'skip');
    expect(summary(skipped.out)).toMatch(/^0 upscaled, 3 up to date, /);
    expect(await readFile(edited)).toEqual(editedBytes);
  });

  it('a file at the target that we never wrote gets the policy, and the line says so', async () => {
    await mkdir(out);
    const foreign = path.join(out, 'a_x2.png');
    await writeFile(foreign, await readFile(path.join(photos, 'a.png')));
    const run = await upscale('--overwrite', 'skip');
    expect(run.out).toContain(
      `skip ${path.join(photos, 'a.png')}: ${foreign} already exists and was not written by us (overwrite policy: skip) (output-exists)`,
    );
    expect(summary(run.out)).toMatch(/^2 upscaled, 0 up to date, 1 skipped, /);
  });

  it('a truncated output: verify exits 1 and names it, a rerun repairs it in place', async () => {
    await upscale();
    expect((await cli('verify', out)).code).toBe(0);
    const damaged = path.join(out, 'b_x2.png');
    await truncate(damaged, 60);

    const verify = await cli('verify', out);
    expect(verify.code).toBe(1);
    expect(verify.out).toContain(
      `damaged  ${damaged}: the output no longer decodes (truncated or corrupt)`,
    );
    expect(verify.out).toContain('2 of 3 outputs intact; 1 damaged: rerun the job to repair them');

    const again = await upscale();
    expect(summary(again.out)).toMatch(/^1 upscaled, 2 up to date, /);
    expect(again.out).toContain('its output was damaged (it no longer decoded): replaced in place');
    // The report says which it repaired.
    const reportPath = /^report (.*)$/m.exec(again.out)![1]!;
    const report = JSON.parse(await readFile(reportPath, 'utf8')) as {
      files: { input: string; notes?: string[] }[];
    };
    expect(report.files.find((row) => row.input.endsWith('b.png'))!.notes).toEqual([
      'rerun: its output was damaged (it no longer decoded): replaced in place',
    ]);
    expect(report.files.find((row) => row.input.endsWith('a.png'))!.notes).toBeUndefined();
    expect([...(await outputs()).keys()]).toEqual(['a_x2.png', 'b_x2.png', 'c_x2.png']);
    expect((await cli('verify', out)).code).toBe(0);
  });

  it('verify lists missing, stale and orphaned outputs', async () => {
    await upscale();
    await rm(path.join(out, 'a_x2.png'));
    await writeTexturedImage(path.join(photos, 'b.png'), 12, 10, { seed: 3 });
    await rm(path.join(photos, 'c.png'));
    const verify = await cli('verify', out);
    expect(verify.code).toBe(1);
    const lines = verify.out.trim().split('\n');
    expect(lines.map((l) => l.split(' ')[0])).toEqual(['missing', 'stale', 'orphaned', '0']);
    expect(lines.at(-1)).toBe(
      '0 of 3 outputs intact; 1 missing, 1 stale, 1 orphaned: rerun the job to repair them',
    );
  });

  it('a garbled manifest: said so, every existing output treated as not ours, nothing deleted', async () => {
    await upscale();
    const manifestPath = path.join(out, MANIFEST_FILE_NAME);
    await writeFile(manifestPath, '{"cmscUpscalerManifest":1}\n{not json\n');
    const times = await outputs();
    const again = await upscale();
    expect(again.out).toContain(
      `note the output manifest ${manifestPath} is garbled at line 2; every existing output there is treated as someone else's`,
    );
    // rename (the default policy): three new -1 outputs, the originals untouched.
    const after = await outputs();
    for (const [name, time] of times) expect(after.get(name)).toBe(time);
    expect(after.size).toBe(6);
    expect(
      (await readdir(out)).some((n) => n.startsWith(`${MANIFEST_FILE_NAME}.unreadable-`)),
    ).toBe(true);
  });

  it('a manifest from a newer version is not trusted', async () => {
    await upscale();
    await writeFile(path.join(out, MANIFEST_FILE_NAME), '{"cmscUpscalerManifest":99}\n');
    const again = await upscale('--overwrite', 'skip');
    expect(again.out).toContain('was written by a newer version (format 99; this one reads 1)');
    expect(summary(again.out)).toMatch(/^0 upscaled, 0 up to date, 3 skipped, /);
  });

  it('a manifest line that points outside its folder is ignored and reported', async () => {
    await upscale();
    const manifestPath = path.join(out, MANIFEST_FILE_NAME);
    const lines = (await readFile(manifestPath, 'utf8')).trim().split('\n');
    const evil = JSON.parse(lines[1]!);
    evil.target = '../../etc/passwd';
    evil.output.path = '../../etc/passwd';
    await writeFile(manifestPath, `${[...lines, JSON.stringify(evil)].join('\n')}\n`);
    const again = await upscale();
    expect(again.out).toContain(
      `line 5 names "../../etc/passwd", outside its folder; that line is ignored`,
    );
    expect(summary(again.out)).toMatch(/^0 upscaled, 3 up to date, /);
  });

  it('a torn last line (a kill during an append) is dropped without a word', async () => {
    await upscale();
    const manifestPath = path.join(out, MANIFEST_FILE_NAME);
    const text = await readFile(manifestPath, 'utf8');
    await writeFile(manifestPath, `${text}{"target":"x_x2.png","outp`);
    const { manifest, warnings } = await OutputManifest.open(out);
    expect([warnings, manifest.trusted, manifest.latestRecords().length]).toEqual([[], true, 3]);
  });

  it('a touched photo (same bytes, new time) stays up to date after one hash', async () => {
    await upscale();
    const later = new Date(Date.now() + 60_000);
    await utimes(path.join(photos, 'a.png'), later, later);
    const again = await upscale();
    expect(summary(again.out)).toMatch(/^0 upscaled, 3 up to date, /);
  });
});

describe('two runs on one output folder', () => {
  it('the second waits while another live process writes the folder, says so, then goes on', async () => {
    const { spawn } = await import('node:child_process');
    await mkdir(out, { recursive: true });
    // A live process holds the folder's lock, as a run in another terminal would.
    const holder = spawn('sleep', ['30']);
    await writeFile(path.join(out, '.cmsc-upscaler-manifest.lock'), `${holder.pid}\n`);
    const run = upscale();
    // It waits (and says so) for as long as the holder lives: nothing is written meanwhile.
    const note = `note ${out} is being written by another run (process ${holder.pid}); waiting for it to finish`;
    await expect.poll(() => printed, { timeout: 60_000 }).toContain(note);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect((await readdir(out)).filter((n) => n.endsWith('.png'))).toEqual([]);
    holder.kill();
    const result = await run;
    expect(result.out).toContain(note);
    expect(summary(result.out)).toMatch(/^3 upscaled, 0 up to date, /);
    expect((await readdir(out)).filter((n) => n.endsWith('.png')).sort()).toEqual([
      'a_x2.png',
      'b_x2.png',
      'c_x2.png',
    ]);
  });
});
