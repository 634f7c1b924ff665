/**
 * Recovery after a crash or kill: what a loaded queue must change before it runs again.
 * Temporary outputs of unfinished jobs are deleted (only ever half-written work; what "Pause
 * now" kept for the resume stays, and the engine checks it before it uses it), running jobs
 * and files go back to queued (an interrupted image starts over; the manifest record written
 * before its rename tells a completed output from a missing one), and a done file whose output
 * is gone or no longer has its recorded size is queued again (the rerun rules then replace it
 * in place, never beside it).
 */
import { stat } from 'node:fs/promises';
import type { Job } from '../../shared/jobs.ts';
import { isKeptRaster } from './keptPartials.ts';
import { deleteTemporaryOutputs } from './outputPlan.ts';

export async function recoverJobs(jobs: readonly Job[], warnings: string[]): Promise<void> {
  for (const job of jobs) {
    if (job.state === 'finished' || job.state === 'cancelled') continue;
    await deleteTemporaryOutputs(job.outputFolder, job.id, (name) => !isKeptRaster(name));
    if (job.state === 'running') job.state = 'queued';
    for (const file of job.files) {
      if (file.state === 'running') file.state = 'queued';
      if (file.state === 'done' && !(await hasRecordedSize(file.outputPath, file.outputBytes))) {
        file.state = 'queued';
        warnings.push(
          `${job.id}: the output of ${file.inputPath} is missing or damaged; it will be made again in place`,
        );
      }
    }
  }
}

/** A stat, not a decode: recovery stays O(1) per file (the manifest's hash check is at run time). */
async function hasRecordedSize(outputPath: string | null, bytes: number | null): Promise<boolean> {
  if (!outputPath) return false;
  const info = await stat(outputPath).catch(() => null);
  return info !== null && info.isFile() && (bytes === null || info.size === bytes);
}
