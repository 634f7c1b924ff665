/**
 * `npm run bench:photo-crops -- [--image ../shared/datasets/Set14/lenna.png] [--x 200 --y 180]
 *   [--inputs q50,q75,q90] [--models cmsc-lite,cmsc-lite-photo] [--zoom 4] [--out FILE.png]
 *   [--models-dir models]`
 *
 * A picture of what the photo variant changes: the HR image is down-scaled x2 in RGB (MATLAB
 * bicubic) and saved as a JPEG at each quality, then one crop of it is upscaled x2 by bicubic
 * and by each model (its clean or photo variant forced, through engine.upscaleRegion, as
 * Compare does) and shown at `zoom`x with nearest-neighbour pixels, beside the original.
 * Rows: JPEG qualities; columns: bicubic, the models, the original.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import sharp, { type OverlayOptions, type Sharp } from 'sharp';
import { resizePlane } from '../src/main/engine/bicubic.ts';
import { decodeImage } from '../src/main/engine/imageDecode.ts';
import { createEngine } from '../src/main/engine/index.ts';
import { DEFAULT_UPSCALE_OPTIONS } from '../src/shared/upscaleOptions.ts';
import { REPO_ROOT } from './benchModel.ts';
import { cropPlane } from './srProtocol.ts';

const { values } = parseArgs({
  options: {
    image: {
      type: 'string',
      default: path.resolve(REPO_ROOT, '../shared/datasets/Set14/lenna.png'),
    },
    x: { type: 'string', default: '100' },
    y: { type: 'string', default: '100' },
    size: { type: 'string', default: '48' },
    inputs: { type: 'string', default: 'q50,q75,q90' },
    models: { type: 'string', default: 'cmsc-lite,cmsc-lite-photo' },
    zoom: { type: 'string', default: '4' },
    out: { type: 'string', default: path.join(REPO_ROOT, 'assets', 'photo-variants.png') },
    threads: { type: 'string', default: String(availableParallelism()) },
    'models-dir': { type: 'string', default: path.join(REPO_ROOT, 'models') },
  },
});

const SCALE = 2;
const zoom = Number(values.zoom);
const size = Number(values.size); // LR crop side
const rect = { x: Number(values.x), y: Number(values.y), width: size, height: size };
const models = values.models.split(',');
const LABEL_HEIGHT = 28;
const GAP = 6;
const cell = size * SCALE * zoom;

const temp = await mkdtemp(path.join(tmpdir(), 'cmsc-photo-crops-'));
const engine = await createEngine({
  modelsDirs: [path.resolve(values['models-dir'])],
  device: 'cpu',
  threads: Number(values.threads),
});
const tiles: OverlayOptions[] = [];
const columns = ['bicubic', ...models, 'original'];
const rows = values.inputs.split(',');
try {
  const hr = await decodeImage(values.image);
  const width = hr.width - (hr.width % SCALE);
  const height = hr.height - (hr.height % SCALE);
  const lw = width / SCALE;
  const lh = height / SCALE;
  const planes = [hr.rgb.c0, hr.rgb.c1, hr.rgb.c2].map((p) =>
    resizePlane(cropPlane(p, hr.width, width, height), width, height, lw, lh, 1 / SCALE),
  );
  const lrPixels = Buffer.alloc(lw * lh * 3);
  for (let i = 0; i < lw * lh; i++)
    for (let c = 0; c < 3; c++)
      lrPixels[i * 3 + c] = Math.min(255, Math.max(0, Math.round(planes[c]![i]! * 255)));

  const zoomed = (image: Sharp) => image.resize(cell, cell, { kernel: 'nearest' }).png().toBuffer();
  const original = await zoomed(
    sharp(values.image).extract({
      left: rect.x * SCALE,
      top: rect.y * SCALE,
      width: size * SCALE,
      height: size * SCALE,
    }),
  );
  for (const [row, input] of rows.entries()) {
    const quality = Number(/^q(\d+)$/.exec(input)?.[1] ?? NaN);
    if (!Number.isFinite(quality))
      throw new Error(`inputs are JPEG qualities like q75, not ${input}`);
    const file = path.join(temp, `${input}.jpg`);
    await sharp(lrPixels, { raw: { width: lw, height: lh, channels: 3 } })
      .jpeg({ quality, chromaSubsampling: '4:2:0' })
      .toFile(file);
    // sharp runs one resize per pipeline: the bicubic up-scaling is made first, then zoomed.
    const bicubic = await sharp(file)
      .extract({ left: rect.x, top: rect.y, width: size, height: size })
      .resize(size * SCALE, size * SCALE, { kernel: 'cubic' })
      .png()
      .toBuffer();
    const crops: Buffer[] = [await zoomed(sharp(bicubic))];
    for (const model of models) {
      const region = await engine.upscaleRegion(file, rect, {
        ...DEFAULT_UPSCALE_OPTIONS,
        target: { kind: 'scale', scale: SCALE },
        model,
        source: 'clean',
      });
      const { width: w, height: h, data } = region.output;
      crops.push(
        await zoomed(sharp(Buffer.from(data), { raw: { width: w, height: h, channels: 4 } })),
      );
    }
    crops.push(original);
    for (const [column, crop] of crops.entries()) {
      tiles.push({
        input: crop,
        left: GAP + column * (cell + GAP),
        top: LABEL_HEIGHT + GAP + row * (cell + GAP + LABEL_HEIGHT),
      });
      const label = column === 0 ? `JPEG q${quality} · ${columns[column]}` : columns[column]!;
      tiles.push({
        input: Buffer.from(
          `<svg width="${cell}" height="${LABEL_HEIGHT}"><text x="4" y="20" font-family="sans-serif" font-size="17" fill="#222">${label}</text></svg>`,
        ),
        left: GAP + column * (cell + GAP),
        top: row * (cell + GAP + LABEL_HEIGHT) + 2,
      });
    }
  }
  const canvasWidth = GAP + columns.length * (cell + GAP);
  const canvasHeight = rows.length * (cell + GAP + LABEL_HEIGHT) + GAP;
  await sharp({
    create: { width: canvasWidth, height: canvasHeight, channels: 3, background: '#f4f4f4' },
  })
    .composite(tiles)
    .png({ compressionLevel: 9, palette: false })
    .toFile(values.out);
  console.log(`wrote ${values.out} (${canvasWidth}x${canvasHeight})`);
} finally {
  await engine.close();
  await rm(temp, { recursive: true, force: true });
}
