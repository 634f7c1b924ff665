import type {
  ErrorAnswer,
  EventChannel,
  EventChannels,
  InvokeAnswer,
  InvokeArgs,
  InvokeChannel,
} from '../../../shared/ipc.ts';
import { EVENT_CHANNELS } from '../../../shared/ipc.ts';
import { decodeWire, encodeWire } from '../../../shared/wireCodec.ts';
import { BackendError, type Backend, unwrap } from './backend.ts';

type Listener = (payload: unknown) => void;

/**
 * Web transport: POST /api/invoke/<channel> and one EventSource on /api/events. The token
 * comes from the page URL the server printed.
 */
export function createHttpBackend(token: string, baseUrl = ''): Backend {
  const listeners = new Map<EventChannel, Set<Listener>>();
  let events: EventSource | null = null;

  const connect = (): void => {
    if (events) return;
    events = new EventSource(`${baseUrl}/api/events?token=${encodeURIComponent(token)}`);
    for (const channel of EVENT_CHANNELS) {
      events.addEventListener(channel, (message) => {
        const payload = decodeWire((message as MessageEvent<string>).data);
        for (const listener of listeners.get(channel) ?? []) listener(payload);
      });
    }
  };

  return {
    mode: 'web',
    async invoke<C extends InvokeChannel>(channel: C, ...args: InvokeArgs<C>) {
      let response: Response;
      try {
        response = await fetch(`${baseUrl}/api/invoke/${channel}`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
          body: encodeWire({ args }),
        });
      } catch (error) {
        const lost: ErrorAnswer = {
          code: 'unavailable',
          message: `the server did not answer (${String(error)})`,
        };
        return unwrap<C>({ ok: false, error: lost });
      }
      return unwrap<C>(decodeWire(await response.text()) as InvokeAnswer<C>);
    },
    on<E extends EventChannel>(channel: E, listener: (payload: EventChannels[E]) => void) {
      connect();
      const set = listeners.get(channel) ?? new Set<Listener>();
      listeners.set(channel, set);
      const untyped = listener as Listener;
      set.add(untyped);
      return () => set.delete(untyped);
    },
    pathsOfDroppedFiles() {
      return [];
    },
    outputDownloadUrl(jobId, fileId) {
      // A plain link (the browser's own download, no copy in the page's memory), so the token
      // travels in the query as it does for the page itself.
      const query = new URLSearchParams({ job: jobId, token });
      if (fileId !== null) query.set('file', String(fileId));
      return `${baseUrl}/api/download?${query.toString()}`;
    },
    async uploadPhoto(folder, file) {
      const query = new URLSearchParams({ folder, name: file.name });
      let response: Response;
      try {
        response = await fetch(`${baseUrl}/api/upload?${query.toString()}`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/octet-stream', Authorization: `Bearer ${token}` },
          body: file,
        });
      } catch (error) {
        throw new BackendError({
          code: 'unavailable',
          message: `the server did not answer (${String(error)})`,
        });
      }
      // The same answer shape as an invoke: the value, or the refusal in words.
      const answer = JSON.parse(await response.text()) as
        { ok: true; value: string } | { ok: false; error: ErrorAnswer };
      if (!answer.ok) throw new BackendError(answer.error);
      return answer.value;
    },
  };
}
