/**
 * Jobs the app put on the cluster queue ("Run on: the queue at …"). Each is planned here exactly
 * as a local job is (scan, names, manifest up-to-date check, estimate), its files go on the
 * queue as tasks (src/main/cluster/queuedJob.ts, the same code the CLI submits with), and what
 * the workers report comes back as the batch queue's own events. So the batch screen, job card,
 * progress bar, ETA and report are the ones of a local job; only `job.queue` tells them apart.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ExportSettings } from '../../shared/exportSettings.ts';
import {
  isUpToDate,
  type BatchEvent,
  type Job,
  type JobFile,
  type JobInputs,
  type JobProgress,
} from '../../shared/jobs.ts';
import { jobFromPlan, newJobId, PreflightRefusal } from '../batch/batchQueue.ts';
import { BatchEventHub, type Unsubscribe } from '../batch/batchEvents.ts';
import type { ImageUpscaler } from '../batch/imageUpscaler.ts';
import { JobPlanner, type RunningFileView } from '../batch/jobPlanner.ts';
import { buildReport, summarizeJob, writeReport } from '../batch/jobReport.ts';
import { deleteTemporaryOutputs } from '../batch/outputPlan.ts';
import { OutputBook } from '../batch/outputRecord.ts';
import { isFinal } from '../cli/runCli.ts';
import { ClusterStore } from '../cluster/clusterStore.ts';
import {
  checkQueue,
  connectionProblem,
  parseQueueAddress,
  QueueAddressError,
  type QueueAddress,
} from '../cluster/queueConnection.ts';
import {
  fillOutcomes,
  followQueuedJob,
  jobOfSpec,
  specForJob,
  submitJob,
} from '../cluster/queuedJob.ts';
import type { JobSpec } from '../cluster/taskPayload.ts';
import { InvalidArgument } from './validate.ts';

export interface QueuedJobsOptions {
  upscaler: ImageUpscaler;
  /** Calibration images and reports the output folder cannot take. */
  stateDir: string;
  /** This machine's speed figures (the estimate before the first worker reports). */
  speedFile: string;
  /** Connection trouble and workers' refusals, for the log. */
  log?: (line: string) => void;
}

interface QueuedEntry {
  job: Job;
  spec: JobSpec;
  /** As the setting holds it (with its password): what the journal keeps. */
  addressText: string;
  address: QueueAddress;
  store: ClusterStore;
  running: RunningFileView | null;
  /** The whole job's time left as the workers together go (null before the first file). */
  workersEtaMs: number | null;
  /** Aborted to stop following: pause, cancel, remove, close. */
  stop: AbortController | null;
  following: Promise<void> | null;
}

export class QueuedJobs {
  private readonly entries = new Map<string, QueuedEntry>();
  private readonly hub = new BatchEventHub();
  private readonly planner: JobPlanner;
  private opened: Promise<void> | null = null;
  /** Journal entries of jobs whose queue could not be reached at start: kept, tried next start. */
  private unrestored: JournalEntry[] = [];
  /** The last journal write: the next one starts after it. */
  private journalWrites: Promise<void> = Promise.resolve();

  constructor(private readonly options: QueuedJobsOptions) {
    this.planner = new JobPlanner({
      upscaler: options.upscaler,
      stateDir: options.stateDir,
      speedFile: options.speedFile,
      outputs: new OutputBook(),
      isBusy: () => false,
      warn: (message) => this.log(`note ${message}`),
    });
  }

  onAny(listener: (event: BatchEvent) => void): Unsubscribe {
    return this.hub.onAny(listener);
  }

  has(jobId: string): boolean {
    return this.entries.has(jobId);
  }

  jobs(): Job[] {
    return [...this.entries.values()].map((entry) => entry.job);
  }

  job(jobId: string): Job | null {
    return this.entries.get(jobId)?.job ?? null;
  }

  progress(jobId: string): JobProgress | null {
    const entry = this.entries.get(jobId);
    return entry ? this.progressOf(entry) : null;
  }

