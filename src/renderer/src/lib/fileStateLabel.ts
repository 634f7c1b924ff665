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
 * What a photo's row says. A paused job's photo says "Paused", whether the queue already put it
 * back (it starts over on resume) or its last tile is still finishing: nothing is upscaling for
 * the person who pressed Pause.
 */
export function fileStateLabel(
  file: Pick<JobFile, 'state' | 'attempts' | 'reason'>,
  job: Pick<Job, 'state'>,
): string {
  // Skipped because an earlier run made it: not a problem, and said as such.
  if (isUpToDate(file)) return 'Up to date';
  if (
    job.state === 'paused' &&
    (file.state === 'running' || (file.state === 'queued' && file.attempts > 0))
  )
    return 'Paused';
  return FILE_STATE_LABELS[file.state];
}
