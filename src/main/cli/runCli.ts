/**
 * `cmsc-upscale`: a thin front end of the batch queue. The command line becomes one job of the
 * same queue the app and web mode use (scan, mirroring, naming, overwrite policy, output marker,
 * reports, reason codes: one implementation); this file only turns arguments into a job and
 * queue events into lines. Each command has its own small queue folder, keyed by the command,
 * so Ctrl-C pauses the job and running the same command again resumes it.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import type { Writable } from 'node:stream';
import {
  cloneSettings,
  DEFAULT_EXPORT_SETTINGS,
  parseExportSettings,
  type ExportSettings,
} from '../../shared/exportSettings.ts';
import type { Job, JobFile, JobInputs, JobSummary } from '../../shared/jobs.ts';
import { isUpToDate, madeByText, rerunNoteText } from '../../shared/jobs.ts';
import { defaultDataDir } from '../api/dataDir.ts';
import { createBatchQueue, PreflightRefusal, type BatchQueue } from '../batch/batchQueue.ts';
import { removeStaleCalibrations } from '../batch/deviceSpeed.ts';
import { createEngineUpscaler } from '../batch/engineUpscaler.ts';
import { formatBytes } from '../batch/preflight.ts';
import { verifyOutputs } from '../batch/verifyOutputs.ts';
import {
  type CliSettings,
  parseCliArguments,
  threadsNote,
  USAGE,
  UsageError,
} from './cliArguments.ts';
import {
  checkedQueueAddress,
  runCancel,
  runQueuedJob,
  runStatus,
  runWorker,
} from './clusterCli.ts';
import { createProgressDisplay, formatDuration } from './progressDisplay.ts';

export interface CliStreams {
  stdout: Writable & { isTTY?: boolean; columns?: number };
  stderr: Writable;
}

export interface CliEnvironment {
  /** Where each command's queue folder lives; default `<app data>/cli-jobs`. */
  stateRoot?: string;
  /**
   * The second stop signal (a second Ctrl-C): a job's running photo stops at once (it starts
   * over on resume); a worker's file goes back to the queue at once.
   */
  handBack?: AbortSignal;
}

export const EXIT_OK = 0;
export const EXIT_SOME_FAILED = 1;
export const EXIT_USAGE = 2;
/** Ctrl-C: the job is paused (after its current photo, or at once on a second one); the same command resumes it. */
export const EXIT_CANCELLED = 130;

