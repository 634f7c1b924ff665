/**
 * The command line of the cluster queue: `worker`, a job submitted with `--queue` (the same
 * lines, progress, summary, report and exit code as a local run, fed by the queue's events),
 * `status` and `cancel`. Every Redis problem is one line and exit code 2; the password is never
 * printed.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { ExportSettings } from '../../shared/exportSettings.ts';
import type { Job, JobFile, JobInputs } from '../../shared/jobs.ts';
import { isUpToDate } from '../../shared/jobs.ts';
import { DEVICES, type Device } from '../../shared/upscaleOptions.ts';
import { defaultDataDir } from '../api/dataDir.ts';
import { MIN_MEMORY_BUDGET_BYTES, parseMemorySize } from '../engine/index.ts';
import { jobFromPlan, newJobId, PreflightRefusal } from '../batch/batchQueue.ts';
import { createEngineUpscaler } from '../batch/engineUpscaler.ts';
import type { ImageUpscaler } from '../batch/imageUpscaler.ts';
import { JobPlanner } from '../batch/jobPlanner.ts';
import { buildReport, summarizeJob, writeReport } from '../batch/jobReport.ts';
import { OutputBook } from '../batch/outputRecord.ts';
import { deleteTemporaryOutputs } from '../batch/outputPlan.ts';
import { ClusterStore } from '../cluster/clusterStore.ts';
import { ClusterWorker } from '../cluster/clusterWorker.ts';
import { parseMapping, PathPolicy } from '../cluster/pathPolicy.ts';
import {
  checkQueue,
  connectionProblem,
  parseQueueAddress,
  QueueAddressError,
  type QueueAddress,
} from '../cluster/queueConnection.ts';
import {
  addTasks,
  fillOutcomes,
  followQueuedJob,
  jobOfSpec,
  specForJob,
  submitJob,
} from '../cluster/queuedJob.ts';
import type { JobSpec } from '../cluster/taskPayload.ts';
import type { CliSettings } from './cliArguments.ts';
import { createProgressDisplay } from './progressDisplay.ts';
import {
  EXIT_CANCELLED,
  EXIT_OK,
  EXIT_SOME_FAILED,
  EXIT_USAGE,
  fileLine,
  isFinal,
  printable,
  tallyFiles,
  type CliStreams,
} from './runCli.ts';

/** Parses and checks `--queue`; false after printing the one-line problem. */
export async function checkedQueueAddress(
  text: string,
  streams: CliStreams,
): Promise<QueueAddress | false> {
  try {
    const address = parseQueueAddress(text);
    await checkQueue(address);
    return address;
  } catch (error) {
    if (!(error instanceof QueueAddressError)) throw error;
    streams.stderr.write(`cmsc-upscale: ${error.message}\n`);
    return false;
  }
}

// ---- submitting ------------------------------------------------------------------------

export interface QueuedJobPlaces {
  /** Calibration images and speed figures of this machine's planner. */
  stateDir: string;
  /** The command's identity: the same command resumes its job. */
  commandKey: string;
}

/**
 * Plans the job as a local run does, puts one task per file to do on the queue, then shows the
 * files as workers finish them. Ctrl-C pauses the job on the queue; the same command resumes.
 */
