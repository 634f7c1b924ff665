/**
 * "Run on: this computer / the queue at …" for the app and web mode: the setting (kept beside
 * the export settings, never in a job's snapshot, since the address may hold a password), the
 * "Test connection" check, the Workers view (the heartbeats `cmsc-upscale status` reads, through
 * the same ClusterStore), and the batch service that sends new jobs to the queue when it is
 * chosen while every other job stays on the local queue.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { QueueCheck, RunOn, RunOnView, WorkersView, WorkerView } from '../../shared/ipc.ts';
import type { ImageUpscaler } from '../batch/imageUpscaler.ts';
import { verifyOutputs } from '../batch/verifyOutputs.ts';
import { ClusterStore, type SeenWorker } from '../cluster/clusterStore.ts';
import {
  checkQueue,
  connectionProblem,
  parseQueueAddress,
  QueueAddressError,
  type QueueAddress,
} from '../cluster/queueConnection.ts';
import type { AllowedFolders } from './allowedFolders.ts';
import { QueuedJobs, queueProblemSentence, writeOwnerOnlyFile } from './queuedJobs.ts';
import type { BatchService, ServiceEvent } from './services.ts';
import { InvalidArgument } from './validate.ts';

export interface ClusterService {
  runOn(): Promise<RunOnView>;
  /** Validates and stores; throws InvalidArgument with a plain sentence. */
  setRunOn(candidate: RunOn): Promise<RunOnView>;
  test(address: string): Promise<QueueCheck>;
  /** Throws InvalidArgument when jobs run here or the queue cannot be reached. */
  workers(): Promise<WorkersView>;
}

/** The longest address kept (a host name, a password and a database number fit many times). */
export const MAX_QUEUE_ADDRESS_LENGTH = 2048;
const LOCAL: RunOn = { kind: 'local' };

export interface ClusterParts {
  service: ClusterService;
  /** `local` with new jobs sent to the queue while it is the chosen place. */
  batch(local: BatchService): BatchService;
  subscribe(listener: (event: ServiceEvent) => void): () => void;
  close(): Promise<void>;
}

