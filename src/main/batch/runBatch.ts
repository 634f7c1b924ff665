/**
 * A batch worker process: opens the queue in a state folder, optionally adds one job, works
 * until nothing is left, and prints every queue event as one JSON line on stdout. The UI can
 * run it as a child process; the resume test kills it with SIGKILL mid-batch and runs it again.
 *
 *   tsx src/main/batch/runBatch.ts --state <dir> [--add <request.json>] [--models-dir <dir>]... [--threads <n>]
 *
 * `request.json` holds `{ "inputs": JobInputs, "settings": ExportSettings }` (settings go through
 * `migrateSettings`, so older shapes are accepted). Exit codes: 0 done, 1 error, 2 usage,
 * 3 the job was refused by its pre-flight, 130 stopped by SIGINT/SIGTERM (resumable).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { migrateSettings } from '../../shared/exportSettings.ts';
import type { JobInputs } from '../../shared/jobs.ts';
import { createBatchQueue, PreflightRefusal } from './batchQueue.ts';
import { createEngineUpscaler } from './engineUpscaler.ts';

async function main(argv: string[]): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: argv,
      options: {
        state: { type: 'string' },
        add: { type: 'string' },
        'models-dir': { type: 'string', multiple: true },
        threads: { type: 'string' },
      },
      strict: true,
    });
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    return 2;
  }
  const stateDir = args.values.state;
  if (!stateDir) {
    process.stderr.write(
      'usage: runBatch --state <dir> [--add <request.json>] [--models-dir <dir>] [--threads <n>]\n',
    );
    return 2;
  }
  const threads = args.values.threads === undefined ? undefined : Number(args.values.threads);
  if (threads !== undefined && (!Number.isInteger(threads) || threads < 0)) {
    process.stderr.write('--threads must be a whole number\n');
    return 2;
  }
  const modelsDirs = args.values['models-dir']?.map((dir) => path.resolve(dir));
  const upscaler = await createEngineUpscaler({
    ...(modelsDirs ? { modelsDirs } : {}),
    ...(threads !== undefined ? { threads } : {}),
  });
  const queue = await createBatchQueue({
    stateDir: path.resolve(stateDir),
    upscaler,
    autoStart: false,
  });
  const print = (line: unknown): void => {
    process.stdout.write(`${JSON.stringify(line)}\n`);
  };
  for (const warning of queue.loadWarnings) print({ type: 'warning', message: warning });
  queue.onAny(print);

  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    void queue.close();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);

  try {
    if (args.values.add) {
      const request: unknown = JSON.parse(await readFile(args.values.add, 'utf8'));
      const { inputs, settings } = readRequest(request);
      try {
        await queue.addJob({ inputs, settings });
      } catch (error) {
        if (error instanceof PreflightRefusal) {
          print({ type: 'refused', estimate: error.estimate });
          return 3;
        }
        throw error;
      }
    }
    queue.start();
    await queue.whenIdle();
    await queue.close();
    return stopping ? 130 : 0;
  } finally {
    await upscaler.close();
  }
}

function readRequest(value: unknown): {
  inputs: JobInputs;
  settings: ReturnType<typeof migrateSettings>['settings'];
} {
  if (
    typeof value !== 'object' ||
    value === null ||
    !('inputs' in value) ||
    !('settings' in value)
  ) {
    throw new TypeError('the request must hold { inputs, settings }');
  }
  const { settings } = migrateSettings(value.settings);
  return { inputs: value.inputs as JobInputs, settings };
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    // One line for people and logs; the stack only when asked for (CMSC_DEBUG=1).
    const detail =
      error instanceof Error && process.env.CMSC_DEBUG ? (error.stack ?? error.message) : null;
    process.stderr.write(
      `runBatch: ${detail ?? (error instanceof Error ? error.message : String(error))}\n`,
    );
    process.exit(1);
  },
);
