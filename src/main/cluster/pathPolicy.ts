/**
 * What a worker may touch, whatever a task in Redis says. A worker is started with the folders
 * it may write (`--allow-output`) and read (`--allow-input`, default: the output roots), and
 * with `--map FROM=TO` rewrites for shared storage mounted elsewhere on this machine. Every
 * path of a task is mapped, resolved (no `..` survives), checked against the roots, and its
 * nearest existing folder checked again through symbolic links, so a link inside a root that
 * points at /etc does not open a way out.
 */
import { realpath } from 'node:fs/promises';
import path from 'node:path';

export interface PathMapping {
  from: string;
  to: string;
}

export interface PathPolicyOptions {
  outputRoots: readonly string[];
  /** Empty: inputs are read only inside the output roots. */
  inputRoots: readonly string[];
  maps: readonly PathMapping[];
}

export class PathNotAllowed extends Error {
  override readonly name = 'PathNotAllowed';
}

/** `FROM=TO`, both absolute. */
export function parseMapping(text: string): PathMapping {
  const at = text.indexOf('=');
  const from = at > 0 ? text.slice(0, at) : '';
  const to = at > 0 ? text.slice(at + 1) : '';
  if (!path.isAbsolute(from) || !path.isAbsolute(to))
    throw new Error(`--map takes FROM=TO with two absolute paths (got "${text}")`);
  return { from: path.resolve(from), to: path.resolve(to) };
}

export class PathPolicy {
  readonly outputRoots: readonly string[];
  readonly inputRoots: readonly string[];
  private readonly maps: readonly PathMapping[];

  constructor(options: PathPolicyOptions) {
    if (options.outputRoots.length === 0)
      throw new Error('a worker needs --allow-output DIR: the folders it may write outputs to');
    this.outputRoots = options.outputRoots.map((root) => path.resolve(root));
    this.inputRoots =
      options.inputRoots.length > 0
        ? options.inputRoots.map((root) => path.resolve(root))
        : this.outputRoots;
    // The longest prefix wins: /mnt/nas/photos=… before /mnt/nas=….
    this.maps = [...options.maps].sort((a, b) => b.from.length - a.from.length);
  }

  /** A path as the job names it, as it is on this machine. */
  map(jobPath: string): string {
    const resolved = path.resolve(jobPath);
    for (const { from, to } of this.maps) {
      if (resolved === from) return to;
      if (isInside(resolved, from)) return path.join(to, path.relative(from, resolved));
    }
    return resolved;
  }

  /** A path of this machine back in the job's terms (for the report and the submitter). */
  unmap(localPath: string): string {
    const resolved = path.resolve(localPath);
    for (const { from, to } of [...this.maps].sort((a, b) => b.to.length - a.to.length)) {
      if (resolved === to) return from;
      if (isInside(resolved, to)) return path.join(from, path.relative(to, resolved));
    }
    return resolved;
  }

  /** The job's output folder here, or PathNotAllowed. */
  async outputFolder(jobPath: string): Promise<string> {
    return this.check(jobPath, this.outputRoots, 'output folder', '--allow-output');
  }

  /** An input here, or PathNotAllowed. */
  async input(jobPath: string): Promise<string> {
    return this.check(
      jobPath,
      this.inputRoots,
      'input',
      this.inputRoots === this.outputRoots ? '--allow-output (or --allow-input)' : '--allow-input',
    );
  }

  private async check(
    jobPath: string,
    roots: readonly string[],
    what: string,
    flag: string,
  ): Promise<string> {
    if (typeof jobPath !== 'string' || jobPath.includes('\0') || !path.isAbsolute(jobPath))
      throw new PathNotAllowed(`the task's ${what} is not an absolute path`);
    if (jobPath.split(/[\\/]/).includes('..'))
      throw new PathNotAllowed(`the task's ${what} ${jobPath} climbs out with ".."`);
    const local = this.map(jobPath);
    const outside = (): PathNotAllowed =>
      new PathNotAllowed(
        `the task's ${what} ${local} is outside the folders this worker may use (${flag} ${roots.join(' ')})`,
      );
    if (!roots.some((root) => local === root || isInside(local, root))) throw outside();
    // Through links: the nearest existing part of the path, resolved, must stay inside too.
    const real = await nearestRealPath(local);
    const realRoots = await Promise.all(roots.map((root) => realpath(root).catch(() => root)));
    if (!realRoots.some((root) => real === root || isInside(real, root))) throw outside();
    return local;
  }
}

/** A relative path (`trip/a.jpg`) that stays below where it is joined. */
export function isContainedRelative(relativePath: string): boolean {
  if (relativePath === '' || path.isAbsolute(relativePath) || relativePath.includes('\0'))
    return false;
  return !relativePath.split(/[\\/]/).some((part) => part === '..');
}

function isInside(child: string, parent: string): boolean {
  const relative = path.relative(parent, child);
  return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative);
}

async function nearestRealPath(target: string): Promise<string> {
  let current = target;
  const rest: string[] = [];
  for (;;) {
    const real = await realpath(current).catch(() => null);
    if (real !== null) return path.join(real, ...rest.reverse());
    const parent = path.dirname(current);
    if (parent === current) return target;
    rest.push(path.basename(current));
    current = parent;
  }
}
