import type { FileState, Job, JobFile, JobProgress } from '../../../shared/jobs.ts';
import { FILE_STATES } from '../../../shared/jobs.ts';

const FINAL_STATES: readonly FileState[] = ['done', 'skipped', 'failed', 'cancelled'];

/** 0..1 for one file: finished files are full, the running one follows its tiles. */
export function fileFraction(file: JobFile, progress: JobProgress | undefined): number {
  if (FINAL_STATES.includes(file.state)) return 1;
  if (file.state !== 'running') return 0;
  const current = progress?.currentFile;
  if (!current || current.fileId !== file.id || current.tilesTotal === 0) return 0;
  return current.tilesDone / current.tilesTotal;
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
