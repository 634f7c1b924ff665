import { describe, expect, it } from 'vitest';
import { AllocationFailure } from '../../src/main/engine/allocationFailure.ts';
import { applySymmetry, invertSymmetry, SYMMETRIES } from '../../src/main/engine/selfEnsemble.ts';
import {
  type LowResImage,
  type PlaneModel,
  upscaleTiled,
} from '../../src/main/engine/tiledUpscale.ts';
import { padRect, planTiles } from '../../src/main/engine/tiling.ts';

function lowRes(width: number, height: number): LowResImage {
  const plane = (seed: number) =>
    Float32Array.from({ length: width * height }, (_, i) => ((i * seed) % 97) / 97);
  return { width, height, y: plane(13), cb: plane(7), cr: plane(5), alpha: null };
}

/** A model whose output pixel depends on its 3x3 neighbourhood (zero-padded like a conv). */
const boxBlurModel: PlaneModel = async (input, batch, height, width) => {
  const out = new Float32Array(input.length);
  for (let b = 0; b < batch; b++) {
    const base = b * height * width;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        let sum = 0;
        for (let dy = -1; dy <= 1; dy++) {
          for (let dx = -1; dx <= 1; dx++) {
            const yy = y + dy;
            const xx = x + dx;
            if (yy >= 0 && yy < height && xx >= 0 && xx < width)
              sum += input[base + yy * width + xx]!;
          }
        }
        out[base + y * width + x] = sum / 9;
      }
    }
  }
  return out;
};

async function render(
  lr: LowResImage,
  outWidth: number,
  outHeight: number,
  tileSize: number,
  overlap: number,
  model: PlaneModel,
) {
  const y = new Float32Array(outWidth * outHeight);
  const stats = await upscaleTiled(lr, {
    outWidth,
    outHeight,
    tileSize,
    overlap,
    selfEnsemble: false,
    model,
    sink: (tile) => {
      for (let row = 0; row < tile.core.height; row++) {
        y.set(
          tile.y.subarray(row * tile.core.width, (row + 1) * tile.core.width),
          (tile.core.y + row) * outWidth + tile.core.x,
        );
      }
    },
  });
  return { y, stats };
}

describe('tile planning', () => {
  it('covers a region with the fewest tiles, edge tiles wider by the context they lack', () => {
    const tiles = planTiles(
      { x: 0, y: 0, width: 100, height: 50 },
      { width: 100, height: 50 },
      40,
      5,
    );
    // Columns: padded 35+5, 5+30+5, 5+35 = 40 each, so 3 fit (a uniform 30 px core needed 4).
    // Rows: 2, balanced to 25 + 25.
    expect(tiles.map((t) => [t.core.x, t.core.y, t.core.width, t.core.height])).toEqual([
      [0, 0, 35, 25],
      [35, 0, 30, 25],
      [65, 0, 35, 25],
      [0, 25, 35, 25],
      [35, 25, 30, 25],
      [65, 25, 35, 25],
    ]);
    expect(tiles[0]!.padded).toEqual({ x: 0, y: 0, width: 40, height: 30 });
    expect(tiles[4]!.padded).toEqual({ x: 30, y: 20, width: 40, height: 30 });
  });

  it('splits a side only when it must: 2048 px in 1072 px tiles with 24 px overlap is 2 tiles', () => {
    const side = (length: number, tileSize: number) =>
      planTiles(
        { x: 0, y: 0, width: length, height: 8 },
        { width: length, height: 8 },
        tileSize,
        24,
      ).map((t) => [t.core.width, t.padded.width]);
    expect(side(2048, 1072)).toEqual([
      [1024, 1048],
      [1024, 1048],
    ]);
    expect(side(2048, 1048)).toHaveLength(2);
    expect(side(2048, 1047)).toHaveLength(3);
    expect(side(1024, 2048)).toEqual([[1024, 1024]]);
  });

  it('keeps every padded tile within the tile size and covers the region once', () => {
    let seed = 7;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    let oversized = 0;
    let wrongContext = 0;
    let miscovered = 0;
    for (let trial = 0; trial < 300; trial++) {
      const overlap = random(30);
      const tileSize = 2 * overlap + 8 + random(200);
      const image = { width: 1 + random(900), height: 1 + random(300) };
      const x = random(image.width);
      const y = random(image.height);
      const region = {
        x,
        y,
        width: 1 + random(image.width - x),
        height: 1 + random(image.height - y),
      };
      const covered = new Uint8Array(image.width * image.height);
      for (const { core, padded } of planTiles(region, image, tileSize, overlap)) {
        if (Math.max(padded.width, padded.height) > tileSize) oversized++;
        const expected = padRect(core, overlap, image);
        if (JSON.stringify(padded) !== JSON.stringify(expected)) wrongContext++;
        for (let r = core.y; r < core.y + core.height; r++)
          for (let c = core.x; c < core.x + core.width; c++) covered[r * image.width + c]!++;
      }
      for (let r = 0; r < image.height; r++)
        for (let c = 0; c < image.width; c++) {
          const inside =
            r >= region.y &&
            r < region.y + region.height &&
            c >= region.x &&
            c < region.x + region.width;
          if (covered[r * image.width + c] !== (inside ? 1 : 0)) miscovered++;
        }
    }
    expect({ oversized, wrongContext, miscovered }).toEqual({
      oversized: 0,
      wrongContext: 0,
      miscovered: 0,
    });
  });

  it('refuses a tile too small for its overlap', () => {
    expect(() =>
      planTiles({ x: 0, y: 0, width: 10, height: 10 }, { width: 10, height: 10 }, 20, 8),
    ).toThrow(/no room/);
  });
});

