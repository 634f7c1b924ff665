import { copyFile, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createEngine } from '../../src/main/engine/index.ts';
import {
  estimateQuality,
  ijgTables,
  readJpegQuality,
  readQuantisationTables,
} from '../../src/main/engine/jpegQuality.ts';
import { ModelRegistry } from '../../src/main/engine/modelRegistry.ts';
import { estimateNoiseSigma } from '../../src/main/engine/noiseLevel.ts';
import { decideSource } from '../../src/main/engine/sourceKind.ts';
import {
  DEFAULT_UPSCALE_OPTIONS,
  describeJpegBand,
  PHOTO_BELOW_JPEG_QUALITY,
  PHOTO_FROM_NOISE_SIGMA,
} from '../../src/shared/upscaleOptions.ts';
import { FIXTURE_MODELS_DIR, makeTempDir, writeTexturedImage } from '../helpers/testImages.ts';

let temp: Awaited<ReturnType<typeof makeTempDir>>;
beforeEach(async () => {
  temp = await makeTempDir();
});
afterEach(async () => temp.remove());

/** A deterministic standard-normal stream (Box-Muller on a small LCG). */
function gaussianStream(seed: number): () => number {
  let state = seed;
  const uniform = () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return (state + 1) / 2147483649;
  };
  return () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
}

/** A smooth Y plane (gradient and a soft disc) plus Gaussian noise of `sigma` levels. */
function smoothPlane(width: number, height: number, sigma: number): Float32Array {
  const y = new Float32Array(width * height);
  const normal = gaussianStream(7);
  for (let row = 0; row < height; row++) {
    for (let col = 0; col < width; col++) {
      const disc = Math.hypot(col - width / 2, row - height / 2) < width / 4 ? 0.2 : 0;
      y[row * width + col] = 0.2 + (0.4 * col) / width + disc + (normal() * sigma) / 255;
    }
  }
  return y;
}

describe('JPEG quality from the quantisation tables', () => {
  it('recovers the quality libjpeg saved a file with, exactly', async () => {
    for (const quality of [30, 50, 75, 90, 95, 100]) {
      const file = path.join(temp.dir, `q${quality}.jpg`);
      await writeTexturedImage(file, 32, 24, { format: 'jpeg' });
      await sharp(file)
        .jpeg({ quality })
        .toFile(path.join(temp.dir, `r${quality}.jpg`));
      expect(await readJpegQuality(path.join(temp.dir, `r${quality}.jpg`))).toEqual({
        quality,
        exact: true,
      });
    }
  });

  it('finds the tables after a large EXIF block and reads 16-bit tables', async () => {
    const file = path.join(temp.dir, 'exif.jpg');
    await sharp({ create: { width: 16, height: 16, channels: 3, background: '#808080' } })
      .jpeg({ quality: 60 })
      .withExif({ IFD0: { ImageDescription: 'x'.repeat(20_000) } })
      .toFile(file);
    expect((await readQuantisationTables(file))?.get(0)).toEqual(ijgTables(60).luminance);
    const sixteenBit = new Map([[0, ijgTables(40).luminance]]);
    expect(estimateQuality(sixteenBit)).toEqual({ quality: 40, exact: true });
  });

  it('places a camera-style table between IJG qualities, not exactly on one', () => {
    const camera = ijgTables(85).luminance.map((v, i) => (i % 3 === 0 ? v + 1 : v));
    const estimate = estimateQuality(new Map([[0, camera]]))!;
    expect(estimate.exact).toBe(false);
    expect(Math.abs(estimate.quality - 85)).toBeLessThanOrEqual(2);
  });

  it('answers null for files that are not JPEGs', async () => {
    const png = await writeTexturedImage(path.join(temp.dir, 'a.png'), 16, 16);
    expect(await readJpegQuality(png)).toBeNull();
    const truncated = path.join(temp.dir, 'cut.jpg');
    await writeFile(truncated, Buffer.from([0xff, 0xd8, 0xff]));
    expect(await readJpegQuality(truncated)).toBeNull();
  });
});

describe('noise level', () => {
  it('measures the sigma of Gaussian noise on a smooth picture', () => {
    expect(estimateNoiseSigma(smoothPlane(256, 256, 0), 256, 256)).toBeLessThan(0.3);
    for (const sigma of [2, 5, 10]) {
      const estimate = estimateNoiseSigma(smoothPlane(256, 256, sigma), 256, 256);
      expect(estimate).toBeGreaterThan(sigma * 0.85);
      expect(estimate).toBeLessThan(sigma * 1.15);
    }
  });

  it('answers 0 for a picture too small to measure', () => {
    expect(estimateNoiseSigma(new Float32Array(100), 10, 10)).toBe(0);
  });
});

