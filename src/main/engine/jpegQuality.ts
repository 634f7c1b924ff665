/**
 * How hard a JPEG was compressed, read from its quantisation tables (DQT segments) in the
 * file header, without decoding any pixel.
 *
 * libjpeg (IJG) and most software scale two standard tables (Annex K of the JPEG standard)
 * by a factor that follows from the "quality" setting; cameras use their own tables, which
 * still fall between two IJG qualities. The estimate is the IJG quality whose tables are
 * closest to the file's (sum of absolute differences), so a libjpeg file gives back exactly
 * the quality it was saved with, and any other file the IJG quality it compresses like.
 */
import { open } from 'node:fs/promises';

/** Natural (row-major) index of each zig-zag position. */
const ZIG_ZAG = [
  0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20,
  13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52,
  45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
];

function zigZag(natural: readonly number[]): number[] {
  return ZIG_ZAG.map((index) => natural[index]!);
}

/** Annex K luminance table, in zig-zag order (the order DQT stores). */
const STANDARD_LUMINANCE = zigZag([
  16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
  14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113,
  92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
]);

/** Annex K chrominance table, in zig-zag order. */
const STANDARD_CHROMINANCE = zigZag([
  17,
  18,
  24,
  47,
  99,
  99,
  99,
  99,
  18,
  21,
  26,
  66,
  99,
  99,
  99,
  99,
  24,
  26,
  56,
  99,
  99,
  99,
  99,
  99,
  47,
  66,
  99,
  99,
  99,
  99,
  99,
  99,
  ...Array<number>(32).fill(99),
]);

export interface JpegQuality {
  /** The IJG quality 1..100 whose tables are closest to the file's. */
  quality: number;
  /** True when the file's tables are exactly IJG's at that quality (software encoders). */
  exact: boolean;
}

/** The tables libjpeg writes for `quality` (1..100), baseline (values capped at 255). */
export function ijgTables(quality: number): { luminance: number[]; chrominance: number[] } {
  const q = Math.min(100, Math.max(1, Math.round(quality)));
  const scale = q < 50 ? Math.floor(5000 / q) : 200 - 2 * q;
  const scaled = (table: readonly number[]) =>
    table.map((v) => Math.min(255, Math.max(1, Math.floor((v * scale + 50) / 100))));
  return { luminance: scaled(STANDARD_LUMINANCE), chrominance: scaled(STANDARD_CHROMINANCE) };
}

/** The IJG quality closest to the given tables (id 0: luminance, id 1: chrominance if present). */
export function estimateQuality(
  tables: ReadonlyMap<number, readonly number[]>,
): JpegQuality | null {
  const luminance = tables.get(0);
  if (!luminance) return null;
  const chrominance = tables.get(1);
  let best = { quality: 0, error: Infinity };
  for (let q = 1; q <= 100; q++) {
    const ijg = ijgTables(q);
    let error = 0;
    for (let i = 0; i < 64; i++) error += Math.abs(ijg.luminance[i]! - luminance[i]!);
    if (chrominance) {
      for (let i = 0; i < 64; i++) error += Math.abs(ijg.chrominance[i]! - chrominance[i]!);
    }
    // Ties go to the higher quality: at the top end several qualities give all-ones tables.
    if (error <= best.error) best = { quality: q, error };
  }
  return { quality: best.quality, exact: best.error === 0 };
}

/** Segments read before giving up on finding the tables (APPn blocks come first). */
const MAX_SEGMENTS = 64;

/**
 * The quantisation tables of a JPEG file by table id, in zig-zag order, read from the
 * segments before the first scan. Null when the file is not a JPEG or has no DQT.
 */
export async function readQuantisationTables(
  filePath: string,
): Promise<Map<number, number[]> | null> {
  const file = await open(filePath, 'r');
  try {
    const read = async (position: number, length: number): Promise<Buffer> => {
      const buffer = Buffer.alloc(length);
      const { bytesRead } = await file.read(buffer, 0, length, position);
      return buffer.subarray(0, bytesRead);
    };
    const soi = await read(0, 2);
    if (soi.length < 2 || soi[0] !== 0xff || soi[1] !== 0xd8) return null;
    const tables = new Map<number, number[]>();
    let position = 2;
    for (let segment = 0; segment < MAX_SEGMENTS; segment++) {
      const header = await read(position, 4);
      if (header.length < 4 || header[0] !== 0xff) break;
      const marker = header[1]!;
      if (marker === 0xff) {
        position += 1; // fill byte
        continue;
      }
      if (marker === 0xda || marker === 0xd9) break; // start of scan / end of image
      if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
        position += 2; // markers without a length
        continue;
      }
      const length = header.readUInt16BE(2);
      if (length < 2) break;
      if (marker === 0xdb) parseDqt(await read(position + 4, length - 2), tables);
      position += 2 + length;
    }
    return tables.size > 0 ? tables : null;
  } finally {
    await file.close();
  }
}

function parseDqt(data: Buffer, tables: Map<number, number[]>): void {
  let offset = 0;
  while (offset < data.length) {
    const precision = data[offset]! >> 4; // 0: 8-bit values, 1: 16-bit values
    const id = data[offset]! & 0x0f;
    offset += 1;
    const size = precision === 0 ? 1 : 2;
    if (offset + 64 * size > data.length) return;
    const table: number[] = [];
    for (let i = 0; i < 64; i++) {
      table.push(precision === 0 ? data[offset + i]! : data.readUInt16BE(offset + 2 * i));
    }
    tables.set(id, table);
    offset += 64 * size;
  }
}

/** The estimated IJG quality of a JPEG file, or null when it is not a JPEG with tables. */
export async function readJpegQuality(filePath: string): Promise<JpegQuality | null> {
  const tables = await readQuantisationTables(filePath);
  return tables ? estimateQuality(tables) : null;
}
