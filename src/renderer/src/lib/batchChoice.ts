/**
 * What a job will run, in words, and what Compare's "as the batch runs it" pane is: the job's
 * own settings (a queued job), the choice made in Compare for the new job, or the export
 * settings. One wording for the job card, the New job card and Compare's menu.
 */
import type { ExportSettings } from '../../../shared/exportSettings.ts';
import type { CropResult, ModelChoice } from '../../../shared/ipc.ts';
import { describeTarget } from '../../../shared/targetSize.ts';
import type {
  ExportFormat,
  ModelSummary,
  QualityPreset,
  SourceSetting,
} from '../../../shared/upscaleOptions.ts';

/** One format name everywhere (the summary said WEBP, the settings WebP). */
export const FORMAT_NAMES: Record<ExportFormat, string> = {
  same: 'same format',
  png: 'PNG',
  jpeg: 'JPEG',
  webp: 'WebP',
  avif: 'AVIF',
  tiff: 'TIFF',
};

/** `cmsc-fast · best`; `auto model · best` when the model is decided per photo. */
export function describeModel(settings: Pick<ExportSettings, 'model' | 'qualityPreset'>): string {
  return `${settings.model ?? 'auto model'} · ${settings.qualityPreset}`;
}

/** `x2 · WebP · cmsc-fast · best`: what a job card shows of the job's own settings. */
export function describeJobSettings(settings: ExportSettings): string {
  return `${describeTarget(settings.target)} · ${FORMAT_NAMES[settings.format]} · ${describeModel(settings)}`;
}

/** Clean or photo: a model picked by name in Compare runs as that kind for every photo. */
export function sourceOfModel(models: readonly ModelSummary[], model: string): 'clean' | 'photo' {
  return models.find((candidate) => candidate.name === model)?.photoVariantOf === undefined
    ? 'clean'
    : 'photo';
}

export function modelChoice(
  models: readonly ModelSummary[],
  model: string,
  qualityPreset: QualityPreset,
): ModelChoice {
  return { model, qualityPreset, source: sourceOfModel(models, model) };
}

/** What the batch would run for a photo: a model by name (or null: decided per photo). */
export interface BatchVariant {
  model: string | null;
  quality: QualityPreset;
  /** null: the Source setting decides per photo (auto). */
  source: Exclude<SourceSetting, 'auto'> | null;
}

/**
 * The batch's own choice for a photo: the job's settings when it is in a job, else the choice
 * made in Compare for the new job, else the export settings.
 */
export function batchVariant(
  jobSettings: ExportSettings | null,
  pendingChoice: ModelChoice | null,
  settings: ExportSettings | null,
): BatchVariant {
  const from = jobSettings ?? pendingChoice ?? settings;
  if (!from) return { model: null, quality: 'best', source: null };
  const source = from.source;
  return {
    model: from.model,
    quality: from.qualityPreset,
    source: source === 'auto' ? null : source,
  };
}

/**
 * The menu entry of the batch's choice, naming what runs for this photo: `auto: cmsc-fast-photo
 * · best (photo variant, JPEG quality ≈ 75)` once a crop of it came back, never a model that is
 * not the one the pane shows.
 */
export function batchChoiceLabel(
  variant: BatchVariant,
  ran: Pick<CropResult, 'model' | 'source'> | null,
): string {
  if (variant.source !== null && variant.model !== null)
    return `As the batch runs it: ${variant.model} · ${variant.quality}`;
  if (!ran) return `auto (decided per photo) · ${variant.quality}`;
  const kind = ran.source.kind === 'photo' ? 'photo variant' : 'clean';
  return `auto: ${ran.model} · ${variant.quality} (${kind}, ${ran.source.reason})`;
}
