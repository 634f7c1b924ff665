/**
 * `npm run bench:speed [-- --sizes 256,512,1024,2048 --threads 2 --tile auto --model cmsc --repeat 2]`
 *
 * For each output size (x2 from a PNG of half the size), in a fresh process (bench/speedSize.ts):
 * - inference alone, timed inside the inference worker: untiled (one run on the whole image:
 *   megapixels/s, effective GFLOP/s, peak memory) and tiled (the tiles the engine plans at
 *   --tile, one run each, summed): tiling overhead. `--tile auto` (the default) is the size the
 *   engine picks from free memory, so the overhead is the one a user gets; the sizes below it
 *   run as one tile and the largest size is there to be split;
 * - the whole pipeline (engine.upscaleFile: decode → colour → bicubic → tiled inference →
 *   merge → PNG encode → rename), alternating with the tiled inference so both see the same
 *   machine, with its phases: overhead over the tiled inference alone; peak resident memory
 *   against a full-tile baseline;
 * and in one Python process, the same weights in PyTorch eager on the same input sizes. Then one
 * line per target: met / NOT met, with the value. Each time is the fastest of --repeat runs.
 * Prints numbers; asserts nothing.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, freemem, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_MAX_OVERLAP } from '../src/main/engine/index.ts';
import { ModelRegistry } from '../src/main/engine/modelRegistry.ts';
import { chooseTileSize } from '../src/main/engine/tileSizing.ts';
import type { Precision, QualityPreset, UpscalePhaseTimes } from '../src/shared/upscaleOptions.ts';
import {
  type BenchModel,
  findBenchModel,
  PYTHON,
  randomWeightModel,
  REPO_ROOT,
  torchWeightsAvailable,
  writeNoisePng,
} from './benchModel.ts';
import { MIB } from './memory.ts';
import type { SizeMeasurement, SizeRequest } from './speedSize.ts';
import { fixed, formatTable } from './table.ts';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '256,512,1024,2048' },
    threads: { type: 'string', default: String(Math.min(2, availableParallelism())) },
    tile: { type: 'string', default: 'auto' },
    model: { type: 'string', default: 'cmsc' },
    models: { type: 'string', default: path.join(REPO_ROOT, 'models') },
    preset: { type: 'string', default: 'best' },
    // auto: the variant's int8 file where the card ships one (what the engine runs on a CPU).
    precision: { type: 'string', default: 'auto' },
    repeat: { type: 'string', default: '2' },
    // keep: glibc malloc keeps freed memory for PyTorch, as ONNX Runtime's arena does for ORT;
    // default: PyTorch's stock allocator (on this VM fresh pages cost more than the convolutions).
    'torch-malloc': { type: 'string', default: 'keep' },
  },
});
const repeat = Math.max(1, Number(values.repeat));
const sizes = values.sizes.split(',').map(Number);
const threads = Number(values.threads);
const preset = values.preset as QualityPreset;
const precision: Precision = values.precision === 'fp32' ? 'fp32' : 'auto';
const torchMalloc = values['torch-malloc'] === 'default' ? 'default' : 'keep';
const TORCH_KEEP_MEMORY =
  'glibc.malloc.mmap_threshold=4294967296:glibc.malloc.trim_threshold=17179869184';

const TARGETS = { ortOverTorch: 1.1, tilingOverhead: 0.05, pipelineOverhead: 0.05 };
/** Output pixels of the target for the pipeline (1 megapixel). */
const PIPELINE_TARGET_PIXELS = 1024 * 1024;

let model: BenchModel | null = await findBenchModel(values.models, values.model);
if (!model) {
  console.log(
    `${path.join(values.models, `${values.model}.json`)} is not installed: timing a random-weight paper-size CMSC instead.`,
  );
  model = await randomWeightModel('paper');
}
const registry = await ModelRegistry.load([model.modelsDir]);
const resolved = await registry.resolve(model.name, preset, 'cpu', 2, precision !== 'fp32');
const flopsPerPixel = resolved.variant.flopsPerPixel;
const overlap = Math.min(resolved.model.card.receptiveFieldRadius, DEFAULT_MAX_OVERLAP);
const load = () =>
  loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');
console.log(
  `model: ${model.note}; ${path.basename(resolved.path)}${resolved.int8 ? ' (int8)' : ''}, ${resolved.variant.stages} stage(s), ${(flopsPerPixel / 1e6).toFixed(2)} MFLOP per output pixel`,
);
console.log(
  `load average at start: ${load()} on ${availableParallelism()} cores (other work skews every number)`,
);
const channels = resolved.model.card.architecture.channels;
const engineTile = chooseTileSize({
  freeMemoryBytes: freemem(),
  channels: typeof channels === 'number' ? channels : 64,
  batch: 1,
  overlap,
});
const tile = values.tile === 'auto' ? engineTile : Number(values.tile);
console.log(
  `threads: ${threads}; fastest of ${repeat} runs; tiles of at most ${tile} px with ${overlap} px overlap (${values.tile === 'auto' ? 'the engine’s choice from free memory now' : `--tile; the engine would pick ${engineTile} px from free memory now`}); x2 from a ${sizes.map((s) => `${s / 2}²`).join('/')} PNG\n`,
);

