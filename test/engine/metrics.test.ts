import { describe, expect, it } from 'vitest';
import { psnrRgb, psnrY, ssimY } from '../../src/main/engine/metrics.ts';

const plane = (width: number, height: number, level: (x: number, y: number) => number) => ({
  width,
  height,
  data: Float64Array.from(
    { length: width * height },
    (_, i) => level(i % width, Math.floor(i / width)) / 255,
  ),
});

describe('PSNR and SSIM on 8-bit Y with a border removed', () => {
  it('PSNR of a uniform 2-level error is 10·log10(255²/4)', () => {
    const a = plane(20, 20, (x, y) => 100 + ((x + y) % 3));
    const b = plane(20, 20, (x, y) => 102 + ((x + y) % 3));
    expect(psnrY(a, b, 2)).toBeCloseTo(10 * Math.log10((255 * 255) / 4), 10);
  });

  it('RGB PSNR is one mean squared error over the three channels', () => {
    const same = plane(20, 20, (x) => 80 + (x % 5));
    const off = plane(20, 20, (x) => 84 + (x % 5));
    const rgb = (r: typeof same, g: typeof same, b: typeof same) => ({
      width: 20,
      height: 20,
      planes: [r.data, g.data, b.data] as const,
    });
    // Errors of 4 levels in one channel of three: MSE 16/3.
    expect(psnrRgb(rgb(same, same, same), rgb(same, off, same), 2)).toBeCloseTo(
      10 * Math.log10((255 * 255) / (16 / 3)),
      10,
    );
    expect(psnrRgb(rgb(same, off, same), rgb(same, off, same), 2)).toBe(Infinity);
  });

  it('ignores differences inside the border and quantises before comparing', () => {
    const a = plane(20, 20, () => 50);
    const b = plane(20, 20, (x, y) => (x < 3 || y < 3 ? 200 : 50.3));
    expect(psnrY(a, b, 3)).toBe(Infinity);
  });

  it('SSIM is 1 for identical images and matches training/metrics.py on a different one', () => {
    const a = plane(32, 32, (x, y) => (x * 7 + y * 3) % 256);
    expect(ssimY(a, a, 4)).toBeCloseTo(1, 12);
    const b = plane(32, 32, (x, y) => ((x * 7 + y * 3) % 256) * 0.5 + 60.3);
    // Values printed by training.metrics.ssim / psnr on the same arrays (no exact .5 levels:
    // numpy rounds halves to even, MATLAB and this code away from zero).
    expect(ssimY(a, b, 4)).toBeCloseTo(0.8444689067330767, 10);
    expect(psnrY(a, b, 4)).toBeCloseTo(18.282156440510523, 10);
  });
});
