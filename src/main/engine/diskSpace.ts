/** Whether a folder's volume has room for what a photo's run writes there. */
import { statfs } from 'node:fs/promises';

/**
 * Why `folder`'s volume cannot take `needed` more bytes, in one sentence; null when it can, or
 * when the volume cannot be asked (the write itself then reports a full disk).
 */
export async function diskSpaceProblem(folder: string, needed: number): Promise<string | null> {
  const info = await statfs(folder).catch(() => null);
  if (!info) return null;
  const free = info.bavail * info.bsize;
  if (free >= needed) return null;
  const gb = (bytes: number) => `${(bytes / 1e9).toFixed(1)} GB`;
  return `the output needs about ${gb(needed)} free in ${folder} while it is made, and ${gb(free)} is free; free some space or choose another output folder`;
}
