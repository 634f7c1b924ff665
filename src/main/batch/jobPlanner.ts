/**
 * The planner: what a job will cost and how far it has come. It scans and estimates a job
 * before it is queued (headers, the rerun rules, this machine's speed per model, disk space),
 * times models that never ran here (calibration), learns from every finished photo, and keeps
 * each job's progress as a running tally so a progress tick does not walk every file.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import {
  cloneSettings,
  parseExportSettings,
  type ExportSettings,
} from '../../shared/exportSettings.ts';
import type {
  FileReason,
  Job,
  JobFile,
  JobInputs,
  JobProgress,
  PhotoSelection,
  PreflightEstimate,
} from '../../shared/jobs.ts';
import { isUpToDate } from '../../shared/jobs.ts';
import { resumedFraction } from '../../shared/keptWork.ts';
import { resolveTargetSize } from '../../shared/targetSize.ts';
import type { ExecutionProvider, UpscaleResult } from '../../shared/upscaleOptions.ts';
import { concreteFormat, type ConcreteFormat } from '../../shared/outputNaming.ts';
import {
  DEFAULT_MAX_INPUT_PIXELS,
  DEFAULT_MAX_OUTPUT_PIXELS,
  formatSizeProblem,
  readJpegQuality,
} from '../engine/index.ts';
import {
  CALIBRATION_INPUT,
  calibrate,
  jobFlopsPerPixel,
  SpeedLog,
  speedKeyText,
  type SpeedKey,
} from './deviceSpeed.ts';
import { resolveModel, type ImageUpscaler } from './imageUpscaler.ts';
import {
  formatMegapixels,
  isFileReason,
  normalizeExtension,
  readImageHeader,
  scanInputs,
  type ImageHeader,
  type ScannedFile,
} from './inputScan.ts';
import { decideForFile, errorText, type OutputBook } from './outputRecord.ts';
import { outputsAmongInputs, planOutputName, resolveOutputFolder } from './outputPlan.ts';
import { OutputSizeLog, sizeKey } from './outputSizeLog.ts';
import { paceFactor } from './jobPace.ts';
import { estimateJob, volumeOf, type PreflightFile } from './preflight.ts';
import { preflightWarnings } from './preflightWarnings.ts';
import { RunPlanner, RunTally, type PlannedRun } from './runPlan.ts';

export interface AddJobRequest {
  inputs: JobInputs;
  settings: ExportSettings;
}

/** A job as planned: its estimate, every file found, and which are up to date already. */
export interface PlannedJob {
  estimate: PreflightEstimate;
  files: (PreflightFile & ScannedFile)[];
  /** Up-to-date outputs by input path. */
  upToDate: Map<string, string>;
  settings: ExportSettings;
  outputFolder: string;
  inputs: JobInputs;
}

/** The work already queued, for the disk-space check of a new job. */
export interface QueuedWork {
  jobs: readonly Job[];
  estimatedOutputBytes: ReadonlyMap<string, number>;
}

/** What progress needs to know of the photo being upscaled. */
export interface RunningFileView {
  fileId: number;
  tilesDone: number;
  tilesTotal: number;
  /** Tiles kept by an earlier "Pause now" and not run again. */
  tilesReused?: number;
  /** The engine's own estimate for the rest of this image. */
  imageEtaMs: number | null;
  /** performance.now() when the engine gave `imageEtaMs` (its last tile). */
  imageEtaAt?: number;
  /** performance.now() when the image started. */
  startedAt: number;
}

export interface PlannerContext {
  upscaler: ImageUpscaler;
  /** Folder for calibration images. */
  stateDir: string;
  speedFile: string;
  /** Bytes per output pixel learned from written outputs (outputSizeLog.ts). */
  sizeFile?: string;
  outputs: OutputBook;
  /** True while a photo is being upscaled: no calibration then (both would share the engine). */
  isBusy: () => boolean;
  warn: (message: string) => void;
}

