/**
 * Chroma restoration for photo files: the colour half of what a JPEG loses.
 *
 * The super-resolution models see Y only; Cb and Cr reach the output through the bicubic
 * upscaling of the decoded file. A JPEG keeps chroma at half resolution (4:2:0) and quantises
 * it harder than luma, so without this step the output keeps the file's 16-pixel colour blocks
 * and the colour that bleeds across edges. The chroma restorer (training/chroma.py) takes the
 * decoded Y, Cb, Cr at the input's resolution and returns Cb, Cr as they were before
 * compression; the engine then upscales those as before. Working at input resolution, one small
 * file serves every scale, and costs a few percent of the Y model's work.
 *
 * The restored planes are computed once per photo (or per Compare region), tile by tile with the
 * model's receptive radius as context so tiled equals untiled, and kept as 16-bit samples (4
 * bytes an input pixel, beside the decoded samples' 3) behind the same `LowResSource`
 * interface: the tiled upscale reads them exactly as it read the file's own chroma.
 */
import type { Rect } from './bicubic.ts';
import type { LowResSource, PlaneName } from './tiledUpscale.ts';

/** Runs the restorer on a [1, 3, height, width] Y, Cb, Cr input; resolves to [1, 2, height, width]. */
export type ChromaModel = (
  ycbcr: Float32Array,
  height: number,
  width: number,
) => Promise<Float32Array>;

export interface ChromaRestorationOptions {
  /** Context a side, in input pixels (the card's receptive radius). */
  overlap: number;
  /** Core tile side in input pixels. */
  tileSize?: number;
  /** Restore only this part of the image (Compare crops); reads elsewhere get the file's chroma. */
  area?: Rect;
  signal?: AbortSignal;
}

/** Bytes the restored planes hold per input pixel (two 16-bit planes). */
export const RESTORED_CHROMA_BYTES_PER_PIXEL = 4;

const DEFAULT_TILE = 256;
const LEVELS = 65535;

/**
 * A source whose Cb and Cr are the restorer's output over `options.area` (default: all of it);
 * Y and alpha are the original source's.
 */
export async function restoreChroma(
  source: LowResSource,
  model: ChromaModel,
  options: ChromaRestorationOptions,
): Promise<LowResSource> {
  const asked = options.area ?? { x: 0, y: 0, width: source.width, height: source.height };
  // From an even corner: tiles then start on even pixels whatever the area (see below).
  const area = clipTo(
    {
      x: asked.x - (asked.x % 2),
      y: asked.y - (asked.y % 2),
      width: asked.width + (asked.x % 2),
      height: asked.height + (asked.y % 2),
    },
    source,
  );
  if (area.width <= 0 || area.height <= 0) return source;
  const count = area.width * area.height;
  const planes = { cb: new Uint16Array(count), cr: new Uint16Array(count) };
  const tile = Math.max(2, (options.tileSize ?? DEFAULT_TILE) & ~1);
  // Even context: the restorer's body runs at half resolution, so tiles start on even pixels
  // of the padded rectangle and the 2x2 cells line up the same way in every tile.
  const overlap = options.overlap + (options.overlap % 2);
  for (let y = area.y; y < area.y + area.height; y += tile) {
    for (let x = area.x; x < area.x + area.width; x += tile) {
      options.signal?.throwIfAborted();
      const core = {
        x,
        y,
        width: Math.min(tile, area.x + area.width - x),
        height: Math.min(tile, area.y + area.height - y),
      };
      const padded = clipTo(
        {
          x: core.x - overlap,
          y: core.y - overlap,
          width: core.width + 2 * overlap,
          height: core.height + 2 * overlap,
        },
        source,
      );
      // The model's half-resolution body needs even sides: repeat the last row/column.
      const height = padded.height + (padded.height % 2);
      const width = padded.width + (padded.width % 2);
      const input = new Float32Array(3 * height * width);
      (['y', 'cb', 'cr'] as const).forEach((plane, c) =>
        copyPadded(
          source,
          plane,
          padded,
          input.subarray(c * height * width, (c + 1) * height * width),
          width,
          height,
        ),
      );
      const output = await model(input, height, width);
      options.signal?.throwIfAborted();
      for (const [c, plane] of [planes.cb, planes.cr].entries()) {
        const base = c * height * width;
        for (let row = 0; row < core.height; row++) {
          const from = base + (core.y - padded.y + row) * width + (core.x - padded.x);
          const to = (core.y - area.y + row) * area.width + (core.x - area.x);
          for (let col = 0; col < core.width; col++) {
            const v = output[from + col]!;
            plane[to + col] = Math.round((v < 0 ? 0 : v > 1 ? 1 : v) * LEVELS);
          }
        }
      }
    }
  }
  return restoredSource(source, area, planes);
}

function restoredSource(
  source: LowResSource,
  area: Rect,
  planes: { cb: Uint16Array; cr: Uint16Array },
): LowResSource {
  return {
    width: source.width,
    height: source.height,
    hasAlpha: source.hasAlpha,
    read(plane: PlaneName, asked: Rect) {
      if (plane !== 'cb' && plane !== 'cr') return source.read(plane, asked);
      const rect = clipTo(asked, source);
      const inside =
        rect.x >= area.x &&
        rect.y >= area.y &&
        rect.x + rect.width <= area.x + area.width &&
        rect.y + rect.height <= area.y + area.height;
      // A read that leaves the restored area (only Compare's region can) takes the file's chroma:
      // mixing both in one read would draw a seam.
      if (!inside) return source.read(plane, asked);
      const samples = planes[plane];
      const data = new Float32Array(rect.width * rect.height);
      for (let row = 0, i = 0; row < rect.height; row++) {
        let s = (rect.y - area.y + row) * area.width + (rect.x - area.x);
        for (let col = 0; col < rect.width; col++, i++, s++) data[i] = samples[s]! / LEVELS;
      }
      return { data, covers: rect };
    },
  };
}

/** Copies `plane` over `rect` into a width x height buffer, repeating the last row and column. */
function copyPadded(
  source: LowResSource,
  plane: PlaneName,
  rect: Rect,
  into: Float32Array,
  width: number,
  height: number,
): void {
  const { data, covers } = source.read(plane, rect);
  for (let row = 0; row < height; row++) {
    const r = Math.min(row, rect.height - 1) + rect.y - covers.y;
    for (let col = 0; col < width; col++) {
      const c = Math.min(col, rect.width - 1) + rect.x - covers.x;
      into[row * width + col] = data[r * covers.width + c]!;
    }
  }
}

function clipTo(rect: Rect, size: { width: number; height: number }): Rect {
  const x = Math.max(0, rect.x);
  const y = Math.max(0, rect.y);
  return {
    x,
    y,
    width: Math.max(0, Math.min(size.width, rect.x + rect.width) - x),
    height: Math.max(0, Math.min(size.height, rect.y + rect.height) - y),
  };
}
