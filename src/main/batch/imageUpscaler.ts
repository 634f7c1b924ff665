/**
 * The narrow port the batch queue needs from the engine. The queue is written and tested against
 * this interface; `engineUpscaler.ts` adapts the real engine to it.
 */
import type {
  ExecutionProvider,
  ModelSummary,
  UpscaleOptions,
  UpscaleProgress,
  UpscaleResult,
} from '../../shared/upscaleOptions.ts';
import type { Device } from '../../shared/upscaleOptions.ts';
import type { FileReason } from '../../shared/jobs.ts';

/** The input cannot be processed (empty, not an image, truncated, ...): the file fails with `reason`. */
export class InputRejected extends Error {
  override readonly name = 'InputRejected';
  constructor(readonly reason: FileReason) {
    super(reason.message);
  }
}

export interface UpscaleControl {
  onProgress?: (progress: UpscaleProgress) => void;
  /** Aborting rejects the call promptly and leaves no file at `outputPath`. */
  signal?: AbortSignal;
}

export interface ImageUpscaler {
  /**
   * Upscales one file to exactly `outputPath` (the queue passes a temporary name and renames it
   * into place itself). `device` is the job's requested device.
   */
  upscaleFile(
    inputPath: string,
    outputPath: string,
    options: UpscaleOptions,
    device: Device,
    control: UpscaleControl,
  ): Promise<UpscaleResult>;
  /** Models with their per-preset cost, for the pre-flight time estimate. */
  listModels(): ModelSummary[];
  /**
   * The model a file will run, predicted from its JPEG header quality (null: not a JPEG) at
   * `scale` on `provider`, by the engine's own rule; null for a model the engine does not know.
   */
  plannedModel(
    options: Pick<UpscaleOptions, 'model' | 'source'>,
    jpegQuality: number | null,
    scale: number,
    provider: ExecutionProvider,
  ): string | null;
  /** The provider `device` resolves to, when known without running anything; null otherwise. */
  activeProvider(device: Device): ExecutionProvider | null;
  close(): Promise<void>;
}

/** The model a job runs: the one it names, else the registry's default. */
export function resolveModel(
  models: readonly ModelSummary[],
  name: string | null,
): ModelSummary | undefined {
  return name === null
    ? (models.find((m) => m.isDefault) ?? models[0])
    : models.find((m) => m.name === name);
}
