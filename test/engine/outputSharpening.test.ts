/**
 * Output sharpening (issue 23): the setting's values, its place in the export settings, the
 * settings digest and the CLI, and that the encoder (streamed path included) and Compare's
 * crops apply the same unsharp mask.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createEngineService } from '../../src/main/api/engineService.ts';
import { outputShapingSettings, settingsDigest } from '../../src/main/batch/settingsDigest.ts';
import { toUpscaleOptions } from '../../src/main/batch/exportOptions.ts';
import { parseCliArguments, UsageError } from '../../src/main/cli/cliArguments.ts';
import { createEngine, type Engine } from '../../src/main/engine/index.ts';
import { encodeImage } from '../../src/main/engine/imageEncode.ts';
import {
  cloneSettings,
  DEFAULT_EXPORT_SETTINGS,
  migrateSettings,
} from '../../src/shared/exportSettings.ts';
import {
  describeSharpening,
  readOutputSharpening,
  unsharpMaskFor,
} from '../../src/shared/outputSharpening.ts';
import { DEFAULT_UPSCALE_OPTIONS, type UpscaleOptions } from '../../src/shared/upscaleOptions.ts';
import { FIXTURE_MODELS_DIR, writeTexturedImage } from '../helpers/testImages.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'cmsc-sharpen-'));
});
afterEach(async () => rm(dir, { recursive: true, force: true }));

/** A grey step from 60 to 190 at x = 16, 32 x 8 RGB. */
function stepPixels(): Uint8Array {
  const pixels = new Uint8Array(32 * 8 * 3);
  for (let p = 0; p < 32 * 8; p++) pixels.fill(p % 32 < 16 ? 60 : 190, p * 3, p * 3 + 3);
  return pixels;
}

async function encodedRow(sharpening: Parameters<typeof unsharpMaskFor>[0]): Promise<number[]> {
  const file = path.join(dir, `step-${describeSharpening(sharpening).replace(/\W+/g, '-')}.png`);
  await encodeImage(
    {
      width: 32,
      height: 8,
      channels: 3,
      pixels: stepPixels(),
      format: 'png',
      quality: 100,
      iccProfile: null,
      xmp: null,
      sharpening: unsharpMaskFor(sharpening),
    },
    file,
  );
  const { data } = await sharp(file).raw().toBuffer({ resolveWithObject: true });
  // The green sample of row 4: sharpening acts on lightness, so every channel moves alike.
  return Array.from({ length: 32 }, (_, x) => data[(4 * 32 + x) * 3 + 1]!);
}

describe('the setting', () => {
  it('maps each amount and medium to one unsharp mask, and none to no mask', () => {
    expect(unsharpMaskFor(undefined)).toBeNull();
    expect(unsharpMaskFor({ amount: 'none', medium: 'print' })).toBeNull();
    expect(unsharpMaskFor({ amount: 'low', medium: 'screen' })).toEqual({
      sigma: 0.6,
      m1: 0.125,
      m2: 0.5,
    });
    expect(unsharpMaskFor({ amount: 'standard', medium: 'screen' })).toEqual({
      sigma: 0.6,
      m1: 0.25,
      m2: 1,
    });
    expect(unsharpMaskFor({ amount: 'high', medium: 'print' })).toEqual({
      sigma: 1.2,
      m1: 0.5,
      m2: 2,
    });
  });

  it('reads only the amounts and media it knows', () => {
    expect(readOutputSharpening({ amount: 'high', medium: 'print' })).toEqual({
      amount: 'high',
      medium: 'print',
    });
    expect(readOutputSharpening({ amount: 'max', medium: 'print' })).toBeUndefined();
    expect(readOutputSharpening({ amount: 'low' })).toBeUndefined();
    expect(readOutputSharpening('standard')).toBeUndefined();
  });

  it('is part of the export settings: none by default, kept when valid, missing is not damage', () => {
    expect(DEFAULT_EXPORT_SETTINGS.sharpening).toEqual({ amount: 'none', medium: 'screen' });
    const saved = {
      ...cloneSettings(DEFAULT_EXPORT_SETTINGS),
      sharpening: { amount: 'standard', medium: 'print' },
    };
    expect(migrateSettings(saved)).toEqual({
      settings: { ...DEFAULT_EXPORT_SETTINGS, sharpening: { amount: 'standard', medium: 'print' } },
      warnings: [],
    });
    // A settings file from before sharpening existed: its meaning is "none", without a warning.
    const { sharpening: _dropped, ...older } = cloneSettings(DEFAULT_EXPORT_SETTINGS);
    expect(migrateSettings(older)).toEqual({ settings: DEFAULT_EXPORT_SETTINGS, warnings: [] });
    expect(migrateSettings({ ...saved, sharpening: { amount: 'extreme' } }).warnings).toEqual([
      'sharpening: invalid value {"amount":"extreme"}, using the default',
    ]);
  });

  it('changes the settings digest when on, and leaves the digest of unsharpened outputs as it was', () => {
    const digest = (sharpening: typeof DEFAULT_EXPORT_SETTINGS.sharpening) =>
      settingsDigest(
        outputShapingSettings(
          { ...cloneSettings(DEFAULT_EXPORT_SETTINGS), sharpening },
          'jpeg',
          [],
        ),
      );
    const none = digest({ amount: 'none', medium: 'screen' });
    // The digest as it was before sharpening existed: the same record without the field.
    const before = settingsDigest(
      outputShapingSettings(cloneSettings(DEFAULT_EXPORT_SETTINGS), 'jpeg', []),
    );
    const standard = digest({ amount: 'standard', medium: 'screen' });
    const print = digest({ amount: 'standard', medium: 'print' });
    expect(none).toBe(before);
    expect(new Set([none, standard, print]).size).toBe(3);
    expect(
      toUpscaleOptions(
        {
          ...cloneSettings(DEFAULT_EXPORT_SETTINGS),
          sharpening: { amount: 'high', medium: 'screen' },
        },
        'jpeg',
      ).sharpening,
    ).toEqual({ amount: 'high', medium: 'screen' });
    expect(toUpscaleOptions(cloneSettings(DEFAULT_EXPORT_SETTINGS), 'jpeg').sharpening).toBe(
      undefined,
    );
  });
});