  /**
   * Plans the job here and puts its files on the queue at `address`. Throws InvalidArgument
   * with one plain sentence when the queue cannot be reached or the job cannot be planned.
   */
  async add(
    addressText: string,
    request: { inputs: JobInputs; settings: ExportSettings },
  ): Promise<Job> {
    const address = parseQueueAddress(addressText);
    try {
      await checkQueue(address);
    } catch (error) {
      if (error instanceof QueueAddressError)
        throw new InvalidArgument(queueProblemSentence(error.message));
      throw error;
    }
    this.opened ??= this.planner.open();
    await this.opened;
    const planned = await this.planner.plan(request, { jobs: [], estimatedOutputBytes: new Map() });
    let job: Job;
    try {
      job = jobFromPlan(planned, newJobId());
    } catch (error) {
      if (error instanceof PreflightRefusal) throw new InvalidArgument(error.message);
      throw error;
    }
    job.queue = address.display;
    const spec = specForJob(job, this.options.upscaler.listModels());
    const store = new ClusterStore(address);
    try {
      if (spec.tasks > 0) await submitJob(store, job, spec, null);
    } catch (error) {
      await store.close();
      throw new InvalidArgument(queueProblemSentence(connectionProblem(address, error)));
    }
    const entry = this.attach(job, spec, addressText, store);
    await this.saveJournal();
    this.follow(entry);
    return structuredClone(job);
  }

  /**
   * Follows again the jobs this app had on the queue when it stopped (unfinished ones: a
   * finished job's report is in its output folder). A queue that cannot be reached keeps its
   * jobs in the journal for the next start.
   */
  async restore(): Promise<void> {
    let journal: JournalEntry[];
    try {
      journal = parseJournal(JSON.parse(await readFile(this.journalFile(), 'utf8')));
    } catch {
      return;
    }
    for (const saved of journal) {
      if (this.entries.has(saved.id)) continue;
      let address: QueueAddress;
      try {
        address = parseQueueAddress(saved.address);
        await checkQueue(address);
      } catch {
        this.unrestored.push(saved);
        continue;
      }
      const store = new ClusterStore(address);
      const spec = await store.job(saved.id).catch(() => null);
      const files = spec ? await store.files(saved.id) : null;
      if (!spec || !files || (spec.state !== 'active' && spec.state !== 'paused')) {
        await store.close();
        continue;
      }
      const job = jobOfSpec(spec, files);
      job.queue = address.display;
      job.state = spec.state === 'paused' ? 'paused' : 'queued';
      await fillOutcomes(store, job);
      const entry = this.attach(job, spec, saved.address, store);
      if (spec.state === 'active') this.follow(entry);
    }
    await this.saveJournal();
  }

  /** No worker takes the job's files any more; the ones running finish. */
  async pause(jobId: string): Promise<void> {
    const entry = this.require(jobId);
    if (entry.job.state !== 'running') return;
    await this.stopFollowing(entry);
    await entry.store.queue(jobId).pause();
    entry.spec.state = 'paused';
    await entry.store.saveJob(entry.spec);
    this.setState(entry, 'paused');
  }

  async resume(jobId: string): Promise<void> {
    const entry = this.require(jobId);
    if (entry.job.state !== 'paused') return;
    entry.spec.state = 'active';
    await entry.store.saveJob(entry.spec);
    await entry.store.queue(jobId).resume();
    this.follow(entry);
  }

  /** Pauses the queue, removes the files waiting, and ends the job as the CLI's `cancel` does. */
  async cancel(jobId: string): Promise<void> {
    const entry = this.require(jobId);
    if (entry.job.summary) return;
    await this.stopFollowing(entry);
    const queue = entry.store.queue(jobId);
    await queue.pause();
    await queue.drain(true);
    entry.spec.state = 'cancelled';
    await entry.store.saveJob(entry.spec);
    for (const file of entry.job.files) {
      if (isFinal(file)) continue;
      file.state = 'cancelled';
      file.reason = { code: 'cancelled', message: 'cancelled' };
      file.outputPath = null;
      this.fileChanged(entry, file);
    }
    await this.finish(entry, 'cancelled');
  }

