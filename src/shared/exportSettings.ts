/**
 * Every export setting of a batch job, their frozen defaults, and `migrateSettings`, which turns
 * whatever a settings file or an HTTP body holds into valid current settings. Pure TypeScript:
 * the renderer persists settings with it, the batch queue snapshots them into each job.
 */
import { validateNamingTemplate, DEFAULT_NAMING_TEMPLATE } from './namingTemplate.ts';
import {
  DEFAULT_JPEG_QUALITY,
  DEVICES,
  EXPORT_FORMATS,
  MAX_SCALE,
  MIN_SCALE,
  OVERWRITE_POLICIES,
  PRECISIONS,
  QUALITY_PRESETS,
  SOURCE_SETTINGS,
  type Device,
  type ExportFormat,
  type OverwritePolicy,
  type Precision,
  type QualityPreset,
  type SourceSetting,
  type TargetSize,
} from './upscaleOptions.ts';
import {
  DEFAULT_OUTPUT_SHARPENING,
  type OutputSharpening,
  readOutputSharpening,
} from './outputSharpening.ts';

export const EXPORT_SETTINGS_SCHEMA_VERSION = 1;

export const TIFF_COMPRESSIONS = ['none', 'lzw', 'deflate'] as const;
export type TiffCompression = (typeof TIFF_COMPRESSIONS)[number];

/** `auto` keeps 16 bits per sample for PNG/TIFF output when the input has them; 8 always reduces. */
export const BIT_DEPTH_POLICIES = ['auto', '8'] as const;
export type BitDepthPolicy = (typeof BIT_DEPTH_POLICIES)[number];

export const METADATA_POLICIES = ['keep', 'strip'] as const;
/** `keep`: EXIF, XMP, IPTC and ICC carried over (orientation baked in); `strip`: none of them. */
export type MetadataPolicy = (typeof METADATA_POLICIES)[number];

/** Quality (1..100) for the lossy formats, compression for the lossless ones. */
export interface FormatEncoding {
  jpegQuality: number;
  webpQuality: number;
  avifQuality: number;
  /** zlib level 0 (fastest, largest) .. 9 (slowest, smallest); PNG is lossless at every level. */
  pngCompressionLevel: number;
  tiffCompression: TiffCompression;
}

export interface ExportSettings {
  schemaVersion: typeof EXPORT_SETTINGS_SCHEMA_VERSION;
  target: TargetSize;
  format: ExportFormat;
  encoding: FormatEncoding;
  bitDepth: BitDepthPolicy;
  /** Absolute folder for outputs; null = the default sibling folder (see `defaultOutputFolder`). */
  outputFolder: string | null;
  /** Base-name template; the output format's extension is appended (see namingTemplate.ts). */
  namingTemplate: string;
  overwrite: OverwritePolicy;
  metadata: MetadataPolicy;
  /** Tile side in output pixels, or `auto` to size tiles from free memory. */
  tileSize: 'auto' | number;
  device: Device;
  selfEnsemble: boolean;
  qualityPreset: QualityPreset;
  /** Model card name; null = the default model. */
  model: string | null;
  /** Clean or photo variant of the model per file; `auto` decides from each file (sourceKind.ts). */
  source: SourceSetting;
  /** `auto`: a model's int8 files on a CPU where its card ships them; `fp32`: float files only. */
  precision: Precision;
  /** Unsharp mask on the upscaled pixels before encoding (outputSharpening.ts); none by default. */
  sharpening: OutputSharpening;
}

export const MIN_TILE_SIZE = 32;
export const MAX_TILE_SIZE = 4096;
/** Largest width/height target; sharp and most viewers refuse sides beyond this. */
export const MAX_TARGET_SIDE = 65_535;

export const DEFAULT_EXPORT_SETTINGS: Readonly<ExportSettings> = deepFreeze({
  schemaVersion: EXPORT_SETTINGS_SCHEMA_VERSION,
  target: { kind: 'scale', scale: 2 },
  format: 'same',
  encoding: {
    jpegQuality: DEFAULT_JPEG_QUALITY,
    webpQuality: 90,
    avifQuality: 70,
    pngCompressionLevel: 6,
    tiffCompression: 'lzw',
  },
  bitDepth: 'auto',
  outputFolder: null,
  namingTemplate: DEFAULT_NAMING_TEMPLATE,
  overwrite: 'rename',
  metadata: 'keep',
  tileSize: 'auto',
  device: 'auto',
  selfEnsemble: false,
  qualityPreset: 'best',
  model: null,
  source: 'auto',
  precision: 'auto',
  sharpening: { ...DEFAULT_OUTPUT_SHARPENING },
});

