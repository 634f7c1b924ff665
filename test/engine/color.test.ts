import { describe, expect, it } from 'vitest';
import { rgbToYcbcr, ycbcrToRgb } from '../../src/main/engine/color.ts';

const planes = (values: number[][]) => ({
  c0: Float32Array.from(values.map((v) => v[0]!)),
  c1: Float32Array.from(values.map((v) => v[1]!)),
  c2: Float32Array.from(values.map((v) => v[2]!)),
});

describe('BT.601 as MATLAB rgb2ycbcr', () => {
  it('maps black, white, red and a mid colour to the MATLAB values', () => {
    const ycbcr = rgbToYcbcr(
      planes([
        [0, 0, 0],
        [1, 1, 1],
        [1, 0, 0],
        [0.2, 0.4, 0.6],
      ]),
    );
    // Expected values from training/color.py (float64), to float32 precision.
    const expected = [
      [16 / 255, 128 / 255, 128 / 255],
      [235 / 255, 128 / 255, 128 / 255],
      [0.31953333, 0.35373725, 0.94117647],
      [0.37449804, 0.61944863, 0.39983216],
    ];
    expected.forEach(([y, cb, cr], i) => {
      expect(ycbcr.c0[i]).toBeCloseTo(y!, 6);
      expect(ycbcr.c1[i]).toBeCloseTo(cb!, 6);
      expect(ycbcr.c2[i]).toBeCloseTo(cr!, 6);
    });
  });

  it('round-trips RGB through YCbCr', () => {
    const rgb = planes([
      [0.1, 0.9, 0.5],
      [1, 0, 0.25],
      [0, 0, 0],
    ]);
    const back = ycbcrToRgb(rgbToYcbcr(rgb));
    for (const key of ['c0', 'c1', 'c2'] as const) {
      rgb[key].forEach((value, i) => expect(back[key][i]).toBeCloseTo(value, 6));
    }
  });

  it('converts YCbCr back into given planes without allocating', () => {
    const into = planes([
      [9, 9, 9],
      [9, 9, 9],
      [9, 9, 9],
    ]);
    const ycbcr = rgbToYcbcr(planes([[0.1, 0.9, 0.5]]));
    const result = ycbcrToRgb(ycbcr, into);
    expect(result.c0).toBe(into.c0);
    expect(result.c1).toBe(into.c1);
    expect(result.c2).toBe(into.c2);
    expect(Array.from(into.c0)).toEqual([expect.closeTo(0.1, 6), 9, 9]);
    expect(Array.from(into.c1)).toEqual([expect.closeTo(0.9, 6), 9, 9]);
    expect(Array.from(into.c2)).toEqual([expect.closeTo(0.5, 6), 9, 9]);
  });
});
