// Runs an ONNX model once in onnxruntime-node (the runtime the app ships) on a raw
// float32 input, so the Python export can check parity against PyTorch without a Python
// onnxruntime. Usage: node training/onnx_parity.mjs model.onnx in.f32 out.f32 N H W
import { readFileSync, writeFileSync } from 'node:fs';
import ort from 'onnxruntime-node';

const [model, inPath, outPath, n, h, w] = process.argv.slice(2);
const dims = [Number(n), 1, Number(h), Number(w)];
const buf = readFileSync(inPath);
const data = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
const session = await ort.InferenceSession.create(model, { executionProviders: ['cpu'], intraOpNumThreads: 1 });
const result = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', data, dims) });
const out = result[session.outputNames[0]];
writeFileSync(outPath, Buffer.from(out.data.buffer, out.data.byteOffset, out.data.byteLength));
console.log(JSON.stringify({ inputNames: session.inputNames, outputNames: session.outputNames, dims: out.dims }));
