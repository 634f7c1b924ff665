/**
 * Finding the images of a job: files and folders (optionally recursive), filtered by
 * extension, never descending into an output folder of ours, never picking up our temporary
 * outputs or outputs listed in a folder's output ledger. Every entry's type is read (lstat)
 * before anything opens it: a FIFO, device or socket is never opened (reading one can block a
 * thread forever), links inside folders are not followed, and a folder that cannot be read
 * is one problem entry, not an exception. Also reads each image header once, for the
 * pre-flight and the naming tokens.
 */
import { constants, type Dirent, type Stats } from 'node:fs';
import { access, lstat, readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { SUPPORTED_INPUT_EXTENSIONS } from '../../shared/imageExtensions.ts';
import type { FileReason, JobInputs } from '../../shared/jobs.ts';
import { isLeftOut } from '../../shared/jobs.ts';
import {
  isOurTemporaryFile,
  OUTPUT_FOLDER_MARKER,
  OUTPUT_LEDGER_NAME,
  parseOutputLedger,
} from './outputPlan.ts';

export interface ScannedFile {
  inputPath: string;
  /** Below the folder it was found in; a loose file's is its name; with several folders, prefixed by the folder's name. */
  relativePath: string;
  bytes: number;
  /**
   * Why this entry cannot be processed, found without opening it (special file, link, folder
   * that cannot be read, missing path); null for a regular file.
   */
  problem: FileReason | null;
  /** Set on a problem entry that is a folder (one that cannot be read). */
  folder?: boolean;
}

export interface ImageHeader {
  width: number;
  height: number;
  /** sharp's name for the content's format (jpeg, png, ...), whatever the extension says. */
  format: string;
  channels: number;
  sixteenBit: boolean;
  /** File size when the header was read (a photo replaced mid-batch reports its new size). */
  bytes: number;
  /**
   * Frames of an animated GIF or WebP, pages of a TIFF (absent: one). Only the first is
   * decoded and upscaled.
   */
  pages?: number;
}

export function normalizeExtension(extension: string): string {
  return extension.trim().replace(/^\./, '').toLowerCase();
}

/**
 * What Node puts in a file name whose bytes are not UTF-8 (Linux allows any bytes but `/` and
 * NUL): the string no longer names the file, so it cannot be opened through it.
 */
const UNDECODABLE_NAME = '\uFFFD';

/** Largest output ledger read; a bigger one is ignored rather than loaded. */
const MAX_LEDGER_BYTES = 16 * 1024 * 1024;

/**
 * Lists the job's files in a stable order (folder by folder, paths compared with numbers as
 * numbers). Never throws for what it finds: a missing input, an unreadable folder, a special
 * file or a link each come back once, as an entry with a `problem`.
 */
export async function scanInputs(
  inputs: JobInputs,
  skipFolders: readonly string[] = [],
): Promise<ScannedFile[]> {
  const include = new Set(
    (inputs.includeExtensions.length > 0
      ? inputs.includeExtensions
      : SUPPORTED_INPUT_EXTENSIONS
    ).map(normalizeExtension),
  );
  const exclude = new Set(inputs.excludeExtensions.map(normalizeExtension));
  const wanted = (fileName: string): boolean => {
    const extension = normalizeExtension(path.extname(fileName));
    return include.has(extension) && !exclude.has(extension) && !isOurTemporaryFile(fileName);
  };
  const skip = new Set(skipFolders.map((folder) => path.resolve(folder)));
  const resolvedInputs = inputs.paths.map((p) => path.resolve(p));
  // An explicitly named input is followed when it is a link: the user pointed at it.
  const explicit = await Promise.all(resolvedInputs.map((p) => explicitEntry(p)));
  const folderCount = explicit.filter((entry) => entry.kind === 'folder').length;

  const found: ScannedFile[] = [];
  const seen = new Set<string>();
  const add = (file: ScannedFile): void => {
    if (seen.has(file.inputPath)) return;
    seen.add(file.inputPath);
    found.push(file);
  };
  // Photos left out by the person's choice are not in the job at all (the scan is the one place
  // every front end and the estimate share).
  const selection = inputs.selection && {
    ...inputs.selection,
    starred: inputs.selection.starred.map((p) => path.resolve(p)),
    excluded: inputs.selection.excluded.map((p) => path.resolve(p)),
  };
  const chosen = (file: Pick<ScannedFile, 'inputPath' | 'problem'>): boolean =>
    file.problem !== null || !isLeftOut(selection, file.inputPath);
  for (const [index, inputPath] of resolvedInputs.entries()) {
    const entry = explicit[index]!;
    const relativePath = path.basename(inputPath) || inputPath;
    if (entry.kind === 'problem') {
      add({ inputPath, relativePath, bytes: 0, problem: entry.problem });
    } else if (entry.kind === 'file') {
      // A file the user picked by hand is taken whatever its extension: they asked for it.
      const file = { inputPath, relativePath, bytes: entry.bytes, problem: null };
      if (chosen(file)) add(file);
    } else {
      const prefix = folderCount > 1 ? path.basename(inputPath) : '';
      for (const file of await walkFolder(inputPath, inputs.recursive, skip, wanted)) {
        if (!chosen(file)) continue;
        const relative = path.relative(inputPath, file.inputPath) || path.basename(inputPath);
        add({ ...file, relativePath: prefix ? path.join(prefix, relative) : relative });
      }
    }
  }
  return found;
}

type ExplicitEntry =
  { kind: 'file'; bytes: number } | { kind: 'folder' } | { kind: 'problem'; problem: FileReason };

async function explicitEntry(inputPath: string): Promise<ExplicitEntry> {
  let info: Stats;
  try {
    info = await stat(inputPath);
  } catch (error) {
    const linked = await lstat(inputPath).catch(() => null);
    if (linked?.isSymbolicLink()) return { kind: 'problem', problem: brokenLink(error) };
    return { kind: 'problem', problem: statProblem(error, 'no such file or folder') };
  }
  if (info.isDirectory()) return { kind: 'folder' };
  if (info.isFile()) return { kind: 'file', bytes: info.size };
  return { kind: 'problem', problem: specialFile(info) };
}

async function walkFolder(
  root: string,
  recursive: boolean,
  skip: ReadonlySet<string>,
  wanted: (fileName: string) => boolean,
): Promise<Omit<ScannedFile, 'relativePath'>[]> {
  const results: Omit<ScannedFile, 'relativePath'>[] = [];
  const problem = (inputPath: string, reason: FileReason): void => {
    results.push({ inputPath, bytes: 0, problem: reason });
  };
  const visit = async (dir: string): Promise<void> => {
    if (skip.has(dir)) return;
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (error) {
      results.push({
        inputPath: dir,
        bytes: 0,
        problem: entryProblem(error, dir, 'folder'),
        folder: true,
      });
      return;
    }
    // A folder we wrote outputs into carries a marker; its images are results, not inputs.
    if (entries.some((entry) => entry.name === OUTPUT_FOLDER_MARKER && entry.isFile())) return;
    const ourOutputs = entries.some((entry) => entry.name === OUTPUT_LEDGER_NAME && entry.isFile())
      ? await readLedger(path.join(dir, OUTPUT_LEDGER_NAME))
      : new Set<string>();
    const sorted = entries.sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }));
    for (const entry of sorted) {
      const entryPath = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (recursive) await visit(entryPath);
      } else if (entry.isFile()) {
        if (!wanted(entry.name) || ourOutputs.has(entry.name)) continue;
        // lstat, never stat: the entry may have been swapped for a link since readdir.
        const info = await lstat(entryPath).catch((error: unknown) => error as Error);
        if (info instanceof Error) problem(entryPath, entryProblem(info, entryPath, 'file'));
        else if (!info.isFile()) problem(entryPath, specialFile(info));
        else results.push({ inputPath: entryPath, bytes: info.size, problem: null });
      } else if (entry.isSymbolicLink()) {
        const reason = await linkProblem(entryPath, recursive);
        if (reason && (reason.folder ? recursive : wanted(entry.name))) {
          problem(entryPath, reason.reason);
        }
      } else if (wanted(entry.name)) {
        problem(entryPath, specialFile(entry));
      }
    }
  };
  await visit(root);
  return results;
}

