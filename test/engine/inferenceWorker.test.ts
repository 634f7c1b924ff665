import { afterEach, describe, expect, it } from 'vitest';
import { InferenceClient } from '../../src/main/engine/inferenceClient.ts';
import { ModelRegistry } from '../../src/main/engine/modelRegistry.ts';
import { FIXTURE_MODELS_DIR } from '../helpers/testImages.ts';

const registry = await ModelRegistry.load([FIXTURE_MODELS_DIR]);
const tiny = await registry.resolve('cmsc-tiny', 'best');
const io = { input: tiny.model.card.input.name, output: tiny.model.card.output.name };

const plane = () => Float32Array.from({ length: 24 * 16 }, (_, i) => ((i * 13) % 97) / 97);

describe('the inference worker', () => {
  let client: InferenceClient | null = null;
  afterEach(async () => {
    await client?.close();
    client = null;
  });

  it('releases its sessions when idle and reopens them on the next run', async () => {
    client = new InferenceClient({ device: 'cpu', threads: 1, idleReleaseMs: 100 });
    await client.open(tiny.path, io);
    const first = await client.run(tiny.path, plane(), 1, 16, 24);
    expect(await client.openModels()).toEqual([tiny.path]);

    await expect.poll(() => client!.openModels(), { timeout: 5000 }).toEqual([]);

    const again = await client.run(tiny.path, plane(), 1, 16, 24);
    expect(again.output).toEqual(first.output);
    expect(await client.openModels()).toEqual([tiny.path]);
  });

  it('keeps its sessions while idle when idle release is off', async () => {
    client = new InferenceClient({ device: 'cpu', threads: 1, idleReleaseMs: 0 });
    await client.open(tiny.path, io);
    await client.run(tiny.path, plane(), 1, 16, 24);
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(await client.openModels()).toEqual([tiny.path]);
  });

  it('releases one session on request (before a big encode) and reopens it on the next run', async () => {
    client = new InferenceClient({ device: 'cpu', threads: 1, idleReleaseMs: 0 });
    await client.open(tiny.path, io);
    const first = await client.run(tiny.path, plane(), 1, 16, 24);
    await client.release(tiny.path);
    expect(await client.openModels()).toEqual([]);
    const again = await client.run(tiny.path, plane(), 1, 16, 24);
    expect(again.output).toEqual(first.output);
    expect(await client.openModels()).toEqual([tiny.path]);
  });

  it('refuses a run for a model that was never opened', async () => {
    client = new InferenceClient({ device: 'cpu', threads: 1, idleReleaseMs: 100 });
    await expect(client.run(tiny.path, plane(), 1, 16, 24)).rejects.toThrow(/was not opened/);
  });
});