/** A running photo never shows as complete: encoding and the rename still follow its last tile. */
const RUNNING_FRACTION_CAP = 0.99;
/**
 * The least time left for a running photo: an estimate that ran out says a second, never 0
 * (the encode and the rename still follow the last tile), so a job's time left is never 0
 * while a photo runs (and the waiting photos' time is never 0 at a measured speed).
 */
export const MIN_ETA_MS = 1000;

export class JobPlanner {
  private readonly speed: SpeedLog;
  private readonly sizes: OutputSizeLog;
  private readonly upscaler: ImageUpscaler;
  /** Calibrations in flight, so concurrent pre-flights time the model once. */
  private readonly calibrations = new Map<string, Promise<void>>();
  private readonly tallies = new Map<string, JobTally>();
  private lastProvider: ExecutionProvider | null = null;

  constructor(private readonly context: PlannerContext) {
    this.speed = new SpeedLog(context.speedFile);
    this.sizes = new OutputSizeLog(
      context.sizeFile ?? path.join(path.dirname(context.speedFile), 'output-size.json'),
    );
    this.upscaler = context.upscaler;
  }

  async open(): Promise<void> {
    await this.speed.load();
    await this.sizes.load();
  }

  /**
   * What an output took on disk, per output pixel, for the next estimates of its format and
   * quality. Its bit depth is read from the file (a 16-bit PNG takes twice an 8-bit one).
   */
  async recordOutput(
    settings: ExportSettings,
    file: Pick<
      JobFile,
      'inputPath' | 'outputPath' | 'outputBytes' | 'outputWidth' | 'outputHeight'
    >,
  ): Promise<void> {
    if (!file.outputPath || !file.outputBytes || !file.outputWidth || !file.outputHeight) return;
    const format = concreteFormat(settings.format, file.inputPath);
    const depth = (
      await sharp(file.outputPath)
        .metadata()
        .catch(() => null)
    )?.depth;
    await this.sizes.record(
      sizeKey(format, settings, depth === 'ushort'),
      file.outputBytes,
      file.outputWidth * file.outputHeight,
    );
  }

  /** Bytes per output pixel written here for a format and the job's quality; null: none yet. */
  writtenBytesPerPixel(
    settings: ExportSettings,
    format: ConcreteFormat,
    sixteenBit: boolean,
  ): number | null {
    return this.sizes.get(sizeKey(format, settings, sixteenBit))?.bytesPerOutputPixel ?? null;
  }

  /** A file of `job` changed state or size: its share of the job's tally follows. */
  noteFile(job: Job, file: JobFile): void {
    this.tallyOf(job).update(file);
  }

  /** Many files changed at once (cancel, retry, recovery): the tally is rebuilt when next read. */
  noteJob(jobId: string): void {
    this.tallies.delete(jobId);
  }

  /** This machine's speed, from a photo that finished (the figure every estimate learns from). */
  async recordPhoto(
    settings: ExportSettings,
    result: UpscaleResult,
    elapsedMs: number,
  ): Promise<void> {
    this.lastProvider = result.provider;
    const flopsPerPixel = jobFlopsPerPixel(
      this.upscaler.listModels().find((model) => model.name === result.model),
      settings,
      result.outputWidth / result.inputWidth,
    );
    if (flopsPerPixel === null) return;
    await this.speed.recordPhoto(
      { provider: result.provider, model: result.model, precision: result.precision },
      {
        flopsPerPixel,
        outputPixels: result.outputWidth * result.outputHeight,
        inferenceMs: result.inferenceMs,
        elapsedMs,
      },
    );
  }