export async function runQueuedJob(
  address: QueueAddress,
  request: { inputs: JobInputs; settings: ExportSettings },
  settings: CliSettings,
  upscaler: ImageUpscaler,
  streams: CliStreams,
  signal: AbortSignal | undefined,
  places: QueuedJobPlaces,
): Promise<number> {
  const out = (text: string): void => void streams.stdout.write(`${text}\n`);
  const store = new ClusterStore(address);
  try {
    const started = performance.now();
    const existingId = await store.jobForCommand(places.commandKey);
    const existing = existingId === null ? null : await store.job(existingId).catch(() => null);
    let job: Job;
    let spec: JobSpec;
    if (existing && (existing.state === 'active' || existing.state === 'paused')) {
      const files = await store.files(existing.id);
      if (!files) throw new Error(`job ${existing.id} has lost its file list in Redis`);
      spec = existing;
      job = jobOfSpec(spec, files);
      await fillOutcomes(store, job);
      const handled = job.files.filter(isFinal).length;
      out(`resuming job ${spec.id}: ${handled} of ${job.files.length} files already handled`);
      spec.state = 'active';
      await addTasks(store, job);
      await store.saveJob(spec);
      await store.queue(spec.id).resume();
    } else {
      const planner = new JobPlanner({
        upscaler,
        stateDir: places.stateDir,
        speedFile: path.join(places.stateDir, 'speed.json'),
        outputs: new OutputBook(),
        isBusy: () => false,
        warn: (message) => out(`note ${message}`),
      });
      await planner.open();
      const planned = await planner.plan(request, { jobs: [], estimatedOutputBytes: new Map() });
      try {
        job = jobFromPlan(planned, newJobId());
      } catch (error) {
        if (error instanceof PreflightRefusal) {
          streams.stderr.write(`cmsc-upscale: ${error.message}\n`);
          for (const problem of error.estimate.problems)
            out(
              `FAIL ${printable(problem.path)}: ${problem.reason.message} (${problem.reason.code})`,
            );
          return EXIT_SOME_FAILED;
        }
        streams.stderr.write(`cmsc-upscale: ${(error as Error).message}\n`);
        return EXIT_SOME_FAILED;
      }
      for (const warning of planned.estimate.warnings)
        if (warning.code === 'manifest') out(`note ${warning.message}`);
      spec = specForJob(job, upscaler.listModels());
      if (spec.tasks > 0) await submitJob(store, job, spec, places.commandKey);
    }
    const upToDate = job.files.filter(isUpToDate).length;
    const toDo = job.files.filter((file) => file.state === 'queued').length;
    if (upToDate > 0)
      out(
        `${toDo} to upscale, ${upToDate} up to date (made by an earlier run from the same photos with the same settings)`,
      );
    if (settings.detach && toDo > 0) {
      out(
        `job ${job.id} queued on ${address.display}: ${toDo} files; follow it with: cmsc-upscale status --queue ${address.display}`,
      );
      return EXIT_OK;
    }
    return await followJob(
      store,
      address,
      spec,
      job,
      settings,
      streams,
      signal,
      started,
      places.stateDir,
    );
  } catch (error) {
    if (error instanceof QueueAddressError) {
      streams.stderr.write(`cmsc-upscale: ${error.message}\n`);
      return EXIT_USAGE;
    }
    throw error;
  } finally {
    await store.close();
  }
}

