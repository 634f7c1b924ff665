/**
 * The ONNX Runtime half of `npm run bench:speed` for one output size, in a fresh process so
 * that its memory readings belong to that size alone. Prints one JSON line (SizeMeasurement).
 *
 *   node --expose-gc --import tsx bench/speedSize.ts '<SizeRequest as JSON>'
 *
 * 1. Untiled inference: one model run on the whole image, in an inference worker (timed inside
 *    it), and the peak resident memory it needs; then that worker is closed.
 * 2. The pipeline in a new engine: the image once (what a batch's first photo costs, session
 *    start included); a crop whose one tile is the full tile size, after which the model's
 *    working set is the largest any tile needs and the resident memory (garbage collected) is
 *    the tile-bound baseline; the image `repeat` times, with the peak resident memory since.
 * 3. Pure tiled inference and the pipeline, alternating `repeat` times so that both see the same
 *    machine: the tiles the engine plans, one model run each in a second worker, summed.
 * Every time is the fastest of its runs.
 */
import path from 'node:path';
import sharp from 'sharp';
import { createEngine } from '../src/main/engine/index.ts';
import { InferenceClient } from '../src/main/engine/inferenceClient.ts';
import { modelIoNames } from '../src/main/engine/engine.ts';
import { ModelRegistry } from '../src/main/engine/modelRegistry.ts';
import { planTiles, type Tile } from '../src/main/engine/tiling.ts';
import {
  DEFAULT_UPSCALE_OPTIONS,
  type Precision,
  type QualityPreset,
  type UpscaleResult,
} from '../src/shared/upscaleOptions.ts';
import { memoryStatus, resetPeak } from './memory.ts';

export interface SizeRequest {
  modelsDir: string;
  model: string;
  preset: QualityPreset;
  /** `auto`: the variant's int8 file where the card ships one. */
  precision: Precision;
  threads: number;
  /** Output side; the input is a PNG of size/2 × size/2. */
  size: number;
  tile: number;
  /** Context pixels around each tile (the engine's own choice). */
  overlap: number;
  repeat: number;
  input: string;
  workDir: string;
}

export interface SizeMeasurement {
  untiledMs: number;
  /** Peak resident memory of the untiled runs (bytes); null where the OS does not tell. */
  untiledPeakBytes: number | null;
  tiles: number;
  /** Model input pixels of all tiles over output pixels, minus 1: the overlap's repeated work. */
  repeatedPixels: number;
  tiledMs: number;
  first: UpscaleResult;
  fastest: UpscaleResult;
  /** Resident memory after the full-size tile, garbage collected (bytes). */
  tileBaselineBytes: number | null;
  /** Peak resident memory of the pipeline runs after the baseline (bytes). */
  peakBytes: number | null;
}

const request = JSON.parse(process.argv[2]!) as SizeRequest;
const { size, tile, overlap, repeat } = request;
const collectGarbage = (globalThis as { gc?: () => void }).gc ?? (() => undefined);
const registry = await ModelRegistry.load([request.modelsDir]);
const resolved = await registry.resolve(
  request.model,
  request.preset,
  'cpu',
  2,
  request.precision !== 'fp32',
);
/** Input pixels per output pixel along an axis: 1, or s for an input-resolution model. */
const modelScale = resolved.lowResScale ?? 1;

/** Studio-range luma noise, made without garbage: GC threads would compete with inference. */
function randomLuma(n: number): Float32Array {
  const plane = new Float32Array(n);
  for (let i = 0; i < n; i++) plane[i] = 16 / 255 + (Math.random() * 219) / 255;
  return plane;
}

async function openClient(): Promise<InferenceClient> {
  const client = new InferenceClient({ device: 'cpu', threads: request.threads });
  await client.open(resolved.path, modelIoNames(resolved.model.card));
  await runModel(client, 64, 64);
  return client;
}

/**
 * Worker-timed milliseconds of one model run on an input of height × width model-input pixels
 * (an input-resolution model also gets its bicubic input, modelScale times larger).
 */
