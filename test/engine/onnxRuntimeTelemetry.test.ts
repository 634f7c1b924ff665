/**
 * ONNX Runtime's telemetry stays off. Its Linux build writes $TMPDIR/.ses (a kept identifier)
 * and $TMPDIR/mat-debug-<pid>.log when its telemetry starts, so a process run with a fresh
 * TMPDIR shows on disk whether it started. Each case runs in a child process: the switch is an
 * environment variable that the native library reads once per process.
 */
import { execFile } from 'node:child_process';
import { readdir, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  ONNXRUNTIME_TELEMETRY_VARIABLE,
  keepOnnxRuntimeTelemetryOff,
} from '../../src/main/engine/onnxRuntimeLocation.ts';
import { FIXTURE_MODELS_DIR } from '../helpers/testImages.ts';
import { useTempFolders } from '../helpers/tempFolders.ts';

const tempFolder = useTempFolders();
const MODEL = path.join(FIXTURE_MODELS_DIR, 'cmsc-tiny.onnx');
const INFERENCE_CLIENT = pathToFileURL(
  path.resolve(import.meta.dirname, '../../src/main/engine/inferenceClient.ts'),
).href;

/**
 * The environment of a child: a desktop user's, with its own TMPDIR. Nothing else is passed on:
 * ONNX Runtime keeps its telemetry off by itself when it sees a CI service's variables (CI,
 * GITHUB_ACTIONS, TF_BUILD, GITLAB_CI, JENKINS_URL, …), which would blind the witness below.
 */
function childEnvironment(tmp: string): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: process.env.HOME, TMPDIR: tmp };
}

/** The files ONNX Runtime's telemetry leaves in TMPDIR (tsx keeps its cache there too). */
function telemetryFiles(names: string[]): string[] {
  return names.filter((name) => name === '.ses' || /^mat-debug-\d+\.log$/.test(name));
}

/** Runs the ES module `script` in a child whose TMPDIR is a fresh folder; that folder's names. */
async function runChild(script: string): Promise<string[]> {
  const scriptFile = path.join(await tempFolder('cmsc-ort-script-'), 'child.mts');
  await writeFile(scriptFile, script);
  const tmp = await tempFolder('cmsc-ort-telemetry-');
  await promisify(execFile)(process.execPath, ['--import', 'tsx', scriptFile], {
    env: childEnvironment(tmp),
  });
  return (await readdir(tmp)).sort();
}

describe('ONNX Runtime telemetry', () => {
  it('the witness: a session opened in a worker thread without the switch leaves its files', async () => {
    // What the app did before: the worker thread loads the runtime and nothing sets the switch.
    const onnxRuntime = createRequire(import.meta.url).resolve('onnxruntime-node');
    const script = `
      import { Worker } from 'node:worker_threads';
      const code = \`
        const ort = require(${JSON.stringify(onnxRuntime)});
        ort.InferenceSession.create(${JSON.stringify(MODEL)}).then((s) => s.release());
      \`;
      await new Promise((done) => new Worker(code, { eval: true }).on('exit', done));
    `;
    // If a later ONNX Runtime no longer writes these, the next case needs another witness.
    expect(telemetryFiles(await runChild(script))).toEqual([
      '.ses',
      expect.stringMatching(/^mat-debug-/),
    ]);
  });

  it('the engine turns it off before its inference worker opens a session', async () => {
    const script = `
      import { InferenceClient } from ${JSON.stringify(INFERENCE_CLIENT)};
      const client = new InferenceClient({ device: 'cpu', threads: 1 });
      const report = await client.open(${JSON.stringify(MODEL)}, { input: 'lr_y', output: 'sr_y' });
      if (report.active !== 'cpu') throw new Error('expected the CPU provider');
      await client.close();
    `;
    expect(telemetryFiles(await runChild(script))).toEqual([]);
  });

  it('keeps a value the user chose', () => {
    const env: NodeJS.ProcessEnv = { [ONNXRUNTIME_TELEMETRY_VARIABLE]: '0' };
    keepOnnxRuntimeTelemetryOff(env);
    expect(env[ONNXRUNTIME_TELEMETRY_VARIABLE]).toBe('0');
    const unset: NodeJS.ProcessEnv = {};
    keepOnnxRuntimeTelemetryOff(unset);
    expect(unset[ONNXRUNTIME_TELEMETRY_VARIABLE]).toBe('1');
  });
});
