/**
 * "Pause now" keeps a photo's finished part: the batch queue aborts the engine with a reason
 * that asks for it (`KeepWorkRequest`), and the engine, instead of removing the photo's raster
 * file, keeps it and its finished rows for the next run of the same photo (see
 * src/main/engine/keptRaster.ts), then throws `WorkKept` saying how much it kept. Any other
 * abort (Cancel, Remove, closing the app) still throws the finished tiles away.
 */

/** The abort reason of "Pause now" (and the command line's second Ctrl-C). */
export class KeepWorkRequest extends Error {
  override readonly name = 'KeepWorkRequest';
  readonly keepWork = true;
}

/** Whether an abort reason asks the engine to keep the photo's finished part. */
export function asksToKeepWork(reason: unknown): boolean {
  return (
    typeof reason === 'object' &&
    reason !== null &&
    (reason as { keepWork?: unknown }).keepWork === true
  );
}

/** Thrown by the engine for a photo stopped by a `KeepWorkRequest` once its finished part is kept. */
export class WorkKept extends Error {
  override readonly name = 'WorkKept';
  constructor(
    /** The part of the photo's output rows kept, in (0, 1]. */
    readonly fraction: number,
    options?: ErrorOptions,
  ) {
    super(`stopped with ${Math.round(fraction * 100)} % of the photo kept for the resume`, options);
  }
}

/** The kept fraction when `error` is the engine's `WorkKept`, else null. */
export function keptFractionOf(error: unknown): number | null {
  return error instanceof WorkKept ? error.fraction : null;
}

/**
 * 0..1 of a photo resumed after "Pause now", for its bar and its job's total (the same sum on
 * both sides of the IPC). The kept part is the rows the pause kept (`keptFraction`, what the
 * paused row showed), not the engine's share of tiles reused (a band of tiles feeds fewer rows
 * than its share of the tiles): the bar goes on from where it stood, with no jump at Resume.
 * Before the engine's first count (decoding), the kept rows; once it counted, nothing kept when
 * it started over (no tile reused). `ran`: the rest's part already run (its time, when known).
 */
export function resumedFraction(
  keptFraction: number | undefined,
  tiles: { tilesDone: number; tilesTotal: number; tilesReused?: number },
  ran: number | null,
): number {
  const reused = tiles.tilesReused ?? 0;
  const kept =
    tiles.tilesTotal === 0
      ? (keptFraction ?? 0)
      : reused === 0
        ? 0
        : (keptFraction ?? reused / tiles.tilesTotal);
  const rest =
    ran ??
    (tiles.tilesTotal > reused ? (tiles.tilesDone - reused) / (tiles.tilesTotal - reused) : 0);
  return kept + (1 - kept) * rest;
}
