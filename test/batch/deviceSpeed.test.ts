/**
 * This machine's speed figure: FLOPs per second inside inference and pipeline seconds per
 * megapixel, from a calibration and refined by real photos; the estimate a job gets from it.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeFile } from 'node:fs/promises';
import {
  expectedPrecision,
  formatFlopsPerSecond,
  megapixelsPerSecond,
  SpeedLog,
  type SpeedFigure,
} from '../../src/main/batch/deviceSpeed.ts';
import type { ImageUpscaler } from '../../src/main/batch/imageUpscaler.ts';
import { estimateJob } from '../../src/main/batch/preflight.ts';
import { RunPlanner } from '../../src/main/batch/runPlan.ts';
import type { ExportSettings } from '../../src/shared/exportSettings.ts';
import type { ModelSummary } from '../../src/shared/upscaleOptions.ts';
import { testSettings } from './batchFixtures.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'cmsc-speed-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const model: ModelSummary = {
  name: 'cmsc-lite',
  isDefault: true,
  displayName: 'CMSC lite',
  description: '',
  parameters: 1,
  presets: [
    {
      preset: 'fast',
      stages: 1,
      file: 'a',
      flopsPerPixel: 250_000,
      set5Psnr: {},
      measuredMegapixelsPerSecond: null,
    },
    {
      preset: 'best',
      stages: 3,
      file: 'b',
      flopsPerPixel: 1_000_000,
      set5Psnr: {},
      measuredMegapixelsPerSecond: null,
    },
  ],
};

describe('speed log', () => {
  it('derives FLOP/s and pipeline time from a calibration, then blends real photos in', async () => {
    const log = new SpeedLog(path.join(dir, 'speed.json'));
    const key = { provider: 'cpu' as const, model: 'cmsc-lite', precision: 'fp32' as const };
    expect(log.get(key)).toBe(null);
    // 1 MFLOP/px x 1 MP in 2 s of inference = 500 GFLOP/s; 1 s of the rest per MP.
    expect(
      await log.recordCalibration(key, {
        flopsPerPixel: 1e6,
        outputPixels: 1e6,
        inferenceMs: 2000,
        elapsedMs: 3000,
      }),
    ).toEqual({
      flopsPerSecond: 5e11,
      pipelineSecondsPerMegapixel: 1,
      source: 'calibrated',
      photos: 0,
    });
    // The first real photo (1 TFLOP/s, 0.5 s/MP) counts half against a calibration.
    expect(
      await log.recordPhoto(key, {
        flopsPerPixel: 1e6,
        outputPixels: 2e6,
        inferenceMs: 2000,
        elapsedMs: 3000,
      }),
    ).toEqual({
      flopsPerSecond: 7.5e11,
      pipelineSecondsPerMegapixel: 0.75,
      source: 'measured',
      photos: 1,
      // 2 MP teach the rates alone: nothing of its time is left for a per-photo overhead.
      overheadSecondsPerPhoto: 0,
    });
    // Later photos weigh 0.3, times their share of 2 MP for the rates (1 MP: half).
    const third = await log.recordPhoto(key, {
      flopsPerPixel: 1e6,
      outputPixels: 1e6,
      inferenceMs: 1000,
      elapsedMs: 1750,
    });
    expect(third.flopsPerSecond).toBeCloseTo(7.5e11 * 0.85 + 1e12 * 0.15, 0);
    expect(third.pipelineSecondsPerMegapixel).toBeCloseTo(0.75, 12);
    expect(third.photos).toBe(2);
    // Stored: a new log on the same file reads the same figure.
    const reread = new SpeedLog(path.join(dir, 'speed.json'));
    await reread.load();
    expect(reread.get(key)).toEqual(third);
    expect(Object.keys(JSON.parse(await readFile(path.join(dir, 'speed.json'), 'utf8')))).toEqual([
      'cpu/cmsc-lite/fp32',
    ]);
  });

  it('turns a figure into megapixels per second for a preset and self-ensemble', () => {
    const figure = {
      flopsPerSecond: 1e12,
      pipelineSecondsPerMegapixel: 0.5,
      source: 'measured' as const,
      photos: 3,
    };
    // best: 1e6 FLOPs/px x 1e6 px / 1e12 = 1 s + 0.5 s per MP.
    expect(megapixelsPerSecond(figure, model, { qualityPreset: 'best', selfEnsemble: false })).toBe(
      1 / 1.5,
    );
    // self-ensemble: 8 passes = 8 s + 0.5 s.
    expect(megapixelsPerSecond(figure, model, { qualityPreset: 'best', selfEnsemble: true })).toBe(
      1 / 8.5,
    );
    expect(
      megapixelsPerSecond(figure, model, { qualityPreset: 'balanced', selfEnsemble: false }),
    ).toBe(null);
    // An input-resolution model runs another file per integer scale: x3 and x4 run the x4 one.
    const perScale: ModelSummary = {
      ...model,
      presets: [{ ...model.presets[1]!, flopsPerPixelByScale: { 2: 1_000_000, 4: 250_000 } }],
    };
    const best = { qualityPreset: 'best', selfEnsemble: false } as const;
    expect(
      [undefined, 1.5, 2, 3, 4, 6].map((scale) =>
        megapixelsPerSecond(figure, perScale, best, scale),
      ),
    ).toEqual([1 / 1.5, 1 / 1.5, 1 / 1.5, 1 / 0.75, 1 / 0.75, 1 / 0.75]);
    expect([
      formatFlopsPerSecond(2.7e11),
      formatFlopsPerSecond(3.3e9),
      formatFlopsPerSecond(8.5e8),
    ]).toEqual(['270 GFLOP/s', '3.3 GFLOP/s', '850 MFLOP/s']);
  });
});

/** The port with only what the planner reads: the models, and the model a file is predicted to run. */
function plannerUpscaler(
  models: ModelSummary[],
  pick: (jpegQuality: number | null) => string,
): ImageUpscaler {
  return {
    listModels: () => models,
    plannedModel: (_options, jpegQuality) => pick(jpegQuality),
    upscaleFile: () => Promise.reject(new Error('nothing runs in these tests')),
    activeProvider: () => 'cpu',
    close: () => Promise.resolve(),
  };
}

