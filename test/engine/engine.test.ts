import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../../src/main/engine/index.ts';
import {
  DEFAULT_UPSCALE_OPTIONS,
  type UpscaleOptions,
  type UpscaleProgress,
} from '../../src/shared/upscaleOptions.ts';
import { FIXTURE_MODELS_DIR, makeTempDir, writeTexturedImage } from '../helpers/testImages.ts';

let engine: Engine;
let temp: Awaited<ReturnType<typeof makeTempDir>>;

beforeAll(async () => {
  engine = await createEngine({ modelsDirs: [FIXTURE_MODELS_DIR], device: 'cpu', threads: 1 });
});
afterAll(async () => engine.close());
beforeEach(async () => {
  temp = await makeTempDir();
});
afterEach(async () => temp.remove());

const options = (overrides: Partial<UpscaleOptions> = {}): UpscaleOptions => ({
  ...DEFAULT_UPSCALE_OPTIONS,
  ...overrides,
});

async function rawPixels(file: string) {
  const { data, info } = await sharp(file)
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  return { data, info };
}

describe('engine.upscaleFile', () => {
  it('upscales a PNG x2 with per-tile progress and leaves only the output file', async () => {
    const input = await writeTexturedImage(path.join(temp.dir, 'photo.png'), 24, 16);
    const output = path.join(temp.dir, 'photo_x2.png');
    const progress: UpscaleProgress[] = [];
    const result = await engine.upscaleFile(input, output, options({ tileSize: 32 }), {
      onProgress: (p) => progress.push(p),
    });
    expect([
      result.outputWidth,
      result.outputHeight,
      result.model,
      result.stages,
      result.provider,
    ]).toEqual([48, 32, 'cmsc-tiny', 1, 'cpu']);
    // 32 px tiles, 7 px of context on the inner sides only (none exists beyond the image):
    // 48 px wide is 2 columns of 24 + 7 = 31 px; 32 px high fits one row.
    expect(result.tiles).toBe(2);
    expect(progress.map((p) => p.tilesDone)).toEqual([1, 2]);
    expect(progress.every((p) => p.tilesTotal === 2)).toBe(true);
    expect(progress.at(-1)?.etaMs).toBe(0);
    const meta = await sharp(output).metadata();
    expect([meta.format, meta.width, meta.height, meta.channels]).toEqual(['png', 48, 32, 3]);
    expect((await readdir(temp.dir)).sort()).toEqual(['photo.png', 'photo_x2.png']);
    const speed = engine.listModels()[0]!.presets[0]!.measuredMegapixelsPerSecond;
    expect(speed).toBeCloseTo((48 * 32) / 1e6 / (result.inferenceMs / 1000), 6);
    // Where the time went, phase by phase; together no more than the whole.
    const phases = result.phasesMs;
    expect(Object.keys(phases)).toEqual([
      'decode',
      'colour',
      'bicubic',
      'inference',
      'merge',
      'encode',
      'rename',
    ]);
    expect(Object.values(phases).every((ms) => ms >= 0)).toBe(true);
    expect(phases.inference).toBe(result.inferenceMs);
    expect(phases.encode).toBeGreaterThan(0);
    const sum = Object.values(phases).reduce((a, b) => a + b, 0);
    expect(sum).toBeLessThanOrEqual(result.elapsedMs);
  });

  it('tiled output is within 1 grey level of untiled on an image of many tiles', async () => {
    const input = await writeTexturedImage(path.join(temp.dir, 'big.png'), 90, 70);
    const tiled = path.join(temp.dir, 'tiled.png');
    const untiled = path.join(temp.dir, 'untiled.png');
    const tiledResult = await engine.upscaleFile(input, tiled, options({ tileSize: 48 }));
    await engine.upscaleFile(input, untiled, options({ tileSize: 1024 }));
    expect(tiledResult.tiles).toBeGreaterThanOrEqual(20);
    const a = await rawPixels(tiled);
    const b = await rawPixels(untiled);
    let maxDifference = 0;
    for (let i = 0; i < a.data.length; i++)
      maxDifference = Math.max(maxDifference, Math.abs(a.data[i]! - b.data[i]!));
    expect(maxDifference).toBeLessThanOrEqual(1);
  });

  it("grows a tile too small for the model's context to the smallest that works", async () => {
    const input = await writeTexturedImage(path.join(temp.dir, 'small-tiles.png'), 20, 12);
    const output = path.join(temp.dir, 'small-tiles_x2.png');
    // cmsc-tiny's 7 px of context each side leave no core in a 16 px tile; 2 × 7 + 8 = 22 does.
    const result = await engine.upscaleFile(input, output, options({ tileSize: 16 }));
    expect([result.tileSize, result.outputWidth, result.outputHeight]).toEqual([22, 40, 24]);
    expect(result.tiles).toBeGreaterThan(1);
  });

  it('honours non-integer scales and width targets', async () => {
    const input = await writeTexturedImage(path.join(temp.dir, 'p.jpg'), 20, 10, {
      format: 'jpeg',
    });
    const scaled = await engine.upscaleFile(
      input,
      path.join(temp.dir, 'a.jpg'),
      options({ target: { kind: 'scale', scale: 1.5 } }),
    );
    expect([scaled.outputWidth, scaled.outputHeight]).toEqual([30, 15]);
    const wide = await engine.upscaleFile(
      input,
      path.join(temp.dir, 'b.webp'),
      options({ target: { kind: 'width', width: 70 }, format: 'webp' }),
    );
    expect([wide.outputWidth, wide.outputHeight]).toEqual([70, 35]);
    expect((await sharp(path.join(temp.dir, 'b.webp')).metadata()).format).toBe('webp');
    await expect(
      engine.upscaleFile(
        input,
        path.join(temp.dir, 'c.jpg'),
        options({ target: { kind: 'scale', scale: 5 } }),
      ),
    ).rejects.toThrow(/scale must be between 1 and 4/);
  });

  it('keeps 16 bits, alpha and (on request) the ICC profile', async () => {
    const input = path.join(temp.dir, 'deep.png');
    const samples = Uint16Array.from({ length: 12 * 8 * 4 }, (_, i) => (i * 2731) % 65536);
    await sharp(samples, { raw: { width: 12, height: 8, channels: 4 } })
      .toColourspace('rgb16')
      .withIccProfile('p3')
      .png()
      .toFile(input);
    const kept = path.join(temp.dir, 'kept.png');
    await engine.upscaleFile(input, kept, options({ keepMetadata: true }));
    const keptMeta = await sharp(kept).metadata();
    expect([keptMeta.depth, keptMeta.channels, keptMeta.hasAlpha, keptMeta.width]).toEqual([
      'ushort',
      4,
      true,
      24,
    ]);
    expect(keptMeta.icc?.subarray(16, 20).toString('latin1')).toBe('RGB ');
    const stripped = path.join(temp.dir, 'stripped.png');
    await engine.upscaleFile(input, stripped, options({ keepMetadata: false }));
    expect((await sharp(stripped).metadata()).icc).toBeUndefined();
  });

  it('flattens transparency onto white when the format has no alpha (JPEG)', async () => {
    const input = path.join(temp.dir, 'clear.png');
    await sharp({
      create: { width: 8, height: 8, channels: 4, background: { r: 255, g: 0, b: 0, alpha: 0 } },
    })
      .png()
      .toFile(input);
    const output = path.join(temp.dir, 'clear.jpg');
    await engine.upscaleFile(input, output, options({ format: 'jpeg', encodeQuality: 100 }));
    const { data, info } = await rawPixels(output);
    expect(info.channels).toBe(3);
    expect(Math.min(...data)).toBeGreaterThanOrEqual(250);
  });

  it('cancel stops the image within a tile and leaves no output file', async () => {
    const input = await writeTexturedImage(path.join(temp.dir, 'photo.png'), 60, 40);
    const output = path.join(temp.dir, 'photo_x2.png');
    const controller = new AbortController();
    let tilesSeen = 0;
    const run = engine.upscaleFile(input, output, options({ tileSize: 32 }), {
      signal: controller.signal,
      onProgress: (p) => {
        tilesSeen = p.tilesDone;
        if (p.tilesDone === 2) controller.abort(new Error('stopped by the user'));
      },
    });
    await expect(run).rejects.toThrow('stopped by the user');
    expect(tilesSeen).toBe(2);
    expect(await readdir(temp.dir)).toEqual(['photo.png']);
  });

  it('never writes over its input', async () => {
    const input = await writeTexturedImage(path.join(temp.dir, 'photo.png'), 8, 8);
    const before = await stat(input);
    await expect(engine.upscaleFile(input, input, options())).rejects.toThrow(
      /inputs are never modified/,
    );
    expect((await stat(input)).mtimeMs).toBe(before.mtimeMs);
  });
});

