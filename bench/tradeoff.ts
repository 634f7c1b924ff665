/**
 * `npm run bench:tradeoff [-- --models models --dataset ../shared/datasets/Set14 --threads 2 --svg assets/tradeoff.svg]`
 *
 * Quality against speed for every installed model, preset and precision, measured the same way
 * for each: PSNR (the paper's protocol, x2, through the TypeScript pipeline and ONNX Runtime,
 * as `bench:quality`) on the dataset, and seconds per output megapixel of the model's tiled
 * inference (the engine's tiles, timed inside the inference worker, fastest of --repeat runs on
 * a --size² output). Bicubic is the zero-cost point. Prints the table and draws it as an SVG:
 * x = seconds per output megapixel (log scale), y = PSNR, with our bicubic and the paper's
 * bicubic row as reference lines and the paper-size CMSC (the paper's architecture, our
 * training) marked. Prints numbers; asserts nothing.
 */
import { readdir, writeFile } from 'node:fs/promises';
import { availableParallelism, loadavg } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { modelIoNames } from '../src/main/engine/engine.ts';
import { InferenceClient } from '../src/main/engine/inferenceClient.ts';
import { psnrY } from '../src/main/engine/metrics.ts';
import { ModelRegistry, type ResolvedVariant } from '../src/main/engine/modelRegistry.ts';
import type { LowResImage } from '../src/main/engine/tiledUpscale.ts';
import { QUALITY_PRESETS } from '../src/shared/upscaleOptions.ts';
import { REPO_ROOT } from './benchModel.ts';
import { bicubicBaseline, degrade, loadHr, upscaleY } from './srProtocol.ts';
import { fixed, formatTable } from './table.ts';

const { values } = parseArgs({
  options: {
    models: { type: 'string', default: path.join(REPO_ROOT, 'models') },
    dataset: { type: 'string', default: path.resolve(REPO_ROOT, '../shared/datasets/Set14') },
    threads: { type: 'string', default: String(Math.min(2, availableParallelism())) },
    size: { type: 'string', default: '512' },
    repeat: { type: 'string', default: '2' },
    svg: { type: 'string', default: path.join(REPO_ROOT, 'assets/tradeoff.svg') },
    only: { type: 'string', default: '' },
  },
});
const SCALE = 2;
const TILE = 512;
const threads = Number(values.threads);
const size = Number(values.size);
const repeat = Math.max(1, Number(values.repeat));
const datasetName = path.basename(values.dataset);
/** The paper's bicubic row (Table III, verified), x2. */
const PAPER_BICUBIC: Record<string, number> = { Set5: 33.68, Set14: 30.24 };

const registry = await ModelRegistry.load([values.models]);
const only = values.only ? new Set(values.only.split(',')) : null;
const client = new InferenceClient({ device: 'cpu', threads });

/** Every distinct file a model/preset/precision runs at x2. */
const variants: ResolvedVariant[] = [];
for (const { card } of registry.models) {
  if (only && !only.has(card.name)) continue;
  for (const preset of QUALITY_PRESETS) {
    for (const int8 of [false, true]) {
      const resolved = await registry.resolve(card.name, preset, 'cpu', SCALE, int8);
      if (variants.some((v) => v.path === resolved.path)) continue;
      await client.open(resolved.path, modelIoNames(card));
      variants.push(resolved);
    }
  }
}

const upscale = (variant: ResolvedVariant, lr: LowResImage) =>
  upscaleY(client, variant, lr, { width: lr.width * SCALE, height: lr.height * SCALE }, TILE);

// --- Quality: PSNR x2 over the dataset ----------------------------------------------------
const files = (await readdir(values.dataset))
  .filter((f) => /\.(png|bmp|jpe?g|tiff?)$/i.test(f))
  .sort();
const psnrSums = new Map<string, number>();
const addPsnr = (key: string, value: number) => psnrSums.set(key, (psnrSums.get(key) ?? 0) + value);
for (const file of files) {
  const { hrY, lr } = degrade(await loadHr(path.join(values.dataset, file)), SCALE);
  addPsnr('bicubic', psnrY(hrY, bicubicBaseline(lr, hrY), SCALE));
  for (const variant of variants) {
    const { y } = await upscale(variant, lr);
    addPsnr(variant.path, psnrY(hrY, y, SCALE));
  }
  process.stderr.write(`  ${file} done\n`);
}

