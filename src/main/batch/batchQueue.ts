/**
 * The batch queue: jobs in order, one image at a time, every state change persisted before it
 * matters, so that a crash or kill at any moment resumes where it stopped. Plain Node (no
 * Electron): the desktop app, the web server and the command line drive the same class.
 */
import { randomBytes } from 'node:crypto';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { ExecutionProvider } from '../../shared/upscaleOptions.ts';
import type {
  BatchEvent,
  BatchEventType,
  FileReason,
  Job,
  JobFile,
  JobProgress,
  JobState,
  PauseWhen,
  PreflightEstimate,
} from '../../shared/jobs.ts';
import { isRetryableFailure, isUpToDate } from '../../shared/jobs.ts';
import { KeepWorkRequest, keptFractionOf } from '../../shared/keptWork.ts';
import { BatchEventHub, type BatchListener, type Unsubscribe } from './batchEvents.ts';
import { runFile, type OutputAccess } from './fileRun.ts';
import type { ImageUpscaler } from './imageUpscaler.ts';
import type { ScannedFile } from './inputScan.ts';
import { JobPlanner, type AddJobRequest, type PlannedJob, type QueuedWork } from './jobPlanner.ts';
import { buildReport, summarizeJob, writeReport } from './jobReport.ts';
import { failureReason, OutputBook, upToDateReason } from './outputRecord.ts';
import { QueueStore, type JournalEntry } from './queueStore.ts';
import { recoverJobs } from './queueRecovery.ts';
import { deleteKeptRasters, resumedNote } from './keptPartials.ts';

export type { AddJobRequest } from './jobPlanner.ts';

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
  /** Things to tell the person while a job runs (another run holds the output folder). */
  onNote?: (message: string) => void;
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
  /** Tiles of this image kept by an earlier "Pause now" and not run again. */
  tilesReused?: number;
  /** The engine's own estimate for the rest of this image. */
  imageEtaMs: number | null;
  /** performance.now() when the engine gave `imageEtaMs`. */
  imageEtaAt?: number;
  /** performance.now() when the image started. */
  startedAt: number;
  /** Resolves once the outcome is recorded (and a cancelled job finalized). */
  settled: Promise<void>;
}

const ACTIVE_JOB_STATES: ReadonlySet<JobState> = new Set(['queued', 'running']);
/** How often a running photo reports progress when its tiles do not (one-tile photos). */
const PROGRESS_HEARTBEAT_MS = 1000;

export async function createBatchQueue(options: BatchQueueOptions): Promise<BatchQueue> {
  return BatchQueue.open(options);
}

export class BatchQueue {
  private readonly events = new BatchEventHub();
  private readonly store: QueueStore;
  /** Scans, estimates, this machine's speeds, and each job's progress tally. */
  private readonly planner: JobPlanner;
  private readonly upscaler: ImageUpscaler;
  /** The manifests of the output folders this queue reads and writes. */
  private readonly outputs = new OutputBook();
  /** This queue holds each output folder it writes for as long as it has work there. */
  private readonly outputAccess: OutputAccess = {
    exclusive: true,
    open: (folder, signal, onWait) => this.outputs.forWriting(folder, signal, onWait),
    withFolder: async (folder, signal, commit) =>
      commit(await this.outputs.forWriting(folder, signal)),
  };
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
  /** Per job, the index before which no file is queued (where the next look starts). */
  private readonly nextQueuedFrom = new Map<string, number>();
  /** Each job's pre-flight output estimate, persisted with the queue. */
  private estimatedOutputBytes = new Map<string, number>();
  /** Problems found while loading the persisted queue. */
  readonly loadWarnings: string[] = [];

  private constructor(private readonly options: BatchQueueOptions) {
    this.store = new QueueStore(options.stateDir);
    this.upscaler = options.upscaler;
    this.planner = new JobPlanner({
      upscaler: options.upscaler,
      stateDir: options.stateDir,
      speedFile: options.speedFile ?? path.join(options.stateDir, 'speed.json'),
      outputs: this.outputs,
      isBusy: () => this.running !== null,
      warn: (message) => this.loadWarnings.push(message),
    });
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
    return job
      ? this.planner.progress(
          job,
          this.runningOf(job),
          this.estimatedOutputBytes.get(job.id) ?? null,
        )
      : null;
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
    const { estimate } = await this.planner.plan(request, this.queuedWork());
    return estimate;
  }

