/**
 * Builds the main-process services the UI talks to (engine, batch queue, settings store) and
 * adapts them to `AppServices`. Electron main and the web server both start exactly this, so
 * the two transports serve the same behaviour.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { verifyOutputs } from '../batch/verifyOutputs.ts';
import type { ExportSettings } from '../../shared/exportSettings.ts';
import type { BatchSnapshot } from '../../shared/ipc.ts';
import type { BatchEvent, Job, JobInputs, JobProgress } from '../../shared/jobs.ts';
import type { ExecutionProvider } from '../../shared/upscaleOptions.ts';
import { createBatchQueue, type BatchQueue } from '../batch/batchQueue.ts';
import { createEngineUpscaler } from '../batch/engineUpscaler.ts';
import { scanInputs } from '../batch/inputScan.ts';
import { hasImageExtension } from '../../shared/imageExtensions.ts';
import { createEngine } from '../engine/index.ts';
import type { AllowedFolders } from './allowedFolders.ts';
import { createClusterParts } from './clusterService.ts';
import { createEngineService } from './engineService.ts';
import type { AppServices, BatchService, ServiceEvent } from './services.ts';
import { createFileSettingsStore } from './settingsStore.ts';
import { InvalidArgument } from './validate.ts';

export interface AppServicesConfig {
  version: string;
  /** Per-user folder: settings, the batch queue's state, throughput measurements. */
  dataDir: string;
  modelsDirs?: string[];
  /** Inference threads per engine; default lets the engine decide. */
  threads?: number;
  /** The inference worker's entry for bundled builds (see the engine's InferenceClient). */
  workerUrl?: URL;
  /** Folders the UI may read and write; job inputs and outputs are added as jobs appear. */
  allowedFolders: AllowedFolders;
}

/** Progress events arrive per tile; the UI needs a few per second, so they are coalesced. */
export const PROGRESS_INTERVAL_MS = 150;

export async function createAppServices(config: AppServicesConfig): Promise<AppServices> {
  const engineConfig = {
    ...(config.modelsDirs ? { modelsDirs: config.modelsDirs } : {}),
    ...(config.threads !== undefined ? { threads: config.threads } : {}),
    ...(config.workerUrl ? { workerUrl: config.workerUrl } : {}),
  };
  const settings = createFileSettingsStore(path.join(config.dataDir, 'settings.json'));
  const initialSettings = await settings.load();
  // One engine (one inference worker) serves Compare and the queue: requests interleave per
  // tile, so a crop waits for at most one batch tile, and small machines hold one session.
  const sharedEngine = await createEngine({ ...engineConfig, device: initialSettings.device });
  const upscaler = await createEngineUpscaler(engineConfig, initialSettings.device, {
    engine: sharedEngine,
  });
  const queue = await createBatchQueue({
    stateDir: path.join(config.dataDir, 'queue'),
    // This machine's measured speed lives beside the settings: it describes the machine, not a job.
    speedFile: path.join(config.dataDir, 'speed.json'),
    upscaler,
  });

  // Folders the user chose in an earlier session stay usable: the output folder in the
  // settings and every persisted job's inputs and outputs.
  await allowSettingsFolder(config.allowedFolders, initialSettings);
  for (const job of queue.jobs())
    await allowJobFolders(config.allowedFolders, job.inputs.paths, job.outputFolder);

  const engine = createEngineService(sharedEngine, {
    model: async () => (await settings.load()).model ?? undefined,
    source: async () => (await settings.load()).source,
    precision: async () => (await settings.load()).precision,
    sharpening: async () => (await settings.load()).sharpening,
    availableProviders: [],
  });

  const cluster = createClusterParts({
    dataDir: config.dataDir,
    upscaler,
    allowedFolders: config.allowedFolders,
  });

  return {
    version: config.version,
    batch: cluster.batch(createBatchService(queue, config.allowedFolders)),
    cluster: cluster.service,
    engine: {
      ...engine,
      async devices() {
        const info = await engine.devices();
        return { ...info, available: detectedProviders(info.active?.attempts ?? []) };
      },
    },
    settings,
    subscribe(listener) {
      const unsubscribeLocal = subscribeCoalesced(queue, listener);
      const unsubscribeQueued = cluster.subscribe(listener);
      return () => {
        unsubscribeLocal();
        unsubscribeQueued();
      };
    },
    async close() {
      await cluster.close();
      await queue.close();
      await upscaler.close();
      await sharedEngine.close();
    },
  };
}

