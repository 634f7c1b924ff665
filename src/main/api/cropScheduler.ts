/**
 * Compare crops, one at a time, latest first. A person moving the crop box only wants the
 * crop where the box is now: a new request supersedes the ones still waiting (they answer
 * `Superseded` at once) and aborts the one running. So a burst of requests costs one decode
 * and one upscale, not one per request, and memory stays where one crop puts it.
 */

/** A crop that a newer request replaced before it finished; transports answer 409. */
export class Superseded extends Error {
  override readonly name = 'Superseded';
  constructor() {
    super('a newer crop request replaced this one');
  }
}

interface Waiting<T> {
  run: (signal: AbortSignal) => Promise<T>;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
}

export class CropScheduler {
  private running: AbortController | null = null;
  private waiting: Waiting<unknown> | null = null;

  /**
   * Runs `run` once every earlier crop has settled; rejects with `Superseded` when a newer
   * request arrives first. `run` must stop promptly when its signal aborts.
   */
  schedule<T>(run: (signal: AbortSignal) => Promise<T>): Promise<T> {
    // Only the newest request waits; the one it replaces is answered now, not queued.
    this.waiting?.reject(new Superseded());
    this.running?.abort(new Superseded());
    return new Promise<T>((resolve, reject) => {
      this.waiting = { run, resolve, reject } as Waiting<unknown>;
      this.pump();
    });
  }

  private pump(): void {
    if (this.running || !this.waiting) return;
    const next = this.waiting;
    this.waiting = null;
    const controller = new AbortController();
    this.running = controller;
    next
      .run(controller.signal)
      .then(
        (value) =>
          controller.signal.aborted ? next.reject(new Superseded()) : next.resolve(value),
        (error: unknown) => next.reject(controller.signal.aborted ? new Superseded() : error),
      )
      .finally(() => {
        this.running = null;
        this.pump();
      });
  }
}
