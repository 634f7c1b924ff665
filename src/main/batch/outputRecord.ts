/**
 * The outcome record of a job: which output each input gets under the rerun rules, the
 * manifest record written for each output, and the reasons a file did not become an output.
 * The queue asks; this module decides and writes down.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { FileNote, FileReason, Job, JobFile } from '../../shared/jobs.ts';
import type { ConcreteFormat } from '../../shared/outputNaming.ts';
import type { ModelSummary } from '../../shared/upscaleOptions.ts';
import { InputRejected } from './imageUpscaler.ts';
import type { ImageHeader } from './inputScan.ts';
import {
  hashFile,
  identify,
  manifestLock,
  OutputManifest,
  programName,
  type ManifestRecord,
} from './outputManifest.ts';
import type { PidLock } from './pidLock.ts';
import { decideOutput, type OutputDecision } from './rerunRules.ts';
import { outputShapingSettings, settingsDigest } from './settingsDigest.ts';

/** How long a writer waits between looks at another process's lock on an output folder. */
const LOCK_POLL_MS = 500;

interface OpenFolder {
  manifest: OutputManifest;
  lock: PidLock | null;
}

/**
 * The manifests of the output folders a queue reads and writes, one per folder per process.
 * Reading needs no lock (a torn last line is ignored); writing takes the folder's lock first,
 * then reads the manifest again, since another process may have written it meanwhile.
 */
export class OutputBook {
  private readonly folders = new Map<string, OpenFolder>();
  /** Problems of each folder's manifest, as last read. */
  private readonly problems = new Map<string, string[]>();

  /** What was wrong with `folder`'s manifest when it was last read (garbled, newer, lines outside). */
  warningsFor(folder: string): string[] {
    return [...(this.problems.get(path.resolve(folder)) ?? [])];
  }

  async read(folder: string): Promise<OutputManifest> {
    const key = path.resolve(folder);
    const open = this.folders.get(key);
    if (open) return open.manifest;
    const manifest = await this.load(key);
    this.folders.set(key, { manifest, lock: null });
    return manifest;
  }

  /**
   * The manifest of `folder`, locked for this process. While another live process writes the
   * folder this waits (calling `onWait` once with its process id), until `signal` aborts.
   */
  async forWriting(
    folder: string,
    signal: AbortSignal,
    onWait: (holder: number) => void = () => undefined,
  ): Promise<OutputManifest> {
    const key = path.resolve(folder);
    const open = this.folders.get(key);
    if (open?.lock) return open.manifest;
    const lock = manifestLock(key);
    let told = false;
    for (;;) {
      const holder = await lock.tryAcquire();
      if (holder === null) break;
      if (!told) onWait(holder);
      told = true;
      signal.throwIfAborted();
      await new Promise((resolve) => setTimeout(resolve, LOCK_POLL_MS));
      signal.throwIfAborted();
    }
    const manifest = await this.load(key);
    await manifest.compactIfLarge();
    this.folders.set(key, { manifest, lock });
    return manifest;
  }

  /** Releases every lock this process holds (the job paused or finished, the queue closes). */
  async releaseAll(): Promise<void> {
    for (const [key, open] of this.folders) {
      await open.lock?.release();
      this.folders.delete(key);
    }
  }

  private async load(folder: string): Promise<OutputManifest> {
    const { manifest, warnings } = await OutputManifest.open(folder);
    this.problems.set(folder, warnings);
    return manifest;
  }
}

/** One input as the rules see it: where its output would go, and what it is now. */
export interface PlannedOutput {
  /** The template's name for the output, before the overwrite policy. */
  targetPath: string;
  format: ConcreteFormat;
}

/**
 * The rerun decision for `file` of `job`: the input's size and time are read now, its content
 * hashed only when they differ from the record's.
 */
export async function decideForFile(
  manifest: OutputManifest,
  job: Pick<Job, 'settings'>,
  file: Pick<JobFile, 'inputPath' | 'relativePath'>,
  planned: PlannedOutput,
  models: readonly ModelSummary[],
): Promise<OutputDecision> {
  const info = await stat(file.inputPath);
  let hashed: Promise<string> | null = null;
  return decideOutput(
    manifest,
    planned.targetPath,
    {
      path: file.inputPath,
      relativePath: portablePath(file.relativePath),
      bytes: info.size,
      mtimeMs: info.mtimeMs,
      sha256: () => (hashed ??= hashFile(file.inputPath)),
    },
    settingsDigest(outputShapingSettings(job.settings, planned.format, models)),
  );
}

/**
 * The record of an output about to be renamed into place from `tempPath` (complete and
 * fsynced): its hash, size and time are the final file's, since a rename keeps them.
 */
