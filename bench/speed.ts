/**
 * `npm run bench:speed [-- --sizes 256,512,1024 --threads 2 --tile 512 --model cmsc]`
 *
 * For each output size: pure ONNX Runtime time (one tile, inside the worker), output
 * megapixels per second and effective GFLOP/s; the same weights in PyTorch eager on the same
 * input size (ratio ORT / PyTorch, > 1 means ORT is faster); the whole pipeline (PNG decode →
 * bicubic → inference → encode → rename) untiled and tiled, as overhead over pure inference;
 * and the process's peak resident memory so far. Each time is the best of --repeat runs.
 * Prints a table; asserts nothing.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { createEngine, DEFAULT_MAX_OVERLAP } from '../src/main/engine/index.ts';
import { InferenceClient } from '../src/main/engine/inferenceClient.ts';
import { ModelRegistry } from '../src/main/engine/modelRegistry.ts';
import { DEFAULT_UPSCALE_OPTIONS, type QualityPreset } from '../src/shared/upscaleOptions.ts';
import {
  type BenchModel,
  findBenchModel,
  PYTHON,
  randomWeightModel,
  REPO_ROOT,
  torchWeightsAvailable,
} from './benchModel.ts';
import { fixed, formatTable } from './table.ts';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '256,512,1024' },
    threads: { type: 'string', default: String(Math.min(2, availableParallelism())) },
    tile: { type: 'string', default: '512' },
    model: { type: 'string', default: 'cmsc' },
    models: { type: 'string', default: path.join(REPO_ROOT, 'models') },
    preset: { type: 'string', default: 'best' },
    repeat: { type: 'string', default: '2' },
  },
});
const repeat = Math.max(1, Number(values.repeat));
/** The fastest of `repeat` runs: the first run of a shape pays ORT's allocation planning. */
async function fastest<T>(run: () => Promise<T>, seconds: (result: T) => number): Promise<T> {
  let best: T | null = null;
  for (let i = 0; i < repeat; i++) {
    const result = await run();
    if (best === null || seconds(result) < seconds(best)) best = result;
  }
  return best!;
}
const sizes = values.sizes.split(',').map(Number);
const threads = Number(values.threads);
const tile = Number(values.tile);
const preset = values.preset as QualityPreset;

let model: BenchModel | null = await findBenchModel(values.models, values.model);
if (!model) {
  console.log(
    `${path.join(values.models, `${values.model}.json`)} is not installed: timing a random-weight paper-size CMSC instead.`,
  );
  model = await randomWeightModel('paper');
}
const registry = await ModelRegistry.load([model.modelsDir]);
const resolved = await registry.resolve(model.name, preset);
const flopsPerPixel = resolved.variant.flopsPerPixel;
const overlap = Math.min(resolved.model.card.receptiveFieldRadius, DEFAULT_MAX_OVERLAP);
console.log(
  `model: ${model.note}; ${resolved.variant.file}, ${resolved.variant.stages} stage(s), ${(flopsPerPixel / 1e6).toFixed(2)} MFLOP per output pixel`,
);
console.log(
  `load average at start: ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')} on ${availableParallelism()} cores (other work skews every number)`,
);
console.log(
  `threads: ${threads}; best of ${repeat} runs; tile ${tile} px with ${overlap} px overlap; x2 from a ${sizes.map((s) => `${s / 2}²`).join('/')} PNG for the pipeline rows\n`,
);

// Pure inference: one tile covering the whole image, timed inside the worker.
const client = new InferenceClient({ device: 'cpu', threads });
await client.open(resolved.path, {
  input: resolved.model.card.input.name,
  output: resolved.model.card.output.name,
});
const random = (n: number) =>
  Float32Array.from({ length: n }, () => 16 / 255 + (Math.random() * 219) / 255);
await client.run(resolved.path, random(64 * 64), 1, 64, 64); // warm-up
const ortSeconds = new Map<number, number>();
for (const size of sizes) {
  const { elapsedMs } = await fastest(
    () => client.run(resolved.path, random(size * size), 1, size, size),
    (r) => r.elapsedMs,
  );
  ortSeconds.set(size, elapsedMs / 1000);
}
await client.close();

