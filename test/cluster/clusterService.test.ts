/**
 * The app's side of the cluster queue against a real redis-server: the "Run on" setting
 * (validated, persisted, never in a job), "Test connection", the Workers view from the
 * heartbeats, the request handlers' checks, and a job added through the app's batch service
 * that runs on a worker process and arrives as the batch queue's own events and report.
 */
import { readFileSync } from 'node:fs';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobType } from 'bullmq';
import type { BatchEvent, JobFile } from '../../src/shared/jobs.ts';
import { AllowedFolders } from '../../src/main/api/allowedFolders.ts';
import { clusterHandlers } from '../../src/main/api/clusterHandlers.ts';
import { createClusterParts, type ClusterParts } from '../../src/main/api/clusterService.ts';
import type { BatchService } from '../../src/main/api/services.ts';
import { InvalidArgument } from '../../src/main/api/validate.ts';
import type { ImageUpscaler } from '../../src/main/batch/imageUpscaler.ts';
import { ClusterStore, type WorkerBeat } from '../../src/main/cluster/clusterStore.ts';
import { parseQueueAddress } from '../../src/main/cluster/queueConnection.ts';
import {
  fixtureUpscaler,
  jobInputs,
  listFiles,
  makeTempDir,
  rawImage,
  removeDir,
  testSettings,
  writeImage,
} from '../batch/batchFixtures.ts';
import {
  freePort,
  startRedis,
  stopAll,
  worker,
  type CliProcess,
  type RedisServer,
} from './clusterHarness.ts';

let root: string;
let redis: RedisServer;
let upscaler: ImageUpscaler;
const started: CliProcess[] = [];
const opened: ClusterParts[] = [];

beforeAll(async () => {
  root = await makeTempDir('cluster-service');
  await mkdir(path.join(root, 'redis'));
  redis = await startRedis(path.join(root, 'redis'));
  upscaler = await fixtureUpscaler();
});
afterAll(async () => {
  for (const parts of opened) await parts.close();
  await stopAll(started);
  await upscaler?.close();
  await redis?.stop();
  await removeDir(root);
});

function parts(dataDir: string, allowed = new AllowedFolders()): ClusterParts {
  const made = createClusterParts({ dataDir, upscaler, allowedFolders: allowed });
  opened.push(made);
  return made;
}

/** A local batch service that must not be used: the queued job never reaches it. */
function noLocalBatch(): BatchService {
  const refuse = (): never => {
    throw new Error('the local queue was used');
  };
  return {
    photos: refuse,
    preflight: refuse,
    add: refuse,
    rebuild: refuse,
    snapshot: () => ({ jobs: [], progress: {} }),
    pause: refuse,
    resume: refuse,
    cancel: refuse,
    retryFailed: refuse,
    remove: refuse,
    report: refuse,
    verify: refuse,
    rerun: refuse,
    job: refuse,
  };
}

describe('Run on: the setting', () => {
  it('is this computer until chosen; a queue address is validated, stored beside the settings and read back', async () => {
    const dataDir = path.join(root, 'setting');
    const first = parts(dataDir);
    expect(await first.service.runOn()).toEqual({ runOn: { kind: 'local' }, display: null });

    const address = `redis://:s3cret@127.0.0.1:${redis.port}/2`;
    expect(await first.service.setRunOn({ kind: 'queue', address })).toEqual({
      runOn: { kind: 'queue', address },
      display: `redis://:***@127.0.0.1:${redis.port}/2`,
    });
    const file = path.join(dataDir, 'run-on.json');
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({ kind: 'queue', address });
    // It holds a password: readable by its owner only.
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    // A fresh start reads it back.
    expect((await parts(dataDir).service.runOn()).runOn).toEqual({ kind: 'queue', address });

    await expect(
      first.service.setRunOn({ kind: 'queue', address: 'http://example.com' }),
    ).rejects.toThrow(
      new InvalidArgument(
        'The address must start with redis:// or rediss:// (got "http://example.com").',
      ),
    );
    await expect(first.service.setRunOn({ kind: 'queue', address: '  ' })).rejects.toThrow(
      'Type the queue’s address, such as redis://server:6379.',
    );
    // A refused value leaves the stored one as it was.
    expect((await first.service.runOn()).runOn).toEqual({ kind: 'queue', address });
    expect(await first.service.setRunOn({ kind: 'local' })).toEqual({
      runOn: { kind: 'local' },
      display: null,
    });
  });

  it('the handlers check their arguments before the service sees them', async () => {
    const handlers = clusterHandlers(
      parts(path.join(root, 'handlers')).service,
      (what) => new Error(`${what} unavailable`),
    );
    await expect(handlers['cluster:setRunOn'](['redis://x'])).rejects.toThrow(
      'run on must be an object',
    );
    await expect(handlers['cluster:setRunOn']([{ kind: 'cloud' }])).rejects.toThrow(
      '“Run on” must be this computer or a queue address.',
    );
    await expect(handlers['cluster:test']([42])).rejects.toThrow(InvalidArgument);
    await expect(
      handlers['cluster:test']([`redis://127.0.0.1:${redis.port}`, 'x']),
    ).rejects.toThrow(InvalidArgument);
    await expect(handlers['cluster:workers']([])).rejects.toThrow(
      'Jobs run on this computer: there are no queue workers to show.',
    );
    const none = clusterHandlers(undefined, (what) => new Error(`${what} unavailable`));
    await expect(none['cluster:runOn']([])).rejects.toThrow('the cluster queue unavailable');
  });
});

