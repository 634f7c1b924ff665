import { describe, expect, it } from 'vitest';
import {
  arenaBytes,
  chooseTileSize,
  MAX_TILE_SIZE,
  MIN_TILE_SIZE,
  parseMemorySize,
  PROCESS_BASE_BYTES,
  tileSizeForBudget,
  tileMainThreadBytes,
  tileWorkingBytes,
} from '../../src/main/engine/tileSizing.ts';
import { repeatedContextShare, smallestTileSize } from '../../src/shared/upscaleOptions.ts';

const GIB = 1024 ** 3;

describe('automatic tile size', () => {
  it('gives a tile whose estimated working set is a third of free memory, in steps of 32', () => {
    // 64 channels × 8 maps × 4 bytes = 2 KiB per pixel; a third of 6 GiB is 2 GiB = 1024² pixels.
    expect(chooseTileSize({ freeMemoryBytes: 6 * GIB, channels: 64, batch: 1, overlap: 20 })).toBe(
      1024,
    );
    // Half the channels, twice the pixels: 1448 px, rounded down to 1440.
    expect(chooseTileSize({ freeMemoryBytes: 6 * GIB, channels: 32, batch: 1, overlap: 20 })).toBe(
      1440,
    );
  });

  it('shrinks with the self-ensemble batch and stays within its bounds', () => {
    const plain = chooseTileSize({ freeMemoryBytes: 6 * GIB, channels: 64, batch: 1, overlap: 20 });
    const ensemble = chooseTileSize({
      freeMemoryBytes: 6 * GIB,
      channels: 64,
      batch: 4,
      overlap: 20,
    });
    expect(ensemble).toBe(plain / 2);
    expect(
      chooseTileSize({ freeMemoryBytes: 1024 * GIB, channels: 64, batch: 1, overlap: 20 }),
    ).toBe(MAX_TILE_SIZE);
    expect(chooseTileSize({ freeMemoryBytes: 1e6, channels: 64, batch: 1, overlap: 20 })).toBe(
      MIN_TILE_SIZE,
    );
    // Never so small that the overlap leaves no core.
    expect(chooseTileSize({ freeMemoryBytes: 1e6, channels: 64, batch: 1, overlap: 80 })).toBe(
      2 * 80 + 32,
    );
  });
});

describe('repeated context of a tile size', () => {
  it('is the extra model work of inner tiles, with tiles too small counted as the engine runs them', () => {
    expect(repeatedContextShare(512, 20)).toBeCloseTo((512 / 472) ** 2 - 1, 12);
    expect(repeatedContextShare(512, 20)).toBeCloseTo(0.177, 3);
    expect(repeatedContextShare(2000, 20)).toBeCloseTo(0.041, 3);
    expect(repeatedContextShare(100, 0)).toBe(0);
    // 32 px with 20 px of context runs as 48 px tiles with 8 px cores: 36 × the pixels.
    expect(smallestTileSize(20)).toBe(48);
    expect(repeatedContextShare(32, 20)).toBe(35);
  });
});

describe('tile size from the memory budget', () => {
  const MIB = 1024 ** 2;
  const fast = {
    budgetBytes: 1024 * MIB,
    channels: 32,
    batch: 1,
    overlap: 20,
    modelScale: 2,
    heldBytes: 0,
    bandBytesPerRow: 0,
  };
  const fits = (tile: number, inputs: typeof fast) =>
    arenaBytes(tileWorkingBytes(tile, inputs)) +
      tileMainThreadBytes(tile, inputs) +
      tile * inputs.bandBytesPerRow <=
    inputs.budgetBytes - PROCESS_BASE_BYTES - inputs.heldBytes;

  it('counts the working set as ONNX Runtime’s arena holds it: regions doubling from 1 MiB', () => {
    expect(arenaBytes(1)).toBe(1 * MIB);
    expect(arenaBytes(500 * MIB)).toBe(511 * MIB);
    expect(arenaBytes(511 * MIB)).toBe(511 * MIB);
    expect(arenaBytes(512 * MIB)).toBe(1023 * MIB);
  });

  it('fills what the process, the input and the band leave of the budget', () => {
    // cmsc-fast x2 in ONNX Runtime: 5 maps x 32 channels x 4 bytes, the input (4) and the
    // bicubic input and output at 4 output pixels (2 x 4 x 4) = 676 B a tile pixel.
    expect(tileWorkingBytes(1024, fast)).toBe(1024 * 1024 * 676);
    // On the main thread, outside the arena: 32 B an output pixel, 4 output pixels a tile pixel.
    expect(tileMainThreadBytes(1024, fast)).toBe(1024 * 1024 * 4 * 32);
    // 800 MiB free: a 896 px tile would grow the arena to 1023 MiB; 864 px is 481 MiB, an arena
    // of 511 MiB, and 91 MiB on the main thread.
    expect(tileSizeForBudget(fast)).toBe(864);
    expect([fits(864, fast), fits(896, fast)]).toEqual([true, false]);
    // A 24 MP photo at x2: 72 MB of samples, 2 output rows of 12000 RGB pixels per input row.
    const photo24x2 = { ...fast, heldBytes: 72e6, bandBytesPerRow: 2 * 12000 * 3 };
    expect(tileSizeForBudget(photo24x2)).toBe(864);
    // A 61 MP photo at x4: 181 MB of samples, 4 output rows of 38016 pixels per input row
    // (223 MiB of band at 512 px), 772 B a tile pixel in a 255 MiB arena, and 128 MiB of the
    // tile's output-size planes on the main thread: 544 px would need 636 MiB of the 628 left.
    const photo61x4 = {
      ...fast,
      modelScale: 4,
      heldBytes: 9504 * 6336 * 3,
      bandBytesPerRow: 4 * 38016 * 3,
    };
    expect(tileSizeForBudget(photo61x4)).toBe(512);
    expect([fits(512, photo61x4), fits(544, photo61x4)]).toEqual([true, false]);
  });

  it('follows the channels, the self-ensemble batch and the budget, within its bounds', () => {
    // Output-resolution cmsc (64 channels, 8 maps, 3 tensors): 2060 B a pixel.
    expect(tileSizeForBudget({ ...fast, channels: 64, modelScale: 1 })).toBe(480);
    // Self-ensemble: batches of 4.
    expect(tileSizeForBudget({ ...fast, batch: 4 })).toBe(416);
    expect(tileSizeForBudget({ ...fast, budgetBytes: 256 * MIB })).toBe(128);
    expect(tileSizeForBudget({ ...fast, budgetBytes: 64 * 1024 * MIB })).toBe(MAX_TILE_SIZE);
    // Nothing left: the smallest tile, which allocation failures can still split.
    expect(tileSizeForBudget({ ...fast, budgetBytes: 100 * MIB })).toBe(MIN_TILE_SIZE);
  });

  it('reads --max-memory sizes', () => {
    expect(parseMemorySize('1g')).toBe(1024 ** 3);
    expect(parseMemorySize('1024m')).toBe(1024 ** 3);
    expect(parseMemorySize('1.5GB')).toBe(1.5 * 1024 ** 3);
    expect(parseMemorySize('512MiB')).toBe(512 * MIB);
    expect(parseMemorySize('1073741824')).toBe(1024 ** 3);
    expect(parseMemorySize('lots')).toBeNull();
    expect(parseMemorySize('-1g')).toBeNull();
    expect(parseMemorySize('0')).toBeNull();
  });
});