export async function outputRecordFor(
  manifest: OutputManifest,
  job: Pick<Job, 'id' | 'settings'>,
  file: Pick<JobFile, 'inputPath' | 'relativePath'>,
  planned: PlannedOutput,
  finalPath: string,
  tempPath: string,
  models: readonly ModelSummary[],
): Promise<ManifestRecord> {
  const shaping = outputShapingSettings(job.settings, planned.format, models);
  const [output, input] = await Promise.all([identify(tempPath), identify(file.inputPath)]);
  return {
    target: manifest.relativePathOf(planned.targetPath),
    output: { path: manifest.relativePathOf(finalPath), ...output },
    input: {
      path: portablePath(file.relativePath),
      absolutePath: file.inputPath,
      ...input,
    },
    settingsDigest: settingsDigest(shaping),
    settings: shaping,
    job: job.id,
    writtenAt: new Date().toISOString(),
    program: programName(),
  };
}

/**
 * Notes what the output leaves out, from the header of the input being processed: only the
 * first frame of an animated GIF or WebP, or the first page of a multi-page TIFF, is upscaled.
 * Never silently: the file's line and the report say so.
 */
export function noteFrames(file: JobFile, header: Pick<ImageHeader, 'format' | 'pages'>): void {
  const pages = header.pages ?? 1;
  if (pages <= 1) {
    delete file.notes;
    return;
  }
  const [one, many] = header.format === 'tiff' ? ['page', 'pages'] : ['frame', 'frames'];
  const note: FileNote = {
    code: 'first-frame-only',
    message: `first ${one} only: ${pages} ${many}, the rest are not upscaled`,
  };
  file.notes = [note];
}

/** Records use `/` on every platform. */
function portablePath(relativePath: string): string {
  return relativePath.split(path.sep).join('/');
}

/** The reason of a file found up to date (the output's path is in the file's record). */
export function upToDateReason(): FileReason {
  return {
    code: 'up-to-date',
    message: 'up to date: an earlier run made its output from this photo with these settings',
  };
}

/** Why a file failed, as a reason: what the engine or the write path threw, in words. */
export function failureReason(error: unknown): FileReason {
  if (error instanceof InputRejected) return error.reason;
  if (isWriteError(error)) return writeFailure(error, null);
  return { code: 'upscale-failed', message: errorText(error) };
}

// The encoder's first line is only "…: write error"; the cause follows on later lines.
const WRITE_ERROR_TEXT =
  /EACCES|EPERM|EROFS|ENOSPC|EDQUOT|Permission denied|Read-only file system|Operation not permitted|No space left|quota exceeded/i;
const DISK_FULL_TEXT = /ENOSPC|EDQUOT|No space left|quota exceeded/i;

export function isWriteError(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  return (
    code === 'EACCES' ||
    code === 'EPERM' ||
    code === 'EROFS' ||
    code === 'ENOSPC' ||
    code === 'EDQUOT' ||
    code === 'ENOTDIR' ||
    WRITE_ERROR_TEXT.test(fullErrorText(error))
  );
}

/** `output-not-writable`, saying "disk full" in so many words when that is the cause. */
export function writeFailure(error: unknown, folder: string | null): FileReason {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  const where = folder === null ? '' : ` in ${folder}`;
  if (code === 'ENOSPC' || code === 'EDQUOT' || DISK_FULL_TEXT.test(fullErrorText(error))) {
    return {
      code: 'output-not-writable',
      message: `disk full: no space left to write the output${where}`,
    };
  }
  return {
    code: 'output-not-writable',
    message: `cannot write${where} (${errorText(error)})`,
  };
}

/**
 * Why the output folder could not be prepared, in words that say which case it is: a folder
 * that exists but cannot be written (no permission, or a read-only file system), or one that
 * cannot be created because of the folder above it (read-only, or a file in the way).
 */
export async function outputFolderFailure(error: unknown, folder: string): Promise<FileReason> {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  const failed = (message: string): FileReason => ({ code: 'output-not-writable', message });
  const why =
    code === 'EACCES' || code === 'EPERM'
      ? 'is read-only (no write permission)'
      : code === 'EROFS'
        ? 'is on a read-only file system'
        : null;
  // The nearest part of the path that exists says which case it is.
  let existing = path.resolve(folder);
  let info = await stat(existing).catch(() => null);
  while (info === null && path.dirname(existing) !== existing) {
    existing = path.dirname(existing);
    info = await stat(existing).catch(() => null);
  }
  if (info?.isDirectory() && why !== null) {
    if (existing === path.resolve(folder))
      return failed(`the output folder ${folder} exists but ${why}`);
    const above =
      existing === path.dirname(path.resolve(folder))
        ? `its parent ${existing}`
        : `${existing} above it`;
    return failed(`cannot create the output folder ${folder}: ${above} ${why}`);
  }
  if (info !== null && !info.isDirectory() && (code === 'ENOTDIR' || code === 'EEXIST'))
    return failed(`cannot create the output folder ${folder}: ${existing} is a file, not a folder`);
  return failed(`cannot create the output folder ${folder} (${errorText(error)})`);
}

function fullErrorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export function errorText(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0]!.trim();
}
