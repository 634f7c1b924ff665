/**
 * `npm run bench:photo-crops -- [--images a.jpg,b.jpg,c.jpg,d.jpg] [--scales 2,2,4,4]
 *   [--quality 75] [--size 80] [--zoom 4] [--out assets/photo-crops.png] [--models-dir models]`
 *
 * What the default path does to real photos, as the evaluation makes them: each HR photo
 * (default: four of `../shared/datasets/Sun40`) is down-scaled by its scale in RGB (MATLAB
 * bicubic) and saved as a JPEG (4:2:0) at `quality`; one crop of it, the busiest in colour and
 * detail, is upscaled back and shown at `zoom`x with nearest-neighbour pixels:
 *
 *   bicubic | default, Y only (the file's chroma, as before the chroma restorer) |
 *   default (photo variant + chroma restorer) | the original photo
 *
 * "Y only" runs the same models from a copy of the cards without their `chromaRestorer`.
 */
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import sharp, { type OverlayOptions } from 'sharp';
import { resizePlane } from '../src/main/engine/bicubic.ts';
import { rgbToYcbcr } from '../src/main/engine/color.ts';
import { decodeImage } from '../src/main/engine/imageDecode.ts';
import { createEngine, type Engine } from '../src/main/engine/index.ts';
import { DEFAULT_UPSCALE_OPTIONS } from '../src/shared/upscaleOptions.ts';
import { REPO_ROOT } from './benchModel.ts';
import { cropPlane } from './srProtocol.ts';

const SUN40 = path.resolve(REPO_ROOT, '../shared/datasets/Sun40');
const { values } = parseArgs({
  options: {
    images: {
      type: 'string',
      default: [
        'phone_booth_sun_aadtmifyuvqcfkcr.jpg',
        'underwater_coral_reef_sun_bwuxsehdxqkpuptf.jpg',
        'temple_east_asia_sun_bnwocgscovfukwse.jpg',
        'street_sun_bkgpqbvgorkjqzgp.jpg',
      ]
        .map((name) => path.join(SUN40, name))
        .join(','),
    },
    scales: { type: 'string', default: '2,2,4,4' },
    quality: { type: 'string', default: '75' },
    size: { type: 'string', default: '80' },
    zoom: { type: 'string', default: '4' },
    out: { type: 'string', default: path.join(REPO_ROOT, 'assets', 'photo-crops.png') },
    threads: { type: 'string', default: String(availableParallelism()) },
    'models-dir': { type: 'string', default: path.join(REPO_ROOT, 'models') },
  },
});

const images = values.images.split(',');
const scales = values.scales.split(',').map(Number);
if (scales.length !== images.length) throw new Error('give one scale per image');
const quality = Number(values.quality);
const cropSide = Number(values.size); // the crop's side in output (HR) pixels
const zoom = Number(values.zoom);
const LABEL_HEIGHT = 28;
const GAP = 6;
const columns = ['bicubic', 'default, Y only', 'default + chroma', 'original'];

/** The models folder's cards without their chroma restorer (the ONNX files copied beside). */
async function cardsWithoutChroma(modelsDir: string, into: string): Promise<void> {
  for (const name of await readdir(modelsDir)) {
    const from = path.join(modelsDir, name);
    if (name.endsWith('.json')) {
      const card = JSON.parse(await readFile(from, 'utf8')) as Record<string, unknown>;
      delete card.chromaRestorer;
      await writeFile(path.join(into, name), JSON.stringify(card));
    } else if (name.endsWith('.onnx')) {
      await copyFile(from, path.join(into, name));
    }
  }
}

/** The LR window with the most colour and luma detail (sum of absolute differences). */
function busiestWindow(
  planes: Float32Array[],
  width: number,
  height: number,
  size: number,
): { x: number; y: number } {
  const { c0: y, c1: cb, c2: cr } = rgbToYcbcr({ c0: planes[0]!, c1: planes[1]!, c2: planes[2]! });
  const detail = new Float32Array(width * height);
  for (let r = 0; r < height - 1; r++) {
    for (let c = 0; c < width - 1; c++) {
      const i = r * width + c;
      const d = (p: Float32Array) => Math.abs(p[i + 1]! - p[i]!) + Math.abs(p[i + width]! - p[i]!);
      detail[i] = d(cb) + d(cr) + 0.5 * d(y);
    }
  }
  let best = { x: 0, y: 0, score: -1 };
  const step = Math.max(4, size >> 2);
  for (let top = 0; top + size < height; top += step) {
    for (let left = 0; left + size < width; left += step) {
      let score = 0;
      for (let r = top; r < top + size; r++)
        for (let c = left; c < left + size; c++) score += detail[r * width + c]!;
      if (score > best.score) best = { x: left, y: top, score };
    }
  }
  return best;
}

