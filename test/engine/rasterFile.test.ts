import path from 'node:path';
import sharp from 'sharp';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OutputRaster } from '../../src/main/engine/outputRaster.ts';
import { RasterFileWriter } from '../../src/main/engine/rasterFile.ts';
import type { TileOutput } from '../../src/main/engine/tiledUpscale.ts';
import { makeTempDir } from '../helpers/testImages.ts';

let temp: Awaited<ReturnType<typeof makeTempDir>>;
beforeEach(async () => {
  temp = await makeTempDir();
});
afterEach(async () => temp.remove());

/** A tile of varied Y, Cb, Cr (and alpha) values at `core`. */
function tile(x: number, y: number, width: number, height: number, alpha: boolean): TileOutput {
  const n = width * height;
  const at = (i: number, k: number) =>
    (((x + (i % width)) * 13 + (y + Math.floor(i / width)) * 7 + k * 29) % 97) / 100;
  return {
    core: { x, y, width, height },
    y: Float32Array.from({ length: n }, (_, i) => 0.1 + 0.8 * at(i, 0)),
    cb: Float32Array.from({ length: n }, (_, i) => 0.3 + 0.4 * at(i, 1)),
    cr: Float32Array.from({ length: n }, (_, i) => 0.3 + 0.4 * at(i, 2)),
    alpha: alpha ? Float32Array.from({ length: n }, (_, i) => at(i, 3)) : null,
  };
}

describe('RasterFileWriter', () => {
  for (const [alpha, bitDepth] of [
    [false, 8],
    [true, 8],
    [false, 16],
    [true, 16],
  ] as const) {
    it(`streams bands into a TIFF sharp reads back sample for sample (${alpha ? 'RGBA' : 'RGB'}, ${bitDepth}-bit)`, async () => {
      // 3 bands of 2 tiles; wide enough for several strips of 1 MiB at 16 bits.
      const width = 3001;
      const height = 150;
      const file = path.join(temp.dir, 'raster.tif');
      const writer = new RasterFileWriter(file, width, height, alpha, bitDepth);
      const memory = new OutputRaster(width, height, alpha, bitDepth);
      const pending: number[] = [];
      for (const [y0, rows] of [
        [0, 64],
        [64, 64],
        [128, 22],
      ] as const) {
        // Right tile first: its rows wait for the left one.
        for (const piece of [tile(1500, y0, 1501, rows, alpha), tile(0, y0, 1500, rows, alpha)]) {
          writer.write(piece);
          memory.write(piece);
          pending.push(writer.pendingRows);
        }
      }
      writer.finish();
      // Only one band is ever held: after its second tile, nothing.
      expect(pending).toEqual([64, 0, 64, 0, 22, 0]);
      expect(writer.peakPendingRows).toBe(64);
      // rgb16: sharp would otherwise convert to sRGB's 8-bit range (in 16-bit samples).
      const { data, info } = await sharp(file)
        .toColourspace(bitDepth === 16 ? 'rgb16' : 'srgb')
        .raw({ depth: bitDepth === 16 ? 'ushort' : 'uchar' })
        .toBuffer({ resolveWithObject: true });
      expect([info.width, info.height, info.channels]).toEqual([width, height, alpha ? 4 : 3]);
      const read =
        bitDepth === 16
          ? new Uint16Array(data.buffer, data.byteOffset, data.byteLength / 2)
          : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      expect(read.length).toBe(memory.pixels.length);
      expect(
        Buffer.compare(
          Buffer.from(read.buffer, read.byteOffset, read.byteLength),
          Buffer.from(memory.pixels.buffer),
        ),
      ).toBe(0);
    });
  }

  it('refuses to finish with rows missing, and a row written twice', () => {
    const writer = new RasterFileWriter(path.join(temp.dir, 'short.tif'), 10, 4, false, 8);
    writer.write(tile(0, 0, 10, 2, false));
    expect(() => writer.write(tile(0, 1, 10, 1, false))).toThrow(
      'output row 1 was already written',
    );
    expect(() => writer.finish()).toThrow('the output has 2 of its 4 rows');
    writer.close();
  });
});
