/**
 * The files a job wrote, as people reach them: "Show in folder" and "Open" on the desktop,
 * downloads in web mode, and Compare's "written file". Only a finished photo's own output is
 * ever named, so a request can never point these at another file.
 */
import type { Job, JobFile } from '../../shared/jobs.ts';
import { InvalidArgument } from './validate.ts';

/** What the desktop can do with a written file. */
export const OUTPUT_ACTIONS = ['reveal', 'open'] as const;
export type OutputAction = (typeof OUTPUT_ACTIONS)[number];

/** The output of photo `fileId` of `job`, once it is written; refuses in words before that. */
export function writtenOutput(job: Job, fileId: number): { file: JobFile; outputPath: string } {
  const file = job.files.find((candidate) => candidate.id === fileId);
  if (!file) throw new InvalidArgument(`This job has no photo number ${fileId}`);
  if (file.state !== 'done' || file.outputPath === null)
    throw new InvalidArgument(`${file.relativePath} has not been written yet`);
  return { file, outputPath: file.outputPath };
}

/** Every output the job has written, in the job's order. */
export function writtenOutputs(job: Job): { file: JobFile; outputPath: string }[] {
  return job.files.flatMap((file) =>
    file.state === 'done' && file.outputPath !== null
      ? [{ file, outputPath: file.outputPath }]
      : [],
  );
}