  /**
   * A job's progress from its running tally: O(the number of distinct (JPEG quality, scale)
   * pairs), not O(files), so a progress tick costs the same in a 30,000-photo job.
   */
  progress(
    job: Job,
    running: RunningFileView | null,
    preflightOutputBytes: number | null = null,
  ): JobProgress {
    const tally = this.tallyOf(job);
    // A photo paused by "Pause now" counts its kept part, as it will once resumed.
    let donePixels = tally.donePixels + tally.keptPixels;
    let elapsedMs = tally.elapsedMs;
    let currentFile: JobProgress['currentFile'] = null;
    // Each file at this machine's speed for the model it is predicted to run (runPlan.ts); an
    // ETA only from figures timed or measured here, never from the assumed rates.
    const planner = this.plannerFor(job.settings);
    const allRuns = new RunTally();
    const waitingRuns = new RunTally();
    let pixelsLeft = 0;
    // This job's finished photos against the figures as they are now (jobPace.ts).
    const pace = { actualMs: 0, predictedMs: 0, photos: 0 };
    for (const group of tally.groups()) {
      pixelsLeft += group.waitingPixels;
      const run = planner.runFor(group.jpegQuality, group.scale);
      allRuns.add(run, group.pixels, group.files);
      // Only the rest of a photo "Pause now" kept a part of, as once it is resumed.
      if (group.waitingFiles > 0)
        waitingRuns.add(
          run,
          group.waitingPixels - group.waitingKeptPixels,
          group.waitingFiles - group.waitingKeptPhotos,
        );
      if (group.timedFiles > 0 && run.basis !== 'assumed') {
        pace.actualMs += group.timedMs;
        pace.predictedMs += predictedMs(run, group.timedPixels, group.timedFiles);
        pace.photos += group.timedFiles;
      }
    }
    const pacing = paceFactor(pace);
    const file = running ? job.files[running.fileId] : undefined;
    if (running && file && file.state === 'running') {
      const pixels = expectedOutputPixels(job.settings, file);
      const run = planner.runFor(file.inputJpegQuality ?? null, expectedScale(job.settings, file));
      const now = performance.now();
      const fileElapsed = now - running.startedAt;
      // Resumed after "Pause now": the kept part is done, and only the rest takes time.
      const kept = resumedFraction(file.keptFraction, running, 0);
      // The engine's tile times once a tile finished; this machine's speed before that.
      const predicted =
        run.basis === 'assumed' ? null : predictedMs(run, pixels, 1) * pacing * (1 - kept);
      // Between two tiles the engine's estimate counts down with the clock, so the bar moves
      // smoothly through a photo of a few big tiles instead of jumping at each; it never
      // reaches 0 while the photo runs.
      const sinceTile = running.imageEtaAt === undefined ? 0 : now - running.imageEtaAt;
      const fileEta =
        running.imageEtaMs !== null
          ? Math.max(MIN_ETA_MS, running.imageEtaMs - sinceTile)
          : predicted === null
            ? null
            : Math.max(MIN_ETA_MS, predicted - fileElapsed);
      const fraction = Math.min(
        RUNNING_FRACTION_CAP,
        resumedFraction(
          file.keptFraction,
          running,
          fileEta === null ? null : fileElapsed / Math.max(1, fileElapsed + fileEta),
        ),
      );
      donePixels += pixels * fraction;
      pixelsLeft += pixels;
      elapsedMs += fileElapsed;
      currentFile = {
        fileId: running.fileId,
        tilesDone: running.tilesDone,
        tilesTotal: running.tilesTotal,
        ...(running.tilesReused ? { tilesReused: running.tilesReused } : {}),
        elapsedMs: Math.round(fileElapsed),
        etaMs: fileEta === null ? null : Math.round(fileEta),
      };
    }
    const waitingMs = waitingRuns.isMeasured() ? waitingRuns.seconds() * 1000 * pacing : null;
    const etaMs =
      waitingMs === null || (currentFile !== null && currentFile.etaMs === null)
        ? null
        : Math.round(waitingMs + (currentFile?.etaMs ?? 0));
    // The rest at what this job's own outputs took per pixel; before the first, the pre-flight's.
    const bytesPerPixel =
      tally.writtenPixels > 0
        ? tally.writtenBytes / tally.writtenPixels
        : preflightOutputBytes !== null && tally.totalPixels > 0
          ? preflightOutputBytes / tally.totalPixels
          : null;
    return {
      jobId: job.id,
      filesTotal: tally.filesTotal,
      filesFinished: tally.filesFinished,
      currentFile,
      outputMegapixelsDone: donePixels / 1e6,
      outputMegapixelsTotal: tally.totalPixels / 1e6,
      megapixelsPerSecond: allRuns.isMeasured() ? allRuns.megapixelsPerSecond() : null,
      elapsedMs: Math.round(elapsedMs),
      etaMs,
      outputBytesWritten: tally.writtenBytes,
      ...(bytesPerPixel !== null
        ? { outputBytesExpected: Math.round(tally.writtenBytes + pixelsLeft * bytesPerPixel) }
        : {}),
    };
  }