export async function runCli(
  argv: readonly string[],
  streams: CliStreams,
  signal?: AbortSignal,
  environment: CliEnvironment = {},
): Promise<number> {
  if (argv[0] === 'verify') return runVerify(argv.slice(1), streams);
  if (argv[0] === 'status') return runStatus(argv.slice(1), streams);
  if (argv[0] === 'cancel') return runCancel(argv.slice(1), streams);
  if (argv[0] === 'worker') return runWorker(argv.slice(1), streams, signal, environment.handBack);
  let settings: CliSettings;
  let request: { inputs: JobInputs; settings: ExportSettings };
  try {
    const command = parseCliArguments(argv);
    if (command.kind === 'help') {
      streams.stdout.write(USAGE);
      return EXIT_OK;
    }
    settings = command.settings;
    request = await jobRequest(settings);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    streams.stderr.write(
      `cmsc-upscale: ${error.message}\nRun cmsc-upscale --help for the options.\n`,
    );
    return EXIT_USAGE;
  }

  // The queue is checked before anything is planned: a wrong address is one line, exit 2.
  const queueAddress =
    settings.queue === null ? null : await checkedQueueAddress(settings.queue, streams);
  if (queueAddress === false) return EXIT_USAGE;

  const threads = threadsNote(settings.threads, availableParallelism());
  if (threads) streams.stdout.write(`note ${threads}\n`);
  const upscaler = await createEngineUpscaler(
    {
      ...(settings.modelsDir ? { modelsDirs: [path.resolve(settings.modelsDir)] } : {}),
      ...(settings.threads !== undefined ? { threads: settings.threads } : {}),
      ...(settings.maxMemoryBytes !== undefined
        ? { memoryBudgetBytes: settings.maxMemoryBytes }
        : {}),
    },
    settings.device,
  );
  try {
    if (upscaler.listModels().length === 0) {
      streams.stderr.write(
        `cmsc-upscale: no model installed in ${settings.modelsDir ?? 'the models/ folder'} (each model is an ONNX file with a JSON card; see README)\n`,
      );
      return EXIT_SOME_FAILED;
    }
    const stateRoot = environment.stateRoot ?? path.join(defaultDataDir(), 'cli-jobs');
    if (queueAddress !== null)
      return await runQueuedJob(queueAddress, request, settings, upscaler, streams, signal, {
        stateDir: path.join(stateRoot, 'cluster'),
        commandKey: commandKey(request, settings.report),
      });
    const stateDir = path.join(stateRoot, commandKey(request, settings.report));
    await removeDeadRunsCalibrations(stateRoot);
    let queue: BatchQueue;
    try {
      queue = await createBatchQueue({
        stateDir,
        upscaler,
        autoStart: false,
        writeReports: settings.report,
        onNote: (message) => void streams.stdout.write(`note ${message}\n`),
      });
    } catch (error) {
      const message = (error as Error).message;
      streams.stderr.write(
        /in use by process/.test(message)
          ? `cmsc-upscale: this command is already running (${message})\n`
          : `cmsc-upscale: cannot keep the job's state in ${stateDir} (${message}); set XDG_CONFIG_HOME to a writable folder\n`,
      );
      return EXIT_SOME_FAILED;
    }
    let outcome: JobOutcome = { code: EXIT_SOME_FAILED, keepState: true };
    try {
      outcome = await runJob(
        queue,
        request,
        streams,
        { pause: signal, stopNow: environment.handBack },
        { stateDir, keptDir: path.join(stateRoot, 'reports') },
      );
    } finally {
      await queue.close();
      // A finished command leaves nothing behind; a paused one keeps its queue to resume.
      if (!outcome.keepState) await rm(stateDir, { recursive: true, force: true });
    }
    return outcome.code;
  } finally {
    await upscaler.close();
  }
}

/**
 * `cmsc-upscale verify OUT_FOLDER`: lists outputs that are missing, damaged, stale or orphaned
 * by the folder's manifest; exit 1 when any are, 0 when all are intact.
 */
async function runVerify(args: readonly string[], streams: CliStreams): Promise<number> {
  const out = (text: string): void => void streams.stdout.write(`${text}\n`);
  if (args.length !== 1 || args[0]!.startsWith('-')) {
    streams.stderr.write(
      'cmsc-upscale: verify takes one output folder: cmsc-upscale verify OUT_FOLDER\n',
    );
    return EXIT_USAGE;
  }
  const folder = path.resolve(args[0]!);
  const info = await stat(folder).catch(() => null);
  if (!info?.isDirectory()) {
    streams.stderr.write(
      `cmsc-upscale: ${printable(folder)} ${info ? 'is a file, not an output folder' : 'does not exist'}\n`,
    );
    return EXIT_USAGE;
  }
  const result = await verifyOutputs(folder);
  for (const warning of result.warnings) out(`note ${warning}`);
  if (!result.hasManifest) {
    out(
      `${printable(folder)} has no output manifest: nothing written there by cmsc-upscale to verify`,
    );
    return EXIT_OK;
  }
  for (const finding of result.findings) {
    out(
      `${finding.kind.padEnd(8)} ${printable(finding.output)}: ${finding.detail} (input ${printable(finding.input)})`,
    );
  }
  const byKind = new Map<string, number>();
  for (const finding of result.findings)
    byKind.set(finding.kind, (byKind.get(finding.kind) ?? 0) + 1);
  const problems = [...byKind].map(([kind, count]) => `${count} ${kind}`).join(', ');
  out(
    `${result.intact} of ${result.checked} outputs intact${problems ? `; ${problems}: rerun the job to repair them` : ''}`,
  );
  return result.findings.length > 0 ? EXIT_SOME_FAILED : EXIT_OK;
}

