/**
 * The only module that imports onnxruntime-node: execution-provider selection, session
 * creation and tensor I/O live here so that the native runtime has one owner. It is loaded
 * by the inference worker thread, never by the main thread. The runtime is the installed
 * onnxruntime-node, or the package folder named by CMSC_ONNXRUNTIME_PATH (onnxRuntimeLocation.ts).
 */
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type * as OnnxRuntime from 'onnxruntime-node';
import type {
  Device,
  ExecutionProvider,
  ProviderAttempt,
  ProviderReport,
} from '../../shared/upscaleOptions.ts';
import { onnxRuntimeModulePath } from './onnxRuntimeLocation.ts';
import { boundThreads } from './threadCount.ts';

// ONNX Runtime's telemetry is switched off by the InferenceClient that starts this worker, on the
// main thread (keepOnnxRuntimeTelemetryOff): this thread's process.env never reaches getenv.
const onnxRuntimeModule = onnxRuntimeModulePath();
const ort = createRequire(import.meta.url)(onnxRuntimeModule) as typeof OnnxRuntime;

/** `auto` tries the fastest provider first. */
const AUTO_ORDER: readonly ExecutionProvider[] = ['cuda', 'webgpu', 'cpu'];

export interface SessionSettings {
  device: Device;
  /** Intra-op threads for the CPU provider; 0 lets ONNX Runtime choose (one per core). */
  threads: number;
  /**
   * The inference worker releases its sessions after this long without a request, and reopens
   * one on the next run: a session's memory arena keeps the largest tile's working set (GiBs
   * at the engine's tile sizes), which an idle desktop app should not hold. Default 60 s;
   * 0 keeps sessions until close.
   */
  idleReleaseMs?: number;
}

export interface ModelIoNames {
  input: string;
  output: string;
  /** Input-resolution models: the second input, the bicubic upscaling of the input. */
  bicubic?: string;
  /**
   * Planes per input and output sample (default 1: the super-resolution models see Y only).
   * The chroma restorer takes Y, Cb, Cr and gives Cb, Cr.
   */
  inputChannels?: number;
  outputChannels?: number;
}

/** One long-lived ONNX Runtime session for one model file. */
export class OnnxModelSession {
  private constructor(
    private readonly session: OnnxRuntime.InferenceSession,
    readonly io: ModelIoNames,
    readonly report: ProviderReport,
  ) {}

  /**
   * Opens `modelPath` on the requested device and checks that the graph has the input and
   * output names its model card promises.
   */
  static async open(
    modelPath: string,
    io: ModelIoNames,
    settings: SessionSettings,
  ): Promise<OnnxModelSession> {
    const candidates = settings.device === 'auto' ? AUTO_ORDER : [settings.device];
    const attempts: ProviderAttempt[] = [];
    for (const provider of candidates) {
      const unavailable = providerUnavailableReason(provider);
      if (unavailable) {
        attempts.push({ provider, ok: false, reason: unavailable });
        continue;
      }
      let session: OnnxRuntime.InferenceSession;
      try {
        session = await ort.InferenceSession.create(modelPath, sessionOptions(provider, settings));
      } catch (error) {
        attempts.push({ provider, ok: false, reason: firstLine(error) });
        continue;
      }
      const missing = missingNames(session, io);
      if (missing) {
        await session.release();
        throw new Error(`${path.basename(modelPath)}: ${missing}`);
      }
      attempts.push({ provider, ok: true, reason: '' });
      return new OnnxModelSession(session, io, {
        requested: settings.device,
        active: provider,
        attempts,
      });
    }
    const reasons = attempts.map((a) => `${a.provider}: ${a.reason}`).join('; ');
    throw new Error(
      settings.device === 'auto'
        ? `no execution provider could run ${path.basename(modelPath)} (${reasons})`
        : `device ${settings.device} is not available (${reasons})`,
    );
  }

