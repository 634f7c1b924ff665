/**
 * The models folder: JSON cards and the ONNX files they list. A model file is checked
 * against its card (size, sha256) before a session ever sees it, so a corrupt or swapped
 * file is refused with a message naming the file and what does not match.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type {
  JpegQualityBand,
  ModelSummary,
  PresetSummary,
  QualityPreset,
  SourceDecision,
} from '../../shared/upscaleOptions.ts';
import {
  integerModelScale,
  QUALITY_PRESETS,
  wantedIntegerScale,
} from '../../shared/upscaleOptions.ts';
import {
  type ModelCard,
  ModelCardError,
  type ModelFile,
  type ModelVariant,
  parseModelCard,
} from './modelCard.ts';

export interface RegisteredModel {
  card: ModelCard;
  /** Folder holding the card and its ONNX files. */
  folder: string;
}

export interface ResolvedVariant {
  model: RegisteredModel;
  variant: ModelVariant;
  path: string;
  /** Input-resolution models: the integer scale the file upscales by (else undefined). */
  lowResScale?: number;
  /** The file is the variant's int8 one. */
  int8?: boolean;
  /** The model's chroma restorer (photo variants), checked like the model's own files. */
  chroma?: { path: string; io: { input: string; output: string }; receptiveFieldRadius: number };
}

/**
 * What inference runs on, for picking the default model: the paper-size CMSC costs about
 * 44 s per output megapixel on a laptop CPU, so CPU users get the lite model by default.
 */
export type InferenceHardware = 'cpu' | 'accelerator';

/** Default model names in order of preference, by hardware. */
const DEFAULT_MODEL_PREFERENCE: Readonly<Record<InferenceHardware, readonly string[]>> = {
  cpu: ['cmsc-lite', 'cmsc'],
  accelerator: ['cmsc', 'cmsc-lite'],
};

/**
 * The input-resolution model that replaces cmsc-lite as the CPU default, at the scales where
 * its card shows it at least as good (see `fastModelQualifies`): about 4x less work per pixel.
 */
const FAST_CPU_MODEL = 'cmsc-fast';
const FAST_REPLACES = 'cmsc-lite';
/** The clean benchmark sets both cards must report, at the scale asked. */
const QUALIFYING_DATASETS = ['Set5', 'Set14'] as const;

export class ModelRegistry {
  /** Files already hashed, keyed by path + size + mtime, so a long-lived engine hashes once. */
  private readonly verified = new Set<string>();

  private constructor(
    readonly models: readonly RegisteredModel[],
    /** Cards that failed validation, reported rather than silently dropped. */
    readonly problems: readonly string[],
  ) {}

  /** Reads every `*.json` card in the given folders (missing folders are skipped). */
  static async load(folders: readonly string[]): Promise<ModelRegistry> {
    const models: RegisteredModel[] = [];
    const problems: string[] = [];
    for (const folder of folders) {
      let names: string[];
      try {
        names = (await readdir(folder)).filter((name) => name.endsWith('.json')).sort();
      } catch {
        continue;
      }
      for (const name of names) {
        const cardPath = path.join(folder, name);
        try {
          const card = parseModelCard(JSON.parse(await readFile(cardPath, 'utf8')), cardPath);
          if (models.some((m) => m.card.name === card.name)) {
            problems.push(`${cardPath}: a model named ${card.name} is already registered`);
            continue;
          }
          models.push({ card, folder });
        } catch (error) {
          problems.push(
            error instanceof ModelCardError ? error.message : `${cardPath}: ${String(error)}`,
          );
        }
      }
    }
    return new ModelRegistry(models, problems);
  }

  get(name?: string, hardware: InferenceHardware = 'cpu', scale?: number): RegisteredModel {
    const model =
      name === undefined
        ? this.defaultModel(hardware, scale)
        : this.models.find((m) => m.card.name === name);
    if (!model) {
      const known = this.models.map((m) => m.card.name).join(', ') || 'none';
      throw new Error(
        name === undefined
          ? `no model cards found (problems: ${this.problems.join('; ') || 'none'})`
          : `unknown model "${name}" (known: ${known})`,
      );
    }
    return model;
  }

