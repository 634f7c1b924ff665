/**
 * The model a benchmark runs: an installed model card (default `cmsc`), or — when none is
 * installed — a random-weight paper-size CMSC exported on the spot by the training package,
 * so speed can be measured before training has finished (speed does not depend on weights).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { ModelRegistry } from '../src/main/engine/modelRegistry.ts';

export const REPO_ROOT = path.resolve(import.meta.dirname, '..');
export const PYTHON = '/usr/bin/python3';

export interface BenchModel {
  name: string;
  modelsDir: string;
  /** Where PyTorch gets the same weights: a training run folder or a saved state dict. */
  torchWeights: { checkpoint: string } | { weights: string };
  architecture: Record<string, unknown>;
  note: string;
}

export async function findBenchModel(modelsDir: string, name: string): Promise<BenchModel | null> {
  const registry = await ModelRegistry.load([modelsDir]);
  const model = registry.models.find((m) => m.card.name === name);
  if (!model) return null;
  // An input-resolution model is trained per scale: its run folder is <name>-x<scale>.
  const run = model.card.input.resolution === 'input' ? `${name}-x${model.card.scales[0]!}` : name;
  const checkpoint = path.join(REPO_ROOT, 'training', 'checkpoints', run);
  return {
    name,
    modelsDir,
    torchWeights: { checkpoint },
    architecture: model.card.architecture,
    note: `${path.join(modelsDir, `${name}.json`)} (PyTorch: latest checkpoint in training/checkpoints/${run})`,
  };
}

/** Exports a random-weight CMSC of a named training config and writes a card for it. */
export async function randomWeightModel(config: string): Promise<BenchModel> {
  const dir = await mkdtemp(path.join(tmpdir(), 'cmsc-bench-'));
  const printed = execFileSync(
    PYTHON,
    [
      path.join(REPO_ROOT, 'bench/torch_reference.py'),
      'export-random',
      '--config',
      config,
      '--out',
      dir,
    ],
    {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const exported = JSON.parse(printed.trim().split('\n').at(-1)!) as {
    stages: number;
    flopsPerPixel: number;
    receptiveFieldRadius: number;
    architecture: Record<string, unknown>;
    parameters: number;
  };
  const file = path.join(dir, 'model.onnx');
  const bytes = (await stat(file)).size;
  const sha256 = createHash('sha256')
    .update(await readFile(file))
    .digest('hex');
  const name = `random-${config}`;
  const card = {
    schemaVersion: 1,
    name,
    displayName: `Random-weight CMSC (${config} config)`,
    description: 'exported by bench/torch_reference.py for timing only',
    input: { name: 'lr_y', channels: 1, colorSpace: 'bt601-y', range: [0, 1] },
    output: { name: 'sr_y' },
    receptiveFieldRadius: exported.receptiveFieldRadius,
    scales: [2, 3, 4],
    parameters: exported.parameters,
    flopsPerPixel: exported.flopsPerPixel,
    architecture: exported.architecture,
    variants: [
      {
        stages: exported.stages,
        file: 'model.onnx',
        sha256,
        bytes,
        flopsPerPixel: exported.flopsPerPixel,
      },
    ],
    evaluation: { protocol: 'not evaluated', results: [] },
  };
  await writeFile(path.join(dir, `${name}.json`), JSON.stringify(card, null, 2));
  return {
    name,
    modelsDir: dir,
    torchWeights: { weights: path.join(dir, 'weights.pt') },
    architecture: exported.architecture,
    note: `random weights, ${config} config (no trained model installed)`,
  };
}

export function torchWeightsAvailable(model: BenchModel): boolean {
  return 'weights' in model.torchWeights || existsSync(model.torchWeights.checkpoint);
}

/** A `side`² PNG of random colour noise (the input half of an x2 benchmark output). */
export async function writeNoisePng(file: string, side: number): Promise<void> {
  const pixels = Buffer.alloc(side * side * 3);
  for (let i = 0; i < pixels.length; i++) pixels[i] = 16 + Math.floor(Math.random() * 220);
  await sharp(pixels, { raw: { width: side, height: side, channels: 3 } })
    .png()
    .toFile(file);
}
