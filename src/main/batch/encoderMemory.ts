/**
 * The pre-flight's word on encoders that hold the whole picture: the engine streams tiles to
 * a raster file and JPEG, PNG and TIFF are written from it row by row, but WebP and AVIF get the
 * whole frame at once (imageEncode.ts WHOLE_FRAME_BYTES_PER_PIXEL), so a big output in those
 * formats needs memory beyond the engine's budget. Said before the job starts, with the way out.
 */
import path from 'node:path';
import type { ExportSettings } from '../../shared/exportSettings.ts';
import type { PreflightWarning } from '../../shared/jobs.ts';
import { concreteFormat } from '../../shared/outputNaming.ts';
import { resolveTargetSize } from '../../shared/targetSize.ts';
import {
  DEFAULT_MEMORY_BUDGET_BYTES,
  FORMAT_NAMES,
  wholeFrameEncoderBytes,
} from '../engine/index.ts';
import type { ImageHeader } from './inputScan.ts';

/**
 * A warning when the largest whole-frame encode of the job needs more than half the memory
 * budget (the upscaler itself uses the budget; the encoder's frame comes on top of what is left
 * of it once the tiles are done); null otherwise.
 */
export function wholeFrameEncoderWarning(
  files: readonly { inputPath: string; header: Pick<ImageHeader, 'width' | 'height'> | null }[],
  settings: Pick<ExportSettings, 'format' | 'target'>,
  budgetBytes: number = DEFAULT_MEMORY_BUDGET_BYTES,
): PreflightWarning | null {
  let largest: { bytes: number; pixels: number; inputPath: string } | null = null;
  let format = null;
  for (const file of files) {
    if (!file.header) continue;
    let size;
    try {
      size = resolveTargetSize(file.header, settings.target);
    } catch {
      continue; // the target's own problem is reported for the file
    }
    const fileFormat = concreteFormat(settings.format, file.inputPath);
    const pixels = size.width * size.height;
    const bytes = wholeFrameEncoderBytes(fileFormat, pixels);
    if (bytes > (largest?.bytes ?? 0)) {
      largest = { bytes, pixels, inputPath: file.inputPath };
      format = fileFormat;
    }
  }
  if (!largest || !format || largest.bytes <= budgetBytes / 2) return null;
  const gigabytes = (bytes: number) => `${(bytes / 1e9).toFixed(1)} GB`;
  return {
    code: 'whole-frame-encoder',
    message: `${FORMAT_NAMES[format]} keeps the whole picture in memory while it encodes: ${path.basename(largest.inputPath)} (${Math.round(largest.pixels / 1e6)} MP out) needs about ${gigabytes(largest.bytes)} for that, on top of the upscaler's ${gigabytes(budgetBytes)}. JPEG, PNG and TIFF are written row by row and need none of it.`,
  };
}
