/**
 * Metadata through a batch job: a JPEG with EXIF orientation 6, GPS and camera tags, an ICC
 * profile, XMP and IPTC, written as JPEG, PNG and WebP. Everything is read back from the
 * output files and compared with the input.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBatchQueue, type BatchQueue } from '../../src/main/batch/batchQueue.ts';
import type { ImageUpscaler } from '../../src/main/batch/imageUpscaler.ts';
import { readExif, type ExifIfds } from '../../src/main/batch/metadataTransfer.ts';
import type { ExportSettings } from '../../src/shared/exportSettings.ts';
import {
  fixtureUpscaler,
  hashAll,
  jobInputs,
  makeTempDir,
  removeDir,
  sha256,
  testSettings,
} from './batchFixtures.ts';

const XMP = `<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:tiff="http://ns.adobe.com/tiff/1.0/" tiff:Orientation="6"><dc:creator><rdf:Seq><rdf:li>CMSC test photographer</rdf:li></rdf:Seq></dc:creator></rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>`;
const TAG_ORIENTATION = 0x0112;
const TAG_MAKE = 0x010f;
const TAG_MODEL = 0x0110;
const TAG_PIXEL_X = 0xa002;
const TAG_PIXEL_Y = 0xa003;
const GPS_LATITUDE_REF = 1;
const GPS_LATITUDE = 2;
const GPS_LONGITUDE_REF = 3;
const GPS_LONGITUDE = 4;

/** An IPTC-IIM caption (record 2, dataset 120) inside a Photoshop 8BIM resource, as APP13 holds it. */
function iptcCaptionResource(caption: string): Buffer {
  const text = Buffer.from(caption, 'latin1');
  const dataset = Buffer.concat([
    Buffer.from([0x1c, 0x02, 0x78, text.length >> 8, text.length & 0xff]),
    text,
  ]);
  const header = Buffer.alloc(12);
  header.write('8BIM', 0, 'latin1');
  header.writeUInt16BE(0x0404, 4); // IPTC-NAA resource; an empty (even-padded) name follows
  header.writeUInt32BE(dataset.length, 8);
  return Buffer.concat([header, dataset, dataset.length % 2 ? Buffer.alloc(1) : Buffer.alloc(0)]);
}

/** Inserts an APP13 segment right after SOI; the test builds its input by hand, independently of the code under test. */
function withApp13(jpeg: Buffer, resource: Buffer): Buffer {
  const payload = Buffer.concat([Buffer.from('Photoshop 3.0\0', 'latin1'), resource]);
  const header = Buffer.from([0xff, 0xed, 0, 0]);
  header.writeUInt16BE(payload.length + 2, 2);
  return Buffer.concat([jpeg.subarray(0, 2), header, payload, jpeg.subarray(2)]);
}

