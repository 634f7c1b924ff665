/**
 * Worker-thread entry: owns one long-lived ONNX Runtime session per model file, so the main
 * thread (Electron UI, HTTP server, CLI progress bar) never blocks on inference.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { isAllocationFailure } from './allocationFailure.ts';
import type { InferenceRequest, InferenceResponse, WorkerStartData } from './inferenceProtocol.ts';
import { type ModelIoNames, OnnxModelSession } from './onnxSession.ts';

const port = parentPort;
if (!port) throw new Error('inferenceWorker.ts must run in a worker thread');
const { settings } = workerData as WorkerStartData;
const DEFAULT_IDLE_RELEASE_MS = 60_000;
const idleReleaseMs = settings.idleReleaseMs ?? DEFAULT_IDLE_RELEASE_MS;
const sessions = new Map<string, Promise<OnnxModelSession>>();
/** Every model opened so far, so a session released while idle can be reopened on demand. */
const opened = new Map<string, ModelIoNames>();
let requestsInFlight = 0;
let idleTimer: NodeJS.Timeout | null = null;

function openSession(modelPath: string, io: ModelIoNames): Promise<OnnxModelSession> {
  let opening = sessions.get(modelPath);
  if (!opening) {
    opening = OnnxModelSession.open(modelPath, io, settings);
    sessions.set(modelPath, opening);
    // A failed open must not poison later attempts.
    opening.catch(() => sessions.delete(modelPath));
  }
  return opening;
}

function sessionFor(modelPath: string): Promise<OnnxModelSession> {
  const io = opened.get(modelPath);
  if (!io) throw new Error(`model ${modelPath} was not opened`);
  return openSession(modelPath, io);
}

async function releaseAll(): Promise<void> {
  const all = [...sessions.values()];
  sessions.clear();
  await Promise.allSettled(all.map(async (opening) => (await opening).release()));
}

/** Stops the idle countdown, and restarts it when no model work is in flight. */
function armIdleRelease(): void {
  if (idleTimer) clearTimeout(idleTimer);
  idleTimer = null;
  if (idleReleaseMs <= 0 || requestsInFlight > 0 || sessions.size === 0) return;
  idleTimer = setTimeout(() => {
    idleTimer = null;
    void releaseAll();
  }, idleReleaseMs);
  idleTimer.unref();
}

async function handle(request: InferenceRequest): Promise<InferenceResponse> {
  switch (request.kind) {
    case 'open': {
      const session = await openSession(request.modelPath, request.io);
      opened.set(request.modelPath, request.io);
      return { id: request.id, ok: true, kind: 'open', report: session.report };
    }
    case 'run': {
      const session = await sessionFor(request.modelPath);
      const started = performance.now();
      const output = await session.run(
        request.input,
        request.batch,
        request.height,
        request.width,
        request.bicubic,
      );
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
    case 'release': {
      const opening = sessions.get(request.modelPath);
      sessions.delete(request.modelPath);
      if (opening) await (await opening).release();
      return { id: request.id, ok: true, kind: 'release' };
    }
    case 'status':
      return { id: request.id, ok: true, kind: 'status', openModels: [...sessions.keys()] };
    case 'close': {
      opened.clear();
      await releaseAll();
      return { id: request.id, ok: true, kind: 'close' };
    }
  }
}

port.on('message', (request: InferenceRequest) => {
  // Only model work counts as activity: asking which sessions are open must not keep them.
  const isWork = request.kind === 'open' || request.kind === 'run';
  if (isWork) {
    requestsInFlight++;
    armIdleRelease();
  }
  const settled = handle(request).finally(() => {
    if (!isWork) return;
    requestsInFlight--;
    armIdleRelease();
  });
  settled.then(
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