  /** The provider a job of `settings` runs on, as far as it is known before running it. */
  providerFor(settings: ExportSettings): ExecutionProvider {
    return (
      this.lastProvider ??
      this.upscaler.activeProvider(settings.device) ??
      (settings.device === 'auto' ? 'cpu' : settings.device)
    );
  }

  /** Predicts, for a job of `settings`, each file's model and this machine's speed for it. */
  plannerFor(settings: ExportSettings): RunPlanner {
    return new RunPlanner(this.upscaler, this.speed, settings, this.providerFor(settings));
  }

  /**
   * Times each model the job's files are predicted to run (a clean model and its photo
   * variant may both) when it has never run here, so the first estimate is a measurement. Not
   * while a photo is running: the two would share the engine and the figure would come out
   * slow. A failed calibration leaves the assumed speed in place.
   */
  async ensureSpeeds(settings: ExportSettings, files: readonly PreflightFile[]): Promise<void> {
    const planner = this.plannerFor(settings);
    const unmeasured = new Map<string, SpeedKey>();
    for (const file of files) {
      if (!file.header) continue;
      const key = planner.keyFor(file.jpegQuality, nominalScaleOf(settings, file.header));
      if (key && !this.speed.get(key)) unmeasured.set(speedKeyText(key), key);
    }
    for (const [id, key] of unmeasured) {
      if (this.context.isBusy()) return;
      let pending = this.calibrations.get(id);
      if (!pending) {
        pending = this.runCalibration(settings, key, planner).finally(() =>
          this.calibrations.delete(id),
        );
        this.calibrations.set(id, pending);
      }
      await pending;
    }
  }

  /**
   * Times `key.model` by name (a photo variant too: the test photo is a clean PNG, so under
   * Auto it would time the clean model) and files the figure under the model, provider and
   * file that actually ran.
   */
  private async runCalibration(
    settings: ExportSettings,
    key: SpeedKey,
    planner: RunPlanner,
  ): Promise<void> {
    try {
      await mkdir(this.context.stateDir, { recursive: true });
      const timed = await calibrate(
        this.upscaler,
        { ...settings, model: key.model, source: 'clean' },
        this.context.stateDir,
      );
      const flopsPerPixel = jobFlopsPerPixel(
        planner.summary(timed.model),
        { ...settings, selfEnsemble: false },
        CALIBRATION_INPUT.scale,
      );
      if (flopsPerPixel === null) return;
      this.lastProvider ??= timed.provider;
      await this.speed.recordCalibration(
        { provider: timed.provider, model: timed.model, precision: timed.precision },
        { ...timed.timing, flopsPerPixel },
      );
    } catch (error) {
      this.context.warn(`could not time ${key.model} on this machine: ${errorText(error)}`);
    }
  }

