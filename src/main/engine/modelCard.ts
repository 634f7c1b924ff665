/**
 * The model card (`models/<name>.json`) written by the training package's exporter, and a
 * hand-written validator that names the first wrong field.
 */
import type { JpegQualityBand } from '../../shared/upscaleOptions.ts';

export interface ModelVariant {
  /** Number of cascade stages this file runs. */
  stages: number;
  /** File name, relative to the card's folder. */
  file: string;
  sha256: string;
  bytes: number;
  flopsPerPixel: number;
  /** Input-resolution models: the integer scale this file upscales by (one file per scale). */
  scale?: number;
  /**
   * The same stages quantized to int8 (QDQ, training/quantize.py), shipped only where it lost
   * at most 0.05 dB on Set5; the engine runs it on a CPU unless fp32 is asked for.
   */
  int8?: ModelFile;
}

/** A file a card lists, with what it must hash to. */
export interface ModelFile {
  file: string;
  sha256: string;
  bytes: number;
}

export interface EvaluationResult {
  dataset: string;
  scale: number;
  stages: number;
  psnr: number;
  ssim: number;
}

/**
 * One measured row of `npm run bench:quality --record` (bench/photoInputs.ts): a model (or
 * bicubic, or the default path) on LR *files* of one kind (`png`, `qNN` JPEG, `noiseNN`).
 */
export interface PhotoInputResult {
  dataset: string;
  scale: number;
  input: string;
  method: string;
  psnr: number;
}

export interface ModelCard {
  schemaVersion: 1;
  name: string;
  displayName: string;
  description: string;
  input: {
    name: string;
    channels: 1;
    colorSpace: 'bt601-y';
    range: [number, number];
    /**
     * `output` (the paper's models, and cards without the field): the input is the bicubic
     * image at output size. `input`: the input is the low-resolution image itself, and the
     * model outputs `scale` times larger (cmsc-fast); its files exist for `scales` only.
     */
    resolution: 'output' | 'input';
    /** Input-resolution models: the name of the second input, the bicubic upscaling (the residual). */
    bicubic?: string;
  };
  output: { name: string };
  /**
   * Exact receptive-field radius in pixels of the model's input (input pixels for an
   * input-resolution model): an overlap this wide makes tiled == untiled.
   */
  receptiveFieldRadius: number;
  scales: number[];
  parameters: number;
  flopsPerPixel: number;
  architecture: Record<string, unknown>;
  variants: ModelVariant[];
  evaluation: { protocol: string; results: EvaluationResult[] };
  /**
   * A photo variant names the clean model it was fine-tuned from on degraded (JPEG, noisy)
   * inputs; the engine runs it instead of that model for files judged photos (sourceKind.ts).
   */
  photoVariantOf?: string;
  /**
   * A photo variant that serves only JPEGs of these estimated IJG qualities (inclusive): a
   * model fine-tuned on compressed photos and its interpolations with the clean model
   * (`training/export.py --interpolate-from`) each win in their own band. Without it the
   * variant serves every photo. `byScale` moves the band for one of the card's scales (its
   * files are separate networks, and where the strong and light variants cross differs).
   */
  photoJpegQuality?: JpegQualityBand & { byScale?: Record<string, JpegQualityBand> };
  /** Measured quality on photo files (bench `--record`); the default rule reads its JPEG rows. */
  photoInputs?: PhotoInputResult[];
  /**
   * Restores a JPEG's chroma before upscaling, for every file this model serves
   * (`training/export_chroma.py`; engine: chromaRestoration.ts). Its file is one of the
   * card's files, so the card's `filesDigest` covers it.
   */
  chromaRestorer?: ChromaRestorerFile;
}

/** The chroma restorer a card runs: input Y, Cb, Cr at input resolution; output Cb, Cr. */
export interface ChromaRestorerFile {
  file: string;
  sha256: string;
  bytes: number;
  input: string;
  output: string;
  /** Input pixels of context each output pixel depends on (the tiles' overlap). */
  receptiveFieldRadius: number;
}

export class ModelCardError extends Error {
  override readonly name = 'ModelCardError';
}

type Json = unknown;

