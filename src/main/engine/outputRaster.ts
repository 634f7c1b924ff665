/**
 * The output image as interleaved 8- or 16-bit samples: tiles arrive as Y, Cb, Cr (and
 * alpha) floats and are converted to RGB, clamped and rounded exactly once here.
 */
import { ycbcrToRgb } from './color.ts';
import type { TileOutput } from './tiledUpscale.ts';

export class OutputRaster {
  readonly pixels: Uint8Array | Uint16Array;
  readonly channels: 3 | 4;
  private readonly maxValue: number;

  constructor(
    readonly width: number,
    readonly height: number,
    hasAlpha: boolean,
    readonly bitDepth: 8 | 16,
  ) {
    this.channels = hasAlpha ? 4 : 3;
    const length = width * height * this.channels;
    this.pixels = bitDepth === 16 ? new Uint16Array(length) : new Uint8Array(length);
    this.maxValue = bitDepth === 16 ? 65535 : 255;
  }

  /** Writes one tile; `origin` shifts coordinates when the raster holds only a region. */
  write(tile: TileOutput, origin: { x: number; y: number } = { x: 0, y: 0 }): void {
    const { core } = tile;
    const rgb = ycbcrToRgb({ c0: tile.y, c1: tile.cb, c2: tile.cr });
    const planes = tile.alpha ? [rgb.c0, rgb.c1, rgb.c2, tile.alpha] : [rgb.c0, rgb.c1, rgb.c2];
    const { channels, maxValue, pixels } = this;
    for (let row = 0; row < core.height; row++) {
      const rowStart = ((core.y - origin.y + row) * this.width + (core.x - origin.x)) * channels;
      for (let c = 0; c < planes.length; c++) {
        const plane = planes[c]!;
        for (
          let col = 0, s = rowStart + c, p = row * core.width;
          col < core.width;
          col++, s += channels, p++
        ) {
          const value = Math.round(plane[p]! * maxValue);
          pixels[s] = value < 0 ? 0 : value > maxValue ? maxValue : value;
        }
      }
      // An RGBA raster fed from an opaque image: alpha is fully opaque.
      if (channels === 4 && planes.length === 3) {
        for (let col = 0, s = rowStart + 3; col < core.width; col++, s += channels)
          pixels[s] = maxValue;
      }
    }
  }
}