describe('--sharpen and --sharpen-for', () => {
  const options = (argv: string[]) => {
    const parsed = parseCliArguments(argv);
    if (parsed.kind !== 'run') throw new Error('expected a run');
    return parsed.settings.options;
  };

  it('default to no sharpening, for screen when only --sharpen is given', () => {
    expect(options(['a.jpg']).sharpening).toBeUndefined();
    expect(options(['a.jpg', '--sharpen', 'none']).sharpening).toBeUndefined();
    expect(options(['a.jpg', '--sharpen', 'low']).sharpening).toEqual({
      amount: 'low',
      medium: 'screen',
    });
    expect(options(['a.jpg', '--sharpen', 'high', '--sharpen-for', 'print']).sharpening).toEqual({
      amount: 'high',
      medium: 'print',
    });
  });

  it('refuse unknown values, and a medium without an amount, as usage errors', () => {
    expect(() => parseCliArguments(['a.jpg', '--sharpen', 'max'])).toThrow(
      '--sharpen must be one of none, low, standard, high (got "max")',
    );
    expect(() => parseCliArguments(['a.jpg', '--sharpen', 'low', '--sharpen-for', 'web'])).toThrow(
      UsageError,
    );
    expect(() => parseCliArguments(['a.jpg', '--sharpen-for', 'print'])).toThrow(
      '--sharpen-for goes with --sharpen low, standard or high',
    );
  });
});