// --- PyTorch eager, same weights, same sizes, one process ----------------------------------
let torchSeconds: Record<string, number> = {};
let torchNote: string;
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
      '--repeat',
      String(repeat),
    ],
    {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      env:
        torchMalloc === 'keep'
          ? { ...process.env, GLIBC_TUNABLES: TORCH_KEEP_MEMORY }
          : process.env,
    },
  );
  const parsed = JSON.parse(printed.trim().split('\n').at(-1)!) as {
    seconds: Record<string, number>;
    torch: string;
  };
  torchSeconds = parsed.seconds;
  torchNote =
    `PyTorch ${parsed.torch} eager, ${threads} threads, ` +
    (torchMalloc === 'keep'
      ? `glibc malloc keeping freed memory (GLIBC_TUNABLES=${TORCH_KEEP_MEMORY}) as ORT's arena does; --torch-malloc default for PyTorch's stock allocator`
      : 'stock allocator (--torch-malloc keep gives it the reuse ORT has)');
} else {
  torchNote = `PyTorch column skipped: no checkpoint for ${model.name} in training/checkpoints/`;
}

// --- ONNX Runtime and the pipeline, a fresh process per size --------------------------------
const work = await mkdtemp(path.join(tmpdir(), 'cmsc-speed-'));
const measured = new Map<number, SizeMeasurement>();
try {
  for (const size of sizes) {
    const input = path.join(work, `in-${size}.png`);
    await writeNoisePng(input, size / 2);
    const request: SizeRequest = {
      modelsDir: model.modelsDir,
      model: model.name,
      preset,
      precision,
      threads,
      size,
      tile,
      overlap,
      repeat,
      input,
      workDir: work,
    };
    const printed = execFileSync(
      process.execPath,
      [
        '--expose-gc',
        '--import',
        'tsx',
        path.join(REPO_ROOT, 'bench/speedSize.ts'),
        JSON.stringify(request),
      ],
      { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
    );
    measured.set(size, JSON.parse(printed.trim().split('\n').at(-1)!) as SizeMeasurement);
  }
} finally {
  await rm(work, { recursive: true, force: true });
}

// --- Tables ----------------------------------------------------------------------------------
const percent = (ratio: number) => `${ratio >= 0 ? '+' : ''}${fixed(ratio * 100, 1)} %`;
const mib = (bytes: number | null) => (bytes === null ? 'n/a' : fixed(bytes / MIB, 0));
/** What the pipeline holds per image by design: the decoded input (8-bit RGB, float RGB, float YCbCr) and the 8-bit RGB output. */
const imageBufferBytes = (size: number) => (size / 2) ** 2 * (3 + 12 + 12) + size * size * 3;
const rows = sizes.map((size) => {
  const m = measured.get(size)!;
  const untiled = m.untiledMs / 1000;
  const tiled = m.tiledMs / 1000;
  const pipeline = m.fastest.elapsedMs / 1000;
  const torch = torchSeconds[String(size)];
  const imagePart =
    m.peakBytes === null || m.tileBaselineBytes === null ? null : m.peakBytes - m.tileBaselineBytes;
  return {
    size,
    m,
    untiled,
    tiled,
    pipeline,
    torch,
    ortOverTorch: torch === undefined ? null : torch / untiled,
    tilingOverhead: tiled / untiled - 1,
    pipelineOverhead: pipeline / tiled - 1,
    /** The pipeline's time outside the model calls, over the tiled inference: what it adds, free of run-to-run noise in the inference itself. */
    outsideInference: (m.fastest.elapsedMs - m.fastest.phasesMs.inference) / m.tiledMs,
    imagePart,
  };
});

console.log('Inference alone (timed inside the inference worker):');
console.log(
  formatTable(
    [
      'output',
      'ORT s',
      'MP/s',
      'GFLOP/s',
      'torch s',
      'ORT/torch',
      'untiled peak MiB',
      'tiles',
      'tiled s',
      'tiling overhead',
      'overlap px',
    ],
    rows.map((r) => [
      `${r.size}²`,
      fixed(r.untiled, 2),
      fixed((r.size * r.size) / 1e6 / r.untiled, 3),
      fixed((flopsPerPixel * r.size * r.size) / r.untiled / 1e9, 0),
      fixed(r.torch, 2),
      fixed(r.ortOverTorch, 2),
      mib(r.m.untiledPeakBytes),
      String(r.m.tiles),
      fixed(r.tiled, 2),
      percent(r.tilingOverhead),
      percent(r.m.repeatedPixels),
    ]),
  ),
);

/** The engine's phases, in pipeline order. */
const PHASES = Object.keys(rows[0]!.m.fastest.phasesMs) as (keyof UpscalePhaseTimes)[];
console.log(
  '\nWhole pipeline (engine.upscaleFile, PNG in and out; phases of the fastest run, ms):',
);
console.log(
  formatTable(
    [
      'output',
      'tiled s',
      'pipeline s',
      'overhead',
      'outside inference',
      'first image s',
      ...PHASES,
      'other',
      'tile base MiB',
      'peak MiB',
      'image part MiB',
      'image buffers MiB',
    ],
    rows.map((r) => {
      const run = r.m.fastest;
      // `chroma` is timed only for models with a chroma restorer.
      const phaseSum = PHASES.reduce((sum, phase) => sum + (run.phasesMs[phase] ?? 0), 0);
      return [
        `${r.size}²`,
        fixed(r.tiled, 2),
        fixed(r.pipeline, 2),
        percent(r.pipelineOverhead),
        percent(r.outsideInference),
        fixed(r.m.first.elapsedMs / 1000, 2),
        ...PHASES.map((phase) => fixed(run.phasesMs[phase], 0)),
        fixed(run.elapsedMs - phaseSum, 0),
        mib(r.m.tileBaselineBytes),
        mib(r.m.peakBytes),
        mib(r.imagePart),
        mib(imageBufferBytes(r.size)),
      ];
    }),
  ),
);

console.log('\nTargets:');
const verdict = (met: boolean) => (met ? 'met' : 'NOT met');
for (const r of rows) {
  if (r.ortOverTorch === null) continue;
  console.log(
    `target ORT / PyTorch ≥ ${TARGETS.ortOverTorch} at ${r.size}²: ${verdict(r.ortOverTorch >= TARGETS.ortOverTorch)} (${r.ortOverTorch.toFixed(2)})`,
  );
}
for (const r of rows) {
  console.log(
    r.m.tiles === 1
      ? `target tiling overhead ≤ ${TARGETS.tilingOverhead * 100} % at ${r.size}²: not measured (one tile of ≤ ${tile} px covers it)`
      : `target tiling overhead ≤ ${TARGETS.tilingOverhead * 100} % at ${r.size}² (${r.m.tiles} tiles of ≤ ${tile} px): ${verdict(r.tilingOverhead <= TARGETS.tilingOverhead)} (${percent(r.tilingOverhead)}; the ${overlap} px overlap alone makes the model compute ${percent(r.m.repeatedPixels)} more pixels)`,
  );
}
for (const r of rows) {
  const scope = r.size * r.size === PIPELINE_TARGET_PIXELS ? '' : ' (the target is for 1 MP)';
  console.log(
    `target pipeline ≤ tiled inference + ${TARGETS.pipelineOverhead * 100} % at ${r.size}²${scope}: ${verdict(r.pipelineOverhead <= TARGETS.pipelineOverhead)} (${percent(r.pipelineOverhead)}; time outside the model calls: ${percent(r.outsideInference)})`,
  );
}
for (const r of rows) {
  if (r.imagePart === null) {
    console.log(`target peak memory bounded by tile size at ${r.size}²: not measured (no /proc)`);
    continue;
  }
  const allowed = 2 * imageBufferBytes(r.size) + 16 * MIB;
  console.log(
    `target peak memory bounded by tile size at ${r.size}²: ${verdict(r.imagePart <= allowed)} (peak ${mib(r.m.peakBytes)} MiB = full-tile baseline ${mib(r.m.tileBaselineBytes)} + ${mib(r.imagePart)} MiB for the image; allowed: twice its buffers + 16 = ${mib(allowed)} MiB)`,
  );
}

console.log(`\n${torchNote}.`);
console.log(
  [
    'Definitions (each size in a fresh process; every time the fastest of its runs):',
    "- ORT s: one model run on the whole image in an inference worker, timed inside it; GFLOP/s = the card's FLOPs per output pixel × pixels / ORT s; untiled peak: that process's peak resident memory while doing it (it grows with the image).",
    '- ORT/torch: PyTorch eager time / ORT time on the same untiled input size and weights (> 1: ORT faster).',
    `- tiled s (the pure inference the pipeline is compared with): the tiles the engine plans for this image (≤ ${tile} px with ${overlap} px overlap), one model run each in a worker, timed inside it, summed — the engine's own way to run the model on the image, without decode, colour, bicubic, merge or encode. Tiling overhead = tiled s / ORT s − 1; overlap px = extra pixels the model computes because of the tiles' context.`,
    '- pipeline s: engine.upscaleFile, decode to rename, in an engine that has already done one image (a batch reuses its worker and session); runs alternate with the tiled runs. Overhead = pipeline s / tiled s − 1; outside inference = (pipeline time − time waiting on the model) / tiled s, the part the pipeline itself adds (the rest of the overhead is the model calls running slower or faster than in the tiled runs: load from other work, message passing). first image s: the first image in a new engine (worker and session start included, paid once per batch). other = pipeline time outside the listed phases.',
    '- tile base: resident memory after a crop whose one tile has the full tile size (garbage collected); peak: the highest resident memory of the timed pipeline runs after it; image part = peak − tile base; image buffers = decoded input (8-bit, float RGB, float YCbCr) + 8-bit RGB output.',
  ].join('\n'),
);
console.log(`load average at end: ${load()}`);