/** Validates parsed JSON as a model card; `source` names the file in error messages. */
export function parseModelCard(json: Json, source: string): ModelCard {
  const fail = (field: string, expected: string): never => {
    throw new ModelCardError(`${source}: ${field} must be ${expected}`);
  };
  const card = objectAt(json, 'the card', fail);
  if (card.schemaVersion !== 1) fail('schemaVersion', '1');
  const input = objectAt(card.input, 'input', fail);
  const output = objectAt(card.output, 'output', fail);
  const range =
    card.input && Array.isArray(input.range)
      ? input.range
      : fail('input.range', 'an array [min, max]');
  if (range.length !== 2 || !range.every(isFiniteNumber)) fail('input.range', 'two numbers');
  if (input.channels !== 1) fail('input.channels', '1');
  if (input.colorSpace !== 'bt601-y') fail('input.colorSpace', '"bt601-y"');
  const resolution: 'output' | 'input' =
    input.resolution === undefined || input.resolution === 'output'
      ? 'output'
      : input.resolution === 'input'
        ? 'input'
        : fail('input.resolution', '"output" or "input"');
  const bicubic =
    resolution === 'input' ? stringAt(input.bicubic, 'input.bicubic', fail) : undefined;
  const scales = Array.isArray(card.scales) ? card.scales : fail('scales', 'an array of numbers');
  if (!scales.every(isFiniteNumber)) fail('scales', 'an array of numbers');
  const variantsJson = Array.isArray(card.variants) ? card.variants : fail('variants', 'an array');
  if (variantsJson.length === 0) fail('variants', 'a non-empty array');
  const variants = variantsJson.map((entry, index): ModelVariant => {
    const at = `variants[${index}]`;
    const variant = objectAt(entry, at, fail);
    const { file, sha256 } = modelFileAt(variant, at, fail);
    const parsed: ModelVariant = {
      stages: positiveInteger(variant.stages, `${at}.stages`, fail),
      file,
      sha256,
      bytes: positiveInteger(variant.bytes, `${at}.bytes`, fail),
      flopsPerPixel: numberAt(variant.flopsPerPixel, `${at}.flopsPerPixel`, fail),
    };
    if (resolution === 'input') {
      const scale = positiveInteger(variant.scale, `${at}.scale`, fail);
      if (scale < 2 || !scales.includes(scale))
        fail(`${at}.scale`, "one of the card's scales (2 or more)");
      parsed.scale = scale;
    }
    if (variant.int8 !== undefined) {
      const int8 = objectAt(variant.int8, `${at}.int8`, fail);
      parsed.int8 = {
        ...modelFileAt(int8, `${at}.int8`, fail),
        bytes: positiveInteger(int8.bytes, `${at}.int8.bytes`, fail),
      };
    }
    return parsed;
  });
  const variantKeys = variants.map((v) => `${v.scale ?? 0}:${v.stages}`);
  if (new Set(variantKeys).size !== variantKeys.length)
    fail('variants', 'one entry per number of stages (and scale)');
  const evaluation = objectAt(card.evaluation, 'evaluation', fail);
  const resultsJson = Array.isArray(evaluation.results)
    ? evaluation.results
    : fail('evaluation.results', 'an array');
  const results = resultsJson.map((entry, index): EvaluationResult => {
    const at = `evaluation.results[${index}]`;
    const result = objectAt(entry, at, fail);
    return {
      dataset: stringAt(result.dataset, `${at}.dataset`, fail),
      scale: numberAt(result.scale, `${at}.scale`, fail),
      stages: numberAt(result.stages, `${at}.stages`, fail),
      psnr: numberAt(result.psnr, `${at}.psnr`, fail),
      ssim: numberAt(result.ssim, `${at}.ssim`, fail),
    };
  });
  return {
    schemaVersion: 1,
    name: nameAt(card.name, fail),
    displayName: stringAt(card.displayName, 'displayName', fail),
    description: stringAt(card.description, 'description', fail),
    input: {
      name: stringAt(input.name, 'input.name', fail),
      channels: 1,
      colorSpace: 'bt601-y',
      range: [range[0] as number, range[1] as number],
      resolution,
      ...(bicubic !== undefined ? { bicubic } : {}),
    },
    output: { name: stringAt(output.name, 'output.name', fail) },
    receptiveFieldRadius: positiveInteger(card.receptiveFieldRadius, 'receptiveFieldRadius', fail),
    scales: scales as number[],
    parameters: positiveInteger(card.parameters, 'parameters', fail),
    flopsPerPixel: numberAt(card.flopsPerPixel, 'flopsPerPixel', fail),
    architecture: objectAt(card.architecture, 'architecture', fail),
    variants: [...variants].sort((a, b) => a.stages - b.stages || (a.scale ?? 0) - (b.scale ?? 0)),
    evaluation: { protocol: stringAt(evaluation.protocol, 'evaluation.protocol', fail), results },
    ...(card.photoVariantOf !== undefined
      ? { photoVariantOf: stringAt(card.photoVariantOf, 'photoVariantOf', fail) }
      : {}),
    ...(card.chromaRestorer !== undefined
      ? { chromaRestorer: chromaRestorerAt(card.chromaRestorer, fail) }
      : {}),
    ...(card.photoJpegQuality !== undefined
      ? { photoJpegQuality: photoJpegQualityAt(card.photoJpegQuality, scales as number[], fail) }
      : {}),
    ...(card.photoInputs !== undefined
      ? { photoInputs: photoInputRows(card.photoInputs, fail) }
      : {}),
  };
}

