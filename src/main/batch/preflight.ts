/**
 * The pre-flight estimate: how many files, how many megapixels in and out, how many bytes and
 * how long, and whether the output volume has room. Bytes per pixel are deliberately on the
 * high side: refusing a job that would have fitted is cheaper than filling a disk.
 */
import { stat, statfs } from 'node:fs/promises';
import path from 'node:path';
import type { ExportSettings } from '../../shared/exportSettings.ts';
import type { PreflightEstimate, PreflightFileProblem } from '../../shared/jobs.ts';
import { concreteFormat, type ConcreteFormat } from '../../shared/outputNaming.ts';
import { resolveTargetSize } from '../../shared/targetSize.ts';
import { DEFAULT_MEMORY_BUDGET_BYTES } from '../engine/index.ts';
import type { ImageHeader } from './inputScan.ts';
import { pathExists } from './outputPlan.ts';
import { RunTally, type PlannedRun } from './runPlan.ts';

export interface PreflightFile {
  inputPath: string;
  header: ImageHeader | null;
  /** A JPEG's IJG quality from its header tables; null for other files (or no tables). */
  jpegQuality: number | null;
  problem: PreflightFileProblem['reason'] | null;
  /** A problem entry that is a folder (one that cannot be read). */
  folder?: boolean;
}

export interface PreflightInputs {
  files: readonly PreflightFile[];
  settings: ExportSettings;
  outputFolder: string;
  /**
   * The model a file of `jpegQuality` (null: not a JPEG) will run at `scale`, and this
   * machine's speed for it (runPlan.ts `RunPlanner.runFor`).
   */
  runFor: (jpegQuality: number | null, scale: number) => PlannedRun;
  /** Bytes that jobs queued earlier will still write on the output folder's volume. */
  queuedOutputBytes: number;
  /** Files found whose outputs are up to date: counted, not estimated (not among `files`). */
  upToDate?: number;
  /**
   * Bytes per output pixel that outputs of this format and quality took on this machine
   * (outputSizeLog.ts); null: none written yet, the formula's figure is used.
   */
  writtenBytesPerPixel?: (
    format: ConcreteFormat,
    header: Pick<ImageHeader, 'sixteenBit'>,
  ) => number | null;
  /** The engine's memory budget for one photo (default: the engine's). */
  memoryBudgetBytes?: number;
}

export async function estimateJob(inputs: PreflightInputs): Promise<PreflightEstimate> {
  const { settings } = inputs;
  let inputPixels = 0;
  let outputPixels = 0;
  let outputBytes = 0;
  const problems: PreflightFileProblem[] = [];
  // Each file at the speed of the model it is predicted to run (a JPEG photo may run a
  // slower photo variant than a PNG beside it).
  const runs = new RunTally();
  let assumedSizes = 0;
  let largest: { pixels: number; header: ImageHeader } | null = null;
  for (const file of inputs.files) {
    if (file.problem || !file.header) {
      if (file.problem)
        problems.push({
          path: file.inputPath,
          reason: file.problem,
          ...(file.folder ? { folder: true } : {}),
        });
      continue;
    }
    let size;
    try {
      size = resolveTargetSize(file.header, settings.target);
    } catch (error) {
      problems.push({
        path: file.inputPath,
        reason: { code: 'scale-out-of-range', message: (error as Error).message },
      });
      continue;
    }
    inputPixels += file.header.width * file.header.height;
    const pixels = size.width * size.height;
    outputPixels += pixels;
    runs.add(inputs.runFor(file.jpegQuality, size.scale), pixels);
    const format = concreteFormat(settings.format, file.inputPath);
    const written = inputs.writtenBytesPerPixel?.(format, file.header) ?? null;
    if (written === null) assumedSizes++;
    outputBytes += pixels * (written ?? bytesPerOutputPixel(format, settings, file.header));
    if (!largest || pixels > largest.pixels) largest = { pixels, header: file.header };
  }
  // Nothing to run: the speed of a clean file at the nominal scale still shows.
  if (runs.isEmpty) runs.add(inputs.runFor(null, nominalScale(settings)), 0, 0);
  const outputMegapixels = outputPixels / 1e6;
  const freeBytes = await freeBytesAt(inputs.outputFolder);
  const estimatedOutputBytes = Math.round(outputBytes);
  const queued = inputs.queuedOutputBytes;
  const fitsOnDisk = estimatedOutputBytes + queued <= freeBytes;
  return {
    filesFound: inputs.files.length + (inputs.upToDate ?? 0),
    upToDate: inputs.upToDate ?? 0,
    problems,
    inputMegapixels: inputPixels / 1e6,
    outputMegapixels,
    estimatedOutputBytes,
    outputSizeBasis: assumedSizes === 0 && outputPixels > 0 ? 'written' : 'assumed',
    ...(largest
      ? {
          largestPhoto: {
            outputMegapixels: largest.pixels / 1e6,
            memoryBytes: photoMemoryBytes(
              largest.header,
              inputs.memoryBudgetBytes ?? DEFAULT_MEMORY_BUDGET_BYTES,
            ),
          },
        }
      : {}),
    estimatedMs: Math.round(runs.seconds() * 1000),
    throughputBasis: runs.basis(),
    speedBasis: runs.description(),
    megapixelsPerSecond: runs.megapixelsPerSecond()!,
    warnings: [],
    outputFolder: inputs.outputFolder,
    freeBytes,
    fitsOnDisk,
    refusal: fitsOnDisk
      ? null
      : `Not enough free space in ${inputs.outputFolder}: the outputs need about ${formatBytes(estimatedOutputBytes)}` +
        (queued > 0
          ? ` (plus ${formatBytes(queued)} still to be written by jobs queued before it)`
          : '') +
        `, but only ${formatBytes(freeBytes)} is free. Free some space, pick another output folder, or choose a smaller size or a more compact format.`,
  };
}

