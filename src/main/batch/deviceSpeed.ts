/**
 * How fast this machine runs a model: the model FLOPs per second it achieves inside inference
 * (tiles and their repeated context included) and the seconds per output megapixel the rest of
 * the pipeline takes (decode, colour, bicubic, merge, encode, metadata, rename). A figure starts
 * from a short timed calibration on a synthetic photo the first time a model is estimated on a
 * provider, and every finished photo refines it. Kept in one small JSON file beside the settings.
 *
 * FLOPs rather than megapixels per second: one figure per model serves every quality preset and
 * self-ensemble (their cost is the card's FLOPs per pixel times the passes), so the first
 * estimate after switching from `fast` to `best` is already measured. One figure per precision
 * too: a model's int8 file does the card's FLOPs about twice as fast on a CPU as its float file,
 * so a figure timed on one says nothing exact about the other.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import sharp, { type Sharp } from 'sharp';
import type { ExportSettings } from '../../shared/exportSettings.ts';
import type {
  ExecutionProvider,
  InferencePrecision,
  ModelSummary,
} from '../../shared/upscaleOptions.ts';
import { INFERENCE_PRECISIONS, presetFlopsPerPixel } from '../../shared/upscaleOptions.ts';
import { writeFileAtomic } from '../files/atomicWrite.ts';
import { toUpscaleOptions } from './exportOptions.ts';
import type { ImageUpscaler } from './imageUpscaler.ts';

export const SELF_ENSEMBLE_PASSES = 8;
/** Weight of the newest photo in the running averages: recent photos count, one outlier does not rule. */
const NEWEST_WEIGHT = 0.3;
/**
 * Output megapixels from which a photo teaches the per-pixel rates with full weight; a smaller
 * one teaches them in proportion and the per-photo overhead with the rest (a thumbnail's time is
 * mostly overhead, a 12 MP photo's mostly pixels).
 */
const FULL_WEIGHT_MEGAPIXELS = 2;
/**
 * The calibration photo: 256×192 in, ×2 out (0.2 MP). Large enough that per-call overheads do
 * not dominate, small enough to take about a second on a laptop CPU with the lite model.
 */
export const CALIBRATION_INPUT = { width: 256, height: 192, scale: 2 } as const;

export interface SpeedFigure {
  /** Model FLOPs (the card's count) per second achieved inside inference on this machine. */
  flopsPerSecond: number;
  /** Everything but inference, per output megapixel. */
  pipelineSecondsPerMegapixel: number;
  /** `calibrated`: only the timed test photo so far; `measured`: refined by real photos. */
  source: 'calibrated' | 'measured';
  /** Real photos that refined the figure. */
  photos: number;
  /**
   * Seconds every photo costs whatever its size (opening and probing the file, metadata, the
   * rename and the manifest record), learned from small photos; absent in older figures (0).
   * Without it, 154 thumbnails made the per-pixel rate look slow and a 24 MP photo after them
   * was estimated at 4x its time.
   */
  overheadSecondsPerPhoto?: number;
}

export interface SpeedKey {
  provider: ExecutionProvider;
  model: string;
  /** Which of the model's files ran: the figures of its int8 and float files are kept apart. */
  precision: InferencePrecision;
}

/** One photo's timing, as the queue records it after the photo is committed. */
export interface PhotoTiming {
  /** The card's FLOPs per output pixel for the preset, times the self-ensemble passes. */
  flopsPerPixel: number;
  outputPixels: number;
  inferenceMs: number;
  elapsedMs: number;
}

export class SpeedLog {
  private table: Record<string, SpeedFigure> = {};

  constructor(private readonly filePath: string) {}

  async load(): Promise<void> {
    try {
      const parsed: unknown = JSON.parse(await readFile(this.filePath, 'utf8'));
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return;
      for (const [key, value] of Object.entries(parsed)) {
        // Figures stored before the precision was part of the key (`cpu/cmsc-fast`) may have
        // timed either file: dropped, so the next estimate times the file that will run.
        if (isSpeedFigure(value) && hasPrecision(key)) this.table[key] = value;
      }
    } catch {
      // Nothing measured yet (or an unreadable file): the next estimate calibrates.
    }
  }

  get(key: SpeedKey): SpeedFigure | null {
    return this.table[speedKeyText(key)] ?? null;
  }

  async recordCalibration(key: SpeedKey, timing: PhotoTiming): Promise<SpeedFigure> {
    const figure: SpeedFigure = { ...figureOf(timing), source: 'calibrated', photos: 0 };
    return this.put(key, figure);
  }

