/**
 * Batch jobs as every process sees them: the job and per-file records the queue persists, the
 * events it emits, the pre-flight estimate and the final summary. Plain JSON-able data, so the
 * same objects cross IPC, server-sent events and the queue's state file unchanged.
 */
import type { ExportSettings } from './exportSettings.ts';
import type { ExecutionProvider, InferencePrecision, SourceDecision } from './upscaleOptions.ts';

/** What the user picked: files and folders, and how folders are walked. */
export interface JobInputs {
  /** Absolute paths of files and folders. */
  paths: string[];
  recursive: boolean;
  /** Lower-case extensions without the dot (`jpg`); empty = every supported image extension. */
  includeExtensions: string[];
  /** Lower-case extensions without the dot, removed after `includeExtensions`. */
  excludeExtensions: string[];
  /**
   * The photos chosen before the job started ("Choose the photos"): absolute paths. Excluded
   * photos are never scanned into the job (not run, not counted); with `onlyStarred`, only the
   * starred photos are. Absent: every photo found.
   */
  selection?: PhotoSelection;
}

export interface PhotoSelection {
  starred: string[];
  excluded: string[];
  /** Export only the starred photos. */
  onlyStarred: boolean;
}

/** True when the selection leaves `photoPath` out of the job. */
export function isLeftOut(selection: PhotoSelection | undefined, photoPath: string): boolean {
  if (!selection) return false;
  if (selection.excluded.includes(photoPath)) return true;
  return selection.onlyStarred && !selection.starred.includes(photoPath);
}

export const FILE_STATES = ['queued', 'running', 'done', 'skipped', 'failed', 'cancelled'] as const;
export type FileState = (typeof FILE_STATES)[number];

export const JOB_STATES = ['queued', 'running', 'paused', 'finished', 'cancelled'] as const;
/** `finished`: every file reached done, skipped or failed; `cancelled`: the user cancelled the rest. */
export type JobState = (typeof JOB_STATES)[number];

/**
 * When a pause takes effect. `after-photo`: the photo being upscaled finishes and is kept, and
 * no further photo starts (the job shows "pausing after this photo…" meanwhile); `now`: the
 * running photo stops at once; its finished part is kept and Resume goes on from it.
 */
export const PAUSE_WHEN = ['after-photo', 'now'] as const;
export type PauseWhen = (typeof PAUSE_WHEN)[number];

/**
 * Why a file did not become `done`, as a stable code for the UI plus a sentence for people.
 * - `output-exists`: skipped under the `skip` overwrite policy.
 * - `input-missing`: the file was gone (deleted or moved) when its turn came.
 * - `unreadable`: the file or folder may not be read (permissions).
 * - `special-file`: a FIFO, device or socket: never opened (reading one can block forever).
 * - `symlink`: a symbolic link found inside a scanned folder; links there are not followed
 *   (a link can point outside the folder, or back up it). Picking the link itself follows it.
 * - `broken-link`: a symbolic link whose target is missing or that loops.
 * - `too-large`: more pixels than the engine decodes or writes (a decompression bomb).
 * - `empty-file`: zero bytes.
 * - `not-an-image`: no decoder recognises the content (a text file named .png, or a format
 *   this build cannot read, such as BMP or PSD).
 * - `decode-failed`: a recognised image that cannot be decoded (e.g. a truncated JPEG).
 * - `scale-out-of-range`: the width/height target means a scale outside 1..4 for this image.
 * - `output-not-writable`: the output folder cannot be created or written (the message says
 *   "disk full" when the volume ran out of space).
 * - `upscale-failed`: inference or encoding failed.
 * - `cancelled`: the user cancelled this file or its job.
 * - `up-to-date`: the output folder's manifest says an earlier run made this output from the
 *   same photo with the same settings, and the output is intact: nothing to do.
 * - `not-allowed`: a cluster worker refused a task naming a path outside the folders it was
 *   started with (`--allow-input`, `--allow-output`); nothing was read or written.
 * - `invalid-task`: a cluster task failed validation (unknown version, a missing field, an
 *   absurd size); it was never executed.
 */
