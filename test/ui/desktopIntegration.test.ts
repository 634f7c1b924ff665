import { describe, expect, it, vi } from 'vitest';
import type { BrowserWindow } from 'electron';
import type { ServiceEvent } from '../../src/main/api/services.ts';
import type { JobSummary } from '../../src/shared/jobs.ts';

// Electron at its boundary: notifications are recorded instead of shown.
const shown: { title: string; body: string }[] = [];
vi.mock('electron', () => ({
  Notification: class {
    static isSupported = () => true;
    constructor(private readonly options: { title: string; body: string }) {}
    show() {
      shown.push(this.options);
    }
  },
}));

const { attachDesktopIntegration, LONG_BATCH_MS } =
  await import('../../src/main/electron/desktopIntegration.ts');

function fakeWindow(focused: boolean) {
  const progress: unknown[][] = [];
  const window = {
    isDestroyed: () => false,
    isFocused: () => focused,
    setProgressBar: (...args: unknown[]) => void progress.push(args),
  } as unknown as BrowserWindow;
  return { window, progress };
}

function summary(processingMs: number): JobSummary {
  return {
    jobId: 'j',
    state: 'finished',
    counts: { queued: 0, running: 0, done: 11, skipped: 0, failed: 1, cancelled: 0 },
    inputBytes: 0,
    outputBytes: 0,
    processingMs,
    reportJsonPath: null,
    reportCsvPath: null,
    reportError: null,
  };
}

function drive(focused: boolean, events: ServiceEvent['payload'][]) {
  const { window, progress } = fakeWindow(focused);
  let listener: ((event: ServiceEvent) => void) | undefined;
  attachDesktopIntegration(window, (next) => {
    listener = next;
    return () => undefined;
  });
  for (const payload of events) listener?.({ channel: 'batch:event', payload });
  return progress;
}

describe('desktop integration', () => {
  it('mirrors the output-pixel progress on the taskbar and clears it when idle', () => {
    const progress = drive(true, [
      {
        type: 'progress',
        progress: {
          jobId: 'j',
          filesTotal: 4,
          filesFinished: 1,
          currentFile: null,
          outputMegapixelsDone: 3,
          outputMegapixelsTotal: 12,
          megapixelsPerSecond: 1,
          elapsedMs: 1,
          etaMs: 1,
        },
      },
      { type: 'job-state', jobId: 'j', state: 'paused' },
      { type: 'queue-idle' },
    ]);
    expect(progress).toEqual([[0.25], [0, { mode: 'paused' }], [-1]]);
  });

  it('notifies when a long batch ends while the window is in the background, only then', () => {
    shown.length = 0;
    drive(true, [{ type: 'job-summary', summary: summary(LONG_BATCH_MS + 1) }]);
    drive(false, [{ type: 'job-summary', summary: summary(LONG_BATCH_MS - 1) }]);
    expect(shown).toEqual([]);
    drive(false, [{ type: 'job-summary', summary: summary(LONG_BATCH_MS + 1) }]);
    expect(shown).toEqual([{ title: 'Batch finished', body: '11 photos upscaled, 1 failed.' }]);
  });
});
