/**
 * `npm run bench:big [-- --sizes 1,12,24,61 --scales 2,4 --max-memory 1g --tile 2048 --pair]`
 * `npm run bench:big -- --crop [--sizes 12,61]`
 *
 * Big photos through `cmsc-upscale` as a user runs it, one child process per photo and scale,
 * each under `/usr/bin/time` for the whole process's peak resident memory (max RSS: main
 * thread, inference worker and libvips together). The photos are synthetic camera JPEGs the
 * bench makes itself (3:2, a textured gradient with sensor-like noise, quality 92) and keeps
 * in --cache for the next run. Prints, per size and scale: output size, wall seconds, seconds
 * per output megapixel (wall, and CPU: user + system, steadier on a shared machine), peak RSS
 * and the output file size; each run's CLI line goes to stderr.
 *
 * --tile N adds `--tile N` to every run; --pair runs every photo twice, the default and then
 * `--tile 2048` (today's free-memory choice on an idle 24 GB machine), alternating, and prints
 * the time ratio. --extra passes more CLI flags (e.g. "--format png"). Asserts nothing.
 *
 * --crop times Compare instead: per photo, one child process (under /usr/bin/time) asks the
 * engine for a 256 x 256 crop at x2 at the photo's upper left (the session opens), then one in
 * its middle (a fresh region: what moving the crop box costs), and prints both times, the
 * process's peak RSS, and the middle crop's time against the first size's.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { REPO_ROOT } from './benchModel.ts';
import { fixed, formatTable } from './table.ts';
import { DEFAULT_UPSCALE_OPTIONS } from '../src/shared/upscaleOptions.ts';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1,12,24,61' },
    scales: { type: 'string', default: '2,4' },
    'max-memory': { type: 'string' },
    tile: { type: 'string' },
    pair: { type: 'boolean', default: false },
    extra: { type: 'string', default: '' },
    threads: { type: 'string', default: String(availableParallelism()) },
    cache: { type: 'string', default: path.join(tmpdir(), 'cmsc-bench-big') },
    crop: { type: 'boolean', default: false },
    /** Internal: the child process of --crop, for one photo. */
    'crop-child': { type: 'string' },
  },
});

/** Camera sensor sizes (3:2) by nominal megapixels. */
const CAMERAS: Record<number, [number, number]> = {
  1: [1224, 816],
  12: [4240, 2832],
  24: [6000, 4000],
  45: [8256, 5504],
  61: [9504, 6336],
};
const CLI = path.join(REPO_ROOT, 'bin/cmsc-upscale.js');

async function syntheticPhoto(megapixels: number): Promise<string> {
  const size = CAMERAS[megapixels];
  if (!size)
    throw new Error(
      `--sizes: no camera size for ${megapixels} MP (${Object.keys(CAMERAS).join(', ')})`,
    );
  const [width, height] = size;
  const file = path.join(values.cache, `camera-${megapixels}mp-${width}x${height}.jpg`);
  if (existsSync(file)) return file;
  await mkdir(values.cache, { recursive: true });
  // A smooth colour field at 1/16 size (detail of a scene), up-sized, with grain on top.
  const small = Buffer.alloc(Math.ceil(width / 16) * Math.ceil(height / 16) * 3);
  const sw = Math.ceil(width / 16);
  for (let i = 0; i < small.length / 3; i++) {
    const x = i % sw;
    const y = Math.floor(i / sw);
    small[i * 3] = 128 + 100 * Math.sin(x / 7) * Math.cos(y / 11);
    small[i * 3 + 1] = (x * 3 + y * 5) % 256;
    small[i * 3 + 2] = 128 + 90 * Math.sin((x + y) / 13);
  }
  const field = await sharp(small, {
    raw: { width: sw, height: Math.ceil(height / 16), channels: 3 },
  })
    .resize(width, height, { kernel: 'cubic' })
    .raw()
    .toBuffer();
  const grain = await sharp({
    create: {
      width,
      height,
      channels: 3,
      background: '#000',
      noise: { type: 'gaussian', mean: 128, sigma: 6 },
    },
    limitInputPixels: false,
  })
    .raw()
    .toBuffer();
  for (let i = 0; i < field.length; i++)
    field[i] = Math.max(0, Math.min(255, field[i]! + grain[i]! - 128));
  await sharp(field, { raw: { width, height, channels: 3 }, limitInputPixels: false })
    .jpeg({ quality: 92 })
    .toFile(file);
  return file;
}

interface Run {
  seconds: number;
  /** User + system CPU seconds of the whole process: steadier than wall time on a shared machine. */
  cpuSeconds: number;
  peakBytes: number;
  line: string;
  outputBytes: number;
}

