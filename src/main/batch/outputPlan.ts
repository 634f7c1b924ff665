/**
 * Where outputs go: the default output folder, the mirrored sub-folder, the name from the
 * template, the overwrite policy, and the temporary name an output is written under until it
 * is complete. Temporary names carry a marker so a later start can find and delete them.
 */
import {
  appendFile,
  link,
  lstat,
  mkdir,
  readdir,
  rename,
  rm,
  stat,
  writeFile,
} from 'node:fs/promises';
import path from 'node:path';
import type { ExportSettings } from '../../shared/exportSettings.ts';
import {
  expandNamingTemplate,
  formatDateForName,
  safeFileNamePart,
} from '../../shared/namingTemplate.ts';
import {
  concreteFormat,
  extensionFor,
  TEMPORARY_OUTPUT_PREFIX,
  type ConcreteFormat,
} from '../../shared/outputNaming.ts';
import type { OverwritePolicy } from '../../shared/upscaleOptions.ts';
import { ATOMIC_TEMP_MARKER } from '../files/atomicWrite.ts';

/** Present in every output folder we write: scans skip such folders (and everything below). */
export const OUTPUT_FOLDER_MARKER = '.cmsc-upscaler-output';
/**
 * Beside outputs written into a folder that also holds inputs (`--out` equal to the input
 * folder): the names of our outputs there, one JSON string a line, so a later scan of the
 * folder does not take them for photos.
 */
export const OUTPUT_LEDGER_NAME = '.cmsc-upscaler-outputs';
/** In the name of every temporary output (ours, and the engine's temp derived from ours). */
export const TEMP_OUTPUT_MARKER = TEMPORARY_OUTPUT_PREFIX;
export const DEFAULT_OUTPUT_SUFFIX = '-upscaled';
export const DEFAULT_OUTPUT_SUBFOLDER = 'upscaled';

/**
 * The engine's own temporary name (`.<name>.<8 hex>.partial<ext>`, src/main/engine/outputFile.ts),
 * which the command line of earlier versions left beside its outputs after a kill.
 */
const ENGINE_TEMP_NAME = /^\..*\.[0-9a-f]{8}\.partial(\.[A-Za-z0-9]+)?$/;

/** Temporary outputs, and temporaries of atomic report writes (`atomicWrite.ts`). */
export function isOurTemporaryFile(fileName: string): boolean {
  return (
    fileName.includes(TEMP_OUTPUT_MARKER) ||
    fileName.startsWith(ATOMIC_TEMP_MARKER) ||
    ENGINE_TEMP_NAME.test(fileName)
  );
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

/**
 * The folder a job's outputs go to: the settings' folder, else the default for its inputs.
 * A missing input or a device (`/dev/null`) does not count for the default (it would pull it
 * towards `/`); the scan reports such inputs as problems.
 */
export async function resolveOutputFolder(
  inputPaths: readonly string[],
  settingsFolder: string | null,
): Promise<string> {
  if (settingsFolder !== null) return settingsFolder;
  const pickedFolders: string[] = [];
  const usableInputs: string[] = [];
  for (const inputPath of inputPaths) {
    const info = await stat(inputPath).catch(() => null);
    if (info?.isDirectory()) pickedFolders.push(inputPath);
    if (info?.isDirectory() || info?.isFile()) usableInputs.push(inputPath);
  }
  return defaultOutputFolder(usableInputs.length > 0 ? usableInputs : inputPaths, pickedFolders);
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
  // Mirrored folder names follow the same rule as file names (a folder `12:00` on ext4 is
  // `12_00` on the output side).
  const mirrored = path
    .dirname(file.relativePath)
    .split(path.sep)
    .filter((part) => part !== '' && part !== '.')
    .map(safeFileNamePart);
  return {
    format,
    folder: path.join(outputFolder, ...mirrored),
    fileName: `${expanded.baseName}${extensionFor(format)}`,
  };
}

/**
 * True when the output folder is, or holds, one of the job's input folders: outputs then land
 * among inputs, so the folder cannot be marked as an output folder as a whole (its next scan
 * would find nothing); each output is listed in its folder's ledger instead.
 */
export function outputsAmongInputs(outputFolder: string, inputFolders: readonly string[]): boolean {
  const output = path.resolve(outputFolder);
  return inputFolders.some((folder) => {
    const relative = path.relative(output, path.resolve(folder));
    return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative));
  });
}

/** Appends an output's name to its folder's ledger (before the output appears under it). */
export async function recordOutputInLedger(outputPath: string): Promise<void> {
  await appendFile(
    path.join(path.dirname(outputPath), OUTPUT_LEDGER_NAME),
    `${JSON.stringify(path.basename(outputPath))}\n`,
  );
}

export function parseOutputLedger(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const name: unknown = JSON.parse(line);
      if (typeof name === 'string') names.add(name);
    } catch {
      // A line cut short by a crash: the output it named was never committed.
    }
  }
  return names;
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

/**
 * Creates the output folder (and mirrored sub-folder) and marks the output folder as ours
 * (unless `markAsOutput` is false: outputs among inputs). A link or a file in the way below
 * the output folder is refused rather than followed: outputs stay where the job said.
 */
export async function prepareOutputFolder(
  outputFolder: string,
  subFolder: string,
  markAsOutput = true,
): Promise<void> {
  await mkdir(outputFolder, { recursive: true });
  let current = path.resolve(outputFolder);
  for (const part of path.relative(current, path.resolve(subFolder)).split(path.sep)) {
    if (part === '') continue;
    current = path.join(current, part);
    const info = await lstat(current).catch(() => null);
    if (info === null)
      await mkdir(current).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'EEXIST') throw error;
      });
    else if (!info.isDirectory()) {
      throw new Error(
        `${current} is ${info.isSymbolicLink() ? 'a symbolic link' : 'not a folder'}; outputs are not written through it`,
      );
    }
  }
  if (!markAsOutput) return;
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

/**
 * Deletes the temporary outputs below `folder` that a crash of job `jobId` can have left (and
 * temporaries of the engine's own naming, which only a killed run of an earlier version left);
 * another job's temporaries are left alone: another process may be writing them right now.
 * Returns what it deleted.
 */
export async function deleteTemporaryOutputs(
  folder: string,
  jobId: string,
  /** Only those of them it accepts (default: all). */
  select: (fileName: string) => boolean = () => true,
): Promise<string[]> {
  const ours = (fileName: string): boolean =>
    (fileName.startsWith(`${TEMP_OUTPUT_MARKER}${jobId}.`) || ENGINE_TEMP_NAME.test(fileName)) &&
    select(fileName);
  const deleted: string[] = [];
  // Folder by folder: one unreadable sub-folder must not stop the sweep of the others.
  const visit = async (dir: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const entryPath = path.join(dir, entry.name);
      if (entry.isDirectory()) await visit(entryPath);
      else if (entry.isFile() && ours(entry.name)) {
        await rm(entryPath, { force: true });
        deleted.push(entryPath);
      }
    }
  };
  await visit(folder);
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
