/**
 * Clean picture or camera photo? The choice between a model's clean variant (trained on the
 * paper's bicubic pairs) and its photo variant (trained on JPEG-compressed, noisy, slightly
 * blurred pairs, `training/degrade.py`), made per file.
 *
 * The clean variant is better on clean inputs and the photo variant on compressed ones, so
 * `auto` sends a file to the photo variant only on evidence it needs it: a JPEG whose
 * quantisation tables say it was saved below `PHOTO_BELOW_JPEG_QUALITY`, or luminance noise
 * of at least `PHOTO_FROM_NOISE_SIGMA` grey levels. A PNG, TIFF or WebP without such noise
 * stays on the clean model, so `auto` never makes a clean input worse than the clean model.
 * Both thresholds live in `src/shared/upscaleOptions.ts` (the settings screen states them) and
 * were chosen from `npm run bench:quality -- --inputs ...` (README, Models).
 */
import {
  PHOTO_BELOW_JPEG_QUALITY,
  PHOTO_FROM_NOISE_SIGMA,
  type SourceDecision,
  type SourceSetting,
} from '../../shared/upscaleOptions.ts';
import { readJpegQuality } from './jpegQuality.ts';
import { estimateNoiseSigmaOf, type YReader } from './noiseLevel.ts';

export interface SourceEvidence {
  /** sharp's format name of the input (jpeg, png, ...). */
  format: string;
  /** IJG quality estimated from the file's tables, or null (not a JPEG, or no tables). */
  jpegQuality: number | null;
  noiseSigma: number;
}

/** The decision for one file from its evidence and the user's setting. */
export function decideSource(setting: SourceSetting, evidence: SourceEvidence): SourceDecision {
  const { jpegQuality, noiseSigma } = evidence;
  const base = { setting, jpegQuality, noiseSigma };
  if (setting !== 'auto') {
    return { ...base, kind: setting, reason: `set to ${setting === 'photo' ? 'Photo' : 'Clean'}` };
  }
  const noise = `noise σ ≈ ${noiseSigma.toFixed(1)}`;
  if (jpegQuality !== null && jpegQuality < PHOTO_BELOW_JPEG_QUALITY) {
    return { ...base, kind: 'photo', reason: `JPEG quality ≈ ${jpegQuality}` };
  }
  if (noiseSigma >= PHOTO_FROM_NOISE_SIGMA) {
    return { ...base, kind: 'photo', reason: `noisy (${noise})` };
  }
  const what =
    jpegQuality !== null ? `JPEG quality ≈ ${jpegQuality}` : `${evidence.format.toUpperCase()}`;
  return { ...base, kind: 'clean', reason: `${what}, ${noise}` };
}

/**
 * Whether the noise level can change the decision: only for `auto` on a file whose JPEG
 * tables (or their absence) do not already send it to the photo variant.
 */
export function noiseDecides(setting: SourceSetting, jpegQuality: number | null): boolean {
  return setting === 'auto' && (jpegQuality === null || jpegQuality >= PHOTO_BELOW_JPEG_QUALITY);
}

/** The IJG quality of a JPEG's tables; null for other formats or a JPEG without tables. */
export async function jpegQualityOf(inputPath: string, format: string): Promise<number | null> {
  if (format !== 'jpeg') return null;
  return (await readJpegQuality(inputPath).catch(() => null))?.quality ?? null;
}

/** Reads the evidence of one decoded file: its JPEG tables (header only) and its Y noise. */
export async function assessSource(
  setting: SourceSetting,
  inputPath: string,
  format: string,
  /**
   * The Y plane, or a reader of its rectangles (only sampled blocks are read), or the noise
   * level when it is already known (Compare measures it once per photo).
   */
  y: Float32Array | YReader | { noiseSigma: number },
  width: number,
  height: number,
): Promise<SourceDecision> {
  return decideSource(setting, {
    format,
    jpegQuality: await jpegQualityOf(inputPath, format),
    noiseSigma:
      'noiseSigma' in y
        ? y.noiseSigma
        : estimateNoiseSigmaOf(
            typeof y === 'function'
              ? y
              : () => ({ data: y, covers: { x: 0, y: 0, width, height } }),
            width,
            height,
          ),
  });
}