  /**
   * The variant a quality preset runs, checked against its card. `scale` (output / input) picks
   * the file of an input-resolution model, and the default model where that depends on it;
   * `allowInt8` takes the variant's int8 file where the card ships one.
   */
  async resolve(
    name: string | undefined,
    preset: QualityPreset,
    hardware: InferenceHardware = 'cpu',
    scale?: number,
    allowInt8 = false,
  ): Promise<ResolvedVariant> {
    const model = this.get(name, hardware, scale);
    const lowResScale =
      model.card.input.resolution === 'input' ? modelScaleFor(model.card, scale ?? 2) : undefined;
    const variant = variantForPreset(model.card, preset, lowResScale);
    const int8 = allowInt8 && variant.int8 !== undefined;
    const file = int8 && variant.int8 ? variant.int8 : variant;
    const filePath = path.join(model.folder, file.file);
    await this.verify(filePath, file);
    const restorer = model.card.chromaRestorer;
    const chromaPath = restorer ? path.join(model.folder, restorer.file) : undefined;
    if (restorer && chromaPath) await this.verify(chromaPath, restorer);
    return {
      model,
      variant,
      path: filePath,
      ...(lowResScale ? { lowResScale } : {}),
      ...(int8 ? { int8 } : {}),
      ...(restorer && chromaPath
        ? {
            chroma: {
              path: chromaPath,
              io: { input: restorer.input, output: restorer.output },
              receptiveFieldRadius: restorer.receptiveFieldRadius,
            },
          }
        : {}),
    };
  }

  /**
   * The model name to run for a file judged a photo or clean, given the model asked for
   * (undefined: the default). A photo runs a photo variant of the asked model; with no model
   * asked, of the first default candidate that has one (the fast default may have none yet,
   * and a photo is better served by another model's photo variant than by a clean model).
   * Among several variants the one whose JPEG quality band holds the file's quality runs;
   * a noisy or forced-photo file that is not such a JPEG gets the strongest (lowest band). A
   * model asked for by name that is itself a photo variant runs as asked. Undefined keeps
   * the default.
   */
  modelForSource(
    name: string | undefined,
    source: Pick<SourceDecision, 'kind' | 'jpegQuality'>,
    hardware: InferenceHardware = 'cpu',
    scale?: number,
  ): string | undefined {
    if (source.kind === 'clean') return name;
    if (name !== undefined) {
      const asked = this.models.find((m) => m.card.name === name);
      return asked?.card.photoVariantOf !== undefined
        ? name
        : (photoVariantFor(this.models, name, source.jpegQuality, scale) ?? name);
    }
    return photoModelFor(
      this.models,
      this.defaultModel(hardware, scale)?.card.name,
      hardware,
      source.jpegQuality,
      scale,
    );
  }

  /** `throughput` gives measured output megapixels per second by model file path. */
  summaries(
    throughput: (modelPath: string) => number | null = () => null,
    hardware: InferenceHardware = 'cpu',
  ): ModelSummary[] {
    const defaultName = this.defaultModel(hardware)?.card.name;
    return this.models.map(({ card, folder }) => ({
      name: card.name,
      isDefault: card.name === defaultName,
      displayName: card.displayName,
      description: card.description,
      parameters: card.parameters,
      ...(card.photoVariantOf !== undefined ? { photoVariantOf: card.photoVariantOf } : {}),
      ...(card.photoJpegQuality !== undefined ? { photoJpegQuality: card.photoJpegQuality } : {}),
      filesDigest: cardFilesDigest(card),
      presets: QUALITY_PRESETS.map((preset): PresetSummary => {
        const variant = variantForPreset(card, preset);
        const set5Psnr: Partial<Record<number, number>> = {};
        for (const r of card.evaluation.results) {
          if (r.dataset === 'Set5' && r.stages === variant.stages) set5Psnr[r.scale] = r.psnr;
        }
        return {
          preset,
          stages: variant.stages,
          file: variant.file,
          ...(variant.int8 ? { int8File: variant.int8.file } : {}),
          flopsPerPixel: variant.flopsPerPixel,
          ...(card.input.resolution === 'input'
            ? {
                flopsPerPixelByScale: Object.fromEntries(
                  card.scales.map((s) => [s, variantForPreset(card, preset, s).flopsPerPixel]),
                ),
              }
            : {}),
          set5Psnr,
          // On a CPU the int8 file is what runs where the card ships one: its speed first.
          measuredMegapixelsPerSecond:
            (variant.int8 ? throughput(path.join(folder, variant.int8.file)) : null) ??
            throughput(path.join(folder, variant.file)),
        };
      }),
    }));
  }

