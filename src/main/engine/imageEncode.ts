/** Encoding the upscaled pixels with sharp, putting back the input's ICC profile and XMP on request. */
import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import type { ConcreteFormat } from '../../shared/outputNaming.ts';
import type { UnsharpMask } from '../../shared/outputSharpening.ts';
import { withSharpening } from './outputSharpening.ts';

export interface EncodeRequest {
  width: number;
  height: number;
  channels: 3 | 4;
  /**
   * Interleaved samples (Uint16Array for 16-bit output, PNG and TIFF only), or the raster file
   * the engine streamed them into (rasterFile.ts), read strip by strip.
   */
  pixels: Uint8Array | Uint16Array | { rasterFile: string; bitDepth: 8 | 16 };
  format: ConcreteFormat;
  /** 1..100 for jpeg, webp, avif. */
  quality: number;
  /** The input's RGB ICC profile: pixels are converted from sRGB back into it and it is attached. */
  iccProfile: Buffer | null;
  xmp: Buffer | null;
  /** Output sharpening applied before the encode (unsharpMaskFor); null or absent: none. */
  sharpening?: UnsharpMask | null;
}

/** Formats that can store 16 bits per sample. */
export function supportsSixteenBit(format: ConcreteFormat): boolean {
  return format === 'png' || format === 'tiff';
}

/**
 * sharp's JPEG with mozjpeg settings (progressive scans, trellis quantisation, optimised
 * Huffman tables) keeps the whole image's DCT coefficients in memory: about 7 bytes per pixel
 * measured (341 MiB of anonymous memory for a 48 MP encode, against 32 MiB for a baseline JPEG,
 * which libjpeg writes row by row).
 */
export const MOZJPEG_BYTES_PER_PIXEL = 7;

/**
 * Bytes per output pixel that an encoder holding the whole frame adds to the process, whatever
 * the memory budget: libvips hands WebP and AVIF (libheif) the whole picture at once, while
 * PNG, TIFF and baseline JPEG are written row by row from the raster file. Measured as peak
 * RSS of one sharp encode from an uncompressed TIFF (`/usr/bin/time`, sequential read): WebP
 * q90 105 / 143 / 282 MB at 1 / 4 / 16 MP (about 12 bytes a pixel), AVIF q70 155 / 282 MB at
 * 1 / 4 MP (about 44; libaom's frame buffers), baseline JPEG 97 / 104 MB at 4 / 16 MP (flat).
 */
export const WHOLE_FRAME_BYTES_PER_PIXEL: Readonly<Partial<Record<ConcreteFormat, number>>> = {
  webp: 12,
  avif: 44,
};

/** What the encoder of `format` holds for a `pixels` frame beyond rows in flight (0: it streams). */
export function wholeFrameEncoderBytes(format: ConcreteFormat, pixels: number): number {
  return (WHOLE_FRAME_BYTES_PER_PIXEL[format] ?? 0) * pixels;
}

/**
 * Whether a JPEG of `pixels` is written with the mozjpeg settings (smaller file) or as a
 * streamed baseline JPEG, given the memory the encoder may use.
 */
export function jpegFitsWholeInMemory(pixels: number, encoderBytes: number): boolean {
  return pixels * MOZJPEG_BYTES_PER_PIXEL <= encoderBytes;
}

