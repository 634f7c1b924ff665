/** The main-thread side of the inference worker: one request at a time per message id. */
import { Worker } from 'node:worker_threads';
import type { ProviderReport } from '../../shared/upscaleOptions.ts';
import { AllocationFailure } from './allocationFailure.ts';
import type {
  InferenceRequest,
  InferenceRequestBody,
  InferenceResponse,
  WorkerStartData,
} from './inferenceProtocol.ts';
import { keepOnnxRuntimeTelemetryOff } from './onnxRuntimeLocation.ts';
import type { ModelIoNames, SessionSettings } from './onnxSession.ts';

type PendingRequest = {
  resolve: (response: InferenceResponse & { ok: true }) => void;
  reject: (error: Error) => void;
};

export interface InferenceOutput {
  output: Float32Array;
  elapsedMs: number;
}

export class InferenceClient {
  private readonly worker: Worker;
  private readonly pending = new Map<number, PendingRequest>();
  private nextId = 1;
  private failure: Error | null = null;

  /**
   * @param workerUrl where the worker entry lives; a bundled build passes its emitted file,
   *   the default is the sibling worker (registering tsx first when running from source).
   */
  constructor(settings: SessionSettings, workerUrl: URL = defaultWorkerUrl()) {
    const workerData: WorkerStartData = { settings };
    keepOnnxRuntimeTelemetryOff();
    this.worker = new Worker(workerUrl, { workerData });
    this.worker.on('message', (response: InferenceResponse) => this.settle(response));
    this.worker.on('error', (error) => this.failAll(error));
    this.worker.on('exit', (code) => {
      if (code !== 0) this.failAll(new Error(`inference worker exited with code ${code}`));
    });
  }

  async open(modelPath: string, io: ModelIoNames): Promise<ProviderReport> {
    const response = await this.request({ kind: 'open', modelPath, io });
    if (response.kind !== 'open') throw new Error('inference worker answered out of turn');
    return response.report;
  }

  /**
   * Runs a batch; the input buffers are transferred to the worker and unusable afterwards.
   * `bicubic`: an input-resolution model's second input (see OnnxModelSession.run).
   */
  async run(
    modelPath: string,
    input: Float32Array,
    batch: number,
    height: number,
    width: number,
    bicubic?: { data: Float32Array; scale: number },
  ): Promise<InferenceOutput> {
    const transfer = [input.buffer as ArrayBuffer];
    if (bicubic && bicubic.data.buffer !== input.buffer)
      transfer.push(bicubic.data.buffer as ArrayBuffer);
    const response = await this.request(
      { kind: 'run', modelPath, input, batch, height, width, ...(bicubic ? { bicubic } : {}) },
      transfer,
    );
    if (response.kind !== 'run') throw new Error('inference worker answered out of turn');
    return { output: response.output, elapsedMs: response.elapsedMs };
  }

  /**
   * Releases one model's session and its memory arena now (it keeps the largest tile's working
   * set); the next run of the model reopens it.
   */
  async release(modelPath: string): Promise<void> {
    const response = await this.request({ kind: 'release', modelPath });
    if (response.kind !== 'release') throw new Error('inference worker answered out of turn');
  }

  /** Models whose sessions are open now (the worker releases them when idle). */
  async openModels(): Promise<string[]> {
    const response = await this.request({ kind: 'status' });
    if (response.kind !== 'status') throw new Error('inference worker answered out of turn');
    return response.openModels;
  }

  async close(): Promise<void> {
    if (!this.failure) {
      await this.request({ kind: 'close' }).catch(() => undefined);
    }
    await this.worker.terminate();
  }

  private request(
    body: InferenceRequestBody,
    transfer: ArrayBuffer[] = [],
  ): Promise<InferenceResponse & { ok: true }> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    const message: InferenceRequest = { ...body, id };
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage(message, transfer);
    });
  }

  private settle(response: InferenceResponse): void {
    const pending = this.pending.get(response.id);
    if (!pending) return;
    this.pending.delete(response.id);
    if (response.ok) pending.resolve(response);
    else
      pending.reject(
        response.allocationFailure
          ? new AllocationFailure(response.message)
          : new Error(response.message),
      );
  }

  private failAll(error: Error): void {
    this.failure = error;
    for (const pending of this.pending.values()) pending.reject(error);
    this.pending.clear();
  }
}

function defaultWorkerUrl(): URL {
  const sourceIsTypeScript = import.meta.url.endsWith('.ts');
  return new URL(
    sourceIsTypeScript ? './inferenceWorkerFromSource.js' : './inferenceWorker.js',
    import.meta.url,
  );
}
