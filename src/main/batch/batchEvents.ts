/** A typed publish/subscribe hub for the queue's events: one listener list per event type. */
import type { BatchEvent, BatchEventOf, BatchEventType } from '../../shared/jobs.ts';

export type BatchListener<T extends BatchEventType> = (event: BatchEventOf<T>) => void;
export type Unsubscribe = () => void;

export class BatchEventHub {
  private readonly listeners = new Map<BatchEventType, Set<(event: BatchEvent) => void>>();
  private readonly anyListeners = new Set<(event: BatchEvent) => void>();

  on<T extends BatchEventType>(type: T, listener: BatchListener<T>): Unsubscribe {
    let set = this.listeners.get(type);
    if (!set) {
      set = new Set();
      this.listeners.set(type, set);
    }
    // Stored untyped; `emit` only hands a listener events whose type it registered for.
    const stored = listener as (event: BatchEvent) => void;
    set.add(stored);
    return () => set.delete(stored);
  }

  /** Every event, in emission order: what a transport (IPC, SSE) forwards. */
  onAny(listener: (event: BatchEvent) => void): Unsubscribe {
    this.anyListeners.add(listener);
    return () => this.anyListeners.delete(listener);
  }

  emit(event: BatchEvent): void {
    // A throwing listener must not break the queue or starve the other listeners.
    for (const listener of [...(this.listeners.get(event.type) ?? []), ...this.anyListeners]) {
      try {
        listener(event);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}
