/**
 * Adapts the engine to what the UI asks: device list, models, thumbnails and Compare crops.
 * Crops are cached (keyed by photo, file modification time, rectangle, scale and quality) so
 * moving the crop box back to a place already seen answers at once.
 */
import { stat } from 'node:fs/promises';
import sharp from 'sharp';
import type { CropRequest, CropResult, EncodedImage } from '../../shared/ipc.ts';
import type {
  ExecutionProvider,
  QualityPreset,
  UpscaleOptions,
} from '../../shared/upscaleOptions.ts';
import { DEFAULT_UPSCALE_OPTIONS } from '../../shared/upscaleOptions.ts';
import type { Engine, RgbaImage } from '../engine/index.ts';
import type { EngineService } from './services.ts';
import { UnreadableImage } from './validate.ts';

export const CROP_CACHE_ENTRIES = 48;

export interface EngineServiceOptions {
  /** Model card name for Compare; undefined = the engine's default. */
  model?: () => Promise<string | undefined>;
  /** Providers this build can try, best first (a platform fact, not a measurement). */
  availableProviders: ExecutionProvider[];
}

export function createEngineService(engine: Engine, options: EngineServiceOptions): EngineService {
  const cropCache = new Map<string, CropResult>();
  let activeProvider: ExecutionProvider | null = null;

  /** The card a crop runs: the one named, else the default on this hardware. */
  const summaryFor = (model: string | undefined) => {
    const models = engine.listModels();
    return model === undefined
      ? (models.find((candidate) => candidate.isDefault) ?? models[0])
      : models.find((candidate) => candidate.name === model);
  };
  const stagesFor = (model: string | undefined, quality: QualityPreset): number =>
    summaryFor(model)?.presets.find((preset) => preset.preset === quality)?.stages ?? 1;
  const modelNameFor = (model: string | undefined): string => summaryFor(model)?.name ?? model ?? '';

  return {
    async devices() {
      const report = await engine.providers();
      activeProvider = report.active;
      return { available: options.availableProviders, active: report };
    },
    async models() {
      return engine.listModels();
    },
    async thumbnail(imagePath, maxSide) {
      try {
        const { data, info } = await sharp(imagePath, { failOn: 'none' })
          .autoOrient()
          .resize(maxSide, maxSide, { fit: 'inside', withoutEnlargement: true })
          .jpeg({ quality: 82 })
          .toBuffer({ resolveWithObject: true });
        const metadata = await sharp(imagePath).metadata();
        return {
          image: {
            mime: 'image/jpeg',
            bytes: new Uint8Array(data),
            width: info.width,
            height: info.height,
          },
          sourceWidth: metadata.autoOrient.width,
          sourceHeight: metadata.autoOrient.height,
        };
      } catch (error) {
        throw new UnreadableImage(
          `no picture of ${imagePath}: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
    },
    async crop(request: CropRequest) {
      const modified = (await stat(request.inputPath)).mtimeMs;
      const model = request.model ?? (await options.model?.());
      const key = JSON.stringify([
        request.inputPath,
        modified,
        request.rect,
        request.scale,
        request.quality,
        model,
      ]);
      const hit = cropCache.get(key);
      if (hit) {
        // Refresh its place: the cache drops the least recently used entry first.
        cropCache.delete(key);
        cropCache.set(key, hit);
        return { ...hit, cached: true };
      }
      const started = performance.now();
      const upscaleOptions: UpscaleOptions = {
        ...DEFAULT_UPSCALE_OPTIONS,
        target: { kind: 'scale', scale: request.scale },
        quality: request.quality,
        ...(model ? { model } : {}),
      };
      const region = await engine.upscaleRegion(request.inputPath, request.rect, upscaleOptions);
      const [input, bicubic, upscaled] = await Promise.all([
        encodePng(region.input),
        encodePng(region.input, { width: region.output.width, height: region.output.height }),
        encodePng(region.output),
      ]);
      activeProvider ??= (await engine.providers()).active;
      const result: CropResult = {
        input,
        bicubic,
        upscaled,
        quality: request.quality,
        model: modelNameFor(model),
        stages: stagesFor(model, request.quality),
        provider: activeProvider,
        elapsedMs: Math.round(performance.now() - started),
        cached: false,
      };
      cropCache.set(key, result);
      if (cropCache.size > CROP_CACHE_ENTRIES) {
        const oldest = cropCache.keys().next();
        if (!oldest.done) cropCache.delete(oldest.value);
      }
      return result;
    },
  };
}

/** PNG of RGBA pixels, optionally resized with a bicubic (Catmull-Rom) kernel. */
async function encodePng(
  image: RgbaImage,
  resizeTo?: { width: number; height: number },
): Promise<EncodedImage> {
  let pipeline = sharp(
    Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength),
    {
      raw: { width: image.width, height: image.height, channels: 4 },
    },
  );
  if (resizeTo)
    pipeline = pipeline.resize(resizeTo.width, resizeTo.height, { fit: 'fill', kernel: 'cubic' });
  const { data, info } = await pipeline
    .png({ compressionLevel: 1 })
    .toBuffer({ resolveWithObject: true });
  return { mime: 'image/png', bytes: new Uint8Array(data), width: info.width, height: info.height };
}