  /**
   * cmsc-lite on a CPU, the paper-size cmsc on a GPU (when shipped), else the first card; on a
   * CPU cmsc-fast instead of cmsc-lite where it qualifies at the scale asked.
   */
  private defaultModel(hardware: InferenceHardware, scale?: number): RegisteredModel | undefined {
    if (hardware === 'cpu') {
      const fast = this.models.find((m) => m.card.name === FAST_CPU_MODEL);
      const replaced = this.models.find((m) => m.card.name === FAST_REPLACES);
      if (
        fast &&
        replaced &&
        fastModelQualifies(fast.card, replaced.card, scale ?? 2) &&
        fastPhotoPathQualifies(this.models, scale ?? 2)
      )
        return fast;
    }
    for (const name of DEFAULT_MODEL_PREFERENCE[hardware]) {
      const model = this.models.find((m) => m.card.name === name);
      if (model) return model;
    }
    // A photo variant is never the default: it is chosen per file, over its clean model.
    return this.models.find((m) => m.card.photoVariantOf === undefined) ?? this.models[0];
  }

  private async verify(filePath: string, variant: ModelFile): Promise<void> {
    const fileName = path.basename(filePath);
    let info;
    try {
      info = await stat(filePath);
    } catch {
      throw new Error(`model file ${filePath} is missing (listed by its card)`);
    }
    const key = `${filePath}:${info.size}:${info.mtimeMs}`;
    if (this.verified.has(key)) return;
    if (info.size !== variant.bytes) {
      throw new Error(
        `model file ${fileName} is ${info.size} bytes but its card says ${variant.bytes}: the file is truncated, corrupt or belongs to another model`,
      );
    }
    const digest = await sha256File(filePath);
    if (digest !== variant.sha256) {
      throw new Error(
        `model file ${fileName} has sha256 ${digest.slice(0, 12)}… but its card says ${variant.sha256.slice(0, 12)}…: the file is corrupt or belongs to another model`,
      );
    }
    this.verified.add(key);
  }
}

/**
 * The photo variant of `clean` for a file of estimated JPEG quality `jpegQuality` (null: not a
 * JPEG) at `scale`: among the variants that have a file for that scale, the one whose band
 * holds the quality, else the strongest (lowest band; a variant without a band serves
 * everything and counts as the strongest).
 */
export function photoVariantFor(
  models: readonly RegisteredModel[],
  clean: string,
  jpegQuality: number | null,
  scale?: number,
): string | undefined {
  const variants = models.filter(
    (m) => m.card.photoVariantOf === clean && (scale === undefined || hasScale(m.card, scale)),
  );
  const inBand =
    jpegQuality === null
      ? undefined
      : variants.find(({ card }) => {
          const band = photoBandAt(card, scale);
          return band ? band.min <= jpegQuality && jpegQuality <= band.max : false;
        });
  const strength = (m: RegisteredModel) => photoBandAt(m.card, scale)?.min ?? 0;
  const strongest = [...variants].sort((a, b) => strength(a) - strength(b))[0];
  return (inBand ?? strongest)?.card.name;
}

/**
 * The JPEG qualities a photo variant serves at `scale`: the band of the file it runs there
 * (`photoJpegQuality.byScale`), else the card's own band; undefined serves every photo.
 */
export function photoBandAt(card: ModelCard, scale?: number): JpegQualityBand | undefined {
  const band = card.photoJpegQuality;
  if (!band?.byScale || scale === undefined) return band;
  const fileScale =
    card.input.resolution === 'input' ? modelScaleFor(card, scale) : wantedIntegerScale(scale);
  return band.byScale[String(fileScale)] ?? band;
}

/**
 * The model a photo runs when no model is asked: the photo variant of the default model
 * `defaultName`, else of the first default candidate that has one at this scale (the fast
 * default may have none at some scales, and a photo is better served by another model's
 * photo variant than by a clean model). Undefined keeps the default.
 */
export function photoModelFor(
  models: readonly RegisteredModel[],
  defaultName: string | undefined,
  hardware: InferenceHardware,
  jpegQuality: number | null,
  scale?: number,
): string | undefined {
  for (const candidate of [defaultName, ...DEFAULT_MODEL_PREFERENCE[hardware]]) {
    const photo =
      candidate === undefined ? undefined : photoVariantFor(models, candidate, jpegQuality, scale);
    if (photo) return photo;
  }
  return undefined;
}

/**
 * Whether a card can serve `scale` without resizing up: the paper's models serve every
 * scale; an input-resolution model needs a file at the next integer scale or above.
 */
