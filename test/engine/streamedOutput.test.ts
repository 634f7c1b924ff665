/**
 * The streamed path (bands of tiles → rows into a raster file as they finish → one sharp encode)
 * gives exactly the pixels of the whole-image path (every tile into one in-memory raster, which
 * the Compare screen's upscaleRegion runs over the whole photo): for every model kind in the
 * fixtures, for alpha, self-ensemble, int8 and non-integer scales. Same tile size on both sides,
 * so the tiles are the same and the comparison is exact (0 grey levels). That the compact
 * samples read as the float planes did is lowResSource.test.ts.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createEngine } from '../../src/main/engine/index.ts';
import { OutputLimitError } from '../../src/main/engine/engine.ts';
import { diskSpaceProblem } from '../../src/main/engine/diskSpace.ts';
import { formatSizeProblem } from '../../src/main/engine/imageEncode.ts';
import { DEFAULT_UPSCALE_OPTIONS, type UpscaleOptions } from '../../src/shared/upscaleOptions.ts';
import { FIXTURE_MODELS_DIR, makeTempDir, writeTexturedImage } from '../helpers/testImages.ts';
import { MODEL_KIND_CASES } from './modelKindCases.ts';

let temp: Awaited<ReturnType<typeof makeTempDir>>;
beforeEach(async () => {
  temp = await makeTempDir();
});
afterEach(async () => temp.remove());

describe('streamed output equals the whole-image path', () => {
  for (const c of MODEL_KIND_CASES) {
    it(c.name, async () => {
      const engine = await createEngine({ modelsDirs: [c.dir], device: 'cpu', threads: 1 });
      try {
        const input = await writeTexturedImage(path.join(temp.dir, 'in.png'), 71, 53, {
          channels: c.alpha ? 4 : 3,
        });
        const output = path.join(temp.dir, 'out.png');
        const options: UpscaleOptions = {
          ...DEFAULT_UPSCALE_OPTIONS,
          model: c.model,
          target: { kind: 'scale', scale: c.scale },
          selfEnsemble: c.tta ?? false,
          precision: c.precision ?? 'auto',
          quality: c.quality ?? 'best',
          format: 'png',
          // Small tiles: several bands of several tiles each.
          tileSize: 32,
        };
        const streamed = await engine.upscaleFile(input, output, options);
        const whole = await engine.upscaleRegion(
          input,
          { x: 0, y: 0, width: 71, height: 53 },
          options,
        );
        // Several bands of several tiles (input pixels for input-resolution models).
        expect(streamed.tiles).toBeGreaterThanOrEqual(9);
        expect([streamed.outputWidth, streamed.outputHeight]).toEqual([
          whole.outputWidth,
          whole.outputHeight,
        ]);
        const { data, info } = await sharp(output)
          .raw({ depth: 'uchar' })
          .toBuffer({ resolveWithObject: true });
        expect(info.channels).toBe(c.alpha ? 4 : 3);
        const rgba = whole.output.data;
        let differing = 0;
        for (let p = 0; p < info.width * info.height; p++) {
          for (let ch = 0; ch < info.channels; ch++) {
            if (data[p * info.channels + ch] !== rgba[p * 4 + ch]) differing++;
          }
        }
        expect(differing).toBe(0);
        // Nothing left beside the output: no raster file, no partial file.
        expect((await readdir(temp.dir)).sort()).toEqual(['in.png', 'out.png']);
      } finally {
        await engine.close();
      }
    });
  }

  it('writes 16-bit PNG output from a 16-bit input through the raster file, the 8-bit path to rounding', async () => {
    const engine = await createEngine({
      modelsDirs: [FIXTURE_MODELS_DIR],
      device: 'cpu',
      threads: 1,
    });
    try {
      const pixels = new Uint16Array(20 * 12 * 3).map((_, i) => (i * 2741) % 65536);
      const input = path.join(temp.dir, 'deep.png');
      await sharp(Buffer.from(pixels.buffer), { raw: { width: 20, height: 12, channels: 3 } })
        .toColourspace('rgb16')
        .png()
        .toFile(input);
      const output = path.join(temp.dir, 'deep_x2.png');
      await engine.upscaleFile(input, output, {
        ...DEFAULT_UPSCALE_OPTIONS,
        format: 'png',
        tileSize: 32,
      });
      const meta = await sharp(output).metadata();
      expect([meta.width, meta.height, meta.depth, meta.channels]).toEqual([40, 24, 'ushort', 3]);
      const deep = await sharp(output).toColourspace('rgb16').raw({ depth: 'ushort' }).toBuffer();
      const samples = new Uint16Array(deep.buffer, deep.byteOffset, deep.byteLength / 2);
      const whole = await engine.upscaleRegion(
        input,
        { x: 0, y: 0, width: 20, height: 12 },
        { ...DEFAULT_UPSCALE_OPTIONS, tileSize: 32 },
      );
      // The same floats quantised to 16 and to 8 bits: v16 / 257 and v8 differ by at most ½.
      let worst = 0;
      for (let p = 0; p < 40 * 24; p++) {
        for (let c = 0; c < 3; c++) {
          worst = Math.max(
            worst,
            Math.abs(samples[p * 3 + c]! / 257 - whole.output.data[p * 4 + c]!),
          );
        }
      }
      expect(worst).toBeLessThanOrEqual(0.5 + 1e-9);
    } finally {
      await engine.close();
    }
  });
});

describe('outputs a format or the limit cannot hold', () => {
  it('names the formats that can hold the size, in one sentence', () => {
    expect(formatSizeProblem('webp', 16384, 9000)).toBe(
      'the output would be 16384x9000 px and WebP holds at most 16383 px a side; choose JPEG (up to 65500 px a side), AVIF, PNG or TIFF, or a smaller size',
    );
    expect(formatSizeProblem('avif', 20000, 100)).toBe(
      'the output would be 20000x100 px and AVIF holds at most 16384 px a side; choose JPEG (up to 65500 px a side), PNG or TIFF, or a smaller size',
    );
    expect(formatSizeProblem('jpeg', 70000, 100)).toBe(
      'the output would be 70000x100 px and JPEG holds at most 65500 px a side; choose PNG or TIFF, or a smaller size',
    );
    expect(formatSizeProblem('webp', 16383, 16383)).toBeNull();
    expect(formatSizeProblem('jpeg', 65500, 65500)).toBeNull();
    expect(formatSizeProblem('png', 120000, 10)).toBeNull();
  });

  it('refuses before any tile runs and leaves no file behind', async () => {
    const engine = await createEngine({
      modelsDirs: [FIXTURE_MODELS_DIR],
      device: 'cpu',
      threads: 1,
    });
    try {
      // 8200 px wide at x2 is 16400 px: past WebP's 16383.
      const input = await writeTexturedImage(path.join(temp.dir, 'wide.png'), 8200, 4);
      const output = path.join(temp.dir, 'wide_x2.webp');
      const failure = await engine
        .upscaleFile(input, output, { ...DEFAULT_UPSCALE_OPTIONS, format: 'webp' })
        .catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(OutputLimitError);
      expect((failure as OutputLimitError).limit).toBe('format');
      expect((failure as Error).message).toBe(
        `${input}: the output would be 16400x8 px and WebP holds at most 16383 px a side; choose JPEG (up to 65500 px a side), PNG or TIFF, or a smaller size`,
      );
      expect(await readdir(temp.dir)).toEqual(['wide.png']);
    } finally {
      await engine.close();
    }
  });

  it('says when the output folder’s volume has no room for the raster file and the output', async () => {
    expect(await diskSpaceProblem(temp.dir, 1)).toBeNull();
    // A petabyte: no test machine has it free.
    expect(await diskSpaceProblem(temp.dir, 1e15)).toMatch(
      new RegExp(
        `^the output needs about 1000000\\.0 GB free in ${temp.dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} while it is made, and \\d+\\.\\d GB is free; free some space or choose another output folder$`,
      ),
    );
  });

  it('refuses an output over the pixel limit with the number', async () => {
    const engine = await createEngine({
      modelsDirs: [FIXTURE_MODELS_DIR],
      device: 'cpu',
      threads: 1,
      maxOutputPixels: 1000,
    });
    try {
      const input = await writeTexturedImage(path.join(temp.dir, 'in.png'), 20, 20);
      const failure = await engine
        .upscaleFile(input, path.join(temp.dir, 'out.png'), DEFAULT_UPSCALE_OPTIONS)
        .catch((error: unknown) => error);
      expect((failure as OutputLimitError).limit).toBe('pixels');
      expect((failure as Error).message).toBe(
        `${input}: output 40x40 exceeds the limit of 1,000 pixels`,
      );
      expect(await readdir(temp.dir)).toEqual(['in.png']);
    } finally {
      await engine.close();
    }
  });

  it('leaves no raster or partial file when cancelled between bands', async () => {
    const engine = await createEngine({
      modelsDirs: [FIXTURE_MODELS_DIR],
      device: 'cpu',
      threads: 1,
    });
    try {
      const input = await writeTexturedImage(path.join(temp.dir, 'in.png'), 40, 40);
      const controller = new AbortController();
      const failure = await engine
        .upscaleFile(
          input,
          path.join(temp.dir, 'out.png'),
          { ...DEFAULT_UPSCALE_OPTIONS, tileSize: 32 },
          {
            signal: controller.signal,
            onProgress: (p) => {
              if (p.tilesDone === 3) controller.abort();
            },
          },
        )
        .catch((error: unknown) => error);
      expect((failure as Error).name).toBe('AbortError');
      expect(await readdir(temp.dir)).toEqual(['in.png']);
    } finally {
      await engine.close();
    }
  });
});
