/**
 * What a worker trusts and what people see, without the engine: task and job validation, the
 * path policy, the model snapshot, retry classes, and the Redis address (parsed, checked,
 * never printed with its password).
 */
import { mkdir, symlink } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { once } from 'node:events';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_EXPORT_SETTINGS } from '../../src/shared/exportSettings.ts';
import type { ModelSummary } from '../../src/shared/upscaleOptions.ts';
import { parseMapping, PathNotAllowed, PathPolicy } from '../../src/main/cluster/pathPolicy.ts';
import {
  checkQueue,
  parseQueueAddress,
  QueueAddressError,
  redactQueueText,
} from '../../src/main/cluster/queueConnection.ts';
import {
  isTransient,
  modelMismatch,
  parseJobSpec,
  parseTask,
  reasonFromText,
  reasonText,
} from '../../src/main/cluster/taskPayload.ts';
import { makeTempDir } from '../helpers/testImages.ts';
import { freePort } from './clusterHarness.ts';

const goodTask = {
  v: 1,
  jobId: 'job-abc-123',
  fileId: 3,
  inputPath: '/mnt/nas/photos/a.jpg',
  relativePath: 'a.jpg',
  inputBytes: 1234,
  inputWidth: 40,
  inputHeight: 30,
};

describe('task payloads', () => {
  it('reads a valid task', () => {
    expect(parseTask(goodTask)).toEqual(goodTask);
  });

  it.each([
    [{ ...goodTask, v: 2 }, 'task version 2 is not one this worker reads (1)'],
    [{ ...goodTask, fileId: undefined }, 'fileId is missing'],
    [
      { ...goodTask, inputBytes: 2 ** 50 },
      'inputBytes must be a whole number from 0 to 1099511627776 (got 1125899906842624)',
    ],
    [
      { ...goodTask, inputWidth: -1 },
      'inputWidth must be a whole number from 0 to 1000000 (got -1)',
    ],
    [{ ...goodTask, inputPath: 'photos/a.jpg' }, 'inputPath must be an absolute path'],
    [
      { ...goodTask, relativePath: '../../etc/passwd' },
      'relativePath "../../etc/passwd" must stay below the input folder',
    ],
    [{ ...goodTask, jobId: 'job:1 x' }, 'job id "job:1 x" is not one of ours'],
    ['a string', 'task is missing or not an object'],
  ])('refuses %j', (task, message) => {
    expect(() => parseTask(task)).toThrow(message);
  });

  it('refuses a job spec of an unknown version or with broken settings', () => {
    const spec = {
      v: 1,
      id: 'job-1',
      createdAt: '2026-01-01T00:00:00.000Z',
      inputs: {
        paths: ['/mnt/nas/photos'],
        recursive: false,
        includeExtensions: [],
        excludeExtensions: [],
      },
      settings: DEFAULT_EXPORT_SETTINGS,
      outputFolder: '/mnt/nas/out',
      models: [{ name: 'cmsc', filesDigest: 'abc' }],
      tasks: 1,
      files: 1,
      state: 'active',
    };
    expect(parseJobSpec(spec).outputFolder).toBe('/mnt/nas/out');
    expect(() => parseJobSpec({ ...spec, v: 7 })).toThrow(
      'job version 7 is not one this worker reads (1)',
    );
    expect(() =>
      parseJobSpec({ ...spec, settings: { ...DEFAULT_EXPORT_SETTINGS, format: 'bmp' } }),
    ).toThrow(/invalid export settings/);
    expect(() => parseJobSpec({ ...spec, outputFolder: undefined })).toThrow(
      'outputFolder is missing',
    );
    expect(() => parseJobSpec({ ...spec, state: 'running' })).toThrow(/state must be/);
  });

  it('says which model differs, and which is missing', () => {
    const here = [{ name: 'cmsc', filesDigest: 'aaaaaaaaaaaaaaaa' }] as ModelSummary[];
    expect(modelMismatch([{ name: 'cmsc', filesDigest: 'aaaaaaaaaaaaaaaa' }], here)).toBeNull();
    expect(modelMismatch([{ name: 'cmsc', filesDigest: 'bbbbbbbbbbbbbbbb' }], here)).toBe(
      "model cmsc differs: its files here hash to aaaaaaaaaaaa, the job's to bbbbbbbbbbbb",
    );
    expect(modelMismatch([{ name: 'cmsc-fast', filesDigest: 'x' }], here)).toBe(
      'the job needs model cmsc-fast, which this worker does not have',
    );
  });

  it('retries transient failures only; a reason survives the trip through BullMQ', () => {
    expect(isTransient({ code: 'upscale-failed', message: 'out of memory' })).toBe(true);
    expect(isTransient({ code: 'output-not-writable', message: 'EACCES' })).toBe(true);
    for (const code of [
      'decode-failed',
      'not-an-image',
      'too-large',
      'scale-out-of-range',
      'not-allowed',
      'invalid-task',
    ] as const)
      expect(isTransient({ code, message: '' }), code).toBe(false);
    const reason = { code: 'decode-failed' as const, message: 'truncated JPEG' };
    expect(reasonFromText(reasonText(reason))).toEqual(reason);
    expect(reasonFromText('job stalled more than allowable limit')).toEqual({
      code: 'upscale-failed',
      message: 'job stalled more than allowable limit',
    });
  });
});

