import { BRIDGE_GLOBAL, type BridgeApi } from '../../../shared/ipc.ts';
import type { Backend } from './backend.ts';
import { createBridgeBackend } from './bridgeBackend.ts';
import { createHttpBackend } from './httpBackend.ts';

/** The preload bridge when Electron put one on the window, otherwise HTTP with the URL's token. */
export function connectBackend(): Backend {
  const bridge = (window as unknown as Record<string, BridgeApi | undefined>)[BRIDGE_GLOBAL];
  if (bridge) return createBridgeBackend(bridge);
  const token = new URLSearchParams(window.location.search).get('token');
  if (!token)
    throw new Error('Open the address the server printed: it carries the access token (?token=…).');
  return createHttpBackend(token);
}
