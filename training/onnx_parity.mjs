// Runs ONNX models in onnxruntime-node (the runtime the app ships) on raw float32 inputs, so
// the Python side (export parity, int8 calibration checks) needs no Python onnxruntime.
// Usage: node training/onnx_parity.mjs jobs.json
// jobs.json: [{ "model": "a.onnx", "inputs": [{ "file": "in.f32", "dims": [1, 1, H, W] }, ...],
//              "output": "out.f32", "optimize": true }, ...]; inputs are fed in the graph's
// input order. "optimize": false runs the graph as written (no fusion into integer kernels).
// One session per model file and setting, created once (single-threaded, like a parity check
// should be).
import { readFileSync, writeFileSync } from 'node:fs';
import ort from 'onnxruntime-node';

// The runtime reads this at its first session: no telemetry from our tools either (docs/engine.md).
process.env.ORT_DISABLE_TELEMETRY ??= '1';

const jobs = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const sessions = new Map();
const report = [];
for (const job of jobs) {
  const optimize = job.optimize !== false;
  const key = `${optimize}:${job.model}`;
  let session = sessions.get(key);
  if (!session) {
    session = await ort.InferenceSession.create(job.model, {
      executionProviders: ['cpu'],
      intraOpNumThreads: 1,
      graphOptimizationLevel: optimize ? 'all' : 'disabled',
    });
    sessions.set(key, session);
  }
  const feeds = {};
  job.inputs.forEach((input, i) => {
    const buf = readFileSync(input.file);
    const data = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
    feeds[session.inputNames[i]] = new ort.Tensor('float32', data, input.dims);
  });
  const result = await session.run(feeds);
  const out = result[session.outputNames[0]];
  writeFileSync(job.output, Buffer.from(out.data.buffer, out.data.byteOffset, out.data.byteLength));
  report.push({ inputNames: session.inputNames, outputNames: session.outputNames, dims: out.dims });
}
console.log(JSON.stringify(report));
