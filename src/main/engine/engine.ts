/**
 * The engine: everything between a photo on disk and a bigger photo on disk, behind one
 * object that the Electron main process, the web server, the batch queue and the CLI share.
 * It owns one inference worker (one long-lived ONNX Runtime session per model file).
 */
import { randomBytes } from 'node:crypto';
import { rm, stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type ConcreteFormat,
  concreteFormat,
  TEMPORARY_OUTPUT_PREFIX,
} from '../../shared/outputNaming.ts';
import { resolveTargetSize } from '../../shared/targetSize.ts';
import { unsharpMaskFor } from '../../shared/outputSharpening.ts';
import {
  DEFAULT_MAX_OVERLAP,
  smallestTileSize,
  type Device,
  type ExecutionProvider,
  type InferencePrecision,
  type ModelSummary,
  type ProviderReport,
  type SourceDecision,
  type UpscaleOptions,
  type UpscaleProgress,
  type UpscaleResult,
} from '../../shared/upscaleOptions.ts';
import type { Rect } from './bicubic.ts';
import {
  type DecodedSamples,
  type DecodedWindow,
  decodeSamples,
  decodeWindow,
  DEFAULT_MAX_INPUT_PIXELS,
  type ImageHeader,
  probeImage,
} from './imageDecode.ts';
import {
  encodeImage,
  formatSizeProblem,
  jpegFitsWholeInMemory,
  supportsSixteenBit,
  wholeFrameEncoderBytes,
} from './imageEncode.ts';
import { InferenceClient } from './inferenceClient.ts';
import {
  claimKeptRaster,
  keptOrRethrown,
  keptRasterBytes,
  keptRasterIdentity,
  keptRasterPaths,
} from './keptRaster.ts';
import { RESTORED_CHROMA_BYTES_PER_PIXEL, restoreChroma } from './chromaRestoration.ts';
import { diskSpaceProblem } from './diskSpace.ts';
import type { ModelCard } from './modelCard.ts';
import type { ModelIoNames } from './onnxSession.ts';
import { type InferenceHardware, ModelRegistry, type ResolvedVariant } from './modelRegistry.ts';
import { writeAtomically } from './outputFile.ts';
import { estimateNoiseSigmaOf, type YReader } from './noiseLevel.ts';
import { assessSource, decideSource, jpegQualityOf, noiseDecides } from './sourceKind.ts';
import { sampleSource, windowSource } from './lowResSource.ts';
import { OutputRaster } from './outputRaster.ts';
import { RasterFileWriter, rasterFileBytes } from './rasterFile.ts';
import { type LowResSource, type PlaneModel, upscaleTiled } from './tiledUpscale.ts';
import {
  arenaBytes,
  DEFAULT_MEMORY_BUDGET_BYTES,
  PROCESS_BASE_BYTES,
  tileSizeForBudget,
  tileWorkingBytes,
} from './tileSizing.ts';

export interface EngineConfig {
  /** Folders with model cards; default: the repository's `models/`. */
  modelsDirs?: string[];
  device?: Device;
  /** Inference threads; 0 lets ONNX Runtime use one per core. Default: all cores. */
  threads?: number;
  /** The inference worker's entry file, for bundled builds (see InferenceClient). */
  workerUrl?: URL;
  /** Decompression-bomb guard on decoded input pixels. */
  maxInputPixels?: number;
  /** Largest output the engine will write (default DEFAULT_MAX_OUTPUT_PIXELS). */
  maxOutputPixels?: number;
  /**
   * "Memory use": what the whole process may hold while it upscales a photo, in bytes
   * (default DEFAULT_MEMORY_BUDGET_BYTES, 1 GiB). The tile size follows from it.
   */
  memoryBudgetBytes?: number;
  /** Context pixels around each tile; default: min(receptive-field radius, DEFAULT_MAX_OVERLAP). */
  overlap?: number;
  /** Idle time after which model sessions and their memory are released (SessionSettings). */
  idleReleaseMs?: number;
}

export interface UpscaleHooks {
  onProgress?: (progress: UpscaleProgress) => void;
  signal?: AbortSignal;
}

/** 8-bit RGBA pixels, ready for a canvas. */
export interface RgbaImage {
  width: number;
  height: number;
  data: Uint8Array;
}

export interface RegionResult {
  /** The model that made the crop, its stages, its file's precision, and why its clean or photo variant ran. */
  model: string;
  stages: number;
  precision: InferencePrecision;
  source: SourceDecision;
  /** The requested crop, in input pixels (clipped to the image). */
  inputRegion: Rect;
  /** The same area in output pixels. */
  outputRegion: Rect;
  outputWidth: number;
  outputHeight: number;
  input: RgbaImage;
  output: RgbaImage;
}

