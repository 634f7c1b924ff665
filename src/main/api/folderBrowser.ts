/** The server-side folder browser of web mode: folder names and image counts, never file contents. */
import { mkdir, readdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { FolderEntry, FolderListing } from '../../shared/ipc.ts';
import { hasImageExtension } from '../../shared/imageExtensions.ts';
import { expandHome } from './homeFolder.ts';
import { InvalidArgument } from './validate.ts';

const MAX_FOLDERS_LISTED = 2000;

/** A folder path as typed: `~` is the home folder; anything else must be a full path. */
export function expectFolderPath(typed: string): string {
  const expanded = expandHome(typed.trim());
  if (!path.isAbsolute(expanded))
    throw new InvalidArgument(FULL_PATH_TEXT, { detail: `${typed} is not an absolute path` });
  return path.resolve(expanded);
}

export const FULL_PATH_TEXT = 'Type the whole path of the folder, starting with / or ~';

/** Why a folder cannot be opened, in words for people; the errno code goes to the log. */
export function folderErrorText(code: string | undefined): string {
  switch (code) {
    case 'ENOENT':
      return 'This folder does not exist';
    case 'ENOTDIR':
      return 'This is a file; pick the folder that holds it';
    case 'EACCES':
    case 'EPERM':
      return 'You may not open this folder (no permission)';
    case 'ELOOP':
      return 'This folder is a link that leads to itself';
    default:
      return 'This folder cannot be opened';
  }
}

export async function listFolder(folder: string): Promise<FolderListing> {
  const resolved = expectFolderPath(folder);
  let entries;
  try {
    entries = await readdir(resolved, { withFileTypes: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new InvalidArgument(folderErrorText(code), {
      detail: `cannot open folder ${resolved} (${code ?? String(error)})`,
    });
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
        ? `A folder named ${name} is here already`
        : code === 'EACCES' || code === 'EPERM'
          ? 'You may not make a folder here (no permission)'
          : code === 'ENOENT'
            ? 'The folder to make it in does not exist any more'
            : 'The folder could not be made';
    throw new InvalidArgument(why, { detail: `cannot create folder ${folder} (${code})` });
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
