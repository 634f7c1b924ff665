import type { Job, JobProgress } from '../../../shared/jobs.ts';
import { jobFraction } from './jobProgress.ts';

export const APP_TITLE = 'CMSC Upscaler';

/**
 * The window title (the taskbar, the browser tab, Alt-Tab): how far the work is while jobs
 * run, so a person in another window sees it without switching. Running and waiting jobs count; a queue where only paused jobs remain says so.
 */
export function windowTitle(
  jobs: readonly Job[],
  progress: Readonly<Record<string, JobProgress>>,
): string {
  const active = jobs.filter((job) => job.state === 'running' || job.state === 'queued');
  if (active.length === 0) {
    return jobs.some((job) => job.state === 'paused') ? `Paused — ${APP_TITLE}` : APP_TITLE;
  }
  // Each job weighs its photos (inside a job, its fraction follows output pixels).
  let done = 0;
  let total = 0;
  for (const job of active) {
    done += jobFraction(job, progress[job.id]) * job.files.length;
    total += job.files.length;
  }
  // Floor, never round: 99.6 % is not done, and the title must not say 100 % while work remains.
  // (The 1e-9 absorbs float error: 0.37 × 3 photos / 3 is 36.999… in binary.)
  const percent = total > 0 ? Math.min(99, Math.floor((100 * done) / total + 1e-9)) : 0;
  return `${percent}% — ${APP_TITLE}`;
}