function createBatchService(queue: BatchQueue, allowedFolders: AllowedFolders): BatchService {
  const requireJob = (jobId: string) => {
    const job = queue.job(jobId);
    if (!job) throw new Error(`no job ${jobId}`);
    return job;
  };
  return {
    async photos(inputs, limit) {
      const found = await scanInputs(inputs);
      const roots = inputs.paths.map((root) => path.resolve(root));
      // Entries the scan refused (a FIFO named x.png, a link) are no photos to preview.
      return found
        .filter((file) => file.problem === null && hasImageExtension(file.inputPath))
        .slice(0, limit)
        .map((file) => ({
          inputPath: file.inputPath,
          relativePath: file.relativePath,
          inputRoot:
            roots.find(
              (root) => file.inputPath === root || file.inputPath.startsWith(root + path.sep),
            ) ?? path.dirname(file.inputPath),
        }));
    },
    preflight: (inputs, settings) => queue.preflight({ inputs, settings }),
    async add(inputs, settings) {
      const job = await queue.addJob({ inputs, settings }).catch((error: unknown) => {
        throw peopleAddError(error, inputs);
      });
      await allowJobFolders(allowedFolders, job.inputs.paths, job.outputFolder);
      return job;
    },
    async rebuild(jobId, settings) {
      const job = requireJob(jobId);
      if (!hasNotStarted(job))
        throw new InvalidArgument('This job has started: its photos and settings are fixed now.');
      const place = queue.jobs().findIndex((candidate) => candidate.id === job.id);
      const request = { inputs: job.inputs, settings: settings ?? job.settings };
      // Scan first: a folder that is empty now leaves the job as it was instead of losing it.
      const estimate = await queue.preflight(request);
      if (estimate.filesFound === 0)
        throw new InvalidArgument(`${noPhotosText(job.inputs)}; the job was left as it was.`);
      await queue.removeJob(job.id);
      // A paused job stays paused: it is paused as it is added, before the queue can start it
      // (the queue has no "add paused" yet; its job-added event comes before it looks for work).
      let held = job.state !== 'paused';
      const unsubscribe = queue.onAny((event) => {
        if (held || event.type !== 'job-added') return;
        if (event.job.inputs.paths.join('\0') !== job.inputs.paths.join('\0')) return;
        held = true;
        void queue.pauseJob(event.job.id);
      });
      const rebuilt = await queue
        .addJob(request)
        .catch(async (error: unknown) => {
          // Put the job back as it was (a new id): a failed rescan never loses it.
          await queue.addJob({ inputs: job.inputs, settings: job.settings }).catch(() => undefined);
          throw peopleAddError(error, job.inputs);
        })
        .finally(unsubscribe);
      if (place >= 0 && place < queue.jobs().length - 1) await queue.moveJob(rebuilt.id, place);
      if (job.state === 'paused') await queue.pauseJob(rebuilt.id);
      await allowJobFolders(allowedFolders, rebuilt.inputs.paths, rebuilt.outputFolder);
      return queue.job(rebuilt.id) ?? rebuilt;
    },
    snapshot(): BatchSnapshot {
      const jobs = queue.jobs();
      const progress: Record<string, JobProgress> = {};
      for (const job of jobs) {
        const current = queue.progress(job.id);
        if (current) progress[job.id] = current;
      }
      return { jobs, progress };
    },
    pause: (jobId, when) => queue.pauseJob(requireJob(jobId).id, when),
    resume: (jobId) => queue.resumeJob(requireJob(jobId).id),
    cancel: (jobId) => queue.cancelJob(requireJob(jobId).id),
    async retryFailed(jobId) {
      await queue.retryFailed(requireJob(jobId).id);
    },
    remove: (jobId) => queue.removeJob(requireJob(jobId).id),
    async report(jobId) {
      const summary = requireJob(jobId).summary;
      const reportPath = summary?.reportCsvPath ?? summary?.reportJsonPath;
      if (!reportPath) throw new Error(summary?.reportError ?? 'this job has no report yet');
      return { path: reportPath, text: await readFile(reportPath, 'utf8') };
    },
    verify: async (jobId) => verifyOutputs(requireJob(jobId).outputFolder),
    async rerun(jobId) {
      const job = requireJob(jobId);
      const again = await queue.addJob({ inputs: job.inputs, settings: job.settings });
      await allowJobFolders(allowedFolders, again.inputs.paths, again.outputFolder);
      return again;
    },
    job: requireJob,
  };
}

