/**
 * Worker-thread entry: owns one long-lived ONNX Runtime session per model file, so the main
 * thread (Electron UI, HTTP server, CLI progress bar) never blocks on inference.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { isAllocationFailure } from './allocationFailure.ts';
import type { InferenceRequest, InferenceResponse, WorkerStartData } from './inferenceProtocol.ts';
import { OnnxModelSession } from './onnxSession.ts';

const port = parentPort;
if (!port) throw new Error('inferenceWorker.ts must run in a worker thread');
const { settings } = workerData as WorkerStartData;
const sessions = new Map<string, Promise<OnnxModelSession>>();

function sessionFor(modelPath: string): Promise<OnnxModelSession> {
  const session = sessions.get(modelPath);
  if (!session) throw new Error(`model ${modelPath} was not opened`);
  return session;
}

async function handle(request: InferenceRequest): Promise<InferenceResponse> {
  switch (request.kind) {
    case 'open': {
      let opening = sessions.get(request.modelPath);
      if (!opening) {
        opening = OnnxModelSession.open(request.modelPath, request.io, settings);
        sessions.set(request.modelPath, opening);
        // A failed open must not poison later attempts.
        opening.catch(() => sessions.delete(request.modelPath));
      }
      const session = await opening;
      return { id: request.id, ok: true, kind: 'open', report: session.report };
    }
    case 'run': {
      const session = await sessionFor(request.modelPath);
      const started = performance.now();
      const output = await session.run(request.input, request.batch, request.height, request.width);
      // ORT may hand back a view on a larger buffer; copy so the transfer moves exactly the output.
      const owned =
        output.byteOffset === 0 && output.buffer.byteLength === output.byteLength
          ? output
          : output.slice();
      return {
        id: request.id,
        ok: true,
        kind: 'run',
        output: owned,
        elapsedMs: performance.now() - started,
      };
    }
    case 'close': {
      const all = [...sessions.values()];
      sessions.clear();
      await Promise.allSettled(all.map(async (opening) => (await opening).release()));
      return { id: request.id, ok: true, kind: 'close' };
    }
  }
}

port.on('message', (request: InferenceRequest) => {
  handle(request).then(
    (response) => {
      const transfer =
        response.ok && response.kind === 'run' ? [response.output.buffer as ArrayBuffer] : [];
      port.postMessage(response, transfer);
    },
    (error: unknown) => {
      const message = error instanceof Error ? error.message : String(error);
      port.postMessage({
        id: request.id,
        ok: false,
        message,
        allocationFailure: isAllocationFailure(message),
      });
    },
  );
});
