/**
 * A store-only ZIP writer that streams: each file is read once, straight into the response, and
 * its CRC-32 is computed on the way (so it follows the data in a data descriptor). Photos are
 * already compressed (JPEG, WebP, AVIF, PNG's deflate), so deflating them again would cost CPU
 * for nothing; storing keeps a job's zip as fast as a copy. No dependency, no temporary file.
 *
 * Classic ZIP only (no ZIP64): up to 65,535 entries and 4 GiB in all. `zipFits` says whether a
 * set of files fits, so a caller refuses in words before the first byte is sent.
 */
import { createReadStream } from 'node:fs';
import type { Writable } from 'node:stream';
import { crc32 } from 'node:zlib';

export interface ZipEntry {
  /** The name inside the archive, with `/` between folders. */
  name: string;
  /** The file on disk. */
  path: string;
  size: number;
  modified: Date;
}

const MAX_ENTRIES = 0xffff;
const MAX_OFFSET = 0xffffffff;
const LOCAL_HEADER = 30;
const DATA_DESCRIPTOR = 16;
const CENTRAL_HEADER = 46;
const END_RECORD = 22;
/** Bit 3: sizes and CRC follow the data; bit 11: names are UTF-8. */
const FLAGS = 0x0008 | 0x0800;
const VERSION = 20;
/**
 * "Made by" Unix: unzip then takes names as they are (with MS-DOS it converts them from the
 * DOS code page, bit 11 or not) and gives the files the mode in the external attributes.
 */
const MADE_BY_UNIX = (3 << 8) | VERSION;
const UNIX_FILE_MODE = 0o100644;

/** The archive's exact size, or null when it needs ZIP64 (too many entries or bytes). */
export function zipSize(entries: readonly ZipEntry[]): number | null {
  if (entries.length > MAX_ENTRIES) return null;
  let size = END_RECORD;
  for (const entry of entries) {
    const nameBytes = Buffer.byteLength(entry.name);
    size += LOCAL_HEADER + nameBytes + entry.size + DATA_DESCRIPTOR + CENTRAL_HEADER + nameBytes;
  }
  return size > MAX_OFFSET ? null : size;
}

/** MS-DOS date and time (local time, 2-second steps), as ZIP stores them. */
function dosDateTime(date: Date): { time: number; date: number } {
  const year = Math.min(Math.max(date.getFullYear(), 1980), 2107);
  return {
    time: (date.getHours() << 11) | (date.getMinutes() << 5) | Math.floor(date.getSeconds() / 2),
    date: ((year - 1980) << 9) | ((date.getMonth() + 1) << 5) | date.getDate(),
  };
}

function write(target: Writable, chunk: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    if (target.destroyed) {
      reject(new Error('the download was closed'));
      return;
    }
    if (target.write(chunk)) resolve();
    else {
      const onDrain = (): void => {
        target.off('close', onClose);
        resolve();
      };
      const onClose = (): void => {
        target.off('drain', onDrain);
        reject(new Error('the download was closed'));
      };
      target.once('drain', onDrain);
      target.once('close', onClose);
    }
  });
}

/**
 * Writes the archive to `target` (not ended: the caller ends it). A file whose size changed since
 * `entries` was made is refused, since the sizes were promised up front (Content-Length).
 */
export async function writeZip(entries: readonly ZipEntry[], target: Writable): Promise<void> {
  if (zipSize(entries) === null) throw new Error('too many files or bytes for one zip');
  const central: Buffer[] = [];
  let offset = 0;
  for (const entry of entries) {
    const name = Buffer.from(entry.name);
    const stamp = dosDateTime(entry.modified);
    const local = Buffer.alloc(LOCAL_HEADER);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(VERSION, 4);
    local.writeUInt16LE(FLAGS, 6);
    local.writeUInt16LE(0, 8); // stored
    local.writeUInt16LE(stamp.time, 10);
    local.writeUInt16LE(stamp.date, 12);
    // CRC and sizes are zero here: they come in the data descriptor after the data.
    local.writeUInt16LE(name.length, 26);
    await write(target, Buffer.concat([local, name]));

    let crc = 0;
    let size = 0;
    for await (const chunk of createReadStream(entry.path) as AsyncIterable<Buffer>) {
      crc = crc32(chunk, crc);
      size += chunk.length;
      await write(target, chunk);
    }
    if (size !== entry.size)
      throw new Error(`${entry.name} changed while it was zipped (${entry.size} → ${size} bytes)`);

    const descriptor = Buffer.alloc(DATA_DESCRIPTOR);
    descriptor.writeUInt32LE(0x08074b50, 0);
    descriptor.writeUInt32LE(crc >>> 0, 4);
    descriptor.writeUInt32LE(size, 8);
    descriptor.writeUInt32LE(size, 12);
    await write(target, descriptor);

    const header = Buffer.alloc(CENTRAL_HEADER);
    header.writeUInt32LE(0x02014b50, 0);
    header.writeUInt16LE(MADE_BY_UNIX, 4);
    header.writeUInt16LE(VERSION, 6);
    header.writeUInt16LE(FLAGS, 8);
    header.writeUInt16LE(0, 10);
    header.writeUInt16LE(stamp.time, 12);
    header.writeUInt16LE(stamp.date, 14);
    header.writeUInt32LE(crc >>> 0, 16);
    header.writeUInt32LE(size, 20);
    header.writeUInt32LE(size, 24);
    header.writeUInt16LE(name.length, 28);
    header.writeUInt32LE(UNIX_FILE_MODE * 0x10000, 38);
    header.writeUInt32LE(offset, 42);
    central.push(header, name);
    offset += LOCAL_HEADER + name.length + size + DATA_DESCRIPTOR;
  }
  const directory = Buffer.concat(central);
  const end = Buffer.alloc(END_RECORD);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  await write(target, Buffer.concat([directory, end]));
}
