/**
 * Real Redis and real processes for the cluster tests: a `redis-server` on a free loopback port
 * with its own data folder (append-only, no snapshots), and `cmsc-upscale` commands spawned as
 * separate Node processes on the fixture models.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import path from 'node:path';
import { Redis } from 'ioredis';
import { FIXTURE_MODELS_DIR } from '../helpers/testImages.ts';

const repoRoot = path.resolve(import.meta.dirname, '../..');

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  server.close();
  await once(server, 'close');
  return port;
}

export interface RedisServer {
  port: number;
  url: string;
  /** SIGKILL: what the append-only file holds is what comes back. */
  kill(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
  client(): Redis;
}

export async function startRedis(dataDir: string, extra: string[] = []): Promise<RedisServer> {
  const port = await freePort();
  let proc: ChildProcess | null = null;
  const start = async (): Promise<void> => {
    proc = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--dir',
        dataDir,
        '--appendonly',
        'yes',
        '--appendfsync',
        'always',
        '--save',
        '',
        '--loglevel',
        'warning',
        ...extra,
      ],
      { stdio: 'ignore' },
    );
    const probe = new Redis({
      port,
      host: '127.0.0.1',
      lazyConnect: true,
      retryStrategy: () => null,
      maxRetriesPerRequest: 0,
    });
    probe.on('error', () => undefined);
    for (let i = 0; i < 100; i++) {
      try {
        await probe.connect();
        if ((await probe.ping()) === 'PONG') break;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    probe.disconnect();
  };
  const kill = async (signal: NodeJS.Signals): Promise<void> => {
    const running = proc;
    proc = null;
    if (!running || running.exitCode !== null) return;
    running.kill(signal);
    await once(running, 'exit');
  };
  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    kill: () => kill('SIGKILL'),
    start,
    stop: () => kill('SIGTERM'),
    client: () => new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1 }),
  };
}

export interface CliProcess {
  proc: ChildProcess;
  out(): string;
  err(): string;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
  /** Resolves once stdout matches. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
}

/** `cmsc-upscale …` on the fixture models, one CPU thread. */
export function cmsc(
  args: string[],
  env: Record<string, string> = {},
  models = FIXTURE_MODELS_DIR,
): CliProcess {
  const proc = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      path.join(repoRoot, 'src/main/cli/main.ts'),
      ...args,
      // status and cancel run no engine.
      ...(args[0] === 'status' || args[0] === 'cancel'
        ? []
        : ['--models', models, '--device', 'cpu', '--threads', '1']),
    ],
    { cwd: repoRoot, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  const waiters: { pattern: RegExp; resolve: () => void }[] = [];
  proc.stdout!.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    for (const waiter of [...waiters])
      if (waiter.pattern.test(out)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
  });
  proc.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return {
    proc,
    out: () => out,
    err: () => err,
    exited,
    waitFor: (pattern, timeoutMs = 60_000) =>
      new Promise<void>((resolve, reject) => {
        if (pattern.test(out)) return resolve();
        const timer = setTimeout(
          () =>
            reject(new Error(`timed out waiting for ${pattern}; stdout:\n${out}\nstderr:\n${err}`)),
          timeoutMs,
        );
        waiters.push({ pattern, resolve: () => (clearTimeout(timer), resolve()) });
      }),
  };
}

/** A worker allowed to write below `root`, looking for dead workers' files every `stallMs`. */
export function worker(
  queueUrl: string,
  root: string,
  stallMs = 1000,
  models?: string,
  extra: string[] = [],
  env: Record<string, string> = {},
): CliProcess {
  return cmsc(
    ['worker', '--queue', queueUrl, '--allow-output', root, ...extra],
    {
      CMSC_STALLED_INTERVAL_MS: String(stallMs),
      CMSC_WORKER_STATE: path.join(root, '.worker-state'),
      ...env,
    },
    models,
  );
}

export async function stopAll(processes: CliProcess[]): Promise<void> {
  for (const p of processes)
    if (p.proc.exitCode === null && p.proc.signalCode === null) p.proc.kill('SIGKILL');
  await Promise.all(processes.map((p) => p.exited));
}