export interface Engine {
  upscaleFile(
    inputPath: string,
    outputPath: string,
    options: UpscaleOptions,
    hooks?: UpscaleHooks,
  ): Promise<UpscaleResult>;
  /** Upscales only `region` (input pixels) of a photo, with the context the model needs. */
  upscaleRegion(
    inputPath: string,
    region: Rect,
    options: UpscaleOptions,
    hooks?: UpscaleHooks,
  ): Promise<RegionResult>;
  /** Reads the header only (size after EXIF orientation, format); throws ImageInputError for bad files. */
  probe(inputPath: string): Promise<ImageHeader>;
  listModels(): ModelSummary[];
  /**
   * The model a file will run, predicted before it is decoded (the batch pre-flight estimate):
   * the source decision from the file's JPEG header quality alone, then the registry's rule for
   * the asked model at that scale. Noise needs the pixels, so a noisy PNG is predicted clean.
   * Throws for a model name the registry does not know.
   */
  plannedModel(
    options: Pick<UpscaleOptions, 'model' | 'source'>,
    /** IJG quality from the file's tables (jpegQuality.ts); null: not a JPEG, or no tables. */
    jpegQuality: number | null,
    scale: number,
    provider: ExecutionProvider,
  ): string;
  /** Which execution provider runs, and why the others were skipped (opens the default model). */
  providers(): Promise<ProviderReport>;
  close(): Promise<void>;
}

/**
 * Largest output the engine writes: a 100 MP photo (the input guard's limit) at x4. The output
 * streams to disk, so memory does not grow with it; the format and the free disk space are
 * checked per photo before it runs (outputProblem).
 */
export const DEFAULT_MAX_OUTPUT_PIXELS = DEFAULT_MAX_INPUT_PIXELS * 16;

/** A photo whose output the chosen format, the disk or the output limit cannot take. */
export class OutputLimitError extends Error {
  override readonly name = 'OutputLimitError';
  constructor(
    readonly limit: 'pixels' | 'format' | 'disk',
    message: string,
  ) {
    super(message);
  }
}

const REPOSITORY_MODELS_DIR = fileURLToPath(new URL('../../../models', import.meta.url));

export async function createEngine(config: EngineConfig = {}): Promise<Engine> {
  const registry = await ModelRegistry.load(config.modelsDirs ?? [REPOSITORY_MODELS_DIR]);
  const client = new InferenceClient(
    {
      device: config.device ?? 'auto',
      threads: config.threads ?? availableParallelism(),
      ...(config.idleReleaseMs !== undefined ? { idleReleaseMs: config.idleReleaseMs } : {}),
    },
    config.workerUrl,
  );
  return new UpscaleEngine(registry, client, config);
}

interface DecodedWindowEntry {
  key: string;
  decoded: DecodedWindow;
}

/** Input pixels around a Compare crop's reach for the bicubic and resize taps. */
const COMPARE_TAPS_MARGIN = 8;
/** Input pixels decoded beyond a Compare crop's reach, so a nudged crop box decodes nothing. */
export const COMPARE_WINDOW_SLACK = 96;
/** Input pixels from which a photo's chroma restorer session is released once its planes are made. */
const RELEASE_CHROMA_SESSION_PIXELS = 4_000_000;

class UpscaleEngine implements Engine {
  private readonly reports = new Map<string, ProviderReport>();
  /** Output pixels and inference time so far, by model file: the speed shown beside each preset. */
  private readonly throughput = new Map<string, { pixels: number; ms: number }>();
  /** The part of a photo last decoded for Compare, so crops near the last one decode nothing. */
  private lastWindow: DecodedWindowEntry | null = null;
  /** Noise levels of photos Compare has shown, by file (path, size, modification time). */
  private readonly noiseByFile = new Map<string, number>();

  constructor(
    private readonly registry: ModelRegistry,
    private readonly client: InferenceClient,
    private readonly config: EngineConfig,
  ) {}

  listModels(): ModelSummary[] {
    return this.registry.summaries((modelPath) => {
      const measured = this.throughput.get(modelPath);
      return measured && measured.ms > 0 ? measured.pixels / 1e6 / (measured.ms / 1000) : null;
    }, this.knownHardware());
  }

