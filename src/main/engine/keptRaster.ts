/**
 * A photo's finished rows kept across "Pause now". A photo stopped by a `KeepWorkRequest`
 * keeps its raster file (rasterFile.ts: the TIFF header, then finished rows in order) under a
 * fixed name beside the output, with a small JSON record of what makes those rows reusable:
 * the input file, every option, the model file, the target size and samples, the tile plan
 * and the rows written. The next run of the same photo to the same output claims the file
 * (renames it to its own working name, so two runs never share it), appends to it and skips
 * the bands already there. Anything that does not match, or a file of the wrong length or
 * header, is deleted and the photo starts over.
 *
 * Names: `<output's temporary name>.kept.raster.tif` and `.kept.raster.json`. The batch queue's
 * temporary outputs are `.cmsc-partial.<job>.<file>.<name>`, so the job's sweep finds them too
 * (outputPlan.ts); recovery spares them while the job can still resume (queueRecovery.ts).
 */
import { createHash } from 'node:crypto';
import { open, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { canonicalJson } from '../../shared/canonicalJson.ts';
import { TEMPORARY_OUTPUT_PREFIX } from '../../shared/outputNaming.ts';
import { asksToKeepWork, WorkKept } from '../../shared/keptWork.ts';
import type { SourceDecision, UpscaleOptions } from '../../shared/upscaleOptions.ts';
import { writeFileAtomic } from '../files/atomicWrite.ts';
import type { ResolvedVariant } from './modelRegistry.ts';
import { type RasterFileWriter, tiffHeader } from './rasterFile.ts';

/** In the names of kept rasters and their records. */
export const KEPT_RASTER_MARKER = '.kept.raster.';
const RECORD_VERSION = 1;

export interface KeptRasterPaths {
  raster: string;
  record: string;
}

/** What must be the same for kept rows to be the rows this run would write. */
export interface KeptRasterIdentity {
  input: { path: string; bytes: number; mtimeMs: number };
  /** sha256 of every option, keys sorted. */
  optionsDigest: string;
  model: {
    path: string;
    stages: number;
    int8: boolean;
    lowResScale: number | null;
    chroma: string | null;
  };
  source: SourceDecision['kind'] | null;
  target: { width: number; height: number };
  channels: 3 | 4;
  bitDepth: 8 | 16;
  /** The tile plan: with the target and the model's scale it fixes every band. */
  tileSize: number;
  overlap: number;
}

interface KeptRasterRecord {
  version: number;
  identity: KeptRasterIdentity;
  rowsWritten: number;
  fileBytes: number;
}

/** Where a photo written to `outputPath` keeps its finished rows. */
export function keptRasterPaths(outputPath: string): KeptRasterPaths {
  const name = path.basename(outputPath);
  const base = path.join(
    path.dirname(outputPath),
    `${name.startsWith(TEMPORARY_OUTPUT_PREFIX) ? '' : TEMPORARY_OUTPUT_PREFIX}${name}`,
  );
  return { raster: `${base}${KEPT_RASTER_MARKER}tif`, record: `${base}${KEPT_RASTER_MARKER}json` };
}

export function keptRasterIdentity(
  input: { path: string; bytes: number; mtimeMs: number },
  options: UpscaleOptions,
  variant: ResolvedVariant,
  source: SourceDecision | null,
  raster: Pick<KeptRasterIdentity, 'target' | 'channels' | 'bitDepth' | 'tileSize' | 'overlap'>,
): KeptRasterIdentity {
  return {
    input: { path: path.resolve(input.path), bytes: input.bytes, mtimeMs: input.mtimeMs },
    optionsDigest: createHash('sha256').update(canonicalJson(options)).digest('hex'),
    model: {
      path: variant.path,
      stages: variant.variant.stages,
      int8: variant.int8 === true,
      lowResScale: variant.lowResScale ?? null,
      chroma: variant.chroma?.path ?? null,
    },
    source: source?.kind ?? null,
    target: { width: raster.target.width, height: raster.target.height },
    channels: raster.channels,
    bitDepth: raster.bitDepth,
    tileSize: raster.tileSize,
    overlap: raster.overlap,
  };
}

/** Bytes the kept raster holds on disk (0 when there is none): the disk check needs that much less. */
export async function keptRasterBytes(paths: KeptRasterPaths): Promise<number> {
  const info = await stat(paths.raster).catch(() => null);
  return info?.isFile() ? info.size : 0;
}

/**
 * Takes the kept raster for this run when it matches `identity`: it is renamed to
 * `workingPath` and the number of rows it holds is returned (the writer appends after them).
 * Otherwise whatever was kept is deleted and 0 is returned: the photo starts over.
 */
export async function claimKeptRaster(
  paths: KeptRasterPaths,
  identity: KeptRasterIdentity,
  workingPath: string,
): Promise<number> {
  const rows = await usableRows(paths, identity).catch(() => 0);
  if (rows > 0) {
    try {
      await rename(paths.raster, workingPath);
    } catch {
      // Taken by another run meanwhile, or gone: start over.
      await discardKeptRaster(paths);
      return 0;
    }
  }
  await discardKeptRaster(paths);
  return rows;
}

/** Deletes a kept raster and its record. */
export async function discardKeptRaster(paths: KeptRasterPaths): Promise<void> {
  await rm(paths.record, { force: true });
  await rm(paths.raster, { force: true });
}

/**
 * What the engine throws when a photo's tiles stopped with `error`: after a "Pause now" with
 * finished rows, the raster is closed and kept under its fixed name with its record, and a
 * `WorkKept` comes back; after anything else, `error` itself.
 */
export async function keptOrRethrown(
  error: unknown,
  signal: AbortSignal | undefined,
  raster: RasterFileWriter,
  paths: KeptRasterPaths,
  identity: KeptRasterIdentity,
): Promise<unknown> {
  if (!signal?.aborted || !asksToKeepWork(signal.reason)) return error;
  const rowsWritten = raster.rowsWritten;
  if (rowsWritten <= 0) return error;
  raster.close();
  try {
    await rename(raster.filePath, paths.raster);
    const record: KeptRasterRecord = {
      version: RECORD_VERSION,
      identity,
      rowsWritten,
      fileBytes: expectedBytes(identity, rowsWritten),
    };
    // Atomically: a record is whole or absent (a raster without one is deleted, not trusted).
    await writeFileAtomic(paths.record, `${JSON.stringify(record)}\n`);
  } catch {
    // Not kept after all (a full disk, a folder gone): the photo starts over on resume.
    await discardKeptRaster(paths).catch(() => undefined);
    return error;
  }
  return new WorkKept(rowsWritten / identity.target.height, { cause: error });
}

/** Rows the kept raster holds when its record, length and header all match; else 0. */
async function usableRows(paths: KeptRasterPaths, identity: KeptRasterIdentity): Promise<number> {
  const record = JSON.parse(await readFile(paths.record, 'utf8')) as Partial<KeptRasterRecord>;
  const rows = record.rowsWritten;
  if (
    record.version !== RECORD_VERSION ||
    canonicalJson(record.identity) !== canonicalJson(identity) ||
    typeof rows !== 'number' ||
    !Number.isInteger(rows) ||
    rows <= 0 ||
    rows > identity.target.height ||
    record.fileBytes !== expectedBytes(identity, rows)
  )
    return 0;
  const info = await stat(paths.raster);
  if (!info.isFile() || info.size !== record.fileBytes) return 0;
  const header = headerOf(identity);
  const file = await open(paths.raster, 'r');
  try {
    const found = new Uint8Array(header.byteLength);
    const { bytesRead } = await file.read(found, 0, found.byteLength, 0);
    if (bytesRead !== header.byteLength || !Buffer.from(found).equals(Buffer.from(header)))
      return 0;
  } finally {
    await file.close();
  }
  return rows;
}

function headerOf(identity: KeptRasterIdentity): Uint8Array {
  const { target, channels, bitDepth } = identity;
  return tiffHeader(target.width, target.height, channels, bitDepth);
}

function expectedBytes(identity: KeptRasterIdentity, rows: number): number {
  const { target, channels, bitDepth } = identity;
  return headerOf(identity).byteLength + rows * target.width * channels * (bitDepth / 8);
}
