/**
 * `cmsc-upscale worker`: a long-lived process that takes files of any job from the queue and
 * runs each through the same write path as a local run (src/main/batch/fileRun.ts), on its own
 * device. It works on one job at a time, oldest first, and only on jobs whose model files match
 * its own and whose output folder lies inside its roots; it refuses the others in one line (and
 * tells the job), so a worker with the right models or mounts takes them. Every task is checked
 * before it runs: a payload that does not validate or a path outside the roots fails with a
 * reason and is never executed.
 */
import { randomBytes } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { UnrecoverableError, WaitingError, Worker, type Job as BullJob } from 'bullmq';
import type { Job, JobFile } from '../../shared/jobs.ts';
import type { Device } from '../../shared/upscaleOptions.ts';
import { runFile, type FilePlanner, type OutputAccess } from '../batch/fileRun.ts';
import type { ImageUpscaler } from '../batch/imageUpscaler.ts';
import { OutputManifest } from '../batch/outputManifest.ts';
import { deleteTemporaryOutputs } from '../batch/outputPlan.ts';
import { failureReason } from '../batch/outputRecord.ts';
import { ClusterStore, jobQueueName, KEY_PREFIX, type WorkerBeat } from './clusterStore.ts';
import { PathNotAllowed, type PathPolicy } from './pathPolicy.ts';
import { bullConnection, connectionProblem, type QueueAddress } from './queueConnection.ts';
import {
  InvalidPayload,
  isTransient,
  modelMismatch,
  parseTask,
  reasonText,
  type JobSpec,
} from './taskPayload.ts';

export interface ClusterWorkerOptions {
  address: QueueAddress;
  upscaler: ImageUpscaler;
  planner: FilePlanner;
  policy: PathPolicy;
  device: Device;
  concurrency: number;
  /** How often BullMQ looks for files whose worker died (default 30 s). */
  stalledIntervalMs: number;
  /** How long a file stays taken without its worker renewing the lock (default 30 s). */
  lockDurationMs: number;
  /** One line per file and per event. */
  log: (line: string) => void;
  /** The per-file line, as the CLI writes it. */
  fileLine: (file: JobFile) => string;
  /** How often the list of jobs is read (default 500 ms). */
  pollMs?: number;
}

/** A file whose stall repeats this often fails (a photo that kills its worker every time). */
const MAX_STALLED_COUNT = 3;
const BEAT_MS = 5000;

interface CurrentJob {
  spec: JobSpec;
  worker: Worker;
}

export class ClusterWorker {
  readonly id = `${hostname()}:${process.pid}`;
  private readonly store: ClusterStore;
  private current: CurrentJob | null = null;
  /** Jobs this worker refused, with why (said once). */
  private readonly refused = new Map<string, string>();
  /** Jobs whose output folder was swept of temporary outputs. */
  private readonly swept = new Set<string>();
  private readonly running = new Set<AbortController>();
  private handingBack = false;
  private done = 0;
  private failed = 0;
  private readonly recent: number[] = [];
  /** Photos being upscaled now (the job's paths), for the heartbeat. */
  private readonly currentFiles = new Set<string>();
  private lastProvider: string | null = null;
  private lastConnectionNote = 0;
  private readonly startedAt = new Date().toISOString();

  constructor(private readonly options: ClusterWorkerOptions) {
    this.store = new ClusterStore(options.address);
    this.store.redis.on('error', (error) => this.connectionNote(error));
  }

