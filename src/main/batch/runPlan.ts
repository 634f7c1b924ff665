/**
 * Which model each file of a job will run, and how fast this machine runs it: the per-file
 * speed behind the pre-flight estimate and the ETA.
 *
 * One figure per job is not enough: with Source = Auto a JPEG saved below
 * `PHOTO_BELOW_JPEG_QUALITY` runs a photo variant, which on a CPU can cost several times the
 * clean default per pixel (cmsc-lite-photo against int8 cmsc-fast), so a folder of camera JPEGs
 * estimated at the clean model's speed would come out several times too optimistic. The
 * prediction uses only what the scan already has: the header, and a JPEG's quantisation tables
 * (`readJpegQuality`, no pixels decoded). The model for that evidence comes from the engine
 * (`ImageUpscaler.plannedModel`), the same rule that picks it when the file runs. A noisy PNG is
 * judged a photo only once decoded, so it is estimated as clean.
 */
import type { ExportSettings } from '../../shared/exportSettings.ts';
import type {
  ExecutionProvider,
  InferencePrecision,
  ModelSummary,
} from '../../shared/upscaleOptions.ts';
import {
  expectedPrecision,
  formatFlopsPerSecond,
  jobFlopsPerPixel,
  megapixelsPerSecond,
  speedKeyText,
  type SpeedKey,
  type SpeedLog,
} from './deviceSpeed.ts';
import type { ImageUpscaler } from './imageUpscaler.ts';

/**
 * Assumed speed when nothing could be measured (a calibration failed or a job was running), in
 * model FLOPs per second actually achieved.
 * Measured on a 2-core VM shared with a training job (the batch tests' machine): the tiny
 * fixture model ran at about 3.3 GFLOP/s inside tiles, and decode + colour + bicubic + encode
 * took about 1.1 s per output megapixel. The assumptions sit below those numbers on purpose.
 */
const ASSUMED_FLOPS_PER_SECOND: Readonly<Record<ExecutionProvider, number>> = {
  cpu: 2e9,
  webgpu: 5e10,
  cuda: 1e11,
};
/** Decode, colour conversion, bicubic resize and encode, per output megapixel, on a slow machine. */
const ASSUMED_PIPELINE_SECONDS_PER_MEGAPIXEL = 1.5;
/** When the model card is unknown: a large CMSC on a CPU. */
const FALLBACK_MEGAPIXELS_PER_SECOND = 0.02;

/** Where a speed comes from, weakest last: a mix is only as good as its weakest part. */
export type SpeedBasis = 'measured' | 'calibrated' | 'assumed';
const BASIS_STRENGTH: readonly SpeedBasis[] = ['measured', 'calibrated', 'assumed'];

/** One predicted model and file on this machine, and its speed. */
export interface PlannedRun {
  /** The predicted model, provider and precision (where its figure is kept); null: unknown model. */
  key: SpeedKey | null;
  /** Output megapixels per second for the job's preset and self-ensemble. */
  megapixelsPerSecond: number;
  /** Seconds each photo costs besides its pixels (deviceSpeed.ts); 0 while not learned. */
  secondsPerPhoto: number;
  basis: SpeedBasis;
  /** In words, e.g. `cmsc-fast (fast, int8) on CPU at 27 GFLOP/s, measured over 7 photos`. */
  description: string;
  /** Shorter, for the other models of a mixed job: `cmsc-lite-photo (fast, fp32) at 9.0 GFLOP/s`. */
  brief: string;
}

/** Predicts each file's run for one job's settings on one provider (memoised: cheap per file). */
export class RunPlanner {
  private readonly models: readonly ModelSummary[];
  private readonly keys = new Map<string, SpeedKey | null>();
  private readonly runs = new Map<string, PlannedRun>();

  constructor(
    private readonly upscaler: ImageUpscaler,
    private readonly speeds: SpeedLog,
    private readonly settings: ExportSettings,
    readonly provider: ExecutionProvider,
  ) {
    this.models = upscaler.listModels();
  }

  /** The figure's key for a file of `jpegQuality` (null: not a JPEG) at `scale`; null: unknown model. */
  keyFor(jpegQuality: number | null, scale: number): SpeedKey | null {
    const evidence = `${jpegQuality}@${scale}`;
    if (this.keys.has(evidence)) return this.keys.get(evidence)!;
    const { model: asked, source } = this.settings;
    const name = this.upscaler.plannedModel(
      { source, ...(asked !== null ? { model: asked } : {}) },
      jpegQuality,
      scale,
      this.provider,
    );
    const key =
      name === null
        ? null
        : {
            provider: this.provider,
            model: name,
            precision: expectedPrecision(this.summary(name), this.settings, this.provider),
          };
    this.keys.set(evidence, key);
    return key;
  }

  runFor(jpegQuality: number | null, scale: number): PlannedRun {
    const key = this.keyFor(jpegQuality, scale);
    const model = key === null ? undefined : this.summary(key.model);
    // An input-resolution model runs another file (and FLOPs) per integer scale.
    const flops = jobFlopsPerPixel(model, this.settings, scale);
    const id = `${key === null ? '' : speedKeyText(key)}@${flops}`;
    let run = this.runs.get(id);
    if (!run) {
      run = this.plan(key, scale);
      this.runs.set(id, run);
    }
    return run;
  }

  /** The card summary of `name`, for its FLOPs and int8 files. */
  summary(name: string): ModelSummary | undefined {
    return this.models.find((model) => model.name === name);
  }

