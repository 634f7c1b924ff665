/**
 * "Pause now" keeps a photo's finished rows (keptRaster.ts): a photo stopped part-way with a
 * KeepWorkRequest and run again gives the same file as a run never stopped, byte for byte, and
 * the second run infers only the tiles the kept rows do not cover. A run that differs in a
 * setting, or a kept file that was damaged, starts over and leaves nothing behind.
 */
import { readdir, readFile, truncate, utimes } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../../src/main/engine/index.ts';
import { keptRasterPaths } from '../../src/main/engine/keptRaster.ts';
import { KeepWorkRequest, WorkKept } from '../../src/shared/keptWork.ts';
import {
  DEFAULT_UPSCALE_OPTIONS,
  type UpscaleOptions,
  type UpscaleProgress,
} from '../../src/shared/upscaleOptions.ts';
import { FIXTURE_MODELS_DIR, makeTempDir, writeTexturedImage } from '../helpers/testImages.ts';
import { FAST_DIR } from './modelKindCases.ts';

let temp: Awaited<ReturnType<typeof makeTempDir>>;
let input: string;
beforeEach(async () => {
  temp = await makeTempDir();
  // Tall, in 32 px tiles: many bands, so a stop half-way leaves whole bands behind it.
  input = await writeTexturedImage(path.join(temp.dir, 'in.png'), 48, 120);
});
afterEach(async () => temp.remove());

const engines = new Map<string, Engine>();
beforeAll(async () => {
  for (const dir of [FIXTURE_MODELS_DIR, FAST_DIR])
    engines.set(dir, await createEngine({ modelsDirs: [dir], device: 'cpu', threads: 1 }));
});
afterAll(async () => {
  for (const engine of engines.values()) await engine.close();
});

const options = (overrides: Partial<UpscaleOptions>): UpscaleOptions => ({
  ...DEFAULT_UPSCALE_OPTIONS,
  model: 'cmsc-tiny',
  format: 'png',
  tileSize: 32,
  ...overrides,
});

/** Runs the photo and stops it with "Pause now" once `stopAt` of its tiles are done. */
async function stoppedAt(
  engine: Engine,
  output: string,
  settings: UpscaleOptions,
  stopAt: (tilesTotal: number) => number,
): Promise<{ error: unknown; tilesDone: number; tilesTotal: number }> {
  const controller = new AbortController();
  let seen = { tilesDone: 0, tilesTotal: 0 };
  const error = await engine
    .upscaleFile(input, output, settings, {
      signal: controller.signal,
      onProgress: ({ tilesDone, tilesTotal }) => {
        if (controller.signal.aborted) return;
        seen = { tilesDone, tilesTotal };
        if (tilesDone >= stopAt(tilesTotal)) controller.abort(new KeepWorkRequest('pause now'));
      },
    })
    .then(
      () => null,
      (reason: unknown) => reason,
    );
  return { error, ...seen };
}

async function runRecording(engine: Engine, output: string, settings: UpscaleOptions) {
  const events: UpscaleProgress[] = [];
  const result = await engine.upscaleFile(input, output, settings, {
    onProgress: (progress) => events.push(progress),
  });
  return { result, events };
}

async function filesIn(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((name) => name !== 'in.png').sort();
}

