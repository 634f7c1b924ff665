/**
 * The upscaling core, independent of files: bicubic-upscale the low-resolution Y, Cb, Cr
 * (and alpha) one tile at a time, run Y through the model, and hand each finished tile's
 * core to a sink. Memory is bounded by the tile size, not by the image size.
 *
 * Two kinds of model. The paper's take the bicubic-upscaled Y at output size: tiles are
 * planned in output pixels. An input-resolution model (cmsc-fast, `lowResInput`) takes the
 * low-resolution Y and its bicubic upscaling by its integer scale s, and outputs s times
 * larger: tiles are planned in input pixels. Its output is the target when the target is s
 * times the input; otherwise (non-integer scales, width/height targets, a scale the model
 * lacks) the part of its s-times output the target region needs is kept and resized to the
 * target with the antialiased bicubic, a few rows at a time as the bands of tiles finish.
 *
 * Tiles run in raster order (rows of tiles, top to bottom), so the output is finished band by
 * band and the sink can pass rows on while later bands are still being inferred. The input
 * is read a rectangle at a time (`LowResSource`), so it can stay in its compact decoded form.
 */
import { asksToKeepWork } from '../../shared/keptWork.ts';
import { AllocationFailure } from './allocationFailure.ts';
import { planResize, type Rect, resizeRegion, type ResizePlan, sourceRect } from './bicubic.ts';
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

export type PlaneName = 'y' | 'cb' | 'cr' | 'alpha';

/**
 * A low-resolution image read one rectangle at a time: `read` returns samples in [0, 1] of
 * `plane` over `covers`, a rectangle that contains the one asked for (row-major).
 */
export interface LowResSource {
  width: number;
  height: number;
  hasAlpha: boolean;
  read(plane: PlaneName, rect: Rect): { data: Float32Array; covers: Rect };
}

/** A LowResImage as a source: every read returns the whole plane (nothing is copied). */
export function planeSource(lr: LowResImage): LowResSource {
  const covers = { x: 0, y: 0, width: lr.width, height: lr.height };
  return {
    width: lr.width,
    height: lr.height,
    hasAlpha: lr.alpha !== null,
    read(plane) {
      const data = plane === 'alpha' ? lr.alpha : lr[plane];
      if (!data) throw new Error('the image has no alpha plane');
      return { data, covers };
    },
  };
}

/** Resizes `plane` of `source` over `region` of the plan's output. */
function resizeFrom(
  source: LowResSource,
  plane: PlaneName,
  plan: ResizePlan,
  region: Rect,
): Float32Array {
  const { data, covers } = source.read(plane, sourceRect(plan, region));
  return resizeRegion(data, plan, region, covers);
}

/**
 * Runs the model on a [batch, 1, height, width] float32 input; resolves to the same-shaped
 * output, or for an input-resolution model of scale s (which also gets `bicubic`, the
 * [batch, 1, s·height, s·width] bicubic upscaling) to a [batch, 1, s·height, s·width] output.
 */
export type PlaneModel = (
  input: Float32Array,
  batch: number,
  height: number,
  width: number,
  bicubic?: Float32Array,
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
  /** Padded tile side in the model's input pixels (input pixels for `lowResInput`). */
  tileSize: number;
  /** Context a side, in the model's input pixels. */
  overlap: number;
  selfEnsemble: boolean;
  model: PlaneModel;
  /** The model takes the low-resolution image and upscales it by this integer scale. */
  lowResInput?: { scale: number };
  /** Receives each tile's core as soon as it is done. */
  sink: (tile: TileOutput) => void;
  /** `tilesReused`: tiles not run because their rows were kept (`doneRows`); counted as done. */
  onTileDone?: (tilesDone: number, tilesTotal: number, tilesReused: number) => void;
  signal?: AbortSignal;
  /**
   * Rows of the region, from its top, that the sink already holds from an earlier run stopped
   * by "Pause now": the bands of tiles that only feed them are not run. The sink may still get
   * some of them (from a band that also feeds later rows) and drops those.
   */
  doneRows?: number;
}

