/**
 * `npm run bench:estimate [-- --photos 3x640x480,4x1600x1200 --models models --threads 2]`
 *
 * The pre-flight estimate against the real time, the way a new user meets it: a fresh data
 * folder (no speed figure yet), the default settings (×2, best, the default model on this
 * hardware), one job per photo set. For each set: the first estimate (which times the model on
 * a test photo when nothing was measured), the measured wall time of the job (queued to idle),
 * and their ratio; then the estimate a second, identical job gets from the refined figure.
 * The photos are synthetic JPEGs (gradients, rings and noise, so the encoder works as on a photo).
 * Prints numbers; asserts nothing.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { createBatchQueue } from '../src/main/batch/batchQueue.ts';
import { createEngineUpscaler } from '../src/main/batch/engineUpscaler.ts';
import { cloneSettings, DEFAULT_EXPORT_SETTINGS } from '../src/shared/exportSettings.ts';
import { formatTable } from './table.ts';

const { values } = parseArgs({
  options: {
    photos: { type: 'string', default: '3x640x480,4x1600x1200' },
    models: { type: 'string', default: 'models' },
    threads: { type: 'string' },
  },
});

interface PhotoSet {
  count: number;
  width: number;
  height: number;
}

function parseSets(text: string): PhotoSet[] {
  return text.split(',').map((entry) => {
    const [count, width, height] = entry.split('x').map(Number);
    if (!count || !width || !height) throw new Error(`--photos: ${entry} is not NxWxH`);
    return { count, width, height };
  });
}

async function writePhotos(folder: string, set: PhotoSet): Promise<void> {
  await mkdir(folder, { recursive: true });
  for (let index = 0; index < set.count; index++) {
    const { width, height } = set;
    const pixels = Buffer.alloc(width * height * 3);
    let seed = 12345 + index;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        const noise = (seed % 17) - 8;
        const ring = Math.hypot(x - width / 2, y - height / 2) % 24 < 12 ? 60 : 0;
        const at = (y * width + x) * 3;
        pixels[at] = clamp((255 * x) / width + noise);
        pixels[at + 1] = clamp((255 * y) / height + ring + noise);
        pixels[at + 2] = clamp(120 + ring - index * 10 + noise);
      }
    }
    await sharp(pixels, { raw: { width, height, channels: 3 } })
      .jpeg({ quality: 90 })
      .toFile(path.join(folder, `photo-${index + 1}.jpg`));
  }
}

function clamp(value: number): number {
  return Math.max(0, Math.min(255, Math.round(value)));
}

const seconds = (ms: number): string => (ms / 1000).toFixed(1);

async function main(): Promise<void> {
  const sets = parseSets(values.photos);
  const work = await mkdtemp(path.join(tmpdir(), 'cmsc-bench-estimate-'));
  const threads = values.threads === undefined ? undefined : Number(values.threads);
  const upscaler = await createEngineUpscaler(
    {
      modelsDirs: [path.resolve(values.models)],
      ...(threads === undefined ? {} : { threads }),
    },
    'auto',
  );
  const rows: string[][] = [];
  try {
    // One fresh data folder for the whole run: the first set meets an unmeasured machine.
    const queue = await createBatchQueue({ stateDir: path.join(work, 'data', 'queue'), upscaler });
    const settings = cloneSettings(DEFAULT_EXPORT_SETTINGS);
    try {
      for (const [index, set] of sets.entries()) {
        const folder = path.join(work, `set-${index + 1}`);
        await writePhotos(folder, set);
        for (const round of ['first', 'second'] as const) {
          const inputs = {
            paths: [folder],
            recursive: true,
            includeExtensions: [],
            excludeExtensions: [],
          };
          const jobSettings = {
            ...settings,
            outputFolder: path.join(work, `out-${index}-${round}`),
          };
          const estimateStarted = performance.now();
          const estimate = await queue.preflight({ inputs, settings: jobSettings });
          const preflightMs = performance.now() - estimateStarted;
          const started = performance.now();
          await queue.addJob({ inputs, settings: jobSettings });
          await queue.whenIdle();
          const actualMs = performance.now() - started;
          const row = [
            `${set.count}× ${set.width}×${set.height}`,
            round === 'first' && index === 0 ? 'fresh' : 'refined',
            seconds(preflightMs),
            seconds(estimate.estimatedMs),
            seconds(actualMs),
            (estimate.estimatedMs / actualMs).toFixed(2),
            estimate.speedBasis,
          ];
          rows.push(row);
          // Each row as it comes: a long run still says something if it is stopped.
          console.log(row.join(' | '));
        }
      }
    } finally {
      await queue.close();
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  console.log(
    `cores ${availableParallelism()}, load ${loadavg()
      .map((load) => load.toFixed(1))
      .join(' ')}; default settings (×2, best, default model), models from ${values.models}`,
  );
  console.log(
    formatTable(
      [
        'photos',
        'speed figure',
        'pre-flight s',
        'estimate s',
        'actual s',
        'estimate/actual',
        'basis',
      ],
      rows,
    ),
  );
  await upscaler.close();
}

await main();