async function followJob(
  store: ClusterStore,
  address: QueueAddress,
  spec: JobSpec,
  job: Job,
  settings: CliSettings,
  streams: CliStreams,
  signal: AbortSignal | undefined,
  started: number,
  reportsDir: string,
): Promise<number> {
  const out = (text: string): void => void streams.stdout.write(`${text}\n`);
  const upToDate = job.files.filter(isUpToDate).length;
  const printed = new Set<number>(job.files.filter(isUpToDate).map((file) => file.id));
  const display = createProgressDisplay(streams.stdout, job.files.length - upToDate);
  const names = new Map(job.files.map((file) => [file.id, path.basename(file.inputPath)]));
  const report = (file: JobFile): void => {
    if (!isFinal(file) || printed.has(file.id)) return;
    printed.add(file.id);
    display.line(fileLine(file));
  };
  for (const file of job.files) report(file);
  const finished = (): number => job.files.filter(isFinal).length;
  try {
    await followQueuedJob(
      store,
      address,
      job,
      {
        file: report,
        // Before the workers' pace is known, the running file's own estimate, as locally.
        progress: (fileId, tilesDone, tilesTotal, fileEta, jobEta) =>
          display.tile(
            finished() - upToDate,
            names.get(fileId) ?? '',
            tilesDone,
            tilesTotal,
            jobEta ?? fileEta,
          ),
        note: (text) => display.line(`note ${text}`),
      },
      signal,
      started,
    );
  } finally {
    display.finish();
  }
  const queue = store.queue(job.id);
  const paused = signal?.aborted === true;
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  if (paused && finished() < job.files.length) {
    await queue.pause();
    spec.state = 'paused';
    await store.saveJob(spec);
    const counts = tallyFiles(job.files);
    out(
      `${counts.done} upscaled, ${counts.upToDate} up to date, ${counts.skipped} skipped, ${counts.failed} failed in ${seconds} s, paused with ${counts.left} left: run the same command again to resume`,
    );
    return EXIT_CANCELLED;
  }
  // A worker killed mid-file left its temporary output; the file ran again under the same name,
  // but a sweep at the end costs one listing.
  await deleteTemporaryOutputs(job.outputFolder, job.id).catch(() => []);
  if (spec.tasks > 0) {
    spec.state = 'finished';
    await store.saveJob(spec);
  }
  const counts = tallyFiles(job.files);
  out(
    `${counts.done} upscaled, ${counts.upToDate} up to date, ${counts.skipped} skipped, ${counts.failed} failed in ${seconds} s`,
  );
  const nothingDone = job.files.every(isUpToDate);
  if (settings.report && !nothingDone) {
    job.state = 'finished';
    const written = await writeReport(
      buildReport(job, 'finished', new Date()),
      // Where a local run keeps a report its output folder cannot take.
      path.join(reportsDir, 'reports'),
    );
    job.summary = {
      ...summarizeJob(job, 'finished'),
      reportJsonPath: written.jsonPath,
      reportCsvPath: written.csvPath,
      reportError: written.error,
    };
    if (written.jsonPath) out(`report ${printable(written.jsonPath)}`);
    if (written.error) out(`note ${written.error}`);
  }
  return counts.failed > 0 ? EXIT_SOME_FAILED : EXIT_OK;
}

// ---- status and cancel -----------------------------------------------------------------

export async function runStatus(args: readonly string[], streams: CliStreams): Promise<number> {
  const parsed = parseSmall(args, streams, 'status --queue redis://HOST:PORT');
  if (!parsed) return EXIT_USAGE;
  const address = await checkedQueueAddress(parsed.queue, streams);
  if (address === false) return EXIT_USAGE;
  const out = (text: string): void => void streams.stdout.write(`${text}\n`);
  const store = new ClusterStore(address);
  try {
    const { specs, problems } = await store.jobs();
    if (specs.length === 0) out(`no jobs on ${address.display}`);
    for (const spec of specs) {
      const counts = await store
        .queue(spec.id)
        .getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'completed', 'failed');
      const waiting = (counts.waiting ?? 0) + (counts.prioritized ?? 0);
      out(
        `${spec.id} ${spec.state.padEnd(9)} ${counts.completed ?? 0} done, ${counts.failed ?? 0} failed, ${counts.active ?? 0} running, ${waiting} waiting, ${counts.delayed ?? 0} to retry, of ${spec.tasks} (${spec.files - spec.tasks} up to date or refused at planning); output ${printable(spec.outputFolder)}`,
      );
    }
    for (const { id, problem } of problems) out(`${id} unreadable: ${problem}`);
    const workers = await store.workers();
    out(`${workers.length} worker${workers.length === 1 ? '' : 's'} connected`);
    for (const worker of workers)
      out(
        `worker ${worker.id} device ${worker.device}, ${worker.concurrency} at a time, ${worker.filesPerMinute} files/min, ${worker.done} done, ${worker.failed} failed${worker.jobId ? `, on ${worker.jobId}` : ''}`,
      );
    return EXIT_OK;
  } catch (error) {
    streams.stderr.write(`cmsc-upscale: ${connectionProblem(address, error)}\n`);
    return EXIT_USAGE;
  } finally {
    await store.close();
  }
}

