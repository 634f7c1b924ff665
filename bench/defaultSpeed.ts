/**
 * `npm run bench:default-speed [-- --input ../shared/datasets/Set14/baboon.png --scales 2,3,4 --threads 2 --repeat 2]`
 *
 * The default CPU path against today's `cmsc-lite`, through `cmsc-upscale` as a user runs it:
 * for each scale and each input kind (the PNG given, and the same picture saved as a JPEG at
 * --jpeg-quality, which the default path sends to a photo variant), the CLI is run once with
 * the default model and once with `--model cmsc-lite` (which on a JPEG runs cmsc-lite's photo
 * variant, the path before cmsc-fast), alternating so both see the same machine; each time is
 * the fastest of --repeat runs of the whole process (start-up, decode, inference, encode). The
 * CLI's own line names the model and precision that ran. Then one line per target (issue 13:
 * the default ≥ 3× faster than cmsc-lite at x2, ≥ 8× at x4). Prints numbers; asserts nothing.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { INFERENCE_PRECISIONS } from '../src/shared/upscaleOptions.ts';
import { REPO_ROOT } from './benchModel.ts';
import { fixed, formatTable } from './table.ts';

const DATASET_PHOTO = path.resolve(REPO_ROOT, '../shared/datasets/Set14/baboon.png');
const { values } = parseArgs({
  options: {
    input: {
      type: 'string',
      default: existsSync(DATASET_PHOTO)
        ? DATASET_PHOTO
        : path.join(REPO_ROOT, 'assets/sample.png'),
    },
    scales: { type: 'string', default: '2,3,4' },
    threads: { type: 'string', default: String(Math.min(2, availableParallelism())) },
    repeat: { type: 'string', default: '2' },
    'jpeg-quality': { type: 'string', default: '80' },
    models: { type: 'string', default: path.join(REPO_ROOT, 'models') },
  },
});
const scales = values.scales.split(',').map(Number);
const repeat = Math.max(1, Number(values.repeat));
/** The speed-up the default must reach over cmsc-lite, by scale (issue 13). */
const TARGETS: Partial<Record<number, number>> = { 2: 3, 4: 8 };
const CLI = path.join(REPO_ROOT, 'src/main/cli/main.ts');

interface Run {
  seconds: number;
  /** The CLI's per-file line (model, precision, source). */
  line: string;
}

function runCli(input: string, out: string, scale: number, model: string | null): Promise<Run> {
  const args = [
    '--import',
    'tsx',
    CLI,
    input,
    '--scale',
    String(scale),
    '--out',
    out,
    '--overwrite',
    'overwrite',
    '--no-report',
    '--threads',
    values.threads,
    '--models',
    values.models,
    ...(model ? ['--model', model] : []),
  ];
  const start = performance.now();
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { cwd: REPO_ROOT }, (error, stdout, stderr) => {
      if (error) reject(new Error(`cmsc-upscale failed: ${stderr || error.message}`));
      else
        resolve({
          seconds: (performance.now() - start) / 1000,
          line:
            stdout
              .trim()
              .split('\n')
              .find((l) => l.startsWith('ok')) ?? stdout.trim(),
        });
    });
  });
}

const temp = await mkdtemp(path.join(tmpdir(), 'cmsc-default-speed-'));
try {
  const quality = Number(values['jpeg-quality']);
  const jpeg = path.join(temp, `${path.parse(values.input).name}-q${quality}.jpg`);
  await sharp(values.input).jpeg({ quality }).toFile(jpeg);
  const { width, height } = await sharp(values.input).metadata();
  console.log(
    `${path.basename(values.input)} (${width}×${height}) as PNG and as JPEG q${quality}; ${values.threads} threads; fastest of ${repeat} runs of the whole CLI process`,
  );
  console.log(
    `load average at start: ${loadavg()[0]!.toFixed(1)} on ${availableParallelism()} cores\n`,
  );
  const rows: string[][] = [];
  const verdicts: string[] = [];
  for (const scale of scales) {
    for (const input of [values.input, jpeg]) {
      const best = { default: null as Run | null, lite: null as Run | null };
      for (let i = 0; i < repeat; i++) {
        for (const which of ['default', 'lite'] as const) {
          // Each path writes into its own folder, so neither run replaces the other's output
          // (which would time the overwrite path and change the CLI's line).
          const out = path.join(temp, which);
          const run = await runCli(input, out, scale, which === 'lite' ? 'cmsc-lite' : null);
          if (!best[which] || run.seconds < best[which].seconds) best[which] = run;
        }
      }
      const ratio = best.lite!.seconds / best.default!.seconds;
      const kind = input === jpeg ? `JPEG q${quality}` : 'PNG';
      rows.push([
        `x${scale}`,
        kind,
        modelOf(best.default!.line),
        fixed(best.default!.seconds, 1),
        modelOf(best.lite!.line),
        fixed(best.lite!.seconds, 1),
        `${fixed(ratio, 1)}×`,
      ]);
      const target = TARGETS[scale];
      if (target !== undefined && input !== jpeg)
        verdicts.push(
          `x${scale}: default ${fixed(ratio, 1)}× faster than cmsc-lite (target ≥ ${target}×): ${ratio >= target ? 'met' : 'NOT met'}`,
        );
      process.stderr.write(`  x${scale} ${kind} done\n`);
    }
  }
  console.log(
    formatTable(
      ['scale', 'input', 'default path ran', 's', 'cmsc-lite path ran', 's', 'speed-up'],
      rows,
    ),
  );
  console.log(`\n${verdicts.join('\n')}`);
} finally {
  await rm(temp, { recursive: true, force: true });
}

/** The model and precision the CLI's `ok …` line names, e.g. "cmsc-fast, int8" (a note may follow). */
function modelOf(line: string): string {
  const match = new RegExp(
    `, (?:cpu|cuda|webgpu), (.+?, (?:${INFERENCE_PRECISIONS.join('|')}))\\)`,
  ).exec(line);
  return match?.[1] ?? line;
}