  plannedModel(
    options: Pick<UpscaleOptions, 'model' | 'source'>,
    jpegQuality: number | null,
    scale: number,
    provider: ExecutionProvider,
  ): string {
    // Without pixels the noise is unknown: 0 keeps the decision to the JPEG tables (the format
    // only words the reason, which is not used here).
    const source = decideSource(options.source ?? 'auto', {
      format: jpegQuality === null ? 'image' : 'jpeg',
      jpegQuality,
      noiseSigma: 0,
    });
    // As resolveForInput: the hardware only matters where the default model is asked for.
    const hardware: InferenceHardware =
      options.model === undefined && provider !== 'cpu' ? 'accelerator' : 'cpu';
    const name = this.registry.modelForSource(options.model, source, hardware, scale);
    return this.registry.get(name, hardware, scale).card.name;
  }

  probe(inputPath: string): Promise<ImageHeader> {
    return probeImage(inputPath, this.decodeLimits());
  }

  async providers(): Promise<ProviderReport> {
    const first = this.reports.values().next();
    if (!first.done) return first.value;
    // Opening the CPU default finds the provider without loading the paper-size model.
    const variant = await this.registry.resolve(undefined, 'fast', 'cpu');
    return this.openSession(variant);
  }

  /** Hardware that runs inference, as far as known without opening a session. */
  private knownHardware(): InferenceHardware {
    const device = this.config.device ?? 'auto';
    if (device !== 'auto') return device === 'cpu' ? 'cpu' : 'accelerator';
    const first = this.reports.values().next();
    return !first.done && first.value.active !== 'cpu' ? 'accelerator' : 'cpu';
  }

  /** The hardware that runs inference; with `auto` it opens a session to find out. */
  private async hardware(): Promise<InferenceHardware> {
    if ((this.config.device ?? 'auto') === 'auto') {
      return (await this.providers()).active === 'cpu' ? 'cpu' : 'accelerator';
    }
    return this.knownHardware();
  }

