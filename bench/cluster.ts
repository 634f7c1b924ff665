/**
 * `npm run bench:cluster [-- --photos 8 --megapixels 1 --model cmsc-fast --tasks 10000]`
 *
 * The cluster queue on this machine, with a real redis-server (append-only, fsync every second,
 * as the README recommends) and real processes:
 *  1. throughput with 1, 2 and 3 workers (each `--threads 1`) on the same folder of photos;
 *  2. the queue's overhead per file: the same folder upscaled by a local run (`--threads 1`)
 *     against a submitter and one warm worker (`--threads 1`): the time outside the photos' own
 *     work (wall from the command's start to its exit, less the report's per-file times), per
 *     photo, which stays comparable when other work on the machine changes the photos' speed;
 *  3. 10,000 queued tasks: the time to submit them, Redis memory per task (waiting, and kept
 *     once completed), the time `status` takes, and how fast one process drains them when a
 *     file costs nothing (a worker whose processor returns at once: the queue's own ceiling);
 *  4. what a worker's commit reads: the output folder's manifest, read afresh under the
 *     folder's lock, timed at 1,000 / 10,000 / 40,000 records.
 * `--parts workers,tasks,manifest` picks what runs. Prints numbers; asserts nothing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import sharp from 'sharp';
import { MANIFEST_FILE_NAME, OutputManifest } from '../src/main/batch/outputManifest.ts';
import { ClusterStore, KEY_PREFIX, jobQueueName } from '../src/main/cluster/clusterStore.ts';
import { bullConnection, parseQueueAddress } from '../src/main/cluster/queueConnection.ts';
import { taskFor, taskId } from '../src/main/cluster/taskPayload.ts';
import type { JobFile } from '../src/shared/jobs.ts';
import { texturedPixels } from '../test/helpers/testImages.ts';
import { freePort } from '../test/cluster/clusterHarness.ts';

const { values } = parseArgs({
  options: {
    photos: { type: 'string', default: '8' },
    megapixels: { type: 'string', default: '1' },
    model: { type: 'string', default: 'cmsc-fast' },
    tasks: { type: 'string', default: '10000' },
    workers: { type: 'string', default: '1,2,3' },
    parts: { type: 'string', default: 'workers,tasks,manifest' },
    rounds: { type: 'string', default: '1' },
  },
});
const parts = new Set(values.parts.split(','));
const rounds = Number(values.rounds);
const photoCount = Number(values.photos);
const megapixels = Number(values.megapixels);
const taskCount = Number(values.tasks);
const repoRoot = path.resolve(import.meta.dirname, '..');
const root = await mkdtemp(path.join(tmpdir(), 'cmsc-bench-cluster-'));
const children: ChildProcess[] = [];

function cli(
  args: string[],
  env: Record<string, string> = {},
): { proc: ChildProcess; done: Promise<{ code: number | null; ms: number; out: string }> } {
  const started = performance.now();
  const proc = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(repoRoot, 'src/main/cli/main.ts'), ...args],
    {
      cwd: repoRoot,
      env: { ...process.env, XDG_CONFIG_HOME: path.join(root, 'config'), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  children.push(proc);
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const done = once(proc, 'exit').then(([code]) => ({
    code: code as number | null,
    ms: performance.now() - started,
    out,
  }));
  return { proc, done };
}

async function startRedis(): Promise<{ port: number; url: string; stop: () => Promise<void> }> {
  const port = await freePort();
  const dir = path.join(root, 'redis');
  await mkdir(dir, { recursive: true });
  const proc = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--appendonly',
      'yes',
      '--appendfsync',
      'everysec',
      '--save',
      '',
    ],
    { stdio: 'ignore' },
  );
  const probe = new Redis({
    port,
    lazyConnect: true,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
  });
  probe.on('error', () => undefined);
  for (let i = 0; i < 100; i++) {
    try {
      await probe.connect();
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  probe.disconnect();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    stop: async () => {
      proc.kill('SIGTERM');
      await once(proc, 'exit');
    },
  };
}

async function makePhotos(folder: string): Promise<void> {
  await mkdir(folder, { recursive: true });
  const width = Math.round(Math.sqrt(megapixels * 1e6 * (4 / 3)));
  const height = Math.round((width * 3) / 4);
  for (let i = 0; i < photoCount; i++)
    await sharp(texturedPixels(width, height, 3, i), { raw: { width, height, channels: 3 } })
      .jpeg({ quality: 92 })
      .toFile(path.join(folder, `photo-${i}.jpg`));
}

const engineFlags = ['--model', values.model, '--device', 'cpu', '--threads', '1', '--scale', '2'];

async function startWorkers(url: string, n: number): Promise<ChildProcess[]> {
  const procs: ChildProcess[] = [];
  for (let i = 0; i < n; i++) {
    const w = cli(
      ['worker', '--queue', url, '--allow-output', root, '--device', 'cpu', '--threads', '1'],
      { CMSC_WORKER_STATE: path.join(root, 'worker-state') },
    );
    // Ready once it has said who it is.
    await new Promise<void>((resolve) => {
      const check = (d: Buffer): void => {
        if (/^worker /m.test(d.toString())) {
          w.proc.stdout!.off('data', check);
          resolve();
        }
      };
      w.proc.stdout!.on('data', check);
    });
    procs.push(w.proc);
  }
  return procs;
}

async function stopWorkers(procs: ChildProcess[]): Promise<void> {
  for (const p of procs) p.kill('SIGTERM');
  await Promise.all(procs.map((p) => (p.exitCode === null ? once(p, 'exit') : null)));
}

function line(text: string): void {
  process.stdout.write(`${text}\n`);
}

const redis = await startRedis();
try {
  line(
    `bench:cluster on ${availableParallelism()} cores, load ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}; Redis 127.0.0.1 (appendonly, fsync every second)`,
  );
  if (parts.has('workers')) await workerScaling();
  if (parts.has('tasks')) await tenThousandTasks();
  if (parts.has('manifest')) await manifestReads();
} finally {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await redis.stop();
  await rm(root, { recursive: true, force: true });
}

interface Run {
  label: string;
  workers: number;
  ms: number;
  /** Σ of the report's per-file times: the photos' own work, the same code locally and on a worker. */
  fileMs: number;
  load: number;
}

