/**
 * The models folder: JSON cards and the ONNX files they list. A model file is checked
 * against its card (size, sha256) before a session ever sees it, so a corrupt or swapped
 * file is refused with a message naming the file and what does not match.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { ModelSummary, PresetSummary, QualityPreset } from '../../shared/upscaleOptions.ts';
import { QUALITY_PRESETS } from '../../shared/upscaleOptions.ts';
import { type ModelCard, ModelCardError, type ModelVariant, parseModelCard } from './modelCard.ts';

export interface RegisteredModel {
  card: ModelCard;
  /** Folder holding the card and its ONNX files. */
  folder: string;
}

export interface ResolvedVariant {
  model: RegisteredModel;
  variant: ModelVariant;
  path: string;
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

  get(name?: string, hardware: InferenceHardware = 'cpu'): RegisteredModel {
    const model =
      name === undefined
        ? this.defaultModel(hardware)
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

  /** The variant a quality preset runs, checked against its card. */
  async resolve(
    name: string | undefined,
    preset: QualityPreset,
    hardware: InferenceHardware = 'cpu',
  ): Promise<ResolvedVariant> {
    const model = this.get(name, hardware);
    const variant = variantForPreset(model.card, preset);
    const filePath = path.join(model.folder, variant.file);
    await this.verify(filePath, variant);
    return { model, variant, path: filePath };
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
          flopsPerPixel: variant.flopsPerPixel,
          set5Psnr,
          measuredMegapixelsPerSecond: throughput(path.join(folder, variant.file)),
        };
      }),
    }));
  }

  /** cmsc-lite on a CPU, the paper-size cmsc on a GPU (when shipped), else the first card. */
  private defaultModel(hardware: InferenceHardware): RegisteredModel | undefined {
    for (const name of DEFAULT_MODEL_PREFERENCE[hardware]) {
      const model = this.models.find((m) => m.card.name === name);
      if (model) return model;
    }
    return this.models[0];
  }

  private async verify(filePath: string, variant: ModelVariant): Promise<void> {
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

/** fast = the fewest stages, best = all stages, balanced = two stages (or the middle one). */
export function variantForPreset(card: ModelCard, preset: QualityPreset): ModelVariant {
  const variants = card.variants; // sorted by stages
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