// --- Speed: seconds per output megapixel on a size² output --------------------------------
const noise = (n: number) =>
  Float32Array.from({ length: n }, () => 16 / 255 + (Math.random() * 219) / 255);
const side = size / SCALE;
const speedInput: LowResImage = {
  width: side,
  height: side,
  y: noise(side * side),
  cb: noise(side * side),
  cr: noise(side * side),
  alpha: null,
};
const secondsPerMp = new Map<string, number>();
for (let run = 0; run < repeat + 1; run++) {
  // Round-robin, so every file sees the same machine; the first round warms the sessions.
  for (const variant of variants) {
    const { inferenceMs: ms } = await upscale(variant, speedInput);
    if (run === 0) continue;
    const s = ms / 1000 / ((size * size) / 1e6);
    secondsPerMp.set(variant.path, Math.min(s, secondsPerMp.get(variant.path) ?? Infinity));
  }
}
await client.close();

interface Point {
  label: string;
  model: string;
  stages: number;
  int8: boolean;
  psnr: number;
  secondsPerMp: number;
}
const points: Point[] = variants.map((v) => ({
  label: `${v.model.card.name} ${v.variant.stages}st${v.int8 ? ' int8' : ''}`,
  model: v.model.card.name,
  stages: v.variant.stages,
  int8: v.int8 === true,
  psnr: psnrSums.get(v.path)! / files.length,
  secondsPerMp: secondsPerMp.get(v.path)!,
}));
const bicubicPsnr = psnrSums.get('bicubic')! / files.length;

console.log(
  `${datasetName} x${SCALE} PSNR (TypeScript + ORT, tiles of ${TILE}) and seconds per output MP (tiled inference in the worker, ${size}² output, ${threads} thread(s), fastest of ${repeat}; load average ${loadavg()[0]!.toFixed(1)} on ${availableParallelism()} cores)\n`,
);
console.log(
  formatTable(
    ['model', 'stages', 'precision', 'PSNR dB', 's / output MP', 'gain over bicubic dB'],
    [
      ['bicubic', '-', '-', fixed(bicubicPsnr, 2), '0', '0'],
      ...points
        .sort((a, b) => a.secondsPerMp - b.secondsPerMp)
        .map((p) => [
          p.model,
          String(p.stages),
          p.int8 ? 'int8' : 'fp32',
          fixed(p.psnr, 2),
          fixed(p.secondsPerMp, 2),
          fixed(p.psnr - bicubicPsnr, 2),
        ]),
    ],
  ),
);

await writeFile(values.svg, tradeoffSvg(points, bicubicPsnr, PAPER_BICUBIC[datasetName]));
console.log(`\nwrote ${path.relative(process.cwd(), values.svg)}`);