/** Queued or paused, and no photo of it has been tried: its inputs and settings may change. */
function hasNotStarted(job: Job): boolean {
  return (
    (job.state === 'queued' || job.state === 'paused') &&
    job.files.every((file) => file.attempts === 0 && file.outputPath === null)
  );
}

function noPhotosText(inputs: JobInputs): string {
  const names = inputs.paths.map((input) => path.basename(input) || input).join(', ');
  return `No photos in ${names}${inputs.recursive ? '' : ' (sub-folders not included)'}`;
}

/** The queue's refusals in words for people; the developer's text stays in the log. */
function peopleAddError(error: unknown, inputs: JobInputs): unknown {
  const text = error instanceof Error ? error.message : String(error);
  if (text.startsWith('no images found'))
    return new InvalidArgument(noPhotosText(inputs), { detail: text });
  if (text.startsWith('nothing to upscale'))
    return new InvalidArgument('None of these photos can be read.', { detail: text });
  return error;
}

async function allowJobFolders(
  allowedFolders: AllowedFolders,
  inputs: string[],
  outputFolder: string,
): Promise<void> {
  for (const folder of [...inputs, outputFolder]) await allowedFolders.add(folder);
}

async function allowSettingsFolder(
  allowedFolders: AllowedFolders,
  settings: ExportSettings,
): Promise<void> {
  if (settings.outputFolder) await allowedFolders.add(settings.outputFolder);
}

/** Providers that opened a session here; CPU always works. */
function detectedProviders(
  attempts: { provider: ExecutionProvider; ok: boolean }[],
): ExecutionProvider[] {
  const found = attempts.filter((attempt) => attempt.ok).map((attempt) => attempt.provider);
  return [...new Set<ExecutionProvider>([...found, 'cpu'])];
}

/**
 * Forwards queue events in order, keeping only the latest progress per job within each
 * interval; any other event first flushes the progress it follows, so order is preserved.
 */
function subscribeCoalesced(
  queue: BatchQueue,
  listener: (event: ServiceEvent) => void,
): () => void {
  const pending = new Map<string, BatchEvent>();
  let timer: ReturnType<typeof setTimeout> | null = null;
  const send = (payload: BatchEvent): void => listener({ channel: 'batch:event', payload });
  const flush = (): void => {
    if (timer) clearTimeout(timer);
    timer = null;
    for (const event of pending.values()) send(event);
    pending.clear();
  };
  const unsubscribe = queue.onAny((event) => {
    if (event.type === 'progress') {
      pending.set(event.progress.jobId, event);
      timer ??= setTimeout(flush, PROGRESS_INTERVAL_MS);
      return;
    }
    flush();
    send(event);
  });
  return () => {
    unsubscribe();
    if (timer) clearTimeout(timer);
  };
}