export interface MigrationResult {
  settings: ExportSettings;
  /** One line per field that was missing, invalid or upgraded, for the UI to show; empty when clean. */
  warnings: string[];
}

/**
 * Validates and upgrades settings of any earlier shape. Never throws: a field that is missing
 * or invalid falls back to its default with a warning, so a damaged settings file cannot stop
 * the app from starting. Shapes understood:
 * - current (`schemaVersion: 1`);
 * - unversioned flat options as `UpscaleOptions` spells them (`encodeQuality`, `keepMetadata`,
 *   `quality`, `tileSize?: number`), which the CLI and early builds stored.
 */
export function migrateSettings(input: unknown): MigrationResult {
  const warnings: string[] = [];
  const fresh = cloneSettings(DEFAULT_EXPORT_SETTINGS);
  if (!isRecord(input)) {
    warnings.push('settings are not an object; using the defaults');
    return { settings: fresh, warnings };
  }
  const version = input.schemaVersion;
  let source: Record<string, unknown> = input;
  if (version === undefined) {
    source = upgradeUnversioned(input, warnings);
  } else if (version !== EXPORT_SETTINGS_SCHEMA_VERSION) {
    warnings.push(
      `settings schema version ${String(version)} is not known to this build (it reads version ${EXPORT_SETTINGS_SCHEMA_VERSION}); valid fields are kept`,
    );
  }

  const field = <T>(name: string, read: (value: unknown) => T | undefined, fallback: T): T => {
    if (!(name in source)) {
      if (version !== undefined) warnings.push(`${name}: missing, using the default`);
      return fallback;
    }
    const value = read(source[name]);
    if (value === undefined) {
      warnings.push(`${name}: invalid value ${describe(source[name])}, using the default`);
      return fallback;
    }
    return value;
  };

  const settings: ExportSettings = {
    schemaVersion: EXPORT_SETTINGS_SCHEMA_VERSION,
    target: field('target', readTarget, fresh.target),
    format: field('format', (v) => readEnum(v, EXPORT_FORMATS), fresh.format),
    encoding: readEncoding(source.encoding, fresh.encoding, warnings, version !== undefined),
    bitDepth: field('bitDepth', (v) => readEnum(v, BIT_DEPTH_POLICIES), fresh.bitDepth),
    outputFolder: field('outputFolder', readOutputFolder, fresh.outputFolder),
    namingTemplate: field(
      'namingTemplate',
      (v) => (typeof v === 'string' && validateNamingTemplate(v) === null ? v : undefined),
      fresh.namingTemplate,
    ),
    overwrite: field('overwrite', (v) => readEnum(v, OVERWRITE_POLICIES), fresh.overwrite),
    metadata: field('metadata', (v) => readEnum(v, METADATA_POLICIES), fresh.metadata),
    tileSize: field('tileSize', readTileSize, fresh.tileSize),
    device: field('device', (v) => readEnum(v, DEVICES), fresh.device),
    selfEnsemble: field(
      'selfEnsemble',
      (v) => (typeof v === 'boolean' ? v : undefined),
      fresh.selfEnsemble,
    ),
    qualityPreset: field('qualityPreset', (v) => readEnum(v, QUALITY_PRESETS), fresh.qualityPreset),
    model: field('model', readModel, fresh.model),
    source: field('source', (v) => readEnum(v, SOURCE_SETTINGS), fresh.source),
    precision: field('precision', (v) => readEnum(v, PRECISIONS), fresh.precision),
    // Settings saved before sharpening existed have none: that is their meaning, not damage.
    sharpening:
      'sharpening' in source
        ? field('sharpening', readOutputSharpening, fresh.sharpening)
        : fresh.sharpening,
  };
  return { settings, warnings };
}

/** Like `migrateSettings`, but refuses instead of repairing: for settings a request sends. */
export function parseExportSettings(input: unknown): ExportSettings {
  const { settings, warnings } = migrateSettings(input);
  if (warnings.length > 0) throw new TypeError(`invalid export settings: ${warnings.join('; ')}`);
  return settings;
}

/** A deep copy, so that a job's snapshot never shares objects with the settings it came from. */
export function cloneSettings(settings: Readonly<ExportSettings>): ExportSettings {
  return {
    ...settings,
    target: { ...settings.target },
    encoding: { ...settings.encoding },
    sharpening: { ...settings.sharpening },
  };
}

