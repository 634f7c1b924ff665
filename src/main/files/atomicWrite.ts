/**
 * Durable replacement of small files (queue state, reports): write a temporary sibling, fsync it,
 * rename it over the target, fsync the folder. A crash at any moment leaves either the old or the
 * new content, never a mix.
 */
import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import path from 'node:path';

/** Marks temporary files of this module so a later start can delete leftovers. */
export const ATOMIC_TEMP_MARKER = '.cmsc-atomic.';

export async function writeFileAtomic(filePath: string, data: string | Uint8Array): Promise<void> {
  const dir = path.dirname(filePath);
  const tempPath = path.join(
    dir,
    `${ATOMIC_TEMP_MARKER}${path.basename(filePath)}.${randomBytes(4).toString('hex')}`,
  );
  try {
    const handle = await open(tempPath, 'wx');
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tempPath, filePath);
  } catch (error) {
    await rm(tempPath, { force: true });
    throw error;
  }
  await syncDirectory(dir);
}

/** Makes a rename in `dir` durable; a no-op where folders cannot be opened (Windows). */
export async function syncDirectory(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch {
    // Windows cannot fsync a directory; NTFS journals the rename itself.
  } finally {
    await handle?.close();
  }
}

/** fsyncs a finished file before it is renamed into place. */
export async function syncFile(filePath: string): Promise<void> {
  const handle = await open(filePath, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
