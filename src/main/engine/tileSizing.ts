/**
 * Choosing the tile size: from the engine's memory budget (tileSizeForBudget, what the engine
 * uses), or from free memory (chooseTileSize, the rule before the budget; bench:speed still
 * prints it). The estimates are deliberately rough: the tiler retries smaller tiles when an
 * allocation still fails.
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

/** The default memory budget for a whole process upscaling one photo ("memory use"). */
export const DEFAULT_MEMORY_BUDGET_BYTES = 1024 * 1024 * 1024;
/**
 * What the process holds besides the photo and its tile: Node, sharp/libvips, ONNX Runtime and
 * an open model session. Measured: the CPU default (cmsc-fast-photo-light int8) on a 1 MP JPEG
 * at x2 with 256 px tiles peaked at 294 MiB, of which about 45 MiB were the tile and 28 MiB
 * the JPEG encoder.
 */
export const PROCESS_BASE_BYTES = 224 * 1024 * 1024;
/**
 * Four-byte feature maps alive per channel and model-input pixel while a tile runs, by kind of
 * model. Input-resolution models (cmsc-fast, x2, 32 channels): peak RSS rose by 665 bytes per
 * tile pixel (int8) and 700 (fp32) from 256 to 864 px tiles on a 1 MP photo, about 5 maps
 * with the full-size planes below. Output-resolution models: 8, as measured for chooseTileSize.
 */
const LIVE_MAPS_INPUT_RESOLUTION = 5;

export interface BudgetInputs {
  /** The whole process's budget, bytes. */
  budgetBytes: number;
  /** Feature channels of the model (live activations scale with it). */
  channels: number;
  /** Batch run per tile (4 with self-ensemble: two batches of 4 symmetries). */
  batch: number;
  overlap: number;
  /** Model output pixels per model input pixel along an axis: the integer scale of an input-resolution model, else 1. */
  modelScale: number;
  /** Bytes held for the whole run whatever the tile: the decoded input. */
  heldBytes: number;
  /**
   * Bytes of output held per model-input row of a band of tiles: the finished rows waiting
   * for the rest of their band (output width × channels × bytes a sample, × output rows per
   * model-input row), plus the float rows a non-integer resize keeps.
   */
  bandBytesPerRow: number;
}

/**
 * Bytes one tile of side `tile` (model input pixels) needs inside ONNX Runtime while the model
 * runs: its feature maps, and the tile's input, bicubic input and output tensors (4 bytes each,
 * the last two at the model's output pixels).
 */
export function tileWorkingBytes(
  tile: number,
  inputs: Pick<BudgetInputs, 'channels' | 'batch' | 'modelScale'>,
): number {
  const pixels = tile * tile;
  const maps = inputs.modelScale > 1 ? LIVE_MAPS_INPUT_RESOLUTION : LIVE_MAPS_PER_CHANNEL;
  const featureMaps = 4 * Math.max(1, inputs.channels) * maps;
  const tensors = 4 * (1 + 2 * inputs.modelScale ** 2);
  return pixels * (featureMaps + tensors) * inputs.batch;
}

/**
 * Bytes per model-output pixel of a tile that the main thread holds outside ONNX Runtime: the
 * bicubic Y it sends (4), the output it gets back (4) and its core (4), the core's Cb and Cr
 * resized to the output (8), and the same 12 of the tile before, whose resize and write wait
 * until this tile is at the worker (tiledUpscale's pipelining). Not in the arena's doubling.
 */
const MAIN_THREAD_BYTES_PER_OUTPUT_PIXEL = 32;
/** Self-ensemble's batches on the main thread, per output pixel and pass: the batched bicubic input and the outputs averaged. */
const SELF_ENSEMBLE_BYTES_PER_OUTPUT_PIXEL = 8;

/** Bytes one tile of side `tile` holds on the main thread, outside ONNX Runtime's arena. */
export function tileMainThreadBytes(
  tile: number,
  inputs: Pick<BudgetInputs, 'batch' | 'modelScale'>,
): number {
  const outputPixels = tile * tile * inputs.modelScale ** 2;
  const ensemble = inputs.batch > 1 ? SELF_ENSEMBLE_BYTES_PER_OUTPUT_PIXEL * inputs.batch : 0;
  return outputPixels * (MAIN_THREAD_BYTES_PER_OUTPUT_PIXEL + ensemble);
}

/**
 * What ONNX Runtime's CPU arena holds for a working set of `bytes`: it grows in regions that
 * double from 1 MiB (its default next-power-of-two strategy), so it ends at 2^k − 1 MiB, up to
 * twice the working set. Measured: a 1024 px tile of cmsc-fast x2 (704 MiB estimated working
 * set) took the process from 384 MiB to 1210-1321 MiB on a 12 MP photo.
 */
export function arenaBytes(bytes: number): number {
  const mib = 1024 * 1024;
  return (2 ** Math.ceil(Math.log2(bytes / mib + 1)) - 1) * mib;
}

/**
 * The largest tile side (a multiple of 32, MIN_TILE_SIZE to MAX_TILE_SIZE) whose working set,
 * as the arena holds it, and band fit the budget beside the process and the decoded input.
 * Allocation failures still split tiles at run time, so a rough estimate errs only on speed.
 */
export function tileSizeForBudget(inputs: BudgetInputs): number {
  const floor = Math.max(MIN_TILE_SIZE, 2 * inputs.overlap + 32);
  const free = inputs.budgetBytes - PROCESS_BASE_BYTES - inputs.heldBytes;
  for (let tile = MAX_TILE_SIZE; tile > floor; tile -= 32) {
    const tileBytes =
      arenaBytes(tileWorkingBytes(tile, inputs)) + tileMainThreadBytes(tile, inputs);
    if (tileBytes + tile * inputs.bandBytesPerRow <= free) return tile;
  }
  return floor;
}

/**
 * Parses a memory size as the CLI takes it: bytes, or a number with k, m, g (powers of 1024,
 * an optional trailing "b" or "ib"): `1g`, `1024m`, `1.5GB`. Null when it is not one.
 */
export function parseMemorySize(text: string): number | null {
  const match = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?$/i.exec(text.trim());
  if (!match) return null;
  const unit = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[
    match[2]!.toLowerCase() as '' | 'k' | 'm' | 'g' | 't'
  ];
  const bytes = Math.round(Number(match[1]) * unit);
  return Number.isFinite(bytes) && bytes > 0 ? bytes : null;
}

/** The smallest budget accepted: the process alone takes about PROCESS_BASE_BYTES. */
export const MIN_MEMORY_BUDGET_BYTES = 256 * 1024 * 1024;
