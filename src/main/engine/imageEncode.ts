/** Encoding the upscaled pixels with sharp, putting back the input's ICC profile and XMP on request. */
import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import type { ConcreteFormat } from '../../shared/outputNaming.ts';

export interface EncodeRequest {
  width: number;
  height: number;
  channels: 3 | 4;
  /** Interleaved samples; Uint16Array for 16-bit output (PNG and TIFF only). */
  pixels: Uint8Array | Uint16Array;
  format: ConcreteFormat;
  /** 1..100 for jpeg, webp, avif. */
  quality: number;
  /** The input's RGB ICC profile: pixels are converted from sRGB back into it and it is attached. */
  iccProfile: Buffer | null;
  xmp: Buffer | null;
}

/** Formats that can store 16 bits per sample. */
export function supportsSixteenBit(format: ConcreteFormat): boolean {
  return format === 'png' || format === 'tiff';
}

export async function encodeImage(request: EncodeRequest, outputPath: string): Promise<void> {
  const sixteenBit = request.pixels instanceof Uint16Array;
  let image = sharp(request.pixels, {
    raw: { width: request.width, height: request.height, channels: request.channels },
    limitInputPixels: false,
  });
  if (sixteenBit) image = image.toColourspace('rgb16');
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
        image = image.jpeg({ quality, mozjpeg: true });
        break;
      case 'webp':
        image = image.webp({ quality });
        break;
      case 'avif':
        image = image.avif({ quality });
        break;
      case 'tiff':
        image = image.tiff({ compression: 'lzw' });
        break;
    }
    await image.toFile(outputPath);
  } finally {
    if (iccPath) await rm(iccPath, { force: true });
  }
}