/** The estimate of `files` (path, size, JPEG quality) with `figures` as this machine's speed file. */
async function estimateWith(options: {
  files: { inputPath: string; width: number; height: number; jpegQuality: number | null }[];
  settings: ExportSettings;
  models: ModelSummary[];
  pick: (jpegQuality: number | null) => string;
  figures?: Record<string, SpeedFigure>;
}) {
  const speedFile = path.join(dir, 'speed.json');
  await writeFile(speedFile, JSON.stringify(options.figures ?? {}));
  const log = new SpeedLog(speedFile);
  await log.load();
  const planner = new RunPlanner(
    plannerUpscaler(options.models, options.pick),
    log,
    options.settings,
    'cpu',
  );
  return estimateJob({
    files: options.files.map(({ inputPath, width, height, jpegQuality }) => ({
      inputPath,
      header: {
        width,
        height,
        format: jpegQuality === null ? 'png' : 'jpeg',
        channels: 3,
        sixteenBit: false,
        bytes: 1,
      },
      jpegQuality,
      problem: null,
    })),
    settings: options.settings,
    outputFolder: dir,
    runFor: (jpegQuality, scale) => planner.runFor(jpegQuality, scale),
    queuedOutputBytes: 0,
  });
}

const measuredFigure = (
  flopsPerSecond: number,
  pipelineSecondsPerMegapixel: number,
  photos: number,
): SpeedFigure => ({
  flopsPerSecond,
  pipelineSecondsPerMegapixel,
  source: 'measured',
  photos,
});

describe('estimate', () => {
  it('uses the measured speed and says so', async () => {
    const estimate = await estimateWith({
      files: [{ inputPath: '/p/a.png', width: 1000, height: 500, jpegQuality: null }],
      settings: testSettings({ qualityPreset: 'best' }),
      models: [model],
      pick: () => 'cmsc-lite',
      // best: 1 MFLOP per pixel at 1 TFLOP/s = 1 s per MP, plus 1 s of the rest: 0.5 MP/s.
      figures: { 'cpu/cmsc-lite/fp32': measuredFigure(1e12, 1, 7) },
    });
    // 2000 x 1000 output = 2 MP at 0.5 MP/s.
    expect([
      estimate.estimatedMs,
      estimate.megapixelsPerSecond,
      estimate.throughputBasis,
      estimate.speedBasis,
    ]).toEqual([
      4000,
      0.5,
      'measured',
      'cmsc-lite (best, fp32) on CPU at 1.0 TFLOP/s, measured over 7 photos',
    ]);
  });

  it('says when the speed is only assumed, and for which model', async () => {
    const estimate = await estimateWith({
      files: [],
      settings: testSettings(),
      models: [model],
      pick: () => 'cmsc-lite',
    });
    expect([estimate.throughputBasis, estimate.speedBasis]).toEqual([
      'assumed',
      'cmsc-lite (fast, fp32): assumed 2 GFLOP/s on CPU (nothing measured yet)',
    ]);
  });

  it('times each file at its own model’s speed and names the model most files run', async () => {
    const photoModel: ModelSummary = {
      ...model,
      name: 'cmsc-lite-photo',
      isDefault: false,
      photoVariantOf: 'cmsc-lite',
    };
    const files = [
      { inputPath: '/p/a.jpg', width: 500, height: 500, jpegQuality: 70 },
      { inputPath: '/p/b.jpg', width: 500, height: 500, jpegQuality: 80 },
      { inputPath: '/p/c.png', width: 500, height: 500, jpegQuality: null },
    ];
    const estimate = await estimateWith({
      files,
      settings: testSettings(),
      models: [model, photoModel],
      pick: (jpegQuality) => (jpegQuality === null ? 'cmsc-lite' : 'cmsc-lite-photo'),
      // fast: 0.25 MFLOP per pixel. Clean: 0.25 + 0.75 = 1 s per MP; photo: 1 + 1 = 2 s per MP.
      figures: {
        'cpu/cmsc-lite/fp32': measuredFigure(1e12, 0.75, 4),
        'cpu/cmsc-lite-photo/fp32': {
          ...measuredFigure(2.5e11, 1, 0),
          source: 'calibrated',
        },
      },
    });
    // Each 1 MP out: two photos at 2 s, one clean file at 1 s.
    expect(estimate.estimatedMs).toBe(5000);
    expect(estimate.megapixelsPerSecond).toBeCloseTo(3 / 5, 12);
    expect([estimate.throughputBasis, estimate.speedBasis]).toEqual([
      'calibrated',
      'cmsc-lite-photo (fast, fp32) on CPU at 250 GFLOP/s, timed on a test photo; + 1 photo on cmsc-lite (fast, fp32) at 1.0 TFLOP/s',
    ]);
  });
});