/** Σ timeMs over the files of the report in `outFolder`. */
async function reportFileMs(outFolder: string): Promise<number> {
  const name = (await readdir(outFolder)).find((f) => /^cmsc-report-.*\.json$/.test(f));
  if (!name) throw new Error(`no report in ${outFolder}`);
  const report = JSON.parse(await readFile(path.join(outFolder, name), 'utf8')) as {
    files: { timeMs: number | null }[];
  };
  return report.files.reduce((sum, row) => sum + (row.timeMs ?? 0), 0);
}

async function workerScaling(): Promise<void> {
  const photos = path.join(root, 'photos');
  await makePhotos(photos);
  line(
    `${photoCount} JPEG photos of ${megapixels} MP, model ${values.model}, scale 2, every process --threads 1, ${rounds} round(s), interleaved`,
  );
  const runs: Run[] = [];
  let index = 0;
  const once = async (workersWanted: number): Promise<void> => {
    const out = path.join(root, `out-${index++}`);
    const load = loadavg()[0]!;
    if (workersWanted === 0) {
      const local = await cli([photos, '--out', out, ...engineFlags]).done;
      if (local.code !== 0) throw new Error(`local run failed:\n${local.out}`);
      runs.push({
        label: 'local',
        workers: 0,
        ms: local.ms,
        fileMs: await reportFileMs(out),
        load,
      });
      return;
    }
    const workers = await startWorkers(redis.url, workersWanted);
    const run = await cli([photos, '--out', out, '--queue', redis.url, ...engineFlags]).done;
    if (run.code !== 0) throw new Error(`cluster run failed:\n${run.out}`);
    runs.push({
      label: `${workersWanted} worker${workersWanted > 1 ? 's' : ''}`,
      workers: workersWanted,
      ms: run.ms,
      fileMs: await reportFileMs(out),
      load,
    });
    await stopWorkers(workers);
  };
  const counts = values.workers.split(',').map(Number);
  for (let round = 0; round < rounds; round++) {
    // Local and one worker back to back (the overhead pair), then the rest.
    await once(0);
    for (const n of counts) await once(n);
  }
  line('');
  line('run          wall (s)  photos/min  Σ per-file (s)  outside files per photo (s)  load');
  for (const r of runs)
    line(
      `${r.label.padEnd(11)}  ${(r.ms / 1000).toFixed(1).padStart(8)}  ${((photoCount * 60000) / r.ms).toFixed(2).padStart(10)}  ${(r.fileMs / 1000).toFixed(1).padStart(14)}  ${((r.ms - r.fileMs / Math.max(1, r.workers)) / photoCount / 1000).toFixed(2).padStart(27)}  ${r.load.toFixed(1)}`,
    );
  const median = (list: number[]): number =>
    [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)]!;
  const perPhoto = (r: Run): number => r.ms / photoCount;
  const one = median(runs.filter((r) => r.workers === 1).map(perPhoto));
  line('');
  for (const n of counts)
    line(
      `${n} worker(s): ${(one / median(runs.filter((r) => r.workers === n).map(perPhoto))).toFixed(2)}x the photos per minute of 1 worker`,
    );
  // Overhead, robust to the load changing between runs: the time outside the photos' own work
  // (planning, start, queue), per photo, with 1 worker against a local run, over the photo's work.
  const outside = (r: Run): number => (r.ms - r.fileMs) / photoCount;
  const localRuns = runs.filter((r) => r.workers === 0);
  const oneRuns = runs.filter((r) => r.workers === 1);
  const work = median([...localRuns, ...oneRuns].map((r) => r.fileMs / photoCount));
  const extra = median(oneRuns.map(outside)) - median(localRuns.map(outside));
  line(
    `queue overhead per photo (1 worker vs local, time outside the photo's own work): ${(extra / 1000).toFixed(2)} s on ${(work / 1000).toFixed(2)} s of work per photo = ${((extra / work) * 100).toFixed(1)} %`,
  );
}