/** A link inside a scanned folder: reported with what it points to, never followed. */
async function linkProblem(
  linkPath: string,
  recursive: boolean,
): Promise<{ reason: FileReason; folder: boolean } | null> {
  let target: Stats;
  try {
    target = await stat(linkPath);
  } catch (error) {
    return { reason: brokenLink(error), folder: false };
  }
  const folder = target.isDirectory();
  if (folder && !recursive) return null;
  return {
    folder,
    reason: {
      code: 'symlink',
      message: `a symbolic link to a ${folder ? 'folder' : 'file'}; links inside folders are not followed (add the target itself to include it)`,
    },
  };
}

/** Why an entry found by readdir cannot be opened: gone since, not allowed, or its name. */
function entryProblem(error: unknown, entryPath: string, kind: 'file' | 'folder'): FileReason {
  if ((error as NodeJS.ErrnoException).code === 'ENOENT' && entryPath.includes(UNDECODABLE_NAME)) {
    return {
      code: 'unreadable',
      message: `its name is not valid UTF-8 (shown with \u{FFFD}), so it cannot be opened by name; rename the ${kind} to include it`,
    };
  }
  return statProblem(error, `the ${kind} disappeared while it was scanned`);
}

function brokenLink(error: unknown): FileReason {
  return (error as NodeJS.ErrnoException).code === 'ELOOP'
    ? { code: 'broken-link', message: 'a symbolic link that loops back on itself' }
    : { code: 'broken-link', message: 'a symbolic link whose target does not exist' };
}

