/**
 * The queue on disk: a snapshot (`queue.json`, replaced atomically) plus a journal of the
 * changes since (`queue.journal`, one JSON line per change, appended and fsynced), so that a
 * change costs the same at 30 files as at 30,000, and a crash at any moment leaves the last
 * complete state: loading replays the journal over the snapshot, and drops a torn last line.
 * The journal is folded into a new snapshot once it holds more lines than the queue has files
 * (amortised O(1) per change). Every journal entry sets a value (never "add one"), so replaying
 * it over a snapshot that already holds it changes nothing: a crash between writing the
 * snapshot and emptying the journal is harmless. Loading validates the shape; an unreadable
 * snapshot is moved aside (never deleted) and the queue starts empty.
 */
import { mkdir, open, readFile, readdir, rename, rm, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { migrateSettings } from '../../shared/exportSettings.ts';
import {
  FILE_NOTE_CODES,
  FILE_REASON_CODES,
  FILE_STATES,
  JOB_STATES,
  type FileReason,
  type Job,
  type JobFile,
  type JobInputs,
  type RerunNote,
} from '../../shared/jobs.ts';
import {
  INFERENCE_PRECISIONS,
  SOURCE_SETTINGS,
  type SourceDecision,
} from '../../shared/upscaleOptions.ts';
import { ATOMIC_TEMP_MARKER, writeFileAtomic } from '../files/atomicWrite.ts';
import { PidLock } from './pidLock.ts';

export const QUEUE_FILE_NAME = 'queue.json';
export const JOURNAL_FILE_NAME = 'queue.journal';
/** The journal is folded into the snapshot past this many lines, or the queue's file count. */
const MIN_JOURNAL_LINES_BEFORE_COMPACTION = 1000;
/** The longest a file's state waits in the page cache before the journal is fsynced. */
const LAZY_SYNC_MS = 1000;
const LOCK_FILE_NAME = 'queue.lock';
const QUEUE_SCHEMA_VERSION = 1;

interface QueueFile {
  schemaVersion: typeof QUEUE_SCHEMA_VERSION;
  /** In queue order. */
  jobs: Job[];
  /** Each job's pre-flight output estimate, by job id, so later pre-flights count what is still to come. */
  estimatedOutputBytes: Record<string, number>;
}

/** One change, as a journal line. */
export type JournalEntry =
  | { op: 'job'; job: Job; estimatedOutputBytes?: number }
  | { op: 'state'; jobId: string; state: Job['state']; summary: Job['summary'] }
  | { op: 'file'; jobId: string; file: JobFile }
  | { op: 'remove'; jobId: string }
  | { op: 'order'; jobIds: string[] };

export interface LoadedQueue {
  jobs: Job[];
  estimatedOutputBytes: Map<string, number>;
  /** Problems found while loading, for the log; the queue still opens. */
  warnings: string[];
}

export class QueueStore {
  private writing: Promise<void> = Promise.resolve();
  private readonly pidLock: PidLock;
  private journalHandle: FileHandle | null = null;
  private syncTimer: NodeJS.Timeout | null = null;
  private journalLines = 0;
  /** Files in the queue at the last snapshot: the journal may grow to as many lines. */
  private snapshotFiles = 0;

  constructor(readonly stateDir: string) {
    this.pidLock = new PidLock(path.join(stateDir, LOCK_FILE_NAME));
  }

  get queuePath(): string {
    return path.join(this.stateDir, QUEUE_FILE_NAME);
  }

  get journalPath(): string {
    return path.join(this.stateDir, JOURNAL_FILE_NAME);
  }

  get lockPath(): string {
    return path.join(this.stateDir, LOCK_FILE_NAME);
  }

  /**
   * Takes the state folder for this process. Two processes on one queue would each redo the
   * other's files, so a second opener is refused while the holder lives; a lock left by a
   * killed process is taken over.
   */
  async lock(): Promise<void> {
    await mkdir(this.stateDir, { recursive: true });
    const holder = await this.pidLock.tryAcquire();
    if (holder !== null)
      throw new Error(`the batch queue in ${this.stateDir} is in use by process ${holder}`);
  }

  async unlock(): Promise<void> {
    await this.pidLock.release();
  }

  async load(): Promise<LoadedQueue> {
    const loaded = await this.loadSnapshot();
    const journal = await readFile(this.journalPath, 'utf8').catch(() => '');
    if (journal !== '') {
      const lines = journal.split('\n');
      // A line without its newline was being written when the process died: it never happened.
      lines.pop();
      let applied = 0;
      for (const [index, line] of lines.entries()) {
        if (line.trim() === '') continue;
        try {
          applyJournalEntry(loaded, JSON.parse(line) as unknown, loaded.warnings);
          applied++;
        } catch (error) {
          loaded.warnings.push(
            `${this.journalPath} line ${index + 1} could not be applied (${(error as Error).message}); the rest of the journal still is`,
          );
        }
      }
      this.journalLines = applied;
    }
    return loaded;
  }

  private async loadSnapshot(): Promise<LoadedQueue> {
    await mkdir(this.stateDir, { recursive: true });
    await this.deleteStaleTemporaries();
    let text: string;
    try {
      text = await readFile(this.queuePath, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        return { jobs: [], estimatedOutputBytes: new Map(), warnings: [] };
      }
      throw error;
    }
    const warnings: string[] = [];
    try {
      const parsed: unknown = JSON.parse(text);
      const { jobs, dropped } = parseQueueFile(parsed, warnings);
      if (dropped > 0) {
        // Keep the original beside the repaired queue: the dropped jobs can still be recovered by hand.
        const copy = `${this.queuePath}.unreadable-${Date.now()}`;
        await writeFileAtomic(copy, text);
        warnings.push(`the original queue file is kept as ${copy}`);
      }
      return { jobs, estimatedOutputBytes: parseEstimates(parsed, jobs), warnings };
    } catch (error) {
      const aside = `${this.queuePath}.unreadable-${Date.now()}`;
      await rename(this.queuePath, aside);
      warnings.push(
        `${this.queuePath} could not be read (${(error as Error).message}); moved to ${aside}, starting with an empty queue`,
      );
      return { jobs: [], estimatedOutputBytes: new Map(), warnings };
    }
  }

  /**
   * Writes a snapshot of `jobs` durably, then empties the journal. Calls are serialised with
   * the appends, so the files always end with the latest state even when callers do not await.
   */
  save(
    jobs: readonly Job[],
    estimatedOutputBytes: ReadonlyMap<string, number> = new Map(),
  ): Promise<void> {
    const content: QueueFile = {
      schemaVersion: QUEUE_SCHEMA_VERSION,
      jobs: [...jobs],
      estimatedOutputBytes: Object.fromEntries(estimatedOutputBytes),
    };
    // Compact: a 10,000-file queue stringifies in about 10 ms instead of 50 ms indented.
    const text = `${JSON.stringify(content)}\n`;
    const files = jobs.reduce((sum, job) => sum + job.files.length, 0);
    return this.serially(async () => {
      await writeFileAtomic(this.queuePath, text);
      // Only after the snapshot holds every change: a crash before this line replays the
      // journal over it, which changes nothing.
      await this.closeJournal();
      await rm(this.journalPath, { force: true });
      this.journalLines = 0;
      this.snapshotFiles = files;
    });
  }

  /**
   * Appends one change to the journal. `durable` changes (a job added, cancelled, finished) are
   * fsynced before this returns; a file's own state is written at once and fsynced within
   * `LAZY_SYNC_MS` (as Redis' `appendfsync everysec`): a power cut may lose the last second of
   * file states, and those files are then decided again from the output manifest, whose record
   * is durable before any output is renamed into place. A killed process loses nothing (the
   * lines are in the page cache). Returns true when the journal has grown past the queue's
   * size, so that the caller writes a snapshot (`save`) when convenient.
   */
  async append(entry: JournalEntry, durable = true): Promise<boolean> {
    const line = `${JSON.stringify(entry)}\n`;
    await this.serially(async () => {
      this.journalHandle ??= await open(this.journalPath, 'a');
      await this.journalHandle.appendFile(line);
      this.journalLines++;
      if (durable) await this.syncJournal();
      else this.syncSoon();
    });
    return this.journalLines > Math.max(MIN_JOURNAL_LINES_BEFORE_COMPACTION, this.snapshotFiles);
  }

  private syncSoon(): void {
    if (this.syncTimer) return;
    this.syncTimer = setTimeout(() => {
      this.syncTimer = null;
      void this.serially(() => this.syncJournal()).catch(() => undefined);
    }, LAZY_SYNC_MS);
    this.syncTimer.unref();
  }

  private async syncJournal(): Promise<void> {
    if (this.syncTimer) clearTimeout(this.syncTimer);
    this.syncTimer = null;
    await this.journalHandle?.sync();
  }

  async closeJournal(): Promise<void> {
    await this.syncJournal();
    const handle = this.journalHandle;
    this.journalHandle = null;
    await handle?.close();
  }

  private serially(write: () => Promise<void>): Promise<void> {
    const next = this.writing.then(write);
    this.writing = next.catch(() => undefined);
    return next;
  }

  private async deleteStaleTemporaries(): Promise<void> {
    for (const name of await readdir(this.stateDir)) {
      if (name.startsWith(ATOMIC_TEMP_MARKER))
        await rm(path.join(this.stateDir, name), { force: true });
    }
  }
}

/** Applies one journal line to the loaded queue (validated like the snapshot's jobs). */
function applyJournalEntry(queue: LoadedQueue, value: unknown, warnings: string[]): void {
  const entry = expectRecord(value, 'entry');
  const jobIndex = (jobId: unknown): number =>
    queue.jobs.findIndex((job) => job.id === expectString(jobId, 'jobId'));
  switch (entry.op) {
    case 'job': {
      const job = parseJob(entry.job, 'job', warnings);
      const index = jobIndex(job.id);
      if (index >= 0) queue.jobs[index] = job;
      else queue.jobs.push(job);
      if (typeof entry.estimatedOutputBytes === 'number')
        queue.estimatedOutputBytes.set(job.id, entry.estimatedOutputBytes);
      return;
    }
    case 'state': {
      const job = queue.jobs[jobIndex(entry.jobId)];
      if (!job) return; // removed later in the journal, or before the snapshot
      job.state = expectEnum(entry.state, JOB_STATES, 'state');
      job.summary = isRecord(entry.summary) ? (entry.summary as unknown as Job['summary']) : null;
      return;
    }
    case 'file': {
      const job = queue.jobs[jobIndex(entry.jobId)];
      if (!job) return;
      const file = parseFile(entry.file, 'file');
      if (job.files[file.id]?.id !== file.id)
        throw new Error(`job ${job.id} has no file ${file.id}`);
      job.files[file.id] = file;
      return;
    }
    case 'remove': {
      const index = jobIndex(entry.jobId);
      if (index >= 0) queue.jobs.splice(index, 1);
      queue.estimatedOutputBytes.delete(expectString(entry.jobId, 'jobId'));
      return;
    }
    case 'order': {
      const ids = expectArray(entry.jobIds, 'jobIds').map((id) => expectString(id, 'jobIds[]'));
      const rank = new Map(ids.map((id, i) => [id, i]));
      queue.jobs.sort((a, b) => (rank.get(a.id) ?? ids.length) - (rank.get(b.id) ?? ids.length));
      return;
    }
    default:
      throw new Error(`unknown journal entry ${JSON.stringify(entry.op)}`);
  }
}

/** The valid jobs of a queue file; a job that does not validate is dropped with a warning. */
function parseQueueFile(value: unknown, warnings: string[]): { jobs: Job[]; dropped: number } {
  if (
    !isRecord(value) ||
    value.schemaVersion !== QUEUE_SCHEMA_VERSION ||
    !Array.isArray(value.jobs)
  ) {
    throw new Error(`not a version ${QUEUE_SCHEMA_VERSION} queue file`);
  }
  const jobs: Job[] = [];
  let dropped = 0;
  value.jobs.forEach((job, index) => {
    try {
      jobs.push(parseJob(job, `jobs[${index}]`, warnings));
    } catch (error) {
      dropped++;
      warnings.push(`job dropped from the queue: ${(error as Error).message}`);
    }
  });
  return { jobs, dropped };
}

/** Estimates of the loaded jobs; a missing or invalid one counts as nothing still to write. */
function parseEstimates(value: unknown, jobs: readonly Job[]): Map<string, number> {
  const estimates = new Map<string, number>();
  const stored =
    isRecord(value) && isRecord(value.estimatedOutputBytes) ? value.estimatedOutputBytes : {};
  for (const job of jobs) {
    const bytes = stored[job.id];
    if (typeof bytes === 'number' && Number.isFinite(bytes) && bytes >= 0)
      estimates.set(job.id, bytes);
  }
  return estimates;
}

function parseJob(value: unknown, where: string, warnings: string[]): Job {
  const job = expectRecord(value, where);
  const { settings, warnings: settingsWarnings } = migrateSettings(job.settings);
  warnings.push(...settingsWarnings.map((warning) => `${where}.settings: ${warning}`));
  const files = expectArray(job.files, `${where}.files`).map((file, index) =>
    parseFile(file, `${where}.files[${index}]`),
  );
  return {
    id: expectString(job.id, `${where}.id`),
    createdAt: expectString(job.createdAt, `${where}.createdAt`),
    inputs: parseInputs(job.inputs, `${where}.inputs`),
    settings,
    outputFolder: expectString(job.outputFolder, `${where}.outputFolder`),
    state: expectEnum(job.state, JOB_STATES, `${where}.state`),
    files,
    // A summary is recomputed when the job finishes again; an old one is only display data.
    summary: isRecord(job.summary) ? (job.summary as unknown as Job['summary']) : null,
  };
}

function parseInputs(value: unknown, where: string): JobInputs {
  const inputs = expectRecord(value, where);
  return {
    paths: expectArray(inputs.paths, `${where}.paths`).map((p, i) =>
      expectString(p, `${where}.paths[${i}]`),
    ),
    recursive: expectBoolean(inputs.recursive, `${where}.recursive`),
    includeExtensions: expectArray(inputs.includeExtensions, `${where}.includeExtensions`).map(
      (e, i) => expectString(e, `${where}.includeExtensions[${i}]`),
    ),
    excludeExtensions: expectArray(inputs.excludeExtensions, `${where}.excludeExtensions`).map(
      (e, i) => expectString(e, `${where}.excludeExtensions[${i}]`),
    ),
  };
}

function parseFile(value: unknown, where: string): JobFile {
  const file = expectRecord(value, where);
  return {
    id: expectNumber(file.id, `${where}.id`),
    inputPath: expectString(file.inputPath, `${where}.inputPath`),
    relativePath: expectString(file.relativePath, `${where}.relativePath`),
    inputBytes: expectNumber(file.inputBytes, `${where}.inputBytes`),
    inputWidth: expectNumber(file.inputWidth, `${where}.inputWidth`),
    inputHeight: expectNumber(file.inputHeight, `${where}.inputHeight`),
    // Optional: only JPEG inputs have it, and records written before it existed lack it.
    ...(file.inputJpegQuality === undefined
      ? {}
      : { inputJpegQuality: expectNumber(file.inputJpegQuality, `${where}.inputJpegQuality`) }),
    state: expectEnum(file.state, FILE_STATES, `${where}.state`),
    reason: file.reason === null ? null : parseReason(file.reason, `${where}.reason`),
    outputPath: nullable(file.outputPath, expectString, `${where}.outputPath`),
    outputBytes: nullable(file.outputBytes, expectNumber, `${where}.outputBytes`),
    outputWidth: nullable(file.outputWidth, expectNumber, `${where}.outputWidth`),
    outputHeight: nullable(file.outputHeight, expectNumber, `${where}.outputHeight`),
    elapsedMs: nullable(file.elapsedMs, expectNumber, `${where}.elapsedMs`),
    provider: nullable(
      file.provider,
      (v, w) => expectEnum(v, ['cuda', 'webgpu', 'cpu'] as const, w),
      `${where}.provider`,
    ),
    attempts: expectNumber(file.attempts, `${where}.attempts`),
    // What made a done output; optional: files recorded before each field existed lack it.
    ...(file.model === undefined ? {} : { model: expectString(file.model, `${where}.model`) }),
    ...(file.source === undefined ? {} : { source: parseSource(file.source, `${where}.source`) }),
    ...(file.precision === undefined
      ? {}
      : { precision: expectEnum(file.precision, INFERENCE_PRECISIONS, `${where}.precision`) }),
    ...(file.notes === undefined
      ? {}
      : {
          notes: expectArray(file.notes, `${where}.notes`).map((note, i) => {
            const record = expectRecord(note, `${where}.notes[${i}]`);
            return {
              code: expectEnum(record.code, FILE_NOTE_CODES, `${where}.notes[${i}].code`),
              message: expectString(record.message, `${where}.notes[${i}].message`),
            };
          }),
        }),
    ...(file.rerun === undefined ? {} : { rerun: parseRerunNote(file.rerun, `${where}.rerun`) }),
    ...(file.keptFraction === undefined
      ? {}
      : { keptFraction: expectNumber(file.keptFraction, `${where}.keptFraction`) }),
  };
}

function parseRerunNote(value: unknown, where: string): RerunNote {
  const note = expectRecord(value, where);
  if (note.kind === 'replaced') {
    return {
      kind: 'replaced',
      why: expectEnum(
        note.why,
        ['input-changed', 'settings-changed', 'deleted', 'damaged'] as const,
        `${where}.why`,
      ),
    };
  }
  return {
    kind: expectEnum(note.kind, ['not-ours'] as const, `${where}.kind`),
    why: expectEnum(note.why, ['not-in-manifest', 'edited'] as const, `${where}.why`),
    existingPath: expectString(note.existingPath, `${where}.existingPath`),
  };
}

function parseSource(value: unknown, where: string): SourceDecision {
  const source = expectRecord(value, where);
  return {
    kind: expectEnum(source.kind, ['clean', 'photo'] as const, `${where}.kind`),
    setting: expectEnum(source.setting, SOURCE_SETTINGS, `${where}.setting`),
    reason: expectString(source.reason, `${where}.reason`),
    jpegQuality: nullable(source.jpegQuality, expectNumber, `${where}.jpegQuality`),
    noiseSigma: expectNumber(source.noiseSigma, `${where}.noiseSigma`),
  };
}

function parseReason(value: unknown, where: string): FileReason {
  const reason = expectRecord(value, where);
  return {
    code: expectEnum(reason.code, FILE_REASON_CODES, `${where}.code`),
    message: expectString(reason.message, `${where}.message`),
  };
}

function nullable<T>(
  value: unknown,
  read: (value: unknown, where: string) => T,
  where: string,
): T | null {
  return value === null || value === undefined ? null : read(value, where);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function expectRecord(value: unknown, where: string): Record<string, unknown> {
  if (!isRecord(value)) throw new Error(`${where} is not an object`);
  return value;
}

function expectArray(value: unknown, where: string): unknown[] {
  if (!Array.isArray(value)) throw new Error(`${where} is not an array`);
  return value;
}

function expectString(value: unknown, where: string): string {
  if (typeof value !== 'string') throw new Error(`${where} is not a string`);
  return value;
}

function expectNumber(value: unknown, where: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value))
    throw new Error(`${where} is not a number`);
  return value;
}

function expectBoolean(value: unknown, where: string): boolean {
  if (typeof value !== 'boolean') throw new Error(`${where} is not a boolean`);
  return value;
}

function expectEnum<T extends string>(value: unknown, allowed: readonly T[], where: string): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new Error(`${where} is not one of ${allowed.join(', ')}`);
  }
  return value as T;
}
