import { describe, expect, it } from 'vitest';
import { type ChromaModel, restoreChroma } from '../../src/main/engine/chromaRestoration.ts';
import { type LowResImage, planeSource } from '../../src/main/engine/tiledUpscale.ts';

function randomImage(width: number, height: number, seed: number): LowResImage {
  let state = seed;
  const next = () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
  const plane = () => Float32Array.from({ length: width * height }, next);
  return { width, height, y: plane(), cb: plane(), cr: plane(), alpha: null };
}

/**
 * A stand-in restorer with a receptive radius of 1: Cb becomes the 3x3 mean of Cb plus a
 * little Y, Cr is darkened by half of Y's right neighbour. Records the sides it was given.
 */
function fakeRestorer(sides: Array<[number, number]>): ChromaModel {
  return async (input, height, width) => {
    sides.push([height, width]);
    const n = height * width;
    const at = (c: number, r: number, col: number) =>
      input[
        c * n + Math.min(height - 1, Math.max(0, r)) * width + Math.min(width - 1, Math.max(0, col))
      ]!;
    const out = new Float32Array(2 * n);
    for (let r = 0; r < height; r++) {
      for (let col = 0; col < width; col++) {
        let sum = 0;
        for (let dr = -1; dr <= 1; dr++)
          for (let dc = -1; dc <= 1; dc++) sum += at(1, r + dr, col + dc);
        out[r * width + col] = sum / 9 + 0.1 * at(0, r, col);
        out[n + r * width + col] = at(2, r, col) - 0.5 * at(0, r, col + 1);
      }
    }
    return out;
  };
}

function readAll(source: ReturnType<typeof planeSource>, plane: 'cb' | 'cr') {
  return source.read(plane, { x: 0, y: 0, width: source.width, height: source.height }).data;
}

describe('chroma restoration', () => {
  it('gives the same planes tile by tile as in one piece, and feeds the model even sides only', async () => {
    const image = planeSource(randomImage(37, 29, 7));
    const sides: Array<[number, number]> = [];
    const whole = await restoreChroma(image, fakeRestorer([]), { overlap: 1, tileSize: 4096 });
    const tiled = await restoreChroma(image, fakeRestorer(sides), { overlap: 1, tileSize: 8 });
    expect(sides.length).toBe(Math.ceil(37 / 8) * Math.ceil(29 / 8));
    for (const [h, w] of sides) expect([h % 2, w % 2]).toEqual([0, 0]);
    for (const plane of ['cb', 'cr'] as const) {
      expect(Array.from(readAll(tiled, plane))).toEqual(Array.from(readAll(whole, plane)));
      // The restorer changed them: the planes are not the file's.
      expect(Array.from(readAll(tiled, plane))).not.toEqual(Array.from(readAll(image, plane)));
    }
    // Y and the 16-bit planes' precision: Y passes through; chroma within half a 16-bit level.
    expect(tiled.read('y', { x: 0, y: 0, width: 37, height: 29 }).data).toBe(
      image.read('y', { x: 0, y: 0, width: 37, height: 29 }).data,
    );
  });

  it('restores only the asked area (Compare), the same values there, the file chroma elsewhere', async () => {
    const image = planeSource(randomImage(40, 30, 3));
    const whole = await restoreChroma(image, fakeRestorer([]), { overlap: 1 });
    const region = { x: 9, y: 7, width: 12, height: 10 };
    const part = await restoreChroma(image, fakeRestorer([]), { overlap: 1, area: region });
    const inside = part.read('cb', region);
    expect(inside.covers).toEqual(region);
    expect(Array.from(inside.data)).toEqual(Array.from(whole.read('cb', region).data));
    const outside = { x: 30, y: 20, width: 5, height: 5 };
    const fromFile = image.read('cb', outside);
    const read = part.read('cb', outside);
    expect(read.covers).toEqual(fromFile.covers);
    expect(read.data).toBe(fromFile.data);
  });

  it('stops between tiles when the job is cancelled', async () => {
    const image = planeSource(randomImage(64, 64, 5));
    const controller = new AbortController();
    let calls = 0;
    const model: ChromaModel = async (input, height, width) => {
      calls++;
      if (calls === 2) controller.abort();
      return fakeRestorer([])(input, height, width);
    };
    await expect(
      restoreChroma(image, model, { overlap: 2, tileSize: 16, signal: controller.signal }),
    ).rejects.toThrow();
    expect(calls).toBe(2);
  });
});
