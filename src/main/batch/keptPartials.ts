/**
 * The batch queue's side of what "Pause now" keeps (src/main/engine/keptRaster.ts): a paused
 * photo's finished rows stay beside its temporary output until the photo runs again, and go
 * when nothing of the job will resume (finished, cancelled, removed). Recovery after a restart
 * spares them (queueRecovery.ts); the engine decides at the next run whether they still fit.
 */
import type { Job, JobFile } from '../../shared/jobs.ts';
import { KEPT_RASTER_MARKER } from '../engine/keptRaster.ts';
import { deleteTemporaryOutputs } from './outputPlan.ts';

/** Whether a file name is a kept raster or its record (or that record's temporary). */
export function isKeptRaster(fileName: string): boolean {
  return fileName.includes(KEPT_RASTER_MARKER);
}

/** Deletes what "Pause now" kept for `job`'s photos; a folder that cannot be read is left. */
export async function deleteKeptRasters(job: Pick<Job, 'id' | 'outputFolder'>): Promise<void> {
  await deleteTemporaryOutputs(job.outputFolder, job.id, isKeptRaster).catch(() => []);
}

/** Notes on a finished photo that it went on from what "Pause now" kept (its line, its report). */
export function resumedNote(file: JobFile, tilesReused: number, tilesTotal: number): void {
  const note = {
    code: 'resumed' as const,
    message: `went on from ${tilesReused} of ${tilesTotal} tiles kept by Pause now`,
  };
  file.notes = [...(file.notes ?? []).filter((n) => n.code !== 'resumed'), note];
}
