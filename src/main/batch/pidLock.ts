/**
 * A lock file holding the owner's process id: one process at a time may own a folder's state
 * (the queue folder, an output folder's manifest). A lock left by a killed process is taken
 * over; a live holder is reported by its process id.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

export class PidLock {
  private held = false;

  constructor(readonly lockPath: string) {}

  /** Takes the lock and returns null, or returns the process id of the live holder. */
  async tryAcquire(): Promise<number | null> {
    if (this.held) return null;
    await mkdir(path.dirname(this.lockPath), { recursive: true });
    for (;;) {
      try {
        await writeFile(this.lockPath, `${process.pid}\n`, { flag: 'wx' });
        this.held = true;
        return null;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const holder = Number.parseInt(await readFile(this.lockPath, 'utf8').catch(() => ''), 10);
      if (Number.isInteger(holder) && holder > 0 && processIsAlive(holder)) return holder;
      await rm(this.lockPath, { force: true });
    }
  }

  async release(): Promise<void> {
    if (!this.held) return;
    this.held = false;
    await rm(this.lockPath, { force: true });
  }
}

export function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