/**
 * The memory one photo needs while it runs: the engine's budget (tiles are sized to fit it, and
 * the output streams to disk) plus the decoded photo, which it holds whole. Measured by
 * `bench:big` on the streamed engine (1 GiB budget): 61 MP x4 peaked at 1172 MiB (this says
 * about 1.2 GiB), 24 MP x2 at 1232 MiB (this says about 1.1 GiB).
 */
export function photoMemoryBytes(
  header: Pick<ImageHeader, 'width' | 'height' | 'channels' | 'sixteenBit'>,
  budgetBytes: number,
): number {
  const decoded = header.width * header.height * header.channels * (header.sixteenBit ? 2 : 1);
  return budgetBytes + decoded;
}

/** Encoded bytes per output pixel, erring high (photos upscaled 2-4x compress better than this). */
export function bytesPerOutputPixel(
  format: ConcreteFormat,
  settings: ExportSettings,
  header: Pick<ImageHeader, 'channels' | 'sixteenBit'>,
): number {
  const channels = header.channels === 2 || header.channels === 4 ? 4 : 3;
  const bytesPerSample = header.sixteenBit && settings.bitDepth === 'auto' ? 2 : 1;
  switch (format) {
    case 'png':
      return channels * bytesPerSample * 0.8;
    case 'tiff':
      return channels * bytesPerSample * (settings.encoding.tiffCompression === 'none' ? 1 : 0.9);
    case 'jpeg':
      return lossyBytesPerPixel(settings.encoding.jpegQuality, 0.25, 0.9);
    case 'webp':
      return lossyBytesPerPixel(settings.encoding.webpQuality, 0.2, 0.8);
    case 'avif':
      return lossyBytesPerPixel(settings.encoding.avifQuality, 0.12, 0.6);
  }
}

/** Linear between quality 50 (`low`) and 100 (`high`). */
function lossyBytesPerPixel(quality: number, low: number, high: number): number {
  const t = Math.min(1, Math.max(0, (quality - 50) / 50));
  return low + (high - low) * t;
}

/** The scale a `scale` target asks for; 2 (the models' first scale) for width/height targets. */
function nominalScale(settings: ExportSettings): number {
  return settings.target.kind === 'scale' ? settings.target.scale : 2;
}

/** Free bytes for an unprivileged writer on the volume of `folder` (or its nearest existing parent). */
export async function freeBytesAt(folder: string): Promise<number> {
  const stats = await statfs(await nearestExistingFolder(folder));
  return stats.bavail * stats.bsize;
}

/** The device id of the volume that holds `folder` (or would, once created). */
export async function volumeOf(folder: string): Promise<number> {
  return (await stat(await nearestExistingFolder(folder))).dev;
}

async function nearestExistingFolder(folder: string): Promise<string> {
  let existing = path.resolve(folder);
  while (!(await pathExists(existing)) && existing !== path.dirname(existing)) {
    existing = path.dirname(existing);
  }
  return existing;
}

export function formatBytes(bytes: number): string {
  const units = ['bytes', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return unit === 0 ? `${value} bytes` : `${value.toFixed(1)} ${units[unit]}`;
}
