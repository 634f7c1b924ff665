/** Parsing and validating `cmsc-upscale` arguments into engine options. */
import { parseArgs } from 'node:util';
import {
  DEFAULT_EXPORT_SETTINGS,
  MAX_TILE_SIZE,
  MIN_TILE_SIZE,
  type ExportSettings,
} from '../../shared/exportSettings.ts';
import { MIN_MEMORY_BUDGET_BYTES, parseMemorySize } from '../engine/index.ts';
import { DEFAULT_NAMING_TEMPLATE, validateNamingTemplate } from '../../shared/namingTemplate.ts';
import {
  DEVICES,
  EXPORT_FORMATS,
  MAX_SCALE,
  MIN_SCALE,
  OVERWRITE_POLICIES,
  PRECISIONS,
  QUALITY_PRESETS,
  SOURCE_SETTINGS,
  type Device,
  type OverwritePolicy,
  type UpscaleOptions,
} from '../../shared/upscaleOptions.ts';
import { boundThreads } from '../engine/threadCount.ts';
import { SHARPEN_AMOUNTS, SHARPEN_MEDIA } from '../../shared/outputSharpening.ts';

export const USAGE = `Usage: cmsc-upscale [options] <file|folder>...
       cmsc-upscale verify <output folder>
       cmsc-upscale <file|folder>... --queue redis://HOST:PORT [--detach]
       cmsc-upscale worker --queue redis://HOST:PORT --allow-output DIR [options]
       cmsc-upscale status --queue redis://HOST:PORT
       cmsc-upscale cancel JOB --queue redis://HOST:PORT

Upscales photos with CMSC. Inputs are never modified; outputs are written to a
temporary name and renamed when complete.

Size (one of; default --scale 2):
  --scale <1..4>          scale factor, non-integer allowed (e.g. 2.5)
  --width <px>            output width, height in proportion
  --height <px>           output height, width in proportion
Output:
  --out <folder>          output folder (default: next to each input)
  --name <template>       file name template (default "${DEFAULT_NAMING_TEMPLATE}");
                          fields {name} {ext} {scale} {width} {height} {model} {date}
  --format <fmt>          same|png|jpeg|webp|avif|tiff (default: same as input)
  --quality <1..100>      jpeg/webp/avif quality (default: jpeg ${DEFAULT_EXPORT_SETTINGS.encoding.jpegQuality}, webp ${DEFAULT_EXPORT_SETTINGS.encoding.webpQuality}, avif ${DEFAULT_EXPORT_SETTINGS.encoding.avifQuality})
  --overwrite <policy>    skip|rename|overwrite when the output exists (default rename)
  --sharpen <amount>      none|low|standard|high: output sharpening (unsharp mask)
                          after the model (default none)
  --sharpen-for <medium>  screen|print: a fine radius for screens, a wider one for
                          print (default screen)
  --keep-metadata         keep EXIF, IPTC, XMP and the ICC profile (orientation baked in)
  --no-report             do not write cmsc-report-<job>.json/.csv next to the outputs
Model and device:
  --preset <preset>       fast|balanced|best: 1, 2 or all cascade stages (default best)
  --model <name>          model card name (default: cmsc on a GPU; on a CPU cmsc-fast
                          at the scales where its card is at least as good as
                          cmsc-lite's, else cmsc-lite)
  --source <kind>         auto|clean|photo: clean model, or its photo variant trained on
                          JPEG/noisy inputs; auto reads each file's JPEG quality and noise
                          (default auto)
  --models <folder>       folder with model cards (default: the app's models/)
  --tta                   self-ensemble: average 8 flips/rotations (8x slower)
  --precision <p>         auto|fp32: auto runs a model's int8 files on a CPU where
                          shipped (about 2x faster, within 0.05 dB); fp32 never
                          (default auto)
  --tile <px>             tile size (default: chosen from --max-memory)
  --device <device>       auto|cuda|webgpu|cpu (default auto)
  --threads <n>           inference threads (default: all cores; at most the cores)
  --max-memory <size>     memory the process may use per photo, e.g. 1g or 1536m
                          (default 1g); the tile size follows from it
Folders:
  -r, --recursive         include sub-folders
  -h, --help              show this help
Many machines (see README "Many machines"):
  --queue <redis://…>     put the job on a BullMQ queue in Redis (rediss:// for TLS,
                          redis://:PASSWORD@host for a password); workers on any
                          computer take its files. Same lines, summary and report.
  --detach                submit and print the job id, do not wait

Outputs go to --out, or beside the input: folder Photos -> Photos-upscaled/
(sub-folders mirrored), picked files -> upscaled/ next to them. A run is a job
of the same batch queue the app uses: Ctrl-C pauses it, and running the same
command again resumes it.

A job is a build: each output folder keeps a manifest of what was written
(.cmsc-upscaler-manifest.jsonl). A rerun skips outputs that are up to date,
replaces our own stale or deleted ones in place, and applies --overwrite only
to files we did not write. 'verify' lists outputs that are missing, damaged,
stale (the photo changed) or orphaned (the photo is gone); exit code 1 if any.
`;

