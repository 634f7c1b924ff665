/**
 * The desktop's view of a batch: progress on the taskbar/dock icon while jobs run, and a
 * notification when a long job ends while the user looks elsewhere.
 */
import { Notification, type BrowserWindow } from 'electron';
import type { BatchEvent } from '../../shared/jobs.ts';
import type { ServiceEvent } from '../api/services.ts';

/** Jobs shorter than this end while the user is still watching: no notification. */
export const LONG_BATCH_MS = 30_000;

export function attachDesktopIntegration(
  window: BrowserWindow,
  subscribe: (listener: (event: ServiceEvent) => void) => () => void,
): () => void {
  return subscribe(({ payload }) => {
    if (!window.isDestroyed()) onBatchEvent(window, payload);
  });
}

function onBatchEvent(window: BrowserWindow, event: BatchEvent): void {
  switch (event.type) {
    case 'progress': {
      const { outputMegapixelsDone, outputMegapixelsTotal } = event.progress;
      if (outputMegapixelsTotal > 0)
        window.setProgressBar(outputMegapixelsDone / outputMegapixelsTotal);
      break;
    }
    case 'job-state':
      if (event.state === 'paused') window.setProgressBar(0, { mode: 'paused' });
      break;
    case 'queue-idle':
      window.setProgressBar(-1);
      break;
    case 'job-summary': {
      const { summary } = event;
      if (summary.processingMs < LONG_BATCH_MS || window.isFocused() || !Notification.isSupported())
        break;
      const { done, failed } = summary.counts;
      new Notification({
        title: summary.state === 'cancelled' ? 'Batch cancelled' : 'Batch finished',
        body: `${done} photo${done === 1 ? '' : 's'} upscaled${failed > 0 ? `, ${failed} failed` : ''}.`,
      }).show();
      break;
    }
    default:
      break;
  }
}
