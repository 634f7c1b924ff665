/**
 * A photo's output streamed to disk while it is made: finished rows are written in order into
 * an uncompressed BigTIFF, and the rows still waiting for tiles (one band of tiles) are all
 * that is held in memory. sharp then encodes from that file in one pipeline.
 *
 * Why a TIFF rather than libvips' own `.v` format: libvips memory-maps a `.v` file whole, and
 * every page the encoder touches counts in the process's resident memory (encoding a 1.7 GB
 * `.v` to JPEG peaked at 1.69 GiB RSS, nearly all of it file pages), while libtiff reads strip
 * by strip with read() (the same pixels as a TIFF: 141 MiB peak). BigTIFF because a gigapixel
 * RGB raster passes TIFF's 4 GiB offsets at 16 bits or with alpha.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { type RasterSamples, TileRowConverter } from './outputRaster.ts';
import type { TileOutput } from './tiledUpscale.ts';

/** Bytes per TIFF strip (what libtiff reads at a time). */
const STRIP_BYTES = 1 << 20;
/** Row buffers kept for reuse after their rows are written. */
const SPARE_ROWS = 64;

export class RasterFileWriter {
  readonly channels: 3 | 4;
  private fd: number | null;
  /** First row not yet in the file. */
  private nextRow = 0;
  /** Rows kept from an earlier run ("Pause now") that the file held when it was reopened. */
  private readonly keptRows: number;
  private readonly pending = new Map<number, { samples: RasterSamples; filled: number }>();
  private readonly spare: RasterSamples[] = [];
  private readonly converter: TileRowConverter;
  private readonly rowLength: number;
  /** Most rows held in memory at once (the band), for the memory check. */
  peakPendingRows = 0;

  constructor(
    readonly filePath: string,
    readonly width: number,
    readonly height: number,
    hasAlpha: boolean,
    readonly bitDepth: 8 | 16,
    /**
     * Rows the file already holds after its header (a raster kept by "Pause now" and checked
     * by keptRaster.ts): it is appended to, and tiles' rows above this are dropped.
     */
    resumeAtRow = 0,
  ) {
    this.channels = hasAlpha ? 4 : 3;
    this.rowLength = width * this.channels;
    this.converter = new TileRowConverter(width, this.channels, bitDepth);
    this.keptRows = resumeAtRow;
    this.nextRow = resumeAtRow;
    this.fd = openSync(filePath, resumeAtRow > 0 ? 'a' : 'w');
    try {
      if (resumeAtRow === 0)
        writeFully(this.fd, tiffHeader(width, height, this.channels, bitDepth));
    } catch (error) {
      this.close();
      throw error;
    }
  }

  /** Rows of the output held in memory now, waiting for the rest of their tiles. */
  get pendingRows(): number {
    return this.pending.size;
  }

  /** Rows in the file, in order from the top. */
  get rowsWritten(): number {
    return this.nextRow;
  }

  write(tile: TileOutput): void {
    const { core } = tile;
    for (let row = 0; row < core.height; row++) {
      const y = core.y + row;
      // Kept from the earlier run: a band that also feeds later rows ran again.
      if (y < this.keptRows) continue;
      if (y < this.nextRow) throw new RangeError(`output row ${y} was already written`);
      let entry = this.pending.get(y);
      if (!entry) {
        entry = { samples: this.rowBuffer(), filled: 0 };
        this.pending.set(y, entry);
      }
      this.converter.convertRow(tile, row, entry.samples, core.x * this.channels);
      entry.filled += core.width;
    }
    if (this.pending.size > this.peakPendingRows) this.peakPendingRows = this.pending.size;
    this.flush();
  }

  /** Checks that every row arrived and closes the file. */
  finish(): void {
    this.flush();
    if (this.nextRow !== this.height) {
      throw new Error(`the output has ${this.nextRow} of its ${this.height} rows`);
    }
    this.close();
  }

  close(): void {
    if (this.fd === null) return;
    closeSync(this.fd);
    this.fd = null;
    this.pending.clear();
    this.spare.length = 0;
  }

