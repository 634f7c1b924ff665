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
import type {
  ExecutionProvider,
  InferencePrecision,
  ModelSummary,
} from '../../shared/upscaleOptions.ts';
import { SELF_ENSEMBLE_PASSES } from './deviceSpeed.ts';
import { resolveModel } from './imageUpscaler.ts';
import type { ImageHeader } from './inputScan.ts';
import { pathExists } from './outputPlan.ts';

/**
 * Assumed speed when nothing could be measured (a calibration failed or a job was running), in
 * model FLOPs per second actually achieved.
 * Measured on a 2-core VM shared with a training job (the batch tests' machine): the tiny
 * fixture model ran at about 3.3 GFLOP/s inside tiles, and decode + colour + bicubic + encode
 * took about 1.1 s per output megapixel. The assumptions sit below those numbers on purpose.
 */
const ASSUMED_FLOPS_PER_SECOND: Readonly<Record<ExecutionProvider, number>> = {
  cpu: 2e9,
  webgpu: 5e10,
  cuda: 1e11,
};
/** Decode, colour conversion, bicubic resize and encode, per output megapixel, on a slow machine. */
const ASSUMED_PIPELINE_SECONDS_PER_MEGAPIXEL = 1.5;
/** When the model card is unknown: a large CMSC on a CPU. */
const FALLBACK_MEGAPIXELS_PER_SECOND = 0.02;

export interface PreflightFile {
  inputPath: string;
  header: ImageHeader | null;
  problem: PreflightFileProblem['reason'] | null;
}

export interface PreflightInputs {
  files: readonly PreflightFile[];
  settings: ExportSettings;
  outputFolder: string;
  /** This machine's speed for the job's model and preset (src/main/batch/deviceSpeed.ts), or null. */
  speed: JobSpeed | null;
  provider: ExecutionProvider;
  /** The precision of the file the job's photos will run (deviceSpeed.ts `expectedPrecision`). */
  precision: InferencePrecision;
  models: readonly ModelSummary[];
  /** Bytes that jobs queued earlier will still write on the output folder's volume. */
  queuedOutputBytes: number;
}

/** Output megapixels per second for one job's settings, and where the figure comes from. */
export interface JobSpeed {
  megapixelsPerSecond: number;
  basis: 'calibrated' | 'measured';
  /** In words, e.g. `cmsc-lite on CPU at 270 GFLOP/s, measured over 7 photos`. */
  description: string;
}

export async function estimateJob(inputs: PreflightInputs): Promise<PreflightEstimate> {
  const { settings } = inputs;
  let inputPixels = 0;
  let outputPixels = 0;
  let outputBytes = 0;
  const problems: PreflightFileProblem[] = [];
  for (const file of inputs.files) {
    if (file.problem || !file.header) {
      if (file.problem) problems.push({ path: file.inputPath, reason: file.problem });
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
    const format = concreteFormat(settings.format, file.inputPath);
    outputBytes += pixels * bytesPerOutputPixel(format, settings, file.header);
  }
  const speed = inputs.speed;
  const megapixelsPerSecond =
    speed?.megapixelsPerSecond ??
    assumedMegapixelsPerSecond(settings, inputs.provider, inputs.models);
  const outputMegapixels = outputPixels / 1e6;
  const freeBytes = await freeBytesAt(inputs.outputFolder);
  const estimatedOutputBytes = Math.round(outputBytes);
  const queued = inputs.queuedOutputBytes;
  const fitsOnDisk = estimatedOutputBytes + queued <= freeBytes;
  return {
    filesFound: inputs.files.length,
    problems,
    inputMegapixels: inputPixels / 1e6,
    outputMegapixels,
    estimatedOutputBytes,
    estimatedMs: Math.round((outputMegapixels / megapixelsPerSecond) * 1000),
    throughputBasis: speed?.basis ?? 'assumed',
    speedBasis: speed?.description ?? assumedSpeedBasis(inputs.provider, inputs.precision),
    megapixelsPerSecond,
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

export function assumedMegapixelsPerSecond(
  settings: ExportSettings,
  provider: ExecutionProvider,
  models: readonly ModelSummary[],
): number {
  const preset = resolveModel(models, settings.model)?.presets.find(
    (p) => p.preset === settings.qualityPreset,
  );
  if (!preset) return FALLBACK_MEGAPIXELS_PER_SECOND;
  const passes = settings.selfEnsemble ? SELF_ENSEMBLE_PASSES : 1;
  const secondsPerMegapixel =
    (preset.flopsPerPixel * 1e6 * passes) / ASSUMED_FLOPS_PER_SECOND[provider] +
    ASSUMED_PIPELINE_SECONDS_PER_MEGAPIXEL;
  return 1 / secondsPerMegapixel;
}

/**
 * The assumed speed in words. An int8 file gets the float assumption: the 2.2-2.8x the README
 * measured for cmsc-fast holds on that machine's CPU and ONNX Runtime build (it depends on the
 * CPU's int8 instructions), so the unmeasured estimate stays on the long side and says so.
 */
function assumedSpeedBasis(provider: ExecutionProvider, precision: InferencePrecision): string {
  const rate = `assumed ${ASSUMED_FLOPS_PER_SECOND[provider] / 1e9} GFLOP/s on ${provider.toUpperCase()}`;
  return precision === 'int8'
    ? `${rate} for the int8 file, as for float (nothing measured yet; int8 is usually faster)`
    : `${rate} (nothing measured yet)`;
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
