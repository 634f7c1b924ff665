import { describe, expect, it } from 'vitest';
import { chooseTileSize, MAX_TILE_SIZE, MIN_TILE_SIZE } from '../../src/main/engine/tileSizing.ts';
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
