import { describe, expect, it } from 'vitest';
import { rgbToYcbcr, ycbcrToRgb } from '../../src/main/engine/color.ts';
import { OutputRaster } from '../../src/main/engine/outputRaster.ts';

/** A 1-row tile whose RGB is `rgb` (through YCbCr, as the engine produces it) and alpha `alpha`. */
function tileOf(rgb: number[][], alpha: number[] | null, at = { x: 0, y: 0 }) {
  const ycbcr = rgbToYcbcr({
    c0: Float32Array.from(rgb.map((p) => p[0]!)),
    c1: Float32Array.from(rgb.map((p) => p[1]!)),
    c2: Float32Array.from(rgb.map((p) => p[2]!)),
  });
  return {
    core: { ...at, width: rgb.length, height: 1 },
    y: ycbcr.c0,
    cb: ycbcr.c1,
    cr: ycbcr.c2,
    alpha: alpha ? Float32Array.from(alpha) : null,
  };
}

describe('OutputRaster', () => {
  it('rounds half up and clamps, in 8 and 16 bits (alpha passes straight through)', () => {
    // Alpha is written as given, so it shows the quantisation exactly: 0.5 * 255 = 127.5 → 128.
    const alpha = [-0.25, 0, 0.25, 0.5, 1, 1.5, Number.NaN];
    const rgb = alpha.map(() => [0.5, 0.5, 0.5]);
    const eight = new OutputRaster(7, 1, true, 8);
    eight.write(tileOf(rgb, alpha));
    expect(Array.from({ length: 7 }, (_, i) => eight.pixels[i * 4 + 3])).toEqual([
      0, 0, 64, 128, 255, 255, 0,
    ]);
    const sixteen = new OutputRaster(7, 1, true, 16);
    sixteen.write(tileOf(rgb, alpha));
    expect(Array.from({ length: 7 }, (_, i) => sixteen.pixels[i * 4 + 3])).toEqual([
      0, 0, 16384, 32768, 65535, 65535, 0,
    ]);
  });

  it('writes RGB exactly as Math.round of the converted floats, clamped, at the tile position', () => {
    const rgb = [
      [0, 0, 0],
      [1, 1, 1],
      [0.2, 0.4, 0.6],
      [1.2, -0.1, 0.5],
    ];
    const tile = tileOf(rgb, null, { x: 1, y: 1 });
    const raster = new OutputRaster(6, 3, false, 8);
    raster.write(tile);
    const floats = ycbcrToRgb({ c0: tile.y, c1: tile.cb, c2: tile.cr });
    const clamp = (v: number) => Math.min(255, Math.max(0, Math.round(v * 255)));
    const expected = new Uint8Array(6 * 3 * 3);
    rgb.forEach((_, i) => {
      const s = ((1 * 6 + 1 + i) * 3) as number;
      expected[s] = clamp(floats.c0[i]!);
      expected[s + 1] = clamp(floats.c1[i]!);
      expected[s + 2] = clamp(floats.c2[i]!);
    });
    expect(Array.from(raster.pixels)).toEqual(Array.from(expected));
    expect(Array.from(raster.pixels.subarray(6 * 3 + 3, 6 * 3 + 9))).toEqual([
      0, 0, 0, 255, 255, 255,
    ]);
  });

  it('shifts by the origin of a region raster and makes an opaque image opaque in RGBA', () => {
    const raster = new OutputRaster(2, 1, true, 8);
    raster.write(tileOf([[1, 1, 1]], null, { x: 11, y: 5 }), { x: 10, y: 5 });
    expect(Array.from(raster.pixels)).toEqual([0, 0, 0, 0, 255, 255, 255, 255]);
  });
});
