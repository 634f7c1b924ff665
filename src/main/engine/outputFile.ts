/**
 * Writing outputs safely: a temporary name beside the final one, renamed into place only
 * when complete, so a failed or cancelled image never leaves a partial file.
 */
import { randomBytes } from 'node:crypto';
import { rename, rm } from 'node:fs/promises';
import path from 'node:path';

/**
 * Calls `write(tempPath)` and renames the result to `finalPath`; on any failure (including
 * an abort) the temporary file is removed and the error rethrown.
 */
export async function writeAtomically<T>(
  finalPath: string,
  write: (tempPath: string) => Promise<T>,
): Promise<T> {
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