export interface TiledUpscaleStats {
  tiles: number;
  /** Tiles not run because the rows they feed were kept from an earlier run (`doneRows`). */
  tilesReused: number;
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
  image: LowResImage | LowResSource,
  options: TiledUpscaleOptions,
): Promise<TiledUpscaleStats> {
  const lr = 'read' in image ? image : planeSource(image);
  const { outWidth, outHeight, overlap, signal } = options;
  const target = { width: outWidth, height: outHeight };
  const region = options.region ?? { x: 0, y: 0, width: outWidth, height: outHeight };
  const chromaPlan = planResize(lr.width, lr.height, outWidth, outHeight);
  const grid = modelGrid(lr, target, region, options.lowResInput?.scale);
  const tiles = planTiles(grid.region, grid.size, options.tileSize, overlap);
  const s = grid.scale;
  // The model's output over the target region's needs, when it must still be resized: the
  // rows the next target rows read, released as the resize moves down.
  const between = grid.downPlan ? new RowWindow(grid.downPlan, grid.needed, region) : null;
  let tileLimit = options.tileSize;
  let inferenceMs = 0;
  let bicubicMs = 0;
  let mergeMs = 0;

  const finish = (core: Rect, y: Float32Array): void => {
    const chroma = performance.now();
    const cb = resizeFrom(lr, 'cb', chromaPlan, core);
    const cr = resizeFrom(lr, 'cr', chromaPlan, core);
    const alpha = lr.hasAlpha ? resizeFrom(lr, 'alpha', chromaPlan, core) : null;
    const merging = performance.now();
    bicubicMs += merging - chroma;
    options.sink({ core, y, cb, cr, alpha });
    mergeMs += performance.now() - merging;
  };

  // Finished pieces wait here until the next tile has gone to the inference worker: their
  // chroma resize and the sink (the raster file's write) then run on this thread while the
  // worker infers, instead of leaving the worker idle between tiles. Order is kept (FIFO).
  const pending: (() => void)[] = [];
  const flush = (): void => {
    for (let piece = pending.shift(); piece; piece = pending.shift()) piece();
  };

  const runTile = async (tile: Tile): Promise<void> => {
    if (
      Math.max(tile.padded.width, tile.padded.height) > tileLimit &&
      tile.core.width * tile.core.height > 64
    ) {
      for (const part of splitTile(tile, overlap, grid.size)) await runTile(part);
      return;
    }
    signal?.throwIfAborted();
    const { padded, core } = tile;
    const resizing = performance.now();
    const inputs = grid.inputs(padded);
    const started = performance.now();
    bicubicMs += started - resizing;
    let yOut: Float32Array;
    let overlappedMs = 0;
    try {
      const running = options.selfEnsemble
        ? runSelfEnsemble(options.model, inputs.y, padded.width, padded.height, s, inputs.bicubic)
        : options.model(inputs.y, 1, padded.height, padded.width, inputs.bicubic);
      // Awaited below; this only keeps a failure during the flush from going unhandled.
      running.catch(() => undefined);
      const flushing = performance.now();
      flush();
      overlappedMs = performance.now() - flushing;
      yOut = await running;
    } catch (error) {
      const side = Math.max(padded.width, padded.height);
      if (!(error instanceof AllocationFailure) || side <= MIN_RETRY_TILE) throw error;
      // Out of memory: halve the tile size for this and every later tile, and go on.
      tileLimit = Math.max(MIN_RETRY_TILE, Math.floor(side / 2));
      for (const part of splitTile(tile, overlap, grid.size)) await runTile(part);
      return;
    } finally {
      // The wait for the model: the flush's own work is counted in bicubic and merge.
      inferenceMs += performance.now() - started - overlappedMs;
    }
    signal?.throwIfAborted();
    // The tile's core in the model's output pixels, limited to what the target region needs.
    const kept = intersect(scaleRect(core, s), grid.needed);
    if (kept.width <= 0 || kept.height <= 0) return;
    const y = cropToCore(yOut, scaleRect(padded, s), kept);
    if (!between) {
      pending.push(() => finish(kept, y));
      return;
    }
    const merging = performance.now();
    between.put(kept, y);
    mergeMs += performance.now() - merging;
  };

  /** Resizes the target rows whose model-output rows are all done, in bounded strips. */
  const resizeReady = (doneRows: number): void => {
    if (!between) return;
    for (;;) {
      const strip = between.nextStrip(doneRows, RESIZE_STRIP_ROWS);
      if (!strip) return;
      signal?.throwIfAborted();
      const resizing = performance.now();
      const y = between.resize(strip);
      bicubicMs += performance.now() - resizing;
      pending.push(() => finish(strip, y));
    }
  };

  // Kept rows: the first model-output row a later target row still needs. Whole bands above it
  // are skipped (tiles run in raster order, and a band's tiles share their rows).
  const doneRows = options.doneRows ?? 0;
  const neededFrom =
    doneRows <= 0 ? 0 : between ? between.startAt(region.y + doneRows) : region.y + doneRows;
  let tilesReused = 0;
  while (
    tilesReused < tiles.length &&
    (tiles[tilesReused]!.core.y + tiles[tilesReused]!.core.height) * s <= neededFrom
  )
    tilesReused++;
  if (tilesReused > 0) options.onTileDone?.(tilesReused, tiles.length, tilesReused);
  try {
    for (let i = tilesReused; i < tiles.length; i++) {
      const tile = tiles[i]!;
      await runTile(tile);
      options.onTileDone?.(i + 1, tiles.length, tilesReused);
      const next = tiles[i + 1];
      // A band of tiles is done: its model-output rows are complete.
      if (!next || next.core.y !== tile.core.y) resizeReady((tile.core.y + tile.core.height) * s);
    }
  } catch (error) {
    // "Pause now" keeps the finished rows: tiles already finished reach the sink first.
    if (signal?.aborted && asksToKeepWork(signal.reason)) flush();
    throw error;
  }
  flush();
  if (between && !between.done()) throw new Error('the resize to the target size is incomplete');
  return { tiles: tiles.length, tilesReused, tileSize: tileLimit, inferenceMs, bicubicMs, mergeMs };
}

