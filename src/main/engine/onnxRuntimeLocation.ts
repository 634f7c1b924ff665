/**
 * Where onnxSession loads ONNX Runtime's Node binding from: the onnxruntime-node that
 * package.json installs, or another onnxruntime-node package folder named by
 * CMSC_ONNXRUNTIME_PATH. An execution provider library (libonnxruntime_providers_cuda.so) must
 * come from the same ONNX Runtime release as the runtime that loads it, so a machine whose only
 * CUDA provider build is of another release runs that release's runtime through this variable
 * (scripts/cuda-provider/ does this on a lent GPU machine; training/README.md, "On a lent GPU").
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

export const ONNXRUNTIME_PATH_VARIABLE = 'CMSC_ONNXRUNTIME_PATH';

/** ONNX Runtime's own switch for its telemetry; the native library reads it with getenv. */
export const ONNXRUNTIME_TELEMETRY_VARIABLE = 'ORT_DISABLE_TELEMETRY';

/**
 * Turns ONNX Runtime's telemetry off for this process, unless the user set the variable.
 * Since 1.29 its Linux and macOS builds start Microsoft's 1DS telemetry SDK when they open their
 * first session: it keeps an identifier in $TMPDIR/.ses, leaves a $TMPDIR/mat-debug-<pid>.log
 * behind every process, and is built to send session events to Microsoft. A photo tool has no
 * business doing either. (The Windows build uses Windows' event tracing, which this does not reach.)
 *
 * Call it on the main thread before a worker opens a session: a worker thread's process.env is
 * its own copy, which the native library's getenv never sees.
 */
export function keepOnnxRuntimeTelemetryOff(env: NodeJS.ProcessEnv = process.env): void {
  env[ONNXRUNTIME_TELEMETRY_VARIABLE] ??= '1';
}

/** The specifier to `require`: the package name, or the override's absolute folder. */
export function onnxRuntimeModulePath(
  env: NodeJS.ProcessEnv = process.env,
  cwd: string = process.cwd(),
): string {
  const override = env[ONNXRUNTIME_PATH_VARIABLE]?.trim();
  if (!override) return 'onnxruntime-node';
  const folder = path.resolve(cwd, override);
  const manifestPath = path.join(folder, 'package.json');
  if (!existsSync(manifestPath)) {
    throw new Error(
      `${ONNXRUNTIME_PATH_VARIABLE}=${override}: ${folder} has no package.json (it must name an onnxruntime-node package folder)`,
    );
  }
  const name = (JSON.parse(readFileSync(manifestPath, 'utf8')) as { name?: unknown }).name;
  if (name !== 'onnxruntime-node') {
    throw new Error(
      `${ONNXRUNTIME_PATH_VARIABLE}=${override}: ${manifestPath} is package ${JSON.stringify(name)}, not onnxruntime-node`,
    );
  }
  return folder;
}