export interface CliSettings {
  inputs: string[];
  recursive: boolean;
  outFolder: string | null;
  nameTemplate: string;
  overwrite: OverwritePolicy;
  options: UpscaleOptions;
  /** Encoder settings per format: `--quality` for jpeg, webp and avif, else the app's defaults. */
  encoding: ExportSettings['encoding'];
  device: Device;
  threads: number | undefined;
  /** `--max-memory` in bytes: the engine's memory budget (undefined: its default). */
  maxMemoryBytes: number | undefined;
  modelsDir: string | null;
  /** Write the JSON and CSV report next to the outputs (`--no-report` turns it off). */
  report: boolean;
  /** `--queue`: the Redis address the job goes to instead of this computer's queue. */
  queue: string | null;
  /** `--detach`: submit to the queue and return the job id. */
  detach: boolean;
}

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export type ParsedCommand = { kind: 'help' } | { kind: 'run'; settings: CliSettings };

const OPTIONS = {
  scale: { type: 'string' },
  width: { type: 'string' },
  height: { type: 'string' },
  out: { type: 'string' },
  name: { type: 'string' },
  format: { type: 'string' },
  quality: { type: 'string' },
  overwrite: { type: 'string' },
  'keep-metadata': { type: 'boolean' },
  sharpen: { type: 'string' },
  'sharpen-for': { type: 'string' },
  'no-report': { type: 'boolean' },
  preset: { type: 'string' },
  model: { type: 'string' },
  source: { type: 'string' },
  models: { type: 'string' },
  tta: { type: 'boolean' },
  tile: { type: 'string' },
  precision: { type: 'string' },
  device: { type: 'string' },
  threads: { type: 'string' },
  'max-memory': { type: 'string' },
  recursive: { type: 'boolean', short: 'r' },
  help: { type: 'boolean', short: 'h' },
  queue: { type: 'string' },
  detach: { type: 'boolean' },
} as const;

export function parseCliArguments(argv: readonly string[]): ParsedCommand {
  let parsed;
  try {
    parsed = parseArgs({
      args: attachDashValues(argv),
      allowPositionals: true,
      strict: true,
      options: OPTIONS,
    });
  } catch (error) {
    throw new UsageError(parseArgsProblem(error as Error & { code?: string }));
  }
  const { values, positionals } = parsed;
  if (values.help) return { kind: 'help' };
  if (positionals.length === 0) throw new UsageError('no input files or folders given');
  if (values.detach && values.queue === undefined)
    throw new UsageError('--detach goes with --queue (a local run has nothing to detach from)');

  const sizeFlags = (['scale', 'width', 'height'] as const).filter(
    (flag) => values[flag] !== undefined,
  );
  if (sizeFlags.length > 1)
    throw new UsageError(
      `give only one of --scale, --width, --height (got ${sizeFlags.map((f) => `--${f}`).join(', ')})`,
    );
  const target: UpscaleOptions['target'] =
    values.width !== undefined
      ? { kind: 'width', width: integerFlag('width', values.width, 1, 65535) }
      : values.height !== undefined
        ? { kind: 'height', height: integerFlag('height', values.height, 1, 65535) }
        : { kind: 'scale', scale: numberFlag('scale', values.scale ?? '2', MIN_SCALE, MAX_SCALE) };

  const nameTemplate = values.name ?? DEFAULT_NAMING_TEMPLATE;
  const templateProblem = validateNamingTemplate(nameTemplate);
  if (templateProblem) throw new UsageError(`--name: ${templateProblem}`);

  const givenQuality =
    values.quality === undefined ? undefined : integerFlag('quality', values.quality, 1, 100);
  const encoding: ExportSettings['encoding'] =
    givenQuality === undefined
      ? { ...DEFAULT_EXPORT_SETTINGS.encoding }
      : {
          ...DEFAULT_EXPORT_SETTINGS.encoding,
          jpegQuality: givenQuality,
          webpQuality: givenQuality,
          avifQuality: givenQuality,
        };
  const sharpenAmount = choiceFlag('sharpen', values.sharpen ?? 'none', SHARPEN_AMOUNTS);
  if (values['sharpen-for'] !== undefined && sharpenAmount === 'none')
    throw new UsageError('--sharpen-for goes with --sharpen low, standard or high');
  const sharpenMedium = choiceFlag('sharpen-for', values['sharpen-for'] ?? 'screen', SHARPEN_MEDIA);
  const options: UpscaleOptions = {
    target,
    quality: choiceFlag('preset', values.preset ?? 'best', QUALITY_PRESETS),
    source: choiceFlag('source', values.source ?? 'auto', SOURCE_SETTINGS),
    selfEnsemble: values.tta ?? false,
    precision: choiceFlag('precision', values.precision ?? 'auto', PRECISIONS),
    format: choiceFlag('format', values.format ?? 'same', EXPORT_FORMATS),
    encodeQuality: encoding.jpegQuality,
    keepMetadata: values['keep-metadata'] ?? false,
    ...(values.model !== undefined ? { model: values.model } : {}),
    // The batch settings' range: a CLI run is a batch job.
    ...(values.tile !== undefined
      ? { tileSize: integerFlag('tile', values.tile, MIN_TILE_SIZE, MAX_TILE_SIZE) }
      : {}),
    ...(sharpenAmount !== 'none'
      ? { sharpening: { amount: sharpenAmount, medium: sharpenMedium } }
      : {}),
  };
  return {
    kind: 'run',
    settings: {
      inputs: positionals,
      recursive: values.recursive ?? false,
      outFolder: values.out ?? null,
      nameTemplate,
      encoding,
      overwrite: choiceFlag('overwrite', values.overwrite ?? 'rename', OVERWRITE_POLICIES),
      options,
      device: choiceFlag('device', values.device ?? 'auto', DEVICES),
      threads:
        values.threads !== undefined ? integerFlag('threads', values.threads, 0, 1024) : undefined,
      maxMemoryBytes:
        values['max-memory'] !== undefined ? memoryFlag(values['max-memory']) : undefined,
      modelsDir: values.models ?? null,
      report: !(values['no-report'] ?? false),
      queue: values.queue ?? null,
      detach: values.detach ?? false,
    },
  };
}

