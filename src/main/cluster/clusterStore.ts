/**
 * The queue's shape in Redis. BullMQ holds the tasks: one BullMQ queue per job
 * (`cmsc:job-<id>:…`), so a job pauses, resumes, counts and cancels on its own. Beside them,
 * a few keys of ours: the job specs (`cmsc:jobs`), which command made which job (so the same
 * command resumes it), each job's planned file list (its report), workers' refusals and the
 * workers' heartbeats.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import type { JobFile } from '../../shared/jobs.ts';
import { bullConnection, persistentOptions, type QueueAddress } from './queueConnection.ts';
import { parseJobSpec, type ClusterJobState, type JobSpec } from './taskPayload.ts';

export const KEY_PREFIX = 'cmsc';
const JOBS_KEY = `${KEY_PREFIX}:jobs`;
const COMMANDS_KEY = `${KEY_PREFIX}:commands`;
const WORKERS_KEY = `${KEY_PREFIX}:workers`;

export function jobQueueName(jobId: string): string {
  return `job-${jobId}`;
}

/** What a worker says of itself every few seconds (the "Workers" view, `status`). */
export interface WorkerBeat {
  id: string;
  host: string;
  pid: number;
  device: string;
  concurrency: number;
  startedAt: string;
  seenAt: string;
  done: number;
  failed: number;
  /** Files finished in the last minute. */
  filesPerMinute: number;
  /** The job it is on, if any. */
  jobId: string | null;
  /** The photos it is upscaling now, in the job's terms (absent: a worker of an older build). */
  currentFiles?: string[];
  /** The provider its last photo ran on (`auto` resolved); absent before its first photo. */
  provider?: string | null;
}

/** A worker that has not beaten for this long is gone. */
export const WORKER_GONE_MS = 15_000;
/** A gone worker is still shown ("lost") this long, so people see which machine dropped out. */
export const WORKER_LOST_KEPT_MS = 10 * 60_000;

/** `working`: on a photo now; `idle`: connected with nothing to do; `lost`: stopped beating. */
export type WorkerState = 'working' | 'idle' | 'lost';

export interface SeenWorker extends WorkerBeat {
  state: WorkerState;
  /** Time since its last heartbeat. */
  beatAgeMs: number;
}

export class ClusterStore {
  readonly redis: Redis;
  private readonly queues = new Map<string, Queue>();

  constructor(private readonly address: QueueAddress) {
    this.redis = new Redis(persistentOptions(address));
    // Reconnection is ioredis's; what it says meanwhile is reported by the front ends.
    this.redis.on('error', () => undefined);
  }

  queue(jobId: string): Queue {
    let queue = this.queues.get(jobId);
    if (!queue) {
      queue = new Queue(jobQueueName(jobId), {
        connection: bullConnection(this.address),
        prefix: KEY_PREFIX,
      });
      queue.on('error', () => undefined);
      this.queues.set(jobId, queue);
    }
    return queue;
  }

  async saveJob(spec: JobSpec): Promise<void> {
    await this.redis.hset(JOBS_KEY, spec.id, JSON.stringify(spec));
  }

  /** The job's spec; null when there is none. Throws InvalidPayload when it does not validate. */
  async job(jobId: string): Promise<JobSpec | null> {
    const text = await this.redis.hget(JOBS_KEY, jobId);
    return text === null ? null : parseJobSpec(JSON.parse(text));
  }