describe('a photo stopped by Pause now and run again', () => {
  const cases: { name: string; dir: string; settings: Partial<UpscaleOptions>; ext: string }[] = [
    { name: 'output-resolution model x2, PNG', dir: FIXTURE_MODELS_DIR, settings: {}, ext: 'png' },
    {
      name: 'output-resolution model x2, JPEG',
      dir: FIXTURE_MODELS_DIR,
      settings: { format: 'jpeg', encodeQuality: 90 },
      ext: 'jpg',
    },
    {
      name: 'input-resolution model x2 resized to x2.5, PNG',
      dir: FAST_DIR,
      settings: { model: 'cmsc-tiny-fast', target: { kind: 'scale', scale: 2.5 } },
      ext: 'png',
    },
  ];
  for (const c of cases) {
    it(`${c.name}: the same bytes as an uninterrupted run, only the remaining tiles inferred`, async () => {
      const engine = engines.get(c.dir)!;
      const settings = options(c.settings);
      const reference = path.join(temp.dir, `reference.${c.ext}`);
      const uninterrupted = await runRecording(engine, reference, settings);
      const total = uninterrupted.result.tiles;
      expect(uninterrupted.events).toHaveLength(total);
      expect(uninterrupted.result.tilesReused).toBeUndefined();

      const output = path.join(temp.dir, `out.${c.ext}`);
      const stop = await stoppedAt(engine, output, settings, (tiles) => Math.ceil(tiles / 2));
      expect(stop.error).toBeInstanceOf(WorkKept);
      const fraction = (stop.error as WorkKept).fraction;
      expect(fraction).toBeGreaterThan(0);
      expect(fraction).toBeLessThan(1);
      const kept = keptRasterPaths(output);
      // No output yet; the kept raster and its record are all that is left.
      expect(await filesIn(temp.dir)).toEqual(
        [path.basename(kept.raster), path.basename(kept.record), `reference.${c.ext}`].sort(),
      );

      const resumed = await runRecording(engine, output, settings);
      const reused = resumed.result.tilesReused ?? 0;
      expect(reused).toBeGreaterThan(0);
      expect(reused).toBeLessThanOrEqual(stop.tilesDone);
      // Progress starts at the kept tiles, then one event per tile inferred: the rest only.
      expect(resumed.events[0]).toMatchObject({
        tilesDone: reused,
        tilesTotal: total,
        etaMs: null,
      });
      expect(resumed.events.slice(1).map((event) => event.tilesDone)).toEqual(
        Array.from({ length: total - reused }, (_, i) => reused + i + 1),
      );
      expect(Buffer.compare(await readFile(output), await readFile(reference))).toBe(0);
      expect(await filesIn(temp.dir)).toEqual([`out.${c.ext}`, `reference.${c.ext}`].sort());
    }, 120_000);
  }

  const startingOver: {
    name: string;
    settings: Partial<UpscaleOptions>;
    meanwhile?: (output: string) => Promise<void>;
  }[] = [
    { name: 'another tile size (other bands)', settings: { tileSize: 40 } },
    { name: 'another setting (the fast preset)', settings: { quality: 'fast' } },
    {
      name: 'a photo changed since (its modification time)',
      settings: {},
      meanwhile: async () => utimes(input, new Date(), new Date(Date.now() + 5000)),
    },
    {
      name: 'a kept raster cut short',
      settings: {},
      meanwhile: async (output) => truncate(keptRasterPaths(output).raster, 1000),
    },
  ];
  for (const c of startingOver) {
    it(`${c.name}: it starts over and deletes what was kept`, async () => {
      const engine = engines.get(FIXTURE_MODELS_DIR)!;
      const output = path.join(temp.dir, 'out.png');
      const stop = await stoppedAt(engine, output, options({}), (tiles) => Math.ceil(tiles / 2));
      expect(stop.error).toBeInstanceOf(WorkKept);
      await c.meanwhile?.(output);
      const settings = options(c.settings);
      const again = await runRecording(engine, output, settings);
      expect(again.result.tilesReused).toBeUndefined();
      expect(again.events).toHaveLength(again.result.tiles);
      const reference = path.join(temp.dir, 'reference.png');
      await engine.upscaleFile(input, reference, settings);
      expect(Buffer.compare(await readFile(output), await readFile(reference))).toBe(0);
      expect(await filesIn(temp.dir)).toEqual(['out.png', 'reference.png']);
    }, 120_000);
  }

  it('any other abort (Cancel) keeps nothing', async () => {
    const engine = engines.get(FIXTURE_MODELS_DIR)!;
    const output = path.join(temp.dir, 'out.png');
    const controller = new AbortController();
    const error = await engine
      .upscaleFile(input, output, options({}), {
        signal: controller.signal,
        onProgress: ({ tilesDone, tilesTotal }) => {
          if (tilesDone >= tilesTotal / 2) controller.abort(new Error('batch: cancel'));
        },
      })
      .catch((reason: unknown) => reason);
    expect(error).not.toBeInstanceOf(WorkKept);
    expect(await filesIn(temp.dir)).toEqual([]);
  }, 120_000);
});