describe('Test connection', () => {
  it('answers the Redis version and the workers connected, or one plain sentence without the password', async () => {
    const service = parts(path.join(root, 'test-connection')).service;
    const version = (await redis.client().info('server')).match(/redis_version:([\d.]+)/)![1]!;
    expect(await service.test(`redis://127.0.0.1:${redis.port}`)).toEqual({
      ok: true,
      message: `Connected to Redis ${version} at redis://127.0.0.1:${redis.port}: 0 workers connected.`,
      redisVersion: version,
      workersConnected: 0,
    });
    const closed = await freePort();
    expect(await service.test(`redis://:hunter2@127.0.0.1:${closed}`)).toEqual({
      ok: false,
      message: `Cannot reach Redis at redis://:***@127.0.0.1:${closed}: connection refused (is redis-server running there?)`,
      redisVersion: null,
      workersConnected: null,
    });
    expect((await service.test('redis.example.com:6379')).message).toBe(
      'The address must start with redis:// or rediss:// (got "redis.example.com:6379").',
    );
  });
});

describe('Workers', () => {
  it('each worker from its heartbeat: working, idle, or lost once it stopped beating', async () => {
    const service = parts(path.join(root, 'workers')).service;
    const url = `redis://127.0.0.1:${redis.port}/3`;
    await service.setRunOn({ kind: 'queue', address: url });
    const store = new ClusterStore(parseQueueAddress(url));
    const now = Date.now();
    const beat = (id: string, ageMs: number, extra: Partial<WorkerBeat>): WorkerBeat => ({
      id,
      host: id.split(':')[0]!,
      pid: 1,
      device: 'auto',
      concurrency: 1,
      startedAt: new Date(now - 60_000).toISOString(),
      seenAt: new Date(now - ageMs).toISOString(),
      done: 7,
      failed: 1,
      filesPerMinute: 3,
      jobId: 'job-1',
      ...extra,
    });
    try {
      await store.beat(
        beat('gpu-box:10', 1000, { currentFiles: ['/nas/a.jpg'], provider: 'cuda' }),
      );
      await store.beat(beat('laptop:20', 2000, { currentFiles: [], provider: 'cpu', jobId: null }));
      await store.beat(beat('old-pc:30', 40_000, { currentFiles: ['/nas/b.jpg'] }));
      await store.beat(beat('gone:40', 3_600_000, {}));
      const view = await service.workers();
      expect(view.queue).toBe(url);
      expect(view.connected).toBe(2);
      expect(
        view.workers.map(({ beatAgeMs, ...rest }) => ({ ...rest, aged: beatAgeMs >= 0 })),
      ).toEqual([
        {
          id: 'gpu-box:10',
          host: 'gpu-box',
          device: 'cuda',
          state: 'working',
          currentFile: '/nas/a.jpg',
          filesPerMinute: 3,
          done: 7,
          failed: 1,
          jobId: 'job-1',
          aged: true,
        },
        {
          id: 'laptop:20',
          host: 'laptop',
          device: 'cpu',
          state: 'idle',
          currentFile: null,
          filesPerMinute: 3,
          done: 7,
          failed: 1,
          jobId: null,
          aged: true,
        },
        {
          id: 'old-pc:30',
          host: 'old-pc',
          device: 'auto',
          state: 'lost',
          currentFile: '/nas/b.jpg',
          filesPerMinute: 3,
          done: 7,
          failed: 1,
          jobId: 'job-1',
          aged: true,
        },
      ]);
      const ages = Object.fromEntries(view.workers.map((w) => [w.id, w.beatAgeMs]));
      expect(ages['gpu-box:10']).toBeGreaterThanOrEqual(1000);
      expect(ages['old-pc:30']).toBeGreaterThanOrEqual(40_000);
      // A heartbeat an hour old is forgotten, not shown.
      expect(await store.redis.hexists('cmsc:workers', 'gone:40')).toBe(0);
    } finally {
      await store.redis.flushdb();
      await store.close();
    }
  });

  it('an unreachable queue is one plain sentence', async () => {
    const service = parts(path.join(root, 'workers-down')).service;
    const closed = await freePort();
    await service.setRunOn({ kind: 'queue', address: `redis://:pw@127.0.0.1:${closed}` });
    await expect(service.workers()).rejects.toThrow(
      new InvalidArgument(
        `Cannot reach Redis at redis://:***@127.0.0.1:${closed}: connection refused (is redis-server running there?)`,
      ),
    );
  });
});