/**
 * The rows of an input-resolution model's output that the resize to the target still needs:
 * rows arrive band by band, target rows are resized once every row they read is there, and
 * rows no later target row reads are dropped.
 */
class RowWindow {
  private readonly rows = new Map<number, Float32Array>();
  /** Next target row to resize. */
  private nextRow: number;
  private readonly end: number;
  /** Per target row (from region.y): the first and last model-output row its taps read. */
  private readonly first: Int32Array;
  private readonly last: Int32Array;
  /** Smallest `first` of this and every later target row: rows above it can go. */
  private readonly keepFrom: Int32Array;

  constructor(
    private readonly plan: ResizePlan,
    private readonly needed: Rect,
    private readonly region: Rect,
  ) {
    this.nextRow = region.y;
    this.end = region.y + region.height;
    const { taps, indices } = plan.vertical;
    this.first = new Int32Array(region.height);
    this.last = new Int32Array(region.height);
    for (let r = 0; r < region.height; r++) {
      let min = Infinity;
      let max = -Infinity;
      // Taps of weight zero count too, as sourceRect counts them.
      for (let t = (region.y + r) * taps; t < (region.y + r + 1) * taps; t++) {
        min = Math.min(min, indices[t]!);
        max = Math.max(max, indices[t]!);
      }
      this.first[r] = min;
      this.last[r] = max;
    }
    this.keepFrom = new Int32Array(region.height);
    let min = Infinity;
    for (let r = region.height - 1; r >= 0; r--) {
      min = Math.min(min, this.first[r]!);
      this.keepFrom[r] = min;
    }
  }

  /**
   * Starts at target row `row` (the rows above it were kept from an earlier run); returns the
   * first model-output row this and later target rows read (Infinity when none is left).
   */
  startAt(row: number): number {
    this.nextRow = Math.min(Math.max(row, this.region.y), this.end);
    return this.nextRow < this.end ? this.keepFrom[this.nextRow - this.region.y]! : Infinity;
  }

  /** Stores a finished piece of the model's output (model-output coordinates, inside `needed`). */
  put(kept: Rect, y: Float32Array): void {
    const { needed } = this;
    for (let row = 0; row < kept.height; row++) {
      const at = kept.y + row;
      let line = this.rows.get(at);
      if (!line) {
        line = new Float32Array(needed.width);
        this.rows.set(at, line);
      }
      line.set(y.subarray(row * kept.width, (row + 1) * kept.width), kept.x - needed.x);
    }
  }

  /** The next target rows (at most `maxRows`) whose source rows all lie above `doneRows`. */
  nextStrip(doneRows: number, maxRows: number): Rect | null {
    const from = this.nextRow;
    let to = from;
    while (to < this.end && to - from < maxRows && this.last[to - this.region.y]! < doneRows) to++;
    if (to === from) return null;
    return { x: this.region.x, y: from, width: this.region.width, height: to - from };
  }

  /** Resizes `strip` (from nextStrip) and drops the rows no later target row reads. */
  resize(strip: Rect): Float32Array {
    const source = sourceRect(this.plan, strip);
    const { width } = this.needed;
    const block = new Float32Array(width * source.height);
    for (let row = 0; row < source.height; row++) {
      const line = this.rows.get(source.y + row);
      if (!line) throw new Error(`model output row ${source.y + row} is missing`);
      block.set(line, row * width);
    }
    const y = resizeRegion(block, this.plan, strip, {
      x: this.needed.x,
      y: source.y,
      width,
      height: source.height,
    });
    this.nextRow = strip.y + strip.height;
    const keepFrom =
      this.nextRow < this.end ? this.keepFrom[this.nextRow - this.region.y]! : Infinity;
    for (const at of this.rows.keys()) if (at < keepFrom) this.rows.delete(at);
    return y;
  }

  done(): boolean {
    return this.nextRow === this.end;
  }
}

/** Output rows resized at a time from an input-resolution model's output to the target. */
const RESIZE_STRIP_ROWS = 256;

