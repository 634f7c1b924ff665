/**
 * The queue over TLS (`rediss://`) against a real redis-server built with TLS: a throwaway CA
 * and server certificate made with `openssl`, a password on the server, and a worker and a
 * submitter that trust the CA through NODE_EXTRA_CA_CERTS (Node reads it at start). A client
 * given another CA is refused in one line that names the certificate, and no line, report or
 * manifest ever holds the password.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseQueueAddress } from '../../src/main/cluster/queueConnection.ts';
import { makeTempDir, writeTexturedImage } from '../helpers/testImages.ts';
import { cmsc, freePort, stopAll, worker, type CliProcess } from './clusterHarness.ts';

const run = promisify(execFile);
const PASSWORD = 'tls-s3cret-pw';

let temp: Awaited<ReturnType<typeof makeTempDir>>;
let certs: string;
let port: number;
let server: ChildProcess | null = null;
const started: CliProcess[] = [];

/** A self-signed CA in `dir` (ca.pem, ca.key). */
async function makeCa(dir: string, name: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  await run('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2',
    '-keyout', path.join(dir, 'ca.key'), '-out', path.join(dir, 'ca.pem'), '-subj', `/CN=${name}`,
  ]); // prettier-ignore
  return path.join(dir, 'ca.pem');
}

/** A server certificate for 127.0.0.1 signed by the CA in `dir` (server.pem, server.key). */
async function makeServerCert(dir: string): Promise<void> {
  const at = (name: string): string => path.join(dir, name);
  await writeFile(at('ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  await run('openssl', [
    'req', '-newkey', 'rsa:2048', '-nodes', '-keyout', at('server.key'), '-out', at('server.csr'),
    '-subj', '/CN=127.0.0.1',
  ]); // prettier-ignore
  await run('openssl', [
    'x509', '-req', '-days', '2', '-in', at('server.csr'), '-CA', at('ca.pem'), '-CAkey', at('ca.key'),
    '-CAcreateserial', '-out', at('server.pem'), '-extfile', at('ext.cnf'),
  ]); // prettier-ignore
}

beforeAll(async () => {
  await run('openssl', ['version']); // fails here, plainly, where openssl is missing
  temp = await makeTempDir();
  certs = path.join(temp.dir, 'certs');
  await makeCa(certs, 'CMSC test queue CA');
  await makeServerCert(certs);
  await makeCa(path.join(temp.dir, 'other-ca'), 'Some other CA');
  const data = path.join(temp.dir, 'redis');
  await mkdir(data);
  port = await freePort();
  // prettier-ignore
  server = spawn('redis-server', [
    '--port', '0', '--tls-port', String(port), '--bind', '127.0.0.1', '--dir', data,
    '--tls-cert-file', path.join(certs, 'server.pem'), '--tls-key-file', path.join(certs, 'server.key'),
    '--tls-ca-cert-file', path.join(certs, 'ca.pem'), '--tls-auth-clients', 'no',
    '--requirepass', PASSWORD, '--appendonly', 'yes', '--save', '', '--loglevel', 'warning',
  ], { stdio: 'ignore' });
  const ca = await readFile(path.join(certs, 'ca.pem'));
  const probe = new Redis({
    port,
    host: '127.0.0.1',
    password: PASSWORD,
    tls: { ca },
    lazyConnect: true,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
  });
  probe.on('error', () => undefined);
  let answer = '';
  for (let i = 0; i < 100 && answer !== 'PONG'; i++) {
    answer = await probe
      .connect()
      .then(() => probe.ping())
      .catch(() => new Promise<string>((resolve) => setTimeout(() => resolve(''), 50)));
  }
  probe.disconnect();
  expect(answer, 'redis-server answers over TLS').toBe('PONG');
}, 60_000);

afterAll(async () => {
  await stopAll(started);
  if (server && server.exitCode === null) {
    server.kill('SIGTERM');
    await once(server, 'exit');
  }
  await temp?.remove();
});

function track(p: CliProcess): CliProcess {
  started.push(p);
  return p;
}