type Fail = (field: string, expected: string) => never;

function modelFileAt(
  entry: Record<string, unknown>,
  at: string,
  fail: Fail,
): { file: string; sha256: string } {
  const file = stringAt(entry.file, `${at}.file`, fail);
  if (file.includes('/') || file.includes('\\')) fail(`${at}.file`, 'a file name without folders');
  const sha256 = stringAt(entry.sha256, `${at}.sha256`, fail);
  if (!/^[0-9a-f]{64}$/.test(sha256)) fail(`${at}.sha256`, 'a 64-digit lowercase hex string');
  return { file, sha256 };
}

function objectAt(value: Json, field: string, fail: Fail): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return fail(field, 'an object');
  return value as Record<string, unknown>;
}

function stringAt(value: Json, field: string, fail: Fail): string {
  return typeof value === 'string' ? value : fail(field, 'a string');
}

function nameAt(value: Json, fail: Fail): string {
  const name = stringAt(value, 'name', fail);
  return /^[a-z0-9][a-z0-9._-]*$/.test(name)
    ? name
    : fail('name', 'lowercase letters, digits, ".", "_" or "-"');
}

function photoJpegQualityAt(
  value: Json,
  scales: readonly number[],
  fail: Fail,
): NonNullable<ModelCard['photoJpegQuality']> {
  const band = qualityBand(value, 'photoJpegQuality', fail);
  const byScale = objectAt(value, 'photoJpegQuality', fail).byScale;
  if (byScale === undefined) return band;
  const entries = Object.entries(objectAt(byScale, 'photoJpegQuality.byScale', fail));
  for (const [scale] of entries) {
    if (!scales.includes(Number(scale)))
      fail(`photoJpegQuality.byScale.${scale}`, `one of the card's scales (${scales.join(', ')})`);
  }
  return {
    ...band,
    byScale: Object.fromEntries(
      entries.map(([scale, inner]) => [
        scale,
        qualityBand(inner, `photoJpegQuality.byScale.${scale}`, fail),
      ]),
    ),
  };
}

function qualityBand(value: Json, field: string, fail: Fail): JpegQualityBand {
  const band = objectAt(value, field, fail);
  const min = positiveInteger(band.min, `${field}.min`, fail);
  const max = positiveInteger(band.max, `${field}.max`, fail);
  if (max > 100 || min > max) fail(field, 'qualities 1 <= min <= max <= 100');
  return { min, max };
}

function photoInputRows(value: Json, fail: Fail): PhotoInputResult[] {
  const section = objectAt(value, 'photoInputs', fail);
  const rows = Array.isArray(section.results)
    ? section.results
    : fail('photoInputs.results', 'an array');
  return rows.map((entry, index): PhotoInputResult => {
    const at = `photoInputs.results[${index}]`;
    const row = objectAt(entry, at, fail);
    return {
      dataset: stringAt(row.dataset, `${at}.dataset`, fail),
      scale: numberAt(row.scale, `${at}.scale`, fail),
      input: stringAt(row.input, `${at}.input`, fail),
      method: stringAt(row.method, `${at}.method`, fail),
      psnr: numberAt(row.psnr, `${at}.psnr`, fail),
    };
  });
}

function isFiniteNumber(value: Json): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function numberAt(value: Json, field: string, fail: Fail): number {
  return isFiniteNumber(value) ? value : fail(field, 'a number');
}

function positiveInteger(value: Json, field: string, fail: Fail): number {
  return Number.isInteger(value) && (value as number) > 0
    ? (value as number)
    : fail(field, 'a positive integer');
}

function chromaRestorerAt(
  json: Json,
  fail: (field: string, expected: string) => never,
): ChromaRestorerFile {
  const at = 'chromaRestorer';
  const block = objectAt(json, at, fail);
  return {
    ...modelFileAt(block, at, fail),
    bytes: positiveInteger(block.bytes, `${at}.bytes`, fail),
    input: stringAt(block.input, `${at}.input`, fail),
    output: stringAt(block.output, `${at}.output`, fail),
    receptiveFieldRadius: positiveInteger(
      block.receptiveFieldRadius,
      `${at}.receptiveFieldRadius`,
      fail,
    ),
  };
}
