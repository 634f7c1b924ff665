/**
 * Resident memory of this process (main thread and worker threads together) from /proc, for
 * the speed benchmark. Linux only: elsewhere every reading is null.
 */
import { readFileSync, writeFileSync } from 'node:fs';

export interface MemoryStatus {
  /** Resident now (VmRSS), bytes. */
  rss: number;
  /** Peak resident since the process started or the last resetPeak (VmHWM), bytes. */
  peak: number;
}

export function memoryStatus(): MemoryStatus | null {
  try {
    const status = readFileSync('/proc/self/status', 'utf8');
    const kib = (key: string) => {
      const match = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status);
      if (!match) throw new Error(`${key} missing`);
      return Number(match[1]) * 1024;
    };
    return { rss: kib('VmRSS'), peak: kib('VmHWM') };
  } catch {
    return null;
  }
}

/** Starts a new peak measurement (writing 5 to clear_refs resets VmHWM); false if unsupported. */
export function resetPeak(): boolean {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

export const MIB = 1024 * 1024;
