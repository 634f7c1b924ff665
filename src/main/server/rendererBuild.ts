/** Web mode serves the built renderer; this rebuilds it when any renderer or shared source is newer. */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';

async function newestModification(folder: string): Promise<number> {
  let newest = 0;
  for (const entry of await readdir(folder, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    newest = Math.max(newest, (await stat(path.join(entry.parentPath, entry.name))).mtimeMs);
  }
  return newest;
}

export async function rendererIsStale(
  sourceFolders: string[],
  builtIndex: string,
): Promise<boolean> {
  let builtAt: number;
  try {
    builtAt = (await stat(builtIndex)).mtimeMs;
  } catch {
    return true;
  }
  for (const folder of sourceFolders) {
    if ((await newestModification(folder)) > builtAt) return true;
  }
  return false;
}

/** Builds out/renderer with the same Vite config electron-vite uses for the desktop app. */
export async function buildRenderer(): Promise<void> {
  // Vite is a build tool (a dev dependency): loaded only when a build is needed.
  const [{ build }, { rendererViteConfig }] = await Promise.all([
    import('vite'),
    import('../../../vite.renderer.config.ts'),
  ]);
  await build({ ...rendererViteConfig(), configFile: false, logLevel: 'warn' });
}