  /**
   * Works until `stop` aborts, then finishes the files it holds; when `handBack` aborts too,
   * the files it holds are abandoned (their temporary outputs removed) and put back on the
   * queue at once for another worker.
   */
  async run(stop: AbortSignal, handBack: AbortSignal): Promise<{ done: number; failed: number }> {
    const onHandBack = (): void => {
      this.handingBack = true;
      for (const controller of this.running) controller.abort(new Error('handed back'));
    };
    handBack.addEventListener('abort', onHandBack, { once: true });
    const beat = setInterval(() => void this.beat(), BEAT_MS);
    await this.beat();
    try {
      // A look at the jobs waits for Redis while it is gone; a stop does not wait for it.
      const stopped = new Promise<void>((resolve) => {
        if (stop.aborted) resolve();
        stop.addEventListener('abort', () => resolve(), { once: true });
      });
      while (!stop.aborted) {
        try {
          await Promise.race([this.choose(), stopped]);
        } catch (error) {
          this.connectionNote(error);
        }
        await sleep(this.options.pollMs ?? 500, stop);
      }
      // The files it holds finish (or are handed back); with Redis gone for 10 s there is
      // nothing to hand them to, and the stall check gives them to another worker later.
      await this.whileReachable(this.leave());
    } finally {
      clearInterval(beat);
      handBack.removeEventListener('abort', onHandBack);
      await this.whileReachable(this.store.forgetWorker(this.id).catch(() => undefined));
      await this.whileReachable(this.store.close());
    }
    return { done: this.done, failed: this.failed };
  }

  /** `work`, or less once Redis has been unreachable for 10 s in a row (a stop must not hang). */
  private async whileReachable(work: Promise<unknown>): Promise<void> {
    let settled = false;
    const done = work.then(
      () => undefined,
      () => undefined,
    );
    void done.then(() => (settled = true));
    let down = 0;
    while (!settled && down < 10_000) {
      await Promise.race([done, new Promise((resolve) => setTimeout(resolve, 500))]);
      down = this.store.redis.status === 'ready' ? 0 : down + 500;
    }
  }

  /** Picks the job to work on: the oldest active one it accepts that has files waiting. */
  private async choose(): Promise<void> {
    const { specs, problems } = await this.store.jobs();
    for (const { id, problem } of problems)
      await this.refuse(id, `its job record does not validate: ${problem}`);
    // The oldest job with files waiting; else the current one while it has files left; else
    // the oldest with files only retrying or running: someone must stay on a job to run its
    // stalled check (a file whose worker died, or whose completion was lost with Redis, is put
    // back only by a worker of that job).
    let withWaiting: JobSpec | null = null;
    let unfinished: JobSpec | null = null;
    let currentLeft = false;
    for (const spec of specs) {
      if (spec.state !== 'active') continue;
      const refusal = await this.refusalOf(spec);
      if (refusal !== null) {
        await this.refuse(spec.id, refusal);
        continue;
      }
      const counts = await this.store
        .queue(spec.id)
        .getJobCounts('waiting', 'prioritized', 'delayed', 'active');
      const waiting = (counts.waiting ?? 0) + (counts.prioritized ?? 0);
      const left = waiting + (counts.delayed ?? 0) + (counts.active ?? 0);
      if (left === 0) {
        await this.sweep(spec);
        continue;
      }
      if (spec.id === this.current?.spec.id) currentLeft = true;
      if (waiting > 0) {
        withWaiting = spec;
        break;
      }
      unfinished ??= spec;
    }
    const chosen = withWaiting ?? (currentLeft ? this.current!.spec : unfinished);
    if (this.current && this.current.spec.id !== chosen?.id) await this.leave();
    if (!this.current && chosen) this.join(chosen);
  }

  /**
   * Once a job has nothing waiting or running, the temporary outputs a killed worker left in
   * its output folder are deleted (each attempt names its own; none is being written now).
   */
  private async sweep(spec: JobSpec): Promise<void> {
    if (this.swept.has(spec.id)) return;
    // Only once every task ended (not while the submitter is still adding them).
    const counts = await this.store.queue(spec.id).getJobCounts('completed', 'failed');
    if ((counts.completed ?? 0) + (counts.failed ?? 0) < spec.tasks) return;
    this.swept.add(spec.id);
    const folder = await this.options.policy.outputFolder(spec.outputFolder);
    for (const deleted of await deleteTemporaryOutputs(folder, spec.id).catch(() => []))
      this.options.log(`note removed ${deleted}, left by a stopped worker`);
    // A job submitted with --detach has no submitter to say it is finished.
    const now = await this.store.job(spec.id);
    if (now?.state === 'active') await this.store.setState(spec.id, 'finished');
  }