async function runModel(client: InferenceClient, height: number, width: number): Promise<number> {
  const bicubic =
    modelScale > 1
      ? { data: randomLuma(height * width * modelScale * modelScale), scale: modelScale }
      : undefined;
  const input = randomLuma(height * width);
  return (await client.run(resolved.path, input, 1, height, width, bicubic)).elapsedMs;
}

/** Worker-timed milliseconds of one model run per tile, summed. */
async function runTiles(client: InferenceClient, tiles: readonly Tile[]): Promise<number> {
  let ms = 0;
  for (const { padded } of tiles) ms += await runModel(client, padded.height, padded.width);
  return ms;
}

// 1. Untiled.
const untiledClient = await openClient();
const peakReset = resetPeak();
let untiledMs = Infinity;
const inputSide = size / modelScale;
for (let i = 0; i < repeat; i++) {
  untiledMs = Math.min(untiledMs, await runModel(untiledClient, inputSide, inputSide));
}
const untiledPeakBytes = peakReset ? (memoryStatus()?.peak ?? null) : null;
await untiledClient.close();
collectGarbage();

// 2. The pipeline, and its memory.
const engine = await createEngine({
  modelsDirs: [request.modelsDir],
  device: 'cpu',
  threads: request.threads,
});
const options = {
  ...DEFAULT_UPSCALE_OPTIONS,
  model: request.model,
  quality: request.preset,
  precision: request.precision,
  format: 'png' as const,
  tileSize: tile,
};
const output = path.join(request.workDir, `out-${process.pid}.png`);
let fastest: UpscaleResult | null = null;
const pipelineRun = async () => {
  const result = await engine.upscaleFile(request.input, output, options);
  if (fastest === null || result.elapsedMs < fastest.elapsedMs) fastest = result;
};
try {
  const first = await engine.upscaleFile(request.input, output, options);

  // A crop whose one tile is the largest this image's tiles get (the tile size, or the whole
  // image where one tile covers it): a core of that side − 2·overlap output px in the middle
  // of a photo twice as wide, so there is real context on every side.
  const baselineSide = Math.min(tile, size);
  const tileInput = path.join(request.workDir, `tile-${process.pid}.png`);
  await sharp(Buffer.alloc(baselineSide * baselineSide * 3, 128), {
    raw: { width: baselineSide, height: baselineSide, channels: 3 },
  })
    .png()
    .toFile(tileInput);
  const core = Math.floor((baselineSide - 2 * overlap) / 2);
  const start = Math.floor((baselineSide - core) / 2);
  await engine.upscaleRegion(tileInput, { x: start, y: start, width: core, height: core }, options);
  collectGarbage();
  const baseline = memoryStatus();
  const pipelinePeakReset = resetPeak();
  for (let i = 0; i < repeat; i++) await pipelineRun();
  const afterPipeline = memoryStatus();

  // 3. Pure tiled inference next to the pipeline.
  // Tiles in the model's input pixels, as the engine plans them.
  const image = { width: inputSide, height: inputSide };
  const tiles = planTiles({ x: 0, y: 0, ...image }, image, tile, overlap);
  const tiledClient = await openClient();
  let tiledMs = Infinity;
  for (let i = 0; i < repeat; i++) {
    tiledMs = Math.min(tiledMs, await runTiles(tiledClient, tiles));
    await pipelineRun();
  }
  await tiledClient.close();

  const paddedPixels = tiles.reduce((sum, t) => sum + t.padded.width * t.padded.height, 0);
  const measurement: SizeMeasurement = {
    untiledMs,
    untiledPeakBytes,
    tiles: tiles.length,
    repeatedPixels: paddedPixels / (inputSide * inputSide) - 1,
    tiledMs,
    first,
    fastest: fastest!,
    tileBaselineBytes: baseline?.rss ?? null,
    peakBytes: pipelinePeakReset && afterPipeline ? afterPipeline.peak : null,
  };
  console.log(JSON.stringify(measurement));
} finally {
  await engine.close();
}
