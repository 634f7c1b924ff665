/**
 * `cmsc-upscale`: upscales files and folders with the engine, one file at a time. A bad file
 * is reported and the rest continue; the exit code is non-zero when any file failed.
 */
import { mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { DEFAULT_EXPORT_SETTINGS, type ExportSettings } from '../../shared/exportSettings.ts';
import { resolveTargetSize } from '../../shared/targetSize.ts';
import { scanInputs } from '../batch/inputScan.ts';
import { chooseOutputPath, planOutputName } from '../batch/outputPlan.ts';
import { finishOutput } from '../batch/exportOptions.ts';
import { readSourceMetadata } from '../batch/metadataTransfer.ts';
import { createEngine, type Engine, writeAtomically } from '../engine/index.ts';
import { type CliSettings, parseCliArguments, USAGE, UsageError } from './cliArguments.ts';
import { createProgressDisplay, formatDuration, type ProgressDisplay } from './progressDisplay.ts';

export interface CliStreams {
  stdout: Writable & { isTTY?: boolean; columns?: number };
  stderr: Writable;
}

export const EXIT_OK = 0;
export const EXIT_SOME_FAILED = 1;
export const EXIT_USAGE = 2;
export const EXIT_CANCELLED = 130;

export async function runCli(
  argv: readonly string[],
  streams: CliStreams,
  signal?: AbortSignal,
): Promise<number> {
  let settings: CliSettings;
  try {
    const command = parseCliArguments(argv);
    if (command.kind === 'help') {
      streams.stdout.write(USAGE);
      return EXIT_OK;
    }
    settings = command.settings;
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    streams.stderr.write(
      `cmsc-upscale: ${error.message}\nRun cmsc-upscale --help for the options.\n`,
    );
    return EXIT_USAGE;
  }

  const missing: string[] = [];
  for (const input of settings.inputs) {
    if (!(await stat(input).catch(() => null))) missing.push(input);
  }
  const files = await scanInputs({
    paths: settings.inputs.filter((input) => !missing.includes(input)),
    recursive: settings.recursive,
    includeExtensions: [],
    excludeExtensions: [],
  });

  const engine = await createEngine({
    device: settings.device,
    ...(settings.modelsDir ? { modelsDirs: [settings.modelsDir] } : {}),
    ...(settings.threads !== undefined ? { threads: settings.threads } : {}),
  });
  if (engine.listModels().length === 0) {
    await engine.close();
    streams.stderr.write(
      `cmsc-upscale: no model installed in ${settings.modelsDir ?? 'the models/ folder'} (each model is an ONNX file with a JSON card; see README)\n`,
    );
    return EXIT_SOME_FAILED;
  }
  const display = createProgressDisplay(streams.stdout, files.length);
  const counts = { done: 0, skipped: 0, failed: missing.length };
  const started = performance.now();
  for (const input of missing) display.line(`FAIL ${input}: no such file or folder`);
  try {
    const fileTimes: number[] = [];
    for (const [index, file] of files.entries()) {
      if (signal?.aborted) break;
      const fileStarted = performance.now();
      const outcome = await upscaleOne(
        engine,
        settings,
        file.inputPath,
        index,
        files.length,
        fileTimes,
        display,
        signal,
      );
      counts[outcome]++;
      if (outcome === 'done') fileTimes.push(performance.now() - fileStarted);
    }
  } finally {
    display.finish();
    await engine.close();
  }
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  const cancelled = signal?.aborted ? ', cancelled' : '';
  streams.stdout.write(
    `${counts.done} upscaled, ${counts.skipped} skipped, ${counts.failed} failed in ${seconds} s${cancelled}\n`,
  );
  if (signal?.aborted) return EXIT_CANCELLED;
  return counts.failed > 0 ? EXIT_SOME_FAILED : EXIT_OK;
}

async function upscaleOne(
  engine: Engine,
  settings: CliSettings,
  inputPath: string,
  index: number,
  total: number,
  fileTimes: readonly number[],
  display: ProgressDisplay,
  signal: AbortSignal | undefined,
): Promise<'done' | 'skipped' | 'failed'> {
  const { options } = settings;
  const shortName = path.basename(inputPath);
  try {
    const header = await engine.probe(inputPath);
    const target = resolveTargetSize(header, options.target);
    const modelName =
      options.model ?? engine.listModels().find((m) => m.isDefault)?.name ?? 'model';
    // Same naming rules as the batch queue; the CLI writes flat into --out (or beside the input).
    const exportSettings: ExportSettings = {
      ...DEFAULT_EXPORT_SETTINGS,
      format: options.format,
      namingTemplate: settings.nameTemplate,
      metadata: options.keepMetadata ? 'keep' : 'strip',
    };
    const planned = planOutputName(exportSettings, settings.outFolder ?? path.dirname(inputPath), {
      inputPath,
      relativePath: path.basename(inputPath),
      outputWidth: target.width,
      outputHeight: target.height,
      scale: target.scale,
      model: modelName,
      createdAt: new Date().toISOString(),
    });
    await mkdir(planned.folder, { recursive: true });
    const outputPath = await chooseOutputPath(planned, settings.overwrite, new Set());
    if (outputPath === null) {
      display.line(`skip ${inputPath}: output exists (--overwrite skip)`);
      return 'skipped';
    }
    const meanFileMs = fileTimes.length
      ? fileTimes.reduce((a, b) => a + b, 0) / fileTimes.length
      : null;
    // EXIF and IPTC are spliced in by the batch queue's finishing step, between the engine's
    // output and the rename, so --keep-metadata carries exactly what a batch job carries.
    const source = options.keepMetadata ? await readSourceMetadata(inputPath) : null;
    const result = await writeAtomically(outputPath, async (tempPath) => {
      const upscaled = await engine.upscaleFile(inputPath, tempPath, options, {
        ...(signal ? { signal } : {}),
        onProgress: (p) => {
          const restMs = meanFileMs === null ? 0 : meanFileMs * (total - index - 1);
          display.tile(
            index,
            shortName,
            p.tilesDone,
            p.tilesTotal,
            p.etaMs === null ? null : p.etaMs + restMs,
          );
        },
      });
      const expected = { width: upscaled.outputWidth, height: upscaled.outputHeight };
      await finishOutput(tempPath, planned.format, exportSettings, expected, source);
      return upscaled;
    });
    display.line(
      `ok   ${inputPath} -> ${outputPath} (${result.outputWidth}x${result.outputHeight}, ${formatDuration(result.elapsedMs)}, ${result.provider})`,
    );
    return 'done';
  } catch (error) {
    if (signal?.aborted) {
      display.line(`stop ${inputPath}: cancelled, no output written`);
      return 'skipped';
    }
    const message = (error instanceof Error ? error.message : String(error)).split('\n')[0]!;
    // Engine errors about the file already start with its path.
    display.line(`FAIL ${message.startsWith(inputPath) ? message : `${inputPath}: ${message}`}`);
    return 'failed';
  }
}
