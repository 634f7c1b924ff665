/**
 * A worker trusts no task: paths outside its roots, payloads that do not validate and jobs made
 * with other model files are refused with a reason and never executed. Redis problems are one
 * line and exit code 2, and the password never shows.
 */
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_EXPORT_SETTINGS } from '../../src/shared/exportSettings.ts';
import { ClusterStore } from '../../src/main/cluster/clusterStore.ts';
import { parseQueueAddress } from '../../src/main/cluster/queueConnection.ts';
import { reasonFromText, type JobSpec } from '../../src/main/cluster/taskPayload.ts';
import { FIXTURE_MODELS_DIR, makeTempDir, writeTexturedImage } from '../helpers/testImages.ts';
import {
  cmsc,
  startRedis,
  stopAll,
  worker,
  type CliProcess,
  type RedisServer,
} from './clusterHarness.ts';

let temp: Awaited<ReturnType<typeof makeTempDir>>;
let redis: RedisServer;
const started: CliProcess[] = [];

beforeAll(async () => {
  temp = await makeTempDir();
  await mkdir(path.join(temp.dir, 'redis'));
  redis = await startRedis(path.join(temp.dir, 'redis'));
});
afterAll(async () => {
  await stopAll(started);
  await redis?.stop();
  await temp?.remove();
});

function track(p: CliProcess): CliProcess {
  started.push(p);
  return p;
}

describe('what a worker refuses', () => {
  it('a worker with other model files refuses the job in one line; one with the right models does it', async () => {
    const root = path.join(temp.dir, 'models');
    const folder = path.join(root, 'photos');
    await mkdir(folder, { recursive: true });
    await writeTexturedImage(path.join(folder, 'a.png'), 40, 30);
    const otherModels = path.join(temp.dir, 'other-models');
    await cp(FIXTURE_MODELS_DIR, otherModels, { recursive: true });
    // Another build of the model: its card lists other file hashes (what filesDigest covers).
    const card = path.join(otherModels, 'cmsc-tiny.json');
    await writeFile(
      card,
      (await readFile(card, 'utf8')).replace(
        /"sha256": "[0-9a-f]{64}"/,
        `"sha256": "${'ab'.repeat(32)}"`,
      ),
    );
    const wrong = track(worker(redis.url, root, 1000, otherModels));
    const job = track(
      cmsc([folder, '--queue', redis.url, '--scale', '2'], {
        XDG_CONFIG_HOME: path.join(root, 'config'),
      }),
    );
    await wrong.waitFor(/^refuse job-/m);
    expect(wrong.out()).toMatch(
      /^refuse job-[a-z0-9-]+: its model files differ from this worker's \(model cmsc-tiny differs: its files here hash to [0-9a-f]{12}, the job's to [0-9a-f]{12}\)$/m,
    );
    await job.waitFor(/^note worker \S+ refuses this job: its model files differ/m);
    const right = track(worker(redis.url, root));
    expect(await job.exited, job.err()).toBe(0);
    expect(job.out()).toMatch(/\n1 upscaled, 0 up to date, 0 skipped, 0 failed in /);
    expect(wrong.out()).not.toMatch(/ok {3}/);
    await stopAll([wrong, right]);
  }, 180_000);

  it('tasks naming /etc, an output folder outside the roots, or an unknown version fail with a reason and never run', async () => {
    const root = path.join(temp.dir, 'hostile');
    await mkdir(path.join(root, 'photos'), { recursive: true });
    const photo = await writeTexturedImage(path.join(root, 'photos', 'a.png'), 40, 30);
    const store = new ClusterStore(parseQueueAddress(redis.url));
    const one = track(worker(redis.url, root));
    await one.waitFor(/^worker /m);
    const models = one.out().match(/models cmsc-tiny ([0-9a-f]{12})/)![1]!;
    // The worker's digest is all it prints; the snapshot must hold the whole one: read it back
    // from a job the real submitter made would be slower, so compute it as the submitter does.
    const { createEngineUpscaler } = await import('../../src/main/batch/engineUpscaler.ts');
    const upscaler = await createEngineUpscaler(
      { modelsDirs: [FIXTURE_MODELS_DIR], threads: 1 },
      'cpu',
    );
    const digest = upscaler.listModels()[0]!.filesDigest!;
    await upscaler.close();
    expect(digest.startsWith(models)).toBe(true);
    const spec = (id: string, outputFolder: string): JobSpec => ({
      v: 1,
      id,
      createdAt: new Date().toISOString(),
      inputs: {
        paths: [path.join(root, 'photos')],
        recursive: false,
        includeExtensions: [],
        excludeExtensions: [],
      },
      settings: { ...DEFAULT_EXPORT_SETTINGS, target: { kind: 'scale', scale: 2 } },
      outputFolder,
      models: [{ name: 'cmsc-tiny', filesDigest: digest }],
      tasks: 3,
      files: 3,
      state: 'active',
    });
    const task = (jobId: string, fileId: number, inputPath: string, extra: object = {}) => ({
      name: 'file',
      data: {
        v: 1,
        jobId,
        fileId,
        inputPath,
        relativePath: path.basename(inputPath),
        inputBytes: 100,
        inputWidth: 40,
        inputHeight: 30,
        ...extra,
      },
      opts: { jobId: `f${fileId}`, attempts: 4, backoff: { type: 'exponential', delay: 100 } },
    });
    try {
      // Output folder outside --allow-output: the whole job is refused, nothing taken.
      await store.saveJob(spec('job-outside', '/etc/cmsc-out'));
      await store.queue('job-outside').addBulk([task('job-outside', 0, photo)]);
      await one.waitFor(/^refuse job-outside: /m);
      expect(one.out()).toMatch(
        /^refuse job-outside: the task's output folder \/etc\/cmsc-out is outside the folders this worker may use \(--allow-output .*\)$/m,
      );
      expect(await store.queue('job-outside').getJobCounts('waiting')).toEqual({ waiting: 1 });

      // Inside the roots, but tasks naming /etc/passwd, climbing out, or of version 99.
      const out = path.join(root, 'out');
      await store.saveJob(spec('job-hostile', out));
      await store
        .queue('job-hostile')
        .addBulk([
          task('job-hostile', 0, '/etc/passwd'),
          task('job-hostile', 1, `${root}/../../etc/shadow`),
          task('job-hostile', 2, photo, { v: 99 }),
        ]);
      await one.waitFor(/task f2: .*\(invalid-task\)$/m);
      const queue = store.queue('job-hostile');
      for (let i = 0; i < 50 && (await queue.getJobCounts('failed')).failed! < 3; i++)
        await new Promise((resolve) => setTimeout(resolve, 100));
      const failed = await queue.getJobs(['failed']);
      const byId = new Map(failed.map((t) => [t.id, t]));
      expect(reasonFromText(byId.get('f0')!.failedReason)).toEqual({
        code: 'not-allowed',
        message: `the task's input /etc/passwd is outside the folders this worker may use (--allow-output (or --allow-input) ${root})`,
      });
      expect(reasonFromText(byId.get('f1')!.failedReason).code).toBe('not-allowed');
      expect(reasonFromText(byId.get('f2')!.failedReason)).toEqual({
        code: 'invalid-task',
        message: 'task version 99 is not one this worker reads (1)',
      });
      // Never retried: one attempt each.
      for (const t of failed) expect(t.attemptsMade, t.id).toBe(1);
      expect(one.out()).not.toMatch(/ok {3}/);
    } finally {
      await store.close();
      await stopAll([one]);
    }
  }, 180_000);
});