describe('a job added while the queue is chosen', () => {
  it('runs on a worker process and arrives as the batch queue’s events, summary and report', async () => {
    const dataDir = path.join(root, 'job-data');
    const allowed = new AllowedFolders();
    const cluster = parts(dataDir, allowed);
    const url = `redis://127.0.0.1:${redis.port}/4`;
    await cluster.service.setRunOn({ kind: 'queue', address: url });
    const batch = cluster.batch(noLocalBatch());
    const events: BatchEvent[] = [];
    const unsubscribe = cluster.subscribe((event) => events.push(event.payload));

    const photos = path.join(root, 'photos');
    const output = path.join(root, 'photos-out');
    for (let i = 0; i < 3; i++)
      await writeImage(path.join(photos, `p${i}.png`), rawImage(40 + i, 30, 3));
    const job = await batch.add(jobInputs([photos]), testSettings({ outputFolder: output }));
    expect(job.queue).toBe(url);
    expect(job.files.map((file) => file.state)).toEqual(['queued', 'queued', 'queued']);
    // The output folder became usable by the UI (verify, open), as a local job's does.
    expect(allowed.list()).toContain(output);
    expect(batch.snapshot().jobs.map((j) => j.id)).toEqual([job.id]);

    const running = worker(url, root, 1000);
    started.push(running);
    const finished = await waitFor(
      () => events.find((event) => event.type === 'job-summary'),
      90_000,
      () => running.out() + running.err(),
    );
    unsubscribe();
    expect(finished.type === 'job-summary' && finished.summary.counts.done).toBe(3);
    expect(events[0]).toMatchObject({ type: 'job-added', job: { id: job.id, queue: url } });
    const doneFiles = events
      .filter(
        (event): event is Extract<BatchEvent, { type: 'file-state' }> =>
          event.type === 'file-state',
      )
      .map((event) => event.file)
      .filter((file: JobFile) => file.state === 'done');
    expect(doneFiles.map((file) => file.relativePath).sort()).toEqual([
      'p0.png',
      'p1.png',
      'p2.png',
    ]);
    expect(doneFiles.map((file) => file.outputWidth).sort()).toEqual([80, 82, 84]);
    const lastProgress = events.filter((event) => event.type === 'progress').at(-1);
    expect(lastProgress).toMatchObject({ progress: { filesTotal: 3, filesFinished: 3 } });
    expect(events.filter((event) => event.type === 'job-state').at(-1)).toEqual({
      type: 'job-state',
      jobId: job.id,
      state: 'finished',
    });
    expect((await listFiles(output)).filter((name) => name.endsWith('.png')).sort()).toEqual([
      'p0_x2.png',
      'p1_x2.png',
      'p2_x2.png',
    ]);
    const report = await batch.report(job.id);
    expect(report.text.split('\n').filter((line) => /,done,/.test(line))).toHaveLength(3);
    expect((await batch.verify(job.id)).intact).toBe(3);
    expect(batch.job(job.id).state).toBe('finished');
  }, 120_000);
});