  /**
   * Folds one real photo into the figure (the first real photo replaces a calibration's
   * weight). Its time is split into the per-photo overhead and the per-pixel rates: a small
   * photo teaches mostly the overhead (what its time exceeds the rates' prediction by), a
   * large one mostly the rates (its time less the overhead).
   */
  async recordPhoto(key: SpeedKey, timing: PhotoTiming): Promise<SpeedFigure> {
    const previous = this.get(key);
    const overhead = previous?.overheadSecondsPerPhoto ?? 0;
    const measured = figureOf({
      ...timing,
      elapsedMs: Math.max(timing.inferenceMs, timing.elapsedMs - overhead * 1000),
    });
    const weight = previous === null ? 1 : previous.source === 'calibrated' ? 0.5 : NEWEST_WEIGHT;
    const share = Math.min(1, timing.outputPixels / 1e6 / FULL_WEIGHT_MEGAPIXELS);
    const rateWeight = previous === null ? 1 : weight * share;
    const blend = (old: number | undefined, next: number): number =>
      old === undefined ? next : old * (1 - rateWeight) + next * rateWeight;
    let overheadSecondsPerPhoto = overhead;
    if (previous !== null) {
      const predictedSeconds =
        (timing.flopsPerPixel * timing.outputPixels) / previous.flopsPerSecond +
        (timing.outputPixels / 1e6) * previous.pipelineSecondsPerMegapixel;
      const observed = Math.max(0, timing.elapsedMs / 1000 - predictedSeconds);
      const overheadWeight = weight * (1 - share);
      overheadSecondsPerPhoto = overhead * (1 - overheadWeight) + observed * overheadWeight;
    }
    return this.put(key, {
      flopsPerSecond: blend(previous?.flopsPerSecond, measured.flopsPerSecond),
      pipelineSecondsPerMegapixel: blend(
        previous?.pipelineSecondsPerMegapixel,
        measured.pipelineSecondsPerMegapixel,
      ),
      source: 'measured',
      photos: (previous?.photos ?? 0) + 1,
      overheadSecondsPerPhoto,
    });
  }

  private async put(key: SpeedKey, figure: SpeedFigure): Promise<SpeedFigure> {
    this.table[speedKeyText(key)] = figure;
    await writeFileAtomic(this.filePath, `${JSON.stringify(this.table, null, 1)}\n`);
    return figure;
  }
}

/** Output megapixels per second for a job of `settings` on `model` at this speed. */
export function megapixelsPerSecond(
  figure: Pick<SpeedFigure, 'flopsPerSecond' | 'pipelineSecondsPerMegapixel'>,
  model: ModelSummary | undefined,
  settings: Pick<ExportSettings, 'qualityPreset' | 'selfEnsemble'>,
  scale?: number,
): number | null {
  const flopsPerPixel = jobFlopsPerPixel(model, settings, scale);
  if (flopsPerPixel === null) return null;
  const secondsPerMegapixel =
    (flopsPerPixel * 1e6) / figure.flopsPerSecond + figure.pipelineSecondsPerMegapixel;
  return 1 / secondsPerMegapixel;
}

/**
 * The precision a job's photos run at: the preset's int8 file on a CPU where the card ships one,
 * unless Precision is fp32 (the engine's rule); the float file everywhere else.
 */
export function expectedPrecision(
  model: ModelSummary | undefined,
  settings: Pick<ExportSettings, 'qualityPreset' | 'precision'>,
  provider: ExecutionProvider,
): InferencePrecision {
  const preset = model?.presets.find((p) => p.preset === settings.qualityPreset);
  return provider === 'cpu' && settings.precision !== 'fp32' && preset?.int8File !== undefined
    ? 'int8'
    : 'fp32';
}

/**
 * The card's FLOPs per output pixel for the job's preset at `scale` (an input-resolution
 * model's file depends on it; undefined: x2's), times the self-ensemble passes.
 */
export function jobFlopsPerPixel(
  model: ModelSummary | undefined,
  settings: Pick<ExportSettings, 'qualityPreset' | 'selfEnsemble'>,
  scale?: number,
): number | null {
  const preset = model?.presets.find((p) => p.preset === settings.qualityPreset);
  if (!preset) return null;
  return presetFlopsPerPixel(preset, scale) * (settings.selfEnsemble ? SELF_ENSEMBLE_PASSES : 1);
}

/** `270 GFLOP/s`, `3.3 GFLOP/s`, `850 MFLOP/s`. */
export function formatFlopsPerSecond(flops: number): string {
  if (flops >= 1e12) return `${(flops / 1e12).toFixed(flops >= 1e13 ? 0 : 1)} TFLOP/s`;
  if (flops >= 1e9) return `${(flops / 1e9).toFixed(flops >= 1e10 ? 0 : 1)} GFLOP/s`;
  return `${Math.round(flops / 1e6)} MFLOP/s`;
}

/** What a calibration ran (the figure belongs to it) and how long it took. */
export interface Calibration {
  model: string;
  provider: ExecutionProvider;
  precision: InferencePrecision;
  /** Without the FLOPs per pixel: they are the card's for `model`, which the caller looks up. */
  timing: Omit<PhotoTiming, 'flopsPerPixel'>;
}

/**
 * Times the job's model and preset on a synthetic photo (after an untimed run of the same
 * photo that opens the session and prepares its tile shapes), in a scratch folder under
 * `scratchParent` that is removed afterwards. The folder's name carries this process's id, so
 * scratch folders a killed run left are told from those of a live one and deleted first.
 */
