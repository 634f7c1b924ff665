/**
 * Carrying EXIF and IPTC from the input into the finished output. The engine's encoder keeps
 * the ICC profile and XMP but writes no EXIF or IPTC, and re-encoding a JPEG to add them would
 * lose quality; so they are spliced into the encoded file byte for byte, in the containers that
 * define a place for them: JPEG (APP1 EXIF, APP13 IPTC), PNG (eXIf) and WebP (EXIF chunk).
 * The EXIF block is adjusted on the way: Orientation 1 (the engine bakes the rotation into the
 * pixels), PixelXDimension/PixelYDimension set to the output size, and the thumbnail directory
 * (IFD1, a picture of the old pixels) dropped.
 */
import { open, readFile, writeFile } from 'node:fs/promises';
import { crc32, deflateSync, inflateSync } from 'node:zlib';
import sharp from 'sharp';
import type { ConcreteFormat } from '../../shared/outputNaming.ts';

export interface SourceMetadata {
  /** The TIFF-structured EXIF payload (without the `Exif\0\0` header); null when absent. */
  exif: Buffer | null;
  /** The IPTC/Photoshop resource block as JPEG APP13 holds it after `Photoshop 3.0\0`. */
  iptc: Buffer | null;
  /** The input's resolution tag in pixels per inch (PNG pHYs, JFIF, EXIF); null when it has none. */
  density: number | null;
}

export interface MetadataCarried {
  exif: boolean;
  iptc: boolean;
}

const EXIF_HEADER = Buffer.from('Exif\0\0', 'latin1');
const PHOTOSHOP_HEADER = Buffer.from('Photoshop 3.0\0', 'latin1');
/** A JPEG segment holds at most 65535 bytes including its 2-byte length. */
const MAX_JPEG_SEGMENT_PAYLOAD = 65_533;

const TAG_ORIENTATION = 0x0112;
const TAG_EXIF_IFD = 0x8769;
const TAG_PIXEL_X_DIMENSION = 0xa002;
const TAG_PIXEL_Y_DIMENSION = 0xa003;
const TYPE_SHORT = 3;
const TYPE_LONG = 4;

export async function readSourceMetadata(inputPath: string): Promise<SourceMetadata> {
  const metadata = await sharp(inputPath, { limitInputPixels: false }).metadata();
  const exif =
    metadata.exif && metadata.exif.length > 8 ? stripPrefix(metadata.exif, EXIF_HEADER) : null;
  const iptc =
    metadata.iptc && metadata.iptc.length > 0 ? stripPrefix(metadata.iptc, PHOTOSHOP_HEADER) : null;
  const tagged =
    metadata.format === 'png'
      ? await pngHasPhys(inputPath)
      : metadata.format === 'jpeg'
        ? exif !== null || (await jfifHasDensity(inputPath))
        : metadata.format === 'tiff' || exif !== null;
  // libvips reports 72 ppi for a file without a tag; only a tag the file has is carried.
  return { exif, iptc, density: tagged ? (metadata.density ?? null) : null };
}

/** Bytes read to find a PNG's pHYs (it precedes IDAT; only large ICC or text chunks come first). */
const PNG_HEAD_BYTES = 1 << 20;