/**
 * Every command keeps its queue in its own folder, and a run killed while it timed the model
 * left its calibration images there. A killed run's job stays (the same command resumes it);
 * its calibration images are deleted at the next start of any command.
 */
async function removeDeadRunsCalibrations(stateRoot: string): Promise<void> {
  const entries = await readdir(stateRoot, { withFileTypes: true }).catch(() => []);
  for (const entry of entries)
    if (entry.isDirectory()) await removeStaleCalibrations(path.join(stateRoot, entry.name));
}

/** From the parsed flags to the queue's request; settings problems are usage errors. */
async function jobRequest(
  settings: CliSettings,
): Promise<{ inputs: JobInputs; settings: ExportSettings }> {
  const { options } = settings;
  const outputFolder = settings.outFolder === null ? null : path.resolve(settings.outFolder);
  if (outputFolder !== null) {
    const existing = await stat(outputFolder).catch(() => null);
    if (existing && !existing.isDirectory())
      throw new UsageError(`--out: ${outputFolder} exists and is not a folder`);
  }
  const candidate: ExportSettings = {
    ...cloneSettings(DEFAULT_EXPORT_SETTINGS),
    target: { ...options.target },
    format: options.format,
    encoding: { ...settings.encoding },
    outputFolder,
    namingTemplate: settings.nameTemplate,
    overwrite: settings.overwrite,
    metadata: options.keepMetadata ? 'keep' : 'strip',
    tileSize: options.tileSize ?? 'auto',
    device: settings.device,
    selfEnsemble: options.selfEnsemble,
    precision: options.precision ?? 'auto',
    qualityPreset: options.quality,
    model: options.model ?? null,
    source: options.source ?? DEFAULT_EXPORT_SETTINGS.source,
    sharpening: { ...(options.sharpening ?? DEFAULT_EXPORT_SETTINGS.sharpening) },
  };
  let exportSettings: ExportSettings;
  try {
    exportSettings = parseExportSettings(candidate);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  return {
    inputs: {
      paths: settings.inputs.map((input) => path.resolve(input)),
      recursive: settings.recursive,
      includeExtensions: [],
      excludeExtensions: [],
    },
    settings: exportSettings,
  };
}

/** The same command (inputs, settings, report choice) gets the same queue folder: resume. */
export function commandKey(
  request: { inputs: JobInputs; settings: ExportSettings },
  report: boolean,
) {
  return createHash('sha256')
    .update(JSON.stringify({ ...request, report }))
    .digest('hex')
    .slice(0, 24);
}

interface JobOutcome {
  code: number;
  /** True while the job can still be resumed by running the same command. */
  keepState: boolean;
}

async function runJob(
  queue: BatchQueue,
  request: { inputs: JobInputs; settings: ExportSettings },
  streams: CliStreams,
  stops: { pause?: AbortSignal | undefined; stopNow?: AbortSignal | undefined },
  reports: ReportFolders,
): Promise<JobOutcome> {
  const out = (text: string): void => void streams.stdout.write(`${text}\n`);
  for (const warning of queue.loadWarnings) out(`note ${warning}`);
  const started = performance.now();

  // A job left by an interrupted run of this command resumes; finished ones are history.
  let job: Job | null = queue.jobs().find((candidate) => !isOver(candidate)) ?? null;
  for (const old of queue.jobs()) if (isOver(old)) await queue.removeJob(old.id);
  let printed = new Set<number>();
  if (job) {
    const left = job.files.filter((file) => file.state === 'queued' || file.state === 'running');
    out(
      `resuming an interrupted run: ${job.files.length - left.length} of ${job.files.length} files already handled`,
    );
    printed = new Set(job.files.filter((file) => isFinal(file)).map((file) => file.id));
    await queue.resumeJob(job.id);
  } else {
    try {
      job = await queue.addJob(request);
    } catch (error) {
      if (error instanceof PreflightRefusal) {
        streams.stderr.write(`cmsc-upscale: ${error.message}\n`);
        for (const problem of error.estimate.problems)
          out(
            `FAIL ${printable(problem.path)}: ${problem.reason.message} (${problem.reason.code})`,
          );
        return { code: EXIT_SOME_FAILED, keepState: false };
      }
      streams.stderr.write(`cmsc-upscale: ${(error as Error).message}\n`);
      return { code: EXIT_SOME_FAILED, keepState: false };
    }
  }
  const jobId = job.id;
  const upToDate = job.files.filter(isUpToDate).length;
  for (const warning of queue.preflightOf(jobId)?.warnings ?? [])
    if (warning.code === 'manifest') out(`note ${warning.message}`);
  if (upToDate > 0) {
    const toDo = job.files.filter((file) => file.state === 'queued').length;
    out(
      `${toDo} to upscale, ${upToDate} up to date (made by an earlier run from the same photos with the same settings)`,
    );
    // Up-to-date files are counted, not listed: a rerun of a big folder stays readable.
    for (const file of job.files) if (isUpToDate(file)) printed.add(file.id);
  }
  const display = createProgressDisplay(streams.stdout, job.files.length - upToDate);
  const names = new Map(job.files.map((file) => [file.id, path.basename(file.inputPath)]));
  const report = (file: JobFile): void => {
    if (!isFinal(file) || printed.has(file.id)) return;
    printed.add(file.id);
    display.line(fileLine(file));
  };
  // Files the scan refused never run: their lines come first.
  for (const file of job.files) report(file);
  const unsubscribe = queue.onAny((event) => {
    if (event.type === 'file-state' && event.jobId === jobId) report(event.file);
    else if (event.type === 'progress' && event.progress.jobId === jobId) {
      const current = event.progress.currentFile;
      if (current) {
        display.tile(
          event.progress.filesFinished,
          names.get(current.fileId) ?? '',
          current.tilesDone,
          current.tilesTotal,
          event.progress.etaMs,
        );
      }
    }
  });

  // The first Ctrl-C finishes the photo being upscaled (its work is kept), the second stops it
  // at once (its finished part is kept, and the resume goes on from it); either way the same
  // command resumes the job.
  let paused = false;
  const pause = (): void => {
    paused = true;
    const running = queue.job(jobId)?.files.some((file) => file.state === 'running');
    display.line(running ? 'finishing the current photo… (Ctrl-C again to stop now)' : 'pausing…');
    void queue.pauseJob(jobId, 'after-photo');
  };
  const stopNow = (): void => {
    paused = true;
    display.line('stopping now: the finished part of the current photo is kept for the resume');
    void queue.pauseJob(jobId, 'now');
  };
  const { pause: pauseSignal, stopNow: stopSignal } = stops;
  if (pauseSignal?.aborted) pause();
  else pauseSignal?.addEventListener('abort', pause, { once: true });
  if (stopSignal?.aborted) stopNow();
  else stopSignal?.addEventListener('abort', stopNow, { once: true });
  try {
    queue.start();
    await queue.whenIdle();
    // whenIdle also resolves when the pause landed between two files.
    if (paused) await queue.pauseJob(jobId);
  } finally {
    pauseSignal?.removeEventListener('abort', pause);
    stopSignal?.removeEventListener('abort', stopNow);
    unsubscribe();
    display.finish();
  }

  const final = queue.job(jobId)!;
  const counts = tallyFiles(final.files);
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  if (paused && final.state === 'paused') {
    out(
      `${counts.done} upscaled, ${counts.upToDate} up to date, ${counts.skipped} skipped, ${counts.failed} failed in ${seconds} s, paused with ${counts.left} left: run the same command again to resume`,
    );
    return { code: EXIT_CANCELLED, keepState: true };
  }
  out(
    `${counts.done} upscaled, ${counts.upToDate} up to date, ${counts.skipped} skipped, ${counts.failed} failed in ${seconds} s`,
  );
  const summary = final.summary && (await keepFallbackReport(final.summary, reports));
  if (summary?.reportJsonPath) out(`report ${printable(summary.reportJsonPath)}`);
  if (summary?.reportError) out(`note ${summary.reportError}`);
  return { code: counts.failed > 0 ? EXIT_SOME_FAILED : EXIT_OK, keepState: false };
}

/** Where the queue puts a report the output folder cannot take, and where the CLI keeps it. */
interface ReportFolders {
  /** The command's queue folder, removed when the command ends. */
  stateDir: string;
  /** `<state root>/reports`: outlives the command. */
  keptDir: string;
}

/**
 * A report the output folder could not take went to the queue's state folder, which a finished
 * command removes: moved to `keptDir` first, so the path printed exists after the command.
 */
async function keepFallbackReport(
  summary: JobSummary,
  { stateDir, keptDir }: ReportFolders,
): Promise<JobSummary> {
  const inState = (file: string | null): file is string =>
    file !== null && file.startsWith(`${stateDir}${path.sep}`);
  if (!inState(summary.reportJsonPath) && !inState(summary.reportCsvPath)) return summary;
  const kept = { ...summary };
  try {
    await mkdir(keptDir, { recursive: true });
    for (const key of ['reportJsonPath', 'reportCsvPath'] as const) {
      const file = summary[key];
      if (!inState(file)) continue;
      kept[key] = path.join(keptDir, path.basename(file));
      await rename(file, kept[key]);
    }
    kept.reportError = `${summary.reportError ?? 'the output folder could not take the report'}; it is in ${keptDir}`;
  } catch (error) {
    return {
      ...summary,
      reportJsonPath: null,
      reportCsvPath: null,
      reportError: `${summary.reportError ?? 'the output folder could not take the report'}; nor could ${keptDir} (${(error as Error).message})`,
    };
  }
  return kept;
}

function isOver(job: Job): boolean {
  return job.state === 'finished' || job.state === 'cancelled';
}

/** The summary line's counts. */
export function tallyFiles(files: readonly JobFile[]): {
  done: number;
  upToDate: number;
  skipped: number;
  failed: number;
  left: number;
} {
  const counts = { done: 0, upToDate: 0, skipped: 0, failed: 0, left: 0 };
  for (const file of files) {
    if (isUpToDate(file)) counts.upToDate++;
    else if (file.state === 'done') counts.done++;
    else if (file.state === 'skipped') counts.skipped++;
    else if (file.state === 'failed' || file.state === 'cancelled') counts.failed++;
    else counts.left++;
  }
  return counts;
}

export function isFinal(file: JobFile): boolean {
  return (
    file.state === 'done' ||
    file.state === 'skipped' ||
    file.state === 'failed' ||
    file.state === 'cancelled'
  );
}

/** One permanent line per file: `ok`, `skip` or `FAIL`, with the reason's code. */
export function fileLine(file: JobFile): string {
  const input = printable(file.inputPath);
  if (file.state === 'done') {
    const time = file.elapsedMs === null ? '' : `, ${formatDuration(file.elapsedMs)}`;
    const bytes = file.outputBytes === null ? '' : `, ${formatBytes(file.outputBytes)}`;
    const model = file.model ? `, ${madeByText(file)}` : '';
    const rerun = file.rerun ? `; ${rerunNoteText(file.rerun)}` : '';
    const notes = (file.notes ?? []).map((note) => `; ${note.message} (${note.code})`).join('');
    return `ok   ${input} -> ${printable(file.outputPath ?? '')} (${file.outputWidth}x${file.outputHeight}${bytes}${time}, ${file.provider ?? 'cpu'}${model})${rerun}${notes}`;
  }
  const reason = file.reason ?? { code: 'upscale-failed', message: 'no reason recorded' };
  const tag = file.state === 'skipped' ? 'skip' : 'FAIL';
  return `${tag} ${input}: ${reason.message} (${reason.code})`;
}

/** A path on one line: control characters (a newline in a file name) shown escaped. */
export function printable(filePath: string): string {
  // eslint-disable-next-line no-control-regex
  return /[\u0000-\u001f\u007f]/.test(filePath) ? JSON.stringify(filePath) : filePath;
}
