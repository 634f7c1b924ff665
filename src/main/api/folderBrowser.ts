/** The server-side folder browser of web mode: folder names and image counts, never file contents. */
import { mkdir, readdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { FolderEntry, FolderListing } from '../../shared/ipc.ts';
import { hasImageExtension } from '../../shared/imageExtensions.ts';
import { InvalidArgument } from './validate.ts';

const MAX_FOLDERS_LISTED = 2000;

export async function listFolder(folder: string): Promise<FolderListing> {
  if (!path.isAbsolute(folder)) throw new InvalidArgument(`${folder} is not an absolute path`);
  const resolved = path.resolve(folder);
  let entries;
  try {
    entries = await readdir(resolved, { withFileTypes: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new InvalidArgument(`cannot open folder ${resolved} (${code})`);
  }
  const folders = entries
    .filter((entry) => entry.isDirectory() && !entry.name.startsWith('.'))
    .map((entry) => ({ name: entry.name, path: path.join(resolved, entry.name) }))
    .sort((a, b) => a.name.localeCompare(b.name))
    .slice(0, MAX_FOLDERS_LISTED);
  const imageCount = entries.filter(
    (entry) => entry.isFile() && hasImageExtension(entry.name),
  ).length;
  const parent = path.dirname(resolved);
  return {
    path: resolved,
    parent: parent === resolved ? null : parent,
    folders,
    imageCount,
    places: places(),
  };
}

/** Longest folder name most file systems accept, in UTF-8 bytes. */
const MAX_FOLDER_NAME_BYTES = 255;

/**
 * A name for a new folder: one path segment, no separators, not `.` or `..`, nothing a file
 * manager could not show. Throws InvalidArgument otherwise.
 */
export function expectFolderName(value: unknown): string {
  if (typeof value !== 'string') throw new InvalidArgument('the folder name must be text');
  const name = value.trim();
  if (name === '' || name === '.' || name === '..')
    throw new InvalidArgument('give the new folder a name');
  // eslint-disable-next-line no-control-regex
  if (/[/\\\u0000-\u001f]/.test(name))
    throw new InvalidArgument(`a folder name cannot contain / or \\: ${JSON.stringify(name)}`);
  if (Buffer.byteLength(name, 'utf8') > MAX_FOLDER_NAME_BYTES)
    throw new InvalidArgument('that folder name is too long');
  return name;
}

/** Makes `name` inside `parent` (which must exist) and answers the new folder's listing. */
export async function createFolder(parent: string, name: string): Promise<FolderListing> {
  const folder = path.join(parent, name);
  try {
    await mkdir(folder);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    const why =
      code === 'EEXIST'
        ? 'it already exists'
        : code === 'EACCES' || code === 'EPERM'
          ? 'permission denied'
          : code === 'ENOENT'
            ? `${parent} does not exist`
            : code;
    throw new InvalidArgument(`cannot create folder ${folder} (${why})`);
  }
  return listFolder(folder);
}

/** The first `limit` images directly in `folder`, by name. */
export async function imagesIn(folder: string, limit: number): Promise<string[]> {
  const entries = await readdir(folder, { withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile() && hasImageExtension(entry.name))
    .map((entry) => entry.name)
    .sort((a, b) => a.localeCompare(b))
    .slice(0, limit)
    .map((name) => path.join(folder, name));
}

function places(): FolderEntry[] {
  const home = os.homedir();
  const root = path.parse(home).root;
  return [
    { name: 'Home', path: home },
    { name: root, path: root },
  ];
}