export const FILE_REASON_CODES = [
  'up-to-date',
  'output-exists',
  'input-missing',
  'unreadable',
  'special-file',
  'symlink',
  'broken-link',
  'too-large',
  'empty-file',
  'not-an-image',
  'decode-failed',
  'scale-out-of-range',
  'output-not-writable',
  'upscale-failed',
  'cancelled',
  'not-allowed',
  'invalid-task',
] as const;
export type FileReasonCode = (typeof FILE_REASON_CODES)[number];

/**
 * Failures another attempt can fix: the file came back, the folder became writable, the engine
 * recovered. Content that cannot be decoded or a size outside the scale range (the job's settings
 * are fixed) fails the same way every time, so "Retry failed" is not offered for those alone; the
 * queue still retries such a file when it was replaced since (its size changed).
 */
export const RETRYABLE_REASON_CODES: readonly FileReasonCode[] = [
  'input-missing',
  'output-not-writable',
  'upscale-failed',
];

/**
 * The model that made a done photo as people read it: its name, why when a photo variant ran,
 * and the precision of its file (`cmsc-fast, int8`; `cmsc-lite-photo (JPEG quality ≈ 72), fp32`);
 * empty before the photo is done. Records from before the precision was kept show the model
 * alone. One wording for the batch row and the CLI line.
 */
export function madeByText(
  file: Pick<JobFile, 'state' | 'model' | 'source' | 'precision'>,
): string {
  if (file.state !== 'done' || !file.model) return '';
  const model =
    file.source?.kind === 'photo' ? `${file.model} (${file.source.reason})` : file.model;
  return file.precision ? `${model}, ${file.precision}` : model;
}

/** A file skipped because its output is up to date (the rerun rules): counted, never work. */
export function isUpToDate(file: Pick<JobFile, 'state' | 'reason'>): boolean {
  return file.state === 'skipped' && file.reason?.code === 'up-to-date';
}

export function isRetryableFailure(file: Pick<JobFile, 'state' | 'reason'>): boolean {
  return (
    file.state === 'failed' &&
    (file.reason === null || RETRYABLE_REASON_CODES.includes(file.reason.code))
  );
}

export interface FileReason {
  code: FileReasonCode;
  message: string;
}

/**
 * Something to know about a done file that is not a failure, as a stable code plus a sentence.
 * - `first-frame-only`: an animated GIF or WebP, or a multi-page TIFF: only its first frame or
 *   page was upscaled, the rest are not in the output.
 */
export const FILE_NOTE_CODES = ['first-frame-only', 'resumed'] as const;
export type FileNoteCode = (typeof FILE_NOTE_CODES)[number];

export interface FileNote {
  code: FileNoteCode;
  message: string;
}

export interface JobFile {
  /** Index in the job's file list; stable for the life of the job. */
  id: number;
  inputPath: string;
  /** Path below the input folder it was found in (`2024/a.jpg`), mirrored under the output folder. */
  relativePath: string;
  inputBytes: number;
  /** From the image header at scan time; 0 when the header could not be read. */
  inputWidth: number;
  inputHeight: number;
  /**
   * A JPEG input's IJG quality from its header tables at scan time (absent for other files and
   * older records): the time estimate predicts the clean model or its photo variant from it.
   */
  inputJpegQuality?: number;
  state: FileState;
  /** Set for skipped, failed and cancelled files. */
  reason: FileReason | null;
  /** The planned output once the file has started; the final output once done. */
  outputPath: string | null;
  outputBytes: number | null;
  outputWidth: number | null;
  outputHeight: number | null;
  /** Wall time of the last attempt. */
  elapsedMs: number | null;
  provider: ExecutionProvider | null;
  /** The model that made the output (a clean model or its photo variant) and why; set once done. */
  model?: string;
  source?: SourceDecision;
  /** Whether the model's int8 or float file made it; set once done (absent in older records). */
  precision?: InferencePrecision;
  attempts: number;
  /** What to know about the output besides its state (absent: nothing; older records). */
  notes?: FileNote[];
  /**
   * The part of the photo's output (0..1] kept by "Pause now" for its next run
   * (src/main/engine/keptRaster.ts); absent when nothing is kept.
   */
  keptFraction?: number;
  /**
   * What the rerun rules found at the output's place when the file ran (absent: nothing there,
   * a new output): our earlier output replaced in place and why, or a file that was not ours.
   */
  rerun?: RerunNote;
}