async function waitFor<T>(
  find: () => T | undefined,
  timeoutMs: number,
  context: () => string,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const found = find();
    if (found !== undefined) return found;
    if (Date.now() > until) throw new Error(`timed out; worker said:\n${context()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('Pause, Resume and Cancel of a job on the queue', () => {
  it('pause the BullMQ queue, resume it, and cancel drains what waits and ends the job', async () => {
    const cluster = parts(path.join(root, 'controls-data'));
    const url = `redis://127.0.0.1:${redis.port}/7`;
    await cluster.service.setRunOn({ kind: 'queue', address: url });
    const batch = cluster.batch(noLocalBatch());
    const events: BatchEvent[] = [];
    const unsubscribe = cluster.subscribe((event) => events.push(event.payload));
    const photos = path.join(root, 'controls-photos');
    for (let i = 0; i < 3; i++)
      await writeImage(path.join(photos, `c${i}.png`), rawImage(40 + i, 30, 3));
    // No worker: the files wait on the queue.
    const job = await batch.add(jobInputs([photos]), testSettings());
    const store = new ClusterStore(parseQueueAddress(url));
    try {
      const queue = store.queue(job.id);
      expect(await queue.getJobCounts('waiting')).toEqual({ waiting: 3 });

      await batch.pause(job.id, 'after-photo');
      expect(batch.job(job.id).state).toBe('paused');
      expect(await queue.isPaused()).toBe(true);
      expect((await store.job(job.id))?.state).toBe('paused');

      await batch.resume(job.id);
      expect(batch.job(job.id).state).toBe('running');
      expect(await queue.isPaused()).toBe(false);

      await batch.cancel(job.id);
      // BullMQ 6 no longer types the legacy `paused` list (a paused queue keeps its jobs in wait),
      // but its counts script still reads it: neither list may hold a cancelled job's files.
      const legacyPausedList = 'paused' as JobType;
      expect(await queue.getJobCounts('waiting', legacyPausedList)).toEqual({
        waiting: 0,
        paused: 0,
      });
      expect((await store.job(job.id))?.state).toBe('cancelled');
      const ended = batch.job(job.id);
      expect([ended.state, ended.summary?.counts.cancelled]).toEqual(['cancelled', 3]);
      expect(
        events.filter((event) => event.type === 'job-state').map((event) => event.state),
      ).toEqual(['running', 'paused', 'running', 'cancelled']);

      await batch.remove(job.id);
      expect(batch.snapshot().jobs).toEqual([]);
      expect(events.at(-1)).toEqual({ type: 'job-removed', jobId: job.id });
    } finally {
      unsubscribe();
      await store.close();
    }
  });
});

describe('a job started while the queue cannot be reached', () => {
  it('is refused in one plain sentence, and nothing is queued anywhere', async () => {
    const cluster = parts(path.join(root, 'down-data'));
    const closed = await freePort();
    await cluster.service.setRunOn({ kind: 'queue', address: `redis://:pw@127.0.0.1:${closed}` });
    const batch = cluster.batch(noLocalBatch());
    const photos = path.join(root, 'down-photos');
    await writeImage(path.join(photos, 'a.png'), rawImage(40, 30, 3));
    await expect(batch.add(jobInputs([photos]), testSettings())).rejects.toThrow(
      new InvalidArgument(
        `Cannot reach Redis at redis://:***@127.0.0.1:${closed}: connection refused (is redis-server running there?)`,
      ),
    );
    expect(batch.snapshot().jobs).toEqual([]);
  });
});

