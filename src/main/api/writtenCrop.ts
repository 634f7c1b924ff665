/**
 * Compare on a finished photo shows the file that was written, not a fresh upscale of the crop
 * (issue 23, defect 8): the same region of the output on disk, with the input crop and its
 * bicubic enlargement beside it as Compare's left panes always show them. Whatever the export
 * did after the model (sharpening, JPEG quality) is in the picture, because it is the file.
 */
import { performance } from 'node:perf_hooks';
import path from 'node:path';
import sharp, { type Sharp } from 'sharp';
import type { CropResult, EncodedImage, PixelRect } from '../../shared/ipc.ts';
import type { Job } from '../../shared/jobs.ts';
import { writtenOutput } from './jobOutputs.ts';
import { InvalidArgument, UnreadableImage } from './validate.ts';

async function asPng(pipeline: Sharp): Promise<EncodedImage> {
  const { data, info } = await pipeline
    .png({ compressionLevel: 1 })
    .toBuffer({ resolveWithObject: true });
  return { mime: 'image/png', bytes: new Uint8Array(data), width: info.width, height: info.height };
}

/** Width and height as the photo is seen: EXIF orientations 5 to 8 turn it a quarter. */
async function uprightSize(file: string): Promise<{ width: number; height: number }> {
  const { width = 0, height = 0, orientation = 1 } = await sharp(file).metadata();
  return orientation >= 5 ? { width: height, height: width } : { width, height };
}

/**
 * The region of photo `fileId`'s written output that `rect` (input pixels, upright) became.
 * The output's own size decides the scale, so a width or height target maps as well as x2.
 */
export async function writtenCrop(job: Job, fileId: number, rect: PixelRect): Promise<CropResult> {
  const started = performance.now();
  const { file, outputPath } = writtenOutput(job, fileId);
  let input: { width: number; height: number };
  let output: { width: number; height: number };
  try {
    [input, output] = await Promise.all([uprightSize(file.inputPath), uprightSize(outputPath)]);
  } catch (error) {
    throw new UnreadableImage(
      `${path.basename(outputPath)} or its photo cannot be read any more (moved, deleted or changed)`,
      { detail: String(error) },
    );
  }
  if (rect.x + rect.width > input.width || rect.y + rect.height > input.height)
    throw new InvalidArgument(
      `the crop at (${rect.x}, ${rect.y}) reaches past the ${input.width}×${input.height} photo`,
    );
  const scaleX = output.width / input.width;
  const scaleY = output.height / input.height;
  const left = Math.min(output.width - 1, Math.round(rect.x * scaleX));
  const top = Math.min(output.height - 1, Math.round(rect.y * scaleY));
  const region = {
    left,
    top,
    width: Math.max(1, Math.min(output.width - left, Math.round(rect.width * scaleX))),
    height: Math.max(1, Math.min(output.height - top, Math.round(rect.height * scaleY))),
  };
  const inputRegion = { left: rect.x, top: rect.y, width: rect.width, height: rect.height };
  const [inputCrop, upscaled] = await Promise.all([
    asPng(sharp(file.inputPath, { failOn: 'none' }).autoOrient().extract(inputRegion)),
    asPng(sharp(outputPath, { failOn: 'none' }).autoOrient().extract(region)),
  ]);
  // Compare's bicubic view, as for any crop: the input crop enlarged to the output's size.
  const bicubic = await asPng(
    sharp(inputCrop.bytes).resize(upscaled.width, upscaled.height, {
      fit: 'fill',
      kernel: 'cubic',
    }),
  );
  return {
    input: inputCrop,
    bicubic,
    upscaled,
    quality: job.settings.qualityPreset,
    model: file.model ?? job.settings.model ?? 'unknown model',
    stages: 0,
    precision: file.precision ?? 'fp32',
    source: file.source ?? {
      kind: 'clean',
      setting: job.settings.source,
      reason: 'not recorded',
      jpegQuality: null,
      noiseSigma: 0,
    },
    provider: file.provider ?? 'cpu',
    elapsedMs: Math.round(performance.now() - started),
    cached: false,
  };
}