  private flush(): void {
    for (;;) {
      const entry = this.pending.get(this.nextRow);
      if (!entry || entry.filled < this.width) return;
      if (this.fd === null) throw new Error('the output raster file is closed');
      const { samples } = entry;
      writeFully(this.fd, new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength));
      this.pending.delete(this.nextRow);
      this.nextRow++;
      if (this.spare.length < SPARE_ROWS) this.spare.push(samples);
    }
  }

  private rowBuffer(): RasterSamples {
    const reused = this.spare.pop();
    if (reused) return reused;
    return this.bitDepth === 16 ? new Uint16Array(this.rowLength) : new Uint8Array(this.rowLength);
  }
}

/** Bytes of the raster file for an output (header aside): what the temporary file needs. */
export function rasterFileBytes(
  width: number,
  height: number,
  channels: 3 | 4,
  bitDepth: 8 | 16,
): number {
  return width * height * channels * (bitDepth / 8);
}

function writeFully(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.byteLength) done += writeSync(fd, bytes, done, bytes.byteLength - done);
}

// TIFF field types
const SHORT = 3;
const LONG = 4;
const LONG8 = 16;

/**
 * A little-endian BigTIFF header and its one IFD for an uncompressed, chunky RGB(A) image
 * whose pixels follow the header contiguously, row after row (so every strip offset is known
 * before the first pixel is written).
 */
export function tiffHeader(
  width: number,
  height: number,
  channels: 3 | 4,
  bitDepth: 8 | 16,
): Uint8Array {
  const rowBytes = width * channels * (bitDepth / 8);
  const rowsPerStrip = Math.max(1, Math.min(height, Math.floor(STRIP_BYTES / rowBytes)));
  const strips = Math.ceil(height / rowsPerStrip);
  const entries: [tag: number, type: number, values: number[]][] = [
    [256, LONG, [width]],
    [257, LONG, [height]],
    [258, SHORT, Array<number>(channels).fill(bitDepth)],
    [259, SHORT, [1]], // no compression
    [262, SHORT, [2]], // RGB
    [273, LONG8, []], // strip offsets, filled in below
    [277, SHORT, [channels]],
    [278, LONG, [rowsPerStrip]],
    [279, LONG8, []], // strip byte counts
    [284, SHORT, [1]], // chunky
    ...(channels === 4 ? [[338, SHORT, [2]] as [number, number, number[]]] : []), // unassociated alpha
    [339, SHORT, Array<number>(channels).fill(1)], // unsigned integers
  ];
  const ifdOffset = 16;
  const ifdBytes = 8 + entries.length * 20 + 8;
  const arraysAt = ifdOffset + ifdBytes;
  const outOfLine = strips > 1 ? strips * 8 : 0;
  const dataAt = arraysAt + 2 * outOfLine;
  const offsets = Array.from({ length: strips }, (_, i) => dataAt + i * rowsPerStrip * rowBytes);
  const counts = Array.from(
    { length: strips },
    (_, i) => Math.min(rowsPerStrip, height - i * rowsPerStrip) * rowBytes,
  );
  entries[5]![2] = offsets;
  entries[8]![2] = counts;

  const header = Buffer.alloc(dataAt);
  header.write('II', 0, 'latin1');
  header.writeUInt16LE(43, 2); // BigTIFF
  header.writeUInt16LE(8, 4); // offset size
  header.writeUInt16LE(0, 6);
  header.writeBigUInt64LE(BigInt(ifdOffset), 8);
  header.writeBigUInt64LE(BigInt(entries.length), ifdOffset);
  let arrays = arraysAt;
  entries.forEach(([tag, type, values], i) => {
    const at = ifdOffset + 8 + i * 20;
    header.writeUInt16LE(tag, at);
    header.writeUInt16LE(type, at + 2);
    header.writeBigUInt64LE(BigInt(values.length), at + 4);
    const size = type === SHORT ? 2 : type === LONG ? 4 : 8;
    let valueAt = at + 12;
    if (values.length * size > 8) {
      header.writeBigUInt64LE(BigInt(arrays), valueAt);
      valueAt = arrays;
      arrays += values.length * size;
    }
    for (const value of values) {
      if (size === 2) header.writeUInt16LE(value, valueAt);
      else if (size === 4) header.writeUInt32LE(value, valueAt);
      else header.writeBigUInt64LE(BigInt(value), valueAt);
      valueAt += size;
    }
  });
  // The next-IFD offset after the entries stays 0: one image.
  return header;
}