export async function encodeImage(
  request: EncodeRequest,
  outputPath: string,
  /** Memory the encoder may hold; a JPEG past it is streamed (see jpegFitsWholeInMemory). */
  encoderBytes: number = Number.POSITIVE_INFINITY,
): Promise<void> {
  const source = request.pixels;
  const fromFile = !(source instanceof Uint8Array || source instanceof Uint16Array);
  const sixteenBit = fromFile ? source.bitDepth === 16 : source instanceof Uint16Array;
  let image = fromFile
    ? sharp(source.rasterFile, { limitInputPixels: false, sequentialRead: true })
    : sharp(source, {
        raw: { width: request.width, height: request.height, channels: request.channels },
        limitInputPixels: false,
      });
  if (sixteenBit) image = image.toColourspace('rgb16');
  image = withSharpening(image, request.sharpening ?? null);
  // sharp reads ICC profiles from files only.
  const iccPath = request.iccProfile
    ? path.join(tmpdir(), `cmsc-${randomBytes(6).toString('hex')}.icc`)
    : null;
  try {
    if (iccPath && request.iccProfile) {
      await writeFile(iccPath, request.iccProfile);
      image = image.withIccProfile(iccPath);
    }
    if (request.xmp) image = image.withXmp(request.xmp.toString('utf8'));
    const quality = Math.min(100, Math.max(1, Math.round(request.quality)));
    switch (request.format) {
      case 'png':
        image = image.png({ compressionLevel: 6 });
        break;
      case 'jpeg':
        // JPEG has no alpha: composite on white, as photo editors do, rather than sharp's black.
        if (request.channels === 4) image = image.flatten({ background: '#ffffff' });
        image = jpegFitsWholeInMemory(request.width * request.height, encoderBytes)
          ? image.jpeg({ quality, mozjpeg: true })
          : // The mozjpeg table and deringing work a block at a time; trellis, progressive
            // scans and optimised tables need every block first.
            image.jpeg({
              quality,
              quantisationTable: 3,
              overshootDeringing: true,
              optimiseCoding: false,
            });
        break;
      case 'webp':
        image = image.webp({ quality });
        break;
      case 'avif':
        image = image.avif({ quality });
        break;
      case 'tiff':
        // BigTIFF only where classic TIFF's 32-bit offsets could not reach the end of the file.
        image = image.tiff({
          compression: 'lzw',
          ...(request.width * request.height * request.channels * (sixteenBit ? 2 : 1) >=
          TIFF_CLASSIC_SAFE_BYTES
            ? { bigtiff: true }
            : {}),
        });
        break;
    }
    await image.toFile(outputPath);
  } finally {
    if (iccPath) await rm(iccPath, { force: true });
  }
}

/** Uncompressed bytes from which a TIFF is written as BigTIFF (LZW can grow incompressible data). */
const TIFF_CLASSIC_SAFE_BYTES = 2 ** 31;

/** Largest side each format can hold, as the encoders sharp ships refuse past it. */
export const MAX_SIDE_BY_FORMAT: Readonly<Record<ConcreteFormat, number>> = {
  // libjpeg's JPEG_MAX_DIMENSION ("Maximum supported image dimension is 65500 pixels").
  jpeg: 65500,
  // WebP's 14-bit sizes.
  webp: 16383,
  // libheif as sharp builds it: 16384 passes, 16385 is "too large for the HEIF format".
  avif: 16384,
  // libvips' largest coordinate; PNG and BigTIFF go further.
  png: 10_000_000,
  tiff: 10_000_000,
};

/** Each format as people write it. */
export const FORMAT_NAMES: Readonly<Record<ConcreteFormat, string>> = {
  jpeg: 'JPEG',
  webp: 'WebP',
  avif: 'AVIF',
  png: 'PNG',
  tiff: 'TIFF',
};

/**
 * Why `format` cannot hold a `width` x `height` image, in one sentence naming the formats that
 * can; null when it can.
 */
export function formatSizeProblem(
  format: ConcreteFormat,
  width: number,
  height: number,
): string | null {
  const side = Math.max(width, height);
  if (side <= MAX_SIDE_BY_FORMAT[format]) return null;
  const able = (Object.keys(MAX_SIDE_BY_FORMAT) as ConcreteFormat[])
    .filter((other) => other !== format && side <= MAX_SIDE_BY_FORMAT[other])
    .map((other) =>
      other === 'jpeg' ? `JPEG (up to ${MAX_SIDE_BY_FORMAT.jpeg} px a side)` : FORMAT_NAMES[other],
    );
  return `the output would be ${width}x${height} px and ${FORMAT_NAMES[format]} holds at most ${MAX_SIDE_BY_FORMAT[format]} px a side; choose ${joinOr(able)}, or a smaller size`;
}

function joinOr(items: string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} or ${items.at(-1)}`;
}