  /**
   * Runs a [n, c, height, width] float32 batch (c: `io.inputChannels`, default 1) and returns the
   * output planes (`io.outputChannels`): same size, or
   * for an input-resolution model `scale` times larger (`bicubic` is then its second input,
   * [n, 1, scale·height, scale·width]).
   */
  async run(
    input: Float32Array,
    batch: number,
    height: number,
    width: number,
    bicubic?: { data: Float32Array; scale: number },
  ): Promise<Float32Array> {
    const inputChannels = this.io.inputChannels ?? 1;
    const outputChannels = this.io.outputChannels ?? 1;
    const feeds = {
      [this.io.input]: new ort.Tensor('float32', input, [batch, inputChannels, height, width]),
    };
    const scale = bicubic?.scale ?? 1;
    if (this.io.bicubic) {
      if (!bicubic)
        throw new Error(`model input ${this.io.bicubic} (the bicubic image) is missing`);
      feeds[this.io.bicubic] = new ort.Tensor('float32', bicubic.data, [
        batch,
        1,
        height * scale,
        width * scale,
      ]);
    }
    const results = await this.session.run(feeds);
    const output = results[this.io.output];
    if (!output || output.type !== 'float32') {
      throw new Error(`model output ${this.io.output} is missing or not float32`);
    }
    const dims = output.dims;
    const [outHeight, outWidth] = [height * scale, width * scale];
    if (
      dims.length !== 4 ||
      dims[0] !== batch ||
      dims[1] !== outputChannels ||
      dims[2] !== outHeight ||
      dims[3] !== outWidth
    ) {
      throw new Error(
        `model output ${this.io.output} has shape [${dims.join(', ')}], expected [${batch}, ${outputChannels}, ${outHeight}, ${outWidth}]`,
      );
    }
    return output.data as Float32Array;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

/** Providers compiled into this onnxruntime-node build, for reporting before any session exists. */
export function installedProviders(): ExecutionProvider[] {
  return AUTO_ORDER.filter((provider) => providerUnavailableReason(provider) === null);
}

function sessionOptions(
  provider: ExecutionProvider,
  settings: SessionSettings,
): OnnxRuntime.InferenceSession.SessionOptions {
  return {
    executionProviders: [provider],
    graphOptimizationLevel: 'all',
    // The arena keeps the feature maps' memory between runs. Without it every run maps fresh
    // pages for maps of tens of MB, and first touches cost more than the convolutions on some
    // machines (a 2-core VM here: 1 GiB of fresh pages takes 5 s; arena off made a 389² tile
    // of cmsc-lite 2-3x slower and a 1024² untiled run 11x slower, see `npm run bench:speed`).
    // What it holds is the largest tile's working set, so it stays bounded by the tile size,
    // and measured lower than the malloc fragmentation it replaces (292 vs 500+ MiB).
    enableCpuMemArena: true,
    // Memory patterns are planned and cached per input shape; tile shapes vary at the edges
    // and from photo to photo, so the cache would only grow, and the arena already reuses.
    enableMemPattern: false,
    logSeverityLevel: 3,
    ...(settings.threads > 0
      ? { intraOpNumThreads: boundThreads(settings.threads), interOpNumThreads: 1 }
      : {}),
  };
}

/** A reason a provider cannot work on this machine, found without creating a session. */
function providerUnavailableReason(provider: ExecutionProvider): string | null {
  const backend = ort.listSupportedBackends().find((b) => b.name === provider);
  if (!backend) return `not compiled into onnxruntime-node on ${process.platform}/${process.arch}`;
  if (provider === 'webgpu' && process.platform === 'linux' && !vulkanLoaderInstalled()) {
    // Dawn (ORT's WebGPU) needs Vulkan on Linux; without the loader it only prints warnings.
    return 'the Vulkan loader (libvulkan.so.1) is not installed, and WebGPU on Linux runs on Vulkan';
  }
  if (provider === 'cuda' && !backend.bundled && !cudaLibrariesInstalled()) {
    return 'CUDA provider libraries are not installed (run `npm run setup:cuda` on a machine with an NVIDIA GPU and CUDA 12)';
  }
  return null;
}

function cudaLibrariesInstalled(): boolean {
  const require = createRequire(import.meta.url);
  const packageRoot = path.resolve(path.dirname(require.resolve(onnxRuntimeModule)), '..');
  const binRoot = path.join(packageRoot, 'bin');
  if (!existsSync(binRoot)) return false;
  const library =
    process.platform === 'win32'
      ? 'onnxruntime_providers_cuda.dll'
      : 'libonnxruntime_providers_cuda.so';
  return readdirSync(binRoot).some((napi) =>
    existsSync(path.join(binRoot, napi, process.platform, process.arch, library)),
  );
}

/** Whether the dynamic linker can find libvulkan.so.1 in the usual library folders. */
function vulkanLoaderInstalled(): boolean {
  const folders = [
    ...(process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean),
    '/usr/lib',
    '/usr/lib64',
    '/lib',
    '/lib64',
    `/usr/lib/${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu`,
    `/lib/${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu`,
  ];
  return folders.some((folder) => existsSync(path.join(folder, 'libvulkan.so.1')));
}

function missingNames(session: OnnxRuntime.InferenceSession, io: ModelIoNames): string | null {
  const problems: string[] = [];
  for (const input of io.bicubic ? [io.input, io.bicubic] : [io.input]) {
    if (!session.inputNames.includes(input)) {
      problems.push(`input "${input}" not in graph inputs [${session.inputNames.join(', ')}]`);
    }
  }
  if (!session.outputNames.includes(io.output)) {
    problems.push(`output "${io.output}" not in graph outputs [${session.outputNames.join(', ')}]`);
  }
  return problems.length ? `does not match its model card: ${problems.join('; ')}` : null;
}

function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0]!.trim();
}