  /**
   * Scans the inputs, checks the pre-flight and queues the job with a snapshot of `settings`.
   * Throws PreflightRefusal when the outputs would not fit on the destination volume.
   */
  async addJob(request: AddJobRequest): Promise<Job> {
    this.assertOpen();
    const planned = await this.planner.plan(request, this.queuedWork());
    const job = jobFromPlan(planned);
    const { estimate } = planned;
    this.jobList.push(job);
    this.estimatedOutputBytes.set(job.id, estimate.estimatedOutputBytes);
    this.preflights.set(job.id, estimate);
    await this.persistJob(job);
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

  /**
   * Pauses a job: no further photo of it starts. `after-photo` (the default) lets the running
   * photo finish and keeps it; `now` stops it at once (its finished part kept for the resume),
   * and also turns a pause already waiting for its photo into an immediate one. Resolves once the pause
   * is recorded (`now`: once the running photo is stopped too).
   */
  async pauseJob(jobId: string, when: PauseWhen = 'after-photo'): Promise<void> {
    const job = this.requireJob(jobId);
    const pausingAfterPhoto = job.state === 'paused' && this.running?.jobId === jobId;
    if (!ACTIVE_JOB_STATES.has(job.state) && !(when === 'now' && pausingAfterPhoto)) return;
    // Abort before any await, so the image cannot finish while the state is being written.
    const running = this.running;
    const stopped = when === 'now' ? this.abortRunning(jobId, null, 'pause') : null;
    if (stopped && running) {
      // It waits again from this moment (the engine may take a tile's time to stop).
      const file = job.files[running.fileId];
      if (file?.state === 'running') {
        file.state = 'queued';
        this.emitFile(job, file);
      }
      // The counters stop at once, before the job says Paused: the abandoned photo's progress
      // no longer counts.
      this.emitProgress(job);
    }
    await this.setJobState(job, 'paused');
    await stopped;
  }

  async resumeJob(jobId: string): Promise<void> {
    const job = this.requireJob(jobId);
    if (job.state !== 'paused') return;
    // Resumed while its photo was finishing before the pause: it never stopped running.
    await this.setJobState(job, this.running?.jobId === jobId ? 'running' : 'queued');
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
    await this.persistJob(job);
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
      await this.persistFile(job, file);
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
      this.emitFile(job, file);
      count++;
    }
    if (count > 0 && (job.state === 'finished' || job.state === 'cancelled')) {
      job.state = 'queued';
      job.summary = null;
      this.emit({ type: 'job-state', jobId, state: 'queued' });
    }
    await this.persistJob(job);
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
    await this.persistEntry({ op: 'order', jobIds: this.jobList.map((j) => j.id) });
    this.emit({ type: 'queue-order', jobIds: this.jobList.map((j) => j.id) });
  }

  /** Removes a job that is not running from the queue (its outputs and report stay on disk). */
  async removeJob(jobId: string): Promise<void> {
    const job = this.requireJob(jobId);
    if (job.state === 'running' || this.running?.jobId === jobId) {
      throw new Error('a running job cannot be removed; cancel or pause it first');
    }
    this.jobList.splice(this.jobList.indexOf(job), 1);
    await deleteKeptRasters(job);
    this.reservedPaths.delete(jobId);
    this.estimatedOutputBytes.delete(jobId);
    this.nextQueuedFrom.delete(jobId);
    this.planner.noteJob(jobId);
    await this.persistEntry({ op: 'remove', jobId });
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
    await this.persistAll();
    await this.outputs.releaseAll();
    await this.store.unlock();
  }

  // ---- recovery ------------------------------------------------------------------------

  private async recover(): Promise<void> {
    await this.store.lock();
    const loaded = await this.store.load();
    this.loadWarnings.push(...loaded.warnings);
    await this.planner.open();
    this.jobList = loaded.jobs;
    this.estimatedOutputBytes = loaded.estimatedOutputBytes;
    await recoverJobs(this.jobList, this.loadWarnings);
    await this.persistAll();
  }

