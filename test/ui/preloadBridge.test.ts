import { beforeAll, describe, expect, it, vi } from 'vitest';
import { INVOKE_CHANNELS, type BridgeApi } from '../../src/shared/ipc.ts';

// Electron is replaced at its boundary: what the preload hands to contextBridge, and the
// ipcRenderer calls it makes.
const exposed = new Map<string, unknown>();
const invoked: unknown[][] = [];
const subscribed: string[] = [];
vi.mock('electron', () => ({
  contextBridge: { exposeInMainWorld: (key: string, api: unknown) => exposed.set(key, api) },
  ipcRenderer: {
    invoke: async (...args: unknown[]) => {
      invoked.push(args);
      return { ok: true, value: 'answer' };
    },
    on: (channel: string) => subscribed.push(channel),
    removeListener: () => undefined,
  },
  webUtils: { getPathForFile: () => '/home/me/photo.jpg' },
}));

describe('preload bridge', () => {
  let bridge: BridgeApi;
  beforeAll(async () => {
    await import('../../src/preload/index.ts');
    bridge = exposed.get('cmscBridge') as BridgeApi;
  });

  it('exposes exactly one function per channel and nothing else', () => {
    expect([...exposed.keys()]).toEqual(['cmscBridge']);
    expect(Object.keys(bridge).sort()).toEqual(['invoke', 'on', 'pathForFile']);
    expect(Object.keys(bridge.invoke)).toEqual([...INVOKE_CHANNELS]);
  });

  it('invokes the channel of the function called, with its arguments', async () => {
    expect(await bridge.invoke['image:thumbnail']('/photos/a.jpg', 96)).toEqual({
      ok: true,
      value: 'answer',
    });
    expect(invoked).toEqual([['image:thumbnail', '/photos/a.jpg', 96]]);
  });

  it('subscribes to event channels only', () => {
    bridge.on('batch:event', () => undefined);
    expect(subscribed).toEqual(['batch:event']);
    expect(() => bridge.on('ipc:secret' as 'batch:event', () => undefined)).toThrow(
      'unknown event channel ipc:secret',
    );
  });
});