function statProblem(error: unknown, missing: string): FileReason {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EPERM')
    return { code: 'unreadable', message: 'permission denied' };
  if (code === 'ELOOP') return brokenLink(error);
  if (code === 'ENOENT' || code === 'ENOTDIR') return { code: 'input-missing', message: missing };
  return { code: 'unreadable', message: `cannot be read (${code ?? String(error)})` };
}

function specialFile(info: Stats | Dirent): FileReason {
  const kind = info.isFIFO()
    ? 'a named pipe (FIFO)'
    : info.isSocket()
      ? 'a socket'
      : info.isCharacterDevice() || info.isBlockDevice()
        ? 'a device'
        : 'not a regular file';
  return {
    code: 'special-file',
    message: `${kind}, not a regular file; it is not opened`,
  };
}

async function readLedger(ledgerPath: string): Promise<Set<string>> {
  try {
    const info = await lstat(ledgerPath);
    if (!info.isFile() || info.size > MAX_LEDGER_BYTES) return new Set();
    return parseOutputLedger(await readFile(ledgerPath, 'utf8'));
  } catch {
    return new Set();
  }
}

/**
 * Reads the image header (dimensions after EXIF orientation). Returns the reason instead when
 * the file is missing, not a regular file, unreadable, empty, not an image, or has more pixels
 * than `maxInputPixels` (a decompression bomb is refused from its header, never decoded);
 * decoding problems past the header (a truncated JPEG) only show when the file is processed.
 */
export async function readImageHeader(
  filePath: string,
  maxInputPixels: number = Number.POSITIVE_INFINITY,
): Promise<ImageHeader | FileReason> {
  let info: Stats;
  try {
    // stat follows a link the user picked by hand; the type is checked before any open.
    info = await stat(filePath);
  } catch (error) {
    return statProblem(error, 'the file no longer exists');
  }
  if (!info.isFile()) return specialFile(info);
  if (info.size === 0) return { code: 'empty-file', message: 'the file is empty (0 bytes)' };
  try {
    await access(filePath, constants.R_OK);
  } catch (error) {
    return statProblem(error, 'the file no longer exists');
  }
  try {
    // Only the header is read: the pixel limit is checked on its numbers, not by decoding.
    const metadata = await sharp(filePath, { limitInputPixels: false }).metadata();
    const { width, height } = metadata.autoOrient;
    if (!width || !height) return { code: 'not-an-image', message: 'the image has no dimensions' };
    if (width * height > maxInputPixels) {
      return {
        code: 'too-large',
        message: `${width}x${height} is ${formatMegapixels(width * height)}, over the limit of ${formatMegapixels(maxInputPixels)} (a decompression bomb, or a photo too large to decode safely)`,
      };
    }
    return {
      width,
      height,
      format: metadata.format,
      channels: metadata.channels,
      sixteenBit: metadata.depth === 'ushort' || metadata.depth === 'short',
      bytes: info.size,
      ...(metadata.pages !== undefined && metadata.pages > 1 ? { pages: metadata.pages } : {}),
    };
  } catch (error) {
    const message = error instanceof Error ? error.message.split('\n')[0]!.trim() : String(error);
    return /unsupported image format/i.test(message)
      ? {
          code: 'not-an-image',
          message: 'not an image, or in a format this build cannot read (e.g. BMP, PSD)',
        }
      : { code: 'decode-failed', message: `cannot read the image header (${message})` };
  }
}

export function formatMegapixels(pixels: number): string {
  return `${(pixels / 1e6).toLocaleString('en', { maximumFractionDigits: 1 })} MP`;
}

export function isFileReason(value: ImageHeader | FileReason): value is FileReason {
  return 'code' in value;
}