export async function runCancel(args: readonly string[], streams: CliStreams): Promise<number> {
  const parsed = parseSmall(args, streams, 'cancel JOB --queue redis://HOST:PORT');
  if (!parsed) return EXIT_USAGE;
  if (parsed.positionals.length !== 1) {
    streams.stderr.write(
      'cmsc-upscale: cancel takes one job id: cmsc-upscale cancel JOB --queue redis://HOST:PORT\n',
    );
    return EXIT_USAGE;
  }
  const jobId = parsed.positionals[0]!;
  const address = await checkedQueueAddress(parsed.queue, streams);
  if (address === false) return EXIT_USAGE;
  const store = new ClusterStore(address);
  try {
    const spec = await store.job(jobId).catch(() => null);
    if (!spec) {
      streams.stderr.write(`cmsc-upscale: no job ${jobId} on ${address.display}\n`);
      return EXIT_SOME_FAILED;
    }
    // Pause first, so no worker takes another file; then the waiting ones are removed. Files
    // running now finish (their output is complete and recorded) or are abandoned by a
    // stopping worker.
    const queue = store.queue(jobId);
    await queue.pause();
    await queue.drain(true);
    spec.state = 'cancelled';
    await store.saveJob(spec);
    streams.stdout.write(`cancelled ${jobId}: no worker takes its files any more\n`);
    return EXIT_OK;
  } catch (error) {
    streams.stderr.write(`cmsc-upscale: ${connectionProblem(address, error)}\n`);
    return EXIT_USAGE;
  } finally {
    await store.close();
  }
}

function parseSmall(
  args: readonly string[],
  streams: CliStreams,
  usage: string,
): { queue: string; positionals: string[] } | null {
  try {
    const { values, positionals } = parseArgs({
      args: [...args],
      allowPositionals: true,
      strict: true,
      options: { queue: { type: 'string' } },
    });
    if (!values.queue) throw new Error('--queue is needed');
    return { queue: values.queue, positionals };
  } catch (error) {
    streams.stderr.write(
      `cmsc-upscale: ${(error as Error).message.split('\n')[0]} (cmsc-upscale ${usage})\n`,
    );
    return null;
  }
}

// ---- worker ----------------------------------------------------------------------------

const WORKER_USAGE = `Usage: cmsc-upscale worker --queue redis://HOST:PORT --allow-output DIR [options]
  --queue <redis://…>      the queue (rediss:// for TLS, redis://:PASSWORD@host)
  --allow-output <dir>     a folder this worker may write outputs to (repeat for more)
  --allow-input <dir>      a folder it may read photos from (default: the output folders)
  --map <from>=<to>        a job path prefix as it is mounted here (repeat for more)
  --concurrency <n>        files at a time (default 1)
  --device <device>        auto|cuda|webgpu|cpu (default auto)
  --threads <n>            inference threads (default: all cores)
  --max-memory <size>      memory per photo, e.g. 1g (default 1g)
  --models <folder>        folder with model cards (default: the app's models/)
  --stalled-interval <s>   how often files of dead workers are looked for (default 30)
SIGTERM or Ctrl-C: finish the current file and stop; a second one hands it back at once.
`;

