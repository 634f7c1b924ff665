import { describe, expect, it, vi } from 'vitest';
import type { IpcMainInvokeEvent } from 'electron';
import {
  forwardEvents,
  isTrustedSender,
  registerIpcHandlers,
} from '../../src/main/electron/ipcRegistration.ts';
import type { RequestHandlers } from '../../src/main/api/handlers.ts';
import { INVOKE_CHANNELS } from '../../src/shared/ipc.ts';

type Listener = (event: IpcMainInvokeEvent, ...args: unknown[]) => Promise<unknown>;

/** ipcMain as far as registration uses it: the Electron boundary, replaced by a map. */
function fakeIpcMain() {
  const handlers = new Map<string, Listener>();
  return {
    handlers,
    handle: (channel: string, listener: Listener) => void handlers.set(channel, listener),
    removeHandler: (channel: string) => void handlers.delete(channel),
  };
}

/** An invoke event from a frame at `url`; `topFrame` false means an iframe inside the page. */
function eventFrom(url: string, topFrame = true): IpcMainInvokeEvent {
  const mainFrame = { url };
  const senderFrame = topFrame ? mainFrame : { url };
  return { senderFrame, sender: { mainFrame } } as unknown as IpcMainInvokeEvent;
}

const APP_URL = 'file:///opt/cmsc/resources/app.asar/out/renderer/index.html';

describe('Electron IPC registration', () => {
  const recorded: [string, unknown][] = [];
  const handlers: RequestHandlers = {
    handle: async (channel, args) => {
      recorded.push([channel, args]);
      return { ok: true, value: null };
    },
  };

  it('registers every channel of the map and removes them all again', () => {
    const ipcMain = fakeIpcMain();
    const unregister = registerIpcHandlers(ipcMain, handlers, APP_URL);
    expect([...ipcMain.handlers.keys()]).toEqual([...INVOKE_CHANNELS]);
    unregister();
    expect(ipcMain.handlers.size).toBe(0);
  });

  it('hands the arguments to the shared handlers for the app page only', async () => {
    recorded.length = 0;
    const ipcMain = fakeIpcMain();
    registerIpcHandlers(ipcMain, handlers, APP_URL);
    const add = ipcMain.handlers.get('batch:add');
    expect(await add?.(eventFrom(APP_URL), { paths: ['/photos'] })).toEqual({
      ok: true,
      value: null,
    });
    expect(recorded).toEqual([['batch:add', [{ paths: ['/photos'] }]]]);

    const refusal = {
      ok: false,
      error: {
        code: 'forbidden',
        message: "batch:add refused: the sender is not the app's window",
      },
    };
    expect(await add?.(eventFrom('https://evil.example/'), { paths: ['/'] })).toEqual(refusal);
    expect(await add?.(eventFrom(APP_URL, false), { paths: ['/'] })).toEqual(refusal);
    expect(recorded).toHaveLength(1);
  });

  it('trusts the dev server by origin and the packaged page by exact file', () => {
    const top = (url: string) => ({ url, isTopFrame: true });
    expect(isTrustedSender(top('http://localhost:5173/#/compare'), 'http://localhost:5173')).toBe(
      true,
    );
    expect(isTrustedSender(top('http://localhost:5174/'), 'http://localhost:5173')).toBe(false);
    expect(isTrustedSender(top(APP_URL), APP_URL)).toBe(true);
    expect(isTrustedSender(top('file:///tmp/downloaded.html'), APP_URL)).toBe(false);
    expect(isTrustedSender(top('not a url'), APP_URL)).toBe(false);
  });

  it('forwards service events to a live window only', () => {
    const sent: unknown[] = [];
    let destroyed = false;
    let listener:
      ((event: { channel: 'batch:event'; payload: { type: 'queue-idle' } }) => void) | undefined;
    const unsubscribe = vi.fn();
    forwardEvents(
      (next) => {
        listener = next;
        return unsubscribe;
      },
      {
        send: (channel: string, payload: unknown) => void sent.push([channel, payload]),
        isDestroyed: () => destroyed,
      },
    );
    listener?.({ channel: 'batch:event', payload: { type: 'queue-idle' } });
    destroyed = true;
    listener?.({ channel: 'batch:event', payload: { type: 'queue-idle' } });
    expect(sent).toEqual([['batch:event', { type: 'queue-idle' }]]);
  });
});
