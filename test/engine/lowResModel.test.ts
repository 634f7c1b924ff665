/**
 * Input-resolution models (cmsc-fast): tiles planned in input pixels, the bicubic residual
 * fed beside the low-resolution tile, non-integer targets resized down from the model's
 * integer-scale output, Compare regions, self-ensemble, and the engine end to end.
 */
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  planResize,
  type Rect,
  resizePlane,
  resizeRegion,
  sourceRect,
} from '../../src/main/engine/bicubic.ts';
import { createEngine, type Engine } from '../../src/main/engine/index.ts';
import { parseModelCard } from '../../src/main/engine/modelCard.ts';
import {
  fastModelQualifies,
  ModelRegistry,
  modelScaleFor,
} from '../../src/main/engine/modelRegistry.ts';
import {
  type LowResImage,
  type PlaneModel,
  upscaleTiled,
} from '../../src/main/engine/tiledUpscale.ts';
import { DEFAULT_UPSCALE_OPTIONS, type UpscaleOptions } from '../../src/shared/upscaleOptions.ts';
import { makeTempDir, writeTexturedImage } from '../helpers/testImages.ts';

const FAST_FIXTURE_DIR = path.resolve(import.meta.dirname, '../fixtures/models-fast');

function lowRes(width: number, height: number): LowResImage {
  const plane = (seed: number) =>
    Float32Array.from({ length: width * height }, (_, i) => ((i * seed) % 97) / 97);
  return { width, height, y: plane(13), cb: plane(7), cr: plane(5), alpha: plane(3) };
}

/**
 * A x`scale` input-resolution model: bicubic + a 3x3 box blur of the low-resolution input
 * (zero-padded like a conv), each input pixel's value spread over its scale x scale block.
 * Its receptive radius is 1 input pixel.
 */
const fakeLowResModel =
  (scale: number): PlaneModel =>
  async (input, batch, height, width, bicubic) => {
    if (!bicubic) throw new Error('no bicubic input');
    const outWidth = width * scale;
    const outHeight = height * scale;
    const out = new Float32Array(batch * outWidth * outHeight);
    for (let b = 0; b < batch; b++) {
      for (let y = 0; y < outHeight; y++) {
        for (let x = 0; x < outWidth; x++) {
          const cy = Math.floor(y / scale);
          const cx = Math.floor(x / scale);
          let sum = 0;
          for (let dy = -1; dy <= 1; dy++) {
            for (let dx = -1; dx <= 1; dx++) {
              const yy = cy + dy;
              const xx = cx + dx;
              if (yy >= 0 && yy < height && xx >= 0 && xx < width)
                sum += input[b * width * height + yy * width + xx]!;
            }
          }
          const at = b * outWidth * outHeight + y * outWidth + x;
          out[at] = bicubic[at]! + sum / 90;
        }
      }
    }
    return out;
  };

interface Rendered {
  y: Float32Array;
  cb: Float32Array;
  tiles: number;
}

