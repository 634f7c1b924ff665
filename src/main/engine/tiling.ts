/**
 * Splitting an output region into tiles whose model input carries `overlap` pixels of
 * context on every side. Only each tile's core is kept, so with an overlap at least the
 * model's receptive-field radius the tiled result equals the untiled one; a smaller overlap
 * trades a bounded difference (measured in the tests) for less repeated work.
 */
import { smallestTileSize } from '../../shared/upscaleOptions.ts';
import type { Rect } from './bicubic.ts';

export interface Tile {
  /** Output pixels this tile produces. */
  core: Rect;
  /** What the model sees: the core plus context, clipped to the image. */
  padded: Rect;
}

export interface Size {
  width: number;
  height: number;
}

/**
 * Tiles covering `region` of an image of size `image`. `tileSize` bounds the padded side
 * (what the model sees, hence memory). Each axis gets the fewest tiles that fit: a tile at the
 * image's edge has context on one side only, so its core is `overlap` wider than an inner
 * one's. Within that count the padded sides are balanced (they differ by less than the tile
 * count), so no tile is a thin sliver. Fewer tiles means less repeated context: the model
 * computes `length + 2 × overlap × (tiles − 1)` pixels along each axis.
 */
export function planTiles(region: Rect, image: Size, tileSize: number, overlap: number): Tile[] {
  if (tileSize < smallestTileSize(overlap)) {
    throw new RangeError(
      `tile size ${tileSize} leaves no room beside an overlap of ${overlap} px (need at least ${smallestTileSize(overlap)})`,
    );
  }
  const columns = splitAxis(
    { start: region.x, length: region.width, extent: image.width, overlap },
    tileSize,
  );
  const rows = splitAxis(
    { start: region.y, length: region.height, extent: image.height, overlap },
    tileSize,
  );
  const tiles: Tile[] = [];
  for (const [y, height] of rows) {
    for (const [x, width] of columns) {
      const core = { x, y, width, height };
      tiles.push({ core, padded: padRect(core, overlap, image) });
    }
  }
  return tiles;
}

/** The core expanded by `overlap` on each side, clipped to the image. */
export function padRect(core: Rect, overlap: number, image: Size): Rect {
  const x0 = Math.max(0, core.x - overlap);
  const y0 = Math.max(0, core.y - overlap);
  const x1 = Math.min(image.width, core.x + core.width + overlap);
  const y1 = Math.min(image.height, core.y + core.height + overlap);
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

/** Splits a tile's core into four quarters (for the retry after an allocation failure). */
export function splitTile(tile: Tile, overlap: number, image: Size): Tile[] {
  const { core } = tile;
  const halfWidth = Math.ceil(core.width / 2);
  const halfHeight = Math.ceil(core.height / 2);
  const quarters: Rect[] = [
    { x: core.x, y: core.y, width: halfWidth, height: halfHeight },
    { x: core.x + halfWidth, y: core.y, width: core.width - halfWidth, height: halfHeight },
    { x: core.x, y: core.y + halfHeight, width: halfWidth, height: core.height - halfHeight },
    {
      x: core.x + halfWidth,
      y: core.y + halfHeight,
      width: core.width - halfWidth,
      height: core.height - halfHeight,
    },
  ];
  return quarters
    .filter((q) => q.width > 0 && q.height > 0)
    .map((q) => ({ core: q, padded: padRect(q, overlap, image) }));
}

/** Copies `core` (absolute coordinates) out of a plane covering `padded`. */
export function cropToCore(plane: Float32Array, padded: Rect, core: Rect): Float32Array {
  if (
    padded.x === core.x &&
    padded.y === core.y &&
    padded.width === core.width &&
    padded.height === core.height
  )
    return plane;
  const out = new Float32Array(core.width * core.height);
  const dx = core.x - padded.x;
  for (let row = 0; row < core.height; row++) {
    const start = (core.y - padded.y + row) * padded.width + dx;
    out.set(plane.subarray(start, start + core.width), row * core.width);
  }
  return out;
}

/** One axis of the region to split: `[start, start + length)` of an image `extent` long. */
interface Axis {
  start: number;
  length: number;
  extent: number;
  overlap: number;
}

/**
 * Cores `[start, length]` along one axis: the fewest whose padded extent (core plus the context
 * the image has beside it, at most `overlap` a side) stays within `maxPadded`, then the smallest
 * padded bound that still needs no more cores than that, so the cores come out balanced.
 */
function splitAxis(axis: Axis, maxPadded: number): [number, number][] {
  const fewest = greedyCores(axis, maxPadded).length;
  // planTiles has checked that maxPadded is at least the smallest workable tile.
  let low = smallestTileSize(axis.overlap);
  let high = maxPadded;
  // Binary search for the smallest bound that still fits in `fewest` cores.
  while (low < high) {
    const middle = Math.floor((low + high) / 2);
    if (greedyCores(axis, middle).length <= fewest) high = middle;
    else low = middle + 1;
  }
  return greedyCores(axis, high);
}

/** Left to right, each core as wide as `maxPadded` allows with its context. */
function greedyCores(
  { start, length, extent, overlap }: Axis,
  maxPadded: number,
): [number, number][] {
  const end = start + length;
  const cores: [number, number][] = [];
  let from = start;
  while (from < end) {
    const before = Math.min(overlap, from);
    const lastFits = end - from + before + Math.min(overlap, extent - end) <= maxPadded;
    // Not last: the core leaves at least one pixel for later cores, since lastFits was false.
    const width = lastFits ? end - from : maxPadded - before - overlap;
    cores.push([from, width]);
    from += width;
  }
  return cores;
}