describe('the clean/photo decision', () => {
  const evidence = { format: 'png', jpegQuality: null, noiseSigma: 1 };
  it('keeps clean inputs on the clean model and sends compressed or noisy ones to the photo model', () => {
    expect(decideSource('auto', evidence).kind).toBe('clean');
    expect(decideSource('auto', { ...evidence, format: 'jpeg', jpegQuality: 75 })).toMatchObject({
      kind: 'photo',
      reason: 'JPEG quality ≈ 75',
    });
    expect(
      decideSource('auto', {
        ...evidence,
        format: 'jpeg',
        jpegQuality: PHOTO_BELOW_JPEG_QUALITY,
      }).kind,
    ).toBe('clean');
    expect(decideSource('auto', { ...evidence, noiseSigma: PHOTO_FROM_NOISE_SIGMA })).toMatchObject(
      {
        kind: 'photo',
        reason: `noisy (noise σ ≈ ${PHOTO_FROM_NOISE_SIGMA.toFixed(1)})`,
      },
    );
  });

  it('follows the setting when it is not auto', () => {
    expect(decideSource('photo', evidence)).toMatchObject({
      kind: 'photo',
      reason: 'set to Photo',
    });
    const jpeg = { ...evidence, format: 'jpeg', jpegQuality: 40 };
    expect(decideSource('clean', jpeg)).toMatchObject({ kind: 'clean', reason: 'set to Clean' });
  });
});

/** The tiny fixture model twice: as a clean model and as its photo variant. */
async function writeCleanAndPhotoModels(dir: string): Promise<void> {
  const card = JSON.parse(
    await readFile(path.join(FIXTURE_MODELS_DIR, 'cmsc-tiny.json'), 'utf8'),
  ) as Record<string, unknown>;
  await copyFile(path.join(FIXTURE_MODELS_DIR, 'cmsc-tiny.onnx'), path.join(dir, 'cmsc-tiny.onnx'));
  await writeFile(path.join(dir, 'cmsc-tiny.json'), JSON.stringify(card));
  await writeFile(
    path.join(dir, 'cmsc-tiny-photo.json'),
    JSON.stringify({ ...card, name: 'cmsc-tiny-photo', photoVariantOf: 'cmsc-tiny' }),
  );
}

/** The photo variant's card again under each name, each with its own `photoJpegQuality`. */
async function writePhotoBands(dir: string, bands: Record<string, unknown>): Promise<void> {
  const card = JSON.parse(await readFile(path.join(dir, 'cmsc-tiny-photo.json'), 'utf8')) as Record<
    string,
    unknown
  >;
  for (const [name, band] of Object.entries(bands))
    await writeFile(
      path.join(dir, `${name}.json`),
      JSON.stringify({ ...card, name, photoJpegQuality: band }),
    );
}

