import { describe, expect, it } from 'vitest';
import type { Job, JobFile, JobProgress, JobState } from '../../src/shared/jobs.ts';
import { windowTitle } from '../../src/renderer/src/lib/windowTitle.ts';

function job(id: string, state: JobState, fileStates: JobFile['state'][]): Job {
  return {
    id,
    state,
    files: fileStates.map((fileState, index) => ({ id: index, state: fileState }) as JobFile),
  } as Job;
}

function progress(jobId: string, done: number, total: number): JobProgress {
  return {
    jobId,
    filesTotal: 0,
    filesFinished: 0,
    currentFile: null,
    outputMegapixelsDone: done,
    outputMegapixelsTotal: total,
    megapixelsPerSecond: null,
    elapsedMs: 0,
    etaMs: null,
  };
}

describe('window title (issue 23: progress outside the app)', () => {
  it('names the app alone when nothing runs, and says so when only paused work is left', () => {
    expect(windowTitle([], {})).toBe('CMSC Upscaler');
    expect(windowTitle([job('a', 'finished', ['done'])], {})).toBe('CMSC Upscaler');
    expect(windowTitle([job('a', 'paused', ['done', 'queued'])], {})).toBe(
      'Paused — CMSC Upscaler',
    );
  });

  it('shows the running job by its output pixels, floored, never 100 % while work remains', () => {
    const running = job('a', 'running', ['done', 'running', 'queued']);
    expect(windowTitle([running], { a: progress('a', 3.7, 10) })).toBe('37% — CMSC Upscaler');
    expect(windowTitle([running], { a: progress('a', 9.999, 10) })).toBe('99% — CMSC Upscaler');
  });

  it('weighs running and waiting jobs by their photos; finished and paused jobs do not count', () => {
    const jobs = [
      job('a', 'running', ['done', 'running']),
      job('b', 'queued', ['queued', 'queued']),
      job('c', 'finished', ['done']),
      job('d', 'paused', ['queued']),
    ];
    // a: half of its pixels (2 photos), b: nothing yet (2 photos): 1 of 4 photos' worth.
    expect(windowTitle(jobs, { a: progress('a', 5, 10) })).toBe('25% — CMSC Upscaler');
  });
});