  /**
   * Scans a job's inputs, reads each header, applies the rerun rules and estimates the rest:
   * everything `addJob` and `preflight` need, computed the same way for both.
   */
  async plan(request: AddJobRequest, queued: QueuedWork): Promise<PlannedJob> {
    const settings = cloneSettings(parseExportSettings(request.settings));
    const inputs = validateInputs(request.inputs);
    // A missing input is not an error here: the scan reports it as one problem entry.
    const outputFolder = await resolveOutputFolder(inputs.paths, settings.outputFolder);
    // Outputs among the inputs (`--out` = the input folder): skipping the output folder would
    // skip the inputs; the folder's output ledger keeps our outputs out of the scan instead.
    const amongInputs = outputsAmongInputs(outputFolder, inputs.paths);
    const scanned = await scanInputs(inputs, amongInputs ? [] : [outputFolder]);
    // The rerun rules first, before anything is read or estimated: outputs an earlier run made
    // from the same photos with the same settings are counted, not estimated (nor redone), and
    // their photos are not even opened when the output's name does not depend on the header
    // (an up-to-date rerun of 30,000 photos reads no image).
    const headers = new Map<string, Promise<ImageHeader | FileReason>>();
    const headerOf = (file: ScannedFile): Promise<ImageHeader | FileReason> => {
      let header = headers.get(file.inputPath);
      if (!header) {
        header = file.problem
          ? Promise.resolve(file.problem)
          : this.readUsableHeader(file.inputPath, settings);
        headers.set(file.inputPath, header);
      }
      return header;
    };
    const { upToDate, ours } = await this.rerunState(scanned, settings, outputFolder, headerOf);
    const files: (PreflightFile & ScannedFile)[] = [];
    for (const file of scanned) {
      if (upToDate.has(file.inputPath)) {
        files.push({ ...file, header: null, jpegQuality: null, problem: null });
        continue;
      }
      // Entries the scan already refused (special files, links, unreadable folders) are never opened.
      const header = await headerOf(file);
      const usable = isFileReason(header) ? null : header;
      files.push({
        ...file,
        header: usable,
        // The tables only (no pixels): a JPEG below the photo threshold runs a photo variant.
        jpegQuality:
          usable?.format === 'jpeg'
            ? ((await readJpegQuality(file.inputPath).catch(() => null))?.quality ?? null)
            : null,
        problem: isFileReason(header) ? header : null,
      });
    }
    const toDo = files.filter((file) => !upToDate.has(file.inputPath));
    await this.ensureSpeeds(settings, toDo);
    // After the calibrations: their figures are in the planner's speed log.
    const planner = this.plannerFor(settings);
    const estimate = await estimateJob({
      files: toDo,
      settings,
      outputFolder,
      runFor: (jpegQuality, scale) => planner.runFor(jpegQuality, scale),
      queuedOutputBytes: await pendingOutputBytesOn(outputFolder, queued),
      upToDate: upToDate.size,
      writtenBytesPerPixel: (format, header) =>
        this.writtenBytesPerPixel(settings, format, header.sixteenBit),
    });
    estimate.warnings = [
      ...this.context.outputs
        .warningsFor(outputFolder)
        .map((message) => ({ code: 'manifest' as const, message })),
      ...(await preflightWarnings({
        inputs,
        // Our own outputs (stale ones included) are replaced in place: only other files warn.
        files: toDo.filter((file) => !ours.has(file.inputPath)),
        problems: estimate.problems,
        settings,
        outputFolder,
        modelName: this.modelName(settings),
      })),
    ];
    return { estimate, files, upToDate, settings, outputFolder, inputs };
  }

