/**
 * The one interface the UI talks to. Two transports implement it: the Electron preload bridge
 * and HTTP + server-sent events (web mode); screens never know which one they have.
 */
import type {
  ErrorAnswer,
  EventChannel,
  EventChannels,
  InvokeAnswer,
  InvokeArgs,
  InvokeChannel,
  InvokeResult,
} from '../../../shared/ipc.ts';

export interface Backend {
  readonly mode: 'desktop' | 'web';
  invoke<C extends InvokeChannel>(channel: C, ...args: InvokeArgs<C>): Promise<InvokeResult<C>>;
  on<E extends EventChannel>(channel: E, listener: (payload: EventChannels[E]) => void): () => void;
  /** Paths of files dropped on the window; empty in web mode, where pages cannot see paths. */
  pathsOfDroppedFiles(files: readonly File[]): string[];
  /**
   * Web: the address that downloads a job's written output (`fileId`), or all of them as a zip
   * (`null`). Desktop: null, since the files are on this computer (Show in folder, Open).
   */
  outputDownloadUrl(jobId: string, fileId: number | null): string | null;
  /**
   * Web: sends one dropped photo into `folder` (a folder chosen in the folder browser) and
   * answers where it was written. Desktop: not needed (dropped files have real paths).
   */
  uploadPhoto(folder: string, file: File): Promise<string>;
}

export class BackendError extends Error {
  override readonly name = 'BackendError';
  constructor(readonly answer: ErrorAnswer) {
    super(answer.message);
  }
}

export function unwrap<C extends InvokeChannel>(answer: InvokeAnswer<C>): InvokeResult<C> {
  if (!answer.ok) throw new BackendError(answer.error);
  return answer.value;
}