  async upscaleFile(
    inputPath: string,
    outputPath: string,
    options: UpscaleOptions,
    hooks: UpscaleHooks = {},
  ): Promise<UpscaleResult> {
    const started = performance.now();
    if (path.resolve(inputPath) === path.resolve(outputPath)) {
      throw new Error(
        `${inputPath}: the output would replace the input; inputs are never modified`,
      );
    }
    // Not cached: a batch would otherwise hold the last photo's samples between files. Kept as
    // decoded (3 or 6 bytes a pixel); tiles read their planes from it a rectangle at a time.
    const decoding = performance.now();
    const decoded = await decodeSamples(inputPath, this.decodeLimits());
    const decodeMs = performance.now() - decoding;
    hooks.signal?.throwIfAborted();
    const target = this.outputSize(inputPath, decoded, options);
    const format = concreteFormat(options.format, inputPath);
    const formatProblem = formatSizeProblem(format, target.width, target.height);
    if (formatProblem) throw new OutputLimitError('format', `${inputPath}: ${formatProblem}`);
    const bitDepth = decoded.bitDepth === 16 && supportsSixteenBit(format) ? 16 : 8;
    const channels = decoded.channels;
    const rasterBytes = rasterFileBytes(target.width, target.height, channels, bitDepth);
    // Rows kept by "Pause now" are on the disk already.
    const kept = keptRasterPaths(outputPath);
    await checkDiskSpace(
      inputPath,
      outputPath,
      rasterBytes - (await keptRasterBytes(kept)) + outputBytesEstimate(format, rasterBytes),
    );
    const inputInfo = await stat(inputPath);
    const source = sampleSource(decoded);
    // Colour conversion now happens a tile at a time (in `bicubic`); the noise estimate reads
    // only the blocks it samples.
    const converting = performance.now();
    const { variant, source: sourceDecision } = await this.resolveForInput(
      inputPath,
      decoded.format,
      (rect) => source.read('y', rect),
      decoded.width,
      decoded.height,
      options,
      target.scale,
    );
    const colourMs = performance.now() - converting;
    const report = await this.openSession(variant);
    const restoring = performance.now();
    const restored = await this.restoreChromaFor(variant, source, undefined, hooks.signal);
    const chromaMs = performance.now() - restoring;
    const memory = this.memoryPlan(variant, options, {
      heldBytes: decoded.samples.byteLength + restored.bytes,
      outWidth: target.width,
      outRowsPerInputRow: target.height / decoded.height,
      rowBytes: rasterBytes / target.height,
    });
    let stats: Awaited<ReturnType<typeof upscaleTiled>> | null = null;
    let encodeMs = 0;
    const writing = performance.now();
    await writeAtomically(outputPath, async (tempPath) => {
      // Beside the output (not in a tmpfs /tmp, which is memory), named as the batch queue's
      // temporary outputs so a crash leaves nothing it does not sweep.
      // Named after the output it is for: the batch queue's temporary outputs are
      // `.cmsc-partial.<job>.<file>.<name>`, so after a kill the job's own sweep finds it too.
      const outputName = path.basename(outputPath);
      const rasterPath = path.join(
        path.dirname(tempPath),
        `${outputName.startsWith(TEMPORARY_OUTPUT_PREFIX) ? '' : TEMPORARY_OUTPUT_PREFIX}${outputName}.${randomBytes(6).toString('hex')}.raster.tif`,
      );
      try {
        const identity = keptRasterIdentity(
          { path: inputPath, bytes: inputInfo.size, mtimeMs: inputInfo.mtimeMs },
          options,
          variant,
          sourceDecision,
          { target, channels, bitDepth, tileSize: memory.tileSize, overlap: this.overlap(variant) },
        );
        const keptRows = await claimKeptRaster(kept, identity, rasterPath);
        const raster = new RasterFileWriter(
          rasterPath,
          target.width,
          target.height,
          channels === 4,
          bitDepth,
          keptRows,
        );
        try {
          stats = await upscaleTiled(restored.source, {
            outWidth: target.width,
            outHeight: target.height,
            tileSize: memory.tileSize,
            overlap: this.overlap(variant),
            selfEnsemble: options.selfEnsemble,
            model: this.planeModel(variant),
            ...lowResInput(variant),
            sink: (tile) => raster.write(tile),
            onTileDone: progressReporter(started, hooks.onProgress),
            ...(hooks.signal ? { signal: hooks.signal } : {}),
            ...(keptRows > 0 ? { doneRows: keptRows } : {}),
          });
          raster.finish();
        } catch (error) {
          throw await keptOrRethrown(error, hooks.signal, raster, kept, identity);
        } finally {
          raster.close();
        }
        hooks.signal?.throwIfAborted();
        // A JPEG that fits mozjpeg's whole-image buffer only without the session's arena
        // (the last tile's working set): release the session first (reopened on the next run).
        let encoderBytes = memory.encoderBytes;
        // WebP and AVIF hold the whole frame whatever the budget: give them the arena too.
        const frameBytes = wholeFrameEncoderBytes(format, target.width * target.height);
        if (
          (format === 'jpeg' &&
            !jpegFitsWholeInMemory(target.width * target.height, encoderBytes) &&
            jpegFitsWholeInMemory(target.width * target.height, memory.encoderBytesReleased)) ||
          frameBytes > encoderBytes
        ) {
          await this.client.release(variant.path);
          encoderBytes = memory.encoderBytesReleased;
        }
        const encoding = performance.now();
        await encodeImage(
          {
            width: target.width,
            height: target.height,
            channels,
            pixels: { rasterFile: rasterPath, bitDepth },
            format,
            quality: options.encodeQuality,
            iccProfile: options.keepMetadata ? decoded.rgbIccProfile : null,
            xmp: options.keepMetadata ? decoded.xmp : null,
            sharpening: unsharpMaskFor(options.sharpening),
          },
          tempPath,
          encoderBytes,
        );
        encodeMs = performance.now() - encoding;
      } finally {
        await rm(rasterPath, { force: true });
      }
      hooks.signal?.throwIfAborted();
    });
    if (!stats) throw new Error('the upscale did not run');
    const done: Awaited<ReturnType<typeof upscaleTiled>> = stats;
    // Self-ensemble runs the model 8 times per pixel: count 8 passes, so the figure stays the
    // preset's plain speed.
    const measured = this.throughput.get(variant.path) ?? { pixels: 0, ms: 0 };
    this.throughput.set(variant.path, {
      pixels: measured.pixels + target.width * target.height * (options.selfEnsemble ? 8 : 1),
      ms: measured.ms + done.inferenceMs,
    });
    // Everything inside the atomic write but the tiles and the encode: the rename, file removal.
    const renameMs = Math.max(
      0,
      performance.now() - writing - encodeMs - done.inferenceMs - done.bicubicMs - done.mergeMs,
    );
    return {
      inputPath,
      outputPath,
      inputWidth: decoded.width,
      inputHeight: decoded.height,
      outputWidth: target.width,
      outputHeight: target.height,
      model: variant.model.card.name,
      source: sourceDecision,
      stages: variant.variant.stages,
      precision: precisionOf(variant),
      provider: report.active,
      tiles: done.tiles,
      ...(done.tilesReused > 0 ? { tilesReused: done.tilesReused } : {}),
      tileSize: done.tileSize,
      elapsedMs: performance.now() - started,
      inferenceMs: done.inferenceMs,
      phasesMs: {
        decode: decodeMs,
        colour: colourMs,
        ...(variant.chroma ? { chroma: chromaMs } : {}),
        bicubic: done.bicubicMs,
        inference: done.inferenceMs,
        merge: done.mergeMs,
        encode: encodeMs,
        rename: renameMs,
      },
    };
  }