  /** Forgets the job here; a job still on the queue is cancelled there first. */
  async remove(jobId: string): Promise<void> {
    const entry = this.require(jobId);
    if (!entry.job.summary) await this.cancel(jobId);
    await entry.store.close();
    this.entries.delete(jobId);
    await this.saveJournal();
    this.hub.emit({ type: 'job-removed', jobId });
  }

  async close(): Promise<void> {
    for (const entry of this.entries.values()) {
      await this.stopFollowing(entry);
      await entry.store.close();
    }
    this.entries.clear();
  }

  private attach(job: Job, spec: JobSpec, addressText: string, store: ClusterStore): QueuedEntry {
    const entry: QueuedEntry = {
      job,
      spec,
      addressText,
      address: parseQueueAddress(addressText),
      store,
      running: null,
      workersEtaMs: null,
      stop: null,
      following: null,
    };
    this.entries.set(job.id, entry);
    this.hub.emit({ type: 'job-added', job: structuredClone(job) });
    return entry;
  }

  private journalFile(): string {
    return path.join(this.options.stateDir, 'queued-jobs.json');
  }

  /**
   * The unfinished jobs and their queues' addresses (with passwords: owner-only). Writes are
   * serialised, and each one lists the jobs as they are when it starts: two saves at once (a
   * restore's and a job's end) would otherwise share the temporary file, and the older list
   * could land last.
   */
  private saveJournal(): Promise<void> {
    const write = async (): Promise<void> => {
      const journal: JournalEntry[] = [
        ...this.unrestored,
        ...[...this.entries.values()]
          .filter((entry) => entry.job.summary === null)
          .map((entry) => ({ id: entry.job.id, address: entry.addressText })),
      ];
      await writeOwnerOnlyFile(this.journalFile(), `${JSON.stringify(journal)}\n`);
    };
    const saved = this.journalWrites.then(write);
    this.journalWrites = saved.catch(() => undefined);
    return saved;
  }

  private require(jobId: string): QueuedEntry {
    const entry = this.entries.get(jobId);
    if (!entry) throw new Error(`no job ${jobId}`);
    return entry;
  }

  private follow(entry: QueuedEntry): void {
    const { job } = entry;
    if (job.files.every(isFinal)) {
      void this.finish(entry, 'finished');
      return;
    }
    const stop = new AbortController();
    entry.stop = stop;
    this.setState(entry, 'running');
    entry.following = followQueuedJob(
      entry.store,
      entry.address,
      job,
      {
        file: (file) => {
          if (entry.running?.fileId === file.id) entry.running = null;
          this.fileChanged(entry, file);
        },
        progress: (fileId, tilesDone, tilesTotal, fileEtaMs, jobEtaMs) => {
          const file = job.files[fileId];
          if (!file || isFinal(file)) return;
          if (file.state !== 'running') {
            file.state = 'running';
            this.fileChanged(entry, file);
          }
          if (entry.running?.fileId !== fileId)
            entry.running = {
              fileId,
              tilesDone,
              tilesTotal,
              imageEtaMs: fileEtaMs,
              startedAt: performance.now(),
            };
          else Object.assign(entry.running, { tilesDone, tilesTotal, imageEtaMs: fileEtaMs });
          entry.workersEtaMs = jobEtaMs;
          this.hub.emit({ type: 'progress', progress: this.progressOf(entry) });
        },
        note: (text) => this.log(`${job.id}: ${text}`),
      },
      stop.signal,
    )
      .then(async () => {
        if (!stop.signal.aborted && job.files.every(isFinal)) await this.finish(entry, 'finished');
      })
      .catch((error: unknown) => this.log(`${job.id}: ${connectionProblem(entry.address, error)}`));
  }

