import { copyFile, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createEngine } from '../../src/main/engine/index.ts';
import { parseModelCard } from '../../src/main/engine/modelCard.ts';
import { ModelRegistry } from '../../src/main/engine/modelRegistry.ts';
import { DEFAULT_UPSCALE_OPTIONS } from '../../src/shared/upscaleOptions.ts';
import { FIXTURE_MODELS_DIR, makeTempDir, writeTexturedImage } from '../helpers/testImages.ts';

let temp: Awaited<ReturnType<typeof makeTempDir>>;
let card: Record<string, unknown>;
beforeEach(async () => {
  temp = await makeTempDir();
  card = JSON.parse(
    await readFile(path.join(FIXTURE_MODELS_DIR, 'cmsc-tiny.json'), 'utf8'),
  ) as Record<string, unknown>;
  await copyFile(
    path.join(FIXTURE_MODELS_DIR, 'cmsc-tiny.onnx'),
    path.join(temp.dir, 'cmsc-tiny.onnx'),
  );
});
afterEach(async () => temp.remove());

const writeCard = (contents: unknown) =>
  writeFile(path.join(temp.dir, 'cmsc-tiny.json'), JSON.stringify(contents));
const variant0 = () => (card.variants as Record<string, unknown>[])[0]!;

describe('model cards', () => {
  it('accepts the training package fixture card', () => {
    const parsed = parseModelCard(card, 'cmsc-tiny.json');
    expect([
      parsed.name,
      parsed.input.name,
      parsed.output.name,
      parsed.receptiveFieldRadius,
    ]).toEqual(['cmsc-tiny', 'lr_y', 'sr_y', 7]);
    expect(parsed.variants.map((v) => [v.stages, v.file])).toEqual([[1, 'cmsc-tiny.onnx']]);
  });

  it('names the first invalid field', () => {
    expect(() =>
      parseModelCard({ ...card, variants: [{ ...variant0(), sha256: 'xyz' }] }, 'bad.json'),
    ).toThrow('bad.json: variants[0].sha256 must be a 64-digit lowercase hex string');
    expect(() =>
      parseModelCard({ ...card, input: { ...(card.input as object), channels: 3 } }, 'bad.json'),
    ).toThrow('bad.json: input.channels must be 1');
  });

  it('reports an invalid card instead of dropping it silently', async () => {
    await writeCard({ ...card, receptiveFieldRadius: -1 });
    const registry = await ModelRegistry.load([temp.dir]);
    expect(registry.models).toEqual([]);
    expect(registry.problems).toEqual([
      `${path.join(temp.dir, 'cmsc-tiny.json')}: receptiveFieldRadius must be a positive integer`,
    ]);
  });

  it('maps quality presets onto cascade stages', async () => {
    const variants = [1, 2, 3].map((stages) => ({ ...variant0(), stages }));
    await writeCard({ ...card, variants });
    const registry = await ModelRegistry.load([temp.dir]);
    const presets = registry.summaries()[0]!.presets.map((p) => [p.preset, p.stages]);
    expect(presets).toEqual([
      ['fast', 1],
      ['balanced', 2],
      ['best', 3],
    ]);
  });
});

describe('default model', () => {
  it('is cmsc-lite on a CPU and the paper-size cmsc on a GPU', async () => {
    for (const name of ['cmsc', 'cmsc-lite', 'other']) {
      await writeFile(path.join(temp.dir, `${name}.json`), JSON.stringify({ ...card, name }));
    }
    const registry = await ModelRegistry.load([temp.dir]);
    const defaultName = (hardware: 'cpu' | 'accelerator') =>
      registry.summaries(() => null, hardware).find((m) => m.isDefault)?.name;
    expect([defaultName('cpu'), defaultName('accelerator')]).toEqual(['cmsc-lite', 'cmsc']);
    expect(registry.get(undefined, 'cpu').card.name).toBe('cmsc-lite');
    expect(registry.get(undefined, 'accelerator').card.name).toBe('cmsc');
  });
});

describe('model files are checked against their card', () => {
  it('refuses a corrupt file (same size, different bytes)', async () => {
    await writeCard(card);
    const file = path.join(temp.dir, 'cmsc-tiny.onnx');
    const bytes = await readFile(file);
    bytes[bytes.length - 100]! ^= 0xff;
    await writeFile(file, bytes);
    const registry = await ModelRegistry.load([temp.dir]);
    await expect(registry.resolve('cmsc-tiny', 'best')).rejects.toThrow(
      /^model file cmsc-tiny\.onnx has sha256 [0-9a-f]{12}… but its card says e4d6cec2ea81…: the file is corrupt or belongs to another model$/,
    );
  });

  it('refuses a truncated file', async () => {
    await writeCard(card);
    const file = path.join(temp.dir, 'cmsc-tiny.onnx');
    await writeFile(file, (await readFile(file)).subarray(0, 1000));
    const registry = await ModelRegistry.load([temp.dir]);
    await expect(registry.resolve(undefined, 'fast')).rejects.toThrow(
      'model file cmsc-tiny.onnx is 1000 bytes but its card says 24783',
    );
  });

  it('refuses a model whose graph does not have the input its card names', async () => {
    await writeCard({ ...card, input: { ...(card.input as object), name: 'image' } });
    const engine = await createEngine({ modelsDirs: [temp.dir], device: 'cpu', threads: 1 });
    try {
      const input = await writeTexturedImage(path.join(temp.dir, 'p.png'), 8, 8);
      await expect(
        engine.upscaleFile(input, path.join(temp.dir, 'o.png'), { ...DEFAULT_UPSCALE_OPTIONS }),
      ).rejects.toThrow(
        'cmsc-tiny.onnx: does not match its model card: input "image" not in graph inputs [lr_y]',
      );
    } finally {
      await engine.close();
    }
  });
});