describe('engine.upscaleRegion', () => {
  it('returns the input crop and the matching output crop of the full upscale', async () => {
    const input = await writeTexturedImage(path.join(temp.dir, 'photo.png'), 40, 30);
    const full = path.join(temp.dir, 'full.png');
    await engine.upscaleFile(input, full, options({ tileSize: 1024 }));
    const region = await engine.upscaleRegion(
      input,
      { x: 10, y: 5, width: 12, height: 9 },
      options({ tileSize: 1024 }),
    );
    expect(region.outputRegion).toEqual({ x: 20, y: 10, width: 24, height: 18 });
    expect([region.input.width, region.input.height, region.input.data.length]).toEqual([
      12,
      9,
      12 * 9 * 4,
    ]);
    const fullPixels = await rawPixels(full);
    let maxDifference = 0;
    for (let y = 0; y < 18; y++) {
      for (let x = 0; x < 24; x++) {
        for (let c = 0; c < 3; c++) {
          const expected = fullPixels.data[((10 + y) * 80 + 20 + x) * 3 + c]!;
          maxDifference = Math.max(
            maxDifference,
            Math.abs(region.output.data[(y * 24 + x) * 4 + c]! - expected),
          );
        }
        expect(region.output.data[(y * 24 + x) * 4 + 3]).toBe(255);
      }
    }
    expect(maxDifference).toBeLessThanOrEqual(1);
  });
});