describe('detach, status, cancel', () => {
  it('--detach prints the job id; status counts its files; cancel stops it and the same command plans anew', async () => {
    const root = path.join(temp.dir, 'detach');
    const folder = path.join(root, 'photos');
    await mkdir(folder, { recursive: true });
    for (let i = 0; i < 3; i++)
      await writeTexturedImage(path.join(folder, `d${i}.png`), 30 + i, 20);
    const env = { XDG_CONFIG_HOME: path.join(root, 'config') };
    const submitted = cmsc([folder, '--queue', redis.url, '--detach'], env);
    expect(await submitted.exited, submitted.err()).toBe(0);
    const jobId =
      /^job (job-[a-z0-9]+-[0-9a-f]+) queued on redis:\/\/127\.0\.0\.1:\d+: 3 files;/m.exec(
        submitted.out(),
      )?.[1];
    expect(jobId, submitted.out()).toBeDefined();
    const status = cmsc(['status', '--queue', redis.url]);
    expect(await status.exited).toBe(0);
    expect(status.out()).toContain(
      `${jobId} active    0 done, 0 failed, 0 running, 3 waiting, 0 to retry, of 3 (0 up to date or refused at planning); output ${folder}-upscaled`,
    );
    const cancel = cmsc(['cancel', jobId!, '--queue', redis.url]);
    expect(await cancel.exited).toBe(0);
    expect(cancel.out()).toBe(`cancelled ${jobId}: no worker takes its files any more\n`);
    const after = cmsc(['status', '--queue', redis.url]);
    expect(await after.exited).toBe(0);
    expect(after.out()).toContain(`${jobId} cancelled 0 done, 0 failed, 0 running, 0 waiting`);
    const unknown = cmsc(['cancel', 'job-nope', '--queue', redis.url]);
    expect(await unknown.exited).toBe(1);
    expect(unknown.err()).toBe(`cmsc-upscale: no job job-nope on ${redis.url}\n`);
  }, 120_000);
});

describe('Redis problems', () => {
  it('unreachable, wrong password: one line, exit 2, no password anywhere', async () => {
    const admin = redis.client();
    await admin.config('SET', 'requirepass', 'rightpass');
    try {
      const wrong = cmsc(['status', '--queue', `redis://:hunter2@127.0.0.1:${redis.port}`]);
      expect(await wrong.exited).toBe(2);
      expect(wrong.err()).toBe(
        `cmsc-upscale: the Redis at redis://:***@127.0.0.1:${redis.port} refused the password (WRONGPASS)\n`,
      );
      const none = cmsc(['status', '--queue', `redis://127.0.0.1:${redis.port}`]);
      expect(await none.exited).toBe(2);
      expect(none.err()).toMatch(/needs a password/);
      const right = cmsc(['status', '--queue', `redis://:rightpass@127.0.0.1:${redis.port}`]);
      expect(await right.exited).toBe(0);
      expect(right.out()).not.toContain('rightpass');
      expect(right.out()).toMatch(/workers? connected/);
    } finally {
      await admin.auth('rightpass').catch(() => undefined);
      await admin.config('SET', 'requirepass', '');
      admin.disconnect();
    }
    const gone = cmsc([path.join(temp.dir, 'x'), '--queue', 'redis://:topsecret@127.0.0.1:1']);
    expect(await gone.exited).toBe(2);
    expect(gone.err()).toBe(
      'cmsc-upscale: cannot reach Redis at redis://:***@127.0.0.1:1: connection refused (is redis-server running there?)\n',
    );
    expect(gone.out()).toBe('');
  }, 60_000);
});
