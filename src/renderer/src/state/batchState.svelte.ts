import type { BatchSnapshot } from '../../../shared/ipc.ts';
import type { BatchEvent, Job, JobFile, JobProgress } from '../../../shared/jobs.ts';

/** The Batch screen's model: the queue's jobs, kept current by applying its events in order. */
export class BatchState {
  jobs = $state<Job[]>([]);
  progress = $state<Record<string, JobProgress>>({});

  load(snapshot: BatchSnapshot): void {
    this.jobs = snapshot.jobs;
    this.progress = snapshot.progress;
  }

  apply(event: BatchEvent): void {
    switch (event.type) {
      case 'job-added':
        if (!this.jobs.some((job) => job.id === event.job.id)) this.jobs.push(event.job);
        break;
      case 'job-removed':
        this.jobs = this.jobs.filter((job) => job.id !== event.jobId);
        break;
      case 'queue-order': {
        const ordered = event.jobIds.flatMap((id) => this.find(id) ?? []);
        this.jobs = [...ordered, ...this.jobs.filter((job) => !event.jobIds.includes(job.id))];
        break;
      }
      case 'job-state': {
        const job = this.find(event.jobId);
        if (job) job.state = event.state;
        break;
      }
      case 'file-state': {
        const job = this.find(event.jobId);
        if (job) replaceFile(job, event.file);
        break;
      }
      case 'progress':
        this.progress[event.progress.jobId] = event.progress;
        break;
      case 'job-summary': {
        const job = this.find(event.summary.jobId);
        if (job) job.summary = event.summary;
        break;
      }
      case 'queue-idle':
        break;
    }
  }

  find(jobId: string): Job | undefined {
    return this.jobs.find((job) => job.id === jobId);
  }

  /** Every image of every job, for the Compare screen's picker. */
  images(): { job: Job; file: JobFile }[] {
    return this.jobs.flatMap((job) => job.files.map((file) => ({ job, file })));
  }
}

function replaceFile(job: Job, file: JobFile): void {
  const index = job.files.findIndex((candidate) => candidate.id === file.id);
  if (index >= 0) job.files[index] = file;
  else job.files.push(file);
}
