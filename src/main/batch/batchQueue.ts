/**
 * The batch queue: jobs in order, one image at a time, every state change persisted before it
 * matters, so that a crash or kill at any moment resumes where it stopped. Plain Node (no
 * Electron): the desktop app, the web server and the command line drive the same class.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import {
  cloneSettings,
  parseExportSettings,
  type ExportSettings,
} from '../../shared/exportSettings.ts';
import type {
  BatchEvent,
  BatchEventType,
  FileReason,
  Job,
  JobFile,
  JobInputs,
  JobProgress,
  JobState,
  PreflightEstimate,
} from '../../shared/jobs.ts';
import { isRetryableFailure, isUpToDate } from '../../shared/jobs.ts';
import { resolveTargetSize } from '../../shared/targetSize.ts';
import type { ExecutionProvider } from '../../shared/upscaleOptions.ts';
import {
  DEFAULT_MAX_INPUT_PIXELS,
  DEFAULT_MAX_OUTPUT_PIXELS,
  readJpegQuality,
} from '../engine/index.ts';
import { syncDirectory, syncFile } from './atomicWrite.ts';
import { BatchEventHub, type BatchListener, type Unsubscribe } from './batchEvents.ts';
import { finishOutput, toUpscaleOptions } from './exportOptions.ts';
import { InputRejected, resolveModel, type ImageUpscaler } from './imageUpscaler.ts';
import {
  formatMegapixels,
  isFileReason,
  normalizeExtension,
  readImageHeader,
  scanInputs,
  type ImageHeader,
  type ScannedFile,
} from './inputScan.ts';
import { buildReport, summarizeJob, writeReport } from './jobReport.ts';
import {
  decideForFile,
  errorText,
  failureReason,
  isWriteError,
  OutputBook,
  noteFrames,
  outputFolderFailure,
  outputRecordFor,
  upToDateReason,
  writeFailure,
} from './outputRecord.ts';
import { readSourceMetadata } from './metadataTransfer.ts';
import {
  chooseOutputPath,
  commitOutput,
  deleteTemporaryOutputs,
  planOutputName,
  outputsAmongInputs,
  prepareOutputFolder,
  recordOutputInLedger,
  resolveOutputFolder,
  temporaryOutputPath,
} from './outputPlan.ts';
import { estimateJob, volumeOf, type PreflightFile } from './preflight.ts';
import { QueueStore } from './queueStore.ts';
import {
  CALIBRATION_INPUT,
  calibrate,
  jobFlopsPerPixel,
  SpeedLog,
  speedKeyText,
  type SpeedKey,
} from './deviceSpeed.ts';
import { preflightWarnings } from './preflightWarnings.ts';
import { RunPlanner, RunTally } from './runPlan.ts';

export interface BatchQueueOptions {
  /** Folder for the queue file and fallback reports. */
  stateDir: string;
  /** This machine's speed figures (deviceSpeed.ts); default `speed.json` in `stateDir`. */
  speedFile?: string;
  upscaler: ImageUpscaler;
  /** Start working through the queue as soon as it opens or a job arrives (default true). */
  autoStart?: boolean;
  /** Write each finished job's JSON and CSV report (default true; the CLI's `--no-report`). */
  writeReports?: boolean;
}

export interface AddJobRequest {
  inputs: JobInputs;
  settings: ExportSettings;
}

/** Thrown by `addJob` when the pre-flight says the outputs would not fit. */
export class PreflightRefusal extends Error {
  override readonly name = 'PreflightRefusal';
  constructor(readonly estimate: PreflightEstimate) {
    super(estimate.refusal ?? 'the job was refused by its pre-flight check');
  }
}

/** Why the running file is being aborted: decides where the file goes next. */
type AbortCause = 'cancel' | 'pause' | 'shutdown';

interface RunningFile {
  jobId: string;
  fileId: number;
  controller: AbortController;
  cause: AbortCause | null;
  tilesDone: number;
  tilesTotal: number;
  /** The engine's own estimate for the rest of this image. */
  imageEtaMs: number | null;
  /** performance.now() when the image started. */
  startedAt: number;
  /** Resolves once the outcome is recorded (and a cancelled job finalized). */
  settled: Promise<void>;
}

const TERMINAL_FILE_STATES: ReadonlySet<JobFile['state']> = new Set([
  'done',
  'skipped',
  'failed',
  'cancelled',
]);
const ACTIVE_JOB_STATES: ReadonlySet<JobState> = new Set(['queued', 'running']);
/** How often a running photo reports progress when its tiles do not (one-tile photos). */
const PROGRESS_HEARTBEAT_MS = 1000;
/** A running photo never shows as complete: encoding and the rename still follow its last tile. */
const RUNNING_FRACTION_CAP = 0.99;

export async function createBatchQueue(options: BatchQueueOptions): Promise<BatchQueue> {
  return BatchQueue.open(options);
}

