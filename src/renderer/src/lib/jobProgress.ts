import type {
  FileState,
  Job,
  JobFile,
  JobProgress,
  PreflightEstimate,
} from '../../../shared/jobs.ts';
import { FILE_STATES } from '../../../shared/jobs.ts';
import { resumedFraction } from '../../../shared/keptWork.ts';
import { formatBytes } from './format.ts';

const FINAL_STATES: readonly FileState[] = ['done', 'skipped', 'failed', 'cancelled'];

/**
 * 0..1 for one file: finished files are full; the running one follows its time (elapsed against
 * elapsed plus time left) when main knows the speed, else its tiles. A photo resumed after
 * "Pause now" starts from the part it kept; its time covers only the rest.
 */
export function fileFraction(file: JobFile, progress: JobProgress | undefined): number {
  if (FINAL_STATES.includes(file.state)) return 1;
  // Waiting after "Pause now": the part kept for Resume.
  if (file.state !== 'running') return file.keptFraction ?? 0;
  const current = progress?.currentFile;
  if (!current || current.fileId !== file.id) return 0;
  const total = current.etaMs === null ? 0 : current.elapsedMs + current.etaMs;
  const ran = current.etaMs === null ? null : total > 0 ? current.elapsedMs / total : 0;
  const fraction = resumedFraction(file.keptFraction, current, ran);
  return ran === null ? fraction : Math.min(RUNNING_FRACTION_CAP, fraction);
}

/**
 * Paused while its photo finishes: Pause lets the running photo end (it is kept) and starts no
 * other; "Pause now" stops it instead.
 */
export function isPausing(job: Pick<Job, 'state' | 'files'>): boolean {
  return job.state === 'paused' && job.files.some((file) => file.state === 'running');
}

/** A running photo never shows as complete: encoding and the rename follow its last tile. */
const RUNNING_FRACTION_CAP = 0.99;

export interface OverallProgress {
  /** Unfinished jobs (running, waiting or paused): every number below covers these. */
  jobs: number;
  /** Of them, paused: their time counts as work left, though they wait for a person. */
  paused: number;
  filesFinished: number;
  filesTotal: number;
  /** Time spent on the photos of every unfinished job. */
  elapsedMs: number;
  /** Time left for the photos of the same jobs; null while any of them has no estimate. */
  etaMs: number | null;
}

/**
 * Every unfinished job together: the Batch screen's one line. The photos, the time spent and
 * the time left all cover the same jobs, so "154 of 1201 photos" never sits beside the time
 * left of only one of them. Null when nothing is left to do.
 */
export function overallProgress(
  jobs: readonly Job[],
  progress: Readonly<Record<string, JobProgress>>,
): OverallProgress | null {
  const open = jobs.filter((job) => job.state !== 'finished' && job.state !== 'cancelled');
  if (open.length === 0) return null;
  let filesFinished = 0;
  let filesTotal = 0;
  let elapsedMs = 0;
  let etaMs: number | null = 0;
  let paused = 0;
  for (const job of open) {
    const live = progress[job.id];
    const counts = countStates(job);
    filesTotal += job.files.length;
    filesFinished += job.files.length - counts.queued - counts.running;
    elapsedMs += live?.elapsedMs ?? job.files.reduce((sum, file) => sum + (file.elapsedMs ?? 0), 0);
    if (job.state === 'paused') paused++;
    etaMs = etaMs === null || live?.etaMs == null ? null : etaMs + live.etaMs;
  }
  return { jobs: open.length, paused, filesFinished, filesTotal, elapsedMs, etaMs };
}

/** 0..1 for a job, weighted by output pixels when known (a big photo counts for more). */
export function jobFraction(job: Job, progress: JobProgress | undefined): number {
  if (job.state === 'finished') return 1;
  if (progress && progress.outputMegapixelsTotal > 0) {
    return progress.outputMegapixelsDone / progress.outputMegapixelsTotal;
  }
  if (job.files.length === 0) return 0;
  return job.files.reduce((sum, file) => sum + fileFraction(file, progress), 0) / job.files.length;
}

export function countStates(job: Job): Record<FileState, number> {
  const counts = Object.fromEntries(FILE_STATES.map((state) => [state, 0])) as Record<
    FileState,
    number
  >;
  for (const file of job.files) counts[file.state] += 1;
  return counts;
}

/** `holiday` for one folder, `holiday + 2 more` for several inputs. */
export function jobTitle(job: Job): string {
  const first = job.inputs.paths[0] ?? job.id;
  const name = first.split(/[/\\]/).filter(Boolean).pop() ?? first;
  const more = job.inputs.paths.length - 1;
  return more > 0 ? `${name} + ${more} more` : name;
}

/** From this output size on, the pre-flight says how much memory the largest photo needs. */
export const MEMORY_LINE_FROM_MEGAPIXELS = 16;

/**
 * `needs about 1.1 GB (largest photo, 48 MP out)` for a job with a big photo; null when every
 * photo is small enough that memory does not matter.
 */
export function memoryLine(estimate: Pick<PreflightEstimate, 'largestPhoto'>): string | null {
  const largest = estimate.largestPhoto;
  if (!largest || largest.outputMegapixels < MEMORY_LINE_FROM_MEGAPIXELS) return null;
  const gigabytes = largest.memoryBytes / 1e9;
  return `needs about ${gigabytes.toFixed(1)} GB (largest photo, ${Math.round(largest.outputMegapixels)} MP out)`;
}

/** `12 MB of ≈ 48 MB` while a job writes; null before it knows or once it ended. */
export function outputSizeText(
  job: Pick<Job, 'state'>,
  progress: Pick<JobProgress, 'outputBytesWritten' | 'outputBytesExpected'> | undefined,
): string | null {
  if (job.state === 'finished' || job.state === 'cancelled') return null;
  if (progress?.outputBytesExpected === undefined) return null;
  return `${formatBytes(progress.outputBytesWritten ?? 0)} of ≈ ${formatBytes(progress.outputBytesExpected)}`;
}