/** What a file's output replaced, or stood beside (see src/main/batch/rerunRules.ts). */
export type RerunNote =
  | { kind: 'replaced'; why: 'input-changed' | 'settings-changed' | 'deleted' | 'damaged' }
  | { kind: 'not-ours'; why: 'not-in-manifest' | 'edited'; existingPath: string };

/** The words for a rerun note, in the CLI line and the report. */
export function rerunNoteText(note: RerunNote | undefined): string {
  if (!note) return '';
  if (note.kind === 'replaced') {
    switch (note.why) {
      case 'input-changed':
        return 'the photo changed since the last run: its output replaced in place';
      case 'settings-changed':
        return 'the settings changed since the last run: its output replaced in place';
      case 'deleted':
        return 'its output had been deleted: made again';
      case 'damaged':
        return 'its output was damaged (it no longer decoded): replaced in place';
    }
  }
  return note.why === 'edited'
    ? `${note.existingPath} was edited since we wrote it: not ours any more, kept (overwrite policy applied)`
    : `${note.existingPath} was not written by us: kept (overwrite policy applied)`;
}

export interface Job {
  id: string;
  /** ISO time the job was queued; `{date}` in names comes from it. */
  createdAt: string;
  inputs: JobInputs;
  /** The settings snapshot taken when the job was queued; later changes never reach it. */
  settings: ExportSettings;
  /** The folder outputs go to (the resolved `settings.outputFolder` or the default sibling). */
  outputFolder: string;
  state: JobState;
  files: JobFile[];
  /** Set once the job finished or was cancelled. */
  summary: JobSummary | null;
  /**
   * Set when the job runs on the cluster queue instead of this computer: the queue's address
   * as people may see it (no password).
   */
  queue?: string;
}

/** Live progress of one job; `etaMs` is null while this machine's speed is unknown. */
export interface JobProgress {
  jobId: string;
  filesTotal: number;
  /** Files in a final state (done, skipped, failed, cancelled). */
  filesFinished: number;
  /**
   * The photo being upscaled: its tiles, time so far and time left (from the engine's tile
   * times once a tile finished, from this machine's speed before that).
   */
  currentFile: {
    fileId: number;
    tilesDone: number;
    tilesTotal: number;
    /** Tiles kept by an earlier "Pause now" (counted in tilesDone, not run again); absent: none. */
    tilesReused?: number;
    elapsedMs: number;
    etaMs: number | null;
  } | null;
  outputMegapixelsDone: number;
  outputMegapixelsTotal: number;
  /** Output megapixels per second on this device for the job's settings (calibrated or measured). */
  megapixelsPerSecond: number | null;
  /** Time spent on the job's photos so far: finished attempts plus the running photo. */
  elapsedMs: number;
  /** Never 0 while photos remain (at least a second: the last encode and rename follow). */
  etaMs: number | null;
  /** Bytes of the outputs this job has written so far. */
  outputBytesWritten?: number;
  /**
   * What the job's outputs will take in all: what is written, plus the photos left at the bytes
   * per output pixel this job's own outputs took (the pre-flight figure before the first).
   */
  outputBytesExpected?: number;
}

export interface JobSummary {
  jobId: string;
  state: 'finished' | 'cancelled';
  counts: Record<FileState, number>;
  inputBytes: number;
  outputBytes: number;
  /** Sum of the per-file wall times. */
  processingMs: number;
  /** Where the reports were written; null when the output folder could not take them. */
  reportJsonPath: string | null;
  reportCsvPath: string | null;
  reportError: string | null;
}

export type BatchEvent =
  | { type: 'job-added'; job: Job }
  | { type: 'job-removed'; jobId: string }
  | { type: 'queue-order'; jobIds: string[] }
  | { type: 'job-state'; jobId: string; state: JobState }
  | { type: 'file-state'; jobId: string; file: JobFile }
  | { type: 'progress'; progress: JobProgress }
  | { type: 'job-summary'; summary: JobSummary }
  /** Nothing left to run (every job finished, cancelled or paused). */
  | { type: 'queue-idle' };

