/**
 * `npm run bench:bookkeeping [-- --files 300,3000,30000 --engine stub|fixture --large 0]`
 *
 * What the batch queue costs per file when the model costs nothing: a folder of N tiny PNGs
 * through the real queue (scan, headers, rerun rules, journal, manifest, atomic writes, report),
 * then the same job again (every output up to date). With `--engine stub` (the default) the
 * upscaler writes a fixed 16x16 PNG and nothing else, so what is timed is the bookkeeping
 * alone; `--engine fixture` runs the real engine with the tiny fixture model instead (as a
 * user's run would, on 16x16 photos).
 *
 * `--large N` also makes N camera-sized JPEGs (12 MP, synthetic) and times the up-to-date
 * check of a rerun over them twice: as left (size and time unchanged: no hashing) and after
 * every photo's modification time was touched (each photo hashed once).
 *
 * Prints numbers; asserts nothing. Targets (issue 21): per-file cost within 1.2x from 300 to
 * 30,000 files; an up-to-date rerun of 30,000 files in under 30 s.
 */
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { createBatchQueue } from '../src/main/batch/batchQueue.ts';
import { createEngineUpscaler } from '../src/main/batch/engineUpscaler.ts';
import type { ImageUpscaler } from '../src/main/batch/imageUpscaler.ts';
import { cloneSettings, DEFAULT_EXPORT_SETTINGS } from '../src/shared/exportSettings.ts';
import type { ModelSummary, UpscaleResult } from '../src/shared/upscaleOptions.ts';
import { formatTable } from './table.ts';

const { values } = parseArgs({
  options: {
    files: { type: 'string', default: '300,3000,30000' },
    engine: { type: 'string', default: 'stub' },
    large: { type: 'string', default: '0' },
  },
});

const sizes = values.files.split(',').map(Number);
if (sizes.some((n) => !Number.isInteger(n) || n <= 0))
  throw new Error('--files: counts like 300,3000');
if (values.engine !== 'stub' && values.engine !== 'fixture')
  throw new Error('--engine is stub or fixture');
const largeCount = Number(values.large);

const TINY = await sharp({ create: { width: 16, height: 16, channels: 3, background: '#468' } })
  .png()
  .toBuffer();
const OUTPUT = await sharp({ create: { width: 32, height: 32, channels: 3, background: '#468' } })
  .png()
  .toBuffer();

/** An upscaler that writes a fixed PNG: the queue's own costs, with the model's at zero. */
function stubUpscaler(): ImageUpscaler {
  const model: ModelSummary = {
    name: 'stub',
    isDefault: true,
    displayName: 'stub',
    description: 'writes a fixed image',
    parameters: 0,
    filesDigest: '0'.repeat(64),
    presets: (['fast', 'balanced', 'best'] as const).map((preset) => ({
      preset,
      stages: 1,
      file: 'stub.onnx',
      flopsPerPixel: 1000,
      set5Psnr: {},
      measuredMegapixelsPerSecond: null,
    })),
  };
  return {
    async upscaleFile(inputPath, outputPath): Promise<UpscaleResult> {
      await writeFile(outputPath, OUTPUT);
      return {
        inputPath,
        outputPath,
        inputWidth: 16,
        inputHeight: 16,
        outputWidth: 32,
        outputHeight: 32,
        model: 'stub',
        stages: 1,
        precision: 'fp32',
        provider: 'cpu',
        tiles: 1,
        tileSize: 32,
        elapsedMs: 0,
        inferenceMs: 0,
        phasesMs: {
          decode: 0,
          colour: 0,
          bicubic: 0,
          inference: 0,
          merge: 0,
          encode: 0,
          rename: 0,
        },
      };
    },
    listModels: () => [model],
    plannedModel: () => 'stub',
    activeProvider: () => 'cpu',
    close: async () => undefined,
  };
}

async function upscaler(): Promise<ImageUpscaler> {
  return values.engine === 'stub'
    ? stubUpscaler()
    : createEngineUpscaler(
        { modelsDirs: [path.resolve('test/fixtures/models')], threads: 1 },
        'cpu',
      );
}

/** One job over `folder` through a fresh queue; seconds from add to idle, and the job's counts. */
async function runJob(folder: string, output: string, state: string) {
  const engine = await upscaler();
  const queue = await createBatchQueue({ stateDir: state, upscaler: engine });
  try {
    const started = performance.now();
    const cpuBefore = process.cpuUsage();
    const job = await queue.addJob({
      inputs: { paths: [folder], recursive: false, includeExtensions: [], excludeExtensions: [] },
      settings: { ...cloneSettings(DEFAULT_EXPORT_SETTINGS), outputFolder: output, device: 'cpu' },
    });
    await queue.whenIdle();
    const seconds = (performance.now() - started) / 1000;
    // CPU time of this process: what the bookkeeping costs, whatever else the machine runs
    // (wall time on a shared 2-core machine also counts waiting for the other processes).
    const cpu = process.cpuUsage(cpuBefore);
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    const files = queue.job(job.id)!.files;
    const upToDate = files.filter((f) => f.reason?.code === 'up-to-date').length;
    const done = files.filter((f) => f.state === 'done').length;
    return { seconds, cpuSeconds, done, upToDate };
  } finally {
    await queue.close();
    await engine.close();
  }
}

