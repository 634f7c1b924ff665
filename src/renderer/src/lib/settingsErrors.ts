/**
 * Each Settings field's own error, in words for people, checked before anything is saved: a
 * field never keeps an impossible value silently, and main never has to answer with JSON.
 */
import {
  MAX_TARGET_SIDE,
  MAX_TILE_SIZE,
  MIN_TILE_SIZE,
  type ExportSettings,
} from '../../../shared/exportSettings.ts';
import { MAX_SCALE, MIN_SCALE } from '../../../shared/upscaleOptions.ts';

export type SettingsField =
  | 'scale'
  | 'width'
  | 'height'
  | 'jpegQuality'
  | 'webpQuality'
  | 'avifQuality'
  | 'pngCompressionLevel'
  | 'tileSize';

const RANGES: Record<
  Exclude<SettingsField, 'scale'>,
  { min: number; max: number; text: string }
> = {
  width: { min: 1, max: MAX_TARGET_SIDE, text: `Width goes from 1 to ${MAX_TARGET_SIDE} pixels` },
  height: {
    min: 1,
    max: MAX_TARGET_SIDE,
    text: `Height goes from 1 to ${MAX_TARGET_SIDE} pixels`,
  },
  jpegQuality: { min: 1, max: 100, text: 'JPEG quality goes from 1 to 100' },
  webpQuality: { min: 1, max: 100, text: 'WebP quality goes from 1 to 100' },
  avifQuality: { min: 1, max: 100, text: 'AVIF quality goes from 1 to 100' },
  pngCompressionLevel: { min: 0, max: 9, text: 'PNG compression goes from 0 to 9' },
  tileSize: {
    min: MIN_TILE_SIZE,
    max: MAX_TILE_SIZE,
    text: `The tile side goes from ${MIN_TILE_SIZE} to ${MAX_TILE_SIZE} pixels`,
  },
};

export const SCALE_RANGE_TEXT = `Scale goes from ${MIN_SCALE} to ${MAX_SCALE}`;

function wholeIn(value: unknown, min: number, max: number): boolean {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}

/** The fields whose value cannot be saved, each with its sentence; empty when all is well. */
export function settingsFieldErrors(draft: ExportSettings): Partial<Record<SettingsField, string>> {
  const errors: Partial<Record<SettingsField, string>> = {};
  const target = draft.target;
  if (target.kind === 'scale') {
    const scale: unknown = target.scale;
    if (
      typeof scale !== 'number' ||
      !Number.isFinite(scale) ||
      scale < MIN_SCALE ||
      scale > MAX_SCALE
    )
      errors.scale = SCALE_RANGE_TEXT;
  } else if (target.kind === 'width') {
    if (!wholeIn(target.width, RANGES.width.min, RANGES.width.max))
      errors.width = RANGES.width.text;
  } else if (!wholeIn(target.height, RANGES.height.min, RANGES.height.max)) {
    errors.height = RANGES.height.text;
  }
  for (const key of ['jpegQuality', 'webpQuality', 'avifQuality', 'pngCompressionLevel'] as const) {
    const range = RANGES[key];
    if (!wholeIn(draft.encoding[key], range.min, range.max)) errors[key] = range.text;
  }
  if (
    draft.tileSize !== 'auto' &&
    !wholeIn(draft.tileSize, RANGES.tileSize.min, RANGES.tileSize.max)
  )
    errors.tileSize = RANGES.tileSize.text;
  return errors;
}