function hasScale(card: ModelCard, scale: number): boolean {
  if (card.input.resolution !== 'input') return true;
  const wanted = wantedIntegerScale(scale);
  return card.scales.some((s) => s >= wanted);
}

/**
 * The integer scale an input-resolution model runs for a target `scale`: the smallest of its
 * scales at or above it (the engine then resizes down to the target), else its largest (the
 * engine then resizes up the rest of the way).
 */
export function modelScaleFor(card: ModelCard, scale: number): number {
  return integerModelScale(card.scales, scale);
}

/**
 * Whether `fast` may replace `replaced` as the default at `scale`: it must have a file for the
 * integer scale it would run, and its full model must score at least `replaced`'s on Set5 and
 * Set14 at that scale (both cards must report them; a missing number never qualifies).
 */
export function fastModelQualifies(fast: ModelCard, replaced: ModelCard, scale: number): boolean {
  const wanted = wantedIntegerScale(scale);
  if (!fast.scales.includes(wanted)) return false;
  const best = (card: ModelCard, dataset: string): number | undefined => {
    const stages = Math.max(...card.variants.map((v) => v.stages));
    return card.evaluation.results.find(
      (r) => r.dataset === dataset && r.scale === wanted && r.stages === stages,
    )?.psnr;
  };
  return QUALIFYING_DATASETS.every((dataset) => {
    const a = best(fast, dataset);
    const b = best(replaced, dataset);
    return a !== undefined && b !== undefined && a >= b;
  });
}

/** The JPEG files the fast default must serve at least as well as cmsc-lite's default path. */
export const QUALIFYING_JPEG_INPUTS = [50, 75, 90] as const;

/**
 * The other half of the default rule: on JPEG files (Set5 and Set14 LR saved at
 * `QUALIFYING_JPEG_INPUTS`) the model auto would run under the fast default must score at
 * least what it would run under cmsc-lite, by the rows `npm run bench:quality --record` put in
 * their cards (`photoInputs`, at the integer scale). Where both defaults send photos to the
 * same model there is nothing to compare; a missing row never qualifies.
 */
export function fastPhotoPathQualifies(models: readonly RegisteredModel[], scale: number): boolean {
  const wanted = wantedIntegerScale(scale);
  const measured = (name: string, dataset: string, quality: number): number | undefined =>
    models
      .find((m) => m.card.name === name)
      ?.card.photoInputs?.find(
        (r) =>
          r.method === name &&
          r.dataset === dataset &&
          r.scale === wanted &&
          r.input === `q${quality}`,
      )?.psnr;
  return QUALIFYING_JPEG_INPUTS.every((quality) => {
    const underFast = photoModelFor(models, FAST_CPU_MODEL, 'cpu', quality, wanted);
    const underLite = photoModelFor(models, FAST_REPLACES, 'cpu', quality, wanted);
    if (underFast === underLite) return true;
    if (underFast === undefined || underLite === undefined) return false;
    return QUALIFYING_DATASETS.every((dataset) => {
      const a = measured(underFast, dataset, quality);
      const b = measured(underLite, dataset, quality);
      return a !== undefined && b !== undefined && a >= b;
    });
  });
}

/**
 * fast = the fewest stages, best = all stages, balanced = two stages (or the middle one);
 * for an input-resolution model among the files of `lowResScale`.
 */
export function variantForPreset(
  card: ModelCard,
  preset: QualityPreset,
  lowResScale?: number,
): ModelVariant {
  const scaled = card.input.resolution === 'input';
  const wanted = lowResScale ?? (scaled ? modelScaleFor(card, 2) : undefined);
  const variants = card.variants.filter((v) => !scaled || v.scale === wanted); // sorted by stages
  switch (preset) {
    case 'fast':
      return variants[0]!;
    case 'best':
      return variants[variants.length - 1]!;
    case 'balanced':
      return (
        variants.find((v) => v.stages === 2) ?? variants[Math.floor((variants.length - 1) / 2)]!
      );
  }
}

async function sha256File(filePath: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(filePath)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** SHA-256 over the sorted SHA-256 of every file a card lists (its `filesDigest`). */
function cardFilesDigest(card: unknown): string {
  const digests: string[] = [];
  const collect = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(collect);
    else if (value !== null && typeof value === 'object') {
      for (const [key, inner] of Object.entries(value)) {
        if (key === 'sha256' && typeof inner === 'string') digests.push(inner);
        else collect(inner);
      }
    }
  };
  collect(card);
  return createHash('sha256').update(digests.sort().join('\n')).digest('hex');
}
