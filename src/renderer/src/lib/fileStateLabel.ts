import type { Job, JobFile } from '../../../shared/jobs.ts';
import { isUpToDate } from '../../../shared/jobs.ts';

/** A file state in words. */
export const FILE_STATE_LABELS: Readonly<Record<JobFile['state'], string>> = {
  queued: 'Waiting',
  running: 'Upscaling',
  done: 'Done',
  skipped: 'Skipped',
  failed: 'Failed',
  cancelled: 'Cancelled',
};

/**
 * What a photo's row says. A paused job's running photo is finishing (Pause keeps it); one the
 * queue put back ("Pause now") says "Paused" and how much of it is kept for Resume to go on
 * from ("Paused · 40 % kept"; none when it stopped before its first band of tiles).
 */
export function fileStateLabel(
  file: Pick<JobFile, 'state' | 'attempts' | 'reason' | 'keptFraction'>,
  job: Pick<Job, 'state'>,
): string {
  // Skipped because an earlier run made it: not a problem, and said as such.
  if (isUpToDate(file)) return 'Up to date';
  if (job.state === 'paused' && file.state === 'running') return 'Finishing, then pausing';
  if (job.state === 'paused' && file.state === 'queued' && file.attempts > 0)
    return file.keptFraction === undefined
      ? 'Paused'
      : `Paused · ${Math.floor(file.keptFraction * 100)} % kept`;
  return FILE_STATE_LABELS[file.state];
}
