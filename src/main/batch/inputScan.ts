/**
 * Finding the images of a job: files and folders (optionally recursive), filtered by
 * extension, never descending into an output folder of ours, never picking up our temporary
 * outputs. Also reads each image header once, for the pre-flight and the naming tokens.
 */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { SUPPORTED_INPUT_EXTENSIONS } from '../../shared/imageExtensions.ts';
import type { FileReason, JobInputs } from '../../shared/jobs.ts';
import { isOurTemporaryFile, OUTPUT_FOLDER_MARKER } from './outputPlan.ts';

export interface ScannedFile {
  inputPath: string;
  /** Below the folder it was found in; a loose file's is its name; with several folders, prefixed by the folder's name. */
  relativePath: string;
  bytes: number;
}

export interface ImageHeader {
  width: number;
  height: number;
  /** sharp's name for the content's format (jpeg, png, ...), whatever the extension says. */
  format: string;
  channels: number;
  sixteenBit: boolean;
}

export function normalizeExtension(extension: string): string {
  return extension.trim().replace(/^\./, '').toLowerCase();
}

/**
 * Lists the job's files in a stable order (folder by folder, paths compared with numbers
 * as numbers). A path that does not exist is an error: the user picked it a moment ago.
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
  const folderCount = (await Promise.all(inputs.paths.map((p) => stat(p)))).filter((s) =>
    s.isDirectory(),
  ).length;

  const found: ScannedFile[] = [];
  const seen = new Set<string>();
  const add = (file: ScannedFile): void => {
    if (seen.has(file.inputPath)) return;
    seen.add(file.inputPath);
    found.push(file);
  };
  for (const inputPath of inputs.paths.map((p) => path.resolve(p))) {
    const info = await stat(inputPath);
    if (info.isFile()) {
      // A file the user picked by hand is taken whatever its extension: they asked for it.
      add({ inputPath, relativePath: path.basename(inputPath), bytes: info.size });
      continue;
    }
    if (!info.isDirectory()) continue;
    const prefix = folderCount > 1 ? path.basename(inputPath) : '';
    const files = await walkFolder(inputPath, inputs.recursive, skip, wanted);
    for (const file of files) {
      const relative = path.relative(inputPath, file.path);
      add({
        inputPath: file.path,
        relativePath: prefix ? path.join(prefix, relative) : relative,
        bytes: file.bytes,
      });
    }
  }
  return found;
}

async function walkFolder(
  root: string,
  recursive: boolean,
  skip: ReadonlySet<string>,
  wanted: (fileName: string) => boolean,
): Promise<{ path: string; bytes: number }[]> {
  const results: { path: string; bytes: number }[] = [];
  const visit = async (dir: string): Promise<void> => {
    if (skip.has(dir)) return;
    const entries = await readdir(dir, { withFileTypes: true });
    // A folder we wrote outputs into carries a marker; its images are results, not inputs.
    if (entries.some((entry) => entry.name === OUTPUT_FOLDER_MARKER && entry.isFile())) return;
    const sorted = entries.sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }));
    for (const entry of sorted) {
      const entryPath = path.join(dir, entry.name);
      // Symbolic links are not followed: a link to a parent folder would never end.
      if (entry.isDirectory() && recursive) await visit(entryPath);
      else if (entry.isFile() && wanted(entry.name)) {
        results.push({ path: entryPath, bytes: (await stat(entryPath)).size });
      }
    }
  };
  await visit(root);
  return results;
}

/**
 * Reads the image header (dimensions after EXIF orientation). Returns the reason instead when
 * the file is empty, missing or not an image; decoding problems past the header (a truncated
 * JPEG) only show when the file is processed.
 */
export async function readImageHeader(filePath: string): Promise<ImageHeader | FileReason> {
  let bytes: number;
  try {
    bytes = (await stat(filePath)).size;
  } catch {
    return { code: 'input-missing', message: 'the file no longer exists' };
  }
  if (bytes === 0) return { code: 'empty-file', message: 'the file is empty (0 bytes)' };
  try {
    // Only the header is read: the pixel limit is the engine's to enforce when it decodes.
    const metadata = await sharp(filePath, { limitInputPixels: false }).metadata();
    const { width, height } = metadata.autoOrient;
    if (!width || !height) return { code: 'not-an-image', message: 'the image has no dimensions' };
    return {
      width,
      height,
      format: metadata.format,
      channels: metadata.channels,
      sixteenBit: metadata.depth === 'ushort' || metadata.depth === 'short',
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

export function isFileReason(value: ImageHeader | FileReason): value is FileReason {
  return 'code' in value;
}
