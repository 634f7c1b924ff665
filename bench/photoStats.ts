/**
 * `npm run bench:photo-stats -- --folders ../shared/datasets/Sun40,/tmp/band-x2 [--judged ../shared/datasets/Sun40=2:q75]`
 *
 * What files look like to the engine, folder by folder, by the engine's own estimators: the
 * JPEG quality read from each file's tables (`jpegQuality.ts`), its chroma sampling, and the
 * noise σ of its luminance (`noiseLevel.ts`, Immerkær's estimator on the flattest blocks).
 * Used to hold a training recipe (`python -m training.recipe_samples` writes what a recipe
 * makes of the training photos) against real photos. `--judged FOLDER=S:qNN` (repeatable)
 * measures the files `bench:quality` makes of FOLDER's images (down-scaled by S, saved as
 * `qNN`, `png` or `noiseNN`), which is what a photo model is judged on.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { rgbToYcbcrPlane } from '../src/main/engine/color.ts';
import { decodeImage } from '../src/main/engine/imageDecode.ts';
import { readJpegQuality } from '../src/main/engine/jpegQuality.ts';
import { estimateNoiseSigma } from '../src/main/engine/noiseLevel.ts';
import { downscaleForBench, writeLowRes } from './photoInputs.ts';
import { cropPlane } from './srProtocol.ts';
import { fixed, formatTable } from './table.ts';

const IMAGE_EXTENSIONS = new Set(['.png', '.bmp', '.jpg', '.jpeg', '.tif', '.tiff', '.webp']);

interface FileStats {
  jpegQuality: number | null;
  chroma420: boolean;
  noiseSigma: number;
}

async function statsOf(file: string): Promise<FileStats> {
  const image = await decodeImage(file);
  const y = rgbToYcbcrPlane(image.rgb, 0);
  const quality = await readJpegQuality(file);
  const { chromaSubsampling } = await sharp(file).metadata();
  return {
    jpegQuality: quality?.quality ?? null,
    chroma420: chromaSubsampling === '4:2:0',
    noiseSigma: estimateNoiseSigma(y, image.width, image.height),
  };
}

/** The file `bench:quality` makes of `hrFile` for `input` at `scale`, in `temp`. */
async function judgedFile(
  hrFile: string,
  scale: number,
  input: string,
  temp: string,
): Promise<string> {
  const hr = await decodeImage(hrFile);
  const width = hr.width - (hr.width % scale);
  const height = hr.height - (hr.height % scale);
  const crop = (plane: Float32Array) => cropPlane(plane, hr.width, width, height);
  const rgb = { c0: crop(hr.rgb.c0), c1: crop(hr.rgb.c1), c2: crop(hr.rgb.c2) };
  const lr = downscaleForBench(rgb, width, height, scale);
  return writeLowRes(temp, path.basename(hrFile), input, lr.planes, lr.width, lr.height);
}

async function imagesIn(folder: string): Promise<string[]> {
  const files = (await readdir(folder))
    .filter((f) => IMAGE_EXTENSIONS.has(path.extname(f).toLowerCase()))
    .sort()
    .map((f) => path.join(folder, f));
  if (files.length === 0) throw new Error(`${folder}: no images`);
  return files;
}

function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function summaryRow(label: string, stats: FileStats[]): string[] {
  const sigmas = stats.map((s) => s.noiseSigma).sort((a, b) => a - b);
  const qualities = stats.flatMap((s) => (s.jpegQuality === null ? [] : [s.jpegQuality]));
  qualities.sort((a, b) => a - b);
  const jpegs = qualities.length;
  const q = (p: number) => (jpegs ? String(percentile(qualities, p)) : '–');
  return [
    label,
    String(stats.length),
    `${Math.round((100 * jpegs) / stats.length)} %`,
    jpegs ? `${q(10)} / ${q(50)} / ${q(90)}` : '–',
    jpegs ? `${Math.round((100 * stats.filter((s) => s.chroma420).length) / jpegs)} %` : '–',
    [10, 50, 90].map((p) => fixed(percentile(sigmas, p), 2)).join(' / '),
    `${Math.round((100 * sigmas.filter((s) => s >= 2).length) / stats.length)} %`,
  ];
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      folders: { type: 'string', default: '' },
      judged: { type: 'string', multiple: true, default: [] },
    },
  });
  const judged = values.judged.map((spec) => {
    const match = /^(.+)=(\d):(png|q\d+|noise\d+(?:\.\d+)?)$/.exec(spec);
    if (!match) throw new Error(`--judged ${spec}: FOLDER=S:qNN, FOLDER=S:png or FOLDER=S:noiseNN`);
    return { folder: match[1]!, scale: Number(match[2]), input: match[3]! };
  });
  const folders = values.folders.split(',').filter(Boolean);
  if (folders.length + judged.length === 0)
    throw new Error('--folders A,B,… or --judged FOLDER=S:qNN');
  const temp = await mkdtemp(path.join(tmpdir(), 'cmsc-photo-stats-'));
  const rows: string[][] = [];
  try {
    for (const folder of folders) {
      const files = await imagesIn(folder);
      rows.push(
        summaryRow(path.basename(path.resolve(folder)), await Promise.all(files.map(statsOf))),
      );
    }
    for (const { folder, scale, input } of judged) {
      const made: FileStats[] = [];
      for (const file of await imagesIn(folder))
        made.push(await statsOf(await judgedFile(file, scale, input, temp)));
      const label = `${path.basename(path.resolve(folder))}, x${scale} ${input} (as bench:quality makes them)`;
      rows.push(summaryRow(label, made));
    }
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
  console.log(
    formatTable(
      [
        'files',
        'n',
        'JPEG',
        'quality p10 / p50 / p90',
        '4:2:0',
        'noise σ p10 / p50 / p90',
        'σ ≥ 2',
      ],
      rows,
    ),
  );
}

await main();