export async function calibrate(
  upscaler: ImageUpscaler,
  settings: ExportSettings,
  scratchParent: string,
): Promise<Calibration> {
  await removeStaleCalibrations(scratchParent);
  const scratch = await mkdtemp(path.join(scratchParent, `${CALIBRATION_PREFIX}${process.pid}-`));
  try {
    const options = {
      ...toUpscaleOptions(
        { ...settings, target: { kind: 'scale', scale: CALIBRATION_INPUT.scale } },
        'png',
      ),
      selfEnsemble: false,
      keepMetadata: false,
    };
    const input = path.join(scratch, 'calibration.png');
    await calibrationPhoto(CALIBRATION_INPUT.width, CALIBRATION_INPUT.height).toFile(input);
    // The warm-up runs the timed photo itself: the session's first run at a tile shape pays
    // for allocating and preparing that shape, and a smaller warm-up (48 px, as before) left
    // the timed run 1.6x to 5.5x slower than the same run repeated (measured here), which
    // every estimate after it inherited until real photos slowly corrected it.
    await upscaler.upscaleFile(
      input,
      path.join(scratch, 'warm-up-out.png'),
      options,
      settings.device,
      {},
    );
    const started = performance.now();
    const result = await upscaler.upscaleFile(
      input,
      path.join(scratch, 'calibration-out.png'),
      options,
      settings.device,
      {},
    );
    return {
      model: result.model,
      provider: result.provider,
      precision: result.precision,
      timing: {
        outputPixels: result.outputWidth * result.outputHeight,
        inferenceMs: result.inferenceMs,
        elapsedMs: performance.now() - started,
      },
    };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

const CALIBRATION_PREFIX = 'calibration-';
/** `calibration-<pid>-<random>`; `calibration-<random>` was the name before the pid was in it. */
const CALIBRATION_FOLDER = /^calibration-(?:(\d+)-)?[A-Za-z0-9]{6}$/;

/**
 * Deletes the calibration scratch folders in `folder` whose process no longer runs (a run
 * killed while it timed its model); those of live processes, this one included, stay.
 * Returns what it deleted; a missing or unreadable folder has nothing to sweep.
 */
export async function removeStaleCalibrations(
  folder: string,
  isAlive: (pid: number) => boolean = processIsAlive,
): Promise<string[]> {
  const entries = await readdir(folder, { withFileTypes: true }).catch(() => []);
  const deleted: string[] = [];
  for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const match = CALIBRATION_FOLDER.exec(entry.name);
    if (!match || !entry.isDirectory()) continue;
    if (match[1] !== undefined && isAlive(Number(match[1]))) continue;
    const scratch = path.join(folder, entry.name);
    await rm(scratch, { recursive: true, force: true });
    deleted.push(scratch);
  }
  return deleted;
}

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, as another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Gradients with rings: photo-like content, so the encoder works as hard as on a photo. */
function calibrationPhoto(width: number, height: number): Sharp {
  const pixels = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const at = (y * width + x) * 3;
      const ring = Math.hypot(x - width / 2, y - height / 2) % 24 < 12;
      pixels[at] = Math.round((255 * x) / width);
      pixels[at + 1] = Math.round((255 * y) / height);
      pixels[at + 2] = ring ? 220 : 40;
    }
  }
  return sharp(pixels, { raw: { width, height, channels: 3 } }).png({ compressionLevel: 1 });
}

function figureOf(
  timing: PhotoTiming,
): Pick<SpeedFigure, 'flopsPerSecond' | 'pipelineSecondsPerMegapixel'> {
  const megapixels = timing.outputPixels / 1e6;
  const inferenceSeconds = Math.max(timing.inferenceMs, 1) / 1000;
  const restSeconds = Math.max(0, timing.elapsedMs - timing.inferenceMs) / 1000;
  return {
    flopsPerSecond: (timing.flopsPerPixel * timing.outputPixels) / inferenceSeconds,
    pipelineSecondsPerMegapixel: megapixels > 0 ? restSeconds / megapixels : 0,
  };
}

function isSpeedFigure(value: unknown): value is SpeedFigure {
  if (typeof value !== 'object' || value === null) return false;
  const figure = value as Record<string, unknown>;
  const positive = (n: unknown): boolean => typeof n === 'number' && Number.isFinite(n) && n > 0;
  return (
    positive(figure.flopsPerSecond) &&
    typeof figure.pipelineSecondsPerMegapixel === 'number' &&
    figure.pipelineSecondsPerMegapixel >= 0 &&
    (figure.source === 'calibrated' || figure.source === 'measured') &&
    typeof figure.photos === 'number' &&
    (figure.overheadSecondsPerPhoto === undefined ||
      (typeof figure.overheadSecondsPerPhoto === 'number' &&
        Number.isFinite(figure.overheadSecondsPerPhoto) &&
        figure.overheadSecondsPerPhoto >= 0))
  );
}

/** `cpu/cmsc-fast/int8`: one figure per provider, model and precision. */
export function speedKeyText(key: SpeedKey): string {
  return `${key.provider}/${key.model}/${key.precision}`;
}

function hasPrecision(keyText: string): boolean {
  const parts = keyText.split('/');
  return parts.length === 3 && (INFERENCE_PRECISIONS as readonly string[]).includes(parts[2]!);
}
