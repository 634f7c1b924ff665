import { mkdir, writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AllowedFolders } from '../../src/main/api/allowedFolders.ts';
import { createRequestHandlers } from '../../src/main/api/handlers.ts';
import {
  CONTENT_SECURITY_POLICY,
  startWebServer,
  type RunningWebServer,
} from '../../src/main/server/webServer.ts';
import { decodeWire } from '../../src/shared/wireCodec.ts';
import { fakeServices } from './fakeServices.ts';
import { useTempFolders } from '../helpers/tempFolders.ts';

const TOKEN = 'test-token_0123456789';

interface RawAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A raw request, so Host and Origin can be set the way a hostile page or rebinding would. */
function request(
  port: number,
  options: { method?: string; path: string; headers?: Record<string, string>; body?: string },
): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const outgoing = http.request(
      {
        host: '127.0.0.1',
        port,
        method: options.method ?? 'GET',
        path: options.path,
        headers: { host: `127.0.0.1:${port}`, ...options.headers },
      },
      (response) => {
        let body = '';
        response.on('data', (chunk: Buffer) => (body += chunk.toString()));
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, headers: response.headers, body }),
        );
      },
    );
    outgoing.on('error', reject);
    outgoing.end(options.body);
  });
}

describe('web-mode server', () => {
  const tempFolder = useTempFolders();
  let server: RunningWebServer;
  let photos: string;
  let emit: ReturnType<typeof fakeServices>['emit'];

  beforeEach(async () => {
    const root = await tempFolder('cmsc-server-');
    photos = path.join(root, 'photos');
    const staticDir = path.join(root, 'renderer');
    await mkdir(path.join(staticDir, 'assets'), { recursive: true });
    await mkdir(photos);
    await writeFile(path.join(staticDir, 'index.html'), '<!doctype html><title>app</title>');
    await writeFile(path.join(staticDir, 'assets/app.js'), 'console.log(1)');
    await writeFile(path.join(root, 'private.txt'), 'not for the web');
    const allowed = new AllowedFolders();
    await allowed.add(photos);
    const fake = fakeServices();
    emit = fake.emit;
    server = await startWebServer({
      handlers: createRequestHandlers(fake.services, allowed, { mode: 'web' }),
      subscribe: fake.services.subscribe,
      staticDir,
      token: TOKEN,
    });
  });

  afterEach(async () => {
    await server.close();
  });

  const invoke = (channel: string, args: unknown[], headers: Record<string, string> = {}) =>
    request(server.port, {
      method: 'POST',
      path: `/api/invoke/${channel}`,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}`, ...headers },
      body: JSON.stringify({ args }),
    });

  it('prints a 127.0.0.1 address carrying the token', () => {
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/?token=${TOKEN}`);
  });

  it('serves the page only with the token, with the content security policy', async () => {
    expect((await request(server.port, { path: '/' })).status).toBe(401);
    expect((await request(server.port, { path: '/?token=wrong' })).status).toBe(401);
    const page = await request(server.port, { path: `/?token=${TOKEN}` });
    expect([page.status, page.body]).toEqual([200, '<!doctype html><title>app</title>']);
    expect(page.headers['content-security-policy']).toBe(CONTENT_SECURITY_POLICY);
    expect(page.headers['referrer-policy']).toBe('no-referrer');
  });

  it('serves the public bundle without the token but nothing outside it', async () => {
    expect((await request(server.port, { path: '/assets/app.js' })).status).toBe(200);
    // Dot segments are resolved before any check: these name /private.txt inside the bundle
    // folder (refused without the token, absent with it), never the file one level up.
    expect((await request(server.port, { path: '/assets/%2e%2e/%2e%2e/private.txt' })).status).toBe(
      401,
    );
    expect(
      (await request(server.port, { path: `/%2e%2e/private.txt?token=${TOKEN}` })).status,
    ).toBe(404);
  });

  it('refuses API calls without the right token', async () => {
    expect((await invoke('app:info', [], { authorization: '' })).status).toBe(401);
    expect((await invoke('app:info', [], { authorization: 'Bearer nope' })).status).toBe(401);
    const answer = await invoke('app:info', []);
    expect([answer.status, decodeWire(answer.body)]).toEqual([
      200,
      { ok: true, value: { version: '9.9.9', mode: 'web', platform: process.platform } },
    ]);
  });

  it('refuses a foreign Origin and a foreign Host even with the token', async () => {
    const foreignOrigin = await invoke('app:info', [], { origin: 'https://evil.example' });
    expect([foreignOrigin.status, decodeWire(foreignOrigin.body)]).toEqual([
      403,
      {
        ok: false,
        error: {
          code: 'forbidden',
          message: 'Origin https://evil.example may not use this server',
        },
      },
    ]);
    const rebound = await invoke('app:info', [], { host: `evil.example:${server.port}` });
    expect([rebound.status, decodeWire(rebound.body)]).toEqual([
      421,
      {
        ok: false,
        error: {
          code: 'forbidden',
          message: `Host evil.example:${server.port} is not this server`,
        },
      },
    ]);
    expect(
      (
        await invoke('app:info', [], {
          origin: `http://localhost:${server.port}`,
          host: `localhost:${server.port}`,
        })
      ).status,
    ).toBe(200);
  });

  it('refuses paths outside the added folders with 403 and bad arguments with 400', async () => {
    const outside = await invoke('image:thumbnail', ['/etc/passwd', 64]);
    expect([outside.status, decodeWire(outside.body)]).toEqual([
      403,
      {
        ok: false,
        error: { code: 'forbidden', message: '/etc/passwd is outside the folders you added' },
      },
    ]);
    const bad = await invoke('image:thumbnail', [path.join(photos, 'a.jpg')]);
    expect([bad.status, decodeWire(bad.body)]).toEqual([
      400,
      { ok: false, error: { code: 'invalid-argument', message: 'expected 2 argument(s), got 1' } },
    ]);
  });

  it('answers 422 for a photo that cannot be decoded', async () => {
    const broken = path.join(photos, 'broken.jpg');
    const answer = await invoke('image:thumbnail', [broken, 64]);
    expect([answer.status, decodeWire(answer.body)]).toEqual([
      422,
      { ok: false, error: { code: 'unreadable', message: `no picture of ${broken}` } },
    ]);
  });

  it('accepts only JSON bodies', async () => {
    const form = await invoke('app:info', [], { 'content-type': 'text/plain' });
    expect(form.status).toBe(415);
    const broken = await request(server.port, {
      method: 'POST',
      path: '/api/invoke/app:info',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      body: '{"args": [',
    });
    expect(broken.status).toBe(400);
  });

  it('streams service events to a client holding the token', async () => {
    const received = await new Promise<string>((resolve, reject) => {
      const outgoing = http.get(
        {
          host: '127.0.0.1',
          port: server.port,
          path: `/api/events?token=${TOKEN}`,
          headers: { host: `127.0.0.1:${server.port}` },
        },
        (response) => {
          let text = '';
          response.on('data', (chunk: Buffer) => {
            text += chunk.toString();
            if (text.includes('queue-idle')) {
              outgoing.destroy();
              resolve(text);
            }
          });
          setTimeout(() => emit({ channel: 'batch:event', payload: { type: 'queue-idle' } }), 50);
        },
      );
      outgoing.on('error', reject);
    });
    expect(received).toBe('retry: 2000\n\nevent: batch:event\ndata: {"type":"queue-idle"}\n\n');
    expect((await request(server.port, { path: '/api/events' })).status).toBe(401);
  });
});

describe('content security policy', () => {
  it('is the same in the page (for file:// in Electron) as in the header, less frame-ancestors', async () => {
    const { readFile } = await import('node:fs/promises');
    const html = await readFile(
      path.resolve(import.meta.dirname, '../../src/renderer/index.html'),
      'utf8',
    );
    const meta = html.match(/http-equiv="Content-Security-Policy"\s+content="([^"]+)"/)?.[1];
    // Browsers ignore frame-ancestors in a meta tag; the header and X-Frame-Options carry it.
    expect(meta).toBe(CONTENT_SECURITY_POLICY.replace("; frame-ancestors 'none'", ''));
  });
});
