/**
 * Choosing the tile size from free memory. The estimate is deliberately rough: the tiler
 * retries smaller tiles when an allocation still fails.
 */

export interface TileSizeInputs {
  freeMemoryBytes: number;
  /** Feature channels of the model (live activations scale with it). */
  channels: number;
  /** Batch run per tile (8 with self-ensemble, 1 otherwise). */
  batch: number;
  overlap: number;
}

/**
 * Feature maps alive at once per channel and pixel (multi-scale branches, residuals, I/O),
 * measured by `npm run bench:speed` as the untiled peak resident memory over output pixels:
 * `cmsc-lite` (32 channels) 4432 MiB at 2048², `cmsc` (64 channels) about 2.3 GiB at 1024²,
 * both about 8 maps of 4-byte floats per channel once the process's ~200 MiB are taken off.
 */
const LIVE_MAPS_PER_CHANNEL = 8;
/** Share of free memory one tile may use; the rest is for the output buffer and everything else. */
const MEMORY_SHARE = 1 / 3;
export const MIN_TILE_SIZE = 96;
export const MAX_TILE_SIZE = 2048;

export function chooseTileSize(inputs: TileSizeInputs): number {
  const bytesPerPixel = 4 * Math.max(1, inputs.channels) * LIVE_MAPS_PER_CHANNEL * inputs.batch;
  const side = Math.floor(Math.sqrt((inputs.freeMemoryBytes * MEMORY_SHARE) / bytesPerPixel));
  const rounded = Math.floor(side / 32) * 32;
  return Math.max(MIN_TILE_SIZE, 2 * inputs.overlap + 32, Math.min(MAX_TILE_SIZE, rounded));
}
