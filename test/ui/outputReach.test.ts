/**
 * Issue 23, defect 8 ("results are hard to reach"): the desktop's Show in folder / Open through
 * the typed IPC map with a fake Electron shell, and web mode's downloads of one output or the
 * whole job as a streamed zip, checked by an independent reader (Info-ZIP's `unzip`).
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AllowedFolders } from '../../src/main/api/allowedFolders.ts';
import { createRequestHandlers } from '../../src/main/api/handlers.ts';
import { createShellActions, type ShellLike } from '../../src/main/electron/shellActions.ts';
import { attachmentHeader } from '../../src/main/server/downloads.ts';
import { startWebServer, type RunningWebServer } from '../../src/main/server/webServer.ts';
import { zipSize } from '../../src/main/server/zipStream.ts';
import type { Job, JobFile } from '../../src/shared/jobs.ts';
import { fakeServices } from './fakeServices.ts';

const execFileAsync = promisify(execFile);
/** unzip shows UTF-8 names as such only under a UTF-8 locale. */
const run = (command: string, args: string[]) =>
  execFileAsync(command, args, { env: { ...process.env, LC_ALL: 'C.UTF-8' } });
const TOKEN = 'test-token_0123456789';

function jobFile(id: number, relativePath: string, outputPath: string | null): JobFile {
  return {
    id,
    inputPath: `/photos/${relativePath}`,
    relativePath,
    inputBytes: 10,
    inputWidth: 4,
    inputHeight: 4,
    state: outputPath ? 'done' : 'queued',
    reason: null,
    outputPath,
    outputBytes: null,
    outputWidth: null,
    outputHeight: null,
    elapsedMs: null,
    provider: null,
    attempts: outputPath ? 1 : 0,
  } as JobFile;
}

/** The fake services with one job whose photos 0 and 1 were written and photo 2 was not. */
function servicesWithJob(outputFolder: string) {
  const base = fakeServices();
  const job: Job = {
    ...base.services.batch.job('job-1'),
    outputFolder,
    state: 'finished',
    files: [
      jobFile(0, 'a.jpg', path.join(outputFolder, 'a_x2.jpg')),
      jobFile(1, '2024/é b.jpg', path.join(outputFolder, '2024', 'é b_x2.jpg')),
      jobFile(2, 'c.jpg', null),
    ],
  };
  const services = {
    ...base.services,
    batch: {
      ...base.services.batch,
      job(jobId: string): Job {
        if (jobId !== 'job-1') throw new Error(`no job ${jobId}`);
        return job;
      },
    },
  };
  return { services, job };
}

function fakeShell(openProblem = '') {
  const calls: string[] = [];
  const shell: ShellLike = {
    showItemInFolder: (file) => void calls.push(`reveal ${file}`),
    openPath: async (file) => {
      calls.push(`open ${file}`);
      return openProblem;
    },
  };
  return { shell, calls };
}

/** The desktop's handlers, with the shell actions main.ts gives them, over a fake shell. */
function desktopHandlers(
  services: ReturnType<typeof servicesWithJob>['services'],
  shell: ShellLike,
) {
  return createRequestHandlers(services, new AllowedFolders(), {
    mode: 'desktop',
    ...createShellActions(shell),
  });
}

describe('Show in folder and Open (desktop, fake shell)', () => {
  const out = '/home/ana/Photos-upscaled';

  it('reveals or opens exactly the written output of the photo asked for', async () => {
    const { services } = servicesWithJob(out);
    const { shell, calls } = fakeShell();
    const handlers = desktopHandlers(services, shell);
    expect(await handlers.handle('shell:showOutput', ['job-1', 1, 'reveal'])).toEqual({
      ok: true,
      value: path.join(out, '2024', 'é b_x2.jpg'),
    });
    expect(await handlers.handle('shell:showOutput', ['job-1', 0, 'open'])).toEqual({
      ok: true,
      value: path.join(out, 'a_x2.jpg'),
    });
    expect(await handlers.handle('shell:openFolder', ['job-1'])).toEqual({
      ok: true,
      value: { opened: true, path: out },
    });
    expect(calls).toEqual([
      `reveal ${path.join(out, '2024', 'é b_x2.jpg')}`,
      `open ${path.join(out, 'a_x2.jpg')}`,
      `open ${out}`,
    ]);
  });

  it('refuses a photo not written yet, a bad action and a path, before the shell is called', async () => {
    const { services } = servicesWithJob(out);
    const { shell, calls } = fakeShell();
    const handlers = desktopHandlers(services, shell);
    expect(await handlers.handle('shell:showOutput', ['job-1', 2, 'open'])).toEqual({
      ok: false,
      error: { code: 'invalid-argument', message: 'c.jpg has not been written yet' },
    });
    expect(await handlers.handle('shell:showOutput', ['job-1', 0, 'delete'])).toMatchObject({
      ok: false,
      error: { code: 'invalid-argument' },
    });
    expect(await handlers.handle('shell:showOutput', ['job-1', '/etc/passwd', 'open'])).toEqual({
      ok: false,
      error: { code: 'invalid-argument', message: 'photo number must be an integer' },
    });
    expect(calls).toEqual([]);
  });

  it('says why when the system cannot open the file, and is unavailable in web mode', async () => {
    const { services } = servicesWithJob(out);
    const { shell } = fakeShell('No application knows how to open this file');
    const desktop = desktopHandlers(services, shell);
    expect(await desktop.handle('shell:showOutput', ['job-1', 0, 'open'])).toEqual({
      ok: false,
      error: {
        code: 'failed',
        message: `could not open ${path.join(out, 'a_x2.jpg')}: No application knows how to open this file`,
      },
    });
    const web = createRequestHandlers(services, new AllowedFolders(), { mode: 'web' });
    expect(await web.handle('shell:showOutput', ['job-1', 0, 'reveal'])).toEqual({
      ok: false,
      error: {
        code: 'unavailable',
        message: 'showing a file on this computer is not available in web mode',
      },
    });
  });
});