describe('int8 and float files', () => {
  const fastModel: ModelSummary = {
    ...model,
    name: 'cmsc-fast',
    presets: [
      { ...model.presets[0]!, int8File: 'a-int8' },
      // A preset whose card ships no int8 file runs the float file everywhere.
      model.presets[1]!,
    ],
  };
  const figure = (flopsPerSecond: number) => ({
    flopsPerSecond,
    pipelineSecondsPerMegapixel: 0.5,
    source: 'measured' as const,
    photos: 2,
  });

  it('expects the int8 file on a CPU under auto where the preset has one, else the float file', () => {
    const auto = { qualityPreset: 'fast', precision: 'auto' } as const;
    expect([
      expectedPrecision(fastModel, auto, 'cpu'),
      expectedPrecision(fastModel, { ...auto, precision: 'fp32' }, 'cpu'),
      expectedPrecision(fastModel, auto, 'cuda'),
      expectedPrecision(fastModel, auto, 'webgpu'),
      expectedPrecision(fastModel, { ...auto, qualityPreset: 'best' }, 'cpu'),
      expectedPrecision(model, auto, 'cpu'),
      expectedPrecision(undefined, auto, 'cpu'),
    ]).toEqual(['int8', 'fp32', 'fp32', 'fp32', 'fp32', 'fp32', 'fp32']);
  });

  it('keeps one figure per precision, and drops figures stored before the key had one', async () => {
    const file = path.join(dir, 'speed.json');
    // `cpu/cmsc-fast` was written before the key said which file it timed: it may be either.
    await writeFile(
      file,
      JSON.stringify({
        'cpu/cmsc-fast': figure(9e9),
        'cpu/cmsc-fast/int8': figure(4e9),
        'cuda/cmsc-fast/fp16': figure(1e12),
      }),
    );
    const log = new SpeedLog(file);
    await log.load();
    const key = { provider: 'cpu' as const, model: 'cmsc-fast' };
    expect([
      log.get({ ...key, precision: 'int8' })?.flopsPerSecond,
      log.get({ ...key, precision: 'fp32' }),
    ]).toEqual([4e9, null]);
    await log.recordCalibration(
      { ...key, precision: 'fp32' },
      { flopsPerPixel: 1e6, outputPixels: 1e6, inferenceMs: 1000, elapsedMs: 1000 },
    );
    expect(log.get({ ...key, precision: 'int8' })?.flopsPerSecond).toBe(4e9);
    expect(log.get({ ...key, precision: 'fp32' })?.flopsPerSecond).toBe(1e12);
    expect(Object.keys(JSON.parse(await readFile(file, 'utf8'))).sort()).toEqual([
      'cpu/cmsc-fast/fp32',
      'cpu/cmsc-fast/int8',
    ]);
  });

  it('an unmeasured int8 estimate assumes the float rate and says so', async () => {
    const assumed = (precision: 'auto' | 'fp32') =>
      estimateWith({
        files: [],
        settings: testSettings({ model: 'cmsc-fast', precision }),
        models: [fastModel],
        pick: () => 'cmsc-fast',
      });
    const int8 = await assumed('auto');
    const fp32 = await assumed('fp32');
    expect([int8.throughputBasis, int8.speedBasis]).toEqual([
      'assumed',
      'cmsc-fast (fast, int8): assumed 2 GFLOP/s on CPU for the int8 file, as for float (nothing measured yet; int8 is usually faster)',
    ]);
    // The same figure: no unmeasured int8 speed-up is claimed.
    expect(int8.megapixelsPerSecond).toBe(fp32.megapixelsPerSecond);
    expect(int8.megapixelsPerSecond).toBe(1 / ((250_000 * 1e6) / 2e9 + 1.5));
  });
});