/** Maps the unversioned `UpscaleOptions`-shaped record onto current field names. */
function upgradeUnversioned(
  input: Record<string, unknown>,
  warnings: string[],
): Record<string, unknown> {
  const upgraded: Record<string, unknown> = { ...input };
  if (typeof input.encodeQuality === 'number') {
    const quality = input.encodeQuality;
    upgraded.encoding = { jpegQuality: quality, webpQuality: quality, avifQuality: quality };
    delete upgraded.encodeQuality;
  }
  if (typeof input.keepMetadata === 'boolean') {
    upgraded.metadata = input.keepMetadata ? 'keep' : 'strip';
    delete upgraded.keepMetadata;
  }
  if ('quality' in input && !('qualityPreset' in input)) {
    upgraded.qualityPreset = input.quality;
    delete upgraded.quality;
  }
  if (!('tileSize' in input) || input.tileSize === undefined || input.tileSize === null) {
    upgraded.tileSize = 'auto';
  }
  warnings.push(
    `settings had no schemaVersion; upgraded to version ${EXPORT_SETTINGS_SCHEMA_VERSION}`,
  );
  return upgraded;
}

function readEncoding(
  value: unknown,
  fallback: FormatEncoding,
  warnings: string[],
  reportMissing: boolean,
): FormatEncoding {
  if (value === undefined) {
    if (reportMissing) warnings.push('encoding: missing, using the default');
    return { ...fallback };
  }
  if (!isRecord(value)) {
    warnings.push(`encoding: invalid value ${describe(value)}, using the default`);
    return { ...fallback };
  }
  const encoding = { ...fallback };
  const quality = (name: 'jpegQuality' | 'webpQuality' | 'avifQuality'): void => {
    if (!(name in value)) return;
    const read = readInteger(value[name], 1, 100);
    if (read === undefined)
      warnings.push(`encoding.${name}: invalid value ${describe(value[name])}, using the default`);
    else encoding[name] = read;
  };
  quality('jpegQuality');
  quality('webpQuality');
  quality('avifQuality');
  if ('pngCompressionLevel' in value) {
    const level = readInteger(value.pngCompressionLevel, 0, 9);
    if (level === undefined) {
      warnings.push(
        `encoding.pngCompressionLevel: invalid value ${describe(value.pngCompressionLevel)}, using the default`,
      );
    } else encoding.pngCompressionLevel = level;
  }
  if ('tiffCompression' in value) {
    const compression = readEnum(value.tiffCompression, TIFF_COMPRESSIONS);
    if (compression === undefined) {
      warnings.push(
        `encoding.tiffCompression: invalid value ${describe(value.tiffCompression)}, using the default`,
      );
    } else encoding.tiffCompression = compression;
  }
  return encoding;
}

function readTarget(value: unknown): TargetSize | undefined {
  if (!isRecord(value)) return undefined;
  switch (value.kind) {
    case 'scale': {
      const scale = value.scale;
      return typeof scale === 'number' &&
        Number.isFinite(scale) &&
        scale >= MIN_SCALE &&
        scale <= MAX_SCALE
        ? { kind: 'scale', scale }
        : undefined;
    }
    case 'width': {
      const width = readInteger(value.width, 1, MAX_TARGET_SIDE);
      return width === undefined ? undefined : { kind: 'width', width };
    }
    case 'height': {
      const height = readInteger(value.height, 1, MAX_TARGET_SIDE);
      return height === undefined ? undefined : { kind: 'height', height };
    }
    default:
      return undefined;
  }
}

function readTileSize(value: unknown): 'auto' | number | undefined {
  if (value === 'auto') return 'auto';
  return readInteger(value, MIN_TILE_SIZE, MAX_TILE_SIZE);
}

function readOutputFolder(value: unknown): string | null | undefined {
  if (value === null) return null;
  // Absolute paths only (POSIX `/…`, Windows `C:\…` or `\\server\…`): a relative folder would
  // depend on the working directory of whichever process runs the job.
  if (typeof value === 'string' && /^(\/|[A-Za-z]:[\\/]|\\\\)/.test(value)) return value;
  return undefined;
}

function readModel(value: unknown): string | null | undefined {
  if (value === null) return null;
  return typeof value === 'string' && /^[A-Za-z0-9._-]{1,64}$/.test(value) ? value : undefined;
}

function readInteger(value: unknown, min: number, max: number): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max
    ? value
    : undefined;
}

function readEnum<T extends string>(value: unknown, allowed: readonly T[]): T | undefined {
  return typeof value === 'string' && (allowed as readonly string[]).includes(value)
    ? (value as T)
    : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function deepFreeze<T extends object>(value: T): Readonly<T> {
  for (const child of Object.values(value)) {
    if (typeof child === 'object' && child !== null) deepFreeze(child);
  }
  return Object.freeze(value);
}
