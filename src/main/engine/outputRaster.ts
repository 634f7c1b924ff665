/**
 * The output image as interleaved 8- or 16-bit samples: tiles arrive as Y, Cb, Cr (and
 * alpha) floats and are converted to RGB, clamped and rounded exactly once here.
 * `OutputRaster` holds a whole (small) image in memory, for Compare crops; a photo's output
 * streams through `RasterFileWriter` (rasterFile.ts), which uses the same row conversion.
 */
import { type ColorPlanes, ycbcrToRgb } from './color.ts';
import type { TileOutput } from './tiledUpscale.ts';

export type RasterSamples = Uint8Array | Uint16Array;

/** Converts tile rows to interleaved samples, with one reusable row of R, G, B floats. */
export class TileRowConverter {
  readonly maxValue: number;
  private readonly rowRgb: ColorPlanes;

  constructor(
    width: number,
    readonly channels: 3 | 4,
    bitDepth: 8 | 16,
  ) {
    this.maxValue = bitDepth === 16 ? 65535 : 255;
    this.rowRgb = {
      c0: new Float32Array(width),
      c1: new Float32Array(width),
      c2: new Float32Array(width),
    };
  }

  /** Converts row `row` of `tile`'s core into `pixels` from sample index `start` on. */
  convertRow(tile: TileOutput, row: number, pixels: RasterSamples, start: number): void {
    const { channels, maxValue, rowRgb } = this;
    const span = tile.core.width;
    const from = row * span;
    const rgb = {
      c0: rowRgb.c0.subarray(0, span),
      c1: rowRgb.c1.subarray(0, span),
      c2: rowRgb.c2.subarray(0, span),
    };
    ycbcrToRgb(
      {
        c0: tile.y.subarray(from, from + span),
        c1: tile.cb.subarray(from, from + span),
        c2: tile.cr.subarray(from, from + span),
      },
      rgb,
    );
    const planes = [rgb.c0, rgb.c1, rgb.c2];
    if (tile.alpha) planes.push(tile.alpha.subarray(from, from + span));
    for (let c = 0; c < planes.length; c++) {
      const plane = planes[c]!;
      for (let col = 0, s = start + c; col < span; col++, s += channels) {
        // Math.round, clamped: the store truncates a positive double. Exact, because a
        // float32 times 255 or 65535 plus 0.5 needs at most 41 of a double's 53 bits.
        const rounded = plane[col]! * maxValue + 0.5;
        pixels[s] = rounded >= maxValue ? maxValue : rounded > 0 ? rounded : 0;
      }
    }
    // An RGBA raster fed from an opaque image: alpha is fully opaque.
    if (channels === 4 && planes.length === 3) {
      for (let col = 0, s = start + 3; col < span; col++, s += channels) pixels[s] = maxValue;
    }
  }
}

export class OutputRaster {
  readonly pixels: RasterSamples;
  readonly channels: 3 | 4;
  private readonly converter: TileRowConverter;

  constructor(
    readonly width: number,
    readonly height: number,
    hasAlpha: boolean,
    readonly bitDepth: 8 | 16,
  ) {
    this.channels = hasAlpha ? 4 : 3;
    const length = width * height * this.channels;
    this.pixels = bitDepth === 16 ? new Uint16Array(length) : new Uint8Array(length);
    this.converter = new TileRowConverter(width, this.channels, bitDepth);
  }

  /** Writes one tile; `origin` shifts coordinates when the raster holds only a region. */
  write(tile: TileOutput, origin: { x: number; y: number } = { x: 0, y: 0 }): void {
    const { core } = tile;
    for (let row = 0; row < core.height; row++) {
      const start = ((core.y - origin.y + row) * this.width + (core.x - origin.x)) * this.channels;
      this.converter.convertRow(tile, row, this.pixels, start);
    }
  }
}
