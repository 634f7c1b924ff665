/**
 * The concrete output format of an export and its file extension. Pure string logic so the
 * renderer can preview names with the code that writes them (the naming template itself
 * lives in namingTemplate.ts).
 */
import type { ExportFormat } from './upscaleOptions.ts';

export type ConcreteFormat = Exclude<ExportFormat, 'same'>;

/**
 * Starts the name of every temporary output the batch queue writes (and later renames into
 * place, or sweeps after a crash). The engine writes such a path directly instead of under a
 * temporary name of its own, so a killed run leaves one temporary name, not one inside another.
 */
export const TEMPORARY_OUTPUT_PREFIX = '.cmsc-partial.';

const EXTENSION_BY_FORMAT: Readonly<Record<ConcreteFormat, string>> = {
  png: '.png',
  jpeg: '.jpg',
  webp: '.webp',
  avif: '.avif',
  tiff: '.tiff',
};

/** Input extensions (lower case) whose format the engine can also write. */
const FORMAT_BY_EXTENSION: Readonly<Record<string, ConcreteFormat>> = {
  '.png': 'png',
  '.jpg': 'jpeg',
  '.jpeg': 'jpeg',
  '.jpe': 'jpeg',
  '.webp': 'webp',
  '.avif': 'avif',
  '.tif': 'tiff',
  '.tiff': 'tiff',
};

/** File extension with the dot, e.g. `.jpg`. */
export function extensionFor(format: ConcreteFormat): string {
  return EXTENSION_BY_FORMAT[format];
}

/** The format to write; `same` keeps the input's format, falling back to PNG (e.g. for GIF or HEIC). */
export function concreteFormat(format: ExportFormat, inputFileName: string): ConcreteFormat {
  if (format !== 'same') return format;
  return FORMAT_BY_EXTENSION[extensionOf(inputFileName)] ?? 'png';
}

function extensionOf(fileName: string): string {
  const base = fileName.split(/[/\\]/).pop() ?? fileName;
  const dot = base.lastIndexOf('.');
  return dot > 0 ? base.slice(dot).toLowerCase() : '';
}