async function runCli(input: string, scale: number, tile: string | undefined): Promise<Run> {
  const out = path.join(values.cache, 'out');
  await rm(out, { recursive: true, force: true });
  const timeFile = path.join(values.cache, 'time.txt');
  const args = [
    '-f',
    '%M %e %U %S',
    '-o',
    timeFile,
    process.execPath,
    CLI,
    input,
    '--scale',
    String(scale),
    '--out',
    out,
    '--no-report',
    '--threads',
    values.threads,
    ...(values['max-memory'] ? ['--max-memory', values['max-memory']] : []),
    ...(tile ? ['--tile', tile] : []),
    ...values.extra.split(' ').filter(Boolean),
  ];
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile('/usr/bin/time', args, { maxBuffer: 1 << 24 }, (error, out, err) => {
      if (error) reject(new Error(`${error.message}\n${out}\n${err}`));
      else resolve(out);
    });
  });
  const [maxRssKiB, seconds, user, system] = (await readFile(timeFile, 'utf8'))
    .trim()
    .split(/\s+/)
    .slice(-4)
    .map(Number);
  const line = stdout.split('\n').find((l) => l.startsWith('ok')) ?? stdout.trim();
  const written = line.match(/-> (\S+) \(/)?.[1];
  const outputBytes = written ? (await stat(written)).size : 0;
  await rm(out, { recursive: true, force: true });
  return {
    seconds: seconds!,
    cpuSeconds: user! + system!,
    peakBytes: maxRssKiB! * 1024,
    line,
    outputBytes,
  };
}

/** --crop's child: two Compare crops of one photo, timed, as JSON on stdout. */
async function cropChild(input: string): Promise<void> {
  const { createEngine } = await import('../src/main/engine/index.ts');
  const engine = await createEngine({ threads: Number(values.threads) });
  try {
    const { width, height } = await engine.probe(input);
    const options = { ...DEFAULT_UPSCALE_OPTIONS, target: { kind: 'scale' as const, scale: 2 } };
    const side = 256;
    const time = async (x: number, y: number) => {
      const started = performance.now();
      await engine.upscaleRegion(input, { x, y, width: side, height: side }, options);
      return performance.now() - started;
    };
    const firstMs = await time(0, 0);
    const middleMs = await time(Math.floor((width - side) / 2), Math.floor((height - side) / 2));
    console.log(JSON.stringify({ firstMs, middleMs }));
  } finally {
    await engine.close();
  }
}

async function runCrops(): Promise<void> {
  const rows: string[][] = [];
  let baseMs: number | null = null;
  for (const mp of values.sizes.split(',').map(Number)) {
    const input = await syntheticPhoto(mp);
    const timeFile = path.join(values.cache, 'time.txt');
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(
        '/usr/bin/time',
        [
          '-f',
          '%M',
          '-o',
          timeFile,
          process.execPath,
          '--import',
          'tsx',
          path.join(REPO_ROOT, 'bench/big.ts'),
          '--crop-child',
          input,
          '--threads',
          values.threads,
        ],
        { cwd: REPO_ROOT, maxBuffer: 1 << 24 },
        (error, out, err) => (error ? reject(new Error(`${error.message}\n${err}`)) : resolve(out)),
      );
    });
    const peakKiB = Number((await readFile(timeFile, 'utf8')).trim().split(/\s+/).at(-1));
    const { firstMs, middleMs } = JSON.parse(stdout.trim().split('\n').at(-1)!) as {
      firstMs: number;
      middleMs: number;
    };
    baseMs ??= middleMs;
    rows.push([
      `${mp} MP`,
      fixed(firstMs / 1000, 2),
      fixed(middleMs / 1000, 2),
      fixed(middleMs / baseMs, 2),
      fixed(peakKiB / 1024, 0),
    ]);
    console.error(`row: ${rows.at(-1)!.join(' | ')}`);
  }
  console.log(
    formatTable(['photo', 'first crop s', 'middle crop s', 'vs first size', 'peak RSS MiB'], rows),
  );
}

if (values['crop-child']) {
  await cropChild(values['crop-child']);
  process.exit(0);
}
if (values.crop) {
  await runCrops();
  process.exit(0);
}

const rows: string[][] = [];
const ratios: string[] = [];
for (const mp of values.sizes.split(',').map(Number)) {
  const input = await syntheticPhoto(mp);
  const meta = await sharp(input).metadata();
  for (const scale of values.scales.split(',').map(Number)) {
    const outMp = (meta.width * scale * meta.height * scale) / 1e6;
    const runs: [string, Run][] = [];
    runs.push([
      values.tile ? `--tile ${values.tile}` : 'default',
      await runCli(input, scale, values.tile),
    ]);
    if (values.pair) runs.push(['--tile 2048', await runCli(input, scale, '2048')]);
    for (const [label, run] of runs) {
      rows.push([
        `${mp} MP x${scale}`,
        label,
        `${meta.width * scale}x${meta.height * scale}`,
        fixed(outMp, 0),
        fixed(run.seconds, 1),
        fixed(run.seconds / outMp, 3),
        fixed(run.cpuSeconds / outMp, 3),
        fixed(run.peakBytes / 2 ** 20, 0),
        fixed(run.outputBytes / 1e6, 1),
      ]);
      console.error(run.line);
      // Each row as it comes, so an interrupted run keeps what it measured.
      console.error(`row: ${rows.at(-1)!.join(' | ')}`);
    }
    if (runs.length === 2) {
      const [mine, big] = [runs[0]![1], runs[1]![1]];
      ratios.push(
        `${mp} MP x${scale}: default / --tile 2048: wall time ${fixed(mine.seconds / big.seconds, 3)}, CPU time ${fixed(mine.cpuSeconds / big.cpuSeconds, 3)}`,
      );
    }
  }
}
console.log(
  formatTable(
    [
      'photo',
      'run',
      'output',
      'out MP',
      'wall s',
      's / out MP',
      'CPU s / out MP',
      'peak RSS MiB',
      'file MB',
    ],
    rows,
  ),
);
for (const line of ratios) console.log(line);
