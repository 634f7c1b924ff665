/**
 * The real engine behind the batch queue's `ImageUpscaler` port. The engine picks its device
 * when it is created, while each job carries its own device setting: one engine per requested
 * device, created on first use; switching device closes the previous one so only one inference
 * worker holds memory at a time.
 */
import {
  createEngine,
  ImageInputError,
  OutputLimitError,
  type Engine,
  type EngineConfig,
  type ImageInputProblem,
} from '../engine/index.ts';
import type { FileReason } from '../../shared/jobs.ts';
import type {
  Device,
  ExecutionProvider,
  ModelSummary,
  UpscaleOptions,
  UpscaleResult,
} from '../../shared/upscaleOptions.ts';
import { InputRejected, type ImageUpscaler, type UpscaleControl } from './imageUpscaler.ts';

export type EngineUpscalerConfig = Omit<EngineConfig, 'device'>;

export interface EngineUpscalerSharing {
  /**
   * An engine created elsewhere (e.g. for the Compare screen), used for jobs whose device is
   * `initialDevice`, so both share one inference worker. It is never closed here.
   */
  engine: Engine;
}

export async function createEngineUpscaler(
  config: EngineUpscalerConfig = {},
  initialDevice: Device = 'auto',
  sharing?: EngineUpscalerSharing,
): Promise<ImageUpscaler> {
  if (sharing)
    return new EngineUpscaler(config, { device: initialDevice, engine: sharing.engine }, null);
  const engine = await createEngine({ ...config, device: initialDevice });
  return new EngineUpscaler(config, null, { device: initialDevice, engine });
}

interface DeviceEngine {
  device: Device;
  engine: Engine;
}

class EngineUpscaler implements ImageUpscaler {
  private readonly providers = new Map<Device, ExecutionProvider>();

  constructor(
    private readonly config: EngineUpscalerConfig,
    private readonly shared: DeviceEngine | null,
    private owned: DeviceEngine | null,
  ) {}

  async upscaleFile(
    inputPath: string,
    outputPath: string,
    options: UpscaleOptions,
    device: Device,
    control: UpscaleControl,
  ): Promise<UpscaleResult> {
    const engine = await this.engineFor(device);
    try {
      const result = await engine.upscaleFile(inputPath, outputPath, options, control);
      this.providers.set(device, result.provider);
      return result;
    } catch (error) {
      if (error instanceof ImageInputError)
        throw new InputRejected(reasonFor(error.problem, error.reason));
      if (error instanceof OutputLimitError) throw new InputRejected(limitReason(error, inputPath));
      throw error;
    }
  }

  /** Live: the engine fills in each preset's measured speed as it runs. */
  listModels(): ModelSummary[] {
    return (this.owned ?? this.shared)!.engine.listModels();
  }

  plannedModel(
    options: Pick<UpscaleOptions, 'model' | 'source'>,
    jpegQuality: number | null,
    scale: number,
    provider: ExecutionProvider,
  ): string | null {
    try {
      return (this.owned ?? this.shared)!.engine.plannedModel(
        options,
        jpegQuality,
        scale,
        provider,
      );
    } catch {
      return null; // an unknown model: the estimate falls back to its generic assumption
    }
  }

  activeProvider(device: Device): ExecutionProvider | null {
    return this.providers.get(device) ?? null;
  }

  async close(): Promise<void> {
    await this.owned?.engine.close();
    this.owned = null;
  }

  /** The engine for `device`; an owned engine for another device is closed first, so one worker holds memory. */
  private async engineFor(device: Device): Promise<Engine> {
    if (this.shared?.device === device) return this.shared.engine;
    if (this.owned?.device === device) return this.owned.engine;
    await this.owned?.engine.close();
    this.owned = null;
    this.owned = { device, engine: await createEngine({ ...this.config, device }) };
    return this.owned.engine;
  }
}

function reasonFor(problem: ImageInputProblem, message: string): FileReason {
  switch (problem) {
    case 'empty':
      return { code: 'empty-file', message };
    case 'not-an-image':
    case 'unsupported-format':
      return { code: 'not-an-image', message };
    case 'truncated':
    case 'corrupt':
    case 'too-many-pixels':
    case 'unreadable':
      return { code: 'decode-failed', message };
  }
}

/**
 * The engine's refusal before any tile ran, as the file's reason: no room on the disk is
 * `output-not-writable` ("disk full", as when a write fails), a size the format or the limit
 * cannot hold is `too-large`. The engine's sentence names the photo; the file's row already does.
 */
function limitReason(error: OutputLimitError, inputPath: string): FileReason {
  const prefix = `${inputPath}: `;
  const sentence = error.message.startsWith(prefix)
    ? error.message.slice(prefix.length)
    : error.message;
  return error.limit === 'disk'
    ? { code: 'output-not-writable', message: `disk full: ${sentence}` }
    : { code: 'too-large', message: sentence };
}
