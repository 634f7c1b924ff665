/** Native pickers; what the user picks becomes an allowed folder (see the handlers). */
import { dialog, type BrowserWindow } from 'electron';
import { SUPPORTED_INPUT_EXTENSIONS } from '../../shared/imageExtensions.ts';

export async function pickInputs(
  window: BrowserWindow,
  kind: 'folders' | 'files',
): Promise<string[]> {
  const result = await dialog.showOpenDialog(window, {
    title: kind === 'folders' ? 'Add folders of photos' : 'Add photos',
    properties:
      kind === 'folders' ? ['openDirectory', 'multiSelections'] : ['openFile', 'multiSelections'],
    ...(kind === 'files'
      ? { filters: [{ name: 'Images', extensions: [...SUPPORTED_INPUT_EXTENSIONS] }] }
      : {}),
  });
  return result.canceled ? [] : result.filePaths;
}

export async function pickOutputFolder(window: BrowserWindow): Promise<string | null> {
  const result = await dialog.showOpenDialog(window, {
    title: 'Choose the output folder',
    properties: ['openDirectory', 'createDirectory'],
  });
  return result.canceled ? null : (result.filePaths[0] ?? null);
}
