/**
 * The output image as interleaved 8- or 16-bit samples: tiles arrive as Y, Cb, Cr (and
 * alpha) floats and are converted to RGB, clamped and rounded exactly once here.
 */
import { type ColorPlanes, ycbcrToRgb } from './color.ts';
import type { TileOutput } from './tiledUpscale.ts';

export class OutputRaster {
  readonly pixels: Uint8Array | Uint16Array;
  readonly channels: 3 | 4;
  private readonly maxValue: number;
  /** One row of R, G, B floats, reused by every row of every tile (no allocation per tile). */
  private readonly rowRgb: ColorPlanes;

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
    this.rowRgb = {
      c0: new Float32Array(width),
      c1: new Float32Array(width),
      c2: new Float32Array(width),
    };
  }

  /** Writes one tile; `origin` shifts coordinates when the raster holds only a region. */
  write(tile: TileOutput, origin: { x: number; y: number } = { x: 0, y: 0 }): void {
    const { core } = tile;
    const { channels, maxValue, pixels, rowRgb } = this;
    const span = core.width;
    const rgb = {
      c0: rowRgb.c0.subarray(0, span),
      c1: rowRgb.c1.subarray(0, span),
      c2: rowRgb.c2.subarray(0, span),
    };
    for (let row = 0; row < core.height; row++) {
      const rowStart = ((core.y - origin.y + row) * this.width + (core.x - origin.x)) * channels;
      const from = row * span;
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
        for (let col = 0, s = rowStart + c; col < span; col++, s += channels) {
          // Math.round, clamped: the store truncates a positive double. Exact, because a
          // float32 times 255 or 65535 plus 0.5 needs at most 41 of a double's 53 bits.
          const rounded = plane[col]! * maxValue + 0.5;
          pixels[s] = rounded >= maxValue ? maxValue : rounded > 0 ? rounded : 0;
        }
      }
      // An RGBA raster fed from an opaque image: alpha is fully opaque.
      if (channels === 4 && planes.length === 3) {
        for (let col = 0, s = rowStart + 3; col < span; col++, s += channels) pixels[s] = maxValue;
      }
    }
  }
}
