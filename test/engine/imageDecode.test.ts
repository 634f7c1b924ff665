import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodeImage } from '../../src/main/engine/imageDecode.ts';
import { makeTempDir } from '../helpers/testImages.ts';

let temp: Awaited<ReturnType<typeof makeTempDir>>;
beforeEach(async () => {
  temp = await makeTempDir();
});
afterEach(async () => temp.remove());

/** w × h RGB image: left half red, right half blue. */
function redBlue(width: number, height: number): Buffer {
  const pixels = Buffer.alloc(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    const left = i % width < width / 2;
    pixels.set(left ? [255, 0, 0] : [0, 0, 255], i * 3);
  }
  return pixels;
}

describe('decodeImage', () => {
  it('applies the EXIF orientation (6: rotate 90° clockwise)', async () => {
    const file = path.join(temp.dir, 'rotated.jpg');
    await sharp(redBlue(16, 8), { raw: { width: 16, height: 8, channels: 3 } })
      .jpeg({ quality: 100 })
      .withMetadata({ orientation: 6 })
      .toFile(file);
    const image = await decodeImage(file);
    expect([image.width, image.height]).toEqual([8, 16]);
    // The left (red) half ends up on top.
    expect(image.rgb.c0[0]).toBeGreaterThan(0.9);
    expect(image.rgb.c2[0]).toBeLessThan(0.1);
    expect(image.rgb.c2[15 * 8]).toBeGreaterThan(0.9);
  });

  it('keeps 16-bit samples exactly', async () => {
    const file = path.join(temp.dir, 'deep.png');
    const samples = Uint16Array.from([1000, 30000, 65535, 0, 12345, 257]);
    await sharp(samples, { raw: { width: 2, height: 1, channels: 3 } })
      .toColourspace('rgb16')
      .png()
      .toFile(file);
    const image = await decodeImage(file);
    expect(image.bitDepth).toBe(16);
    expect(image.rgb.c0[0]! * 65535).toBeCloseTo(1000, 2);
    expect(image.rgb.c1[1]! * 65535).toBeCloseTo(12345, 2);
    expect(image.rgb.c2[1]! * 65535).toBeCloseTo(257, 2);
  });

  it('expands grey to RGB and keeps alpha', async () => {
    const grey = path.join(temp.dir, 'grey.png');
    await sharp(Buffer.from([0, 128, 255, 64]), { raw: { width: 2, height: 2, channels: 1 } })
      .png()
      .toFile(grey);
    const g = await decodeImage(grey);
    expect(Array.from(g.rgb.c0, (v) => Math.round(v * 255))).toEqual([0, 128, 255, 64]);
    expect(g.rgb.c1).toEqual(g.rgb.c0);
    expect(g.alpha).toBeNull();

    const rgba = path.join(temp.dir, 'alpha.png');
    await sharp(Buffer.from([10, 20, 30, 0, 40, 50, 60, 200]), {
      raw: { width: 2, height: 1, channels: 4 },
    })
      .png()
      .toFile(rgba);
    const a = await decodeImage(rgba);
    expect(Array.from(a.alpha ?? [], (v) => Math.round(v * 255))).toEqual([0, 200]);
    expect(Math.round(a.rgb.c2[1]! * 255)).toBe(60);
  });

  it('converts CMYK to sRGB', async () => {
    const file = path.join(temp.dir, 'cmyk.jpg');
    await sharp(redBlue(16, 8), { raw: { width: 16, height: 8, channels: 3 } })
      .toColourspace('cmyk')
      .jpeg({ quality: 100 })
      .toFile(file);
    expect((await sharp(file).metadata()).space).toBe('cmyk');
    const image = await decodeImage(file);
    expect(image.rgb.c0[0]).toBeGreaterThan(0.8);
    expect(image.rgb.c2[0]).toBeLessThan(0.25);
    expect(image.rgb.c2[15]).toBeGreaterThan(0.5); // sRGB blue is out of the CMYK gamut
  });

  it('returns the ICC profile of an RGB input for the encoder', async () => {
    const file = path.join(temp.dir, 'p3.png');
    await sharp(redBlue(4, 2), { raw: { width: 4, height: 2, channels: 3 } })
      .withIccProfile('p3')
      .png()
      .toFile(file);
    const image = await decodeImage(file);
    expect(image.rgbIccProfile?.subarray(16, 20).toString('latin1')).toBe('RGB ');
  });
});

