/**
 * What the desktop shell does with folders and files the app wrote. Takes Electron's `shell`
 * as an argument, so the handlers are tested with a fake one (Electron cannot start in tests).
 */
import type { Shell } from 'electron';
import type { PlatformActions } from '../api/services.ts';

export type ShellLike = Pick<Shell, 'openPath' | 'showItemInFolder'>;

export function createShellActions(
  shell: ShellLike,
): Required<Pick<PlatformActions, 'openFolder' | 'showOutput'>> {
  /** `openPath` answers an error message ('' when it worked) instead of rejecting. */
  const open = async (target: string): Promise<void> => {
    const problem = await shell.openPath(target);
    if (problem) throw new Error(`could not open ${target}: ${problem}`);
  };
  return {
    openFolder: open,
    async showOutput(file, action) {
      if (action === 'reveal') shell.showItemInFolder(file);
      else await open(file);
    },
  };
}
