/**
 * The digest of every setting that changes an output's pixels or bytes: a manifest record made
 * under the same digest from the same input is the same file. Tile size and device are left
 * out (tiled equals untiled; the providers agree to within the models' own tolerance), as are
 * the output folder and the overwrite policy (they decide where, not what).
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from '../../shared/canonicalJson.ts';
import type { ExportSettings } from '../../shared/exportSettings.ts';
import type { ConcreteFormat } from '../../shared/outputNaming.ts';
import type { ModelSummary } from '../../shared/upscaleOptions.ts';
import { toUpscaleOptions } from './exportOptions.ts';
import { resolveModel } from './imageUpscaler.ts';

/** The settings that shape an output, in words (the manifest stores these beside the digest). */
export function outputShapingSettings(
  settings: ExportSettings,
  format: ConcreteFormat,
  models: readonly ModelSummary[],
): Record<string, unknown> {
  const options = toUpscaleOptions(settings, format);
  const model = resolveModel(models, settings.model);
  const family = modelFamily(settings, models);
  return {
    model: model?.name ?? settings.model,
    modelFiles: family.map((m) => `${m.name}:${m.filesDigest ?? 'unknown'}`).sort(),
    target: options.target,
    preset: options.quality,
    selfEnsemble: options.selfEnsemble,
    source: options.source,
    precision: options.precision,
    format,
    quality: options.encodeQuality,
    ...(format === 'png' ? { pngCompressionLevel: settings.encoding.pngCompressionLevel } : {}),
    ...(format === 'tiff' ? { tiffCompression: settings.encoding.tiffCompression } : {}),
    bitDepth: settings.bitDepth,
    metadata: settings.metadata,
    namingTemplate: settings.namingTemplate,
    // Only when on: outputs made before sharpening existed keep their digest (and stay done).
    ...(options.sharpening ? { sharpening: options.sharpening } : {}),
  };
}

/**
 * The models whose files can shape a job's outputs: its model and, unless the job forces clean
 * inputs, that model's photo variants (which of them runs is decided per file, so any of them
 * changing can change the output). A cluster job carries their digests (src/main/cluster/).
 */
export function modelFamily(
  settings: Pick<ExportSettings, 'model' | 'source'>,
  models: readonly ModelSummary[],
): ModelSummary[] {
  const model = resolveModel(models, settings.model);
  return models.filter(
    (m) =>
      m.name === model?.name || (settings.source !== 'clean' && m.photoVariantOf === model?.name),
  );
}

export function settingsDigest(shaping: Record<string, unknown>): string {
  return createHash('sha256').update(canonicalJson(shaping)).digest('hex');
}
