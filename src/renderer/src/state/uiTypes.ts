/**
 * What the Compare screen opens: a photo (of a job, or of an input not started yet: `jobId`
 * null), or an input folder not started yet, which opens at its first photo.
 */
export interface CompareTarget {
  jobId: string | null;
  inputPath: string;
  /** Picked from the list of every job's photos: the list stays whole. */
  everyJob?: boolean;
}

/** `upload`: where photos dropped on the page in web mode are written. */
export type FolderPickPurpose = 'inputs' | 'output' | 'upload';
