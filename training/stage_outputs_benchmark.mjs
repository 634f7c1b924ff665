// Times onnxruntime-node runs for training/stage_outputs_benchmark.py (see there).
import ort from 'onnxruntime-node';

// The runtime reads this at its first session: no telemetry from our tools either (docs/engine.md).
process.env.ORT_DISABLE_TELEMETRY ??= '1';

const [specJson, size, repeat, threads] = process.argv.slice(2);
const n = Number(size);
const input = new ort.Tensor('float32', Float32Array.from({ length: n * n }, () => Math.random()), [1, 1, n, n]);
for (const { label, model, output } of JSON.parse(specJson)) {
  const session = await ort.InferenceSession.create(model, {
    executionProviders: ['cpu'],
    intraOpNumThreads: Number(threads),
  });
  await session.run({ lr_y: input }, [output]); // warm-up
  const times = [];
  for (let i = 0; i < Number(repeat); i++) {
    const t = performance.now();
    await session.run({ lr_y: input }, [output]);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  console.log(`  ${label.padEnd(45)} ${times[Math.floor(times.length / 2)].toFixed(0).padStart(7)} ms`);
}