  // ---- the work loop -------------------------------------------------------------------

  private kick(): void {
    if (this.loop || this.closed || !this.started) return;
    // Nothing left to run: other processes may write our output folders now.
    this.loop = this.workLoop()
      .then(() => this.outputs.releaseAll())
      .finally(() => {
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
    this.emit({ type: 'queue-idle' });
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  /** The first queued file of the first active job; finishes jobs that have nothing left. */
  private async nextFile(): Promise<{ job: Job; file: JobFile } | null> {
    for (const job of this.jobList) {
      if (!ACTIVE_JOB_STATES.has(job.state)) continue;
      // From where the last look stopped: files before it are not queued (a file queued again
      // moves the mark back), so a job of n files costs O(n) in all, not O(n²).
      let index = this.nextQueuedFrom.get(job.id) ?? 0;
      while (index < job.files.length && job.files[index]!.state !== 'queued') index++;
      this.nextQueuedFrom.set(job.id, index);
      const file = job.files[index];
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
    const heartbeat = setInterval(() => {
      if (running.cause === null) this.emitProgress(job);
    }, PROGRESS_HEARTBEAT_MS);
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
    // Journalled without an fsync of its own (a kill keeps it; a power cut may lose it, and
    // the attempt is then only counted once).
    await this.persistFile(job, file);
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
          // Paused or shutting down: the image runs again later, from what "Pause now" kept.
          file.state = 'queued';
          const kept = keptFractionOf(error);
          if (kept === null) delete file.keptFraction;
          else file.keptFraction = kept;
          this.emitFile(job, file);
        }
      } else {
        file.elapsedMs = elapsed;
        this.setFileOutcome(job, file, 'failed', failureReason(error));
      }
    } finally {
      this.running = null;
    }
    await this.persistFile(job, file);
    this.emitProgress(job);
    if (job.state === 'cancelled') await this.finalizeJob(job, 'cancelled');
    // Paused after its last photo: nothing is left to resume, so it is finished.
    else if (job.state === 'paused' && !job.files.some((f) => f.state === 'queued'))
      await this.finalizeJob(job, 'finished');
  }

  /** One image through the shared write path (fileRun.ts); throws on failure, records the outcome otherwise. */
  private async upscaleOne(job: Job, file: JobFile, running: RunningFile): Promise<void> {
    const outcome = await runFile(
      {
        upscaler: this.upscaler,
        planner: this.planner,
        outputs: this.outputAccess,
        reserved: this.reservedFor(job),
        onNote: (note) => {
          if (this.options.onNote) this.options.onNote(note);
          else this.loadWarnings.push(note);
        },
      },
      job,
      file,
      {
        signal: running.controller.signal,
        onProgress: (progress) => {
          if (running.cause !== null) return;
          running.tilesDone = progress.tilesDone;
          running.tilesTotal = progress.tilesTotal;
          if (progress.tilesReused) running.tilesReused = progress.tilesReused;
          running.imageEtaMs = progress.etaMs;
          running.imageEtaAt = performance.now();
          this.emitProgress(job);
        },
      },
    );
    if (outcome.kind === 'done') {
      if (running.tilesReused) resumedNote(file, running.tilesReused, running.tilesTotal);
      await this.markDone(
        job,
        file,
        outcome.outputPath,
        outcome.size,
        outcome.elapsedMs,
        outcome.provider,
      );
    } else {
      this.setFileOutcome(job, file, 'skipped', outcome.reason);
      file.outputPath = outcome.outputPath;
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
    // The next estimates of this format and quality learn what it took (a figure that cannot
    // be saved must not fail a photo that is written and recorded).
    await this.planner.recordOutput(job.settings, file).catch(() => undefined);
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
    // Nothing of it will resume: what "Pause now" kept goes (a photo cancelled while paused).
    await deleteKeptRasters(job);
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
    await this.persistState(job);
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
    // Only "Pause now" aborts with 'pause' (a plain pause waits for the photo): its finished
    // part is kept for the resume. Cancel and closing throw it away.
    running.controller.abort(
      cause === 'pause' ? new KeepWorkRequest('batch: pause now') : new Error(`batch: ${cause}`),
    );
  }

  private setFileOutcome(
    job: Job,
    file: JobFile,
    state: JobFile['state'],
    reason: FileReason | null,
  ): void {
    file.state = state;
    file.reason = reason;
    // Done, failed, skipped or cancelled: nothing of the photo is kept for a later run.
    delete file.keptFraction;
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
    await this.persistState(job);
    this.emit({ type: 'job-state', jobId: job.id, state });
  }

  /** What is queued already, for a new job's disk-space check. */
  private queuedWork(): QueuedWork {
    return { jobs: this.jobList, estimatedOutputBytes: this.estimatedOutputBytes };
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

  /** A snapshot of the whole queue (at open and close, and when the journal has grown). */
  private persistAll(): Promise<void> {
    return this.store.save(this.jobList, this.estimatedOutputBytes);
  }

  /** One change in the journal: O(1) per file, whatever the queue's size. */
  private async persistEntry(entry: JournalEntry, durable = true): Promise<void> {
    if (await this.store.append(entry, durable)) await this.persistAll();
  }

  /** A whole job (added, cancelled, retried): O(its files), once per such action. */
  private persistJob(job: Job): Promise<void> {
    const estimate = this.estimatedOutputBytes.get(job.id);
    return this.persistEntry({
      op: 'job',
      job,
      ...(estimate !== undefined ? { estimatedOutputBytes: estimate } : {}),
    });
  }

  private persistState(job: Job): Promise<void> {
    return this.persistEntry({
      op: 'state',
      jobId: job.id,
      state: job.state,
      summary: job.summary,
    });
  }

  /** A file's state: fsynced lazily (the manifest, durable before each rename, is the backstop). */
  private persistFile(job: Job, file: JobFile): Promise<void> {
    return this.persistEntry({ op: 'file', jobId: job.id, file }, false);
  }

  private emit(event: BatchEvent): void {
    this.events.emit(event);
  }

  private emitFile(job: Job, file: JobFile): void {
    this.planner.noteFile(job, file);
    if (file.state === 'queued' && file.id < (this.nextQueuedFrom.get(job.id) ?? 0))
      this.nextQueuedFrom.set(job.id, file.id);
    this.emit({ type: 'file-state', jobId: job.id, file: structuredClone(file) });
  }

  private emitProgress(job: Job): void {
    this.emit({
      type: 'progress',
      progress: this.planner.progress(
        job,
        this.runningOf(job),
        this.estimatedOutputBytes.get(job.id) ?? null,
      ),
    });
  }

  /**
   * The photo of `job` being upscaled, for its progress: none once it is being aborted (the
   * engine may take a tile's time to stop, and the counters must not move meanwhile).
   */
  private runningOf(job: Job): RunningFile | null {
    const running = this.running;
    return running?.jobId === job.id && running.cause === null ? running : null;
  }
}

/**
 * A planned job as the queue keeps it: every file found, with those the scan refused failed at
 * once and those whose output is up to date skipped at once. Throws when there is nothing to
 * upscale, and PreflightRefusal when the outputs would not fit. One implementation for the
 * local queue and a job put on the cluster queue (src/main/cluster/).
 */
export function jobFromPlan(planned: PlannedJob, id: string = newJobId()): Job {
  const { estimate, files, upToDate, settings, outputFolder, inputs } = planned;
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
  return {
    id,
    createdAt: new Date().toISOString(),
    inputs,
    settings,
    outputFolder,
    state: 'queued',
    files: files.map((file, index): JobFile => {
      const upToDateOutput = upToDate.get(file.inputPath) ?? null;
      return {
        id: index,
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
            ? upToDateReason()
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
}

/**
 * True when a file's size differs from the one the job recorded: it was replaced (a truncated
 * download finished, a placeholder swapped for the photo), so a content failure may not recur.
 */
async function changedSinceScan(file: JobFile): Promise<boolean> {
  const info = await stat(file.inputPath).catch(() => null);
  return info !== null && info.size !== file.inputBytes;
}

/** Entries the scan refused without opening them; they never run. */
function isScanProblem(file: ScannedFile): file is ScannedFile & { problem: FileReason } {
  return file.problem !== null;
}

export function newJobId(): string {
  return `job-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}
