/**
 * Adapts the engine to what the UI asks: device list, models, thumbnails and Compare crops.
 * Crops are cached (keyed by photo, file modification time, rectangle, scale, quality, model,
 * source and precision) so moving the crop box back to a place already seen answers at once;
 * the others run one at a time, newest first (cropScheduler.ts).
 */
import type { Stats } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import type { CropRequest, CropResult, EncodedImage, Thumbnail } from '../../shared/ipc.ts';
import type {
  ExecutionProvider,
  Precision,
  SourceSetting,
  UpscaleOptions,
} from '../../shared/upscaleOptions.ts';
import { DEFAULT_UPSCALE_OPTIONS } from '../../shared/upscaleOptions.ts';
import type { Engine, RgbaImage } from '../engine/index.ts';
import { withSharpening } from '../engine/outputSharpening.ts';
import {
  type OutputSharpening,
  type UnsharpMask,
  unsharpMaskFor,
} from '../../shared/outputSharpening.ts';
import type { EngineService } from './services.ts';
import { CropScheduler } from './cropScheduler.ts';
import { InvalidArgument, UnreadableImage } from './validate.ts';

export const CROP_CACHE_ENTRIES = 48;

export interface EngineServiceOptions {
  /** Model card name for Compare; undefined = the engine's default. */
  model?: () => Promise<string | undefined>;
  /** The Source setting for Compare (clean or photo variant, or auto per file). */
  source?: () => Promise<SourceSetting>;
  /** The Precision setting: Compare shows what a job of these settings would make. */
  precision?: () => Promise<Precision>;
  /** The Sharpening setting, for a crop request that does not name one. */
  sharpening?: () => Promise<OutputSharpening>;
  /** Providers this build can try, best first (a platform fact, not a measurement). */
  availableProviders: ExecutionProvider[];
}

export function createEngineService(engine: Engine, options: EngineServiceOptions): EngineService {
  const cropCache = new Map<string, CropResult>();
  const crops = new CropScheduler();
  const thumbnailsInFlight = new Map<string, Promise<Thumbnail>>();
  let activeProvider: ExecutionProvider | null = null;

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
      const info = await expectRegularFile(imagePath);
      // The same picture asked for again while it is being made shares that work: one
      // decode per photo in flight, however many parts of the page show it.
      const key = JSON.stringify([imagePath, info.mtimeMs, info.size, maxSide]);
      const pending = thumbnailsInFlight.get(key);
      if (pending) return pending;
      const making = makeThumbnail(imagePath, maxSide).finally(() =>
        thumbnailsInFlight.delete(key),
      );
      thumbnailsInFlight.set(key, making);
      return making;
    },
    async crop(request: CropRequest) {
      const modified = (await expectRegularFile(request.inputPath)).mtimeMs;
      const model = request.model ?? (await options.model?.());
      const source = request.source ?? (await options.source?.()) ?? 'auto';
      const precision = (await options.precision?.()) ?? 'auto';
      const key = JSON.stringify([
        request.inputPath,
        modified,
        request.rect,
        request.scale,
        request.quality,
        model,
        source,
        precision,
      ]);
      // Sharpening is not in the key: the cache keeps the model's crop, and a changed
      // sharpening re-sharpens it at once instead of upscaling again.
      const mask = unsharpMaskFor(request.sharpening ?? (await options.sharpening?.()));
      const hit = cropCache.get(key);
      if (hit) {
        // Refresh its place: the cache drops the least recently used entry first.
        cropCache.delete(key);
        cropCache.set(key, hit);
        return sharpenCrop({ ...hit, cached: true }, mask);
      }
      const started = performance.now();
      const upscaleOptions: UpscaleOptions = {
        ...DEFAULT_UPSCALE_OPTIONS,
        target: { kind: 'scale', scale: request.scale },
        quality: request.quality,
        source,
        precision,
        ...(model ? { model } : {}),
      };
      // The header says whether the box lies on the photo; nothing is decoded for a wrong one.
      const header = await engine.probe(request.inputPath).catch((error: unknown) => {
        throw new UnreadableImage(
          `${path.basename(request.inputPath)} is not a photo this app can read`,
          {
            detail: `${request.inputPath}: ${errorText(error)}`,
          },
        );
      });
      if (request.rect.x >= header.width || request.rect.y >= header.height) {
        throw new InvalidArgument(
          `the crop at (${request.rect.x}, ${request.rect.y}) lies outside the ${header.width}x${header.height} photo`,
        );
      }
      const region = await crops.schedule((signal) =>
        engine.upscaleRegion(request.inputPath, request.rect, upscaleOptions, { signal }),
      );
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
        // What really ran: a photo variant when the file was judged a photo.
        model: region.model,
        stages: region.stages,
        precision: region.precision,
        source: region.source,
        provider: activeProvider,
        elapsedMs: Math.round(performance.now() - started),
        cached: false,
      };
      cropCache.set(key, result);
      if (cropCache.size > CROP_CACHE_ENTRIES) {
        const oldest = cropCache.keys().next();
        if (!oldest.done) cropCache.delete(oldest.value);
      }
      return sharpenCrop(result, mask);
    },
  };
}

/** The crop's upscaled picture sharpened as the export will sharpen it (the same sharp call). */
async function sharpenCrop(crop: CropResult, mask: UnsharpMask | null): Promise<CropResult> {
  if (!mask) return crop;
  const { data, info } = await withSharpening(sharp(crop.upscaled.bytes), mask)
    .png({ compressionLevel: 1 })
    .toBuffer({ resolveWithObject: true });
  return {
    ...crop,
    upscaled: {
      mime: 'image/png',
      bytes: new Uint8Array(data),
      width: info.width,
      height: info.height,
    },
  };
}

/** A JPEG picture of the photo, upright, within `maxSide`, and the photo's own size. */
async function makeThumbnail(imagePath: string, maxSide: number): Promise<Thumbnail> {
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
    throw new UnreadableImage(`${path.basename(imagePath)} is not a photo this app can read`, {
      detail: `no picture of ${imagePath}: ${error instanceof Error ? error.message : String(error)}`,
    });
  }
}

/**
 * Checks the type before anything opens the file: opening a FIFO named `x.png` would block a
 * thread of libuv's small pool until someone writes to it, and with a few of them every file
 * read of the server (pictures, the app's own code) would wait.
 */
async function expectRegularFile(filePath: string): Promise<Stats> {
  const name = path.basename(filePath);
  const info = await stat(filePath).catch((error: unknown) => {
    const code = (error as NodeJS.ErrnoException).code;
    const words =
      code === 'ENOENT'
        ? `${name} is not there any more (moved or deleted)`
        : code === 'EACCES' || code === 'EPERM'
          ? `${name} may not be read (no permission)`
          : `${name} cannot be read`;
    throw new UnreadableImage(words, { detail: `${filePath}: ${errorText(error)}` });
  });
  if (!info.isFile())
    throw new UnreadableImage(`${name} is not a photo file (a folder, a pipe or a device)`, {
      detail: `${filePath} is not a regular file`,
    });
  return info;
}

function errorText(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0]!;
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
