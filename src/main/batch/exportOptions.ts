/**
 * From a job's export settings to what one encode needs: the engine's `UpscaleOptions`, and
 * the finishing steps the engine does not do itself (PNG/TIFF compression other than its
 * fixed ones, 8-bit output from 16-bit input, EXIF and IPTC).
 */
import { rename, rm } from 'node:fs/promises';
import sharp from 'sharp';
import type { ExportSettings } from '../../shared/exportSettings.ts';
import type { ConcreteFormat } from '../../shared/outputNaming.ts';
import type { UpscaleOptions } from '../../shared/upscaleOptions.ts';
import {
  embedSourceMetadata,
  setPngDensity,
  type MetadataCarried,
  type SourceMetadata,
} from './metadataTransfer.ts';

/**
 * What the engine's encoder writes for lossless formats (src/main/engine/imageEncode.ts);
 * other settings take one extra lossless re-encode until the engine accepts them (asked in
 * /tmp/coord/engine.md).
 */
export const ENGINE_PNG_COMPRESSION_LEVEL = 6;
export const ENGINE_TIFF_COMPRESSION = 'lzw';

export function toUpscaleOptions(settings: ExportSettings, format: ConcreteFormat): UpscaleOptions {
  const options: UpscaleOptions = {
    target: { ...settings.target },
    quality: settings.qualityPreset,
    source: settings.source,
    selfEnsemble: settings.selfEnsemble,
    precision: settings.precision,
    format,
    encodeQuality: encodeQualityFor(settings, format),
    keepMetadata: settings.metadata === 'keep',
  };
  if (settings.model !== null) options.model = settings.model;
  if (settings.tileSize !== 'auto') options.tileSize = settings.tileSize;
  if (settings.sharpening.amount !== 'none') options.sharpening = { ...settings.sharpening };
  return options;
}

function encodeQualityFor(settings: ExportSettings, format: ConcreteFormat): number {
  switch (format) {
    case 'jpeg':
      return settings.encoding.jpegQuality;
    case 'webp':
      return settings.encoding.webpQuality;
    case 'avif':
      return settings.encoding.avifQuality;
    case 'png':
    case 'tiff':
      // Lossless: the engine ignores it.
      return 100;
  }
}

export interface FinishedOutput {
  width: number;
  height: number;
  bytes: number;
  metadata: MetadataCarried;
}

/**
 * Applies the settings the engine could not, then reads the file back to check it decodes
 * with the expected size. `tempPath` is rewritten in place (it is still a temporary file).
 */
export async function finishOutput(
  tempPath: string,
  format: ConcreteFormat,
  settings: ExportSettings,
  expected: { width: number; height: number },
  source: SourceMetadata | null,
): Promise<FinishedOutput> {
  await reencodeLosslessIfNeeded(tempPath, format, settings);
  const written = await sharp(tempPath, { limitInputPixels: false }).metadata();
  if (written.width !== expected.width || written.height !== expected.height) {
    throw new Error(
      `the encoded output is ${written.width}x${written.height}, expected ${expected.width}x${expected.height}`,
    );
  }
  const metadata = source
    ? await embedSourceMetadata(tempPath, format, source, {
        width: expected.width,
        height: expected.height,
        hasAlpha: written.hasAlpha,
      })
    : { exif: false, iptc: false };
  // The input's resolution tag, or none; never the encoder's default.
  if (format === 'png') await setPngDensity(tempPath, source?.density ?? null);
  // Read the final bytes back: splicing must not have broken the file.
  const final = await sharp(tempPath, { limitInputPixels: false }).metadata();
  if (final.width !== expected.width || final.height !== expected.height) {
    throw new Error('the output became unreadable after adding its metadata');
  }
  return { width: expected.width, height: expected.height, bytes: final.size ?? 0, metadata };
}

async function reencodeLosslessIfNeeded(
  tempPath: string,
  format: ConcreteFormat,
  settings: ExportSettings,
): Promise<void> {
  if (format !== 'png' && format !== 'tiff') return;
  const current = await sharp(tempPath, { limitInputPixels: false }).metadata();
  const reduceDepth =
    settings.bitDepth === '8' && (current.depth === 'ushort' || current.depth === 'short');
  const compressionDiffers =
    format === 'png'
      ? settings.encoding.pngCompressionLevel !== ENGINE_PNG_COMPRESSION_LEVEL
      : settings.encoding.tiffCompression !== ENGINE_TIFF_COMPRESSION;
  if (!reduceDepth && !compressionDiffers) return;
  // Decode fully before writing: sharp streams from the file, which is replaced below.
  let image = sharp(
    await sharp(tempPath, { limitInputPixels: false })
      .keepMetadata()
      .toBuffer({ resolveWithObject: false }),
    {
      limitInputPixels: false,
    },
  ).keepMetadata();
  if (reduceDepth) image = image.toColourspace('srgb');
  image =
    format === 'png'
      ? image.png({ compressionLevel: settings.encoding.pngCompressionLevel })
      : image.tiff({
          compression:
            settings.encoding.tiffCompression === 'none'
              ? 'none'
              : settings.encoding.tiffCompression,
        });
  const rewritten = `${tempPath}.reencode`;
  try {
    await image.toFile(rewritten);
    await rename(rewritten, tempPath);
  } finally {
    await rm(rewritten, { force: true });
  }
}
