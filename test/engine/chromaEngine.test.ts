/**
 * The shipped chroma restorer through the engine: photo variants restore a JPEG's chroma, clean
 * files pass untouched, Compare's crop shows what the batch writes, and Y is the Y model's alone.
 */
import { copyFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../../src/main/engine/index.ts';
import { DEFAULT_UPSCALE_OPTIONS, type UpscaleOptions } from '../../src/shared/upscaleOptions.ts';
import { makeTempDir, texturedPixels } from '../helpers/testImages.ts';

const MODELS = path.resolve(import.meta.dirname, '../../models');
const options: UpscaleOptions = {
  ...DEFAULT_UPSCALE_OPTIONS,
  target: { kind: 'scale', scale: 2 },
  format: 'png',
};

let temp: Awaited<ReturnType<typeof makeTempDir>>;
let withChroma: Engine;
let yOnly: Engine;
let jpeg: string;

/** YCbCr (BT.601, 8-bit levels) of an RGB(A) buffer, as three arrays. */
function ycbcr(data: Buffer | Uint8Array, channels: number) {
  const n = data.length / channels;
  const y = new Float64Array(n);
  const cb = new Float64Array(n);
  const cr = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const [r, g, b] = [data[i * channels]!, data[i * channels + 1]!, data[i * channels + 2]!];
    y[i] = 16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255;
    cb[i] = 128 + (-37.797 * r - 74.203 * g + 112 * b) / 255;
    cr[i] = 128 + (112 * r - 93.786 * g - 18.214 * b) / 255;
  }
  return { y, cb, cr };
}

const meanAbsDiff = (a: Float64Array, b: Float64Array) =>
  a.reduce((sum, v, i) => sum + Math.abs(v - b[i]!), 0) / a.length;

async function rawOf(file: string) {
  const { data, info } = await sharp(file).raw().toBuffer({ resolveWithObject: true });
  return { data, channels: info.channels, width: info.width, height: info.height };
}

beforeAll(async () => {
  temp = await makeTempDir();
  // The same cards without their chroma restorer: the path as it was before it.
  const plain = path.join(temp.dir, 'models-y-only');
  await mkdir(plain);
  for (const name of await readdir(MODELS)) {
    if (name.endsWith('.json')) {
      const card = JSON.parse(await readFile(path.join(MODELS, name), 'utf8'));
      delete card.chromaRestorer;
      await writeFile(path.join(plain, name), JSON.stringify(card));
    } else if (name.endsWith('.onnx'))
      await copyFile(path.join(MODELS, name), path.join(plain, name));
  }
  withChroma = await createEngine({ modelsDirs: [MODELS], device: 'cpu', threads: 1 });
  yOnly = await createEngine({ modelsDirs: [plain], device: 'cpu', threads: 1 });
  jpeg = path.join(temp.dir, 'photo.jpg');
  await sharp(texturedPixels(96, 72, 3, 2), { raw: { width: 96, height: 72, channels: 3 } })
    .jpeg({ quality: 50, chromaSubsampling: '4:2:0' })
    .toFile(jpeg);
}, 120_000);

afterAll(async () => {
  await withChroma?.close();
  await yOnly?.close();
  await temp?.remove();
});

describe('the chroma restorer in the engine', () => {
  it('is listed by the photo variants, which serve JPEGs', async () => {
    for (const name of ['cmsc-fast-photo', 'cmsc-fast-photo-light']) {
      const card = JSON.parse(await readFile(path.join(MODELS, `${name}.json`), 'utf8'));
      expect(card.chromaRestorer?.file).toBe('cmsc-chroma.onnx');
    }
  });

  it('changes a JPEG’s chroma and leaves its Y to the Y model', async () => {
    const restoredFile = path.join(temp.dir, 'restored.png');
    const plainFile = path.join(temp.dir, 'plain.png');
    const restored = await withChroma.upscaleFile(jpeg, restoredFile, options);
    const plain = await yOnly.upscaleFile(jpeg, plainFile, options);
    expect(restored.model).toBe(plain.model);
    expect(restored.source?.kind).toBe('photo');
    expect(restored.phasesMs.chroma).toBeGreaterThan(0);
    expect(plain.phasesMs.chroma).toBeUndefined();
    const a = await rawOf(restoredFile);
    const b = await rawOf(plainFile);
    const ca = ycbcr(a.data, a.channels);
    const cb = ycbcr(b.data, b.channels);
    // Y differs by the 8-bit rounding of RGB only; chroma by what the restorer did.
    expect(meanAbsDiff(ca.y, cb.y)).toBeLessThan(0.6);
    expect(meanAbsDiff(ca.cb, cb.cb) + meanAbsDiff(ca.cr, cb.cr)).toBeGreaterThan(0.3);
  }, 120_000);

  it('runs no restorer for a clean PNG', async () => {
    const png = path.join(temp.dir, 'clean.png');
    // Smooth gradients: no noise for the source check to find, so the clean model serves it.
    const pixels = Buffer.alloc(64 * 48 * 3);
    for (let i = 0; i < 64 * 48; i++) {
      const [x, y] = [i % 64, Math.floor(i / 64)];
      pixels.set([x * 3, y * 4, 128 + Math.round(60 * Math.sin(x / 9))], i * 3);
    }
    await sharp(pixels, { raw: { width: 64, height: 48, channels: 3 } })
      .png()
      .toFile(png);
    const result = await withChroma.upscaleFile(png, path.join(temp.dir, 'clean-x2.png'), options);
    expect(result.source?.kind).toBe('clean');
    expect(result.phasesMs.chroma).toBeUndefined();
  }, 120_000);

  it('leaves the colour of a PNG alone even when it runs a photo variant', async () => {
    const png = path.join(temp.dir, 'noisy.png');
    await sharp(texturedPixels(64, 48, 3, 3), { raw: { width: 64, height: 48, channels: 3 } })
      .png()
      .toFile(png);
    const forced = { ...options, source: 'photo' as const };
    const result = await withChroma.upscaleFile(png, path.join(temp.dir, 'noisy-x2.png'), forced);
    expect(result.model).toMatch(/-photo/);
    expect(result.phasesMs.chroma).toBeUndefined();
  }, 120_000);

  it('gives Compare’s crop the colours the batch writes', async () => {
    const whole = path.join(temp.dir, 'whole.png');
    await withChroma.upscaleFile(jpeg, whole, options);
    const region = { x: 21, y: 13, width: 30, height: 24 };
    const crop = await withChroma.upscaleRegion(jpeg, region, options);
    const full = await rawOf(whole);
    const { outputRegion, output } = crop;
    let worst = 0;
    for (let r = 0; r < outputRegion.height; r++) {
      for (let c = 0; c < outputRegion.width; c++) {
        const i = ((outputRegion.y + r) * full.width + outputRegion.x + c) * full.channels;
        const j = (r * output.width + c) * 4;
        for (let k = 0; k < 3; k++)
          worst = Math.max(worst, Math.abs(full.data[i + k]! - output.data[j + k]!));
      }
    }
    expect(worst).toBeLessThanOrEqual(1);
  }, 120_000);
});