const temp = await mkdtemp(path.join(tmpdir(), 'cmsc-photo-crops-'));
const yOnlyModels = path.join(temp, 'models');
await mkdir(yOnlyModels);
await cardsWithoutChroma(path.resolve(values['models-dir']), yOnlyModels);
const open = (dir: string) =>
  createEngine({ modelsDirs: [dir], device: 'cpu', threads: Number(values.threads) });
const engines: Engine[] = [await open(yOnlyModels), await open(path.resolve(values['models-dir']))];
const tiles: OverlayOptions[] = [];
const cellSides: number[] = [];
try {
  let top = 0;
  for (const [row, image] of images.entries()) {
    const scale = scales[row]!;
    const size = Math.round(cropSide / scale); // LR crop side
    const cell = size * scale * zoom;
    cellSides.push(cell);
    const hr = await decodeImage(image);
    const width = hr.width - (hr.width % scale);
    const height = hr.height - (hr.height % scale);
    const lw = width / scale;
    const lh = height / scale;
    const planes = [hr.rgb.c0, hr.rgb.c1, hr.rgb.c2].map((p) =>
      resizePlane(cropPlane(p, hr.width, width, height), width, height, lw, lh, 1 / scale),
    );
    const lrPixels = Buffer.alloc(lw * lh * 3);
    for (let i = 0; i < lw * lh; i++)
      for (let c = 0; c < 3; c++)
        lrPixels[i * 3 + c] = Math.min(255, Math.max(0, Math.round(planes[c]![i]! * 255)));
    const file = path.join(temp, `${row}.jpg`);
    await sharp(lrPixels, { raw: { width: lw, height: lh, channels: 3 } })
      .jpeg({ quality, chromaSubsampling: '4:2:0' })
      .toFile(file);
    const at = busiestWindow(planes, lw, lh, size);
    const rect = { x: at.x, y: at.y, width: size, height: size };
    const zoomed = (input: Buffer, w: number, h: number, channels: 3 | 4) =>
      sharp(input, { raw: { width: w, height: h, channels } })
        .resize(cell, cell, { kernel: 'nearest' })
        .png()
        .toBuffer();
    const bicubic = await sharp(file)
      .extract({ left: rect.x, top: rect.y, width: size, height: size })
      .resize(size * scale, size * scale, { kernel: 'cubic' })
      .raw()
      .toBuffer();
    const crops = [await zoomed(bicubic, size * scale, size * scale, 3)];
    for (const engine of engines) {
      const region = await engine.upscaleRegion(file, rect, {
        ...DEFAULT_UPSCALE_OPTIONS,
        target: { kind: 'scale', scale },
      });
      const { width: w, height: h, data } = region.output;
      crops.push(await zoomed(Buffer.from(data), w, h, 4));
    }
    crops.push(
      await sharp(image)
        .extract({
          left: rect.x * scale,
          top: rect.y * scale,
          width: size * scale,
          height: size * scale,
        })
        .resize(cell, cell, { kernel: 'nearest' })
        .png()
        .toBuffer(),
    );
    for (const [column, crop] of crops.entries()) {
      const left = GAP + column * (cell + GAP);
      tiles.push({ input: crop, left, top: top + LABEL_HEIGHT });
      const label =
        column === 0
          ? `${path.basename(image).split('_sun_')[0]} x${scale} q${quality} · bicubic`
          : columns[column]!;
      tiles.push({
        input: Buffer.from(
          `<svg width="${cell}" height="${LABEL_HEIGHT}"><text x="4" y="20" font-family="sans-serif" font-size="17" fill="#222">${label}</text></svg>`,
        ),
        left,
        top: top + 2,
      });
    }
    console.log(`${path.basename(image)} x${scale}: crop at (${rect.x}, ${rect.y}) of ${lw}x${lh}`);
    top += LABEL_HEIGHT + cell + GAP;
  }
  const canvasWidth = GAP + columns.length * (Math.max(...cellSides) + GAP);
  await sharp({
    create: { width: canvasWidth, height: top + GAP, channels: 3, background: '#f4f4f4' },
  })
    .composite(tiles)
    .png({ compressionLevel: 9, palette: false })
    .toFile(values.out);
  console.log(`wrote ${values.out} (${canvasWidth}x${top + GAP})`);
} finally {
  for (const engine of engines) await engine.close();
  await rm(temp, { recursive: true, force: true });
}
