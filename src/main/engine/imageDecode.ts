/**
 * Decoding a photo into float planes with sharp: EXIF orientation baked in, 8- or 16-bit,
 * grey expanded to RGB, alpha kept, CMYK and other colour spaces converted to sRGB. The
 * original ICC profile and XMP are returned for the encoder to put back on request.
 */
import { open, stat } from 'node:fs/promises';
import sharp, { type Metadata, type OutputInfo } from 'sharp';
import type { ColorPlanes } from './color.ts';
import { classifyDecodeFailure, ImageInputError } from './imageInputError.ts';

export interface DecodedImage {
  width: number;
  height: number;
  /** R, G, B in [0, 1]. */
  rgb: ColorPlanes;
  /** Alpha in [0, 1], or null when the image is opaque. */
  alpha: Float32Array | null;
  bitDepth: 8 | 16;
  /** sharp's name for the input format (jpeg, png, webp, tiff, heif, gif, ...). */
  format: string;
  /** The input's ICC profile when it describes RGB data (kept for output on request). */
  rgbIccProfile: Buffer | null;
  xmp: Buffer | null;
}

/** A decoded photo kept compact: interleaved 8- or 16-bit samples, as sharp returns them. */
export interface DecodedSamples extends Omit<DecodedImage, 'rgb' | 'alpha'> {
  channels: 3 | 4;
  /** width × height × channels samples, row-major. */
  samples: Uint8Array | Uint16Array;
}

export interface DecodeLimits {
  /** Refuse images with more pixels than this (decompression-bomb guard). */
  maxInputPixels: number;
}

export const DEFAULT_MAX_INPUT_PIXELS = 100_000_000;

/** What the header says, checked against the pixel limit, before any pixel is decoded. */
export interface ImageHeader {
  /** Size after EXIF orientation. */
  width: number;
  height: number;
  format: string;
}

/**
 * Reads and checks the header only: empty, non-image, unsupported and oversized files fail
 * here with an ImageInputError; damage further in shows in `decodeImage`.
 */
export async function probeImage(
  filePath: string,
  limits: DecodeLimits = { maxInputPixels: DEFAULT_MAX_INPUT_PIXELS },
): Promise<ImageHeader> {
  return (await readCheckedHeader(filePath, limits)).header;
}

async function readCheckedHeader(
  filePath: string,
  limits: DecodeLimits,
): Promise<{ header: ImageHeader; metadata: Metadata; head: Buffer }> {
  const head = await readHead(filePath);
  let metadata: Metadata;
  try {
    // Header only, without the pixel limit, so a decompression bomb is reported with its size.
    metadata = await sharp(filePath, { autoOrient: true, limitInputPixels: false }).metadata();
  } catch (error) {
    throw classifyDecodeFailure(filePath, head, error);
  }
  const { width, height } = metadata.autoOrient;
  if (width * height > limits.maxInputPixels) {
    throw new ImageInputError(
      filePath,
      'too-many-pixels',
      `image has too many pixels (${width}x${height} = ${(width * height).toLocaleString('en')} > limit ${limits.maxInputPixels.toLocaleString('en')}, decompression-bomb guard)`,
    );
  }
  return { header: { width, height, format: metadata.format }, metadata, head };
}

export async function decodeImage(
  filePath: string,
  limits: DecodeLimits = { maxInputPixels: DEFAULT_MAX_INPUT_PIXELS },
): Promise<DecodedImage> {
  const { samples, channels, ...rest } = await decodeSamples(filePath, limits);
  const planes = deinterleave(
    samples,
    rest.width * rest.height,
    channels,
    rest.bitDepth === 16 ? 65535 : 255,
  );
  return {
    ...rest,
    rgb: { c0: planes[0]!, c1: planes[1]!, c2: planes[2]! },
    alpha: channels === 4 ? planes[3]! : null,
  };
}

/**
 * Decodes like decodeImage but keeps the samples as sharp returns them (3 or 6 bytes a pixel
 * for RGB instead of 12 as float planes): a photo's upscale reads them a tile at a time.
 */
export async function decodeSamples(
  filePath: string,
  limits: DecodeLimits = { maxInputPixels: DEFAULT_MAX_INPUT_PIXELS },
): Promise<DecodedSamples> {
  return (await decodeRect(filePath, limits, null)).decoded;
}

/** A rectangle of a photo, decoded alone, and where it lies in the photo. */
export interface DecodedWindow {
  /** The rectangle's own pixels (its width and height are the rectangle's). */
  image: DecodedSamples;
  /** The rectangle, in the photo's pixels after EXIF orientation. */
  window: { x: number; y: number; width: number; height: number };
  /** The whole photo's size after EXIF orientation. */
  full: { width: number; height: number };
}

