/**
 * `npm run bench:quality -- --dataset ../shared/datasets/Set5 --scales 2,3,4 [--model cmsc]`
 *
 * The paper's protocol through the TypeScript pipeline and ONNX Runtime: HR decoded with
 * sharp and converted to Y (BT.601), cropped to a multiple of the scale; LR by MATLAB-style
 * bicubic down-scaling; the LR bicubic-upscaled and run through CMSC in tiles in the
 * inference worker; PSNR and SSIM on 8-bit Y with `scale` border pixels removed. Printed
 * beside the paper's Table III, the Python evaluation in the model card, and bicubic.
 * Any folder of HR images works as a dataset.
 */
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { InferenceClient } from '../src/main/engine/inferenceClient.ts';
import { psnrY, ssimY } from '../src/main/engine/metrics.ts';
import { ModelRegistry, type ResolvedVariant } from '../src/main/engine/modelRegistry.ts';
import { modelIoNames } from '../src/main/engine/engine.ts';
import { PRECISIONS, QUALITY_PRESETS, type Precision } from '../src/shared/upscaleOptions.ts';
import { REPO_ROOT } from './benchModel.ts';
import { runPhotoBench } from './photoInputs.ts';
import { bicubicBaseline, degrade, loadHr, PYTHON_BICUBIC, upscaleY } from './srProtocol.ts';
import { fixed, formatTable } from './table.ts';

/** The paper's Table III (PSNR dB), only the entries we have verified; others print n/a. */
const PAPER_TABLE: Record<string, Record<string, Record<number, number>>> = {
  'Bicubic (paper)': {
    Set5: { 2: 33.68, 3: 30.4, 4: 28.43 },
    Set14: { 2: 30.24, 3: 27.54, 4: 26.0 },
  },
  'CMSC (paper)': { Set5: { 2: 37.89, 3: 34.24, 4: 31.91 } },
};
const IMAGE_EXTENSIONS = new Set(['.png', '.bmp', '.jpg', '.jpeg', '.tif', '.tiff', '.webp']);
const TILE_SIZE = 512;

function parsePrecision(value: string): Precision {
  const precision = PRECISIONS.find((p) => p === value);
  if (precision === undefined)
    throw new Error(`--precision ${value}: one of ${PRECISIONS.join(', ')}`);
  return precision;
}

const { values } = parseArgs({
  options: {
    dataset: { type: 'string', default: path.resolve(REPO_ROOT, '../shared/datasets/Set5') },
    // Clean protocol: 2,3,4; photo files (--inputs): 2 unless given.
    scales: { type: 'string' },
    model: { type: 'string', default: 'cmsc' },
    models: { type: 'string', default: path.join(REPO_ROOT, 'models') },
    threads: { type: 'string', default: String(availableParallelism()) },
    // Photo files (see photoInputs.ts): e.g. --inputs png,q90,q75,q50 --datasets Set5,Set14.
    inputs: { type: 'string' },
    datasets: { type: 'string', default: 'Set5,Set14' },
    'photo-models': { type: 'string', default: '' },
    // With --inputs: write each model's rows into its card (models/<name>.json, photoInputs).
    record: { type: 'boolean', default: false },
    // With --inputs: auto (int8 where a card ships it, as users get) or fp32.
    precision: { type: 'string', default: 'auto' },
    // With --inputs: the output file's encoder quality (JPEG inputs are written as JPEG).
    'encode-quality': { type: 'string' },
  },
});
if (values.inputs !== undefined) {
  await runPhotoBench({
    datasets: values.datasets
      .split(',')
      .map((d) =>
        d.includes('/') ? path.resolve(d) : path.resolve(REPO_ROOT, '../shared/datasets', d),
      ),
    inputs: values.inputs.split(','),
    scales: (values.scales ?? '2').split(',').map(Number),
    modelsDir: values.models,
    threads: Number(values.threads),
    models: values['photo-models'] ? values['photo-models'].split(',') : [],
    recordCommand: values.record
      ? `npm run bench:quality -- ${process.argv.slice(2).join(' ')}`
      : null,
    precision: parsePrecision(values.precision),
    ...(values['encode-quality'] === undefined
      ? {}
      : { encodeQuality: Number(values['encode-quality']) }),
  });
  process.exit(0);
}
const dataset = path.resolve(values.dataset);
const datasetName = path.basename(dataset);
const scales = (values.scales ?? '2,3,4').split(',').map(Number);
if (!existsSync(dataset)) {
  console.error(
    `dataset folder ${dataset} does not exist (the benchmark sets live in ../shared/datasets)`,
  );
  process.exit(1);
}
const files = (await readdir(dataset))
  .filter((f) => IMAGE_EXTENSIONS.has(path.extname(f).toLowerCase()))
  .sort();