export async function runWorker(
  args: readonly string[],
  streams: CliStreams,
  stop: AbortSignal | undefined,
  handBack?: AbortSignal,
): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...args],
      allowPositionals: false,
      strict: true,
      options: {
        queue: { type: 'string' },
        'allow-output': { type: 'string', multiple: true },
        'allow-input': { type: 'string', multiple: true },
        map: { type: 'string', multiple: true },
        concurrency: { type: 'string' },
        device: { type: 'string' },
        threads: { type: 'string' },
        'max-memory': { type: 'string' },
        models: { type: 'string' },
        'stalled-interval': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    streams.stderr.write(
      `cmsc-upscale worker: ${(error as Error).message.split('\n')[0]}\n${WORKER_USAGE}`,
    );
    return EXIT_USAGE;
  }
  if (values.help) {
    streams.stdout.write(WORKER_USAGE);
    return EXIT_OK;
  }
  const usage = (message: string): number => {
    streams.stderr.write(
      `cmsc-upscale worker: ${message}\nRun cmsc-upscale worker --help for the options.\n`,
    );
    return EXIT_USAGE;
  };
  if (!values.queue) return usage('--queue redis://HOST:PORT is needed');
  const whole = (
    flag: string,
    text: string | undefined,
    min: number,
    max: number,
    fallback: number,
  ): number | null => {
    if (text === undefined) return fallback;
    const n = Number(text);
    return /^\d+(\.\d+)?$/.test(text) && Number.isFinite(n) && n >= min && n <= max ? n : null;
  };
  const concurrency = whole('concurrency', values.concurrency, 1, 64, 1);
  if (concurrency === null || !Number.isInteger(concurrency))
    return usage('--concurrency must be a whole number from 1 to 64');
  const device = (values.device ?? 'auto') as Device;
  if (!DEVICES.includes(device)) return usage(`--device must be one of ${DEVICES.join(', ')}`);
  const threads =
    values.threads === undefined ? undefined : whole('threads', values.threads, 0, 1024, 0);
  if (threads === null) return usage('--threads must be a whole number');
  const envStall = process.env.CMSC_STALLED_INTERVAL_MS;
  const stalledSeconds = whole(
    'stalled-interval',
    values['stalled-interval'],
    0.1,
    3600,
    envStall ? Number(envStall) / 1000 : 30,
  );
  if (stalledSeconds === null || !Number.isFinite(stalledSeconds))
    return usage('--stalled-interval must be seconds from 0.1 to 3600');
  let memory: number | undefined;
  if (values['max-memory'] !== undefined) {
    const bytes = parseMemorySize(values['max-memory']);
    if (bytes === null || bytes < MIN_MEMORY_BUDGET_BYTES)
      return usage('--max-memory must be a size of at least 256m');
    memory = bytes;
  }
  let policy: PathPolicy;
  try {
    policy = new PathPolicy({
      outputRoots: (values['allow-output'] ?? []).map((dir) => path.resolve(dir)),
      inputRoots: (values['allow-input'] ?? []).map((dir) => path.resolve(dir)),
      maps: (values.map ?? []).map(parseMapping),
    });
  } catch (error) {
    return usage((error as Error).message);
  }
  const address = await checkedQueueAddress(values.queue, streams);
  if (address === false) return EXIT_USAGE;

  const log = (line: string): void => void streams.stdout.write(`${line}\n`);
  const upscaler = await createEngineUpscaler(
    {
      ...(values.models ? { modelsDirs: [path.resolve(values.models)] } : {}),
      ...(threads !== undefined ? { threads } : {}),
      ...(memory !== undefined ? { memoryBudgetBytes: memory } : {}),
    },
    device,
  );
  try {
    const models = upscaler.listModels();
    if (models.length === 0) {
      streams.stderr.write(
        `cmsc-upscale worker: no model installed in ${values.models ?? 'the models/ folder'}\n`,
      );
      return EXIT_SOME_FAILED;
    }
    // This machine's speed figures (the planner learns from every photo); shared by the
    // workers of one computer, written atomically.
    const stateDir = process.env.CMSC_WORKER_STATE ?? path.join(defaultDataDir(), 'worker');
    await mkdir(stateDir, { recursive: true });
    const planner = new JobPlanner({
      upscaler,
      stateDir,
      speedFile: path.join(stateDir, 'speed.json'),
      outputs: new OutputBook(),
      isBusy: () => true,
      warn: (message) => log(`note ${message}`),
    });
    const worker = new ClusterWorker({
      address,
      upscaler,
      planner,
      policy,
      device,
      concurrency,
      stalledIntervalMs: Math.round(stalledSeconds * 1000),
      lockDurationMs: Math.max(2000, Math.round(stalledSeconds * 1000)),
      log,
      fileLine,
    });
    log(
      `worker ${worker.id} on ${address.display}: device ${device}, ${concurrency} at a time, models ${models.map((m) => `${m.name} ${(m.filesDigest ?? 'unknown').slice(0, 12)}`).join(', ')}; writes in ${policy.outputRoots.join(' ')}`,
    );
    const neverSignal = new AbortController().signal;
    const result = await worker.run(stop ?? neverSignal, handBack ?? neverSignal);
    log(`worker stopped: ${result.done} files done, ${result.failed} failed`);
    return EXIT_OK;
  } finally {
    await upscaler.close();
  }
}