const queueUrl = (): string => `rediss://:${PASSWORD}@127.0.0.1:${port}`;
const trusting = (ca: string): Record<string, string> => ({ NODE_EXTRA_CA_CERTS: ca });

describe('the queue over TLS (rediss://)', () => {
  it('an IP address is checked against the certificate without SNI; a host name is sent as SNI', () => {
    expect(parseQueueAddress(queueUrl()).options.tls).toEqual({});
    expect(parseQueueAddress('rediss://queue.local:6380').options.tls).toEqual({
      servername: 'queue.local',
    });
  });

  it('a worker and a submitter trusting the CA run a job end to end; the password is never printed', async () => {
    const root = path.join(temp.dir, 'job');
    const folder = path.join(root, 'photos');
    await mkdir(folder, { recursive: true });
    for (let i = 0; i < 3; i++)
      await writeTexturedImage(path.join(folder, `p${i}.png`), 40 + i, 30, { seed: i });
    const ca = path.join(certs, 'ca.pem');
    const w = track(worker(queueUrl(), root, 1000, undefined, [], trusting(ca)));
    const job = track(
      cmsc([folder, '--queue', queueUrl(), '--scale', '2'], {
        ...trusting(ca),
        XDG_CONFIG_HOME: path.join(root, 'config'),
      }),
    );
    expect(await job.exited, job.out() + job.err()).toBe(0);
    expect(job.out()).toMatch(/\n3 upscaled, 0 up to date, 0 skipped, 0 failed in \d+\.\d s\n/);
    await w.waitFor(/ok {3}.*p2\.png/);
    expect(w.out()).toContain(`on rediss://:***@127.0.0.1:${port}`);

    const out = path.join(root, 'photos-upscaled');
    for (let i = 0; i < 3; i++) {
      const meta = await sharp(path.join(out, `p${i}_x2.png`)).metadata();
      expect([meta.width, meta.height]).toEqual([2 * (40 + i), 60]);
    }
    const reportName = (await readdir(out)).find((f) => /^cmsc-report-.*\.json$/.test(f))!;
    const reportText = await readFile(path.join(out, reportName), 'utf8');
    const report = JSON.parse(reportText) as { files: { input: string; state: string }[] };
    expect(report.files.map((f) => [path.basename(f.input), f.state]).sort()).toEqual([
      ['p0.png', 'done'],
      ['p1.png', 'done'],
      ['p2.png', 'done'],
    ]);
    const manifest = await readFile(path.join(out, '.cmsc-upscaler-manifest.jsonl'), 'utf8');
    for (const text of [job.out(), job.err(), w.out(), w.err(), reportText, manifest])
      expect(text).not.toContain(PASSWORD);
    // No SNI for an IP address: Node's RFC 6066 warning (DEP0123) is never printed.
    expect(job.err() + w.err()).not.toContain('DEP0123');
    await stopAll([w]);
  }, 180_000);

  it('a client given another CA is refused in one line naming the TLS certificate, exit 2, no password', async () => {
    const otherCa = path.join(temp.dir, 'other-ca', 'ca.pem');
    const expected = new RegExp(
      `^cmsc-upscale: the TLS certificate of the Redis at rediss://:\\*\\*\\*@127\\.0\\.0\\.1:${port} is not trusted \\(self-signed certificate in certificate chain\\): give its CA certificate with NODE_EXTRA_CA_CERTS=/path/to/ca\\.pem\\n$`,
    );
    const job = track(
      cmsc([path.join(temp.dir, 'job', 'photos'), '--queue', queueUrl()], trusting(otherCa)),
    );
    expect(await job.exited).toBe(2);
    expect(job.err()).toMatch(expected);
    expect(job.out()).toBe('');
    const w = track(worker(queueUrl(), temp.dir, 1000, undefined, [], trusting(otherCa)));
    expect(await w.exited).toBe(2);
    expect(w.out() + w.err()).toMatch(/the TLS certificate of the Redis at .* is not trusted/);
    for (const text of [job.err(), w.out(), w.err()]) expect(text).not.toContain(PASSWORD);
  }, 60_000);
});