describe('execution providers', () => {
  it('auto reports the provider that runs and why the others were skipped', async () => {
    const autoEngine = await createEngine({
      modelsDirs: [FIXTURE_MODELS_DIR],
      device: 'auto',
      threads: 1,
    });
    try {
      const report = await autoEngine.providers();
      expect(report.requested).toBe('auto');
      expect(report.attempts.at(-1)).toEqual({ provider: report.active, ok: true, reason: '' });
      for (const attempt of report.attempts.slice(0, -1)) {
        expect(attempt.ok).toBe(false);
        expect(attempt.reason.length).toBeGreaterThan(10);
      }
    } finally {
      await autoEngine.close();
    }
  });

  it('an explicit provider that is unavailable fails with a clear message', async () => {
    const cudaEngine = await createEngine({
      modelsDirs: [FIXTURE_MODELS_DIR],
      device: 'cuda',
      threads: 1,
    });
    try {
      const input = await writeTexturedImage(path.join(temp.dir, 'photo.png'), 8, 8);
      // This machine has no CUDA libraries; on one that has, the upscale simply succeeds.
      const outcome = await cudaEngine
        .upscaleFile(input, path.join(temp.dir, 'out.png'), options())
        .then(
          (result) => `ran on ${result.provider}`,
          (error: Error) => error.message,
        );
      expect(outcome).toMatch(/^(ran on cuda|device cuda is not available \(cuda: .+\))$/);
    } finally {
      await cudaEngine.close();
    }
  });
});