export class BatchQueue {
  private readonly events = new BatchEventHub();
  private readonly store: QueueStore;
  private readonly speed: SpeedLog;
  /** Calibrations in flight, so concurrent pre-flights time the model once. */
  private readonly calibrations = new Map<string, Promise<void>>();
  private readonly upscaler: ImageUpscaler;
  /** The manifests of the output folders this queue reads and writes. */
  private readonly outputs = new OutputBook();
  private jobList: Job[] = [];
  private running: RunningFile | null = null;
  private loop: Promise<void> | null = null;
  private started: boolean;
  private closed = false;
  private idleWaiters: (() => void)[] = [];
  /** Output paths a job must never write over (its inputs and its finished outputs), per job. */
  private readonly reservedPaths = new Map<string, Set<string>>();
  /** The pre-flight of each job added in this process (what it said before the job started). */
  private readonly preflights = new Map<string, PreflightEstimate>();
  /** Each job's pre-flight output estimate, persisted with the queue. */
  private estimatedOutputBytes = new Map<string, number>();
  private lastProvider: ExecutionProvider | null = null;
  /** Problems found while loading the persisted queue. */
  readonly loadWarnings: string[] = [];

  private constructor(private readonly options: BatchQueueOptions) {
    this.store = new QueueStore(options.stateDir);
    this.speed = new SpeedLog(options.speedFile ?? path.join(options.stateDir, 'speed.json'));
    this.upscaler = options.upscaler;
    this.started = options.autoStart ?? true;
  }

  static async open(options: BatchQueueOptions): Promise<BatchQueue> {
    const queue = new BatchQueue(options);
    await queue.recover();
    if (queue.started) queue.kick();
    return queue;
  }

  // ---- reading -------------------------------------------------------------------------

  /** Deep copies of every job, in queue order. */
  jobs(): Job[] {
    return this.jobList.map((job) => structuredClone(job));
  }

  job(jobId: string): Job | null {
    const job = this.jobList.find((j) => j.id === jobId);
    return job ? structuredClone(job) : null;
  }

  progress(jobId: string): JobProgress | null {
    const job = this.jobList.find((j) => j.id === jobId);
    return job ? this.computeProgress(job) : null;
  }

  /** The pre-flight estimate a job was added with, in this process; null after a restart. */
  preflightOf(jobId: string): PreflightEstimate | null {
    const estimate = this.preflights.get(jobId);
    return estimate ? structuredClone(estimate) : null;
  }

  on<T extends BatchEventType>(type: T, listener: BatchListener<T>): Unsubscribe {
    return this.events.on(type, listener);
  }

  onAny(listener: (event: BatchEvent) => void): Unsubscribe {
    return this.events.onAny(listener);
  }