describe('a transient failure on the queue', () => {
  it('is retried with backoff and the job ends done, as the app sees it', async () => {
    const dataDir = path.join(root, 'retry-data');
    const cluster = parts(dataDir);
    const url = `redis://127.0.0.1:${redis.port}/5`;
    await cluster.service.setRunOn({ kind: 'queue', address: url });
    const batch = cluster.batch(noLocalBatch());
    const events: BatchEvent[] = [];
    const unsubscribe = cluster.subscribe((event) => events.push(event.payload));

    const photos = path.join(root, 'retry-photos');
    const output = path.join(root, 'retry-out');
    await writeImage(path.join(photos, 'top.png'), rawImage(40, 30, 3));
    await writeImage(path.join(photos, 'sub', 'deep.png'), rawImage(44, 30, 3));
    // The share "went away" for the sub-folder: a file stands where its output folder goes.
    await mkdir(output, { recursive: true });
    await writeFile(path.join(output, 'sub'), 'in the way');
    const job = await batch.add(jobInputs([photos]), testSettings({ outputFolder: output }));

    const running = worker(url, root, 1000);
    started.push(running);
    await running.waitFor(/^retry \S+ \S*deep\.png: .*\(output-not-writable\); attempt 1 of 4$/m);
    // Neither the job nor the file is over: a failure that will be retried is no outcome.
    expect(batch.job(job.id).state).toBe('running');
    expect(
      events.some((event) => event.type === 'file-state' && event.file.state === 'failed'),
    ).toBe(false);
    await rm(path.join(output, 'sub'));

    const finished = await waitFor(
      () => events.find((event) => event.type === 'job-summary'),
      60_000,
      () => running.out() + running.err(),
    );
    unsubscribe();
    expect(finished.type === 'job-summary' && finished.summary.counts).toMatchObject({
      done: 2,
      failed: 0,
    });
    const deep = batch.job(job.id).files.find((file) => file.relativePath === 'sub/deep.png')!;
    expect([deep.state, deep.attempts]).toEqual(['done', 2]);
    expect((await listFiles(output)).filter((name) => name.endsWith('.png')).sort()).toEqual([
      'sub/deep_x2.png',
      'top_x2.png',
    ]);
  }, 120_000);
});

describe('the app restarted while its job was on the queue', () => {
  it('follows the job again from Redis and ends it when a worker has done its files', async () => {
    const dataDir = path.join(root, 'restart-data');
    const url = `redis://127.0.0.1:${redis.port}/6`;
    const photos = path.join(root, 'restart-photos');
    const output = path.join(root, 'restart-out');
    await writeImage(path.join(photos, 'a.png'), rawImage(40, 30, 3));
    await writeImage(path.join(photos, 'b.png'), rawImage(42, 30, 3));
    const before = parts(dataDir);
    await before.service.setRunOn({ kind: 'queue', address: url });
    const job = await before
      .batch(noLocalBatch())
      .add(jobInputs([photos]), testSettings({ outputFolder: output }));
    // The app stops before any worker took a file.
    await before.close();
    const journal = path.join(dataDir, 'cluster', 'queued-jobs.json');
    expect(JSON.parse(await readFile(journal, 'utf8'))).toEqual([{ id: job.id, address: url }]);
    expect((await stat(journal)).mode & 0o777).toBe(0o600);

    const after = parts(dataDir);
    const events: BatchEvent[] = [];
    // What the journal holds at the moment the summary announces the end (read synchronously,
    // before anything else runs): someone who quits on seeing it must not find the job restored.
    let journalAtSummary: unknown = null;
    const unsubscribe = after.subscribe((event) => {
      events.push(event.payload);
      if (event.payload.type === 'job-summary')
        journalAtSummary = JSON.parse(readFileSync(journal, 'utf8'));
    });
    const batch = after.batch(noLocalBatch());
    const again = await waitFor(
      () => batch.snapshot().jobs.find((candidate) => candidate.id === job.id),
      10_000,
      () => 'the job was not restored',
    );
    expect([again.queue, again.files.length]).toEqual([url, 2]);

    const running = worker(url, root, 1000);
    started.push(running);
    const finished = await waitFor(
      () => events.find((event) => event.type === 'job-summary'),
      60_000,
      () => running.out() + running.err(),
    );
    unsubscribe();
    expect(finished.type === 'job-summary' && finished.summary.counts.done).toBe(2);
    expect(batch.job(job.id).state).toBe('finished');
    // A finished job leaves the journal (its report is in its output folder), before its end is announced.
    expect(journalAtSummary).toEqual([]);
    expect(JSON.parse(await readFile(journal, 'utf8'))).toEqual([]);
    expect((await listFiles(output)).filter((name) => name.endsWith('.png')).sort()).toEqual([
      'a_x2.png',
      'b_x2.png',
    ]);
  }, 120_000);
});