  private async stopFollowing(entry: QueuedEntry): Promise<void> {
    entry.stop?.abort();
    await entry.following;
    entry.stop = null;
    entry.following = null;
    entry.running = null;
  }

  private fileChanged(entry: QueuedEntry, file: JobFile): void {
    this.planner.noteFile(entry.job, file);
    this.hub.emit({ type: 'file-state', jobId: entry.job.id, file: structuredClone(file) });
    this.hub.emit({ type: 'progress', progress: this.progressOf(entry) });
  }

  private progressOf(entry: QueuedEntry): JobProgress {
    const progress = this.planner.progress(entry.job, entry.running);
    // Before a file finished: this machine's speed (the local estimate). After: the workers' pace,
    // which this machine's speed says nothing about.
    return entry.workersEtaMs === null ? progress : { ...progress, etaMs: entry.workersEtaMs };
  }

  private setState(entry: QueuedEntry, state: Job['state']): void {
    if (entry.job.state === state) return;
    entry.job.state = state;
    this.hub.emit({ type: 'job-state', jobId: entry.job.id, state });
  }

  /** The end of a job, as a local one ends: temporary outputs swept, the report written. */
  private async finish(entry: QueuedEntry, state: 'finished' | 'cancelled'): Promise<void> {
    const { job } = entry;
    if (job.summary) return;
    // A worker killed mid-file left its temporary output; the file ran again under the same name.
    await deleteTemporaryOutputs(job.outputFolder, job.id).catch(() => []);
    if (state === 'finished' && entry.spec.tasks > 0) {
      entry.spec.state = 'finished';
      await entry.store.saveJob(entry.spec).catch(() => undefined);
    }
    job.state = state;
    // A job whose files were all up to date wrote nothing, and leaves nothing: no report either.
    const nothingDone = job.files.length > 0 && job.files.every(isUpToDate);
    const written = nothingDone
      ? { jsonPath: null, csvPath: null, error: null }
      : await writeReport(
          buildReport(job, state, new Date()),
          path.join(this.options.stateDir, 'reports'),
        );
    job.summary = {
      ...summarizeJob(job, state),
      reportJsonPath: written.jsonPath,
      reportCsvPath: written.csvPath,
      reportError: written.error,
    };
    // The journal drops the job before the summary announces its end, so that whoever acts on
    // the summary (the user quitting, a test reading the journal) never finds it still listed.
    await this.saveJournal().catch((error: unknown) => this.log(`journal: ${String(error)}`));
    this.hub.emit({ type: 'job-state', jobId: job.id, state });
    this.hub.emit({ type: 'job-summary', summary: structuredClone(job.summary) });
  }

  private log(line: string): void {
    (this.options.log ?? ((text: string) => console.log(`queue: ${text}`)))(line);
  }
}

/**
 * A small file that may hold a queue's password: readable by its owner only, written then
 * renamed so a crash never leaves half of it.
 */
export async function writeOwnerOnlyFile(file: string, text: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, text, { mode: 0o600 });
  await rename(temporary, file);
}

interface JournalEntry {
  id: string;
  address: string;
}

function parseJournal(value: unknown): JournalEntry[] {
  if (!Array.isArray(value)) return [];
  return value.filter(
    (entry): entry is JournalEntry =>
      typeof entry === 'object' &&
      entry !== null &&
      typeof (entry as JournalEntry).id === 'string' &&
      typeof (entry as JournalEntry).address === 'string',
  );
}

/**
 * A message of the queue code ("--queue must start with redis://…", "cannot reach Redis at …")
 * as a sentence for people in the app: no command-line flag, a capital, a full stop.
 */
export function queueProblemSentence(message: string): string {
  const text = message.replace(/--queue:? /g, 'the address ');
  const capital = text.charAt(0).toUpperCase() + text.slice(1);
  return /[.!?]\)?$/.test(capital) ? capital : `${capital}.`;
}