async function tenThousandTasks(): Promise<void> {
  // 3. 10,000 tasks.
  const address = parseQueueAddress(redis.url);
  const store = new ClusterStore(address);
  const admin = new Redis({ port: redis.port });
  const memory = async (): Promise<number> =>
    Number(/used_memory:(\d+)/.exec(await admin.info('memory'))![1]);
  const before = await memory();
  const jobId = 'job-bench-10k';
  const file = (id: number): JobFile => ({
    id,
    inputPath: `/mnt/nas/archive/2024/shoot-${Math.floor(id / 500)}/IMG_${String(id).padStart(5, '0')}.jpg`,
    relativePath: `2024/shoot-${Math.floor(id / 500)}/IMG_${String(id).padStart(5, '0')}.jpg`,
    inputBytes: 4_800_000,
    inputWidth: 4000,
    inputHeight: 3000,
    inputJpegQuality: 92,
    state: 'queued',
    reason: null,
    outputPath: null,
    outputBytes: null,
    outputWidth: null,
    outputHeight: null,
    elapsedMs: null,
    provider: null,
    attempts: 0,
  });
  const rssBefore = process.memoryUsage().rss;
  let t0 = performance.now();
  const queue = store.queue(jobId);
  for (let start = 0; start < taskCount; start += 1000) {
    await queue.addBulk(
      Array.from({ length: Math.min(1000, taskCount - start) }, (_, k) => {
        const f = file(start + k);
        return {
          name: 'file',
          data: taskFor(jobId, f),
          opts: {
            jobId: taskId(f.id),
            attempts: 4,
            backoff: { type: 'exponential', delay: 2000 },
            removeOnComplete: false,
            removeOnFail: false,
          },
        };
      }),
    );
  }
  const submitMs = performance.now() - t0;
  const waitingBytes = (await memory()) - before;
  t0 = performance.now();
  const status = await cli(['status', '--queue', redis.url]).done;
  const statusMs = performance.now() - t0;
  t0 = performance.now();
  const counts = await queue.getJobCounts('waiting', 'completed');
  const countsMs = performance.now() - t0;
  // Drain: one process, 50 at a time, a processor that returns a finished file's record.
  t0 = performance.now();
  let drained = 0;
  const drainer = new Worker(
    jobQueueName(jobId),
    async (task) => {
      drained++;
      const f = file((task.data as { fileId: number }).fileId);
      return {
        ...f,
        state: 'done',
        outputPath: f.inputPath.replace('.jpg', '_x2.jpg'),
        outputBytes: 9_000_000,
        outputWidth: 8000,
        outputHeight: 6000,
        elapsedMs: 41_000,
        provider: 'cpu',
        model: 'cmsc-fast',
        precision: 'int8',
        attempts: 1,
      };
    },
    { connection: bullConnection(address), prefix: KEY_PREFIX, concurrency: 50 },
  );
  while (drained < taskCount) await new Promise((r) => setTimeout(r, 100));
  await drainer.close();
  const drainMs = performance.now() - t0;
  const completedBytes = (await memory()) - before;
  line('');
  line(
    `${taskCount} tasks: submit ${(submitMs / 1000).toFixed(2)} s (${Math.round(taskCount / (submitMs / 1000))} tasks/s), Redis +${(waitingBytes / 2 ** 20).toFixed(1)} MiB waiting (${Math.round(waitingBytes / taskCount)} B/task)`,
  );
  line(
    `  status command ${(statusMs / 1000).toFixed(2)} s wall (process start included; counts query ${countsMs.toFixed(1)} ms: ${JSON.stringify(counts)}); exit ${status.code}`,
  );
  line(
    `  drain with a no-op processor, 1 process x 50: ${(drainMs / 1000).toFixed(2)} s (${Math.round(taskCount / (drainMs / 1000))} tasks/s)`,
  );
  line(
    `  Redis +${(completedBytes / 2 ** 20).toFixed(1)} MiB once all are completed and kept (${Math.round(completedBytes / taskCount)} B/task with its result); bench process RSS +${((process.memoryUsage().rss - rssBefore) / 2 ** 20).toFixed(0)} MiB`,
  );
  await queue.obliterate({ force: true });
  admin.disconnect();
  await store.close();
}

