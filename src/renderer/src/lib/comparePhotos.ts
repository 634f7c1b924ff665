/**
 * The photos Compare offers: those of inputs added but not started (previews before committing
 * the CPU time) and those of every job. A photo appears once, however many jobs hold it.
 */
import type { InputPhoto } from '../../../shared/ipc.ts';
import type { Job } from '../../../shared/jobs.ts';

export interface ComparePhoto {
  inputPath: string;
  relativePath: string;
  /** The newest job holding the photo; null when it is only in inputs not started yet. */
  jobId: string | null;
  /** The added-but-not-started input it comes through ("start this folder"); null otherwise. */
  pendingRoot: string | null;
}

/** Pending photos first (what people preview before starting), then jobs newest first. */
export function comparePhotos(
  pending: readonly InputPhoto[],
  jobs: readonly Job[],
): ComparePhoto[] {
  const byPath = new Map<string, ComparePhoto>();
  for (const photo of pending) {
    if (byPath.has(photo.inputPath)) continue;
    byPath.set(photo.inputPath, {
      inputPath: photo.inputPath,
      relativePath: photo.relativePath,
      jobId: null,
      pendingRoot: photo.inputRoot,
    });
  }
  for (const job of [...jobs].reverse()) {
    for (const file of job.files) {
      // A file whose header could not be read has nothing to compare.
      if (file.inputWidth === 0) continue;
      const known = byPath.get(file.inputPath);
      if (known) known.jobId ??= job.id;
      else
        byPath.set(file.inputPath, {
          inputPath: file.inputPath,
          relativePath: file.relativePath,
          jobId: job.id,
          pendingRoot: null,
        });
    }
  }
  return [...byPath.values()];
}

/**
 * The photo to show for a request: the photo itself, else the first photo found through it (a
 * folder's "Preview"), else the first photo of all.
 */
export function pickPhoto(
  photos: readonly ComparePhoto[],
  requested: string | null,
): ComparePhoto | undefined {
  if (requested !== null) {
    const exact = photos.find((photo) => photo.inputPath === requested);
    if (exact) return exact;
    const through = photos.find((photo) => photo.pendingRoot === requested);
    if (through) return through;
  }
  return photos[0];
}