  /** Why this worker cannot run `spec`'s files, or null. */
  private async refusalOf(spec: JobSpec): Promise<string | null> {
    const mismatch = modelMismatch(spec.models, this.options.upscaler.listModels());
    if (mismatch) return `its model files differ from this worker's (${mismatch})`;
    try {
      await this.options.policy.outputFolder(spec.outputFolder);
    } catch (error) {
      if (error instanceof PathNotAllowed) return error.message;
      throw error;
    }
    return null;
  }

  private async refuse(jobId: string, reason: string): Promise<void> {
    if (this.refused.get(jobId) === reason) return;
    this.refused.set(jobId, reason);
    this.options.log(`refuse ${jobId}: ${reason}`);
    await this.store.refuse(jobId, this.id, reason);
  }

  private join(spec: JobSpec): void {
    const worker = new Worker(
      jobQueueName(spec.id),
      (task, token) => this.process(spec, task, token),
      {
        connection: bullConnection(this.options.address),
        prefix: KEY_PREFIX,
        concurrency: this.options.concurrency,
        stalledInterval: this.options.stalledIntervalMs,
        lockDuration: this.options.lockDurationMs,
        maxStalledCount: MAX_STALLED_COUNT,
      },
    );
    worker.on('error', (error) => this.connectionNote(error));
    this.current = { spec, worker };
    this.options.log(
      `job  ${spec.id}: taking its files (${spec.tasks} queued, output ${spec.outputFolder})`,
    );
  }

  /** Stops taking files of the current job; the ones running finish (or are handed back). */
  private async leave(): Promise<void> {
    const current = this.current;
    if (!current) return;
    this.current = null;
    await current.worker.close();
  }

  /** One task: validated, its paths checked, then the shared write path. */
  private async process(spec: JobSpec, task: BullJob, token: string | undefined): Promise<JobFile> {
    const fail = (code: 'invalid-task' | 'not-allowed', message: string): never => {
      this.failed++;
      this.options.log(`FAIL ${spec.id} task ${task.id}: ${message} (${code})`);
      throw new UnrecoverableError(reasonText({ code, message }));
    };
    let payload;
    try {
      payload = parseTask(task.data);
    } catch (error) {
      if (error instanceof InvalidPayload) return fail('invalid-task', error.message);
      throw error;
    }
    if (payload.jobId !== spec.id)
      return fail(
        'invalid-task',
        `the task names job ${payload.jobId}, but it is on job ${spec.id}'s queue`,
      );
    const policy = this.options.policy;
    let inputPath: string;
    let outputFolder: string;
    try {
      outputFolder = await policy.outputFolder(spec.outputFolder);
      inputPath = await policy.input(payload.inputPath);
    } catch (error) {
      if (error instanceof PathNotAllowed) return fail('not-allowed', error.message);
      throw error;
    }
    const job: Job = {
      id: spec.id,
      createdAt: spec.createdAt,
      inputs: { ...spec.inputs, paths: spec.inputs.paths.map((p) => policy.map(p)) },
      // The worker's own device: a GPU worker and CPU workers share one job.
      settings: { ...spec.settings, device: this.options.device, outputFolder },
      outputFolder,
      state: 'running',
      files: [],
      summary: null,
    };
    const file: JobFile = {
      id: payload.fileId,
      inputPath,
      relativePath: payload.relativePath,
      inputBytes: payload.inputBytes,
      inputWidth: payload.inputWidth,
      inputHeight: payload.inputHeight,
      ...(payload.inputJpegQuality !== undefined
        ? { inputJpegQuality: payload.inputJpegQuality }
        : {}),
      state: 'running',
      reason: null,
      outputPath: null,
      outputBytes: null,
      outputWidth: null,
      outputHeight: null,
      elapsedMs: null,
      provider: null,
      attempts: task.attemptsMade + 1,
    };
    const controller = new AbortController();
    this.running.add(controller);
    this.currentFiles.add(payload.inputPath);
    // Said at once, so the Workers view shows what this machine took.
    void this.beat();
    let lastProgress = 0;
    try {
      const outcome = await runFile(
        {
          upscaler: this.options.upscaler,
          planner: this.options.planner,
          outputs: this.outputAccess(),
          // The job's inputs are never written over (a clash takes a counter).
          reserved: new Set([inputPath, ...job.inputs.paths]),
          onNote: (note) => this.options.log(`note ${note}`),
          tempTag: `${spec.id}.${randomBytes(4).toString('hex')}`,
        },
        job,
        file,
        {
          signal: controller.signal,
          onProgress: (progress) => {
            const now = Date.now();
            if (now - lastProgress < 500 && progress.tilesDone < progress.tilesTotal) return;
            lastProgress = now;
            void task
              .updateProgress({
                tilesDone: progress.tilesDone,
                tilesTotal: progress.tilesTotal,
                etaMs: progress.etaMs,
              })
              .catch(() => undefined);
          },
        },
      );
      if (outcome.kind === 'done') {
        file.state = 'done';
        file.outputPath = outcome.outputPath;
        file.outputBytes = (await stat(outcome.outputPath)).size;
        file.outputWidth = outcome.size.width;
        file.outputHeight = outcome.size.height;
        file.elapsedMs = outcome.elapsedMs;
        file.provider = outcome.provider;
        this.lastProvider = outcome.provider;
      } else {
        file.state = 'skipped';
        file.reason = outcome.reason;
        file.outputPath = outcome.outputPath;
      }
    } catch (error) {
      if (controller.signal.aborted && this.handingBack) {
        // Stopping now: the file goes back on the queue for another worker, no attempt spent.
        this.options.log(`back ${spec.id} ${payload.inputPath}: handed back to the queue`);
        await task.moveToWait(token);
        throw new WaitingError();
      }
      const reason = failureReason(error);
      file.state = 'failed';
      file.reason = reason;
      file.inputPath = payload.inputPath;
      const attempts = task.opts.attempts ?? 1;
      const transient = isTransient(reason);
      if (transient && task.attemptsMade + 1 < attempts) {
        this.options.log(
          `retry ${spec.id} ${payload.inputPath}: ${reason.message} (${reason.code}); attempt ${task.attemptsMade + 1} of ${attempts}`,
        );
        throw new Error(reasonText(reason));
      }
      this.failed++;
      this.options.log(`${spec.id} ${this.options.fileLine(file)}`);
      throw transient ? new Error(reasonText(reason)) : new UnrecoverableError(reasonText(reason));
    } finally {
      this.running.delete(controller);
      this.currentFiles.delete(payload.inputPath);
    }
    // Paths in the job's terms: the submitter and the report see its own mounts.
    file.inputPath = payload.inputPath;
    if (file.outputPath !== null) file.outputPath = policy.unmap(file.outputPath);
    this.done++;
    this.recent.push(Date.now());
    this.options.log(`${spec.id} ${this.options.fileLine(file)}`);
    return file;
  }