/** The scatter plot: log-x seconds per MP, y PSNR; one colour per model, hollow = int8. */
function tradeoffSvg(pts: Point[], bicubic: number, paperBicubic: number | undefined): string {
  const W = 760;
  const H = 460;
  const m = { left: 64, right: 170, top: 40, bottom: 56 };
  const xs = pts.map((p) => p.secondsPerMp);
  const ys = [...pts.map((p) => p.psnr), bicubic, ...(paperBicubic ? [paperBicubic] : [])];
  const x0 = Math.log10(Math.min(...xs) / 1.5);
  const x1 = Math.log10(Math.max(...xs) * 1.5);
  const y0 = Math.floor((Math.min(...ys) - 0.2) * 2) / 2;
  const y1 = Math.ceil((Math.max(...ys) + 0.2) * 2) / 2;
  const px = (s: number) => m.left + ((Math.log10(s) - x0) / (x1 - x0)) * (W - m.left - m.right);
  const py = (v: number) => H - m.bottom - ((v - y0) / (y1 - y0)) * (H - m.top - m.bottom);
  const palette = ['#d1495b', '#00798c', '#edae49', '#30638e', '#6a4c93', '#3c8d2f'];
  const models = [...new Set(pts.map((p) => p.model))];
  const colour = (model: string) => palette[models.indexOf(model) % palette.length]!;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" font-family="system-ui, sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${m.left}" y="22" font-size="15" font-weight="600">${datasetName} x${SCALE}: PSNR against CPU time (${threads} thread${threads > 1 ? 's' : ''}, this machine)</text>`,
  );
  for (let v = y0; v <= y1 + 1e-9; v += 0.5) {
    out.push(
      `<line x1="${m.left}" x2="${W - m.right}" y1="${py(v)}" y2="${py(v)}" stroke="#eee"/>`,
      `<text x="${m.left - 8}" y="${py(v) + 4}" text-anchor="end" fill="#555">${v.toFixed(1)}</text>`,
    );
  }
  for (let e = Math.floor(x0); e <= Math.ceil(x1); e++) {
    for (const k of [1, 2, 5]) {
      const s = k * 10 ** e;
      if (Math.log10(s) < x0 || Math.log10(s) > x1) continue;
      out.push(
        `<line x1="${px(s)}" x2="${px(s)}" y1="${m.top}" y2="${H - m.bottom}" stroke="#eee"/>`,
        `<text x="${px(s)}" y="${H - m.bottom + 16}" text-anchor="middle" fill="#555">${s}</text>`,
      );
    }
  }
  out.push(
    `<text x="${(m.left + W - m.right) / 2}" y="${H - 14}" text-anchor="middle">seconds per output megapixel (log scale) →</text>`,
    `<text transform="translate(16 ${(m.top + H - m.bottom) / 2}) rotate(-90)" text-anchor="middle">PSNR dB (Y) ↑</text>`,
  );
  const labelYs: number[] = [];
  const refLine = (v: number, label: string, dash: string) => {
    // Labels of nearby lines would overprint: push each below the ones it would touch.
    let y = py(v) + 4;
    while (labelYs.some((taken) => Math.abs(taken - y) < 13)) y += 13;
    labelYs.push(y);
    out.push(
      `<line x1="${m.left}" x2="${W - m.right}" y1="${py(v)}" y2="${py(v)}" stroke="#888" stroke-dasharray="${dash}"/>`,
      `<text x="${W - m.right + 6}" y="${y}" fill="#555">${label}</text>`,
    );
  };
  refLine(bicubic, `bicubic ${bicubic.toFixed(2)}`, '4 3');
  if (paperBicubic !== undefined && Math.abs(paperBicubic - bicubic) > 0.05)
    refLine(paperBicubic, `paper bicubic ${paperBicubic.toFixed(2)}`, '2 2');
  const paperSize = pts.filter((p) => p.model === 'cmsc' && !p.int8);
  const paperBest = paperSize.sort((a, b) => b.stages - a.stages)[0];
  if (paperBest) refLine(paperBest.psnr, `paper architecture ${paperBest.psnr.toFixed(2)}`, '6 3');
  for (const model of models) {
    const series = pts.filter((p) => p.model === model);
    for (const int8 of [false, true]) {
      const line = series.filter((p) => p.int8 === int8).sort((a, b) => a.stages - b.stages);
      if (line.length > 1)
        out.push(
          `<polyline fill="none" stroke="${colour(model)}" stroke-width="1.5" ${int8 ? 'stroke-dasharray="3 2" ' : ''}points="${line.map((p) => `${px(p.secondsPerMp).toFixed(1)},${py(p.psnr).toFixed(1)}`).join(' ')}"/>`,
        );
    }
    for (const p of series) {
      out.push(
        `<circle cx="${px(p.secondsPerMp).toFixed(1)}" cy="${py(p.psnr).toFixed(1)}" r="5" fill="${p.int8 ? '#fff' : colour(model)}" stroke="${colour(model)}" stroke-width="2"><title>${p.label}: ${p.psnr.toFixed(2)} dB, ${p.secondsPerMp.toFixed(2)} s/MP</title></circle>`,
        `<text x="${(px(p.secondsPerMp) + 7).toFixed(1)}" y="${(py(p.psnr) - 7).toFixed(1)}" font-size="10" fill="#333">${p.stages}${p.int8 ? ' int8' : ''}</text>`,
      );
    }
  }
  models.forEach((model, i) => {
    const y = m.top + 14 + i * 20;
    out.push(
      `<circle cx="${W - m.right + 14}" cy="${y + 60}" r="5" fill="${colour(model)}"/>`,
      `<text x="${W - m.right + 24}" y="${y + 64}">${model}</text>`,
    );
  });
  const legendY = m.top + 74 + models.length * 20;
  out.push(
    `<circle cx="${W - m.right + 14}" cy="${legendY}" r="5" fill="#fff" stroke="#333" stroke-width="2"/>`,
    `<text x="${W - m.right + 24}" y="${legendY + 4}">int8 (hollow)</text>`,
    `<text x="${W - m.right + 8}" y="${legendY + 24}" font-size="10" fill="#555">labels: cascade stages</text>`,
    '</svg>',
  );
  return out.join('\n') + '\n';
}