export type BatchEventType = BatchEvent['type'];
export type BatchEventOf<T extends BatchEventType> = Extract<BatchEvent, { type: T }>;

export interface PreflightFileProblem {
  path: string;
  reason: FileReason;
  /** A folder (one that cannot be read), not a file. */
  folder?: boolean;
}

/**
 * `1 folder cannot be read`, `2 files cannot be read`, `1 folder and 3 files cannot be read`:
 * folders and files named as what they are.
 */
export function unreadableText(problems: readonly Pick<PreflightFileProblem, 'folder'>[]): string {
  const folders = problems.filter((problem) => problem.folder === true).length;
  const files = problems.length - folders;
  const count = (n: number, noun: string): string => `${n} ${noun}${n === 1 ? '' : 's'}`;
  const parts = [
    ...(folders > 0 ? [count(folders, 'folder')] : []),
    ...(files > 0 ? [count(files, 'file')] : []),
  ];
  return `${parts.join(' and ')} cannot be read`;
}

export interface PreflightWarning {
  code:
    | 'outputs-exist'
    | 'photos-in-subfolders'
    | 'unreadable-files'
    | 'manifest'
    /** WebP or AVIF output large enough that its encoder's whole frame matters (encoderMemory.ts). */
    | 'whole-frame-encoder';
  message: string;
}

/** What a job would do, computed before it is queued. */
export interface PreflightEstimate {
  filesFound: number;
  /**
   * Of `filesFound`, those whose outputs an earlier run made from the same photo with the same
   * settings (the output folder's manifest): they are skipped, and the time, bytes and
   * megapixels below cover only the rest.
   */
  upToDate: number;
  /** Files whose header could not be read; they will end as failed. */
  problems: PreflightFileProblem[];
  inputMegapixels: number;
  outputMegapixels: number;
  estimatedOutputBytes: number;
  /**
   * `written`: from the bytes per output pixel of files this machine wrote in the same format
   * and quality; `assumed`: from a formula that errs high (nothing of the kind written yet).
   */
  outputSizeBasis?: 'written' | 'assumed';
  /**
   * The memory the largest photo needs while it runs (the engine's budget plus its decoded
   * pixels), and its output megapixels; absent when the job has no readable photo.
   */
  largestPhoto?: { outputMegapixels: number; memoryBytes: number };
  estimatedMs: number;
  /**
   * `calibrated`: from a short timed run on this machine; `measured`: refined by photos this
   * machine finished; `assumed`: a conservative default (nothing could be measured).
   */
  throughputBasis: 'calibrated' | 'measured' | 'assumed';
  /** The speed behind `estimatedMs` in words (model, device, FLOP/s, how it was measured). */
  speedBasis: string;
  megapixelsPerSecond: number;
  /** Things to know before starting: outputs that exist, photos only in sub-folders, unreadable files. */
  warnings: PreflightWarning[];
  outputFolder: string;
  /** Free bytes on the volume holding the output folder (or its nearest existing parent). */
  freeBytes: number;
  /**
   * False when this estimate, plus what unfinished jobs already queued will still write on the
   * same volume, exceeds the free space; `refusal` then says so in words.
   */
  fitsOnDisk: boolean;
  refusal: string | null;
}

/** What `verify` found of one output (src/main/batch/verifyOutputs.ts). */
export interface OutputFinding {
  /**
   * `missing`: gone; `damaged`: no longer decodes; `edited`: differs from what we wrote but
   * decodes (a rerun keeps it); `stale`: its photo changed since; `orphaned`: its photo is gone.
   */
  kind: 'missing' | 'damaged' | 'edited' | 'stale' | 'orphaned';
  output: string;
  input: string;
  detail: string;
}

/** An output folder checked against its manifest. */
export interface OutputsVerification {
  folder: string;
  /** Outputs the manifest lists. */
  checked: number;
  intact: number;
  findings: OutputFinding[];
  /** Problems of the manifest itself (garbled, newer, lines pointing outside the folder). */
  warnings: string[];
  /** False when the folder has no manifest (nothing of ours to check). */
  hasManifest: boolean;
}