async function readHead(filePath: string, bytes: number): Promise<Buffer> {
  const handle = await open(filePath, 'r');
  try {
    const buffer = Buffer.alloc(bytes);
    const { bytesRead } = await handle.read(buffer, 0, bytes, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

async function pngHasPhys(filePath: string): Promise<boolean> {
  const head = await readHead(filePath, PNG_HEAD_BYTES);
  for (let at = 8; at + 8 <= head.length;) {
    const type = head.toString('latin1', at + 4, at + 8);
    if (type === 'pHYs') return head[at + 16] === 1; // unit 0 is an aspect ratio, not a resolution
    if (type === 'IDAT') return false;
    at += 12 + head.readUInt32BE(at);
  }
  return false;
}

/** A JFIF APP0 segment with density units (1 = per inch, 2 = per cm); 0 is an aspect ratio only. */
async function jfifHasDensity(filePath: string): Promise<boolean> {
  const head = await readHead(filePath, 20);
  return head.toString('latin1', 6, 11) === 'JFIF\0' && (head[13] === 1 || head[13] === 2);
}

/** Metres per inch: PNG counts pixels per metre, photo software pixels per inch. */
const METRES_PER_INCH = 0.0254;

/**
 * Makes a PNG's resolution tag the input's, or removes it: the encoder writes its own default
 * (1000 px/m, which Photoshop shows as 25.4 ppi) on every PNG. Rewrites `filePath` in place
 * only when the tag differs.
 */
export async function setPngDensity(filePath: string, density: number | null): Promise<void> {
  const png = await readFile(filePath);
  const chunks = readPngChunks(png);
  const wanted =
    density === null || !(density > 0) ? null : physChunk(Math.round(density / METRES_PER_INCH));
  const current = chunks.find((chunk) => chunk.type === 'pHYs');
  if (!current && wanted === null) return;
  if (current && wanted && current.raw.equals(wanted)) return;
  const rebuilt: Buffer[] = [PNG_SIGNATURE];
  for (const chunk of chunks) {
    if (chunk.type === 'pHYs') continue;
    rebuilt.push(chunk.raw);
    // pHYs must come before IDAT; right after IHDR always is.
    if (chunk.type === 'IHDR' && wanted) rebuilt.push(wanted);
  }
  await writeFile(filePath, Buffer.concat(rebuilt));
}

function physChunk(pixelsPerMetre: number): Buffer {
  const data = Buffer.alloc(9);
  data.writeUInt32BE(pixelsPerMetre, 0);
  data.writeUInt32BE(pixelsPerMetre, 4);
  data[8] = 1; // unit: metre
  return pngChunk('pHYs', data);
}

/** Which metadata a format can hold (the rest is dropped, as the issue allows). */
export function metadataSupport(format: ConcreteFormat): MetadataCarried {
  return {
    exif: format === 'jpeg' || format === 'png' || format === 'webp',
    iptc: format === 'jpeg',
  };
}

/**
 * Splices the input's EXIF (adjusted) and IPTC into the encoded file at `filePath` (a temporary
 * output, rewritten in place: a crash meanwhile only leaves a temporary file the next start
 * deletes). Returns what was carried. Malformed EXIF is dropped rather than copied.
 */
export async function embedSourceMetadata(
  filePath: string,
  format: ConcreteFormat,
  source: SourceMetadata,
  output: { width: number; height: number; hasAlpha: boolean },
): Promise<MetadataCarried> {
  const support = metadataSupport(format);
  const exif =
    support.exif && source.exif ? adjustExif(source.exif, output.width, output.height) : null;
  const iptc = support.iptc ? source.iptc : null;
  let encoded: Buffer = await readFile(filePath);
  // The XMP the encoder copied may still say the pixels need turning; they no longer do.
  let xmpChanged: boolean;
  if (format === 'png') {
    const patched = resetPngXmpOrientation(encoded);
    xmpChanged = patched !== null;
    encoded = patched ?? encoded;
  } else {
    xmpChanged = resetXmpOrientation(encoded);
  }
  if (!exif && !iptc) {
    if (xmpChanged) await writeFile(filePath, encoded);
    return { exif: false, iptc: false };
  }
  let spliced: Buffer;
  switch (format) {
    case 'jpeg':
      spliced = spliceJpeg(encoded, exif, iptc);
      break;
    case 'png':
      spliced = splicePng(encoded, exif!);
      break;
    case 'webp':
      spliced = spliceWebp(encoded, exif!, output);
      break;
    default:
      return { exif: false, iptc: false };
  }
  await writeFile(filePath, spliced);
  return { exif: exif !== null, iptc: iptc !== null };
}

/**
 * Sets every XMP `tiff:Orientation` (attribute or element form) in an encoded file to 1, in
 * place. The digit keeps its length, so no offset in any container moves; XMP packets are
 * stored uncompressed in JPEG, WebP, TIFF and AVIF. Returns whether anything changed.
 */
export function resetXmpOrientation(encoded: Buffer): boolean {
  const text = encoded.toString('latin1');
  let changed = false;
  for (const match of text.matchAll(XMP_ORIENTATION)) {
    encoded[match.index + match[0].length - 1] = 0x31; // '1'
    changed = true;
  }
  return changed;
}

const XMP_ORIENTATION = /tiff:Orientation(?:="|>)\s*([2-8])/g;
const PNG_XMP_KEYWORD = 'XML:com.adobe.xmp';

/**
 * PNG keeps XMP in a zTXt or iTXt chunk, usually compressed: inflate, reset, deflate. Returns
 * the rebuilt file, or null when no XMP orientation needed changing.
 */
function resetPngXmpOrientation(png: Buffer): Buffer | null {
  const chunks = readPngChunks(png);
  let changed = false;
  const rebuilt = chunks.map((chunk) => {
    if (
      (chunk.type !== 'zTXt' && chunk.type !== 'iTXt') ||
      !chunk.data.toString('latin1').startsWith(`${PNG_XMP_KEYWORD}\0`)
    ) {
      return chunk.raw;
    }
    const afterKeyword = PNG_XMP_KEYWORD.length + 1;
    // zTXt: method byte, then zlib data. iTXt: compressed flag, method, language\0, translated keyword\0, text.
    let textStart = afterKeyword + 1;
    let compressed = true;
    if (chunk.type === 'iTXt') {
      compressed = chunk.data[afterKeyword] === 1;
      const language = chunk.data.indexOf(0, afterKeyword + 2);
      const translated = chunk.data.indexOf(0, language + 1);
      if (language < 0 || translated < 0) return chunk.raw;
      textStart = translated + 1;
    }
    let text: Buffer;
    try {
      text = compressed
        ? inflateSync(chunk.data.subarray(textStart))
        : Buffer.from(chunk.data.subarray(textStart));
    } catch {
      return chunk.raw;
    }
    if (!resetXmpOrientation(text)) return chunk.raw;
    changed = true;
    const body = compressed ? deflateSync(text) : text;
    return pngChunk(chunk.type, Buffer.concat([chunk.data.subarray(0, textStart), body]));
  });
  return changed ? Buffer.concat([PNG_SIGNATURE, ...rebuilt]) : null;
}

function readPngChunks(png: Buffer): { type: string; data: Buffer; raw: Buffer }[] {
  if (!png.subarray(0, 8).equals(PNG_SIGNATURE)) throw new Error('not a PNG file');
  const chunks: { type: string; data: Buffer; raw: Buffer }[] = [];
  for (let position = 8; position + 12 <= png.length;) {
    const length = png.readUInt32BE(position);
    chunks.push({
      type: png.toString('latin1', position + 4, position + 8),
      data: png.subarray(position + 8, position + 8 + length),
      raw: png.subarray(position, position + 12 + length),
    });
    position += 12 + length;
  }
  return chunks;
}

/**
 * A copy of the TIFF-structured EXIF with Orientation 1, the pixel dimensions of the output
 * and no IFD1; null when the structure cannot be walked safely.
 */
export function adjustExif(exif: Buffer, width: number, height: number): Buffer | null {
  const tiff = Buffer.from(exif);
  const view = tiffView(tiff);
  if (!view) return null;
  const ifd0 = view.u32(4);
  const ifd0Entries = readIfd(view, ifd0);
  if (!ifd0Entries) return null;
  for (const entry of ifd0Entries) {
    if (entry.tag === TAG_ORIENTATION && entry.type === TYPE_SHORT)
      view.setU16(entry.valueOffset, 1);
    if (entry.tag === TAG_EXIF_IFD && (entry.type === TYPE_LONG || entry.type === 13)) {
      const exifEntries = readIfd(view, view.u32(entry.valueOffset));
      for (const exifEntry of exifEntries ?? []) {
        const value =
          exifEntry.tag === TAG_PIXEL_X_DIMENSION
            ? width
            : exifEntry.tag === TAG_PIXEL_Y_DIMENSION
              ? height
              : null;
        if (value === null) continue;
        if (exifEntry.type === TYPE_LONG) view.setU32(exifEntry.valueOffset, value);
        else if (exifEntry.type === TYPE_SHORT && value <= 0xffff)
          view.setU16(exifEntry.valueOffset, value);
      }
    }
  }
  // The next-IFD link after IFD0 points at the thumbnail; cut it.
  view.setU32(ifd0 + 2 + ifd0Entries.length * 12, 0);
  return tiff;
}

/** Tag → first value (SHORT/LONG) or text (ASCII) or rationals, for reading EXIF back in tests and reports. */
export interface ExifIfds {
  ifd0: Map<number, ExifValue>;
  exif: Map<number, ExifValue>;
  gps: Map<number, ExifValue>;
}
export type ExifValue = number | string | number[];

const TAG_GPS_IFD = 0x8825;

/** Parses IFD0, the EXIF IFD and the GPS IFD of a TIFF-structured EXIF payload (with or without `Exif\0\0`). */
export function readExif(exif: Buffer): ExifIfds | null {
  const tiff = stripPrefix(exif, EXIF_HEADER);
  const view = tiffView(tiff);
  if (!view) return null;
  const read = (offset: number): Map<number, ExifValue> => {
    const values = new Map<number, ExifValue>();
    for (const entry of readIfd(view, offset) ?? []) {
      const value = readValue(view, tiff, entry);
      if (value !== null) values.set(entry.tag, value);
    }
    return values;
  };
  const ifd0 = read(view.u32(4));
  const pointer = (tag: number): number | null => {
    const value = ifd0.get(tag);
    return typeof value === 'number' ? value : null;
  };
  const exifOffset = pointer(TAG_EXIF_IFD);
  const gpsOffset = pointer(TAG_GPS_IFD);
  return {
    ifd0,
    exif: exifOffset === null ? new Map() : read(exifOffset),
    gps: gpsOffset === null ? new Map() : read(gpsOffset),
  };
}

interface IfdEntry {
  tag: number;
  type: number;
  count: number;
  /** Offset of the entry's 4-byte value field in the TIFF buffer. */
  valueOffset: number;
}

interface TiffView {
  length: number;
  u16(offset: number): number;
  u32(offset: number): number;
  setU16(offset: number, value: number): void;
  setU32(offset: number, value: number): void;
}

function tiffView(tiff: Buffer): TiffView | null {
  if (tiff.length < 8) return null;
  const order = tiff.toString('latin1', 0, 2);
  if (order !== 'II' && order !== 'MM') return null;
  const little = order === 'II';
  const view: TiffView = {
    length: tiff.length,
    u16: (offset) => (little ? tiff.readUInt16LE(offset) : tiff.readUInt16BE(offset)),
    u32: (offset) => (little ? tiff.readUInt32LE(offset) : tiff.readUInt32BE(offset)),
    setU16: (offset, value) => {
      if (little) tiff.writeUInt16LE(value, offset);
      else tiff.writeUInt16BE(value, offset);
    },
    setU32: (offset, value) => {
      if (little) tiff.writeUInt32LE(value, offset);
      else tiff.writeUInt32BE(value, offset);
    },
  };
  return view.u16(2) === 42 ? view : null;
}

function readIfd(view: TiffView, offset: number): IfdEntry[] | null {
  if (offset < 8 || offset + 2 > view.length) return null;
  const count = view.u16(offset);
  if (offset + 2 + count * 12 + 4 > view.length) return null;
  const entries: IfdEntry[] = [];
  for (let index = 0; index < count; index++) {
    const at = offset + 2 + index * 12;
    entries.push({
      tag: view.u16(at),
      type: view.u16(at + 2),
      count: view.u32(at + 4),
      valueOffset: at + 8,
    });
  }
  return entries;
}

const TYPE_ASCII = 2;
const TYPE_RATIONAL = 5;

function readValue(view: TiffView, tiff: Buffer, entry: IfdEntry): ExifValue | null {
  switch (entry.type) {
    case TYPE_SHORT:
      return view.u16(entry.valueOffset);
    case TYPE_LONG:
    case 13:
      return view.u32(entry.valueOffset);
    case TYPE_ASCII: {
      const start = entry.count <= 4 ? entry.valueOffset : view.u32(entry.valueOffset);
      if (start + entry.count > tiff.length) return null;
      return tiff.toString('latin1', start, start + entry.count).replace(/\0+$/, '');
    }
    case TYPE_RATIONAL: {
      const start = view.u32(entry.valueOffset);
      if (start + entry.count * 8 > tiff.length) return null;
      const values: number[] = [];
      for (let index = 0; index < entry.count; index++) {
        values.push(view.u32(start + index * 8) / view.u32(start + index * 8 + 4));
      }
      return values;
    }
    default:
      return null;
  }
}

function spliceJpeg(jpeg: Buffer, exif: Buffer | null, iptc: Buffer | null): Buffer {
  if (jpeg.length < 4 || jpeg[0] !== 0xff || jpeg[1] !== 0xd8) throw new Error('not a JPEG file');
  // Keep a leading APP0 (JFIF) first, drop any EXIF/IPTC segment the encoder wrote, then ours.
  let position = 2;
  const leading: Buffer[] = [];
  const rest: Buffer[] = [];
  while (position + 4 <= jpeg.length && jpeg[position] === 0xff) {
    const marker = jpeg[position + 1]!;
    if (marker === 0xda || marker < 0xe0 || marker > 0xef) break;
    const length = jpeg.readUInt16BE(position + 2);
    const segment = jpeg.subarray(position, position + 2 + length);
    const payload = segment.subarray(4);
    const isExif = marker === 0xe1 && payload.subarray(0, 6).equals(EXIF_HEADER);
    const isIptc =
      marker === 0xed && payload.subarray(0, PHOTOSHOP_HEADER.length).equals(PHOTOSHOP_HEADER);
    if (marker === 0xe0 && rest.length === 0) leading.push(segment);
    else if (!isExif && !isIptc) rest.push(segment);
    position += 2 + length;
  }
  const inserted: Buffer[] = [];
  if (exif) {
    const payload = Buffer.concat([EXIF_HEADER, exif]);
    if (payload.length <= MAX_JPEG_SEGMENT_PAYLOAD) inserted.push(jpegSegment(0xe1, payload));
  }
  if (iptc) {
    const payload = Buffer.concat([PHOTOSHOP_HEADER, iptc]);
    if (payload.length <= MAX_JPEG_SEGMENT_PAYLOAD) inserted.push(jpegSegment(0xed, payload));
  }
  return Buffer.concat([
    jpeg.subarray(0, 2),
    ...leading,
    ...inserted,
    ...rest,
    jpeg.subarray(position),
  ]);
}

function jpegSegment(marker: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(4);
  header[0] = 0xff;
  header[1] = marker;
  header.writeUInt16BE(payload.length + 2, 2);
  return Buffer.concat([header, payload]);
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function splicePng(png: Buffer, exif: Buffer): Buffer {
  const chunks: Buffer[] = [];
  let inserted = false;
  for (const chunk of readPngChunks(png)) {
    // eXIf must come before the image data.
    if (chunk.type === 'IDAT' && !inserted) {
      chunks.push(pngChunk('eXIf', exif));
      inserted = true;
    }
    if (chunk.type !== 'eXIf') chunks.push(chunk.raw);
  }
  return Buffer.concat([PNG_SIGNATURE, ...chunks]);
}

function pngChunk(type: string, data: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt32BE(data.length, 0);
  header.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([header.subarray(4), data])) >>> 0);
  return Buffer.concat([header, data, crc]);
}

const WEBP_FLAG_EXIF = 0x08;
const WEBP_FLAG_ALPHA = 0x10;

function spliceWebp(
  webp: Buffer,
  exif: Buffer,
  output: { width: number; height: number; hasAlpha: boolean },
): Buffer {
  if (webp.toString('latin1', 0, 4) !== 'RIFF' || webp.toString('latin1', 8, 12) !== 'WEBP') {
    throw new Error('not a WebP file');
  }
  const chunks: { type: string; data: Buffer }[] = [];
  for (let position = 12; position + 8 <= webp.length;) {
    const type = webp.toString('latin1', position, position + 4);
    const size = webp.readUInt32LE(position + 4);
    chunks.push({ type, data: webp.subarray(position + 8, position + 8 + size) });
    position += 8 + size + (size % 2);
  }
  let header = chunks.find((chunk) => chunk.type === 'VP8X');
  if (!header) {
    // A simple (VP8/VP8L) file has no place for metadata; the extended header gives it one.
    const data = Buffer.alloc(10);
    data.writeUIntLE(output.width - 1, 4, 3);
    data.writeUIntLE(output.height - 1, 7, 3);
    if (output.hasAlpha) data[0] = WEBP_FLAG_ALPHA;
    header = { type: 'VP8X', data };
    chunks.unshift(header);
  } else {
    header.data = Buffer.from(header.data);
  }
  header.data[0] = header.data[0]! | WEBP_FLAG_EXIF;
  const withoutExif = chunks.filter((chunk) => chunk.type !== 'EXIF');
  // EXIF goes after the image data and before XMP.
  const xmpIndex = withoutExif.findIndex((chunk) => chunk.type === 'XMP ');
  const exifChunk = { type: 'EXIF', data: exif };
  if (xmpIndex === -1) withoutExif.push(exifChunk);
  else withoutExif.splice(xmpIndex, 0, exifChunk);
  const body = Buffer.concat(
    withoutExif.map((chunk) => {
      const head = Buffer.alloc(8);
      head.write(chunk.type, 0, 'latin1');
      head.writeUInt32LE(chunk.data.length, 4);
      return Buffer.concat([
        head,
        chunk.data,
        chunk.data.length % 2 ? Buffer.alloc(1) : Buffer.alloc(0),
      ]);
    }),
  );
  const riff = Buffer.alloc(12);
  riff.write('RIFF', 0, 'latin1');
  riff.writeUInt32LE(body.length + 4, 4);
  riff.write('WEBP', 8, 'latin1');
  return Buffer.concat([riff, body]);
}

function stripPrefix(buffer: Buffer, prefix: Buffer): Buffer {
  return buffer.subarray(0, prefix.length).equals(prefix) ? buffer.subarray(prefix.length) : buffer;
}
