/**
 * A job on the queue as its submitter sees it: putting a planned job's files on the queue as
 * tasks, and following them until every file has its outcome. One implementation for every
 * submitter: the CLI (`cmsc-upscale FOLDER --queue …`) prints what it hears, the app turns it
 * into the batch screen's events (src/main/api/queuedJobs.ts).
 */
import { QueueEvents } from 'bullmq';
import type { Job, JobFile } from '../../shared/jobs.ts';
import type { ModelSummary } from '../../shared/upscaleOptions.ts';
import { isFinal, printable } from '../cli/runCli.ts';
import { jobQueueName, KEY_PREFIX, type ClusterStore } from './clusterStore.ts';
import { bullConnection, connectionProblem, type QueueAddress } from './queueConnection.ts';
import {
  JOB_SPEC_VERSION,
  modelSnapshot,
  reasonFromText,
  taskFor,
  taskId,
  type JobSpec,
} from './taskPayload.ts';

/** Attempts per file: a transient failure (lost connection, out of memory) is retried. */
export const TASK_ATTEMPTS = 4;
/** The first retry waits this long; each next one twice as long (2, 4, 8 s). */
const RETRY_BACKOFF_MS = 2000;
/** Tasks per round trip when a job is put on the queue. */
const ADD_CHUNK = 1000;

/** The spec workers read for a job just planned (its files as tasks are added separately). */
export function specForJob(job: Job, models: readonly ModelSummary[]): JobSpec {
  return {
    v: JOB_SPEC_VERSION,
    id: job.id,
    createdAt: job.createdAt,
    inputs: job.inputs,
    settings: job.settings,
    outputFolder: job.outputFolder,
    models: modelSnapshot(job.settings, models),
    tasks: job.files.filter((file) => file.state === 'queued').length,
    files: job.files.length,
    state: 'active',
  };
}

/**
 * Puts a planned job on the queue. The file list first, then the spec, then the tasks, then
 * the command's entry: a kill at any point leaves either nothing the command resumes or a job
 * it can resume.
 */
export async function submitJob(
  store: ClusterStore,
  job: Job,
  spec: JobSpec,
  commandKey: string | null,
): Promise<void> {
  await store.saveFiles(job.id, job.files);
  await store.saveJob(spec);
  await addTasks(store, job);
  if (commandKey !== null) await store.setJobForCommand(commandKey, job.id);
}

/** A job's files as the submitter knows them, from its spec and planned file list. */
export function jobOfSpec(spec: JobSpec, files: JobFile[]): Job {
  return {
    id: spec.id,
    createdAt: spec.createdAt,
    inputs: spec.inputs,
    settings: spec.settings,
    outputFolder: spec.outputFolder,
    state: 'running',
    files,
    summary: null,
  };
}

/** Idempotent: a task already on the queue (waiting, done or failed) is not added again. */
export async function addTasks(store: ClusterStore, job: Job): Promise<void> {
  const queue = store.queue(job.id);
  const queued = job.files.filter((file) => file.state === 'queued');
  for (let start = 0; start < queued.length; start += ADD_CHUNK) {
    await queue.addBulk(
      queued.slice(start, start + ADD_CHUNK).map((file) => ({
        name: 'file',
        data: taskFor(job.id, file),
        opts: {
          jobId: taskId(file.id),
          attempts: TASK_ATTEMPTS,
          backoff: { type: 'exponential', delay: RETRY_BACKOFF_MS },
          // Kept: a rerun of the command reads its files' outcomes from them.
          removeOnComplete: false,
          removeOnFail: false,
        },
      })),
    );
  }
}

/** The outcome of every task that finished, onto the job's files; answers the files it changed. */
export async function fillOutcomes(store: ClusterStore, job: Job): Promise<JobFile[]> {
  const queue = store.queue(job.id);
  const changed: JobFile[] = [];
  for (const state of ['completed', 'failed'] as const) {
    const tasks = await queue.getJobs([state], 0, -1);
    for (const task of tasks) {
      const file = applyOutcome(
        job,
        task.id ?? '',
        state === 'completed' ? task.returnvalue : undefined,
        task.failedReason,
      );
      if (file) changed.push(file);
    }
  }
  return changed;
}

/** One finished task onto its file; the file when it changed, else null. */
function applyOutcome(
  job: Job,
  id: string,
  returnvalue: unknown,
  failedReason: string | undefined,
): JobFile | null {
  const fileId = Number.parseInt(id.replace(/^f/, ''), 10);
  const file = job.files[fileId];
  if (!file || isFinal(file)) return null;
  if (returnvalue !== undefined && returnvalue !== null) {
    const result = (
      typeof returnvalue === 'string' ? JSON.parse(returnvalue) : returnvalue
    ) as JobFile;
    Object.assign(file, result, {
      id: file.id,
      inputPath: file.inputPath,
      relativePath: file.relativePath,
    });
  } else {
    file.state = 'failed';
    file.reason = reasonFromText(failedReason);
    file.outputPath = null;
  }
  return file;
}

