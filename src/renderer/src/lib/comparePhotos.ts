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

/** Whose photos Compare lists: one job's, one input's not started yet, or every photo. */
export type CompareScope =
  { kind: 'job'; jobId: string } | { kind: 'pending'; root: string } | { kind: 'all' };

/**
 * The scope a request opens: a job's photo lists that job's photos; a folder not started yet
 * (or one of its photos) lists that folder's; nothing asked lists everything. A folder that
 * holds no photo lists nothing: it never falls back to another folder's photos.
 */
export function scopeOf(
  target: { jobId: string | null; inputPath: string; everyJob?: boolean } | null,
  pending: readonly InputPhoto[],
  pendingRoots: readonly string[],
): CompareScope {
  if (target === null || target.everyJob) return { kind: 'all' };
  if (target.jobId !== null) return { kind: 'job', jobId: target.jobId };
  if (pendingRoots.includes(target.inputPath)) return { kind: 'pending', root: target.inputPath };
  const photo = pending.find((candidate) => candidate.inputPath === target.inputPath);
  if (photo) return { kind: 'pending', root: photo.inputRoot };
  const root = pendingRoots.find(
    (candidate) =>
      target.inputPath.startsWith(candidate + '/') || target.inputPath.startsWith(candidate + '\\'),
  );
  return root === undefined ? { kind: 'all' } : { kind: 'pending', root };
}

/** The photos of a scope, in the order `comparePhotos` gives them. */
export function photosInScope(
  photos: readonly ComparePhoto[],
  scope: CompareScope,
  jobs: readonly Job[],
): ComparePhoto[] {
  if (scope.kind === 'all') return [...photos];
  if (scope.kind === 'pending') return photos.filter((photo) => photo.pendingRoot === scope.root);
  const job = jobs.find((candidate) => candidate.id === scope.jobId);
  if (!job) return [];
  const own = new Set(job.files.map((file) => file.inputPath));
  // A photo in several jobs is listed once, under the newest; here it belongs to this job.
  return photos
    .filter((photo) => own.has(photo.inputPath))
    .map((photo) => ({ ...photo, jobId: job.id, pendingRoot: null }));
}

/** The folder a photo is in (its path without the file name). */
export function folderOf(path: string): string {
  const cut = Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\'));
  return cut > 0 ? path.slice(0, cut) : path;
}

/**
 * The photos in runs of one folder each, in their order: the list names every folder, so two
 * folders holding the same file names (two cards' `DCIM/100CANON`) can be told apart.
 */
export function groupByFolder(
  photos: readonly ComparePhoto[],
): { folder: string; photos: ComparePhoto[] }[] {
  const groups: { folder: string; photos: ComparePhoto[] }[] = [];
  for (const photo of photos) {
    const folder = folderOf(photo.inputPath);
    const last = groups.at(-1);
    if (last && last.folder === folder) last.photos.push(photo);
    else groups.push({ folder, photos: [photo] });
  }
  return groups;
}
