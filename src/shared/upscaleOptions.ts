/**
 * Settings and result types for one upscale, shared by the engine, the batch queue, the CLI,
 * the web server and the renderer. Pure TypeScript: no Node or Electron imports.
 */
import type { OutputSharpening } from './outputSharpening.ts';

/** Output encodings the engine writes; `same` keeps the input's format where it can be written. */
export const EXPORT_FORMATS = ['same', 'png', 'jpeg', 'webp', 'avif', 'tiff'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** What to do when the output file already exists. */
export const OVERWRITE_POLICIES = ['skip', 'rename', 'overwrite'] as const;
export type OverwritePolicy = (typeof OVERWRITE_POLICIES)[number];

/** Execution provider request; `auto` tries CUDA, then WebGPU, then CPU. */
export const DEVICES = ['auto', 'cuda', 'webgpu', 'cpu'] as const;
export type Device = (typeof DEVICES)[number];
export type ExecutionProvider = Exclude<Device, 'auto'>;

/** Quality presets map onto the cascade: fast = stage 1, balanced = stage 2, best = all stages. */
export const QUALITY_PRESETS = ['fast', 'balanced', 'best'] as const;
export type QualityPreset = (typeof QUALITY_PRESETS)[number];

/**
 * What kind of picture the input is, which picks the clean or the photo variant of a model:
 * `clean` (PNG, renders, scans: the paper's bicubic inputs), `photo` (JPEG-compressed or
 * noisy camera files: a model trained on degraded inputs), or `auto` (decided per file from
 * its JPEG quantisation tables and its noise level; see `src/main/engine/sourceKind.ts`).
 */
export const SOURCE_SETTINGS = ['auto', 'clean', 'photo'] as const;
export type SourceSetting = (typeof SOURCE_SETTINGS)[number];
export type SourceKind = Exclude<SourceSetting, 'auto'>;

/**
 * Numeric precision of inference: `auto` runs a model's int8 file on a CPU where its card
 * ships one (kept only within 0.05 dB of fp32 on Set5, about twice as fast), fp32 elsewhere;
 * `fp32` always runs the float files.
 */
export const PRECISIONS = ['auto', 'fp32'] as const;
export type Precision = (typeof PRECISIONS)[number];
/** The precision of the model file that actually ran: what `Precision: auto` became for a photo. */
export const INFERENCE_PRECISIONS = ['int8', 'fp32'] as const;
export type InferencePrecision = (typeof INFERENCE_PRECISIONS)[number];

/** JPEGs saved at a lower IJG quality than this go to the photo variant. */
export const PHOTO_BELOW_JPEG_QUALITY = 96;
/**
 * Noise σ (8-bit levels of Y) from which any input goes to the photo variant. Measured on the
 * x2-down-scaled Set5 and Set14 (the LR inputs of `bench:quality`): clean images give 0-3.0
 * (the most textured, Set14 comic, 3.03), the same with Gaussian noise of 6 levels in R, G, B
 * 2.0-5.0. The photo variant loses about 1.8 dB on a clean input, so the threshold sits above
 * every clean image: only clearly noisy files switch.
 */
export const PHOTO_FROM_NOISE_SIGMA = 4;

/** Why a file was treated as clean or as a photo, shown beside the model that ran. */
export interface SourceDecision {
  kind: SourceKind;
  setting: SourceSetting;
  /** One line for people, e.g. "JPEG quality ≈ 72" or "set to Photo". */
  reason: string;
  /** IJG quality estimated from the file's quantisation tables; null when not a JPEG. */
  jpegQuality: number | null;
  /** Estimated noise σ of the luminance in 8-bit levels. */
  noiseSigma: number;
}

/** The output size: a scale factor in [1, 4] (non-integer allowed), or one side in pixels. */
export type TargetSize =
  | { kind: 'scale'; scale: number }
  | { kind: 'width'; width: number }
  | { kind: 'height'; height: number };

export const MIN_SCALE = 1;
export const MAX_SCALE = 4;

export interface UpscaleOptions {
  target: TargetSize;
  /** Model card name (e.g. `cmsc`); undefined picks the default model. */
  model?: string;
  /** Clean or photo variant of the model; undefined means `auto`. */
  source?: SourceSetting;
  quality: QualityPreset;
  /** Self-ensemble: average the 8 flips/rotations (8x slower, slightly sharper). */
  selfEnsemble: boolean;
  /** int8 files on a CPU where shipped (`auto`, the default when undefined) or always `fp32`. */
  precision?: Precision;
  format: ExportFormat;
  /** Encoder quality 1..100 for jpeg, webp, avif (ignored by png and tiff). */
  encodeQuality: number;
  /** Keep the ICC profile and XMP of the input (pixels are converted back to its profile). */
  keepMetadata: boolean;
  /** Tile side in the model's input pixels; undefined chooses from the engine's memory budget. */
  tileSize?: number;
  /** Output sharpening before the encode (outputSharpening.ts); undefined: none. */
  sharpening?: OutputSharpening;
}

/**
 * JPEG quality of outputs unless set. A JPEG input is written as a JPEG (format `same`), and the
 * encoder then decides how much of what the model added survives: on Set14 JPEG q90 inputs at
 * x2 the default path keeps +1.45 dB over bicubic at output quality 90, +1.56 at 95 and +1.64 as
 * PNG (`npm run bench:quality -- --inputs q90,q75 --datasets Set14 --encode-quality N`), for
 * files 1.3x the size of quality 90's and a tenth of the PNG's.
 */
export const DEFAULT_JPEG_QUALITY = 95;

export const DEFAULT_UPSCALE_OPTIONS: Readonly<UpscaleOptions> = Object.freeze({
  target: Object.freeze({ kind: 'scale', scale: 2 }) as TargetSize,
  quality: 'best',
  source: 'auto',
  selfEnsemble: false,
  format: 'same',
  encodeQuality: DEFAULT_JPEG_QUALITY,
  keepMetadata: true,
});

export interface UpscaleProgress {
  tilesDone: number;
  tilesTotal: number;
  /** Milliseconds since the image started (decode included). */
  elapsedMs: number;
  /** Estimated milliseconds left for this image, from the mean tile time; null before the first tile. */
  etaMs: number | null;
  /** Tiles kept from a run stopped by "Pause now" (counted in `tilesDone`, not run again). */
  tilesReused?: number;
}

export interface ProviderAttempt {
  provider: ExecutionProvider;
  ok: boolean;
  /** Why it was skipped or failed; empty when ok. */
  reason: string;
}

export interface ProviderReport {
  requested: Device;
  /** The provider that actually runs inference. */
  active: ExecutionProvider;
  attempts: ProviderAttempt[];
}

export interface UpscaleResult {
  inputPath: string;
  outputPath: string;
  inputWidth: number;
  inputHeight: number;
  outputWidth: number;
  outputHeight: number;
  model: string;
  /** Why the clean or the photo variant ran (absent from results recorded before it existed). */
  source?: SourceDecision;
  stages: number;
  /** Whether the model's int8 or float file ran. */
  precision: InferencePrecision;
  provider: ExecutionProvider;
  tiles: number;
  /** Tiles kept from a run stopped by "Pause now" and not run again (absent: none). */
  tilesReused?: number;
  tileSize: number;
  /** Wall time of the whole image, decode to rename. */
  elapsedMs: number;
  /** Time spent inside inference calls. */
  inferenceMs: number;
  /** Where `elapsedMs` went; what the phases leave out (session lookup, awaits) is the rest. */
  phasesMs: UpscalePhaseTimes;
}

/** Milliseconds of one image's phases, in pipeline order. */
export interface UpscalePhaseTimes {
  /** Reading and decoding the file into float RGB planes. */
  decode: number;
  /** RGB → YCbCr of the decoded input. */
  colour: number;
  /** Restoring a JPEG's chroma (models with a chroma restorer only). */
  chroma?: number;
  /** Bicubic up-scaling of Y (padded tiles), Cb, Cr and alpha (tile cores). */
  bicubic: number;
  /** Waiting on the model (the inference worker), the same as `inferenceMs`. */
  inference: number;
  /** Tile outputs cropped to their cores, YCbCr → RGB, quantised into the output raster. */
  merge: number;
  /** Encoding the output raster to the temporary file. */
  encode: number;
  /** Renaming the temporary file into place. */
  rename: number;
}

/** Estimated IJG JPEG qualities, inclusive: the files a photo variant serves. */
export interface JpegQualityBand {
  min: number;
  max: number;
}

/** What the UI lists for a model and its quality presets. */
export interface ModelSummary {
  name: string;
  /** The model used when a job names none. */
  isDefault: boolean;
  displayName: string;
  description: string;
  parameters: number;
  /** Set on a photo variant: the clean model it was fine-tuned from (runs on JPEG/noisy inputs). */
  photoVariantOf?: string;
  /**
   * A photo variant that serves only JPEGs of these estimated qualities (inclusive); `byScale`
   * moves the band for the file of one scale.
   */
  photoJpegQuality?: JpegQualityBand & { byScale?: Record<string, JpegQualityBand> };
  /**
   * SHA-256 over the SHA-256 of every file the card lists: changes exactly when a model file
   * does (a re-recorded evaluation row leaves it alone). Output manifests record it.
   */
  filesDigest?: string;
  presets: PresetSummary[];
}

export interface PresetSummary {
  preset: QualityPreset;
  stages: number;
  file: string;
  flopsPerPixel: number;
  /**
   * The preset's int8 file where the card ships one: it runs instead of `file` on a CPU unless
   * Precision is fp32 (same FLOPs per pixel, about twice the speed there).
   */
  int8File?: string;
  /**
   * Input-resolution models (one file per integer scale): FLOPs per output pixel of the file
   * each scale runs (x4 costs about a quarter of x2 per output pixel); `flopsPerPixel` is x2's.
   */
  flopsPerPixelByScale?: Partial<Record<number, number>>;
  /** PSNR on Set5 from the model card, by scale; empty when the card has no measurement. */
  set5Psnr: Partial<Record<number, number>>;
  /** Output megapixels per second measured by this engine on this machine; null until it has run. */
  measuredMegapixelsPerSecond: number | null;
}

/**
 * Context pixels around each tile by default (capped by the model's receptive-field radius).
 * CMSC's exact radius is 65 px, but its effective one is far smaller. `npm run bench:overlap`
 * (128² centre crops, 64 px tile cores) on the shipped models, largest tiled-vs-untiled
 * difference in 8-bit grey levels and share of samples differing:
 * - `cmsc` on Set14: 4 at 8 px, 2 at 12, 1 at 16 (0.40 %), 1 at 20 (0.11 %), 1 at 24 (0.029 %);
 *   on Set5: 1 at 12-24 px (0.10 % at 20).
 * - `cmsc-lite` on Set14: 3 at 8 px, 1 at 12 (0.30 %), 1 at 20 (0.006 %); after the model's
 *   retraining to 12,296 iterations 1 at 12 (0.33 %), 1 at 20 (0.010 %).
 * 20 px keeps both models within 1 grey level with one 4 px step of margin, and repeats less
 * work than 24: with the engine's ~2000 px tiles the context costs about 2 % per split axis.
 */
export const DEFAULT_MAX_OVERLAP = 20;

/** The smallest padded tile side that leaves a core beside `overlap` px of context each side. */
export function smallestTileSize(overlap: number): number {
  return 2 * overlap + 8;
}

/**
 * The model work tiles of `tileSize` add on a large photo through the context repeated around
 * each one: an inner tile computes (tileSize / (tileSize − 2·overlap))² pixels per output pixel
 * (0.177 at 512 px and 20 px overlap, 0.041 at 2000 px). A tile too small for the overlap counts
 * as the smallest that works, as the engine runs it.
 */
export function repeatedContextShare(
  tileSize: number,
  overlap: number = DEFAULT_MAX_OVERLAP,
): number {
  const tile = Math.max(tileSize, smallestTileSize(overlap));
  return (tile / (tile - 2 * overlap)) ** 2 - 1;
}

/** The smallest integer scale (2 or more) that reaches a target `scale` (x1.5 → 2, x2.01 → 3). */
export function wantedIntegerScale(scale: number): number {
  return Math.max(2, Math.ceil(scale - 1e-9));
}

/**
 * The integer scale an input-resolution model runs for a target `scale`, among the integer
 * `scales` it has files for: the smallest at or above it (the engine then resizes down to the
 * target), else the largest (the engine then resizes up the rest of the way).
 */
export function integerModelScale(scales: readonly number[], scale: number): number {
  const wanted = wantedIntegerScale(scale);
  const sorted = [...scales].sort((a, b) => a - b);
  return sorted.find((s) => s >= wanted) ?? sorted[sorted.length - 1]!;
}

/** A preset's FLOPs per output pixel at `scale` (for an input-resolution model, its file's). */
export function presetFlopsPerPixel(preset: PresetSummary, scale?: number): number {
  const byScale = preset.flopsPerPixelByScale;
  if (!byScale || scale === undefined) return preset.flopsPerPixel;
  const scales = Object.keys(byScale).map(Number);
  return scales.length === 0
    ? preset.flopsPerPixel
    : (byScale[integerModelScale(scales, scale)] ?? preset.flopsPerPixel);
}

/** A photo variant's band as people read it: `80–95`, or `80–95; x2: 70–95` where one scale's moves. */
export function describeJpegBand(band: NonNullable<ModelSummary['photoJpegQuality']>): string {
  const range = (b: JpegQualityBand) => `${b.min}–${b.max}`;
  const moved = Object.entries(band.byScale ?? {})
    .sort(([a], [b]) => Number(a) - Number(b))
    .map(([scale, inner]) => `x${scale}: ${range(inner)}`);
  return [range(band), ...moved].join('; ');
}
