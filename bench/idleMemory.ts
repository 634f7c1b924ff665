/**
 * `npm run bench:idle-memory [-- --model cmsc-lite --size 1024 --idle-ms 3000]`
 *
 * What an idle app keeps: resident memory of a fresh engine before any work, right after
 * upscaling one photo (the engine's own tile size), and once the inference worker has released
 * its sessions after `--idle-ms` without a request (0: never, for comparison). Prints numbers;
 * asserts nothing.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createEngine } from '../src/main/engine/index.ts';
import { DEFAULT_UPSCALE_OPTIONS } from '../src/shared/upscaleOptions.ts';
import { REPO_ROOT, writeNoisePng } from './benchModel.ts';
import { MIB, memoryStatus } from './memory.ts';
import { fixed, formatTable } from './table.ts';

const { values } = parseArgs({
  options: {
    models: { type: 'string', default: path.join(REPO_ROOT, 'models') },
    model: { type: 'string', default: 'cmsc-lite' },
    size: { type: 'string', default: '1024' },
    'idle-ms': { type: 'string', default: '3000' },
  },
});
const size = Number(values.size);
const idleReleaseMs = Number(values['idle-ms']);
const rssMib = () => {
  const status = memoryStatus();
  return status === null ? 'n/a' : fixed(status.rss / MIB, 0);
};

const work = await mkdtemp(path.join(tmpdir(), 'cmsc-idle-'));
const engine = await createEngine({ modelsDirs: [values.models], device: 'cpu', idleReleaseMs });
try {
  const input = path.join(work, 'in.png');
  await writeNoisePng(input, size / 2);
  const rows: string[][] = [['fresh engine', rssMib()]];
  const result = await engine.upscaleFile(input, path.join(work, 'out.png'), {
    ...DEFAULT_UPSCALE_OPTIONS,
    model: values.model,
    format: 'png',
  });
  rows.push([
    `after one ${size}² output (${result.tiles} tile(s) of ≤ ${result.tileSize} px)`,
    rssMib(),
  ]);
  await new Promise((resolve) => setTimeout(resolve, idleReleaseMs + 1500));
  rows.push([
    `${fixed((idleReleaseMs + 1500) / 1000, 1)} s idle (${idleReleaseMs > 0 ? 'sessions released' : 'idle release off'})`,
    rssMib(),
  ]);
  console.log(`${values.model}, idle release after ${idleReleaseMs} ms\n`);
  console.log(formatTable(['moment', 'resident MiB'], rows));
} finally {
  await engine.close();
  await rm(work, { recursive: true, force: true });
}