  /**
   * What the output folder's manifest says of each file: the outputs that are up to date (by
   * input path), and the inputs whose outputs are ours but stale, deleted or damaged (they are
   * replaced in place, so the "outputs exist" warning is not for them).
   */
  private async rerunState(
    files: readonly ScannedFile[],
    settings: ExportSettings,
    outputFolder: string,
    headerOf: (file: ScannedFile) => Promise<ImageHeader | FileReason>,
  ): Promise<{ upToDate: Map<string, string>; ours: Set<string> }> {
    const upToDate = new Map<string, string>();
    const ours = new Set<string>();
    const manifest = await this.context.outputs.read(outputFolder);
    if (!manifest.trusted) return { upToDate, ours };
    const models = this.upscaler.listModels();
    const modelName = this.modelName(settings);
    const createdAt = new Date().toISOString();
    const namedByScale = outputNameIgnoresHeader(settings);
    const decide = async (file: ScannedFile): Promise<void> => {
      if (file.problem) return;
      try {
        let size: { width: number; height: number; scale: number };
        if (namedByScale && settings.target.kind === 'scale') {
          // The name uses the scale alone: no need to open the photo to know it.
          size = { width: 0, height: 0, scale: settings.target.scale };
        } else {
          const header = await headerOf(file);
          if (isFileReason(header)) return;
          size = resolveTargetSize(header, settings.target);
        }
        const planned = planOutputName(settings, outputFolder, {
          inputPath: file.inputPath,
          relativePath: file.relativePath,
          outputWidth: size.width,
          outputHeight: size.height,
          scale: size.scale,
          model: modelName,
          createdAt,
        });
        const decision = await decideForFile(
          manifest,
          { settings },
          file,
          { targetPath: path.join(planned.folder, planned.fileName), format: planned.format },
          models,
        );
        if (decision.kind === 'up-to-date') upToDate.set(file.inputPath, decision.outputPath);
        else if (decision.kind === 'replace') ours.add(file.inputPath);
      } catch {
        // Out of range, an invalid template, a file gone meanwhile: the run reports it.
      }
    };
    // A few files at a time: each decision is a handful of stats (and, rarely, a hash), which
    // wait on the file system, not the CPU.
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < files.length) await decide(files[next++]!);
    };
    await Promise.all(Array.from({ length: RERUN_CHECKS_AT_ONCE }, worker));
    return { upToDate, ours };
  }

  /**
   * The header of a file that will be processed, or why it cannot be: besides what
   * `readImageHeader` finds, an input over the engine's pixel limit and an output over its
   * size limit are refused from the header's numbers (a decompression bomb never reaches
   * the estimate or the decoder).
   */
  async readUsableHeader(
    inputPath: string,
    settings: ExportSettings,
  ): Promise<ImageHeader | FileReason> {
    const header = await readImageHeader(inputPath, DEFAULT_MAX_INPUT_PIXELS);
    if (isFileReason(header)) return header;
    try {
      const size = resolveTargetSize(header, settings.target);
      if (size.width * size.height > DEFAULT_MAX_OUTPUT_PIXELS) {
        return {
          code: 'too-large',
          message: `the output would be ${size.width}x${size.height} (${formatMegapixels(size.width * size.height)}), over the limit of ${formatMegapixels(DEFAULT_MAX_OUTPUT_PIXELS)}`,
        };
      }
      // A format that cannot hold the size (WebP stops at 16383 px a side): said before any
      // work, in the engine's sentence, which names the formats that can.
      const formatProblem = formatSizeProblem(
        concreteFormat(settings.format, inputPath),
        size.width,
        size.height,
      );
      if (formatProblem) return { code: 'too-large', message: formatProblem };
    } catch {
      // scale-out-of-range: the pre-flight and the run report it with the target's own words.
    }
    return header;
  }

  /** The model name `{model}` expands to: the job's model, or the default on this hardware. */
  modelName(settings: ExportSettings): string {
    return (
      resolveModel(this.upscaler.listModels(), settings.model)?.name ?? settings.model ?? 'cmsc'
    );
  }

  private tallyOf(job: Job): JobTally {
    let tally = this.tallies.get(job.id);
    if (!tally) {
      tally = new JobTally(job.settings);
      for (const file of job.files) tally.update(file);
      this.tallies.set(job.id, tally);
    }
    return tally;
  }
}

/** What `files` photos of `pixels` output pixels in all take at `run`'s figures, in ms. */
function predictedMs(run: PlannedRun, pixels: number, files: number): number {
  return ((pixels / 1e6) * 1000) / run.megapixelsPerSecond + files * run.secondsPerPhoto * 1000;
}

/** Rerun decisions in flight at once while a job is planned. */
const RERUN_CHECKS_AT_ONCE = 16;

/** True when output names do not depend on the photo's size (no {width} or {height}). */
function outputNameIgnoresHeader(settings: ExportSettings): boolean {
  return !/\{(width|height)\}/.test(settings.namingTemplate);
}

const TERMINAL_FILE_STATES: ReadonlySet<JobFile['state']> = new Set([
  'done',
  'skipped',
  'failed',
  'cancelled',
]);

