/** What the Compare screen opens: one photo of a job. */
export interface CompareTarget {
  jobId: string;
  inputPath: string;
}

export type FolderPickPurpose = 'inputs' | 'output';