  /**
   * The output folder as workers on several machines share it: decide on a fresh read of the
   * manifest, upscale unlocked, then decide again and commit under a Redis lock on the folder.
   */
  private outputAccess(): OutputAccess {
    const policy = this.options.policy;
    return {
      exclusive: false,
      open: async (folder) => (await OutputManifest.open(folder)).manifest,
      withFolder: (folder, signal, commit) =>
        this.store.withFolderLock(policy.unmap(folder), signal, async () =>
          commit((await OutputManifest.open(folder)).manifest),
        ),
    };
  }

  private async beat(): Promise<void> {
    const now = Date.now();
    while (this.recent.length > 0 && now - this.recent[0]! > 60_000) this.recent.shift();
    const beat: WorkerBeat = {
      id: this.id,
      host: hostname(),
      pid: process.pid,
      device: this.options.device,
      concurrency: this.options.concurrency,
      startedAt: this.startedAt,
      seenAt: new Date(now).toISOString(),
      done: this.done,
      failed: this.failed,
      filesPerMinute: this.recent.length,
      jobId: this.current?.spec.id ?? null,
      currentFiles: [...this.currentFiles],
      provider: this.lastProvider,
    };
    await this.store.beat(beat).catch(() => undefined);
  }

  /** Connection trouble, said at most every 10 s; ioredis reconnects meanwhile. */
  private connectionNote(error: unknown): void {
    const now = Date.now();
    if (now - this.lastConnectionNote < 10_000) return;
    this.lastConnectionNote = now;
    this.options.log(`note ${connectionProblem(this.options.address, error)}; reconnecting`);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
