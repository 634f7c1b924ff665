/**
 * Temporary folders for the tests of a suite: each is removed after the test that made it, so a
 * run of the suite leaves nothing in the system's temporary folder (hundreds of runs a day do).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach } from 'vitest';

/** Call once in a suite (or at a file's top level); the returned function makes a folder. */
export function useTempFolders(): (prefix: string) => Promise<string> {
  const made: string[] = [];
  afterEach(async () => {
    await Promise.all(made.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
  });
  return async (prefix) => {
    const dir = await mkdtemp(path.join(tmpdir(), prefix));
    made.push(dir);
    return dir;
  };
}
