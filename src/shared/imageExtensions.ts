/** Which file names are photos the app reads: shared by the batch scan, the pickers and the UI. */

/** Extensions scanned when a job does not name its own (lower case, no dot). */
export const SUPPORTED_INPUT_EXTENSIONS: readonly string[] = Object.freeze([
  'jpg',
  'jpeg',
  'jpe',
  'jfif',
  'png',
  'webp',
  'avif',
  'tif',
  'tiff',
  'gif',
  'heic',
  'heif',
]);

const SUPPORTED: ReadonlySet<string> = new Set(SUPPORTED_INPUT_EXTENSIONS);

/** Whether a file name or path ends in a supported image extension (any case). */
export function hasImageExtension(name: string): boolean {
  const base = name.slice(Math.max(name.lastIndexOf('/'), name.lastIndexOf('\\')) + 1);
  const dot = base.lastIndexOf('.');
  return dot > 0 && SUPPORTED.has(base.slice(dot + 1).toLowerCase());
}