describe('the encoder', () => {
  it('leaves flat areas as they are and steepens the edge more with each amount', async () => {
    const none = await encodedRow({ amount: 'none', medium: 'screen' });
    const low = await encodedRow({ amount: 'low', medium: 'screen' });
    const high = await encodedRow({ amount: 'high', medium: 'screen' });
    expect(none).toEqual([...Array<number>(16).fill(60), ...Array<number>(16).fill(190)]);
    // Far from the edge nothing changes; at it the dark side darkens and the light side
    // brightens (the unsharp mask's overshoot), more at high than at low.
    for (const row of [low, high]) {
      expect(row.slice(0, 12)).toEqual(none.slice(0, 12));
      expect(row.slice(20)).toEqual(none.slice(20));
    }
    expect(low[15]!).toBeLessThan(60);
    expect(low[16]!).toBeGreaterThan(190);
    expect(high[15]!).toBeLessThan(low[15]!);
    expect(high[16]!).toBeGreaterThan(low[16]!);
  });

  it('a wider radius for print reaches further from the edge than screen', async () => {
    const screen = await encodedRow({ amount: 'high', medium: 'screen' });
    const print = await encodedRow({ amount: 'high', medium: 'print' });
    const changed = (row: number[]) =>
      row.filter((value, x) => value !== (x < 16 ? 60 : 190)).length;
    expect(changed(print)).toBeGreaterThan(changed(screen));
  });

  it('the streamed path writes the model output sharpened as sharp sharpens it', async () => {
    const engine = await createEngine({
      modelsDirs: [FIXTURE_MODELS_DIR],
      device: 'cpu',
      threads: 1,
    });
    try {
      const input = await writeTexturedImage(path.join(dir, 'in.png'), 61, 47, { channels: 3 });
      const options: UpscaleOptions = {
        ...DEFAULT_UPSCALE_OPTIONS,
        model: 'cmsc-tiny',
        target: { kind: 'scale', scale: 2 },
        format: 'png',
        // Several bands of tiles into the raster file.
        tileSize: 48,
      };
      const plain = path.join(dir, 'plain.png');
      const sharpened = path.join(dir, 'sharpened.png');
      await engine.upscaleFile(input, plain, options);
      await engine.upscaleFile(input, sharpened, {
        ...options,
        sharpening: { amount: 'standard', medium: 'print' },
      });
      const mask = unsharpMaskFor({ amount: 'standard', medium: 'print' })!;
      const expected = await sharp(plain).sharpen(mask).raw().toBuffer();
      const written = await sharp(sharpened).raw().toBuffer();
      const unsharpened = await sharp(plain).raw().toBuffer();
      expect(written.length).toBe(expected.length);
      expect(Buffer.compare(written, expected)).toBe(0);
      expect(Buffer.compare(written, unsharpened)).not.toBe(0);
    } finally {
      await engine.close();
    }
  });
});

describe("Compare's crop", () => {
  it('is sharpened as the export is, re-sharpened from the cached crop without upscaling again', async () => {
    const photo = path.join(dir, 'crop.png');
    await writeFile(photo, 'x');
    // An upscaled crop with a vertical edge: dark left half, light right half.
    const size = 16;
    const data = new Uint8Array(size * size * 4);
    for (let p = 0; p < size * size; p++) {
      const value = p % size < size / 2 ? 60 : 190;
      data.set([value, value, value, 255], p * 4);
    }
    const rgba = { width: size, height: size, data };
    let upscales = 0;
    const engine = {
      probe: async () => ({ width: 64, height: 64 }),
      providers: async () => ({ requested: 'cpu', active: 'cpu', attempts: [] }),
      async upscaleRegion() {
        upscales++;
        return {
          model: 'cmsc-fast',
          stages: 1,
          precision: 'int8',
          source: {
            kind: 'clean',
            setting: 'auto',
            reason: 'PNG',
            jpegQuality: null,
            noiseSigma: 0,
          },
          inputRegion: { x: 0, y: 0, width: 8, height: 8 },
          outputRegion: { x: 0, y: 0, width: size, height: size },
          outputWidth: 128,
          outputHeight: 128,
          input: rgba,
          output: rgba,
        };
      },
    } as unknown as Engine;
    let setting = { amount: 'none', medium: 'screen' } as const as {
      amount: 'none' | 'high';
      medium: 'screen';
    };
    const service = createEngineService(engine, {
      sharpening: async () => setting,
      availableProviders: [],
    });
    const request = {
      inputPath: photo,
      rect: { x: 0, y: 0, width: 8, height: 8 },
      scale: 2,
      quality: 'best' as const,
    };
    const plain = await service.crop(request);
    setting = { amount: 'high', medium: 'screen' };
    const fromSetting = await service.crop(request);
    const fromRequest = await service.crop({
      ...request,
      sharpening: { amount: 'high', medium: 'screen' },
    });
    expect(upscales).toBe(1);
    expect([plain.cached, fromSetting.cached, fromRequest.cached]).toEqual([false, true, true]);
    const pixels = async (bytes: Uint8Array) => sharp(bytes).raw().toBuffer();
    const expected = await sharp(Buffer.from(data), {
      raw: { width: size, height: size, channels: 4 },
    })
      .sharpen(unsharpMaskFor(setting)!)
      .raw()
      .toBuffer();
    expect(Buffer.compare(await pixels(fromSetting.upscaled.bytes), expected)).toBe(0);
    expect(Buffer.compare(await pixels(fromRequest.upscaled.bytes), expected)).toBe(0);
    expect(Buffer.compare(await pixels(plain.upscaled.bytes), Buffer.from(data))).toBe(0);
  });
});
