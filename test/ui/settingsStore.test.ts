import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createFileSettingsStore } from '../../src/main/api/settingsStore.ts';
import { DEFAULT_EXPORT_SETTINGS } from '../../src/shared/exportSettings.ts';
import { useTempFolders } from '../helpers/tempFolders.ts';

const tempFolder = useTempFolders();

async function storeFile(content?: string) {
  const file = path.join(await tempFolder('cmsc-settings-'), 'settings.json');
  if (content !== undefined) await writeFile(file, content);
  return file;
}

describe('settings store', () => {
  it('starts from the defaults when there is no file', async () => {
    expect(await createFileSettingsStore(await storeFile()).load()).toEqual(
      DEFAULT_EXPORT_SETTINGS,
    );
  });

  it('migrates an unversioned file and writes the current schema back', async () => {
    const file = await storeFile(
      JSON.stringify({ format: 'png', encodeQuality: 80, keepMetadata: false, quality: 'fast' }),
    );
    const loaded = await createFileSettingsStore(file).load();
    const expected = {
      ...DEFAULT_EXPORT_SETTINGS,
      format: 'png',
      encoding: {
        ...DEFAULT_EXPORT_SETTINGS.encoding,
        jpegQuality: 80,
        webpQuality: 80,
        avifQuality: 80,
      },
      metadata: 'strip',
      qualityPreset: 'fast',
    };
    expect(loaded).toEqual(expected);
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual(expected);
  });

  it('refuses invalid settings with the reason and keeps the stored ones', async () => {
    const file = await storeFile();
    const store = createFileSettingsStore(file);
    await store.save({ ...DEFAULT_EXPORT_SETTINGS, format: 'webp' });
    await expect(store.save({ ...DEFAULT_EXPORT_SETTINGS, format: 'bmp' })).rejects.toThrow(
      'invalid export settings: format: invalid value "bmp", using the default',
    );
    expect((await createFileSettingsStore(file).load()).format).toBe('webp');
  });
});
