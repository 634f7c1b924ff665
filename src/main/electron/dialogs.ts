/** Native pickers; what the user picks becomes an allowed folder (see the handlers). */
import { dialog, type BrowserWindow } from 'electron';
import { SUPPORTED_INPUT_EXTENSIONS } from '../../shared/imageExtensions.ts';

/** `defaultPath`: where the dialog opens (the folder used last); the system's choice when absent. */
export async function pickInputs(
  window: BrowserWindow,
  kind: 'folders' | 'files',
  defaultPath?: string,
): Promise<string[]> {
  const result = await dialog.showOpenDialog(window, {
    title: kind === 'folders' ? 'Add folders of photos' : 'Add photos',
    ...(defaultPath ? { defaultPath } : {}),
    properties:
      kind === 'folders' ? ['openDirectory', 'multiSelections'] : ['openFile', 'multiSelections'],
    ...(kind === 'files'
      ? { filters: [{ name: 'Images', extensions: [...SUPPORTED_INPUT_EXTENSIONS] }] }
      : {}),
  });
  return result.canceled ? [] : result.filePaths;
}

export async function pickOutputFolder(
  window: BrowserWindow,
  defaultPath?: string,
): Promise<string | null> {
  const result = await dialog.showOpenDialog(window, {
    title: 'Choose the output folder',
    ...(defaultPath ? { defaultPath } : {}),
    properties: ['openDirectory', 'createDirectory'],
  });
  return result.canceled ? null : (result.filePaths[0] ?? null);
}