async function render(
  lr: LowResImage,
  out: { width: number; height: number },
  tileSize: number,
  options: { region?: Rect; selfEnsemble?: boolean; scale?: number } = {},
): Promise<Rendered> {
  const region = options.region ?? { x: 0, y: 0, ...out };
  const y = new Float32Array(region.width * region.height).fill(NaN);
  const cb = new Float32Array(region.width * region.height).fill(NaN);
  const scale = options.scale ?? 2;
  const stats = await upscaleTiled(lr, {
    outWidth: out.width,
    outHeight: out.height,
    ...(options.region ? { region: options.region } : {}),
    tileSize,
    overlap: 1,
    selfEnsemble: options.selfEnsemble ?? false,
    model: fakeLowResModel(scale),
    lowResInput: { scale },
    sink: (tile) => {
      for (let row = 0; row < tile.core.height; row++) {
        const at = (tile.core.y - region.y + row) * region.width + tile.core.x - region.x;
        y.set(tile.y.subarray(row * tile.core.width, (row + 1) * tile.core.width), at);
        cb.set(tile.cb.subarray(row * tile.core.width, (row + 1) * tile.core.width), at);
      }
    },
  });
  return { y, cb, tiles: stats.tiles };
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

function crop(plane: Float32Array, width: number, r: Rect): Float32Array {
  const out = new Float32Array(r.width * r.height);
  for (let row = 0; row < r.height; row++)
    out.set(
      plane.subarray((r.y + row) * width + r.x, (r.y + row) * width + r.x + r.width),
      row * r.width,
    );
  return out;
}

describe('tiling an input-resolution model', () => {
  const lr = lowRes(23, 17);

  it('plans tiles in input pixels and matches the untiled result exactly at x2', async () => {
    const whole = await render(lr, { width: 46, height: 34 }, 1000);
    const tiled = await render(lr, { width: 46, height: 34 }, 12);
    expect(whole.tiles).toBe(1);
    // 23 x 17 input pixels in padded tiles of at most 12 (1 px context): 3 columns, 2 rows.
    expect(tiled.tiles).toBe(6);
    expect(whole.y.some(Number.isNaN)).toBe(false);
    expect(maxDiff(tiled.y, whole.y)).toBe(0);
    // The output is the model's: bicubic x2 of the input plus its blur term.
    const bicubic = resizePlane(lr.y, 23, 17, 46, 34);
    const box = (x: number, y: number) => {
      let sum = 0;
      for (let dy = -1; dy <= 1; dy++)
        for (let dx = -1; dx <= 1; dx++) {
          const yy = y + dy;
          const xx = x + dx;
          if (yy >= 0 && yy < 17 && xx >= 0 && xx < 23) sum += lr.y[yy * 23 + xx]!;
        }
      return sum / 90;
    };
    expect(whole.y[5 * 46 + 9]).toBeCloseTo(bicubic[5 * 46 + 9]! + box(4, 2), 6);
    // Chroma is the bicubic of the input at the target size.
    expect(maxDiff(whole.cb, resizePlane(lr.cb, 23, 17, 46, 34))).toBe(0);
  });

  it('resizes the x2 output down to a non-integer target (x1.5), tiled or not', async () => {
    const full2 = await render(lr, { width: 46, height: 34 }, 1000);
    const expected = resizePlane(full2.y, 46, 34, 35, 26);
    const whole = await render(lr, { width: 35, height: 26 }, 1000);
    const tiled = await render(lr, { width: 35, height: 26 }, 12);
    expect(maxDiff(whole.y, expected)).toBeLessThan(1e-6);
    expect(maxDiff(tiled.y, expected)).toBeLessThan(1e-6);
    expect(maxDiff(whole.cb, resizePlane(lr.cb, 23, 17, 35, 26))).toBe(0);
  });

  it('resizes up when the target is beyond the model scale (x3 from a x2 model)', async () => {
    const full2 = await render(lr, { width: 46, height: 34 }, 1000);
    const expected = resizePlane(full2.y, 46, 34, 69, 51);
    const tiled = await render(lr, { width: 69, height: 51 }, 12);
    expect(maxDiff(tiled.y, expected)).toBeLessThan(1e-6);
  });

  it('produces a Compare region equal to the same crop of the whole output', async () => {
    for (const out of [
      { width: 46, height: 34 },
      { width: 35, height: 26 },
    ]) {
      const whole = await render(lr, out, 1000);
      const region = { x: 7, y: 5, width: 13, height: 9 };
      const part = await render(lr, out, 12, { region });
      expect(part.y.some(Number.isNaN)).toBe(false);
      expect(maxDiff(part.y, crop(whole.y, out.width, region))).toBeLessThan(1e-6);
    }
  });

  it('runs self-ensemble on the input tile and its bicubic image together', async () => {
    // The fake model commutes with flips and transposes, so the ensemble mean is its output.
    const plain = await render(lr, { width: 46, height: 34 }, 12);
    const ensemble = await render(lr, { width: 46, height: 34 }, 12, { selfEnsemble: true });
    expect(maxDiff(ensemble.y, plain.y)).toBeLessThan(1e-6);
  });

  it('never hands the model the image plane itself (the worker takes ownership of inputs)', async () => {
    // The inference client transfers input buffers to its worker thread, which detaches them
    // here. A single tile covering the whole image must still get its own copy of the Y plane.
    const image = lowRes(23, 17);
    const detaching: PlaneModel = async (input, batch, height, width, bicubic) => {
      const out = await fakeLowResModel(2)(input, batch, height, width, bicubic);
      structuredClone(input.buffer, { transfer: [input.buffer as ArrayBuffer] });
      return out;
    };
    const run = async () => {
      const y = new Float32Array(46 * 34);
      await upscaleTiled(image, {
        outWidth: 46,
        outHeight: 34,
        tileSize: 1000,
        overlap: 1,
        selfEnsemble: false,
        model: detaching,
        lowResInput: { scale: 2 },
        sink: (tile) => y.set(tile.y, 0),
      });
      return y;
    };
    const first = await run();
    expect(image.y.length).toBe(23 * 17);
    expect(maxDiff(await run(), first)).toBe(0);
  });

  it('sourceRect names the input pixels a resized region reads', () => {
    const plan = planResize(46, 34, 35, 26);
    const region = { x: 3, y: 4, width: 10, height: 6 };
    const source = sourceRect(plan, region);
    const plane = Float32Array.from({ length: 46 * 34 }, (_, i) => Math.sin(i));
    const fromPart = resizeRegion(crop(plane, 46, source), plan, region, source);
    expect(maxDiff(fromPart, resizeRegion(plane, plan, region))).toBe(0);
    expect(source).toEqual({ x: 2, y: 3, width: 18, height: 13 });
  });
});

describe('input-resolution model cards', () => {
  let card: Record<string, unknown>;
  beforeAll(async () => {
    card = JSON.parse(
      await readFile(path.join(FAST_FIXTURE_DIR, 'cmsc-tiny-fast.json'), 'utf8'),
    ) as Record<string, unknown>;
  });

  it('reads the input resolution, the bicubic input and the scale of each file', () => {
    const parsed = parseModelCard(card, 'fast.json');
    expect(parsed.input.resolution).toBe('input');
    expect(parsed.input.bicubic).toBe('bicubic_y');
    expect(parsed.scales).toEqual([2]);
    expect(parsed.variants.map((v) => [v.stages, v.scale])).toEqual([[1, 2]]);
    const input = card.input as Record<string, unknown>;
    expect(() =>
      parseModelCard({ ...card, input: { ...input, bicubic: undefined } }, 'bad.json'),
    ).toThrow('bad.json: input.bicubic must be a string');
    const variant = (card.variants as Record<string, unknown>[])[0]!;
    expect(() =>
      parseModelCard({ ...card, variants: [{ ...variant, scale: 3 }] }, 'bad.json'),
    ).toThrow("bad.json: variants[0].scale must be one of the card's scales (2 or more)");
    // Cards without the field are the paper's design.
    const { resolution: _dropped, ...paperInput } = input;
    void _dropped;
    const paper = parseModelCard(
      {
        ...card,
        input: { ...paperInput, bicubic: undefined },
        variants: [{ ...variant, scale: undefined }],
      },
      'paper.json',
    );
    expect(paper.input.resolution).toBe('output');
  });

  it('runs the smallest integer scale at or above the target, else its largest', () => {
    const parsed = parseModelCard({ ...card, scales: [2, 4] }, 'fast.json');
    expect([1, 1.5, 2, 2.01, 3, 4].map((s) => modelScaleFor(parsed, s))).toEqual([
      2, 2, 2, 4, 4, 4,
    ]);
    expect(modelScaleFor(parseModelCard(card, 'fast.json'), 3)).toBe(2);
  });

  const evaluated = (psnr: { set5: number; set14: number }, scale = 2, stages = 1) => ({
    protocol: 'test',
    results: [
      { dataset: 'Set5', scale, stages, psnr: psnr.set5, ssim: 0.9 },
      { dataset: 'Set14', scale, stages, psnr: psnr.set14, ssim: 0.9 },
    ],
  });

  it('qualifies the fast model only where it is at least as good on Set5 and Set14', () => {
    const lite = parseModelCard(
      { ...card, name: 'cmsc-lite', evaluation: evaluated({ set5: 37.04, set14: 32.68 }) },
      'l',
    );
    const fast = (set5: number, set14: number) =>
      parseModelCard({ ...card, name: 'cmsc-fast', evaluation: evaluated({ set5, set14 }) }, 'f');
    expect(fastModelQualifies(fast(37.1, 32.68), lite, 2)).toBe(true);
    expect(fastModelQualifies(fast(37.1, 32.6), lite, 2)).toBe(false);
    expect(fastModelQualifies(fast(36.9, 32.9), lite, 2)).toBe(false);
    // x1.5 runs the x2 file: judged at x2. x3 has no file: never.
    expect(fastModelQualifies(fast(37.1, 32.7), lite, 1.5)).toBe(true);
    expect(fastModelQualifies(fast(37.1, 32.7), lite, 3)).toBe(false);
  });

  describe('default model on a CPU', () => {
    let temp: Awaited<ReturnType<typeof makeTempDir>>;
    beforeEach(async () => {
      temp = await makeTempDir();
    });
    afterEach(async () => temp.remove());

    it('is cmsc-fast at the scales where it qualifies, cmsc-lite elsewhere', async () => {
      const lite = {
        ...card,
        name: 'cmsc-lite',
        input: { ...(card.input as object), resolution: 'output', bicubic: undefined },
        scales: [2, 3, 4],
        variants: (card.variants as Record<string, unknown>[]).map((v) => ({
          ...v,
          scale: undefined,
        })),
        evaluation: {
          protocol: 't',
          results: [
            ...evaluated({ set5: 37.0, set14: 32.6 }).results,
            ...evaluated({ set5: 33.1, set14: 29.5 }, 3).results,
          ],
        },
      };
      await writeFile(path.join(temp.dir, 'cmsc-lite.json'), JSON.stringify(lite));
      await writeFile(
        path.join(temp.dir, 'cmsc-fast.json'),
        JSON.stringify({
          ...card,
          name: 'cmsc-fast',
          evaluation: evaluated({ set5: 37.2, set14: 32.7 }),
        }),
      );
      const registry = await ModelRegistry.load([temp.dir]);
      expect(registry.get(undefined, 'cpu', 2).card.name).toBe('cmsc-fast');
      expect(registry.get(undefined, 'cpu', 1.25).card.name).toBe('cmsc-fast');
      expect(registry.get(undefined, 'cpu', 3).card.name).toBe('cmsc-lite');
      expect(registry.get(undefined, 'accelerator', 2).card.name).toBe('cmsc-lite');
    });

    /** cmsc-lite (all scales) and cmsc-fast (x2 card) with photo variants and JPEG rows. */
    async function writeFamilies(fastPhotoPsnr: number | null): Promise<ModelRegistry> {
      const liteCard = {
        ...card,
        input: { ...(card.input as object), resolution: 'output', bicubic: undefined },
        scales: [2, 3, 4],
        variants: (card.variants as Record<string, unknown>[]).map((v) => ({
          ...v,
          scale: undefined,
        })),
        evaluation: evaluated({ set5: 37.0, set14: 32.6 }),
      };
      const rows = (method: string, psnr: number) => ({
        results: ['Set5', 'Set14'].flatMap((dataset) =>
          [50, 75, 90].map((q) => ({ dataset, scale: 2, input: `q${q}`, method, psnr })),
        ),
      });
      const cards: Record<string, unknown>[] = [
        { ...liteCard, name: 'cmsc-lite' },
        {
          ...liteCard,
          name: 'cmsc-lite-photo',
          photoVariantOf: 'cmsc-lite',
          photoInputs: rows('cmsc-lite-photo', 33.0),
        },
        { ...card, name: 'cmsc-fast', evaluation: evaluated({ set5: 37.2, set14: 32.7 }) },
      ];
      if (fastPhotoPsnr !== null)
        cards.push({
          ...card,
          name: 'cmsc-fast-photo',
          photoVariantOf: 'cmsc-fast',
          photoInputs: rows('cmsc-fast-photo', fastPhotoPsnr),
        });
      for (const c of cards)
        await writeFile(path.join(temp.dir, `${String(c.name)}.json`), JSON.stringify(c));
      const registry = await ModelRegistry.load([temp.dir]);
      expect(registry.problems).toEqual([]);
      return registry;
    }
    const photo = { kind: 'photo', jpegQuality: 75 } as const;

    it('sends photos to the fast photo variant where it has the scale, else to another model’s', async () => {
      const registry = await writeFamilies(33.2);
      expect(registry.get(undefined, 'cpu', 2).card.name).toBe('cmsc-fast');
      expect(registry.modelForSource(undefined, photo, 'cpu', 2)).toBe('cmsc-fast-photo');
      // The fast photo card has no x4 file: a x4 photo runs cmsc-lite's photo variant.
      expect(registry.modelForSource(undefined, photo, 'cpu', 4)).toBe('cmsc-lite-photo');
      expect(registry.modelForSource('cmsc-fast', photo, 'cpu', 4)).toBe('cmsc-fast');
    });

    it('keeps cmsc-lite the default where the fast photo path scores lower on the JPEG sets', async () => {
      expect((await writeFamilies(32.9)).get(undefined, 'cpu', 2).card.name).toBe('cmsc-lite');
      await temp.remove();
      temp = await makeTempDir();
      // No fast photo variant: photos go to cmsc-lite-photo under either default.
      expect((await writeFamilies(null)).get(undefined, 'cpu', 2).card.name).toBe('cmsc-fast');
    });
  });
});

describe('engine with an input-resolution model', () => {
  let engine: Engine;
  let temp: Awaited<ReturnType<typeof makeTempDir>>;
  beforeAll(async () => {
    engine = await createEngine({ modelsDirs: [FAST_FIXTURE_DIR], device: 'cpu', threads: 1 });
  });
  afterAll(async () => engine.close());
  beforeEach(async () => {
    temp = await makeTempDir();
  });
  afterEach(async () => temp.remove());

  const options = (overrides: Partial<UpscaleOptions> = {}): UpscaleOptions => ({
    ...DEFAULT_UPSCALE_OPTIONS,
    model: 'cmsc-tiny-fast',
    ...overrides,
  });
  const pixels = async (file: string) =>
    await sharp(file).raw().toBuffer({ resolveWithObject: true });

  it('upscales x2 in input-pixel tiles equal to untiled within 1 grey level', async () => {
    const input = await writeTexturedImage(path.join(temp.dir, 'in.png'), 40, 30);
    const tiledPath = path.join(temp.dir, 'tiled.png');
    const wholePath = path.join(temp.dir, 'whole.png');
    const tiled = await engine.upscaleFile(input, tiledPath, options({ tileSize: 24 }));
    const whole = await engine.upscaleFile(input, wholePath, options({ tileSize: 4096 }));
    expect([tiled.outputWidth, tiled.outputHeight, tiled.model, whole.tiles]).toEqual([
      80,
      60,
      'cmsc-tiny-fast',
      1,
    ]);
    // 40 x 30 input pixels, padded tiles of at most 24 with 7 px of context: 3 x 2 tiles.
    expect(tiled.tiles).toBe(6);
    const a = await pixels(tiledPath);
    const b = await pixels(wholePath);
    let max = 0;
    for (let i = 0; i < a.data.length; i++) max = Math.max(max, Math.abs(a.data[i]! - b.data[i]!));
    expect(max).toBeLessThanOrEqual(1);
  });

  it('reaches a width target through the x2 model and a resize', async () => {
    const input = await writeTexturedImage(path.join(temp.dir, 'in.png'), 40, 30);
    const result = await engine.upscaleFile(
      input,
      path.join(temp.dir, 'w.png'),
      options({ target: { kind: 'width', width: 57 } }),
    );
    expect([result.outputWidth, result.outputHeight]).toEqual([57, 43]);
    const meta = await sharp(path.join(temp.dir, 'w.png')).metadata();
    expect([meta.width, meta.height]).toEqual([57, 43]);
  });

  it('gives Compare crops equal to the same crop of the whole photo, with self-ensemble', async () => {
    const input = await writeTexturedImage(path.join(temp.dir, 'in.png'), 40, 30);
    const wholePath = path.join(temp.dir, 'whole.png');
    await engine.upscaleFile(input, wholePath, options({ selfEnsemble: true }));
    const region = await engine.upscaleRegion(
      input,
      { x: 9, y: 7, width: 15, height: 11 },
      options({ selfEnsemble: true, tileSize: 24 }),
    );
    expect(region.outputRegion).toEqual({ x: 18, y: 14, width: 30, height: 22 });
    const whole = await pixels(wholePath);
    let max = 0;
    for (let row = 0; row < 22; row++) {
      for (let col = 0; col < 30; col++) {
        for (let c = 0; c < 3; c++) {
          const w = whole.data[((14 + row) * 80 + 18 + col) * 3 + c]!;
          const r = region.output.data[(row * 30 + col) * 4 + c]!;
          max = Math.max(max, Math.abs(w - r));
        }
      }
    }
    expect(max).toBeLessThanOrEqual(1);
  });

  it('shows the speed measured on the int8 file beside the preset that ran it', async () => {
    const registry = await ModelRegistry.load([FAST_FIXTURE_DIR]);
    const measured = (file: string) => (file.endsWith('-int8.onnx') ? 2.5 : null);
    const best = registry.summaries(measured)[0]!.presets.find((p) => p.preset === 'best')!;
    expect(best.measuredMegapixelsPerSecond).toBe(2.5);
    const fp32Only = (file: string) => (file.endsWith('-int8.onnx') ? null : 1.25);
    expect(
      registry.summaries(fp32Only)[0]!.presets.find((p) => p.preset === 'best')!
        .measuredMegapixelsPerSecond,
    ).toBe(1.25);
  });

  it('reads int8 files from the card and picks them only when allowed', async () => {
    const json = JSON.parse(
      await readFile(path.join(FAST_FIXTURE_DIR, 'cmsc-tiny-fast.json'), 'utf8'),
    ) as { variants: Record<string, unknown>[] };
    const card = parseModelCard(json, 'fast.json');
    expect(card.variants[0]!.int8?.file).toBe('cmsc-tiny-fast-int8.onnx');
    const int8 = json.variants[0]!.int8 as Record<string, unknown>;
    expect(() =>
      parseModelCard(
        { ...json, variants: [{ ...json.variants[0], int8: { ...int8, sha256: 'x' } }] },
        'bad.json',
      ),
    ).toThrow('bad.json: variants[0].int8.sha256 must be a 64-digit lowercase hex string');
    const registry = await ModelRegistry.load([FAST_FIXTURE_DIR]);
    const float = await registry.resolve('cmsc-tiny-fast', 'best', 'cpu', 2, false);
    const quantized = await registry.resolve('cmsc-tiny-fast', 'best', 'cpu', 2, true);
    expect([path.basename(float.path), float.int8]).toEqual(['cmsc-tiny-fast.onnx', undefined]);
    expect([path.basename(quantized.path), quantized.int8]).toEqual([
      'cmsc-tiny-fast-int8.onnx',
      true,
    ]);
  });

  it('runs int8 files on a CPU unless fp32 is asked for, within 2 grey levels of fp32', async () => {
    const input = await writeTexturedImage(path.join(temp.dir, 'in.png'), 40, 30);
    const ran: string[] = [];
    const run = async (precision: 'auto' | 'fp32', name: string) => {
      const out = path.join(temp.dir, name);
      const result = await engine.upscaleFile(input, out, {
        ...DEFAULT_UPSCALE_OPTIONS,
        model: 'cmsc-tiny-fast',
        precision,
      });
      ran.push(result.precision);
      return (await sharp(out).raw().toBuffer({ resolveWithObject: true })).data;
    };
    const auto = await run('auto', 'auto.png');
    const fp32 = await run('fp32', 'fp32.png');
    // The result says which file ran.
    expect(ran).toEqual(['int8', 'fp32']);
    let max = 0;
    let differing = 0;
    for (let i = 0; i < auto.length; i++) {
      const d = Math.abs(auto[i]! - fp32[i]!);
      max = Math.max(max, d);
      if (d > 0) differing++;
    }
    // Different files ran (int8 rounds some pixels differently), both close to each other.
    expect(differing).toBeGreaterThan(0);
    expect(max).toBeLessThanOrEqual(2);
  });

  it('says which file made a Compare crop, and which presets have an int8 file', async () => {
    const input = await writeTexturedImage(path.join(temp.dir, 'in.png'), 24, 20);
    const crop = (precision: 'auto' | 'fp32') =>
      engine.upscaleRegion(input, { x: 2, y: 2, width: 8, height: 8 }, options({ precision }));
    expect([(await crop('auto')).precision, (await crop('fp32')).precision]).toEqual([
      'int8',
      'fp32',
    ]);
    // The time estimate reads this to know which file a job will run.
    expect(engine.listModels()[0]!.presets.map((p) => [p.preset, p.file, p.int8File])).toEqual([
      ['fast', 'cmsc-tiny-fast.onnx', 'cmsc-tiny-fast-int8.onnx'],
      ['balanced', 'cmsc-tiny-fast.onnx', 'cmsc-tiny-fast-int8.onnx'],
      ['best', 'cmsc-tiny-fast.onnx', 'cmsc-tiny-fast-int8.onnx'],
    ]);
  });
});

describe('engine with an input-resolution model trained per scale', () => {
  const X4_FIXTURE_DIR = path.resolve(import.meta.dirname, '../fixtures/models-fast-x4');
  let temp: Awaited<ReturnType<typeof makeTempDir>>;
  beforeEach(async () => {
    temp = await makeTempDir();
  });
  afterEach(async () => temp.remove());

  /** Folders holding the x2 fixture, the x4 fixture, and one card with both (as export merges them). */
  async function writeCards(): Promise<{ both: string; x2: string; x4: string }> {
    const read = async (dir: string, name: string) =>
      JSON.parse(await readFile(path.join(dir, `${name}.json`), 'utf8')) as Record<string, unknown>;
    const x2Card = await read(FAST_FIXTURE_DIR, 'cmsc-tiny-fast');
    const x4Card = await read(X4_FIXTURE_DIR, 'cmsc-tiny-fast-x4');
    const dirs = { both: 'both', x2: 'x2', x4: 'x4' };
    for (const [kind, sub] of Object.entries(dirs)) {
      const dir = path.join(temp.dir, sub);
      await mkdir(dir);
      const variants = [
        ...(kind !== 'x4' ? (x2Card.variants as unknown[]) : []),
        ...(kind !== 'x2' ? (x4Card.variants as unknown[]) : []),
      ];
      for (const [from, file] of [
        [FAST_FIXTURE_DIR, 'cmsc-tiny-fast.onnx'],
        [X4_FIXTURE_DIR, 'cmsc-tiny-fast-x4.onnx'],
      ] as const)
        await copyFile(path.join(from, file), path.join(dir, file));
      const scales = kind === 'both' ? [2, 4] : kind === 'x2' ? [2] : [4];
      await writeFile(
        path.join(dir, 'cmsc-tiny-fast.json'),
        JSON.stringify({ ...x2Card, scales, variants }),
      );
    }
    return {
      both: path.join(temp.dir, dirs.both),
      x2: path.join(temp.dir, dirs.x2),
      x4: path.join(temp.dir, dirs.x4),
    };
  }

  async function upscaleWith(dir: string, input: string, scale: number): Promise<Buffer> {
    const engine = await createEngine({ modelsDirs: [dir], device: 'cpu', threads: 1 });
    try {
      const out = path.join(temp.dir, `out-${path.basename(dir)}-${scale}.png`);
      const result = await engine.upscaleFile(input, out, {
        ...DEFAULT_UPSCALE_OPTIONS,
        model: 'cmsc-tiny-fast',
        precision: 'fp32',
        target: { kind: 'scale', scale },
      });
      expect([result.outputWidth, result.outputHeight]).toEqual([40 * scale, 30 * scale]);
      return (await sharp(out).raw().toBuffer({ resolveWithObject: true })).data;
    } finally {
      await engine.close();
    }
  }

  it('summarises the FLOPs per output pixel of each scale’s file', async () => {
    const dirs = await writeCards();
    const [summary] = (await ModelRegistry.load([dirs.both])).summaries();
    const best = summary!.presets.find((p) => p.preset === 'best')!;
    const byScale = best.flopsPerPixelByScale!;
    // The same body on 4x fewer input pixels per output pixel at x4, plus a wider head.
    expect(Object.keys(byScale)).toEqual(['2', '4']);
    expect(byScale[2]).toBe(best.flopsPerPixel);
    expect(byScale[4]!).toBeLessThan(byScale[2]! / 2);
  });

  it('runs the x4 file at x4 and at x3 (resized down), the x2 file at x2', async () => {
    const dirs = await writeCards();
    const input = await writeTexturedImage(path.join(temp.dir, 'in.png'), 40, 30);
    // The same pixels as a card holding only the file that should run.
    expect(
      (await upscaleWith(dirs.both, input, 4)).equals(await upscaleWith(dirs.x4, input, 4)),
    ).toBe(true);
    expect(
      (await upscaleWith(dirs.both, input, 3)).equals(await upscaleWith(dirs.x4, input, 3)),
    ).toBe(true);
    expect(
      (await upscaleWith(dirs.both, input, 2)).equals(await upscaleWith(dirs.x2, input, 2)),
    ).toBe(true);
    // And not what the x2 file resized up to x3 gives.
    expect(
      (await upscaleWith(dirs.both, input, 3)).equals(await upscaleWith(dirs.x2, input, 3)),
    ).toBe(false);
  });
});