describe('model choice by source', () => {
  it('maps a photo to the photo variant of the asked or default model, and never defaults to a photo model', async () => {
    await writeCleanAndPhotoModels(temp.dir);
    const registry = await ModelRegistry.load([temp.dir]);
    expect(registry.get().card.name).toBe('cmsc-tiny');
    const clean = { kind: 'clean', jpegQuality: null } as const;
    const photo = { kind: 'photo', jpegQuality: 70 } as const;
    expect(registry.modelForSource(undefined, clean)).toBeUndefined();
    expect(registry.modelForSource('cmsc-tiny', photo)).toBe('cmsc-tiny-photo');
    expect(registry.modelForSource('cmsc-tiny-photo', clean)).toBe('cmsc-tiny-photo');
    expect(registry.summaries().map((m) => [m.name, m.isDefault, m.photoVariantOf])).toEqual([
      ['cmsc-tiny-photo', false, 'cmsc-tiny'],
      ['cmsc-tiny', true, undefined],
    ]);
  });

  it('picks the photo variant whose JPEG quality band holds the file, the strongest otherwise', async () => {
    await writeCleanAndPhotoModels(temp.dir);
    await writePhotoBands(temp.dir, {
      'cmsc-tiny-photo': { min: 1, max: 79 },
      'cmsc-tiny-photo-light': { min: 80, max: 95 },
    });
    const registry = await ModelRegistry.load([temp.dir]);
    const pick = (jpegQuality: number | null) =>
      registry.modelForSource(undefined, { kind: 'photo', jpegQuality });
    expect([pick(50), pick(79), pick(80), pick(95), pick(99), pick(null)]).toEqual([
      'cmsc-tiny-photo',
      'cmsc-tiny-photo',
      'cmsc-tiny-photo-light',
      'cmsc-tiny-photo-light',
      'cmsc-tiny-photo',
      'cmsc-tiny-photo',
    ]);
    expect(registry.problems).toEqual([]);
  });

  it('moves a band at one scale (byScale) and keeps the card band at the others', async () => {
    await writeCleanAndPhotoModels(temp.dir);
    await writePhotoBands(temp.dir, {
      'cmsc-tiny-photo': { min: 1, max: 79, byScale: { '2': { min: 1, max: 69 } } },
      'cmsc-tiny-photo-light': { min: 80, max: 95, byScale: { '2': { min: 70, max: 95 } } },
    });
    const registry = await ModelRegistry.load([temp.dir]);
    expect(registry.problems).toEqual([]);
    const pick = (jpegQuality: number, scale?: number) =>
      registry.modelForSource(undefined, { kind: 'photo', jpegQuality }, 'cpu', scale);
    expect([pick(69, 2), pick(75, 2), pick(75, 4), pick(75, 3), pick(75), pick(85, 4)]).toEqual([
      'cmsc-tiny-photo',
      'cmsc-tiny-photo-light',
      'cmsc-tiny-photo',
      'cmsc-tiny-photo',
      'cmsc-tiny-photo',
      'cmsc-tiny-photo-light',
    ]);
    // Settings names both bands.
    const light = registry.summaries().find((m) => m.name === 'cmsc-tiny-photo-light');
    expect(describeJpegBand(light!.photoJpegQuality!)).toBe('80–95; x2: 70–95');
  });

  it('refuses a band for a scale the card does not have', async () => {
    await writeCleanAndPhotoModels(temp.dir);
    await writePhotoBands(temp.dir, {
      'cmsc-tiny-photo': { min: 1, max: 79, byScale: { '8': { min: 1, max: 60 } } },
    });
    const registry = await ModelRegistry.load([temp.dir]);
    expect(registry.problems).toEqual([
      `${path.join(temp.dir, 'cmsc-tiny-photo.json')}: photoJpegQuality.byScale.8 must be one of the card's scales (2, 3, 4)`,
    ]);
  });

  it('refuses a quality band that is not 1 <= min <= max <= 100', async () => {
    await writeCleanAndPhotoModels(temp.dir);
    await writePhotoBands(temp.dir, {
      'cmsc-tiny-photo': { min: 90, max: 80 },
    });
    const registry = await ModelRegistry.load([temp.dir]);
    expect(registry.problems).toEqual([
      `${path.join(temp.dir, 'cmsc-tiny-photo.json')}: photoJpegQuality must be qualities 1 <= min <= max <= 100`,
    ]);
  });

  it('runs the photo variant on a low-quality JPEG and the clean model on a PNG, and says why', async () => {
    await writeCleanAndPhotoModels(temp.dir);
    const engine = await createEngine({ modelsDirs: [temp.dir], device: 'cpu', threads: 1 });
    try {
      // Smooth, like a render: the textured fixture is as busy as heavy noise.
      const png = path.join(temp.dir, 'a.png');
      const smooth = smoothPlane(40, 32, 0);
      await sharp(Buffer.from(smooth.map((v) => Math.round(v * 255))), {
        raw: { width: 40, height: 32, channels: 1 },
      })
        .png()
        .toFile(png);
      const jpeg = path.join(temp.dir, 'b.jpg');
      await sharp(png).jpeg({ quality: 70 }).toFile(jpeg);
      const options = { ...DEFAULT_UPSCALE_OPTIONS };
      const fromPng = await engine.upscaleFile(png, path.join(temp.dir, 'a2.png'), options);
      const fromJpeg = await engine.upscaleFile(jpeg, path.join(temp.dir, 'b2.png'), options);
      expect([fromPng.model, fromPng.source?.kind]).toEqual(['cmsc-tiny', 'clean']);
      expect([fromJpeg.model, fromJpeg.source?.kind, fromJpeg.source?.reason]).toEqual([
        'cmsc-tiny-photo',
        'photo',
        'JPEG quality ≈ 70',
      ]);
      const forced = await engine.upscaleFile(png, path.join(temp.dir, 'a3.png'), {
        ...options,
        source: 'photo',
      });
      expect(forced.model).toBe('cmsc-tiny-photo');
      const crop = await engine.upscaleRegion(jpeg, { x: 0, y: 0, width: 16, height: 16 }, options);
      expect([crop.model, crop.source.kind]).toEqual(['cmsc-tiny-photo', 'photo']);
    } finally {
      await engine.close();
    }
  });
});