/** What a submitter hears while it follows its job. */
export interface JobFollower {
  /** A file reached its outcome (done, skipped or failed for good). */
  file(file: JobFile): void;
  /**
   * A worker's photo advanced. `jobEtaMs` is the whole job's time left at the pace the workers
   * finish files in this run; null until the first file finished (no pace yet).
   */
  progress(
    fileId: number,
    tilesDone: number,
    tilesTotal: number,
    fileEtaMs: number | null,
    jobEtaMs: number | null,
  ): void;
  /** Something people should know (a refusal, no worker yet, a stall, reconnecting). */
  note(text: string): void;
}

/**
 * Follows a job on the queue until every file has its outcome or `stop` aborts; the job's
 * files are updated in place. Events can be missed across a Redis restart, so the queue's
 * counts are read every second and are the truth.
 */
export async function followQueuedJob(
  store: ClusterStore,
  address: QueueAddress,
  job: Job,
  follower: JobFollower,
  stop: AbortSignal | undefined,
  started = performance.now(),
): Promise<void> {
  const finished = (): number => job.files.filter(isFinal).length;
  /** Files that are tasks on the queue (not up to date or refused at planning). */
  const tasks = new Set(
    job.files.filter((file) => !isFinal(file) || file.attempts > 0).map((file) => file.id),
  );
  const queue = store.queue(job.id);
  /** The job's time left: the files left at the rate the workers together finish them. */
  const finishedAtStart = finished();
  const jobEta = (): number | null => {
    const doneNow = finished() - finishedAtStart;
    if (doneNow === 0) return null;
    const perFile = (performance.now() - started) / doneNow;
    return Math.round(perFile * (job.files.length - finished()));
  };
  let lastNote = 0;
  const connectionNote = (error: unknown): void => {
    if (Date.now() - lastNote < 10_000) return;
    lastNote = Date.now();
    follower.note(`${connectionProblem(address, error)}; reconnecting`);
  };
  const fileOf = (jobId: string): number => Number.parseInt(jobId.replace(/^f/, ''), 10);
  const events = new QueueEvents(jobQueueName(job.id), {
    connection: bullConnection(address),
    prefix: KEY_PREFIX,
  });
  events.on('error', connectionNote);
  events.on('completed', ({ jobId, returnvalue }) => {
    const file = applyOutcome(job, jobId, returnvalue, undefined);
    if (file) follower.file(file);
  });
  events.on('failed', ({ jobId, failedReason }) => {
    // A failure that will be retried is not the file's outcome: only a task now failed for good.
    void queue
      .getJob(jobId)
      .then(async (task) => {
        if (!task || (await task.getState()) !== 'failed') return;
        const file = applyOutcome(job, jobId, undefined, failedReason);
        if (file) follower.file(file);
      })
      .catch(connectionNote);
  });
  events.on('progress', ({ jobId, data }) => {
    const progress = data as { tilesDone?: number; tilesTotal?: number; etaMs?: number | null };
    if (typeof progress?.tilesDone === 'number' && typeof progress.tilesTotal === 'number')
      follower.progress(
        fileOf(jobId),
        progress.tilesDone,
        progress.tilesTotal,
        progress.etaMs ?? null,
        jobEta(),
      );
  });
  events.on('stalled', ({ jobId }) => {
    follower.note(
      `the worker of ${printable(job.files[fileOf(jobId)]?.inputPath ?? jobId)} stopped answering; the file goes back to the queue`,
    );
  });

  const stopped = new Promise<void>((resolve) => {
    if (stop?.aborted) resolve();
    stop?.addEventListener('abort', () => resolve(), { once: true });
  });
  const toldRefusals = new Set<string>();
  let toldNoWorker = false;
  try {
    await events.waitUntilReady().catch(connectionNote);
    while (finished() < job.files.length && !stop?.aborted) {
      try {
        const counts = await queue.getJobCounts(
          'completed',
          'failed',
          'waiting',
          'prioritized',
          'active',
          'delayed',
        );
        const doneOnQueue = (counts.completed ?? 0) + (counts.failed ?? 0);
        const onQueue = Object.values(counts).reduce((sum, n) => sum + (n ?? 0), 0);
        // Redis restarted from an append-only file a second behind: tasks added in that second
        // are gone. Adding is idempotent (ids per file), so what is missing is added again.
        if (onQueue < tasks.size) await addTasks(store, job);
        const fromQueue = job.files.filter((f) => tasks.has(f.id) && isFinal(f)).length;
        if (doneOnQueue > fromQueue)
          for (const file of await fillOutcomes(store, job)) follower.file(file);
        for (const [worker, reason] of Object.entries(await store.refusals(job.id))) {
          if (toldRefusals.has(worker)) continue;
          toldRefusals.add(worker);
          follower.note(`worker ${worker} refuses this job: ${reason}`);
        }
        if (!toldNoWorker && (await store.workers()).length === 0) {
          toldNoWorker = true;
          follower.note(
            `no worker is connected to ${address.display} yet; start one with: cmsc-upscale worker --queue ${address.display} --allow-output ${job.outputFolder}`,
          );
        }
      } catch (error) {
        connectionNote(error);
      }
      await Promise.race([new Promise((resolve) => setTimeout(resolve, 1000)), stopped]);
    }
  } finally {
    await events.close().catch(() => undefined);
  }
}
