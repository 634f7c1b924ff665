/**
 * The upscaling core, independent of files: bicubic-upscale the low-resolution Y, Cb, Cr
 * (and alpha) one tile at a time, run Y through the model, and hand each finished tile's
 * core to a sink. Memory is bounded by the tile size, not by the image size.
 */
import { AllocationFailure } from './allocationFailure.ts';
import { planResize, type Rect, resizeRegion } from './bicubic.ts';
import { applySymmetry, invertSymmetry, SYMMETRIES, type Symmetry } from './selfEnsemble.ts';
import { cropToCore, planTiles, splitTile, type Tile } from './tiling.ts';

/** A low-resolution image as Y, Cb, Cr (and alpha) planes in [0, 1]. */
export interface LowResImage {
  width: number;
  height: number;
  y: Float32Array;
  cb: Float32Array;
  cr: Float32Array;
  alpha: Float32Array | null;
}

/** Runs the model on a [batch, 1, height, width] float32 input; resolves to the same-shaped output. */
export type PlaneModel = (
  input: Float32Array,
  batch: number,
  height: number,
  width: number,
) => Promise<Float32Array>;

/** One finished piece of the output, in output-image coordinates. */
export interface TileOutput {
  core: Rect;
  y: Float32Array;
  cb: Float32Array;
  cr: Float32Array;
  alpha: Float32Array | null;
}

export interface TiledUpscaleOptions {
  outWidth: number;
  outHeight: number;
  /** Part of the output to produce (default: all of it). */
  region?: Rect;
  tileSize: number;
  overlap: number;
  selfEnsemble: boolean;
  model: PlaneModel;
  /** Receives each tile's core as soon as it is done. */
  sink: (tile: TileOutput) => void;
  onTileDone?: (tilesDone: number, tilesTotal: number) => void;
  signal?: AbortSignal;
}

export interface TiledUpscaleStats {
  tiles: number;
  /** The tile size in use at the end (smaller than requested after an allocation failure). */
  tileSize: number;
  inferenceMs: number;
  /** Bicubic up-scaling of the tiles' Y, Cb, Cr and alpha. */
  bicubicMs: number;
  /** Cropping outputs to their cores and handing them to the sink. */
  mergeMs: number;
}

/** Smallest padded tile side tried after allocation failures before giving up. */
const MIN_RETRY_TILE = 32;

export async function upscaleTiled(
  lr: LowResImage,
  options: TiledUpscaleOptions,
): Promise<TiledUpscaleStats> {
  const { outWidth, outHeight, overlap, signal } = options;
  const image = { width: outWidth, height: outHeight };
  const region = options.region ?? { x: 0, y: 0, width: outWidth, height: outHeight };
  const resize = planResize(lr.width, lr.height, outWidth, outHeight);
  const tiles = planTiles(region, image, options.tileSize, overlap);
  let tileLimit = options.tileSize;
  let inferenceMs = 0;
  let bicubicMs = 0;
  let mergeMs = 0;

  const runTile = async (tile: Tile): Promise<void> => {
    if (
      Math.max(tile.padded.width, tile.padded.height) > tileLimit &&
      tile.core.width * tile.core.height > 64
    ) {
      for (const part of splitTile(tile, overlap, image)) await runTile(part);
      return;
    }
    signal?.throwIfAborted();
    const { padded, core } = tile;
    const resizing = performance.now();
    const yIn = resizeRegion(lr.y, resize, padded);
    const started = performance.now();
    bicubicMs += started - resizing;
    let yOut: Float32Array;
    try {
      yOut = options.selfEnsemble
        ? await runSelfEnsemble(options.model, yIn, padded.width, padded.height)
        : await options.model(yIn, 1, padded.height, padded.width);
    } catch (error) {
      const side = Math.max(padded.width, padded.height);
      if (!(error instanceof AllocationFailure) || side <= MIN_RETRY_TILE) throw error;
      // Out of memory: halve the tile size for this and every later tile, and go on.
      tileLimit = Math.max(MIN_RETRY_TILE, Math.floor(side / 2));
      for (const part of splitTile(tile, overlap, image)) await runTile(part);
      return;
    } finally {
      inferenceMs += performance.now() - started;
    }
    signal?.throwIfAborted();
    const chroma = performance.now();
    const cb = resizeRegion(lr.cb, resize, core);
    const cr = resizeRegion(lr.cr, resize, core);
    const alpha = lr.alpha ? resizeRegion(lr.alpha, resize, core) : null;
    const merging = performance.now();
    bicubicMs += merging - chroma;
    options.sink({ core, y: cropToCore(yOut, padded, core), cb, cr, alpha });
    mergeMs += performance.now() - merging;
  };

  for (let i = 0; i < tiles.length; i++) {
    await runTile(tiles[i]!);
    options.onTileDone?.(i + 1, tiles.length);
  }
  return { tiles: tiles.length, tileSize: tileLimit, inferenceMs, bicubicMs, mergeMs };
}

/** The 8 symmetries in two batches (same shape, transposed shape), mapped back and averaged. */
async function runSelfEnsemble(
  model: PlaneModel,
  plane: Float32Array,
  width: number,
  height: number,
): Promise<Float32Array> {
  const sum = new Float64Array(plane.length);
  const groups: Symmetry[][] = [
    SYMMETRIES.filter((s) => !s.transpose),
    SYMMETRIES.filter((s) => s.transpose),
  ];
  for (const group of groups) {
    const transposed = group[0]!.transpose;
    const batchWidth = transposed ? height : width;
    const batchHeight = transposed ? width : height;
    const batch = new Float32Array(plane.length * group.length);
    group.forEach((symmetry, i) =>
      batch.set(applySymmetry(plane, width, height, symmetry), i * plane.length),
    );
    const output = await model(batch, group.length, batchHeight, batchWidth);
    group.forEach((symmetry, i) => {
      const restored = invertSymmetry(
        output.subarray(i * plane.length, (i + 1) * plane.length),
        width,
        height,
        symmetry,
      );
      for (let p = 0; p < restored.length; p++) sum[p]! += restored[p]!;
    });
  }
  const mean = new Float32Array(plane.length);
  for (let p = 0; p < mean.length; p++) mean[p] = sum[p]! / SYMMETRIES.length;
  return mean;
}