async function manifestReads(): Promise<void> {
  // 4. The manifest a worker reads before deciding and again under the folder's lock.
  line('');
  const folder = path.join(root, 'manifest');
  await mkdir(folder, { recursive: true });
  const record = (i: number): string =>
    JSON.stringify({
      target: `2024/shoot-${Math.floor(i / 500)}/IMG_${i}_x2.jpg`,
      output: {
        path: `2024/shoot-${Math.floor(i / 500)}/IMG_${i}_x2.jpg`,
        bytes: 9_000_000,
        mtimeMs: 1.7e12 + i,
        sha256: 'a'.repeat(64),
      },
      input: {
        path: `2024/shoot-${Math.floor(i / 500)}/IMG_${i}.jpg`,
        absolutePath: `/mnt/nas/archive/2024/shoot-${Math.floor(i / 500)}/IMG_${i}.jpg`,
        bytes: 4_800_000,
        mtimeMs: 1.6e12 + i,
        sha256: 'b'.repeat(64),
      },
      settingsDigest: 'c'.repeat(64),
      settings: {
        model: 'cmsc-fast',
        target: { kind: 'scale', scale: 2 },
        format: 'jpeg',
        quality: 92,
      },
      job: 'job-bench',
      writtenAt: new Date(1.7e12).toISOString(),
      program: 'cmsc-upscaler 0.1.0',
    });
  for (const count of [1000, 10_000, 40_000]) {
    const lines = [
      JSON.stringify({ cmscUpscalerManifest: 1, createdAt: new Date().toISOString() }),
    ];
    for (let i = 0; i < count; i++) lines.push(record(i));
    await writeFile(path.join(folder, MANIFEST_FILE_NAME), `${lines.join('\n')}\n`);
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      await OutputManifest.open(folder);
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    line(
      `manifest of ${count} records (${(lines.join('\n').length / 2 ** 20).toFixed(1)} MiB): read and parsed in ${times[2]!.toFixed(0)} ms (median of 5); a worker reads it twice per file, once under the folder's lock`,
    );
  }
}
