/**
 * "Open with CMSC Upscaler": photos and folders handed to the app by the system — on the
 * command line of the first launch, on the command line of a second launch (which Electron
 * forwards to the running app as `second-instance` and then quits), or as macOS `open-file`
 * events (which may come before the window exists). Each ends up in the running app as the
 * inputs of a new job, exactly as if they had been dropped on the window.
 *
 * No Electron import: main.ts wires the events; the logic here is tested with fakes.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';

export interface LaunchFacts {
  /** `process.argv` of the launch (the first one's, or a second one's from `second-instance`). */
  argv: readonly string[];
  /** That launch's working directory: relative paths are relative to it. */
  cwd: string;
  /**
   * A packaged app's argv is `[exe, ...paths]`; in development Electron runs as
   * `electron <app folder> ...paths`, so one more leading argument is the app, not a photo.
   */
  isPackaged: boolean;
}

/**
 * The paths in a launch's arguments: not the executable (nor the app folder in development),
 * not a switch (Chromium adds its own, `--original-process-start-time=…`; macOS once passed
 * `-psn_0_12345`), and resolved against the launch's own folder. Existence is checked later,
 * when they are added.
 */
export function launchPaths({ argv, cwd, isPackaged }: LaunchFacts): string[] {
  const rest = argv.slice(isPackaged ? 1 : 2);
  const paths: string[] = [];
  let afterDoubleDash = false;
  for (const argument of rest) {
    if (!afterDoubleDash && argument === '--') {
      afterDoubleDash = true;
      continue;
    }
    if (!afterDoubleDash && argument.startsWith('-')) continue;
    if (argument === '' || /^[a-z][a-z0-9+.-]*:\/\//i.test(argument)) continue;
    paths.push(path.resolve(cwd, argument));
  }
  return [...new Set(paths)];
}

export interface OpenWithTarget {
  /**
   * Makes the paths inputs the app may read (each one must exist); answers the ones it took,
   * and throws with a sentence when none could be taken.
   */
  allow(paths: string[]): Promise<string[]>;
  /** Hands the paths to the page as a new job's inputs. */
  deliver(paths: string[]): void;
  /** Brings the window to the front (restored if minimised). */
  focus(): void;
  /** Says why nothing was added (a dialog or a log line). */
  refuse(message: string): void;
}

/**
 * Collects paths until the page can take them (`ready`), then hands each batch on. Paths that
 * arrive before are kept, in order, so a double-click that starts the app is not lost.
 */
export class OpenWithInbox {
  private pending: string[] = [];
  private target: OpenWithTarget | null = null;

  /** The page is loaded and listening: deliver what waited, and everything after at once. */
  async ready(target: OpenWithTarget): Promise<void> {
    this.target = target;
    const waiting = this.pending;
    this.pending = [];
    if (waiting.length > 0) await this.handOn(waiting);
  }

  async receive(paths: readonly string[]): Promise<void> {
    if (paths.length === 0) {
      // A second launch without files still means "show me the app".
      this.target?.focus();
      return;
    }
    if (!this.target) {
      this.pending = [...new Set([...this.pending, ...paths])];
      return;
    }
    await this.handOn([...paths]);
  }

  private async handOn(paths: string[]): Promise<void> {
    const target = this.target;
    if (!target) return;
    target.focus();
    let allowed: string[];
    try {
      allowed = await target.allow(paths);
    } catch (error) {
      target.refuse(error instanceof Error ? error.message : String(error));
      return;
    }
    if (allowed.length > 0) target.deliver(allowed);
  }
}

/**
 * Adds each path that is there (a file or a folder) with `add` and answers the ones taken; when
 * none could be, throws one sentence naming them. A system may hand over a file that was moved
 * since (a recent-files list), so each one is looked at first.
 */
export async function takeExisting(
  paths: readonly string[],
  add: (candidate: string) => Promise<string>,
): Promise<string[]> {
  const taken: string[] = [];
  const missed: string[] = [];
  for (const candidate of paths) {
    try {
      const info = await stat(candidate);
      if (!info.isFile() && !info.isDirectory()) throw new Error('not a file or folder');
      taken.push(await add(candidate));
    } catch {
      missed.push(candidate);
    }
  }
  if (taken.length === 0)
    throw new Error(
      `Nothing to open: ${missed.join(', ')} ${missed.length === 1 ? 'is' : 'are'} not there any more`,
    );
  return taken;
}
