/**
 * How many bytes an output pixel takes on disk, learned from the files this machine wrote: by
 * format and by the settings that change it (a JPEG's quality, PNG against 16-bit PNG, TIFF's
 * compression). An upscaled photo compresses far better than the formula's worst case (a 2x
 * JPEG at q90 wrote 0.2 bytes a pixel where the formula said 0.8), so once a kind of output has
 * been written, estimates use what it really took. Kept in one small JSON file beside the
 * speed figures; a job also learns from its own outputs as they are written (jobPlanner.ts).
 */
import { readFile } from 'node:fs/promises';
import type { ExportSettings } from '../../shared/exportSettings.ts';
import type { ConcreteFormat } from '../../shared/outputNaming.ts';
import { writeFileAtomic } from '../files/atomicWrite.ts';

/** Weight of the newest output in the running average: photos differ, one does not rule. */
const NEWEST_WEIGHT = 0.3;

export interface SizeFigure {
  bytesPerOutputPixel: number;
  /** Outputs that taught it. */
  outputs: number;
}

/**
 * What decides bytes per pixel besides the photo: the format, its quality or compression, and
 * whether samples are 16-bit. `jpeg@q90`, `png@16bit`, `tiff@lzw`.
 */
export function sizeKey(
  format: ConcreteFormat,
  settings: Pick<ExportSettings, 'encoding' | 'bitDepth'>,
  sixteenBit: boolean,
): string {
  const { encoding } = settings;
  const depth = sixteenBit && settings.bitDepth === 'auto' ? '16bit' : '8bit';
  switch (format) {
    case 'jpeg':
      return `jpeg@q${encoding.jpegQuality}`;
    case 'webp':
      return `webp@q${encoding.webpQuality}`;
    case 'avif':
      return `avif@q${encoding.avifQuality}`;
    case 'png':
      return `png@${depth}`;
    case 'tiff':
      return `tiff@${encoding.tiffCompression}@${depth}`;
  }
}

export class OutputSizeLog {
  private table: Record<string, SizeFigure> = {};

  constructor(private readonly filePath: string) {}

  async load(): Promise<void> {
    try {
      const parsed: unknown = JSON.parse(await readFile(this.filePath, 'utf8'));
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return;
      for (const [key, value] of Object.entries(parsed))
        if (isSizeFigure(value)) this.table[key] = value;
    } catch {
      // Nothing written yet (or an unreadable file): the formula's figure until something is.
    }
  }

  get(key: string): SizeFigure | null {
    return this.table[key] ?? null;
  }

  /** Folds one written output into its kind's figure. */
  async record(key: string, bytes: number, outputPixels: number): Promise<SizeFigure | null> {
    if (!(bytes > 0) || !(outputPixels > 0)) return null;
    const measured = bytes / outputPixels;
    const previous = this.get(key);
    const figure: SizeFigure = {
      bytesPerOutputPixel:
        previous === null
          ? measured
          : previous.bytesPerOutputPixel * (1 - NEWEST_WEIGHT) + measured * NEWEST_WEIGHT,
      outputs: (previous?.outputs ?? 0) + 1,
    };
    this.table[key] = figure;
    await writeFileAtomic(this.filePath, `${JSON.stringify(this.table, null, 1)}\n`);
    return figure;
  }
}

function isSizeFigure(value: unknown): value is SizeFigure {
  if (typeof value !== 'object' || value === null) return false;
  const figure = value as Record<string, unknown>;
  return (
    typeof figure.bytesPerOutputPixel === 'number' &&
    Number.isFinite(figure.bytesPerOutputPixel) &&
    figure.bytesPerOutputPixel > 0 &&
    typeof figure.outputs === 'number'
  );
}
