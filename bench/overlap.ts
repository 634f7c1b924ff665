/**
 * `npm run bench:overlap [-- --models DIR --model cmsc --dataset ../shared/datasets/Set5]`
 *
 * How much tiled output differs from untiled output, by tile overlap: the measurement behind
 * the engine's default overlap (DEFAULT_MAX_OVERLAP). Each dataset image's centre crop is
 * upscaled x2 untiled and with small tiles (64 px cores, so every crop spans 3x3 tiles) at
 * several overlaps; the table shows the largest 8-bit difference and the share of samples
 * that differ at all.
 */
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { InferenceClient } from '../src/main/engine/inferenceClient.ts';
import { ModelRegistry } from '../src/main/engine/modelRegistry.ts';
import { OutputRaster } from '../src/main/engine/outputRaster.ts';
import { lowResInput, modelIoNames, planeModelFor } from '../src/main/engine/engine.ts';
import { type LowResImage, upscaleTiled } from '../src/main/engine/tiledUpscale.ts';
import { REPO_ROOT } from './benchModel.ts';
import { loadHr } from './srProtocol.ts';
import { formatTable } from './table.ts';

const { values } = parseArgs({
  options: {
    models: { type: 'string', default: path.join(REPO_ROOT, 'models') },
    model: { type: 'string', default: 'cmsc' },
    preset: { type: 'string', default: 'best' },
    dataset: { type: 'string', default: path.resolve(REPO_ROOT, '../shared/datasets/Set5') },
    crop: { type: 'string', default: '96' },
    overlaps: { type: 'string', default: '4,8,12,16,24,32' },
    // auto: the variant's int8 file where the card ships one.
    precision: { type: 'string', default: 'auto' },
    threads: { type: 'string', default: String(availableParallelism()) },
  },
});
if (!existsSync(values.dataset)) {
  console.error(`dataset folder ${values.dataset} does not exist`);
  process.exit(1);
}
const registry = await ModelRegistry.load([values.models]);
if (!registry.models.some((m) => m.card.name === values.model)) {
  console.error(
    `${path.join(values.models, `${values.model}.json`)} is not installed; pass --models and --model`,
  );
  process.exit(1);
}
const resolved = await registry.resolve(
  values.model,
  values.preset as 'best',
  'cpu',
  2,
  values.precision !== 'fp32',
);
const client = new InferenceClient({ device: 'cpu', threads: Number(values.threads) });
await client.open(resolved.path, modelIoNames(resolved.model.card));
const crop = Number(values.crop);
const overlaps = values.overlaps.split(',').map(Number);
const CORE = 64;

async function render(lr: LowResImage, tileSize: number, overlap: number): Promise<Uint8Array> {
  const raster = new OutputRaster(lr.width * 2, lr.height * 2, false, 8);
  await upscaleTiled(lr, {
    outWidth: lr.width * 2,
    outHeight: lr.height * 2,
    tileSize,
    overlap,
    selfEnsemble: false,
    model: planeModelFor(client, resolved),
    ...lowResInput(resolved),
    sink: (tile) => raster.write(tile),
  });
  return raster.pixels as Uint8Array;
}

const stats = new Map<number, { max: number; differing: number; total: number }>(
  overlaps.map((o) => [o, { max: 0, differing: 0, total: 0 }]),
);
const files = (await readdir(values.dataset))
  .filter((f) => /\.(png|jpe?g|bmp|tiff?)$/i.test(f))
  .sort();
for (const file of files) {
  const hr = await loadHr(path.join(values.dataset, file));
  const x0 = Math.floor((hr.width - crop) / 2);
  const y0 = Math.floor((hr.height - crop) / 2);
  const cut = (plane: Float32Array) => {
    const out = new Float32Array(crop * crop);
    for (let y = 0; y < crop; y++)
      out.set(plane.subarray((y0 + y) * hr.width + x0, (y0 + y) * hr.width + x0 + crop), y * crop);
    return out;
  };
  const lr: LowResImage = {
    width: crop,
    height: crop,
    y: cut(hr.y),
    cb: cut(hr.cb),
    cr: cut(hr.cr),
    alpha: null,
  };
  const untiled = await render(lr, 2 * crop + 2 * Math.max(...overlaps), 0);
  for (const overlap of overlaps) {
    const tiled = await render(lr, CORE + 2 * overlap, overlap);
    const s = stats.get(overlap)!;
    for (let i = 0; i < tiled.length; i++) {
      const d = Math.abs(tiled[i]! - untiled[i]!);
      if (d > s.max) s.max = d;
      if (d > 0) s.differing++;
    }
    s.total += tiled.length;
  }
  process.stderr.write(`  ${file} done\n`);
}
await client.close();
console.log(
  `${path.basename(resolved.path)}: ${resolved.model.card.name} ${resolved.variant.stages} stage(s), receptive-field radius ${resolved.model.card.receptiveFieldRadius} px (overlaps and tile cores in ${resolved.lowResScale ? 'input' : 'output'} pixels); ${files.length} centre crops of ${crop}² upscaled x2, ${CORE} px tile cores\n`,
);
console.log(
  formatTable(
    ['overlap px', 'max |tiled - untiled| (8-bit)', 'samples differing'],
    overlaps.map((o) => {
      const s = stats.get(o)!;
      return [String(o), String(s.max), `${((100 * s.differing) / s.total).toFixed(3)} %`];
    }),
  ),
);
