/**
 * Writing outputs safely: a temporary name beside the final one, renamed into place only
 * when complete, so a failed or cancelled image never leaves a partial file.
 */
import { randomBytes } from 'node:crypto';
import { rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { TEMPORARY_OUTPUT_PREFIX } from '../../shared/outputNaming.ts';

/**
 * Calls `write(tempPath)` and renames the result to `finalPath`; on any failure (including
 * an abort) the temporary file is removed and the error rethrown. A `finalPath` that already is
 * a temporary output of the batch queue is written directly: the queue renames it itself.
 */
export async function writeAtomically<T>(
  finalPath: string,
  write: (tempPath: string) => Promise<T>,
): Promise<T> {
  if (path.basename(finalPath).startsWith(TEMPORARY_OUTPUT_PREFIX)) {
    try {
      return await write(finalPath);
    } catch (error) {
      await rm(finalPath, { force: true });
      throw error;
    }
  }
  const { dir, name, ext } = path.parse(finalPath);
  const tempPath = path.join(dir, `.${name}.${randomBytes(4).toString('hex')}.partial${ext}`);
  try {
    const result = await write(tempPath);
    await rename(tempPath, finalPath);
    return result;
  } catch (error) {
    await rm(tempPath, { force: true });
    throw error;
  }
}