/**
 * The line the CLI prints when `--threads` asks for more threads than the machine has cores
 * (the engine runs the cores' count: `boundThreads`); null when it runs as asked.
 */
export function threadsNote(requested: number | undefined, cores: number): string | null {
  if (requested === undefined || boundThreads(requested, cores) === requested) return null;
  const bound = boundThreads(requested, cores);
  return `--threads ${requested} is more than this machine's ${cores} core${cores === 1 ? '' : 's'}; using ${bound}`;
}

/**
 * parseArgs refuses `--scale -1` as "ambiguous" (a value starting with "-" might be an option),
 * and its other messages are Node's. A value that is not one of our options is attached with
 * `=` (`--scale=-1`), so the flag's own check answers it; a flag followed by an option or by
 * nothing gets our message.
 */
function attachDashValues(argv: readonly string[]): string[] {
  const args: string[] = [];
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index]!;
    args.push(arg);
    if (arg === '--') {
      args.push(...argv.slice(index + 1));
      break;
    }
    const name = arg.startsWith('--') && !arg.includes('=') ? arg.slice(2) : null;
    if (name === null || !isStringOption(name)) continue;
    const value = argv[index + 1];
    if (value === undefined) throw new UsageError(`--${name} needs a value`);
    if (!value.startsWith('-') || value === '-') continue;
    if (isOption(value)) throw new UsageError(`--${name} needs a value (got the option ${value})`);
    args[args.length - 1] = `${arg}=${value}`;
    index++;
  }
  return args;
}

function isStringOption(name: string): boolean {
  return Object.hasOwn(OPTIONS, name) && OPTIONS[name as keyof typeof OPTIONS].type === 'string';
}

/** `--anything` (ours or a typo), or a cluster of our one-letter flags (`-r`, `-rh`). */
function isOption(arg: string): boolean {
  if (arg.startsWith('--')) return true;
  const shorts: string[] = Object.values(OPTIONS).flatMap((option) =>
    'short' in option ? [option.short] : [],
  );
  return [...arg.slice(1)].every((letter) => shorts.includes(letter));
}

/** What parseArgs still refuses after `attachDashValues`, in our words. */
function parseArgsProblem(error: Error & { code?: string }): string {
  const option = /'([^' ]+)/.exec(error.message)?.[1] ?? '';
  if (error.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION')
    return `unknown option ${option} (a file whose name starts with "-" goes after --: cmsc-upscale -- ${option})`;
  if (
    error.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' &&
    /does not take an argument/.test(error.message)
  )
    return `${option} takes no value`;
  return error.message.split('\n')[0]!;
}

/** Plain decimal only: `Number()` would also read `0x2` as hex, `1e0` and ` 2 `. */
const DECIMAL_NUMBER = /^\d+(\.\d+)?$/;

function numberFlag(flag: string, text: string, min: number, max: number): number {
  const value = Number(text);
  if (!DECIMAL_NUMBER.test(text) || !Number.isFinite(value) || value < min || value > max) {
    throw new UsageError(`--${flag} must be a number from ${min} to ${max} (got "${text}")`);
  }
  return value;
}

function integerFlag(flag: string, text: string, min: number, max: number): number {
  const value = numberFlag(flag, text, min, max);
  if (!Number.isInteger(value))
    throw new UsageError(`--${flag} must be a whole number (got "${text}")`);
  return value;
}

/** A memory size (`1g`, `1536m`, bytes), at least 256 MiB: the process alone takes about 224. */
function memoryFlag(text: string): number {
  const bytes = parseMemorySize(text);
  if (bytes === null || bytes < MIN_MEMORY_BUDGET_BYTES) {
    throw new UsageError(
      `--max-memory must be a size of at least 256m, such as 1g or 1536m (got "${text}")`,
    );
  }
  return bytes;
}

function choiceFlag<T extends string>(flag: string, text: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(text)) {
    throw new UsageError(`--${flag} must be one of ${choices.join(', ')} (got "${text}")`);
  }
  return text as T;
}
