/**
 * Output sharpening, as a photo editor's export has it: an amount (none, low, standard, high)
 * and what the picture is for (screen or print), applied to the upscaled pixels just before
 * they are encoded. Pure TypeScript: the settings, the CLI, the digest, the engine and Compare
 * all read it from here.
 */

export const SHARPEN_AMOUNTS = ['none', 'low', 'standard', 'high'] as const;
export type SharpenAmount = (typeof SHARPEN_AMOUNTS)[number];

export const SHARPEN_MEDIA = ['screen', 'print'] as const;
export type SharpenMedium = (typeof SHARPEN_MEDIA)[number];

export interface OutputSharpening {
  amount: SharpenAmount;
  /** Screen: a fine radius, pixels are seen one to one; print: a wider one, ink spreads. */
  medium: SharpenMedium;
}

export const DEFAULT_OUTPUT_SHARPENING: Readonly<OutputSharpening> = Object.freeze({
  amount: 'none',
  medium: 'screen',
});

/**
 * An unsharp mask as libvips' `sharpen` takes it (sharp's `.sharpen({ sigma, m1, m2 })`):
 * `sigma` the Gaussian's radius in output pixels, `m2` the gain on edges ("jagged" areas) and
 * `m1` the gain on flat areas (below libvips' edge threshold of 2 levels).
 */
export interface UnsharpMask {
  sigma: number;
  /** Gain in flat areas: kept at a quarter of the edge gain, so skies and grain are not lifted. */
  m1: number;
  m2: number;
}

/** Edge gain by amount: libvips' own default (2) is "high"; low and standard stay subtle. */
const EDGE_GAIN: Readonly<Record<Exclude<SharpenAmount, 'none'>, number>> = {
  low: 0.5,
  standard: 1,
  high: 2,
};

/** Radius by medium: the screen's fine detail, print's wider dot (as Lightroom's export differs). */
const SIGMA: Readonly<Record<SharpenMedium, number>> = { screen: 0.6, print: 1.2 };

/** The mask for a setting; null for `none` (the pixels are encoded as the model made them). */
export function unsharpMaskFor(sharpening: OutputSharpening | undefined): UnsharpMask | null {
  if (!sharpening || sharpening.amount === 'none') return null;
  const m2 = EDGE_GAIN[sharpening.amount];
  return { sigma: SIGMA[sharpening.medium], m1: m2 / 4, m2 };
}

/** Reads an OutputSharpening from untrusted input (settings files, HTTP bodies); undefined when invalid. */
export function readOutputSharpening(value: unknown): OutputSharpening | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const { amount, medium } = value as Record<string, unknown>;
  return (SHARPEN_AMOUNTS as readonly unknown[]).includes(amount) &&
    (SHARPEN_MEDIA as readonly unknown[]).includes(medium)
    ? { amount: amount as SharpenAmount, medium: medium as SharpenMedium }
    : undefined;
}

/** `standard, for screen`, or `none`: the setting in words for labels and reports. */
export function describeSharpening(sharpening: OutputSharpening | undefined): string {
  if (!sharpening || sharpening.amount === 'none') return 'none';
  return `${sharpening.amount}, for ${sharpening.medium}`;
}
