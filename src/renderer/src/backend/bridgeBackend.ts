import type {
  BridgeApi,
  EventChannel,
  EventChannels,
  InvokeArgs,
  InvokeChannel,
} from '../../../shared/ipc.ts';
import { type Backend, unwrap } from './backend.ts';

/** Desktop transport: the functions the preload put on `window.cmscBridge`. */
export function createBridgeBackend(bridge: BridgeApi): Backend {
  return {
    mode: 'desktop',
    async invoke<C extends InvokeChannel>(channel: C, ...args: InvokeArgs<C>) {
      const call = bridge.invoke[channel] as (
        ...callArgs: InvokeArgs<C>
      ) => ReturnType<BridgeApi['invoke'][C]>;
      return unwrap<C>(await call(...args));
    },
    on<E extends EventChannel>(channel: E, listener: (payload: EventChannels[E]) => void) {
      return bridge.on(channel, listener);
    },
    pathsOfDroppedFiles(files) {
      return files.map((file) => bridge.pathForFile(file)).filter((path) => path !== '');
    },
    outputDownloadUrl() {
      return null;
    },
    async uploadPhoto() {
      throw new Error('the desktop app adds dropped photos where they are');
    },
  };
}