if (files.length === 0) {
  console.error(`no images in ${dataset}`);
  process.exit(1);
}

const registry = await ModelRegistry.load([values.models]);
const registered = registry.models.find((m) => m.card.name === values.model);
if (!registered) {
  console.log(
    `${path.join(values.models, `${values.model}.json`)} is not installed: only the bicubic rows are measured.\n`,
  );
}
const client = new InferenceClient({ device: 'cpu', threads: Number(values.threads) });
/**
 * The files measured at one scale: each preset's stages, in fp32 and (where the card ships it)
 * int8. An input-resolution model's file depends on the scale (see modelScaleFor).
 */
async function variantsAt(scale: number): Promise<ResolvedVariant[]> {
  if (!registered) return [];
  const found: ResolvedVariant[] = [];
  for (const preset of QUALITY_PRESETS) {
    for (const int8 of [false, true]) {
      const resolved = await registry.resolve(values.model, preset, 'cpu', scale, int8);
      if (found.some((v) => v.path === resolved.path)) continue;
      await client.open(resolved.path, modelIoNames(resolved.model.card));
      found.push(resolved);
    }
  }
  return found;
}
const variantsByScale = new Map<number, ResolvedVariant[]>();
for (const scale of scales) variantsByScale.set(scale, await variantsAt(scale));
const variants = [
  ...new Map([...variantsByScale.values()].flat().map((v) => [v.path, v])).values(),
];

/** method → scale → [psnr sum, ssim sum]. */
const sums = new Map<string, Map<number, [number, number]>>();
const add = (method: string, scale: number, psnr: number, ssim: number) => {
  const byScale = sums.get(method) ?? new Map<number, [number, number]>();
  const [p, s] = byScale.get(scale) ?? [0, 0];
  byScale.set(scale, [p + psnr, s + ssim]);
  sums.set(method, byScale);
};

for (const file of files) {
  const hr = await loadHr(path.join(dataset, file));
  for (const scale of scales) {
    const { hrY, lr } = degrade(hr, scale);
    const { width, height } = hrY;
    const bicubic = bicubicBaseline(lr, hrY);
    add('Bicubic (TypeScript)', scale, psnrY(hrY, bicubic, scale), ssimY(hrY, bicubic, scale));
    for (const variant of variantsByScale.get(scale) ?? []) {
      const { y: output } = await upscaleY(client, variant, lr, { width, height }, TILE_SIZE);
      add(methodName(variant), scale, psnrY(hrY, output, scale), ssimY(hrY, output, scale));
    }
  }
  process.stderr.write(`  ${file} done\n`);
}
await client.close();

function methodName(variant: ResolvedVariant): string {
  const precision = variant.int8 ? ' int8' : '';
  return `${variant.model.card.name} ${variant.variant.stages} stage(s)${precision} (TypeScript + ORT)`;
}

const header = ['method', ...scales.flatMap((s) => [`x${s} PSNR`, `x${s} SSIM`])];
const rows: string[][] = [];
for (const [method, table] of Object.entries(PAPER_TABLE)) {
  const byScale = table[datasetName];
  if (byScale) rows.push([method, ...scales.flatMap((s) => [fixed(byScale[s], 2), 'n/a'])]);
}
const pythonBicubic = PYTHON_BICUBIC[datasetName];
if (pythonBicubic)
  rows.push([
    'Bicubic (Python, training.evaluate)',
    ...scales.flatMap((s) => [fixed(pythonBicubic[s], 2), 'n/a']),
  ]);
for (const variant of variants.filter((v) => !v.int8)) {
  const results = variant.model.card.evaluation.results.filter(
    (r) => r.dataset === datasetName && r.stages === variant.variant.stages,
  );
  if (results.length === 0) continue;
  const at = (s: number) => results.find((r) => r.scale === s);
  rows.push([
    `${variant.model.card.name} ${variant.variant.stages} stage(s) (Python, model card)`,
    ...scales.flatMap((s) => [fixed(at(s)?.psnr, 2), fixed(at(s)?.ssim, 4)]),
  ]);
}
for (const [method, byScale] of sums) {
  rows.push([
    method,
    ...scales.flatMap((s) => {
      const [p, q] = byScale.get(s) ?? [NaN, NaN];
      return [fixed(p / files.length, 2), fixed(q / files.length, 4)];
    }),
  ]);
}
console.log(
  `${datasetName}: ${files.length} images; HR cropped to a multiple of the scale, LR by bicubic down then up, PSNR/SSIM on 8-bit Y with \`scale\` border pixels removed\n`,
);
console.log(formatTable(header, rows));
