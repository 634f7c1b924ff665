/**
 * Issue 23: a finished photo's results by keyboard (outputKeys.ts). In a job's list of photos D
 * gets at the focused photo's file (a download in the browser, Show in folder on the desktop)
 * and O opens it (desktop); the desktop's keys end in the same `shell:showOutput` request the
 * photo's buttons send, here through the handlers with a fake Electron shell.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { AllowedFolders } from '../../src/main/api/allowedFolders.ts';
import { createRequestHandlers } from '../../src/main/api/handlers.ts';
import { createShellActions, type ShellLike } from '../../src/main/electron/shellActions.ts';
import { outputKeyAction, outputKeys } from '../../src/renderer/src/lib/outputKeys.ts';
import type { Job } from '../../src/shared/jobs.ts';
import { fakeServices } from './fakeServices.ts';

const press = (key: string, modifiers: { ctrl?: boolean; meta?: boolean; alt?: boolean } = {}) => ({
  key,
  ctrlKey: modifiers.ctrl ?? false,
  metaKey: modifiers.meta ?? false,
  altKey: modifiers.alt ?? false,
});

describe('keys of a finished photo', () => {
  it('web mode: D downloads; O and other keys do nothing', () => {
    expect(outputKeyAction(press('d'), 'web')).toBe('download');
    expect(outputKeyAction(press('D'), 'web')).toBe('download');
    expect(outputKeyAction(press('o'), 'web')).toBeNull();
    expect(outputKeyAction(press('Enter'), 'web')).toBeNull();
    expect(outputKeys('web').map((entry) => `${entry.key} ${entry.does}`)).toEqual(['D Download']);
  });

  it('desktop: D shows the file in its folder, O opens it', () => {
    expect(outputKeyAction(press('d'), 'desktop')).toBe('reveal');
    expect(outputKeyAction(press('O'), 'desktop')).toBe('open');
    expect(outputKeys('desktop').map((entry) => `${entry.key} ${entry.does}`)).toEqual([
      'D Show in folder',
      'O Open',
    ]);
  });

  it('leaves Ctrl+O (add a folder), Cmd+D and Alt+D alone', () => {
    expect(outputKeyAction(press('o', { ctrl: true }), 'desktop')).toBeNull();
    expect(outputKeyAction(press('d', { meta: true }), 'web')).toBeNull();
    expect(outputKeyAction(press('d', { alt: true }), 'desktop')).toBeNull();
  });

  it('on the desktop, D and O reach the shell through shell:showOutput for that photo', async () => {
    const out = '/home/ana/Photos-upscaled';
    const base = fakeServices();
    const job: Job = {
      ...base.services.batch.job('job-1'),
      outputFolder: out,
      state: 'finished',
    };
    job.files = [
      {
        id: 0,
        inputPath: '/photos/a.jpg',
        relativePath: 'a.jpg',
        inputBytes: 10,
        inputWidth: 4,
        inputHeight: 4,
        state: 'done',
        reason: null,
        outputPath: path.join(out, 'a_x2.jpg'),
        outputBytes: 10,
        outputWidth: 8,
        outputHeight: 8,
        elapsedMs: 5,
        provider: 'cpu',
        attempts: 1,
      } as Job['files'][number],
    ];
    const services = { ...base.services, batch: { ...base.services.batch, job: () => job } };
    const calls: string[] = [];
    const shell: ShellLike = {
      showItemInFolder: (file) => void calls.push(`reveal ${file}`),
      openPath: async (file) => {
        calls.push(`open ${file}`);
        return '';
      },
    };
    const handlers = createRequestHandlers(services, new AllowedFolders(), {
      mode: 'desktop',
      ...createShellActions(shell),
    });
    // What the photo's button sends when the key presses it (OutputActions.svelte).
    for (const key of ['d', 'o']) {
      const action = outputKeyAction(press(key), 'desktop');
      expect(action === 'reveal' || action === 'open').toBe(true);
      expect(
        await handlers.handle('shell:showOutput', ['job-1', 0, action as 'reveal' | 'open']),
      ).toEqual({ ok: true, value: path.join(out, 'a_x2.jpg') });
    }
    expect(calls).toEqual([
      `reveal ${path.join(out, 'a_x2.jpg')}`,
      `open ${path.join(out, 'a_x2.jpg')}`,
    ]);
  });
});