/** One file's part in its job's tally. */
interface FileShare {
  group: string;
  pixels: number;
  terminal: boolean;
  done: boolean;
  waiting: boolean;
  elapsedMs: number;
  /** The output's bytes once written; 0 before. */
  writtenBytes: number;
  /** Done, with its time measured: part of the job's pace (jobPace.ts). */
  timed: boolean;
  /** Waiting with a part kept by "Pause now": that part (0..1) and its output pixels. */
  kept: number;
  keptPixels: number;
}

interface TallyGroup {
  jpegQuality: number | null;
  scale: number;
  files: number;
  pixels: number;
  waitingFiles: number;
  waitingPixels: number;
  /** Of the waiting photos, the parts kept by "Pause now" (in photos) and their pixels. */
  waitingKeptPhotos: number;
  waitingKeptPixels: number;
  /** Done photos with a measured time, their output pixels and their milliseconds. */
  timedFiles: number;
  timedPixels: number;
  timedMs: number;
}

/**
 * A job's sums, kept up to date file by file: finished files and their time, done and total
 * output pixels, and per (JPEG quality, scale) group the pixels all files and the waiting ones
 * will make, since each group runs at its own predicted speed, and the pixels and time of its
 * done photos (the job's pace). Up-to-date files are not work and are left out.
 */
class JobTally {
  filesTotal = 0;
  filesFinished = 0;
  elapsedMs = 0;
  donePixels = 0;
  /** Output pixels of the parts "Pause now" kept of waiting photos. */
  keptPixels = 0;
  totalPixels = 0;
  /** Bytes and pixels of the outputs written (done files whose size is known). */
  writtenBytes = 0;
  writtenPixels = 0;
  private readonly shares = new Map<number, FileShare>();
  private readonly byGroup = new Map<string, TallyGroup>();

  constructor(private readonly settings: ExportSettings) {}

  groups(): Iterable<TallyGroup> {
    return this.byGroup.values();
  }

  update(file: JobFile): void {
    const old = this.shares.get(file.id);
    if (old) this.apply(old, -1);
    if (isUpToDate(file)) {
      this.shares.delete(file.id);
      return;
    }
    const jpegQuality = file.inputJpegQuality ?? null;
    const scale = expectedScale(this.settings, file);
    const group = `${jpegQuality}:${scale}`;
    if (!this.byGroup.has(group))
      this.byGroup.set(group, {
        jpegQuality,
        scale,
        files: 0,
        pixels: 0,
        waitingFiles: 0,
        waitingPixels: 0,
        waitingKeptPhotos: 0,
        waitingKeptPixels: 0,
        timedFiles: 0,
        timedPixels: 0,
        timedMs: 0,
      });
    const pixels = expectedOutputPixels(this.settings, file);
    const kept = file.state === 'queued' ? (file.keptFraction ?? 0) : 0;
    const share: FileShare = {
      group,
      pixels,
      terminal: TERMINAL_FILE_STATES.has(file.state),
      done: file.state === 'done',
      waiting: file.state === 'queued',
      elapsedMs: TERMINAL_FILE_STATES.has(file.state) ? (file.elapsedMs ?? 0) : 0,
      writtenBytes: file.state === 'done' ? (file.outputBytes ?? 0) : 0,
      timed: file.state === 'done' && (file.elapsedMs ?? 0) > 0,
      kept,
      keptPixels: pixels * kept,
    };
    this.shares.set(file.id, share);
    this.apply(share, 1);
  }

  private apply(share: FileShare, sign: 1 | -1): void {
    const group = this.byGroup.get(share.group)!;
    this.filesTotal += sign;
    this.totalPixels += sign * share.pixels;
    group.files += sign;
    group.pixels += sign * share.pixels;
    if (share.terminal) {
      this.filesFinished += sign;
      this.elapsedMs += sign * share.elapsedMs;
    }
    if (share.done) this.donePixels += sign * share.pixels;
    if (share.writtenBytes > 0) {
      this.writtenBytes += sign * share.writtenBytes;
      this.writtenPixels += sign * share.pixels;
    }
    if (share.waiting) {
      group.waitingFiles += sign;
      group.waitingPixels += sign * share.pixels;
      group.waitingKeptPhotos += sign * share.kept;
      group.waitingKeptPixels += sign * share.keptPixels;
      this.keptPixels += sign * share.keptPixels;
    }
    if (share.timed) {
      group.timedFiles += sign;
      group.timedPixels += sign * share.pixels;
      group.timedMs += sign * share.elapsedMs;
    }
    if (group.files === 0) this.byGroup.delete(share.group);
  }
}

