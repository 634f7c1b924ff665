/** Messages between the engine (main thread) and the inference worker thread. */
import type { ProviderReport } from '../../shared/upscaleOptions.ts';
import type { ModelIoNames, SessionSettings } from './onnxSession.ts';

export interface WorkerStartData {
  settings: SessionSettings;
}

/** What the engine asks for; the client adds the id that pairs it with its response. */
export type InferenceRequestBody =
  | { kind: 'open'; modelPath: string; io: ModelIoNames }
  | {
      kind: 'run';
      modelPath: string;
      input: Float32Array;
      batch: number;
      height: number;
      width: number;
      /** Input-resolution models: the bicubic input and the model's scale. */
      bicubic?: { data: Float32Array; scale: number };
    }
  /** Releases one model's session now (its memory arena too); the next run reopens it. */
  | { kind: 'release'; modelPath: string }
  /** Which sessions are open now (they are released when idle and reopened on demand). */
  | { kind: 'status' }
  | { kind: 'close' };

export type InferenceRequest = InferenceRequestBody & { id: number };

export type InferenceResponse =
  | { id: number; ok: true; kind: 'open'; report: ProviderReport }
  | { id: number; ok: true; kind: 'run'; output: Float32Array; elapsedMs: number }
  | { id: number; ok: true; kind: 'status'; openModels: string[] }
  | { id: number; ok: true; kind: 'release' }
  | { id: number; ok: true; kind: 'close' }
  | { id: number; ok: false; message: string; allocationFailure: boolean };
