/**
 * Compare's crops decode only the part of the photo they read (issue 22, "Compare and preview
 * stay fast on big photos"): the crop equals the same part of the whole photo's output (0 grey
 * levels) for every fixture model kind, alpha and an EXIF-rotated JPEG, and a crop of a big
 * photo never decodes the whole of it (a spy on the decoder) unless the noise level decides
 * the model, which is then measured once per photo.
 */
import path from 'node:path';
import sharp from 'sharp';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createEngine, type Engine } from '../../src/main/engine/index.ts';
import * as imageDecode from '../../src/main/engine/imageDecode.ts';
import {
  DEFAULT_UPSCALE_OPTIONS,
  type SourceSetting,
  type UpscaleOptions,
} from '../../src/shared/upscaleOptions.ts';
import {
  FIXTURE_MODELS_DIR,
  makeTempDir,
  texturedPixels,
  writeTexturedImage,
} from '../helpers/testImages.ts';
import { FAST_DIR, MODEL_KIND_CASES, type ModelKindCase } from './modelKindCases.ts';

vi.mock('../../src/main/engine/imageDecode.ts', async (importOriginal) => {
  const actual = await importOriginal<typeof imageDecode>();
  return {
    ...actual,
    decodeSamples: vi.fn(actual.decodeSamples),
    decodeWindow: vi.fn(actual.decodeWindow),
  };
});

let temp: Awaited<ReturnType<typeof makeTempDir>>;
beforeEach(async () => {
  temp = await makeTempDir();
  vi.mocked(imageDecode.decodeSamples).mockClear();
  vi.mocked(imageDecode.decodeWindow).mockClear();
});
afterEach(async () => temp.remove());

/** Every fixture model kind (self-ensemble aside: Compare runs it as the batch does), and a turned JPEG. */
const CASES: (ModelKindCase & { rotatedJpeg?: boolean })[] = [
  ...MODEL_KIND_CASES.filter((c) => !c.tta),
  {
    name: 'input-resolution model x2, EXIF-rotated JPEG',
    dir: FAST_DIR,
    model: 'cmsc-tiny-fast',
    scale: 2,
    rotatedJpeg: true,
  },
];

const WIDTH = 420;
const HEIGHT = 300;
/** A crop in the middle, well inside: its window is a part of the photo, not all of it. */
const REGION = { x: 190, y: 130, width: 40, height: 30 };

describe('a Compare crop decodes only its window and equals the whole output there', () => {
  for (const c of CASES) {
    it(c.name, async () => {
      const engine = await createEngine({ modelsDirs: [c.dir], device: 'cpu', threads: 1 });
      try {
        let input: string;
        if (c.rotatedJpeg) {
          // Stored 300 wide and 420 high, shown 420 x 300 after the EXIF turn.
          input = path.join(temp.dir, 'in.jpg');
          await sharp(texturedPixels(HEIGHT, WIDTH, 3), {
            raw: { width: HEIGHT, height: WIDTH, channels: 3 },
          })
            .jpeg({ quality: 90 })
            .withMetadata({ orientation: 6 })
            .toFile(input);
        } else {
          input = await writeTexturedImage(path.join(temp.dir, 'in.png'), WIDTH, HEIGHT, {
            channels: c.alpha ? 4 : 3,
          });
        }
        const options: UpscaleOptions = {
          ...DEFAULT_UPSCALE_OPTIONS,
          model: c.model,
          // Clean: the noise level is not needed, so nothing decodes the whole photo.
          source: 'clean',
          target: { kind: 'scale', scale: c.scale },
          precision: c.precision ?? 'auto',
          quality: c.quality ?? 'best',
          format: 'png',
          tileSize: 48,
        };
        const crop = await engine.upscaleRegion(input, REGION, options);
        expect(imageDecode.decodeSamples).not.toHaveBeenCalled();
        expect(imageDecode.decodeWindow).toHaveBeenCalledTimes(1);
        const window = vi.mocked(imageDecode.decodeWindow).mock.calls[0]![1];
        expect(window.width * window.height).toBeLessThan(WIDTH * HEIGHT);

        const output = path.join(temp.dir, 'out.png');
        await engine.upscaleFile(input, output, options);
        const { outputRegion } = crop;
        const { data, info } = await sharp(output)
          .extract({
            left: outputRegion.x,
            top: outputRegion.y,
            width: outputRegion.width,
            height: outputRegion.height,
          })
          .raw({ depth: 'uchar' })
          .toBuffer({ resolveWithObject: true });
        let differing = 0;
        for (let p = 0; p < info.width * info.height; p++) {
          for (let ch = 0; ch < info.channels; ch++)
            if (data[p * info.channels + ch] !== crop.output.data[p * 4 + ch]) differing++;
        }
        expect([crop.output.width, crop.output.height]).toEqual([info.width, info.height]);
        expect(differing).toBe(0);
        // The input pane shows the photo's own pixels there, upright.
        const upright = await sharp(input)
          .autoOrient()
          .extract({ left: REGION.x, top: REGION.y, width: REGION.width, height: REGION.height })
          .ensureAlpha()
          .raw()
          .toBuffer();
        expect(Buffer.compare(Buffer.from(crop.input.data), upright)).toBe(0);
      } finally {
        await engine.close();
      }
    });
  }
});