  private plan(key: SpeedKey | null, scale: number): PlannedRun {
    const model = key === null ? undefined : this.summary(key.model);
    const { qualityPreset, selfEnsemble } = this.settings;
    const preset = `${qualityPreset}${selfEnsemble ? ', self-ensemble' : ''}, ${key?.precision ?? 'fp32'}`;
    const name = `${key?.model ?? this.settings.model ?? 'the default model'} (${preset})`;
    const figure = key === null ? null : this.speeds.get(key);
    const measured =
      figure === null ? null : megapixelsPerSecond(figure, model, this.settings, scale);
    if (key !== null && figure !== null && measured !== null) {
      const how =
        figure.source === 'calibrated'
          ? 'timed on a test photo'
          : `measured over ${figure.photos} photo${figure.photos === 1 ? '' : 's'}`;
      const rate = formatFlopsPerSecond(figure.flopsPerSecond);
      return {
        key,
        megapixelsPerSecond: measured,
        secondsPerPhoto: figure.overheadSecondsPerPhoto ?? 0,
        basis: figure.source,
        description: `${name} on ${key.provider.toUpperCase()} at ${rate}, ${how}`,
        brief: `${name} at ${rate}`,
      };
    }
    return {
      key,
      megapixelsPerSecond: assumedMegapixelsPerSecond(model, this.settings, this.provider, scale),
      secondsPerPhoto: 0,
      basis: 'assumed',
      description: `${name}: ${assumedSpeedBasis(this.provider, key?.precision ?? 'fp32')}`,
      brief: `${name}, speed assumed`,
    };
  }
}

/** The runs of a job's files grouped by model and file: the time they take, the speed in words. */
export class RunTally {
  private readonly groups = new Map<PlannedRun, { files: number; pixels: number }>();

  add(run: PlannedRun, outputPixels: number, files = 1): void {
    const group = this.groups.get(run) ?? { files: 0, pixels: 0 };
    group.files += files;
    group.pixels += outputPixels;
    this.groups.set(run, group);
  }

  get isEmpty(): boolean {
    return this.groups.size === 0;
  }

  /** Each photo's pixels at its run's rate, plus its run's per-photo overhead. */
  seconds(): number {
    let seconds = 0;
    for (const [run, group] of this.groups)
      seconds += group.pixels / 1e6 / run.megapixelsPerSecond + group.files * run.secondsPerPhoto;
    return seconds;
  }

  /** True when no run's speed is merely assumed. */
  isMeasured(): boolean {
    return [...this.groups.keys()].every((run) => run.basis !== 'assumed');
  }

  /** One run: its own speed; several: output megapixels over their seconds; none: null. */
  megapixelsPerSecond(): number | null {
    const runs = [...this.groups.keys()];
    if (runs.length <= 1) return runs[0]?.megapixelsPerSecond ?? null;
    const pixels = [...this.groups.values()].reduce((sum, group) => sum + group.pixels, 0);
    const seconds = this.seconds();
    return seconds > 0 ? pixels / 1e6 / seconds : runs[0]!.megapixelsPerSecond;
  }

  /** The weakest basis among the runs (`assumed` when there are none). */
  basis(): SpeedBasis {
    let weakest = 0;
    for (const run of this.groups.keys())
      weakest = Math.max(weakest, BASIS_STRENGTH.indexOf(run.basis));
    return this.groups.size === 0 ? 'assumed' : BASIS_STRENGTH[weakest]!;
  }

  /**
   * The run most files take, in full, then the others briefly with their file counts:
   * `cmsc-fast (fast, int8) on CPU at 27 GFLOP/s, measured over 7 photos; + 12 photos on
   * cmsc-lite-photo (fast, fp32) at 9.0 GFLOP/s`.
   */
  description(): string {
    const [main, ...others] = [...this.groups].sort(
      ([, a], [, b]) => b.files - a.files || b.pixels - a.pixels,
    );
    if (!main) return '';
    return [
      main[0].description,
      ...others.map(
        ([run, group]) => `+ ${group.files} photo${group.files === 1 ? '' : 's'} on ${run.brief}`,
      ),
    ].join('; ');
  }
}

/** Output megapixels per second at the assumed rates, from the card's FLOPs for the preset. */
export function assumedMegapixelsPerSecond(
  model: ModelSummary | undefined,
  settings: Pick<ExportSettings, 'qualityPreset' | 'selfEnsemble'>,
  provider: ExecutionProvider,
  scale?: number,
): number {
  const assumed = {
    flopsPerSecond: ASSUMED_FLOPS_PER_SECOND[provider],
    pipelineSecondsPerMegapixel: ASSUMED_PIPELINE_SECONDS_PER_MEGAPIXEL,
  };
  return megapixelsPerSecond(assumed, model, settings, scale) ?? FALLBACK_MEGAPIXELS_PER_SECOND;
}

/**
 * The assumed speed in words. An int8 file gets the float assumption: the 2.2-2.8x the README
 * measured for cmsc-fast holds on that machine's CPU and ONNX Runtime build (it depends on the
 * CPU's int8 instructions), so the unmeasured estimate stays on the long side and says so.
 */
function assumedSpeedBasis(provider: ExecutionProvider, precision: InferencePrecision): string {
  const rate = `assumed ${ASSUMED_FLOPS_PER_SECOND[provider] / 1e9} GFLOP/s on ${provider.toUpperCase()}`;
  return precision === 'int8'
    ? `${rate} for the int8 file, as for float (nothing measured yet; int8 is usually faster)`
    : `${rate} (nothing measured yet)`;
}
