/**
 * Output sharpening in one place: the encoder's pipeline (whole photos, streamed from the
 * raster file) and Compare's crops go through `withSharpening`, so the crop on screen is
 * sharpened exactly as the file will be.
 */
import type { Sharp } from 'sharp';
import type { UnsharpMask } from '../../shared/outputSharpening.ts';

/**
 * Adds the unsharp mask to a sharp pipeline (libvips' `sharpen`: on the L of LabS, alpha left
 * as it is; a convolution of a few rows, so a streamed read stays streamed). Null: unchanged.
 */
export function withSharpening(pipeline: Sharp, mask: UnsharpMask | null): Sharp {
  return mask ? pipeline.sharpen({ sigma: mask.sigma, m1: mask.m1, m2: mask.m2 }) : pipeline;
}