/** What unfinished jobs will still write on the volume of `folder`, from their pre-flight estimates. */
async function pendingOutputBytesOn(folder: string, queued: QueuedWork): Promise<number> {
  const volume = await volumeOf(folder);
  let pending = 0;
  for (const job of queued.jobs) {
    if (job.state === 'finished' || job.state === 'cancelled') continue;
    if ((await volumeOf(job.outputFolder)) !== volume) continue;
    let total = 0;
    let remaining = 0;
    for (const file of job.files) {
      const pixels = expectedOutputPixels(job.settings, file);
      total += pixels;
      if (file.state === 'queued' || file.state === 'running') remaining += pixels;
    }
    const estimate = queued.estimatedOutputBytes.get(job.id) ?? 0;
    if (total > 0) pending += (estimate * remaining) / total;
  }
  return Math.round(pending);
}

/** The scale a file runs at (2 when its size is unknown: it fails before any model runs). */
function expectedScale(settings: ExportSettings, file: JobFile): number {
  return nominalScaleOf(settings, { width: file.inputWidth, height: file.inputHeight });
}

function nominalScaleOf(settings: ExportSettings, size: { width: number; height: number }): number {
  if (size.width === 0 || size.height === 0) return 2;
  try {
    return resolveTargetSize(size, settings.target).scale;
  } catch {
    return 2;
  }
}

function expectedOutputPixels(settings: ExportSettings, file: JobFile): number {
  if (file.outputWidth !== null && file.outputHeight !== null)
    return file.outputWidth * file.outputHeight;
  if (file.inputWidth === 0 || file.inputHeight === 0) return 0;
  try {
    const size = resolveTargetSize(
      { width: file.inputWidth, height: file.inputHeight },
      settings.target,
    );
    return size.width * size.height;
  } catch {
    return 0;
  }
}

function validateInputs(value: JobInputs): JobInputs {
  if (!Array.isArray(value.paths) || value.paths.length === 0)
    throw new TypeError('a job needs at least one file or folder');
  for (const p of value.paths) {
    if (typeof p !== 'string' || !path.isAbsolute(p))
      throw new TypeError(`input paths must be absolute: ${String(p)}`);
  }
  const extensions = (list: unknown, name: string): string[] => {
    if (!Array.isArray(list) || list.some((e) => typeof e !== 'string'))
      throw new TypeError(`${name} must be a list of extensions`);
    return (list as string[]).map(normalizeExtension).filter((e) => e !== '');
  };
  return {
    paths: value.paths.map((p) => path.resolve(p)),
    recursive: value.recursive === true,
    includeExtensions: extensions(value.includeExtensions, 'includeExtensions'),
    excludeExtensions: extensions(value.excludeExtensions, 'excludeExtensions'),
    ...(value.selection !== undefined ? { selection: validSelection(value.selection) } : {}),
  };
}

/** The photos chosen before the job started: absolute paths, and whether only starred ones run. */
function validSelection(value: PhotoSelection): PhotoSelection {
  const paths = (list: unknown, name: string): string[] => {
    if (!Array.isArray(list) || list.some((p) => typeof p !== 'string' || !path.isAbsolute(p)))
      throw new TypeError(`selection.${name} must be a list of absolute paths`);
    return (list as string[]).map((p) => path.resolve(p));
  };
  if (typeof value !== 'object' || value === null)
    throw new TypeError('selection must be an object');
  return {
    starred: paths(value.starred, 'starred'),
    excluded: paths(value.excluded, 'excluded'),
    onlyStarred: value.onlyStarred === true,
  };
}