/** The tiny fixture model at x2 with the Source setting `source`, closed after `run`. */
async function withTinyModel(
  source: SourceSetting,
  run: (engine: Engine, options: UpscaleOptions) => Promise<void>,
): Promise<void> {
  const engine = await createEngine({
    modelsDirs: [FIXTURE_MODELS_DIR],
    device: 'cpu',
    threads: 1,
  });
  try {
    await run(engine, {
      ...DEFAULT_UPSCALE_OPTIONS,
      model: 'cmsc-tiny',
      source,
      target: { kind: 'scale', scale: 2 },
    });
  } finally {
    await engine.close();
  }
}

describe('a crop of a big photo', () => {
  it('decodes a window of it, never the whole photo, and a nudged crop decodes nothing more', async () => {
    // 24 MP, as a camera saves it (quality 90: its tables send it to the photo variant).
    const input = path.join(temp.dir, 'camera.jpg');
    await sharp(texturedPixels(6000, 4000, 3), { raw: { width: 6000, height: 4000, channels: 3 } })
      .jpeg({ quality: 90 })
      .toFile(input);
    await withTinyModel('auto', async (engine, options) => {
      const first = await engine.upscaleRegion(
        input,
        { x: 3000, y: 2500, width: 64, height: 48 },
        options,
      );
      await engine.upscaleRegion(input, { x: 3010, y: 2505, width: 64, height: 48 }, options);
      expect(first.source.reason).toBe('JPEG quality ≈ 90');
      expect(imageDecode.decodeSamples).not.toHaveBeenCalled();
      expect(imageDecode.decodeWindow).toHaveBeenCalledTimes(1);
      const window = vi.mocked(imageDecode.decodeWindow).mock.calls[0]![1];
      // The crop, its model context and the slack for a nudge: well under 1 % of the photo.
      expect(window.width * window.height).toBeLessThan(0.01 * 6000 * 4000);
    });
  });

  it('measures the noise over the whole photo once, when the noise decides the model', async () => {
    const input = await writeTexturedImage(path.join(temp.dir, 'scan.png'), 900, 700);
    await withTinyModel('auto', async (engine, options) => {
      const crops = [];
      for (const x of [100, 500, 700])
        crops.push(
          await engine.upscaleRegion(input, { x, y: 300, width: 40, height: 40 }, options),
        );
      // The batch's own decision for the file: the same reason, from the same noise level.
      const out = await engine.upscaleFile(input, path.join(temp.dir, 'out.png'), options);
      expect(crops.map((crop) => crop.source)).toEqual([out.source, out.source, out.source]);
      // Once for Compare's noise, once for the batch's run.
      expect(imageDecode.decodeSamples).toHaveBeenCalledTimes(2);
      expect(imageDecode.decodeWindow).toHaveBeenCalledTimes(3);
    });
  });
});