describe('tiled upscaling', () => {
  it('equals the untiled result when the overlap covers the receptive field', async () => {
    const lr = lowRes(30, 20);
    const whole = await render(lr, 75, 50, 256, 1, boxBlurModel);
    const tiled = await render(lr, 75, 50, 24, 1, boxBlurModel);
    expect(tiled.stats.tiles).toBe(4 * 3);
    expect(tiled.y).toEqual(whole.y);
  });

  it('retries a tile smaller after an allocation failure instead of failing', async () => {
    const lr = lowRes(30, 20);
    const whole = await render(lr, 60, 40, 256, 1, boxBlurModel);
    const attempts: number[] = [];
    const memoryLimitedModel: PlaneModel = async (input, batch, height, width) => {
      attempts.push(Math.max(height, width));
      if (height * width > 30 * 30)
        throw new AllocationFailure('Failed to allocate memory for requested buffer');
      return boxBlurModel(input, batch, height, width);
    };
    const retried = await render(lr, 60, 40, 64, 1, memoryLimitedModel);
    expect(retried.y).toEqual(whole.y);
    expect(attempts[0]).toBe(60); // the whole 60x40 image as one tile, refused
    expect(retried.stats.tileSize).toBeLessThan(64);
  });

  it('stops at the next tile when aborted', async () => {
    const controller = new AbortController();
    let calls = 0;
    const model: PlaneModel = async (input, batch, height, width) => {
      calls++;
      if (calls === 2) controller.abort(new Error('cancelled by test'));
      return boxBlurModel(input, batch, height, width);
    };
    const lr = lowRes(30, 20);
    await expect(
      upscaleTiled(lr, {
        outWidth: 60,
        outHeight: 40,
        tileSize: 24,
        overlap: 1,
        selfEnsemble: false,
        model,
        sink: () => {},
        signal: controller.signal,
      }),
    ).rejects.toThrow('cancelled by test');
    expect(calls).toBe(2);
  });
});

describe('self-ensemble', () => {
  it('each of the 8 symmetries is undone by its inverse', () => {
    const plane = Float32Array.from({ length: 3 * 2 }, (_, i) => i);
    for (const symmetry of SYMMETRIES) {
      expect(invertSymmetry(applySymmetry(plane, 3, 2, symmetry), 3, 2, symmetry)).toEqual(plane);
    }
    expect(
      Array.from(applySymmetry(plane, 3, 2, { transpose: true, flipX: false, flipY: false })),
    ).toEqual([0, 3, 1, 4, 2, 5]);
    expect(
      new Set(SYMMETRIES.map((s) => Array.from(applySymmetry(plane, 3, 2, s)).join())).size,
    ).toBe(8);
  });

  it('averages to the plain result for a model that commutes with flips and rotations', async () => {
    const lr = lowRes(12, 9);
    const plain = await render(lr, 24, 18, 64, 1, boxBlurModel);
    const ensembleY = new Float32Array(24 * 18);
    await upscaleTiled(lr, {
      outWidth: 24,
      outHeight: 18,
      tileSize: 64,
      overlap: 1,
      selfEnsemble: true,
      model: boxBlurModel,
      sink: (tile) => ensembleY.set(tile.y),
    });
    ensembleY.forEach((value, i) => expect(value).toBeCloseTo(plain.y[i]!, 6));
  });
});
