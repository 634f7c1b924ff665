import { describe, expect, it } from 'vitest';
import {
  axisWeights,
  planResize,
  resizePlane,
  resizeRegion,
} from '../../src/main/engine/bicubic.ts';

describe('MATLAB imresize bicubic', () => {
  it('up-scales [1 2 3 4] by 2 like MATLAB (hand-checked first sample, antisymmetric ramp)', () => {
    const out = resizePlane(Float32Array.from([1, 2, 3, 4]), 4, 1, 8, 2, 2);
    expect(out[0]).toBeCloseTo(0.90625, 6);
    for (let x = 0; x < 8; x++) {
      expect(out[x]! + out[7 - x]!).toBeCloseTo(5, 5);
      expect(out[8 + x]).toBe(out[x]);
    }
  });

  it('down-scales 1:8 by 0.5 with the antialiased (stretched) kernel', () => {
    const out = resizePlane(Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]), 8, 1, 4, 1, 0.5);
    expect(out[1]).toBeCloseTo(3.48828125, 6);
  });

  it('matches training/imresize.py on 2-D examples (down 4x4 → 2x2, up 3x2 → 5x4)', () => {
    const ramp = Float32Array.from({ length: 16 }, (_, i) => i / 15);
    expect(Array.from(resizePlane(ramp, 4, 4, 2, 2, 0.5))).toEqual(
      [0.15364583, 0.2921875, 0.7078125, 0.84635417].map((v) => expect.closeTo(v, 6)),
    );
    const small = Float32Array.from([0, 1, 0, 1, 0.5, 0.25]);
    const expected = [
      [-0.185, 0.3865, 1.046875, 0.43375, -0.1090625],
      [0.1475, 0.50525, 0.8984375, 0.402875, -0.01703125],
      [0.8125, 0.74275, 0.6015625, 0.341125, 0.16703125],
      [1.145, 0.8615, 0.453125, 0.31025, 0.2590625],
    ].flat();
    expect(Array.from(resizePlane(small, 3, 2, 5, 4))).toEqual(
      expected.map((v) => expect.closeTo(v, 6)),
    );
  });

  it('keeps a constant image constant at a non-integer scale', () => {
    const out = resizePlane(new Float32Array(35).fill(0.4), 7, 5, 17, 12);
    for (const value of out) expect(value).toBeCloseTo(0.4, 6);
  });

  it('computes a region exactly as the same crop of the whole output', () => {
    const plane = Float32Array.from({ length: 9 * 7 }, (_, i) => ((i * 37) % 23) / 23);
    const plan = planResize(9, 7, 25, 19);
    const whole = resizeRegion(plane, plan, { x: 0, y: 0, width: 25, height: 19 });
    const region = { x: 6, y: 4, width: 11, height: 9 };
    const part = resizeRegion(plane, plan, region);
    for (let y = 0; y < region.height; y++) {
      for (let x = 0; x < region.width; x++) {
        expect(part[y * region.width + x]).toBe(whole[(region.y + y) * 25 + region.x + x]);
      }
    }
  });

  it('drops the taps that are zero for every sample, as MATLAB does (4 of 6 when up-scaling)', () => {
    for (const [inLength, outLength] of [
      [4, 8],
      [10, 25],
      [7, 28],
    ] as const) {
      const axis = axisWeights(inLength, outLength, outLength / inLength);
      expect(axis.taps).toBe(4);
      expect(axis.weights.every((w) => Number.isFinite(w))).toBe(true);
    }
    // Down-scaling keeps the stretched kernel's wider support.
    expect(axisWeights(8, 4, 0.5).taps).toBeGreaterThan(4);
  });
});