/**
 * Decodes only `window` of a photo (pixels after EXIF orientation): libvips reads the input
 * demand-driven and keeps only the rectangle, so a Compare crop of a 61 MP photo holds a few
 * hundred kB, not the photo's 183 MB. The samples are those decodeSamples gives there.
 */
export async function decodeWindow(
  filePath: string,
  window: { x: number; y: number; width: number; height: number },
  limits: DecodeLimits = { maxInputPixels: DEFAULT_MAX_INPUT_PIXELS },
): Promise<DecodedWindow> {
  const { decoded, header } = await decodeRect(filePath, limits, window);
  return { image: decoded, window, full: { width: header.width, height: header.height } };
}

async function decodeRect(
  filePath: string,
  limits: DecodeLimits,
  window: { x: number; y: number; width: number; height: number } | null,
): Promise<{ decoded: DecodedSamples; header: ImageHeader }> {
  const { metadata, head, header } = await readCheckedHeader(filePath, limits);
  let image = sharp(filePath, {
    autoOrient: true,
    limitInputPixels: limits.maxInputPixels,
    // Truncated or damaged pixel data fails instead of decoding to grey.
    failOn: 'error',
    sequentialRead: true,
  });
  // After the orientation (the constructor's autoOrient), as the photo is seen.
  if (window)
    image = image.extract({
      left: window.x,
      top: window.y,
      width: window.width,
      height: window.height,
    });
  const bitDepth = isSixteenBit(metadata.depth) ? 16 : 8;
  let raw: { data: Buffer; info: OutputInfo };
  try {
    raw = await image
      .toColourspace(bitDepth === 16 ? 'rgb16' : 'srgb')
      .raw({ depth: bitDepth === 16 ? 'ushort' : 'uchar' })
      .toBuffer({ resolveWithObject: true });
  } catch (error) {
    throw classifyDecodeFailure(filePath, head, error);
  }
  const { info } = raw;
  if (info.channels !== 3 && info.channels !== 4) {
    throw new ImageInputError(
      filePath,
      'unsupported-format',
      `unsupported channel layout (${info.channels} channels after conversion to RGB)`,
    );
  }
  const samples =
    bitDepth === 16
      ? new Uint16Array(raw.data.buffer, raw.data.byteOffset, raw.data.byteLength / 2)
      : new Uint8Array(raw.data.buffer, raw.data.byteOffset, raw.data.byteLength);
  const decoded: DecodedSamples = {
    width: info.width,
    height: info.height,
    channels: info.channels,
    samples,
    bitDepth,
    format: metadata.format,
    rgbIccProfile: metadata.icc && iccDescribesRgb(metadata.icc) ? metadata.icc : null,
    xmp: metadata.xmp ?? null,
  };
  return { decoded, header };
}

async function readHead(filePath: string): Promise<Buffer> {
  let size: number;
  try {
    const info = await stat(filePath);
    if (!info.isFile()) throw new ImageInputError(filePath, 'unreadable', 'not a regular file');
    size = info.size;
  } catch (error) {
    if (error instanceof ImageInputError) throw error;
    throw new ImageInputError(
      filePath,
      'unreadable',
      `cannot read file (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
    );
  }
  if (size === 0) throw new ImageInputError(filePath, 'empty', 'empty file (0 bytes)');
  const handle = await open(filePath, 'r');
  try {
    const head = Buffer.alloc(Math.min(size, 32));
    await handle.read(head, 0, head.length, 0);
    return head;
  } finally {
    await handle.close();
  }
}

function isSixteenBit(depth: string | undefined): boolean {
  return (
    depth === 'ushort' ||
    depth === 'short' ||
    depth === 'uint' ||
    depth === 'int' ||
    depth === 'float' ||
    depth === 'double'
  );
}

/** Interleaved samples → one float plane per channel, scaled to [0, 1]. */
export function deinterleave(
  samples: Uint8Array | Uint16Array,
  pixels: number,
  channels: number,
  maxValue: number,
): Float32Array[] {
  const planes = Array.from({ length: channels }, () => new Float32Array(pixels));
  const inverse = 1 / maxValue;
  for (let c = 0; c < channels; c++) {
    const plane = planes[c]!;
    for (let i = 0, s = c; i < pixels; i++, s += channels) plane[i] = samples[s]! * inverse;
  }
  return planes;
}

/** ICC header bytes 16..19 name the profile's data colour space. */
function iccDescribesRgb(icc: Buffer): boolean {
  return icc.length >= 20 && icc.subarray(16, 20).toString('latin1') === 'RGB ';
}