function get(
  port: number,
  pathAndQuery: string,
): Promise<{
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: pathAndQuery }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: Buffer.concat(chunks),
          }),
        );
      })
      .on('error', reject);
  });
}

describe('downloads in web mode', () => {
  let root: string;
  let out: string;
  let server: RunningWebServer;
  const first = Buffer.from('first output, pretend JPEG bytes\n');
  // Bigger than a stream chunk (64 KiB), so the CRC runs over several chunks.
  const second = Buffer.alloc(200_000, 0);
  for (let index = 0; index < second.length; index++) second[index] = (index * 7919) % 251;

  beforeEach(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'cmsc-downloads-'));
    out = path.join(root, 'Photos-upscaled');
    await mkdir(path.join(out, '2024'), { recursive: true });
    await writeFile(path.join(out, 'a_x2.jpg'), first);
    await writeFile(path.join(out, '2024', 'é b_x2.jpg'), second);
    const when = new Date(2026, 11, 6, 14, 30, 10);
    await utimes(path.join(out, 'a_x2.jpg'), when, when);
    const { services } = servicesWithJob(out);
    const staticDir = path.join(root, 'renderer');
    await mkdir(staticDir);
    server = await startWebServer({
      handlers: createRequestHandlers(services, new AllowedFolders(), { mode: 'web' }),
      subscribe: () => () => undefined,
      staticDir,
      token: TOKEN,
      jobs: services.batch,
    });
  });
  afterEach(async () => {
    await server.close();
    await rm(root, { recursive: true, force: true });
  });

  it('serves one written output as an attachment under its own name', async () => {
    const answer = await get(server.port, `/api/download?job=job-1&file=1&token=${TOKEN}`);
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toBe('image/jpeg');
    expect(answer.headers['content-length']).toBe(String(second.length));
    expect(answer.headers['content-disposition']).toBe(
      `attachment; filename="_ b_x2.jpg"; filename*=UTF-8''%C3%A9%20b_x2.jpg`,
    );
    expect(answer.body.equals(second)).toBe(true);
  });

  it('streams every written output as a zip that unzip reads back byte for byte', async () => {
    const answer = await get(server.port, `/api/download?job=job-1&token=${TOKEN}`);
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toBe('application/zip');
    expect(answer.headers['content-disposition']).toBe(
      `attachment; filename="Photos-upscaled.zip"; filename*=UTF-8''Photos-upscaled.zip`,
    );
    expect(Number(answer.headers['content-length'])).toBe(answer.body.length);
    const zipFile = path.join(root, 'job.zip');
    await writeFile(zipFile, answer.body);
    const tested = await run('unzip', ['-t', zipFile]);
    expect(tested.stdout).toContain('No errors detected');
    const listing = await run('unzip', ['-Z1', zipFile]);
    expect(listing.stdout.split('\n').filter(Boolean)).toEqual(['a_x2.jpg', '2024/é b_x2.jpg']);
    const unpacked = path.join(root, 'unpacked');
    await run('unzip', ['-q', zipFile, '-d', unpacked]);
    expect((await readFile(path.join(unpacked, 'a_x2.jpg'))).equals(first)).toBe(true);
    expect((await readFile(path.join(unpacked, '2024', 'é b_x2.jpg'))).equals(second)).toBe(true);
    // The file's time travels too (local time, in 2-second steps).
    const verbose = await run('unzip', ['-Z', '-T', zipFile, 'a_x2.jpg']);
    expect(verbose.stdout).toContain('20261206.143010');
  });

  it('refuses in words: a photo not written, a missing file, no such job, no token', async () => {
    const notWritten = await get(server.port, `/api/download?job=job-1&file=2&token=${TOKEN}`);
    expect(notWritten.status).toBe(409);
    expect(JSON.parse(notWritten.body.toString()).error.message).toBe(
      'c.jpg has not been written yet',
    );
    await rm(path.join(out, 'a_x2.jpg'));
    const missing = await get(server.port, `/api/download?job=job-1&token=${TOKEN}`);
    expect(missing.status).toBe(409);
    expect(JSON.parse(missing.body.toString()).error.message).toBe(
      'a_x2.jpg is no longer in the output folder (Verify outputs lists what is missing)',
    );
    const noJob = await get(server.port, `/api/download?job=job-9&token=${TOKEN}`);
    expect(noJob.status).toBe(404);
    const noToken = await get(server.port, `/api/download?job=job-1&file=0`);
    expect(noToken.status).toBe(401);
    expect(noToken.body.toString()).not.toContain('first output');
  });

  it('names files in plain ASCII and in UTF-8, and sizes a zip before writing it', () => {
    expect(attachmentHeader('a "quoted"\\ name.jpg')).toBe(
      `attachment; filename="a _quoted__ name.jpg"; filename*=UTF-8''a%20%22quoted%22%5C%20name.jpg`,
    );
    const entry = { name: 'a.jpg', path: '/x', size: 100, modified: new Date() };
    // 30 + 5 + 100 + 16 (local part) + 46 + 5 (directory) + 22 (end record).
    expect(zipSize([entry])).toBe(224);
    expect(zipSize([{ ...entry, size: 0xffffffff }])).toBeNull();
    expect(zipSize(Array.from({ length: 65_536 }, () => ({ ...entry, size: 0 })))).toBeNull();
  });
});
