import { lstat, realpath } from 'node:fs/promises';
import path from 'node:path';
import { InvalidArgument, PathNotAllowed } from './validate.ts';

/**
 * The folders the user chose (dialog, drag and drop, web folder browser). Every path a request
 * names must lie inside one of them, after symlinks are resolved, so a request cannot reach
 * files the user never pointed the app at.
 */
export class AllowedFolders {
  private readonly roots = new Set<string>();

  /** Adds a folder (or a single file's exact path) the user chose; returns its resolved path. */
  async add(chosenPath: string): Promise<string> {
    const resolved = await resolveReal(assertAbsolute(chosenPath));
    this.roots.add(resolved);
    return resolved;
  }

  list(): string[] {
    return [...this.roots].sort();
  }

  /**
   * Where a job may write. An output folder inside an added folder is checked like any path
   * (links resolved). The default place beside the inputs (`Photos` → `Photos-upscaled`,
   * picked files → `upscaled/` next to them) lies outside them by design: it is allowed while
   * it is not there yet or is a real folder, right beside an input; a link there is resolved
   * and must lead into an added folder, so the outputs cannot be sent anywhere else.
   */
  async checkOutput(folder: string, defaultFor: readonly string[] | null): Promise<string> {
    const absolute = assertAbsolute(folder);
    if (defaultFor !== null) {
      const parent = path.dirname(absolute);
      const besideAnInput = defaultFor.some(
        (input) => path.dirname(path.resolve(input)) === parent,
      );
      const info = await lstat(absolute).catch(() => null);
      const realParent = await realpath(parent).catch(() => null);
      if (
        besideAnInput &&
        realParent === parent &&
        (info === null || (info.isDirectory() && !info.isSymbolicLink()))
      ) {
        return absolute;
      }
      try {
        return await this.check(absolute);
      } catch (error) {
        if (!(error instanceof PathNotAllowed)) throw error;
        throw new PathNotAllowed(
          `the default output folder ${absolute} is outside the folders you added; choose an output folder in the export settings`,
        );
      }
    }
    return this.check(absolute);
  }

  /** The resolved path when it is inside an allowed folder; throws PathNotAllowed otherwise. */
  async check(requestedPath: string): Promise<string> {
    const resolved = await resolveReal(assertAbsolute(requestedPath));
    for (const root of this.roots) {
      if (isInside(root, resolved)) return resolved;
    }
    throw new PathNotAllowed(`${requestedPath} is outside the folders you added`);
  }
}

export function isInside(root: string, candidate: string): boolean {
  const relative = path.relative(root, candidate);
  return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative));
}

function assertAbsolute(candidate: string): string {
  if (!path.isAbsolute(candidate))
    throw new InvalidArgument(`${candidate} is not an absolute path`);
  return path.resolve(candidate);
}

/**
 * realpath of the path, or of its nearest existing ancestor joined with the rest: output
 * folders may not exist yet, yet a symlinked ancestor must still be followed.
 */
async function resolveReal(absolutePath: string): Promise<string> {
  const missingTail: string[] = [];
  let current = absolutePath;
  for (;;) {
    try {
      return path.join(await realpath(current), ...missingTail.reverse());
    } catch {
      const parent = path.dirname(current);
      if (parent === current) return absolutePath;
      missingTail.push(path.basename(current));
      current = parent;
    }
  }
}