describe('metadata of a rotated JPEG with GPS tags', () => {
  let root: string;
  let inputPath: string;
  let upscaler: ImageUpscaler;
  let queue: BatchQueue;
  let inputExif: ExifIfds;
  let inputHash: string;

  const run = async (settings: Partial<ExportSettings>, folder: string): Promise<string> => {
    const job = await queue.addJob({
      inputs: jobInputs([inputPath]),
      settings: testSettings({ outputFolder: path.join(root, folder), ...settings }),
    });
    await queue.whenIdle();
    const file = queue.job(job.id)!.files[0]!;
    expect([file.state, file.reason]).toEqual(['done', null]);
    return file.outputPath!;
  };

  beforeAll(async () => {
    root = await makeTempDir('metadata');
    inputPath = path.join(root, 'in', 'rotated.jpg');
    // Stored 32x24, top half red, bottom half blue; orientation 6 shows it turned 90° clockwise
    // (24x32, red on the right).
    const stored = Buffer.alloc(32 * 24 * 3);
    for (let i = 0; i < 32 * 24; i++)
      stored.set(i < 32 * 12 ? [220, 30, 30] : [30, 30, 220], i * 3);
    const jpeg = await sharp(stored, { raw: { width: 32, height: 24, channels: 3 } })
      .withIccProfile('p3')
      .withMetadata({ orientation: 6 })
      .withExifMerge({
        IFD0: { Make: 'CMSC Labs', Model: 'Test Camera 1' },
        IFD2: { PixelXDimension: '32', PixelYDimension: '24' },
        IFD3: {
          GPSLatitudeRef: 'N',
          GPSLatitude: '51/1 30/1 1234/100',
          GPSLongitudeRef: 'W',
          GPSLongitude: '0/1 7/1 39/1',
        },
      })
      .withXmp(XMP)
      .jpeg({ quality: 95 })
      .toBuffer();
    await mkdir(path.dirname(inputPath), { recursive: true });
    await writeFile(inputPath, withApp13(jpeg, iptcCaptionResource('Harbour at dawn')));
    inputHash = await sha256(inputPath);
    const metadata = await sharp(inputPath).metadata();
    inputExif = readExif(metadata.exif!)!;
    upscaler = await fixtureUpscaler();
    queue = await createBatchQueue({ stateDir: path.join(root, 'state'), upscaler });
  });

  afterAll(async () => {
    await queue.close();
    await upscaler.close();
    await removeDir(root);
  });

  it('the input really carries what the test claims', async () => {
    const metadata = await sharp(inputPath).metadata();
    expect([
      metadata.orientation,
      metadata.width,
      metadata.height,
      metadata.hasProfile,
      metadata.iptc !== undefined,
    ]).toEqual([6, 32, 24, true, true]);
    expect(inputExif.gps.get(GPS_LATITUDE_REF)).toBe('N');
    expect(inputExif.ifd0.get(TAG_MAKE)).toBe('CMSC Labs');
  });

  for (const format of ['jpeg', 'png', 'webp'] as const) {
    it(`${format}: orientation baked in and reset, EXIF with GPS, ICC and XMP kept, dimensions right`, async () => {
      const outputPath = await run({ format, metadata: 'keep' }, `keep-${format}`);
      const metadata = await sharp(outputPath).metadata();
      expect([metadata.format, metadata.width, metadata.height, metadata.orientation]).toEqual([
        format,
        48,
        64,
        1,
      ]);
      const exif = readExif(metadata.exif!)!;
      expect(exif.ifd0.get(TAG_ORIENTATION)).toBe(1);
      expect([exif.ifd0.get(TAG_MAKE), exif.ifd0.get(TAG_MODEL)]).toEqual([
        'CMSC Labs',
        'Test Camera 1',
      ]);
      expect([exif.exif.get(TAG_PIXEL_X), exif.exif.get(TAG_PIXEL_Y)]).toEqual([48, 64]);
      expect(Object.fromEntries(exif.gps)).toEqual(Object.fromEntries(inputExif.gps));
      expect([
        exif.gps.get(GPS_LATITUDE),
        exif.gps.get(GPS_LONGITUDE_REF),
        exif.gps.get(GPS_LONGITUDE),
      ]).toEqual([[51, 30, 12.34], 'W', [0, 7, 39]]);
      expect(metadata.icc?.equals((await sharp(inputPath).metadata()).icc!)).toBe(true);
      const xmp = metadata.xmp?.toString('utf8');
      expect([
        xmp?.includes('CMSC test photographer'),
        xmp?.match(/tiff:Orientation="\d"/)?.[0],
      ]).toEqual([true, 'tiff:Orientation="1"']);
      // Red ended on the right, blue on the left: the rotation is in the pixels.
      const { data } = await sharp(outputPath)
        .removeAlpha()
        .raw()
        .toBuffer({ resolveWithObject: true });
      const at = (x: number, y: number) => [
        ...data.subarray((y * 48 + x) * 3, (y * 48 + x) * 3 + 3),
      ];
      expect(at(40, 32)[0]! > 150 && at(40, 32)[2]! < 100).toBe(true);
      expect(at(8, 32)[2]! > 150 && at(8, 32)[0]! < 100).toBe(true);
    });
  }

  for (const format of ['tiff', 'avif'] as const) {
    it(`${format}: pixels turned, ICC and XMP kept (orientation reset), no EXIF carried yet`, async () => {
      const outputPath = await run({ format, metadata: 'keep' }, `keep-${format}`);
      const metadata = await sharp(outputPath).metadata();
      const xmp = metadata.xmp?.toString('utf8');
      expect([
        metadata.width,
        metadata.height,
        metadata.exif,
        metadata.icc?.equals((await sharp(inputPath).metadata()).icc!),
        xmp?.match(/tiff:Orientation="\d"/)?.[0],
      ]).toEqual([48, 64, undefined, true, 'tiff:Orientation="1"']);
    });
  }

  it('jpeg: IPTC kept byte for byte', async () => {
    const outputPath = await run({ format: 'jpeg', metadata: 'keep' }, 'keep-iptc');
    const [input, output] = await Promise.all([
      sharp(inputPath).metadata(),
      sharp(outputPath).metadata(),
    ]);
    expect(output.iptc?.equals(input.iptc!)).toBe(true);
    expect(output.iptc?.toString('latin1')).toContain('Harbour at dawn');
  });

  it('strip: no EXIF, ICC, XMP or IPTC, and the pixels still upright', async () => {
    const outputPath = await run({ format: 'jpeg', metadata: 'strip' }, 'strip');
    const metadata = await sharp(outputPath).metadata();
    expect([
      metadata.width,
      metadata.height,
      metadata.exif,
      metadata.icc,
      metadata.xmp,
      metadata.iptc,
      metadata.orientation,
    ]).toEqual([48, 64, undefined, undefined, undefined, undefined, undefined]);
  });

  it('leaves the input unchanged', async () => {
    expect(await hashAll([inputPath])).toEqual({ [inputPath]: inputHash });
  });
});
