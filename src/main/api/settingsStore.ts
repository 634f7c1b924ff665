/** Export settings persisted as JSON in the user's data folder, migrated on load. */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  cloneSettings,
  DEFAULT_EXPORT_SETTINGS,
  migrateSettings,
  parseExportSettings,
  type ExportSettings,
} from '../../shared/exportSettings.ts';
import type { SettingsStore } from './services.ts';
import { InvalidArgument } from './validate.ts';

export function createFileSettingsStore(filePath: string): SettingsStore {
  let cached: ExportSettings | null = null;

  const write = async (settings: ExportSettings): Promise<ExportSettings> => {
    await mkdir(path.dirname(filePath), { recursive: true });
    // Write then rename: a crash mid-write must not leave half a settings file behind.
    const temporary = `${filePath}.${process.pid}.tmp`;
    await writeFile(temporary, `${JSON.stringify(settings, null, 2)}\n`);
    await rename(temporary, filePath);
    cached = settings;
    return cloneSettings(settings);
  };

  return {
    async load() {
      if (cached) return cloneSettings(cached);
      let stored: unknown;
      try {
        stored = JSON.parse(await readFile(filePath, 'utf8'));
      } catch {
        cached = cloneSettings(DEFAULT_EXPORT_SETTINGS);
        return cloneSettings(cached);
      }
      const { settings, warnings } = migrateSettings(stored);
      // Store the migrated shape so the next start reads the current schema directly.
      if (warnings.length > 0) await write(settings);
      cached = settings;
      return cloneSettings(settings);
    },
    async save(candidate) {
      let settings: ExportSettings;
      try {
        settings = parseExportSettings(candidate);
      } catch (error) {
        throw new InvalidArgument(error instanceof Error ? error.message : String(error));
      }
      return write(settings);
    },
    async reset() {
      return write(cloneSettings(DEFAULT_EXPORT_SETTINGS));
    },
  };
}