export function createClusterParts(config: {
  dataDir: string;
  upscaler: ImageUpscaler;
  allowedFolders: AllowedFolders;
}): ClusterParts {
  const file = path.join(config.dataDir, 'run-on.json');
  let stored: RunOn | null = null;
  /** One connection for the Workers view, reopened when the address changes. */
  let viewStore: { address: string; store: ClusterStore } | null = null;
  const queued = new QueuedJobs({
    upscaler: config.upscaler,
    stateDir: path.join(config.dataDir, 'cluster'),
    speedFile: path.join(config.dataDir, 'speed.json'),
  });
  // The jobs this app had on the queue when it stopped, followed again; never blocks the start.
  const restored = queued
    .restore()
    .catch((error: unknown) => console.error(`queue: could not restore jobs: ${String(error)}`));

  const load = async (): Promise<RunOn> => {
    if (stored) return stored;
    try {
      stored = parseRunOn(JSON.parse(await readFile(file, 'utf8')));
    } catch {
      // Missing or damaged: jobs run here, as before the setting existed.
      stored = LOCAL;
    }
    return stored;
  };
  const view = (runOn: RunOn): RunOnView => ({
    runOn,
    display: runOn.kind === 'queue' ? parseQueueAddress(runOn.address).display : null,
  });
  const chosenQueue = async (): Promise<QueueAddress | null> => {
    const runOn = await load();
    return runOn.kind === 'queue' ? parseQueueAddress(runOn.address) : null;
  };

  const service: ClusterService = {
    runOn: async () => view(await load()),
    async setRunOn(candidate) {
      const runOn = parseRunOn(candidate);
      await writeOwnerOnlyFile(file, `${JSON.stringify(runOn, null, 2)}\n`);
      stored = runOn;
      return view(runOn);
    },
    async test(text) {
      let address: QueueAddress;
      try {
        address = parseQueueAddress(text);
        const version = await checkQueue(address);
        const store = new ClusterStore(address);
        try {
          const connected = (await store.workers()).length;
          return {
            ok: true,
            message: `Connected to Redis ${version} at ${address.display}: ${connected} worker${connected === 1 ? '' : 's'} connected.`,
            redisVersion: version,
            workersConnected: connected,
          };
        } finally {
          await store.close();
        }
      } catch (error) {
        if (!(error instanceof QueueAddressError)) throw error;
        return {
          ok: false,
          message: queueProblemSentence(error.message),
          redisVersion: null,
          workersConnected: null,
        };
      }
    },
    async workers() {
      const address = await chosenQueue();
      if (!address)
        throw new InvalidArgument('Jobs run on this computer: there are no queue workers to show.');
      try {
        await checkQueue(address, 3000);
      } catch (error) {
        if (error instanceof QueueAddressError)
          throw new InvalidArgument(queueProblemSentence(error.message));
        throw error;
      }
      if (viewStore?.address !== address.display) {
        await viewStore?.store.close();
        viewStore = { address: address.display, store: new ClusterStore(address) };
      }
      let seen: SeenWorker[];
      try {
        seen = await viewStore.store.seenWorkers();
      } catch (error) {
        throw new InvalidArgument(queueProblemSentence(connectionProblem(address, error)));
      }
      const workers = seen.map(workerView);
      return {
        queue: address.display,
        connected: workers.filter((worker) => worker.state !== 'lost').length,
        workers,
      };
    },
  };

  return {
    service,
    batch(local) {
      const isQueued = (jobId: string): boolean => queued.has(jobId);
      const queuedJob = (jobId: string) => {
        const job = queued.job(jobId);
        if (!job) throw new Error(`no job ${jobId}`);
        return job;
      };
      const allow = async (folders: string[]): Promise<void> => {
        for (const folder of folders) await config.allowedFolders.add(folder);
      };
      const batch: BatchService = {
        ...local,
        async add(inputs, settings) {
          const runOn = await load();
          if (runOn.kind !== 'queue') return local.add(inputs, settings);
          await restored;
          const job = await queued.add(runOn.address, { inputs, settings });
          await allow([...job.inputs.paths, job.outputFolder]);
          return job;
        },
        async rebuild(jobId, settings) {
          if (isQueued(jobId))
            throw new InvalidArgument(
              'This job is on the queue: its photos and settings are fixed.',
            );
          return local.rebuild(jobId, settings);
        },
        snapshot() {
          const snapshot = local.snapshot();
          const progress = { ...snapshot.progress };
          for (const job of queued.jobs()) {
            const current = queued.progress(job.id);
            if (current) progress[job.id] = current;
          }
          return { jobs: [...snapshot.jobs, ...structuredClone(queued.jobs())], progress };
        },
        // A queue pauses between photos whatever `when` says: a worker's photo is not ours to stop.
        pause: (jobId, when) => (isQueued(jobId) ? queued.pause(jobId) : local.pause(jobId, when)),
        resume: (jobId) => (isQueued(jobId) ? queued.resume(jobId) : local.resume(jobId)),
        cancel: (jobId) => (isQueued(jobId) ? queued.cancel(jobId) : local.cancel(jobId)),
        remove: (jobId) => (isQueued(jobId) ? queued.remove(jobId) : local.remove(jobId)),
        async retryFailed(jobId) {
          if (isQueued(jobId))
            throw new InvalidArgument(
              'A job on the queue is retried with “Run again”: only what is missing or failed is made.',
            );
          return local.retryFailed(jobId);
        },
        async report(jobId) {
          if (!isQueued(jobId)) return local.report(jobId);
          const summary = queuedJob(jobId).summary;
          const reportPath = summary?.reportCsvPath ?? summary?.reportJsonPath;
          if (!reportPath) throw new Error(summary?.reportError ?? 'this job has no report yet');
          return { path: reportPath, text: await readFile(reportPath, 'utf8') };
        },
        verify: async (jobId) =>
          isQueued(jobId) ? verifyOutputs(queuedJob(jobId).outputFolder) : local.verify(jobId),
        async rerun(jobId) {
          if (!isQueued(jobId)) return local.rerun(jobId);
          const job = queuedJob(jobId);
          // Again on the queue it ran on when that is still the chosen one, else where jobs run now.
          return batch.add(job.inputs, job.settings);
        },
        job: (jobId) => (isQueued(jobId) ? queuedJob(jobId) : local.job(jobId)),
      };
      return batch;
    },
    subscribe(listener) {
      return queued.onAny((payload) => listener({ channel: 'batch:event', payload }));
    },
    async close() {
      await restored;
      await queued.close();
      await viewStore?.store.close();
      viewStore = null;
    },
  };
}

/** A stored or requested setting, checked; InvalidArgument in plain words otherwise. */
export function parseRunOn(value: unknown): RunOn {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new InvalidArgument('“Run on” must be this computer or a queue address.');
  const record = value as Record<string, unknown>;
  if (record.kind === 'local') return LOCAL;
  if (record.kind !== 'queue')
    throw new InvalidArgument('“Run on” must be this computer or a queue address.');
  const address = typeof record.address === 'string' ? record.address.trim() : '';
  if (address === '')
    throw new InvalidArgument('Type the queue’s address, such as redis://server:6379.');
  if (address.length > MAX_QUEUE_ADDRESS_LENGTH)
    throw new InvalidArgument(
      `The queue’s address is longer than ${MAX_QUEUE_ADDRESS_LENGTH} characters.`,
    );
  try {
    parseQueueAddress(address);
  } catch (error) {
    if (error instanceof QueueAddressError)
      throw new InvalidArgument(queueProblemSentence(error.message));
    throw error;
  }
  return { kind: 'queue', address };
}

function workerView(worker: SeenWorker): WorkerView {
  return {
    id: worker.id,
    host: worker.host,
    device: worker.provider ?? worker.device,
    state: worker.state,
    currentFile: worker.currentFiles?.[0] ?? null,
    filesPerMinute: worker.filesPerMinute,
    done: worker.done,
    failed: worker.failed,
    beatAgeMs: worker.beatAgeMs,
    jobId: worker.jobId,
  };
}
