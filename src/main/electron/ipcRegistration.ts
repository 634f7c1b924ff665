/**
 * Registers every channel of the map on `ipcMain`. Each call is checked twice: the sender must be
 * our own window's top frame (not an iframe or a page it navigated to), and the arguments go
 * through the shared handlers, which validate them. Bad input answers an error, never a throw.
 */
import type { IpcMain, IpcMainInvokeEvent, WebContents } from 'electron';
import { INVOKE_CHANNELS, type InvokeAnswer, type InvokeChannel } from '../../shared/ipc.ts';
import type { RequestHandlers } from '../api/handlers.ts';
import type { ServiceEvent } from '../api/services.ts';

/** The sender facts the trust check needs (the slice of IpcMainInvokeEvent it reads). */
export interface SenderFacts {
  url: string;
  isTopFrame: boolean;
}

export function senderFacts(event: IpcMainInvokeEvent): SenderFacts {
  const frame = event.senderFrame;
  return { url: frame?.url ?? '', isTopFrame: frame !== null && frame === event.sender.mainFrame };
}

/**
 * True for the app's own page: the packaged file:// renderer, or the dev server electron-vite
 * started (ELECTRON_RENDERER_URL) while developing.
 */
export function isTrustedSender(sender: SenderFacts, rendererUrl: string): boolean {
  if (!sender.isTopFrame) return false;
  try {
    const actual = new URL(sender.url);
    const expected = new URL(rendererUrl);
    if (expected.protocol === 'file:')
      return actual.protocol === 'file:' && actual.pathname === expected.pathname;
    return actual.origin === expected.origin;
  } catch {
    return false;
  }
}

export function registerIpcHandlers(
  ipcMain: Pick<IpcMain, 'handle' | 'removeHandler'>,
  handlers: RequestHandlers,
  rendererUrl: string,
): () => void {
  for (const channel of INVOKE_CHANNELS) {
    ipcMain.handle(
      channel,
      async (event, ...args: unknown[]): Promise<InvokeAnswer<InvokeChannel>> => {
        if (!isTrustedSender(senderFacts(event), rendererUrl)) {
          return {
            ok: false,
            error: {
              code: 'forbidden',
              message: `${channel} refused: the sender is not the app's window`,
            },
          };
        }
        return handlers.handle(channel, args);
      },
    );
  }
  return () => {
    for (const channel of INVOKE_CHANNELS) ipcMain.removeHandler(channel);
  };
}

/** Pushes service events to the window; returns the unsubscribe function. */
export function forwardEvents(
  subscribe: (listener: (event: ServiceEvent) => void) => () => void,
  target: Pick<WebContents, 'send' | 'isDestroyed'>,
): () => void {
  return subscribe((event) => {
    if (!target.isDestroyed()) target.send(event.channel, event.payload);
  });
}