  /** Resolves when nothing is left to run (every job finished, cancelled or paused). */
  whenIdle(): Promise<void> {
    if (!this.loop && !this.hasWork()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  // ---- adding --------------------------------------------------------------------------

  async preflight(request: AddJobRequest): Promise<PreflightEstimate> {
    const { estimate } = await this.scanAndEstimate(request);
    return estimate;
  }

  /**
   * Scans the inputs, checks the pre-flight and queues the job with a snapshot of `settings`.
   * Throws PreflightRefusal when the outputs would not fit on the destination volume.
   */
  async addJob(request: AddJobRequest): Promise<Job> {
    this.assertOpen();
    const { estimate, files, upToDate, settings, outputFolder, inputs } =
      await this.scanAndEstimate(request);
    if (files.length === 0) {
      // Problem entries count: a folder of nothing but FIFOs is a job whose report says so.
      throw new Error(
        `no images found in ${inputs.paths.join(', ')}${inputs.recursive ? '' : ' (sub-folders not included)'}`,
      );
    }
    if (files.every((file) => isScanProblem(file) && inputs.paths.includes(file.inputPath))) {
      // Nothing the user named can be read (a typo, `/dev/null`): there is no folder to hold
      // outputs or a report, so the job is refused with every reason instead.
      throw new Error(
        `nothing to upscale: ${files.map((file) => `${file.inputPath}: ${file.problem!.message} (${file.problem!.code})`).join('; ')}`,
      );
    }
    if (!estimate.fitsOnDisk) throw new PreflightRefusal(estimate);
    const job: Job = {
      id: newJobId(),
      createdAt: new Date().toISOString(),
      inputs,
      settings,
      outputFolder,
      state: 'queued',
      files: files.map((file, id): JobFile => {
        const upToDateOutput = upToDate.get(file.inputPath) ?? null;
        return {
          id,
          inputPath: file.inputPath,
          relativePath: file.relativePath,
          inputBytes: file.bytes,
          inputWidth: file.header?.width ?? 0,
          inputHeight: file.header?.height ?? 0,
          ...(file.jpegQuality !== null ? { inputJpegQuality: file.jpegQuality } : {}),
          // What the scan refused without opening it fails at once; header problems are read
          // again when the file's turn comes (it may have been fixed meanwhile). An output that
          // is up to date is skipped at once (the file's turn would find the same).
          state: isScanProblem(file) ? 'failed' : upToDateOutput !== null ? 'skipped' : 'queued',
          reason: isScanProblem(file)
            ? file.problem
            : upToDateOutput !== null
              ? upToDateReason(upToDateOutput)
              : null,
          outputPath: upToDateOutput,
          outputBytes: null,
          outputWidth: null,
          outputHeight: null,
          elapsedMs: null,
          provider: null,
          attempts: 0,
        };
      }),
      summary: null,
    };
    this.jobList.push(job);
    this.estimatedOutputBytes.set(job.id, estimate.estimatedOutputBytes);
    this.preflights.set(job.id, estimate);
    await this.persist();
    this.emit({ type: 'job-added', job: structuredClone(job) });
    // Its time left shows before its first photo starts (the overall line counts it).
    this.emitProgress(job);
    this.kick();
    return structuredClone(job);
  }

  // ---- control -------------------------------------------------------------------------

  /** Starts (or restarts after `stop`) working through the queue. */
  start(): void {
    this.assertOpen();
    this.started = true;
    this.kick();
  }

  /** Pauses a job; its running image is abandoned and starts over on resume. */
  async pauseJob(jobId: string): Promise<void> {
    const job = this.requireJob(jobId);
    if (!ACTIVE_JOB_STATES.has(job.state)) return;
    // Abort before any await, so the image cannot finish while the state is being written.
    const stopped = this.abortRunning(jobId, null, 'pause');
    await this.setJobState(job, 'paused');
    await stopped;
  }

  async resumeJob(jobId: string): Promise<void> {
    const job = this.requireJob(jobId);
    if (job.state !== 'paused') return;
    await this.setJobState(job, 'queued');
    this.kick();
  }

  /** Cancels the job's remaining files (the running one is abandoned) and writes its report. */
  async cancelJob(jobId: string): Promise<void> {
    const job = this.requireJob(jobId);
    if (job.state === 'finished' || job.state === 'cancelled') return;
    const stopped = this.abortRunning(jobId, null, 'cancel');
    const wasRunningHere = stopped !== null;
    job.state = 'cancelled';
    for (const file of job.files) {
      if (file.state === 'queued')
        this.setFileOutcome(job, file, 'cancelled', {
          code: 'cancelled',
          message: 'the job was cancelled',
        });
    }
    this.emit({ type: 'job-state', jobId, state: 'cancelled' });
    await this.persist();
    if (wasRunningHere) await stopped;
    else await this.finalizeJob(job, 'cancelled');
  }

  /** Cancels one file: a queued one never runs, a running one is abandoned. */
  async cancelFile(jobId: string, fileId: number): Promise<void> {
    const job = this.requireJob(jobId);
    const file = this.requireFile(job, fileId);
    if (file.state === 'queued') {
      this.setFileOutcome(job, file, 'cancelled', {
        code: 'cancelled',
        message: 'cancelled by the user',
      });
      await this.persist();
      this.kick();
    } else if (file.state === 'running') {
      await this.abortRunning(jobId, fileId, 'cancel');
    }
  }

  /**
   * Queues the job's failed files again: those another attempt can fix, and those whose content
   * failed (not an image, truncated, …) but that were replaced since; returns how many.
   */
  async retryFailed(jobId: string): Promise<number> {
    const job = this.requireJob(jobId);
    let count = 0;
    for (const file of job.files) {
      if (file.state !== 'failed') continue;
      if (!isRetryableFailure(file) && !(await changedSinceScan(file))) continue;
      file.state = 'queued';
      file.reason = null;
      file.outputPath = null;
      this.emit({ type: 'file-state', jobId, file: structuredClone(file) });
      count++;
    }
    if (count > 0 && (job.state === 'finished' || job.state === 'cancelled')) {
      job.state = 'queued';
      job.summary = null;
      this.emit({ type: 'job-state', jobId, state: 'queued' });
    }
    await this.persist();
    this.kick();
    return count;
  }

  /** Moves a job that is not running to `index` in the queue order. */
  async moveJob(jobId: string, index: number): Promise<void> {
    const job = this.requireJob(jobId);
    if (job.state === 'running') throw new Error('a running job cannot be moved; pause it first');
    if (!Number.isInteger(index) || index < 0 || index >= this.jobList.length) {
      throw new RangeError(`queue position ${index} is outside 0..${this.jobList.length - 1}`);
    }
    this.jobList.splice(this.jobList.indexOf(job), 1);
    this.jobList.splice(index, 0, job);
    await this.persist();
    this.emit({ type: 'queue-order', jobIds: this.jobList.map((j) => j.id) });
  }

  /** Removes a job that is not running from the queue (its outputs and report stay on disk). */
  async removeJob(jobId: string): Promise<void> {
    const job = this.requireJob(jobId);
    if (job.state === 'running' || this.running?.jobId === jobId) {
      throw new Error('a running job cannot be removed; cancel or pause it first');
    }
    this.jobList.splice(this.jobList.indexOf(job), 1);
    this.reservedPaths.delete(jobId);
    this.estimatedOutputBytes.delete(jobId);
    await this.persist();
    this.emit({ type: 'job-removed', jobId });
  }

  /**
   * Stops working: the running image is abandoned (it restarts at the next open) and the state
   * is flushed. The upscaler stays open; its owner closes it.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.running) this.abort(this.running, 'shutdown');
    await this.loop;
    await this.persist();
    await this.outputs.releaseAll();
    await this.store.unlock();
  }

  // ---- recovery ------------------------------------------------------------------------

  private async recover(): Promise<void> {
    await this.store.lock();
    const loaded = await this.store.load();
    this.loadWarnings.push(...loaded.warnings);
    await this.speed.load();
    this.jobList = loaded.jobs;
    this.estimatedOutputBytes = loaded.estimatedOutputBytes;
    for (const job of this.jobList) {
      if (job.state === 'finished' || job.state === 'cancelled') continue;
      // Temporary outputs are only ever half-written work of a crashed run.
      await deleteTemporaryOutputs(job.outputFolder, job.id);
      if (job.state === 'running') job.state = 'queued';
      for (const file of job.files) {
        // An interrupted image starts over; its planned path is kept so a completed rename
        // before the crash is recognised instead of written a second time.
        if (file.state === 'running') file.state = 'queued';
        if (
          file.state === 'done' &&
          !(await isExpectedOutput(
            file.outputPath,
            file.outputWidth,
            file.outputHeight,
            file.outputBytes,
          ))
        ) {
          file.state = 'queued';
          file.outputPath = null;
          this.loadWarnings.push(
            `${job.id}: the output of ${file.inputPath} is missing or damaged; it will be made again`,
          );
        }
      }
    }
    await this.persist();
  }

  // ---- the work loop -------------------------------------------------------------------

  private kick(): void {
    if (this.loop || this.closed || !this.started) return;
    this.loop = this.workLoop().finally(() => {
      this.loop = null;
      if (!this.closed && this.hasWork()) this.kick();
      else this.settleIdle();
    });
  }

  private async workLoop(): Promise<void> {
    while (!this.closed) {
      const next = await this.nextFile();
      if (!next) return;
      await this.processFile(next.job, next.file);
    }
  }

  private hasWork(): boolean {
    return this.jobList.some(
      (job) => ACTIVE_JOB_STATES.has(job.state) && job.files.some((f) => f.state === 'queued'),
    );
  }

  private settleIdle(): void {
    // Nothing runs: other processes may write our output folders now.
    void this.outputs.releaseAll();
    this.emit({ type: 'queue-idle' });
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  /** The first queued file of the first active job; finishes jobs that have nothing left. */
  private async nextFile(): Promise<{ job: Job; file: JobFile } | null> {
    for (const job of this.jobList) {
      if (!ACTIVE_JOB_STATES.has(job.state)) continue;
      const file = job.files.find((f) => f.state === 'queued');
      if (file) return { job, file };
      await this.finalizeJob(job, 'finished');
    }
    return null;
  }

  private async processFile(job: Job, file: JobFile): Promise<void> {
    let markSettled = (): void => undefined;
    const running: RunningFile = {
      jobId: job.id,
      fileId: file.id,
      controller: new AbortController(),
      cause: null,
      tilesDone: 0,
      tilesTotal: 0,
      imageEtaMs: null,
      startedAt: performance.now(),
      settled: new Promise<void>((resolve) => (markSettled = resolve)),
    };
    // A photo of one tile reports no progress until it is done: a tick keeps the elapsed time
    // and the time left moving for the people watching.
    const heartbeat = setInterval(() => this.emitProgress(job), PROGRESS_HEARTBEAT_MS);
    heartbeat.unref();
    try {
      await this.runFile(job, file, running);
    } finally {
      clearInterval(heartbeat);
      markSettled();
    }
  }

  private async runFile(job: Job, file: JobFile, running: RunningFile): Promise<void> {
    this.running = running;
    if (job.state !== 'running') await this.setJobState(job, 'running');
    file.state = 'running';
    file.reason = null;
    file.attempts++;
    // Not persisted yet: nothing is written before the planned output path is recorded (in
    // upscaleOne), and that write carries this state too. One fewer queue write per image.
    this.emitFile(job, file);
    this.emitProgress(job);
    const started = performance.now();
    try {
      await this.upscaleOne(job, file, running);
    } catch (error) {
      const elapsed = performance.now() - started;
      if (running.controller.signal.aborted) {
        if (running.cause === 'cancel') {
          this.setFileOutcome(job, file, 'cancelled', {
            code: 'cancelled',
            message: 'cancelled by the user',
          });
        } else {
          // Paused or shutting down: the image starts over later.
          file.state = 'queued';
          this.emitFile(job, file);
        }
      } else {
        file.elapsedMs = elapsed;
        this.setFileOutcome(job, file, 'failed', failureReason(error));
      }
    } finally {
      this.running = null;
    }
    await this.persist();
    this.emitProgress(job);
    if (job.state === 'cancelled') await this.finalizeJob(job, 'cancelled');
  }

  /** One image from input to committed output; throws on failure, returns after recording the outcome otherwise. */
  private async upscaleOne(job: Job, file: JobFile, running: RunningFile): Promise<void> {
    const { settings } = job;
    const signal = running.controller.signal;
    const started = performance.now();
    const header = await this.readUsableHeader(file.inputPath, settings);
    if (isFileReason(header)) throw new InputRejected(header);
    // The photo may have been replaced since the scan: the report gives what was processed.
    file.inputBytes = header.bytes;
    file.inputWidth = header.width;
    file.inputHeight = header.height;
    noteFrames(file, header);
    let size;
    try {
      size = resolveTargetSize(header, settings.target);
    } catch (error) {
      throw new InputRejected({ code: 'scale-out-of-range', message: (error as Error).message });
    }
    const reserved = this.reservedFor(job);
    const planned = planOutputName(settings, job.outputFolder, {
      inputPath: file.inputPath,
      relativePath: file.relativePath,
      outputWidth: size.width,
      outputHeight: size.height,
      scale: size.scale,
      model: this.modelName(settings),
      createdAt: job.createdAt,
    });
    const amongInputs = outputsAmongInputs(job.outputFolder, job.inputs.paths);
    try {
      await prepareOutputFolder(job.outputFolder, planned.folder, !amongInputs);
    } catch (error) {
      throw new InputRejected(await outputFolderFailure(error, planned.folder));
    }
    const manifest = await this.outputs.forWriting(job.outputFolder, signal, (holder) =>
      this.loadWarnings.push(
        `${job.outputFolder} is being written by another run (process ${holder}); waiting for it to finish`,
      ),
    );
    const target = { targetPath: path.join(planned.folder, planned.fileName), format: planned.format };
    const models = this.upscaler.listModels();
    const decision = await decideForFile(manifest, job, file, target, models);
    if (decision.kind === 'up-to-date') {
      // Made by an earlier run, or by this job just before a kill (its record precedes the
      // rename): either way the output is complete and ours.
      if (decision.record.job === job.id) {
        await this.markDone(job, file, decision.outputPath, size, performance.now() - started, file.provider);
      } else {
        this.setFileOutcome(job, file, 'skipped', upToDateReason(decision.outputPath));
        file.outputPath = decision.outputPath;
      }
      return;
    }
    if (decision.kind === 'replace') file.rerun = { kind: 'replaced', why: decision.why };
    else if (decision.kind === 'not-ours')
      file.rerun = { kind: 'not-ours', why: decision.why, existingPath: decision.existingPath };
    else delete file.rerun;
    // Ours: replaced where it is, whatever the policy (the policy protects other people's files).
    const policy = decision.kind === 'replace' ? 'overwrite' : settings.overwrite;
    let finalPath =
      decision.kind === 'replace'
        ? decision.outputPath
        : await chooseOutputPath(planned, settings.overwrite, reserved);
    if (finalPath === null) {
      this.setFileOutcome(job, file, 'skipped', {
        code: 'output-exists',
        message: `${path.join(planned.folder, planned.fileName)} already exists${decision.kind === 'not-ours' && decision.why === 'edited' ? ' and was edited since we wrote it' : ' and was not written by us'} (overwrite policy: skip)`,
      });
      return;
    }
    file.outputPath = finalPath;
    await this.persist();

    const tempPath = temporaryOutputPath(finalPath, job.id, file.id);
    try {
      const source = settings.metadata === 'keep' ? await readSourceMetadata(file.inputPath) : null;
      const result = await this.upscaler
        .upscaleFile(
          file.inputPath,
          tempPath,
          toUpscaleOptions(settings, planned.format),
          settings.device,
          {
            signal,
            onProgress: (progress) => {
              running.tilesDone = progress.tilesDone;
              running.tilesTotal = progress.tilesTotal;
              running.imageEtaMs = progress.etaMs;
              this.emitProgress(job);
            },
          },
        )
        .catch((error: unknown) => {
          throw isWriteError(error)
            ? new InputRejected(writeFailure(error, planned.folder))
            : error;
        });
      file.provider = result.provider;
      file.model = result.model;
      if (result.source) file.source = result.source;
      file.precision = result.precision;
      this.lastProvider = result.provider;
      await finishOutput(
        tempPath,
        planned.format,
        settings,
        { width: result.outputWidth, height: result.outputHeight },
        source,
      );
      await syncFile(tempPath);
      signal.throwIfAborted();
      // Among inputs, the name is listed before it appears, so no later scan takes it for a photo.
      if (amongInputs) await recordOutputInLedger(finalPath);
      // The record goes down before the rename: a kill in between leaves a record that owns
      // nothing (the file it names is not there, or is the older output its previous record owns).
      await manifest.append(
        await outputRecordFor(manifest, job, file, target, finalPath, tempPath, models),
      );
      // Under skip/rename a name can be taken between choosing and committing: choose again.
      while (!(await commitOutput(tempPath, finalPath, policy))) {
        finalPath = await chooseOutputPath(planned, settings.overwrite, reserved);
        if (finalPath !== null && amongInputs) await recordOutputInLedger(finalPath);
        if (finalPath === null) {
          this.setFileOutcome(job, file, 'skipped', {
            code: 'output-exists',
            message: `${path.join(planned.folder, planned.fileName)} appeared while the image was processed (overwrite policy: skip)`,
          });
          return;
        }
        file.outputPath = finalPath;
        await manifest.append(
          await outputRecordFor(manifest, job, file, target, finalPath, tempPath, models),
        );
      }
      await syncDirectory(path.dirname(finalPath));
      const elapsed = performance.now() - started;
      await this.markDone(job, file, finalPath, size, elapsed, result.provider);
      const flopsPerPixel = jobFlopsPerPixel(
        this.upscaler.listModels().find((model) => model.name === result.model),
        settings,
        result.outputWidth / result.inputWidth,
      );
      if (flopsPerPixel !== null) {
        await this.speed.recordPhoto(
          { provider: result.provider, model: result.model, precision: result.precision },
          {
            flopsPerPixel,
            outputPixels: result.outputWidth * result.outputHeight,
            inferenceMs: result.inferenceMs,
            elapsedMs: elapsed,
          },
        );
      }
    } finally {
      await rm(tempPath, { force: true });
    }
  }

  private async markDone(
    job: Job,
    file: JobFile,
    outputPath: string,
    size: { width: number; height: number },
    elapsedMs: number,
    provider: ExecutionProvider | null,
  ): Promise<void> {
    file.outputPath = outputPath;
    file.outputBytes = (await stat(outputPath)).size;
    file.outputWidth = size.width;
    file.outputHeight = size.height;
    file.elapsedMs = elapsedMs;
    file.provider = provider;
    this.reservedFor(job).add(outputPath);
    this.setFileOutcome(job, file, 'done', null);
  }

  private reservedFor(job: Job): Set<string> {
    let reserved = this.reservedPaths.get(job.id);
    if (!reserved) {
      reserved = new Set(job.files.map((f) => f.inputPath));
      for (const file of job.files)
        if (file.state === 'done' && file.outputPath) reserved.add(file.outputPath);
      this.reservedPaths.set(job.id, reserved);
    }
    return reserved;
  }

  private async finalizeJob(job: Job, state: 'finished' | 'cancelled'): Promise<void> {
    if (job.summary) return;
    job.state = state;
    const report = buildReport(job, state, new Date());
    // A rerun that found everything up to date wrote nothing, and leaves nothing: no report either.
    const nothingDone = job.files.length > 0 && job.files.every(isUpToDate);
    const written =
      this.options.writeReports === false || nothingDone
        ? { jsonPath: null, csvPath: null, error: null }
        : await writeReport(report, path.join(this.options.stateDir, 'reports'));
    job.summary = {
      ...summarizeJob(job, state),
      reportJsonPath: written.jsonPath,
      reportCsvPath: written.csvPath,
      reportError: written.error,
    };
    await this.persist();
    this.emit({ type: 'job-state', jobId: job.id, state });
    this.emit({ type: 'job-summary', summary: structuredClone(job.summary) });
  }

  // ---- helpers -------------------------------------------------------------------------

  /**
   * Aborts the running file of `jobId` (only `fileId`, when given) at once; the promise settles
   * when the loop has recorded its outcome. Null when nothing matching is running.
   */
  private abortRunning(
    jobId: string,
    fileId: number | null,
    cause: AbortCause,
  ): Promise<void> | null {
    const running = this.running;
    if (!running || running.jobId !== jobId || (fileId !== null && running.fileId !== fileId)) {
      return null;
    }
    this.abort(running, cause);
    return running.settled;
  }

  private abort(running: RunningFile, cause: AbortCause): void {
    if (running.cause === null) running.cause = cause;
    running.controller.abort(new Error(`batch: ${cause}`));
  }

  private setFileOutcome(
    job: Job,
    file: JobFile,
    state: JobFile['state'],
    reason: FileReason | null,
  ): void {
    file.state = state;
    file.reason = reason;
    if (state !== 'done') {
      // Nothing was written under the planned name (the temporary file is removed on every failure).
      file.outputPath = null;
      file.outputBytes = null;
    }
    this.emitFile(job, file);
  }

  private async setJobState(job: Job, state: JobState): Promise<void> {
    if (job.state === state) return;
    job.state = state;
    await this.persist();
    this.emit({ type: 'job-state', jobId: job.id, state });
  }

  private computeProgress(job: Job): JobProgress {
    let totalPixels = 0;
    let donePixels = 0;
    let filesFinished = 0;
    let filesTotal = 0;
    let elapsedMs = 0;
    let currentFile: JobProgress['currentFile'] = null;
    const running = this.running?.jobId === job.id ? this.running : null;
    // Each file at this machine's speed for the model it is predicted to run (runPlan.ts); an
    // ETA only from figures timed or measured here, never from the assumed rates.
    const planner = this.plannerFor(job.settings);
    const allRuns = new RunTally();
    const waitingRuns = new RunTally();
    for (const file of job.files) {
      // Up-to-date outputs are not work: the bar, the counts and the time cover the rest.
      if (isUpToDate(file)) continue;
      filesTotal++;
      const pixels = expectedOutputPixels(job.settings, file);
      const run = planner.runFor(file.inputJpegQuality ?? null, expectedScale(job.settings, file));
      allRuns.add(run, pixels);
      totalPixels += pixels;
      if (TERMINAL_FILE_STATES.has(file.state)) {
        filesFinished++;
        elapsedMs += file.elapsedMs ?? 0;
        if (file.state === 'done') donePixels += pixels;
      } else if (running && running.fileId === file.id) {
        const fileElapsed = performance.now() - running.startedAt;
        // The engine's tile times once a tile finished; this machine's speed before that.
        const predicted =
          run.basis === 'assumed' ? null : ((pixels / 1e6) * 1000) / run.megapixelsPerSecond;
        const fileEta =
          running.imageEtaMs ?? (predicted === null ? null : Math.max(0, predicted - fileElapsed));
        const fraction =
          fileEta !== null
            ? Math.min(RUNNING_FRACTION_CAP, fileElapsed / Math.max(1, fileElapsed + fileEta))
            : running.tilesTotal > 0
              ? running.tilesDone / running.tilesTotal
              : 0;
        donePixels += pixels * fraction;
        elapsedMs += fileElapsed;
        currentFile = {
          fileId: running.fileId,
          tilesDone: running.tilesDone,
          tilesTotal: running.tilesTotal,
          elapsedMs: Math.round(fileElapsed),
          etaMs: fileEta === null ? null : Math.round(fileEta),
        };
      } else {
        waitingRuns.add(run, pixels);
      }
    }
    const waitingMs = waitingRuns.isMeasured() ? waitingRuns.seconds() * 1000 : null;
    const etaMs =
      waitingMs === null || (currentFile !== null && currentFile.etaMs === null)
        ? null
        : Math.round(waitingMs + (currentFile?.etaMs ?? 0));
    return {
      jobId: job.id,
      filesTotal,
      filesFinished,
      currentFile,
      outputMegapixelsDone: donePixels / 1e6,
      outputMegapixelsTotal: totalPixels / 1e6,
      megapixelsPerSecond: allRuns.isMeasured() ? allRuns.megapixelsPerSecond() : null,
      elapsedMs: Math.round(elapsedMs),
      etaMs,
    };
  }

  /** The provider a job of `settings` runs on, as far as it is known before running it. */
  private providerFor(settings: ExportSettings): ExecutionProvider {
    return (
      this.lastProvider ??
      this.upscaler.activeProvider(settings.device) ??
      (settings.device === 'auto' ? 'cpu' : settings.device)
    );
  }

  /** Predicts, for a job of `settings`, each file's model and this machine's speed for it. */
  private plannerFor(settings: ExportSettings): RunPlanner {
    return new RunPlanner(this.upscaler, this.speed, settings, this.providerFor(settings));
  }

  /**
   * Times each model the job's files are predicted to run (a clean model and its photo
   * variant may both) when it has never run here, so the first estimate is a measurement. Not
   * while a photo is running: the two would share the engine and the figure would come out
   * slow. A failed calibration leaves the assumed speed in place.
   */
  private async ensureSpeeds(settings: ExportSettings, files: readonly PreflightFile[]) {
    const planner = this.plannerFor(settings);
    const unmeasured = new Map<string, SpeedKey>();
    for (const file of files) {
      if (!file.header) continue;
      const key = planner.keyFor(file.jpegQuality, nominalScaleOf(settings, file.header));
      if (key && !this.speed.get(key)) unmeasured.set(speedKeyText(key), key);
    }
    for (const [id, key] of unmeasured) {
      if (this.running) return;
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
      await mkdir(this.options.stateDir, { recursive: true });
      const timed = await calibrate(
        this.upscaler,
        { ...settings, model: key.model, source: 'clean' },
        this.options.stateDir,
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
      this.loadWarnings.push(`could not time ${key.model} on this machine: ${errorText(error)}`);
    }
  }

  private async scanAndEstimate(request: AddJobRequest) {
    const settings = cloneSettings(parseExportSettings(request.settings));
    const inputs = validateInputs(request.inputs);
    // A missing input is not an error here: the scan reports it as one problem entry.
    const outputFolder = await resolveOutputFolder(inputs.paths, settings.outputFolder);
    // Outputs among the inputs (`--out` = the input folder): skipping the output folder would
    // skip the inputs; the folder's output ledger keeps our outputs out of the scan instead.
    const amongInputs = outputsAmongInputs(outputFolder, inputs.paths);
    const scanned = await scanInputs(inputs, amongInputs ? [] : [outputFolder]);
    const files: (PreflightFile & ScannedFile)[] = [];
    for (const file of scanned) {
      // Entries the scan already refused (special files, links, unreadable folders) are never opened.
      const header = file.problem ?? (await this.readUsableHeader(file.inputPath, settings));
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
    // The rerun rules, before anything is estimated: outputs an earlier run made from the same
    // photos with the same settings are counted, not estimated (nor redone).
    const { upToDate, ours } = await this.rerunState(files, settings, outputFolder);
    const toDo = files.filter((file) => !upToDate.has(file.inputPath));
    await this.ensureSpeeds(settings, toDo);
    // After the calibrations: their figures are in the planner's speed log.
    const planner = this.plannerFor(settings);
    const estimate = await estimateJob({
      files: toDo,
      settings,
      outputFolder,
      runFor: (jpegQuality, scale) => planner.runFor(jpegQuality, scale),
      queuedOutputBytes: await this.pendingOutputBytesOn(outputFolder),
      upToDate: upToDate.size,
    });
    estimate.warnings = [
      ...this.outputs
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
    files: readonly (PreflightFile & ScannedFile)[],
    settings: ExportSettings,
    outputFolder: string,
  ): Promise<{ upToDate: Map<string, string>; ours: Set<string> }> {
    const upToDate = new Map<string, string>();
    const ours = new Set<string>();
    const manifest = await this.outputs.read(outputFolder);
    if (!manifest.trusted) return { upToDate, ours };
    const models = this.upscaler.listModels();
    const modelName = this.modelName(settings);
    const createdAt = new Date().toISOString();
    for (const file of files) {
      if (!file.header || file.problem) continue;
      try {
        const size = resolveTargetSize(file.header, settings.target);
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
    }
    return { upToDate, ours };
  }

  /**
   * The header of a file that will be processed, or why it cannot be: besides what
   * `readImageHeader` finds, an input over the engine's pixel limit and an output over its
   * size limit are refused from the header's numbers (a decompression bomb never reaches
   * the estimate or the decoder).
   */
  private async readUsableHeader(
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
    } catch {
      // scale-out-of-range: the pre-flight and the run report it with the target's own words.
    }
    return header;
  }

  /** The model name `{model}` expands to: the job's model, or the default on this hardware. */
  private modelName(settings: ExportSettings): string {
    return (
      resolveModel(this.upscaler.listModels(), settings.model)?.name ?? settings.model ?? 'cmsc'
    );
  }

  /** What unfinished jobs will still write on the volume of `folder`, from their pre-flight estimates. */
  private async pendingOutputBytesOn(folder: string): Promise<number> {
    const volume = await volumeOf(folder);
    let pending = 0;
    for (const job of this.jobList) {
      if (job.state === 'finished' || job.state === 'cancelled') continue;
      if ((await volumeOf(job.outputFolder)) !== volume) continue;
      let total = 0;
      let remaining = 0;
      for (const file of job.files) {
        const pixels = expectedOutputPixels(job.settings, file);
        total += pixels;
        if (file.state === 'queued' || file.state === 'running') remaining += pixels;
      }
      const estimate = this.estimatedOutputBytes.get(job.id) ?? 0;
      if (total > 0) pending += (estimate * remaining) / total;
    }
    return Math.round(pending);
  }

  private requireJob(jobId: string): Job {
    const job = this.jobList.find((j) => j.id === jobId);
    if (!job) throw new Error(`no job ${jobId} in the queue`);
    return job;
  }

  private requireFile(job: Job, fileId: number): JobFile {
    const file = job.files[fileId];
    if (!file || file.id !== fileId) throw new Error(`job ${job.id} has no file ${fileId}`);
    return file;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('the batch queue is closed');
  }

  private persist(): Promise<void> {
    return this.store.save(this.jobList, this.estimatedOutputBytes);
  }

  private emit(event: BatchEvent): void {
    this.events.emit(event);
  }

  private emitFile(job: Job, file: JobFile): void {
    this.emit({ type: 'file-state', jobId: job.id, file: structuredClone(file) });
  }

  private emitProgress(job: Job): void {
    this.emit({ type: 'progress', progress: this.computeProgress(job) });
  }
}

/**
 * True when `outputPath` has the given dimensions (and byte size, when recorded): a finished
 * output, not a damaged or foreign file. Outputs only ever appear complete (written, fsynced,
 * renamed), so this guards against changes made after the fact.
 */
async function isExpectedOutput(
  outputPath: string | null,
  width: number | null,
  height: number | null,
  bytes: number | null = null,
): Promise<boolean> {
  if (!outputPath || width === null || height === null) return false;
  try {
    if (bytes !== null && (await stat(outputPath)).size !== bytes) return false;
    const metadata = await sharp(outputPath, { limitInputPixels: false }).metadata();
    return metadata.width === width && metadata.height === height;
  } catch {
    return false;
  }
}

/**
 * True when a file's size differs from the one the job recorded: it was replaced (a truncated
 * download finished, a placeholder swapped for the photo), so a content failure may not recur.
 */
async function changedSinceScan(file: JobFile): Promise<boolean> {
  const info = await stat(file.inputPath).catch(() => null);
  return info !== null && info.size !== file.inputBytes;
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
  };
}

/** Entries the scan refused without opening them; they never run. */
function isScanProblem(file: ScannedFile): file is ScannedFile & { problem: FileReason } {
  return file.problem !== null;
}

function newJobId(): string {
  return `job-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}
