import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ModelRegistry } from '../../src/main/engine/modelRegistry.ts';
import {
  ONNXRUNTIME_PATH_VARIABLE,
  onnxRuntimeModulePath,
} from '../../src/main/engine/onnxRuntimeLocation.ts';
import { FIXTURE_MODELS_DIR } from '../helpers/testImages.ts';

/** A package folder that says it is onnxruntime-node, with `main` as its index.js. */
async function writePackage(folder: string, name: string, main: string): Promise<void> {
  await mkdir(folder, { recursive: true });
  await writeFile(path.join(folder, 'package.json'), JSON.stringify({ name, main: 'index.js' }));
  await writeFile(path.join(folder, 'index.js'), main);
}

describe('CMSC_ONNXRUNTIME_PATH', () => {
  let scratch: string;
  beforeEach(async () => {
    scratch = await mkdtemp(path.join(tmpdir(), 'cmsc-ort-path-'));
  });
  afterEach(async () => {
    vi.unstubAllEnvs();
    vi.resetModules();
    await rm(scratch, { recursive: true, force: true });
  });

  it('loads the installed onnxruntime-node when unset or blank', () => {
    expect(onnxRuntimeModulePath({}, scratch)).toBe('onnxruntime-node');
    expect(onnxRuntimeModulePath({ [ONNXRUNTIME_PATH_VARIABLE]: '  ' }, scratch)).toBe(
      'onnxruntime-node',
    );
  });

  it('resolves a relative folder against the working directory', async () => {
    await writePackage(path.join(scratch, 'ort-1.29', 'onnxruntime-node'), 'onnxruntime-node', '');
    expect(
      onnxRuntimeModulePath({ [ONNXRUNTIME_PATH_VARIABLE]: 'ort-1.29/onnxruntime-node' }, scratch),
    ).toBe(path.join(scratch, 'ort-1.29', 'onnxruntime-node'));
  });

  it('refuses a folder that is not an onnxruntime-node package, naming the variable', async () => {
    expect(() =>
      onnxRuntimeModulePath({ [ONNXRUNTIME_PATH_VARIABLE]: 'nowhere' }, scratch),
    ).toThrow(
      `${ONNXRUNTIME_PATH_VARIABLE}=nowhere: ${path.join(scratch, 'nowhere')} has no package.json`,
    );
    await writePackage(path.join(scratch, 'other'), 'onnxruntime-web', '');
    expect(() => onnxRuntimeModulePath({ [ONNXRUNTIME_PATH_VARIABLE]: 'other' }, scratch)).toThrow(
      'is package "onnxruntime-web", not onnxruntime-node',
    );
  });

  it('is the runtime onnxSession loads', async () => {
    // A stand-in whose only backend is a bundled CUDA: the real runtime on a machine without
    // the CUDA libraries never lists cuda as installed, so seeing it proves which one loaded.
    const standIn = path.join(scratch, 'onnxruntime-node');
    await writePackage(
      standIn,
      'onnxruntime-node',
      "exports.listSupportedBackends = () => [{ name: 'cuda', bundled: true }];",
    );
    vi.stubEnv(ONNXRUNTIME_PATH_VARIABLE, standIn);
    vi.resetModules();
    const session = await import('../../src/main/engine/onnxSession.ts');
    expect(session.installedProviders()).toEqual(['cuda']);
  });

  it('runs a model through a real onnxruntime-node package named by its folder', async () => {
    const installed = path.resolve(
      path.dirname(createRequire(import.meta.url).resolve('onnxruntime-node')),
      '..',
    );
    vi.stubEnv(ONNXRUNTIME_PATH_VARIABLE, installed);
    vi.resetModules();
    const { OnnxModelSession } = await import('../../src/main/engine/onnxSession.ts');
    const registry = await ModelRegistry.load([FIXTURE_MODELS_DIR]);
    const tiny = await registry.resolve('cmsc-tiny', 'best');
    const session = await OnnxModelSession.open(
      tiny.path,
      { input: tiny.model.card.input.name, output: tiny.model.card.output.name },
      { device: 'cpu', threads: 1 },
    );
    try {
      expect(session.report.active).toBe('cpu');
      const output = await session.run(new Float32Array(16 * 16).fill(0.5), 1, 16, 16);
      expect(output.length).toBe(16 * 16);
      expect(output.every(Number.isFinite)).toBe(true);
    } finally {
      await session.release();
    }
  });
});
