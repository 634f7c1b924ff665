/**
 * Where outputs go: the default output folder, the mirrored sub-folder, the name from the
 * template, the overwrite policy, and the temporary name an output is written under until it
 * is complete. Temporary names carry a marker so a later start can find and delete them.
 */
import { link, mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ExportSettings } from '../../shared/exportSettings.ts';
import { expandNamingTemplate, formatDateForName } from '../../shared/namingTemplate.ts';
import { concreteFormat, extensionFor, type ConcreteFormat } from '../../shared/outputNaming.ts';
import type { OverwritePolicy } from '../../shared/upscaleOptions.ts';
import { ATOMIC_TEMP_MARKER } from './atomicWrite.ts';

/** Present in every output folder we write: scans skip such folders (and everything below). */
export const OUTPUT_FOLDER_MARKER = '.cmsc-upscaler-output';
/** In the name of every temporary output (ours, and the engine's temp derived from ours). */
export const TEMP_OUTPUT_MARKER = '.cmsc-partial.';
export const DEFAULT_OUTPUT_SUFFIX = '-upscaled';
export const DEFAULT_OUTPUT_SUBFOLDER = 'upscaled';

/** Temporary outputs, and temporaries of atomic report writes (`atomicWrite.ts`). */
export function isOurTemporaryFile(fileName: string): boolean {
  return fileName.includes(TEMP_OUTPUT_MARKER) || fileName.startsWith(ATOMIC_TEMP_MARKER);
}

/**
 * The default output folder, never one holding the inputs themselves: for one picked folder
 * `…/Photos` it is the sibling `…/Photos-upscaled`; otherwise `upscaled` inside the folder
 * that holds the picked files (a folder of its own, marked so later scans skip it).
 */
export function defaultOutputFolder(
  inputPaths: readonly string[],
  pickedFolders: readonly string[],
): string {
  const resolved = inputPaths.map((p) => path.resolve(p));
  if (resolved.length === 1 && pickedFolders.length === 1) {
    const folder = resolved[0]!;
    return path.join(path.dirname(folder), `${path.basename(folder)}${DEFAULT_OUTPUT_SUFFIX}`);
  }
  return path.join(commonFolder(resolved.map((p) => path.dirname(p))), DEFAULT_OUTPUT_SUBFOLDER);
}

function commonFolder(folders: readonly string[]): string {
  let common = folders[0] ?? path.resolve('.');
  for (const folder of folders.slice(1)) {
    while (common !== path.dirname(common) && path.relative(common, folder).startsWith('..')) {
      common = path.dirname(common);
    }
  }
  return common;
}

export interface PlannedName {
  format: ConcreteFormat;
  /** Folder of the output: the output folder plus the input's mirrored sub-folder. */
  folder: string;
  /** File name from the template plus the format's extension, before the overwrite policy. */
  fileName: string;
}

export interface NameInputs {
  inputPath: string;
  relativePath: string;
  outputWidth: number;
  outputHeight: number;
  scale: number;
  model: string;
  createdAt: string;
}

export function planOutputName(
  settings: ExportSettings,
  outputFolder: string,
  file: NameInputs,
): PlannedName {
  const format = concreteFormat(settings.format, file.inputPath);
  const parsed = path.parse(file.inputPath);
  const expanded = expandNamingTemplate(settings.namingTemplate, {
    name: parsed.name,
    ext: parsed.ext.replace(/^\./, '').toLowerCase(),
    scale: file.scale,
    width: file.outputWidth,
    height: file.outputHeight,
    model: file.model,
    date: formatDateForName(new Date(file.createdAt)),
  });
  if (!expanded.ok) throw new Error(expanded.error);
  return {
    format,
    folder: path.join(outputFolder, path.dirname(file.relativePath)),
    fileName: `${expanded.baseName}${extensionFor(format)}`,
  };
}

/**
 * Applies the overwrite policy: the path to write, or null when `skip` finds the name taken.
 * `reserved` holds paths that must never be written whatever the policy: the job's inputs and
 * the outputs it already produced; a clash with them always takes a counter.
 */
export async function chooseOutputPath(
  planned: PlannedName,
  policy: OverwritePolicy,
  reserved: ReadonlySet<string>,
): Promise<string | null> {
  const desired = path.join(planned.folder, planned.fileName);
  const reservedClash = reserved.has(desired);
  if (!reservedClash) {
    if (policy === 'overwrite') return desired;
    if (!(await pathExists(desired))) return desired;
    if (policy === 'skip') return null;
  }
  const { name, ext } = path.parse(planned.fileName);
  for (let counter = 1; ; counter++) {
    const candidate = path.join(planned.folder, `${name}-${counter}${ext}`);
    if (!reserved.has(candidate) && !(await pathExists(candidate))) return candidate;
  }
}

/** The temporary name an output is written under; the real extension stays last for the encoder. */
export function temporaryOutputPath(finalPath: string, jobId: string, fileId: number): string {
  return path.join(
    path.dirname(finalPath),
    `${TEMP_OUTPUT_MARKER}${jobId}.${fileId}.${path.basename(finalPath)}`,
  );
}

/** Creates the output folder (and mirrored sub-folder) and marks the output folder as ours. */
export async function prepareOutputFolder(outputFolder: string, subFolder: string): Promise<void> {
  await mkdir(subFolder, { recursive: true });
  const marker = path.join(outputFolder, OUTPUT_FOLDER_MARKER);
  if (!(await pathExists(marker))) {
    await writeFile(marker, 'Outputs of CMSC Upscaler. Folder scans skip this folder.\n', {
      flag: 'w',
    });
  }
}

/**
 * Moves a finished temporary output to its final name. Under `skip` and `rename` the final
 * name must not appear in between: a hard link fails when it exists (EEXIST), where plain
 * rename would replace it. Returns false when the name was taken meanwhile.
 */
export async function commitOutput(
  tempPath: string,
  finalPath: string,
  policy: OverwritePolicy,
): Promise<boolean> {
  if (policy === 'overwrite') {
    await rename(tempPath, finalPath);
    return true;
  }
  try {
    await link(tempPath, finalPath);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    // File systems without hard links (FAT, some network shares): check, then rename.
    if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'EXDEV') {
      if (await pathExists(finalPath)) return false;
      await rename(tempPath, finalPath);
      return true;
    }
    throw error;
  }
  await rm(tempPath, { force: true });
  return true;
}

/** Deletes every temporary output below `folder` (a crash can leave them); returns what it deleted. */
export async function deleteTemporaryOutputs(folder: string): Promise<string[]> {
  const deleted: string[] = [];
  let entries;
  try {
    entries = await readdir(folder, { withFileTypes: true, recursive: true });
  } catch {
    return deleted;
  }
  for (const entry of entries) {
    if (entry.isFile() && isOurTemporaryFile(entry.name)) {
      const filePath = path.join(entry.parentPath, entry.name);
      await rm(filePath, { force: true });
      deleted.push(filePath);
    }
  }
  return deleted;
}

export async function pathExists(filePath: string): Promise<boolean> {
  try {
    await stat(filePath);
    return true;
  } catch {
    return false;
  }
}
