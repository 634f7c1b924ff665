/**
 * The bridge between the sandboxed page and main: one function per channel of the map, an
 * event subscription limited to the event channels, and dropped files' paths. The page never
 * sees `ipcRenderer` itself.
 */
import { contextBridge, ipcRenderer, webUtils } from 'electron';
import {
  BRIDGE_GLOBAL,
  EVENT_CHANNELS,
  INVOKE_CHANNELS,
  type BridgeApi,
  type EventChannel,
  type EventChannels,
  type InvokeAnswer,
  type InvokeChannel,
} from '../shared/ipc.ts';

const invoke = Object.fromEntries(
  INVOKE_CHANNELS.map((channel) => [
    channel,
    (...args: unknown[]): Promise<InvokeAnswer<InvokeChannel>> =>
      ipcRenderer.invoke(channel, ...args),
  ]),
) as BridgeApi['invoke'];

const bridge: BridgeApi = {
  invoke,
  on<E extends EventChannel>(channel: E, listener: (payload: EventChannels[E]) => void) {
    if (!(EVENT_CHANNELS as readonly string[]).includes(channel))
      throw new Error(`unknown event channel ${channel}`);
    // The page gets the payload only, never the IPC event (it carries `sender`).
    const forward = (_event: Electron.IpcRendererEvent, payload: EventChannels[E]): void =>
      listener(payload);
    ipcRenderer.on(channel, forward);
    return () => {
      ipcRenderer.removeListener(channel, forward);
    };
  },
  pathForFile: (file) => webUtils.getPathForFile(file),
};

contextBridge.exposeInMainWorld(BRIDGE_GLOBAL, bridge);