const root = await mkdtemp(path.join(tmpdir(), 'cmsc-bench-bookkeeping-'));
console.log(
  `bench:bookkeeping on ${availableParallelism()} cores (load ${loadavg()[0]!.toFixed(2)}), engine ${values.engine}, in ${root}`,
);
const rows: string[][] = [];
const perFile: number[] = [];
const perFileWall: number[] = [];
try {
  for (const count of sizes) {
    const folder = path.join(root, `tiny-${count}`);
    await mkdir(folder, { recursive: true });
    for (let i = 0; i < count; i++)
      await writeFile(path.join(folder, `p${String(i).padStart(6, '0')}.png`), TINY);
    const output = path.join(root, `tiny-${count}-out`);
    const first = await runJob(folder, output, path.join(root, `state-${count}`));
    const rerun = await runJob(folder, output, path.join(root, `state-${count}-rerun`));
    perFile.push((first.cpuSeconds * 1000) / count);
    perFileWall.push((first.seconds * 1000) / count);
    rows.push([
      String(count),
      `${first.seconds.toFixed(1)} s`,
      `${perFileWall.at(-1)!.toFixed(2)} ms (${(perFileWall.at(-1)! / perFileWall[0]!).toFixed(2)}x)`,
      `${perFile.at(-1)!.toFixed(2)} ms (${(perFile.at(-1)! / perFile[0]!).toFixed(2)}x)`,
      `${rerun.seconds.toFixed(1)} s wall, ${rerun.cpuSeconds.toFixed(1)} s CPU`,
      `${Math.round(count / rerun.seconds)} files/s`,
      `${first.done} done, then ${rerun.upToDate} up to date`,
    ]);
    console.log(rows.at(-1)!.join('  '));
    await rm(folder, { recursive: true, force: true });
    await rm(output, { recursive: true, force: true });
  }
  console.log(
    formatTable(
      [
        'files',
        'first run (wall)',
        'per file, wall (vs smallest)',
        'per file, CPU (vs smallest)',
        'up-to-date rerun',
        'check rate',
        'counts',
      ],
      rows,
    ),
  );

  if (largeCount > 0) {
    const folder = path.join(root, 'large');
    await mkdir(folder);
    // 4000x3000 (12 MP) synthetic photos: smooth gradients plus noise, so JPEG works as on a photo.
    const width = 4000;
    const height = 3000;
    const noise = await sharp({
      create: {
        width,
        height,
        channels: 3,
        background: '#808080',
        noise: { type: 'gaussian', mean: 128, sigma: 30 },
      },
    })
      .jpeg({ quality: 90 })
      .toBuffer();
    for (let i = 0; i < largeCount; i++)
      await writeFile(path.join(folder, `IMG_${String(i).padStart(4, '0')}.jpg`), noise);
    const bytes = noise.length * largeCount;
    const output = path.join(root, 'large-out');
    // The first run is not timed: the stub writes each output; what matters is the rerun.
    await runJob(folder, output, path.join(root, 'state-large'));
    const unchanged = await runJob(folder, output, path.join(root, 'state-large-1'));
    const later = new Date(Date.now() + 60_000);
    for (let i = 0; i < largeCount; i++)
      await utimes(path.join(folder, `IMG_${String(i).padStart(4, '0')}.jpg`), later, later);
    const touched = await runJob(folder, output, path.join(root, 'state-large-2'));
    console.log(
      formatTable(
        [
          '12 MP JPEGs',
          'bytes',
          'rerun, unchanged',
          'rerun, every photo touched (hashed)',
          'up to date',
        ],
        [
          [
            String(largeCount),
            `${(bytes / 1e9).toFixed(2)} GB`,
            `${unchanged.seconds.toFixed(1)} s (${Math.round(largeCount / unchanged.seconds)} files/s)`,
            `${touched.seconds.toFixed(1)} s (${(bytes / 1e6 / touched.seconds).toFixed(0)} MB/s)`,
            `${unchanged.upToDate}, ${touched.upToDate}`,
          ],
        ],
      ),
    );
  }
} finally {
  await rm(root, { recursive: true, force: true });
}
