/**
 * The super-resolution evaluation protocol of the paper (after VDSR), in one place for the
 * quality benchmark and its test: HR Y (BT.601) cropped to a multiple of the scale, LR by
 * MATLAB-style bicubic down-scaling (Y, Cb and Cr), metrics on 8-bit Y with `scale` border
 * pixels removed (see src/main/engine/metrics.ts).
 */
import { resizePlane } from '../src/main/engine/bicubic.ts';
import { rgbToYcbcr } from '../src/main/engine/color.ts';
import { decodeImage } from '../src/main/engine/imageDecode.ts';
import type { YPlane } from '../src/main/engine/metrics.ts';
import { DEFAULT_MAX_OVERLAP } from '../src/shared/upscaleOptions.ts';
import { lowResInput, planeModelFor } from '../src/main/engine/engine.ts';
import type { InferenceClient } from '../src/main/engine/inferenceClient.ts';
import type { ResolvedVariant } from '../src/main/engine/modelRegistry.ts';
import { type LowResImage, upscaleTiled } from '../src/main/engine/tiledUpscale.ts';

/** training.evaluate's bicubic rows on the same data (Set5 printed by it at 4 decimals; Set14 from ../shared/datasets/README.md). */
export const PYTHON_BICUBIC: Record<string, Record<number, number>> = {
  Set5: { 2: 33.6556, 3: 30.3901, 4: 28.4197 },
  Set14: { 2: 30.31, 3: 27.62, 4: 26.09 },
};

export interface HrImage {
  width: number;
  height: number;
  y: Float32Array;
  cb: Float32Array;
  cr: Float32Array;
}

/** Decodes a benchmark image with the app's decoder and converts it to Y, Cb, Cr. */
export async function loadHr(file: string): Promise<HrImage> {
  const decoded = await decodeImage(file);
  const ycbcr = rgbToYcbcr(decoded.rgb);
  return { width: decoded.width, height: decoded.height, y: ycbcr.c0, cb: ycbcr.c1, cr: ycbcr.c2 };
}

/**
 * The protocol's HR crop: the top-left `width` × `height` of a plane `sourceWidth` wide (the
 * image cropped to a multiple of the scale).
 */
export function cropPlane(
  plane: Float32Array,
  sourceWidth: number,
  width: number,
  height: number,
): Float32Array {
  const out = new Float32Array(width * height);
  for (let y = 0; y < height; y++)
    out.set(plane.subarray(y * sourceWidth, y * sourceWidth + width), y * width);
  return out;
}

/** The HR Y cropped to a multiple of `scale` and its bicubic-down-scaled LR image. */
export function degrade(hr: HrImage, scale: number): { hrY: YPlane; lr: LowResImage } {
  const width = hr.width - (hr.width % scale);
  const height = hr.height - (hr.height % scale);
  const crop = (plane: Float32Array) => cropPlane(plane, hr.width, width, height);
  const down = (plane: Float32Array) =>
    resizePlane(crop(plane), width, height, width / scale, height / scale, 1 / scale);
  return {
    hrY: { width, height, data: crop(hr.y) },
    lr: {
      width: width / scale,
      height: height / scale,
      y: down(hr.y),
      cb: down(hr.cb),
      cr: down(hr.cr),
      alpha: null,
    },
  };
}

/** The bicubic baseline: the LR Y up-scaled back to the HR size. */
export function bicubicBaseline(lr: LowResImage, hrY: YPlane): YPlane {
  return {
    width: hrY.width,
    height: hrY.height,
    data: resizePlane(lr.y, lr.width, lr.height, hrY.width, hrY.height),
  };
}

/**
 * A model file's Y output for `lr` at width × height, through the engine's tiled upscaler in
 * tiles of `tileSize` with the engine's overlap (the benches' one way to run a model).
 */
export async function upscaleY(
  client: InferenceClient,
  variant: ResolvedVariant,
  lr: LowResImage,
  size: { width: number; height: number },
  tileSize: number,
): Promise<{ y: YPlane; inferenceMs: number }> {
  const { width, height } = size;
  const data = new Float32Array(width * height);
  const stats = await upscaleTiled(lr, {
    outWidth: width,
    outHeight: height,
    tileSize,
    overlap: Math.min(variant.model.card.receptiveFieldRadius, DEFAULT_MAX_OVERLAP),
    selfEnsemble: false,
    model: planeModelFor(client, variant),
    ...lowResInput(variant),
    sink: (tile) => {
      for (let row = 0; row < tile.core.height; row++) {
        data.set(
          tile.y.subarray(row * tile.core.width, (row + 1) * tile.core.width),
          (tile.core.y + row) * width + tile.core.x,
        );
      }
    },
  });
  return { y: { width, height, data }, inferenceMs: stats.inferenceMs };
}