// PyTorch eager, same weights, same sizes, one process.
let torchSeconds: Record<string, number> = {};
let torchNote = '';
if (torchWeightsAvailable(model)) {
  const weightArgs =
    'checkpoint' in model.torchWeights
      ? ['--checkpoint', model.torchWeights.checkpoint]
      : ['--weights', model.torchWeights.weights];
  const printed = execFileSync(
    PYTHON,
    [
      path.join(REPO_ROOT, 'bench/torch_reference.py'),
      'time',
      ...weightArgs,
      '--stages',
      String(resolved.variant.stages),
      '--sizes',
      values.sizes,
      '--threads',
      String(threads),
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const parsed = JSON.parse(printed.trim().split('\n').at(-1)!) as {
    seconds: Record<string, number>;
    torch: string;
  };
  torchSeconds = parsed.seconds;
  torchNote = `PyTorch ${parsed.torch} eager, ${threads} threads`;
} else {
  torchNote = `PyTorch row skipped: no checkpoint for ${model.name} in training/checkpoints/`;
}

// The whole pipeline through the engine, untiled and tiled.
const engine = await createEngine({ modelsDirs: [model.modelsDir], device: 'cpu', threads });
const work = await mkdtemp(path.join(tmpdir(), 'cmsc-speed-'));
const rows: string[][] = [];
try {
  for (const size of sizes) {
    const input = path.join(work, `in-${size}.png`);
    const pixels = Buffer.from(
      Float32Array.from(random((size / 2) * (size / 2) * 3), (v) => v * 255),
    );
    await sharp(pixels, { raw: { width: size / 2, height: size / 2, channels: 3 } })
      .png()
      .toFile(input);
    const options = {
      ...DEFAULT_UPSCALE_OPTIONS,
      model: model.name,
      quality: preset,
      format: 'png' as const,
    };
    const untiled = await fastest(
      () =>
        engine.upscaleFile(input, path.join(work, 'untiled.png'), {
          ...options,
          tileSize: size + 2 * overlap,
        }),
      (r) => r.elapsedMs,
    );
    const tiled = await fastest(
      () => engine.upscaleFile(input, path.join(work, 'tiled.png'), { ...options, tileSize: tile }),
      (r) => r.elapsedMs,
    );
    const ort = ortSeconds.get(size)!;
    const torch = torchSeconds[String(size)];
    const megapixels = (size * size) / 1e6;
    rows.push([
      `${size}²`,
      fixed(ort, 2),
      fixed(megapixels / ort, 3),
      fixed((flopsPerPixel * size * size) / ort / 1e9, 0),
      fixed(torch, 2),
      fixed(torch === undefined ? null : torch / ort, 2),
      fixed(untiled.elapsedMs / 1000, 2),
      `${fixed((untiled.elapsedMs / 1000 / ort - 1) * 100, 1)} %`,
      `${tiled.tiles}`,
      fixed(tiled.elapsedMs / 1000, 2),
      `${fixed((tiled.elapsedMs / untiled.elapsedMs - 1) * 100, 1)} %`,
      fixed(process.resourceUsage().maxRSS / 1024, 0),
    ]);
  }
} finally {
  await engine.close();
  await rm(work, { recursive: true, force: true });
}
console.log(
  formatTable(
    [
      'output',
      'ORT s',
      'MP/s',
      'GFLOP/s',
      'torch s',
      'ORT/torch',
      'pipeline s',
      'pipe overhead',
      'tiles',
      'tiled s',
      'tiling overhead',
      'peak RSS MiB',
    ],
    rows,
  ),
);
console.log(`\n${torchNote}. ORT/torch = PyTorch time / ORT time (>1: ORT faster).`);
console.log(
  'pipeline = decode → bicubic → untiled inference → encode → rename; overhead relative to pure ORT time.',
);
console.log(
  `load average at end: ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`,
);
console.log(
  'peak RSS is the process maximum so far (main thread + inference worker), cumulative down the table.',
);