  async upscaleRegion(
    inputPath: string,
    region: Rect,
    options: UpscaleOptions,
    hooks: UpscaleHooks = {},
  ): Promise<RegionResult> {
    const started = performance.now();
    // The header only: a Compare crop decodes the part of the photo it needs (decodeForCompare).
    const header = await this.probe(inputPath);
    const target = this.outputSize(inputPath, header, options);
    const inputRegion = clipRect(region, header);
    if (inputRegion.width <= 0 || inputRegion.height <= 0) {
      throw new RangeError(
        `region ${JSON.stringify(region)} lies outside the ${header.width}x${header.height} image`,
      );
    }
    const sx = target.width / header.width;
    const sy = target.height / header.height;
    const x0 = Math.floor(inputRegion.x * sx);
    const y0 = Math.floor(inputRegion.y * sy);
    const outputRegion = {
      x: x0,
      y: y0,
      width: Math.min(target.width, Math.ceil((inputRegion.x + inputRegion.width) * sx)) - x0,
      height: Math.min(target.height, Math.ceil((inputRegion.y + inputRegion.height) * sy)) - y0,
    };
    const { variant, source } = await this.resolveForInput(
      inputPath,
      header.format,
      await this.noiseForCompare(inputPath, header, options),
      header.width,
      header.height,
      options,
      target.scale,
    );
    // Every read the crop's tiles make lies within this many input pixels of the region: the
    // model's context, the bicubic taps (and a non-integer resize's), and the chroma
    // restorer's context twice (its own tiles' and the region it restores).
    const reach =
      this.overlap(variant) +
      COMPARE_TAPS_MARGIN +
      (variant.chroma ? 2 * variant.chroma.receptiveFieldRadius + COMPARE_TAPS_MARGIN : 0);
    const decoded = await this.decodeForCompare(inputPath, header, inputRegion, reach);
    const lowRes = windowSource(decoded);
    await this.openSession(variant);
    // Restored over the region and the bicubic taps and the restorer's context around it.
    const margin = 4 + (variant.chroma?.receptiveFieldRadius ?? 0);
    const restored = await this.restoreChromaFor(
      variant,
      lowRes,
      {
        x: inputRegion.x - margin,
        y: inputRegion.y - margin,
        width: inputRegion.width + 2 * margin,
        height: inputRegion.height + 2 * margin,
      },
      hooks.signal,
    );
    const raster = new OutputRaster(outputRegion.width, outputRegion.height, true, 8);
    await upscaleTiled(restored.source, {
      outWidth: target.width,
      outHeight: target.height,
      region: outputRegion,
      tileSize: this.memoryPlan(variant, options, {
        heldBytes: decoded.image.samples.byteLength + restored.bytes,
        outWidth: outputRegion.width,
        outRowsPerInputRow: sy,
        rowBytes: outputRegion.width * 4,
      }).tileSize,
      overlap: this.overlap(variant),
      selfEnsemble: options.selfEnsemble,
      model: this.planeModel(variant),
      ...lowResInput(variant),
      sink: (tile) => raster.write(tile, outputRegion),
      onTileDone: progressReporter(started, hooks.onProgress),
      ...(hooks.signal ? { signal: hooks.signal } : {}),
    });
    return {
      model: variant.model.card.name,
      stages: variant.variant.stages,
      precision: precisionOf(variant),
      source,
      inputRegion,
      outputRegion,
      outputWidth: target.width,
      outputHeight: target.height,
      input: cropRgba(decoded.image, {
        ...inputRegion,
        x: inputRegion.x - decoded.window.x,
        y: inputRegion.y - decoded.window.y,
      }),
      output: {
        width: outputRegion.width,
        height: outputRegion.height,
        data: raster.pixels as Uint8Array,
      },
    };
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  /**
   * The model file for one input: the asked (or default) model, its photo variant when the
   * file is judged a photo (`sourceKind.ts`), the preset's number of stages.
   */
  private async resolveForInput(
    inputPath: string,
    format: string,
    y: Float32Array | YReader | { noiseSigma: number },
    width: number,
    height: number,
    options: UpscaleOptions,
    scale: number,
  ): Promise<{ variant: ResolvedVariant; source: SourceDecision }> {
    const source = await assessSource(
      options.source ?? 'auto',
      inputPath,
      format,
      y,
      width,
      height,
    );
    const hardware = options.model === undefined ? await this.hardware() : 'cpu';
    const name = this.registry.modelForSource(options.model, source, hardware, scale);
    // int8 files run on a CPU only: accelerators have their own fast paths for float.
    const int8 = options.precision !== 'fp32' && (await this.hardware()) === 'cpu';
    const resolved = await this.registry.resolve(name, options.quality, hardware, scale, int8);
    // The chroma restorer learned what JPEG does to colour; on any other file (a noisy PNG
    // judged a photo) it would only smooth colour that is there, so that file keeps its own.
    const { chroma, ...withoutChroma } = resolved;
    const variant = chroma && format !== 'jpeg' ? withoutChroma : resolved;
    return { variant, source };
  }

  /**
   * The part of a photo a Compare crop reads: the region and `reach` input pixels around it,
   * decoded alone (decodeWindow), with COMPARE_WINDOW_SLACK more on each side so that nudging
   * the crop box reuses it. The last window is kept: a crop inside it decodes nothing.
   */
  private async decodeForCompare(
    inputPath: string,
    header: ImageHeader,
    inputRegion: Rect,
    reach: number,
  ): Promise<DecodedWindow> {
    const key = await fileKey(inputPath);
    const needed = clipRect(grow(inputRegion, reach), header);
    const last = this.lastWindow;
    if (key && last?.key === key && contains(last.decoded.window, needed)) return last.decoded;
    // Drop the previous window first: two at once is never needed.
    this.lastWindow = null;
    const window = clipRect(grow(inputRegion, reach + COMPARE_WINDOW_SLACK), header);
    const decoded = await decodeWindow(inputPath, window, this.decodeLimits());
    this.lastWindow = key ? { key, decoded } : null;
    return decoded;
  }

  /**
   * The noise evidence for a Compare crop: measured once per photo over the whole of it (as
   * the batch measures it, so Compare runs the variant the batch will), and only where it can
   * change the decision; elsewhere it is not measured and reported as 0.
   */
  private async noiseForCompare(
    inputPath: string,
    header: ImageHeader,
    options: UpscaleOptions,
  ): Promise<{ noiseSigma: number }> {
    const setting = options.source ?? 'auto';
    if (!noiseDecides(setting, await jpegQualityOf(inputPath, header.format)))
      return { noiseSigma: 0 };
    const key = await fileKey(inputPath);
    const known = key ? this.noiseByFile.get(key) : undefined;
    if (known !== undefined) return { noiseSigma: known };
    // The whole photo, once, released as soon as its noise is read.
    const whole = sampleSource(await decodeSamples(inputPath, this.decodeLimits()));
    const noiseSigma = estimateNoiseSigmaOf(
      (rect) => whole.read('y', rect),
      header.width,
      header.height,
    );
    if (key) {
      this.noiseByFile.set(key, noiseSigma);
      // A handful of photos' worth: the keys are small, and Compare goes through a folder.
      if (this.noiseByFile.size > 256)
        this.noiseByFile.delete(this.noiseByFile.keys().next().value!);
    }
    return { noiseSigma };
  }

  private decodeLimits() {
    return { maxInputPixels: this.config.maxInputPixels ?? DEFAULT_MAX_INPUT_PIXELS };
  }

  private outputSize(
    inputPath: string,
    decoded: { width: number; height: number },
    options: UpscaleOptions,
  ) {
    const target = resolveTargetSize(decoded, options.target);
    const limit = this.config.maxOutputPixels ?? DEFAULT_MAX_OUTPUT_PIXELS;
    if (target.width * target.height > limit) {
      throw new OutputLimitError(
        'pixels',
        `${inputPath}: output ${target.width}x${target.height} exceeds the limit of ${limit.toLocaleString('en')} pixels`,
      );
    }
    return target;
  }

  private async openSession(resolved: ResolvedVariant): Promise<ProviderReport> {
    const known = this.reports.get(resolved.path);
    if (known) return known;
    const { card } = resolved.model;
    const report = await this.client.open(resolved.path, modelIoNames(card));
    this.reports.set(resolved.path, report);
    return report;
  }

  /**
   * The source with its chroma restored when the model has a chroma restorer (photo variants:
   * JPEG and noisy files), else the source itself; `bytes` is what the restored planes hold.
   */
  private async restoreChromaFor(
    resolved: ResolvedVariant,
    source: LowResSource,
    area: Rect | undefined,
    signal: AbortSignal | undefined,
  ): Promise<{ source: LowResSource; bytes: number }> {
    const chroma = resolved.chroma;
    if (!chroma) return { source, bytes: 0 };
    if (!this.reports.has(chroma.path)) {
      const io = { ...chroma.io, inputChannels: 3, outputChannels: 2 };
      this.reports.set(chroma.path, await this.client.open(chroma.path, io));
    }
    const restoredSource = await restoreChroma(
      source,
      async (input, height, width) =>
        (await this.client.run(chroma.path, input, 1, height, width)).output,
      {
        overlap: chroma.receptiveFieldRadius,
        ...(area ? { area } : {}),
        ...(signal ? { signal } : {}),
      },
    );
    const pixels = area ? area.width * area.height : source.width * source.height;
    // A whole big photo: the restorer's arena (about 100 MiB for its 256 px tiles, measured as
    // the process before the first upscaling tile) would otherwise sit beside the upscaler's
    // tiles for the rest of the photo. Reopening it for the next photo costs far less than the
    // photo's restoration.
    if (!area && pixels >= RELEASE_CHROMA_SESSION_PIXELS) {
      await this.client.release(chroma.path);
      this.reports.delete(chroma.path);
    }
    return { source: restoredSource, bytes: pixels * RESTORED_CHROMA_BYTES_PER_PIXEL };
  }

  private overlap(resolved: ResolvedVariant): number {
    return (
      this.config.overlap ?? Math.min(resolved.model.card.receptiveFieldRadius, DEFAULT_MAX_OVERLAP)
    );
  }

  /**
   * The tile side from the memory budget (or the requested one), and what the encoder may hold
   * once the tiles are done (the session's arena keeps the tile's working set meanwhile).
   */
  private memoryPlan(
    resolved: ResolvedVariant,
    options: UpscaleOptions,
    output: {
      /** Bytes held through the run: the decoded input. */
      heldBytes: number;
      outWidth: number;
      /** Output rows per input row (the target scale along y). */
      outRowsPerInputRow: number;
      /** Bytes of one finished output row. */
      rowBytes: number;
    },
  ): { tileSize: number; encoderBytes: number; encoderBytesReleased: number } {
    const budgetBytes = this.config.memoryBudgetBytes ?? DEFAULT_MEMORY_BUDGET_BYTES;
    const channels = resolved.model.card.architecture.channels;
    const s = resolved.lowResScale ?? 1;
    // Model-input rows: input rows for an input-resolution model, output rows otherwise.
    const outRowsPerModelRow = resolved.lowResScale ? output.outRowsPerInputRow : 1;
    const resizes = resolved.lowResScale !== undefined && outRowsPerModelRow !== s;
    const inputs = {
      budgetBytes,
      channels: typeof channels === 'number' ? channels : 64,
      batch: options.selfEnsemble ? 4 : 1,
      overlap: this.overlap(resolved),
      modelScale: s,
      heldBytes: output.heldBytes,
      bandBytesPerRow:
        output.rowBytes * outRowsPerModelRow +
        (resizes ? 4 * s * Math.ceil(output.outWidth * (s / output.outRowsPerInputRow)) : 0),
    };
    // A requested tile too small for the model's context grows to the smallest that works
    // (settings allow 32 px, which a 20 px overlap cannot use) rather than failing the photo.
    const tileSize =
      options.tileSize !== undefined
        ? Math.max(options.tileSize, smallestTileSize(this.overlap(resolved)))
        : tileSizeForBudget(inputs);
    // The session's arena keeps the tile's working set after the last tile, and the input
    // stays referenced until the photo is done.
    const encoderBytesReleased = Math.max(0, budgetBytes - PROCESS_BASE_BYTES - output.heldBytes);
    const encoderBytes = Math.max(
      0,
      encoderBytesReleased - arenaBytes(tileWorkingBytes(tileSize, inputs)),
    );
    return { tileSize, encoderBytes, encoderBytesReleased };
  }

  private planeModel(resolved: ResolvedVariant): PlaneModel {
    return planeModelFor(this.client, resolved);
  }
}

/** The input/output names a session checks and feeds, from the card. */
export function modelIoNames(card: ModelCard): ModelIoNames {
  return {
    input: card.input.name,
    output: card.output.name,
    ...(card.input.bicubic ? { bicubic: card.input.bicubic } : {}),
  };
}

/** Runs a resolved model file through the inference worker (with its bicubic input when it has one). */
export function planeModelFor(client: InferenceClient, resolved: ResolvedVariant): PlaneModel {
  const scale = resolved.lowResScale;
  return async (input, batch, height, width, bicubic) =>
    (
      await client.run(
        resolved.path,
        input,
        batch,
        height,
        width,
        scale && bicubic ? { data: bicubic, scale } : undefined,
      )
    ).output;
}

/** Which of the variant's files the resolved path is. */
function precisionOf(resolved: ResolvedVariant): InferencePrecision {
  return resolved.int8 ? 'int8' : 'fp32';
}

/** upscaleTiled's option for an input-resolution model (none for the paper's models). */
export function lowResInput(resolved: ResolvedVariant): { lowResInput?: { scale: number } } {
  return resolved.lowResScale ? { lowResInput: { scale: resolved.lowResScale } } : {};
}

/** Rough size of the encoded output, for the disk-space check: lossless formats at full size. */
function outputBytesEstimate(format: ConcreteFormat, rasterBytes: number): number {
  return format === 'png' || format === 'tiff' ? rasterBytes : Math.ceil(rasterBytes / 3);
}

/**
 * Refuses a photo before it runs when the output folder's volume cannot take the raster file
 * and the output (both are written there).
 */
async function checkDiskSpace(inputPath: string, outputPath: string, needed: number) {
  const problem = await diskSpaceProblem(path.dirname(path.resolve(outputPath)), needed);
  if (problem) throw new OutputLimitError('disk', `${inputPath}: ${problem}`);
}

function progressReporter(started: number, onProgress: UpscaleHooks['onProgress']) {
  const tilesStarted = performance.now();
  return (tilesDone: number, tilesTotal: number, tilesReused = 0): void => {
    if (!onProgress) return;
    const now = performance.now();
    // Tiles kept from a paused run took no time here: the pace is the tiles run.
    const ran = tilesDone - tilesReused;
    const perTile = ran > 0 ? (now - tilesStarted) / ran : null;
    onProgress({
      tilesDone,
      tilesTotal,
      elapsedMs: now - started,
      etaMs: perTile === null ? null : perTile * (tilesTotal - tilesDone),
      ...(tilesReused > 0 ? { tilesReused } : {}),
    });
  };
}

/** `path:size:mtime`, or '' when the file cannot be read (nothing is cached for it then). */
async function fileKey(inputPath: string): Promise<string> {
  const info = await stat(inputPath).catch(() => null);
  return info ? `${path.resolve(inputPath)}:${info.size}:${info.mtimeMs}` : '';
}

function grow(rect: Rect, by: number): Rect {
  return {
    x: rect.x - by,
    y: rect.y - by,
    width: rect.width + 2 * by,
    height: rect.height + 2 * by,
  };
}

function contains(outer: Rect, inner: Rect): boolean {
  return (
    inner.x >= outer.x &&
    inner.y >= outer.y &&
    inner.x + inner.width <= outer.x + outer.width &&
    inner.y + inner.height <= outer.y + outer.height
  );
}

function clipRect(region: Rect, size: { width: number; height: number }): Rect {
  const x0 = Math.max(0, Math.floor(region.x));
  const y0 = Math.max(0, Math.floor(region.y));
  const x1 = Math.min(size.width, Math.ceil(region.x + region.width));
  const y1 = Math.min(size.height, Math.ceil(region.y + region.height));
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

function cropRgba(decoded: DecodedSamples, region: Rect): RgbaImage {
  const { samples, channels, width } = decoded;
  const inverse = 1 / (decoded.bitDepth === 16 ? 65535 : 255);
  const data = new Uint8Array(region.width * region.height * 4);
  for (let row = 0; row < region.height; row++) {
    for (let col = 0; col < region.width; col++) {
      const source = ((region.y + row) * width + region.x + col) * channels;
      const target = (row * region.width + col) * 4;
      // As the float planes gave it: the sample as a float32 in [0, 1], times 255, rounded.
      for (let c = 0; c < 3; c++)
        data[target + c] = Math.round(Math.fround(samples[source + c]! * inverse) * 255);
      data[target + 3] =
        channels === 4 ? Math.round(Math.fround(samples[source + 3]! * inverse) * 255) : 255;
    }
  }
  return { width: region.width, height: region.height, data };
}
