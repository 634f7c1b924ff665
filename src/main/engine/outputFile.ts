/**
 * Writing outputs safely: a temporary name beside the final one, renamed into place only
 * when complete, so a failed or cancelled image never leaves a partial file; and the
 * overwrite policy for names that already exist.
 */
import { randomBytes } from 'node:crypto';
import { access, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { OverwritePolicy } from '../../shared/upscaleOptions.ts';

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

/**
 * The path to write for `desiredPath` under a policy: `overwrite` keeps it, `skip` returns
 * null when it exists, `rename` appends " (1)", " (2)", ... until the name is free.
 */
export async function applyOverwritePolicy(
  desiredPath: string,
  policy: OverwritePolicy,
): Promise<string | null> {
  if (policy === 'overwrite' || !(await exists(desiredPath))) return desiredPath;
  if (policy === 'skip') return null;
  const { dir, name, ext } = path.parse(desiredPath);
  for (let n = 1; ; n++) {
    const candidate = path.join(dir, `${name} (${n})${ext}`);
    if (!(await exists(candidate))) return candidate;
  }
}

async function exists(filePath: string): Promise<boolean> {
  try {
    await access(filePath);
    return true;
  } catch {
    return false;
  }
}
