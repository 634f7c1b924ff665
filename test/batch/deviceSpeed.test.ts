/**
 * This machine's speed figure: FLOPs per second inside inference and pipeline seconds per
 * megapixel, from a calibration and refined by real photos; the estimate a job gets from it.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  formatFlopsPerSecond,
  megapixelsPerSecond,
  SpeedLog,
} from '../../src/main/batch/deviceSpeed.ts';
import { estimateJob } from '../../src/main/batch/preflight.ts';
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
    const key = { provider: 'cpu' as const, model: 'cmsc-lite' };
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
    });
    // Later photos weigh 0.3.
    const third = await log.recordPhoto(key, {
      flopsPerPixel: 1e6,
      outputPixels: 1e6,
      inferenceMs: 1000,
      elapsedMs: 1750,
    });
    expect(third.flopsPerSecond).toBeCloseTo(7.5e11 * 0.7 + 1e12 * 0.3, 0);
    expect(third.pipelineSecondsPerMegapixel).toBeCloseTo(0.75, 12);
    expect(third.photos).toBe(2);
    // Stored: a new log on the same file reads the same figure.
    const reread = new SpeedLog(path.join(dir, 'speed.json'));
    await reread.load();
    expect(reread.get(key)).toEqual(third);
    expect(Object.keys(JSON.parse(await readFile(path.join(dir, 'speed.json'), 'utf8')))).toEqual([
      'cpu/cmsc-lite',
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
    expect([
      formatFlopsPerSecond(2.7e11),
      formatFlopsPerSecond(3.3e9),
      formatFlopsPerSecond(8.5e8),
    ]).toEqual(['270 GFLOP/s', '3.3 GFLOP/s', '850 MFLOP/s']);
  });
});

describe('estimate', () => {
  it('uses the measured speed and says so', async () => {
    const estimate = await estimateJob({
      files: [
        {
          inputPath: '/p/a.png',
          header: {
            width: 1000,
            height: 500,
            format: 'png',
            channels: 3,
            sixteenBit: false,
            bytes: 1,
          },
          problem: null,
        },
      ],
      settings: testSettings({ qualityPreset: 'best' }),
      outputFolder: dir,
      speed: {
        megapixelsPerSecond: 0.5,
        basis: 'measured',
        description: 'cmsc-lite (best) on CPU at 270 GFLOP/s, measured over 7 photos',
      },
      provider: 'cpu',
      models: [model],
      queuedOutputBytes: 0,
    });
    // 2000 x 1000 output = 2 MP at 0.5 MP/s.
    expect([estimate.estimatedMs, estimate.throughputBasis, estimate.speedBasis]).toEqual([
      4000,
      'measured',
      'cmsc-lite (best) on CPU at 270 GFLOP/s, measured over 7 photos',
    ]);
  });

  it('says when the speed is only assumed', async () => {
    const estimate = await estimateJob({
      files: [],
      settings: testSettings(),
      outputFolder: dir,
      speed: null,
      provider: 'cpu',
      models: [model],
      queuedOutputBytes: 0,
    });
    expect([estimate.throughputBasis, estimate.speedBasis]).toEqual([
      'assumed',
      'assumed 2 GFLOP/s on CPU (nothing measured yet)',
    ]);
  });
});