  /** Every job, oldest first; ones that do not validate are returned as problems. */
  async jobs(): Promise<{ specs: JobSpec[]; problems: { id: string; problem: string }[] }> {
    const all = await this.redis.hgetall(JOBS_KEY);
    const specs: JobSpec[] = [];
    const problems: { id: string; problem: string }[] = [];
    for (const [id, text] of Object.entries(all)) {
      try {
        specs.push(parseJobSpec(JSON.parse(text)));
      } catch (error) {
        problems.push({ id, problem: (error as Error).message });
      }
    }
    specs.sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : 0));
    return { specs, problems };
  }

  async setState(jobId: string, state: ClusterJobState): Promise<void> {
    const spec = await this.job(jobId);
    if (!spec) return;
    spec.state = state;
    await this.saveJob(spec);
  }

  async jobForCommand(commandKey: string): Promise<string | null> {
    return this.redis.hget(COMMANDS_KEY, commandKey);
  }

  async setJobForCommand(commandKey: string, jobId: string): Promise<void> {
    await this.redis.hset(COMMANDS_KEY, commandKey, jobId);
  }

  /** The job's files as planned (states at submit time), for the report. */
  async saveFiles(jobId: string, files: readonly JobFile[]): Promise<void> {
    await this.redis.set(`${KEY_PREFIX}:jobfiles:${jobId}`, JSON.stringify(files));
  }

  async files(jobId: string): Promise<JobFile[] | null> {
    const text = await this.redis.get(`${KEY_PREFIX}:jobfiles:${jobId}`);
    return text === null ? null : (JSON.parse(text) as JobFile[]);
  }

  async refuse(jobId: string, workerId: string, reason: string): Promise<void> {
    await this.redis.hset(`${KEY_PREFIX}:refusals:${jobId}`, workerId, reason);
  }

  async refusals(jobId: string): Promise<Record<string, string>> {
    return this.redis.hgetall(`${KEY_PREFIX}:refusals:${jobId}`);
  }

  async beat(beat: WorkerBeat): Promise<void> {
    await this.redis.hset(WORKERS_KEY, beat.id, JSON.stringify(beat));
  }

  async forgetWorker(workerId: string): Promise<void> {
    await this.redis.hdel(WORKERS_KEY, workerId);
  }

  /** Workers seen in the last WORKER_GONE_MS. */
  async workers(now = Date.now()): Promise<WorkerBeat[]> {
    return (await this.seenWorkers(now)).filter((worker) => worker.state !== 'lost');
  }

  /**
   * Every worker that beat in the last WORKER_LOST_KEPT_MS, with its state; older heartbeats
   * (and ones that do not parse) are removed.
   */
  async seenWorkers(now = Date.now()): Promise<SeenWorker[]> {
    const all = await this.redis.hgetall(WORKERS_KEY);
    const seen: SeenWorker[] = [];
    for (const [id, text] of Object.entries(all)) {
      try {
        const beat = JSON.parse(text) as WorkerBeat;
        const beatAgeMs = Math.max(0, now - Date.parse(beat.seenAt));
        if (!(beatAgeMs <= WORKER_LOST_KEPT_MS)) {
          await this.redis.hdel(WORKERS_KEY, id);
          continue;
        }
        const state: WorkerState =
          beatAgeMs > WORKER_GONE_MS
            ? 'lost'
            : (beat.currentFiles?.length ?? 0) > 0
              ? 'working'
              : 'idle';
        seen.push({ ...beat, state, beatAgeMs });
      } catch {
        await this.redis.hdel(WORKERS_KEY, id);
      }
    }
    return seen.sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  /**
   * Runs `fn` holding the output folder `folderKey` (in the job's terms, so every worker names
   * it alike, whatever its --map): a Redis lock, not a lock file, because the writers are on
   * different machines. It expires on its own if its holder dies.
   */
  async withFolderLock<T>(
    folderKey: string,
    signal: AbortSignal,
    fn: () => Promise<T>,
  ): Promise<T> {
    const key = `${KEY_PREFIX}:folderlock:${createHash('sha256').update(folderKey).digest('hex').slice(0, 32)}`;
    const token = randomBytes(12).toString('hex');
    for (;;) {
      signal.throwIfAborted();
      if ((await this.redis.set(key, token, 'PX', FOLDER_LOCK_MS, 'NX')) === 'OK') break;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    try {
      return await fn();
    } finally {
      await this.redis.eval(RELEASE_SCRIPT, 1, key, token).catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    for (const queue of this.queues.values()) await queue.close().catch(() => undefined);
    this.queues.clear();
    this.redis.disconnect();
  }
}

/** Longer than any commit (hashing a file, one append, one rename) takes. */
const FOLDER_LOCK_MS = 60_000;
const RELEASE_SCRIPT =
  "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";