describe('the path policy', () => {
  let temp: Awaited<ReturnType<typeof makeTempDir>>;
  beforeEach(async () => {
    temp = await makeTempDir();
  });
  afterEach(async () => temp.remove());

  it('maps job paths, keeps them inside the roots, and refuses /etc, ".." and links out', async () => {
    const nas = path.join(temp.dir, 'nas');
    await mkdir(path.join(nas, 'photos'), { recursive: true });
    const policy = new PathPolicy({
      outputRoots: [nas],
      inputRoots: [],
      maps: [parseMapping(`/mnt/nas=${nas}`)],
    });
    expect(policy.map('/mnt/nas/photos/a.jpg')).toBe(path.join(nas, 'photos/a.jpg'));
    expect(policy.unmap(path.join(nas, 'out/a_x2.jpg'))).toBe('/mnt/nas/out/a_x2.jpg');
    expect(await policy.input('/mnt/nas/photos/a.jpg')).toBe(path.join(nas, 'photos/a.jpg'));
    expect(await policy.outputFolder('/mnt/nas/out')).toBe(path.join(nas, 'out'));
    await expect(policy.input('/etc/passwd')).rejects.toThrow(
      `the task's input /etc/passwd is outside the folders this worker may use (--allow-output (or --allow-input) ${nas})`,
    );
    await expect(policy.outputFolder('/mnt/nas/../../etc')).rejects.toThrow(
      /climbs out with "\.\."/,
    );
    await symlink('/etc', path.join(nas, 'etc-link'));
    await expect(policy.outputFolder('/mnt/nas/etc-link/cron.d')).rejects.toBeInstanceOf(
      PathNotAllowed,
    );
  });

  it('needs --allow-output, and separate input roots when given', async () => {
    expect(() => new PathPolicy({ outputRoots: [], inputRoots: [], maps: [] })).toThrow(
      /--allow-output/,
    );
    const policy = new PathPolicy({
      outputRoots: [path.join(temp.dir, 'out')],
      inputRoots: [path.join(temp.dir, 'in')],
      maps: [],
    });
    await expect(policy.input(path.join(temp.dir, 'out', 'a.jpg'))).rejects.toThrow(
      /--allow-input/,
    );
    expect(() => parseMapping('nas=/x')).toThrow(
      '--map takes FROM=TO with two absolute paths (got "nas=/x")',
    );
  });
});

describe('the Redis address', () => {
  it('parses passwords and TLS, and never prints the password', () => {
    const address = parseQueueAddress('rediss://worker:s3cret@nas.local:6380/2');
    expect(address.display).toBe('rediss://worker:***@nas.local:6380/2');
    expect(address.options).toMatchObject({
      host: 'nas.local',
      port: 6380,
      db: 2,
      username: 'worker',
      password: 's3cret',
    });
    expect(address.options.tls).toEqual({ servername: 'nas.local' });
    expect(redactQueueText('cannot reach redis://:hunter2@10.0.0.5:6379 now')).toBe(
      'cannot reach redis://:***@10.0.0.5:6379 now',
    );
    expect(() => parseQueueAddress('http://:pw@x')).toThrow(
      '--queue must start with redis:// or rediss:// (got "http://:pw@x")',
    );
  });

  it('an unreachable Redis is one line without the password', async () => {
    const port = await freePort();
    const error = await checkQueue(
      parseQueueAddress(`redis://:topsecret@127.0.0.1:${port}`),
      2000,
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QueueAddressError);
    expect((error as Error).message).toBe(
      `cannot reach Redis at redis://:***@127.0.0.1:${port}: connection refused (is redis-server running there?)`,
    );
  });

  it('a Redis too old for BullMQ is refused in so many words', async () => {
    // A stand-in for a Redis 4.0.9: INFO answers its version, newer commands are unknown.
    const info = 'redis_version:4.0.9\r\nloading:0\r\n';
    const server = createServer((socket: Socket) => {
      socket.on('data', (data: Buffer) => {
        for (const [, command] of data.toString().matchAll(/\*\d+\r\n\$\d+\r\n(\w+)/g))
          socket.write(
            command!.toLowerCase() === 'info'
              ? `$${Buffer.byteLength(info)}\r\n${info}\r\n`
              : `-ERR unknown command '${command}'\r\n`,
          );
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as { port: number }).port;
    try {
      await expect(
        checkQueue(parseQueueAddress(`redis://127.0.0.1:${port}`), 2000),
      ).rejects.toThrow(
        `the Redis at redis://127.0.0.1:${port} is version 4.0.9; the queue needs Redis 5.0.0 or newer (7.x recommended)`,
      );
    } finally {
      server.close();
    }
  });
});