describe('bad input files: one-line error naming the file and the reason', () => {
  async function decodeError(file: string): Promise<{ problem: string; message: string }> {
    try {
      await decodeImage(file, { maxInputPixels: 10_000_000 });
    } catch (error) {
      const e = error as { problem: string; message: string };
      return { problem: e.problem, message: e.message };
    }
    throw new Error(`${file} decoded without error`);
  }

  async function validPng(): Promise<Buffer> {
    const pixels = Buffer.alloc(64 * 64 * 3);
    for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 7919) % 251;
    return sharp(pixels, { raw: { width: 64, height: 64, channels: 3 } })
      .png({ compressionLevel: 0 })
      .toBuffer();
  }

  it.each([
    ['empty.png', async () => Buffer.alloc(0), 'empty', 'empty file (0 bytes)'],
    [
      'notes.jpg',
      async () => Buffer.from('these are notes, not pixels\n'),
      'not-an-image',
      'not an image',
    ],
    ['old.bmp', async () => bmpFile(), 'unsupported-format', 'unsupported image format (BMP)'],
    ['cut.png', async () => (await validPng()).subarray(0, 4000), 'truncated', 'truncated file'],
    [
      'bomb.png',
      async () => pngHeaderOnly(40_000, 40_000),
      'too-many-pixels',
      'image has too many pixels (40000x40000',
    ],
  ])('%s', async (name, contents, problem, reason) => {
    const file = path.join(temp.dir, name);
    await writeFile(file, await contents());
    const error = await decodeError(file);
    expect(error.problem).toBe(problem);
    expect(error.message.startsWith(`${file}: ${reason}`)).toBe(true);
    expect(error.message).not.toContain('\n');
  });

  it('corrupt.png (damaged compressed data)', async () => {
    const bytes = Buffer.from(await validPng());
    const idat = bytes.indexOf('IDAT');
    bytes.fill(0xa5, idat + 40, idat + 400);
    const file = path.join(temp.dir, 'corrupt.png');
    await writeFile(file, bytes);
    const error = await decodeError(file);
    expect(['corrupt', 'truncated']).toContain(error.problem);
    expect(error.message).toMatch(
      new RegExp(
        `^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: (corrupt image data|truncated file) \\(`,
      ),
    );
  });
});

/** A real 2×2 24-bit BMP. */
function bmpFile(): Buffer {
  const rowBytes = 8; // 2 px × 3 bytes, padded to 4
  const header = Buffer.alloc(54);
  header.write('BM', 0, 'latin1');
  header.writeUInt32LE(54 + rowBytes * 2, 2);
  header.writeUInt32LE(54, 10);
  header.writeUInt32LE(40, 14);
  header.writeInt32LE(2, 18);
  header.writeInt32LE(2, 22);
  header.writeUInt16LE(1, 26);
  header.writeUInt16LE(24, 28);
  header.writeUInt32LE(rowBytes * 2, 34);
  return Buffer.concat([header, Buffer.alloc(rowBytes * 2, 0x80)]);
}

/** A PNG whose header claims width × height but whose data is a few bytes: a decompression bomb. */
async function pngHeaderOnly(width: number, height: number): Promise<Buffer> {
  const { crc32, deflateSync } = await import('node:zlib');
  const chunk = (type: string, data: Buffer) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 0, 0, 0, 0], 8); // 8-bit grey
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([
    signature,
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.alloc(1000))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}