/** Where the model runs: its input grid, the region of it to tile, and how to make its inputs. */
interface ModelGrid {
  /** Size of the model's input grid (the output for paper models, the input for lowResInput). */
  size: { width: number; height: number };
  /** The part of that grid to tile. */
  region: Rect;
  /** Model output pixels per input pixel along each axis. */
  scale: number;
  /** The model-output pixels the target region needs (in the model's output grid). */
  needed: Rect;
  /** Model output -> target resize, when the target is not the model's output size. */
  downPlan: ResizePlan | null;
  inputs: (padded: Rect) => { y: Float32Array; bicubic?: Float32Array };
}

function modelGrid(
  lr: LowResSource,
  target: { width: number; height: number },
  region: Rect,
  lowResScale: number | undefined,
): ModelGrid {
  if (lowResScale === undefined) {
    // Paper models: the model grid is the target; its input is the bicubic image there.
    const plan = planResize(lr.width, lr.height, target.width, target.height);
    return {
      size: target,
      region,
      scale: 1,
      needed: region,
      downPlan: null,
      inputs: (padded) => ({ y: resizeFrom(lr, 'y', plan, padded) }),
    };
  }
  const s = lowResScale;
  const modelOut = { width: lr.width * s, height: lr.height * s };
  const direct = modelOut.width === target.width && modelOut.height === target.height;
  const downPlan = direct
    ? null
    : planResize(modelOut.width, modelOut.height, target.width, target.height);
  const needed = downPlan ? sourceRect(downPlan, region) : region;
  const x0 = Math.floor(needed.x / s);
  const y0 = Math.floor(needed.y / s);
  const gridRegion = {
    x: x0,
    y: y0,
    width: Math.ceil((needed.x + needed.width) / s) - x0,
    height: Math.ceil((needed.y + needed.height) / s) - y0,
  };
  const upPlan = planResize(lr.width, lr.height, modelOut.width, modelOut.height);
  return {
    size: { width: lr.width, height: lr.height },
    region: gridRegion,
    scale: s,
    needed,
    downPlan,
    inputs: (padded) => {
      const { data, covers } = lr.read('y', padded);
      const y = cropToCore(data, covers, padded);
      return {
        // A copy when the read is the image's own plane: the inference client transfers its
        // input to the worker, which would detach the plane (Compare reuses it).
        y: y === data ? data.slice() : y,
        bicubic: resizeFrom(lr, 'y', upPlan, scaleRect(padded, s)),
      };
    },
  };
}

function scaleRect(rect: Rect, s: number): Rect {
  return s === 1
    ? rect
    : { x: rect.x * s, y: rect.y * s, width: rect.width * s, height: rect.height * s };
}

function intersect(a: Rect, b: Rect): Rect {
  const x = Math.max(a.x, b.x);
  const y = Math.max(a.y, b.y);
  return {
    x,
    y,
    width: Math.min(a.x + a.width, b.x + b.width) - x,
    height: Math.min(a.y + a.height, b.y + b.height) - y,
  };
}

/**
 * The 8 symmetries in two batches (same shape, transposed shape), mapped back and averaged.
 * An input-resolution model's bicubic input gets the same symmetry; its output is `scale`
 * times the input plane.
 */
async function runSelfEnsemble(
  model: PlaneModel,
  plane: Float32Array,
  width: number,
  height: number,
  scale: number,
  bicubic?: Float32Array,
): Promise<Float32Array> {
  const outWidth = width * scale;
  const outHeight = height * scale;
  const outLength = outWidth * outHeight;
  const sum = new Float64Array(outLength);
  const groups: Symmetry[][] = [
    SYMMETRIES.filter((s) => !s.transpose),
    SYMMETRIES.filter((s) => s.transpose),
  ];
  for (const group of groups) {
    const transposed = group[0]!.transpose;
    const batchWidth = transposed ? height : width;
    const batchHeight = transposed ? width : height;
    const batch = new Float32Array(plane.length * group.length);
    const bicubicBatch = bicubic ? new Float32Array(outLength * group.length) : undefined;
    group.forEach((symmetry, i) => {
      batch.set(applySymmetry(plane, width, height, symmetry), i * plane.length);
      if (bicubic && bicubicBatch)
        bicubicBatch.set(applySymmetry(bicubic, outWidth, outHeight, symmetry), i * outLength);
    });
    const output = await model(batch, group.length, batchHeight, batchWidth, bicubicBatch);
    group.forEach((symmetry, i) => {
      const restored = invertSymmetry(
        output.subarray(i * outLength, (i + 1) * outLength),
        outWidth,
        outHeight,
        symmetry,
      );
      for (let p = 0; p < restored.length; p++) sum[p]! += restored[p]!;
    });
  }
  const mean = new Float32Array(outLength);
  for (let p = 0; p < mean.length; p++) mean[p] = sum[p]! / SYMMETRIES.length;
  return mean;
}
