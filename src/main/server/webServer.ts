/**
 * Web mode: the main-process services behind HTTP + server-sent events on 127.0.0.1.
 *
 *   GET  /?token=…              the renderer (token required)
 *   GET  /assets/…              the public renderer bundle
 *   POST /api/invoke/<channel>  body {"args": [...]}, answers {"ok": true, "value"} or {"ok": false, "error"}
 *   GET  /api/events?token=…    server-sent events named after src/shared/ipc.ts EventChannels
 *   GET  /api/download?job=…    a job's written outputs: one file, or all as a zip (downloads.ts)
 *   POST /api/upload?folder=…   a photo dropped on the page, into a chosen folder (uploads.ts)
 *
 * Every request passes `checkRequest` (token, Host, Origin) first; paths inside requests are
 * checked by the shared handlers against the folders the user added.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { ErrorAnswer } from '../../shared/ipc.ts';
import { decodeWire, encodeWire } from '../../shared/wireCodec.ts';
import type { RequestHandlers } from '../api/handlers.ts';
import type { ServiceEvent } from '../api/services.ts';
import { isInside } from '../api/allowedFolders.ts';
import { type JobLookup, serveDownload } from './downloads.ts';
import { checkRequest } from './requestGuard.ts';
import { receiveUpload, type UploadFolders } from './uploads.ts';

export const MAX_REQUEST_BYTES = 1024 * 1024;
const SSE_KEEPALIVE_MS = 15_000;

/** The page may load only its own code; images arrive as blob: URLs made from answer bytes. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  // Svelte writes style attributes for positions and sizes (crop box, split slider).
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' blob: data:",
  "connect-src 'self'",
  "font-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
};

export interface WebServerOptions {
  handlers: RequestHandlers;
  subscribe: (listener: (event: ServiceEvent) => void) => () => void;
  /** The built renderer (out/renderer). */
  staticDir: string;
  /** 0 picks a free port. */
  port?: number;
  /** Random when absent; tests pass a fixed one. */
  token?: string;
  /** The queue's jobs, for downloads of their outputs; without it there is no download route. */
  jobs?: JobLookup;
  /** The folders the person chose, for photos dropped on the page; without it no upload route. */
  uploads?: UploadFolders;
}

export interface RunningWebServer {
  url: string;
  port: number;
  token: string;
  close(): Promise<void>;
}

export function newToken(): string {
  return randomBytes(24).toString('base64url');
}

export async function startWebServer(options: WebServerOptions): Promise<RunningWebServer> {
  const token = options.token ?? newToken();
  const staticDir = path.resolve(options.staticDir);
  const openStreams = new Set<http.ServerResponse>();
  let port = 0;

  const server = http.createServer((request, response) => {
    setCommonHeaders(response);
    const verdict = checkRequest(
      {
        method: request.method ?? 'GET',
        url: request.url ?? '/',
        host: request.headers.host,
        origin: request.headers.origin,
        authorization: request.headers.authorization,
      },
      {
        token,
        port,
        isPublicAsset: (pathname) => pathname.startsWith('/assets/') || pathname === '/icon.png',
      },
    );
    if (!verdict.allowed) {
      sendJson(response, verdict.status, {
        ok: false,
        error: { code: 'forbidden', message: verdict.reason },
      });
      return;
    }
    route(request, response).catch((error: unknown) => {
      if (!response.headersSent) {
        sendJson(response, 500, { ok: false, error: { code: 'failed', message: String(error) } });
      } else {
        response.end();
      }
    });
  });

  async function route(
    request: http.IncomingMessage,
    response: http.ServerResponse,
  ): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://placeholder');
    const invokeMatch = url.pathname.match(/^\/api\/invoke\/([a-z]+:[A-Za-z]+)$/);
    if (invokeMatch && request.method === 'POST')
      return invoke(invokeMatch[1] ?? '', request, response);
    if (url.pathname === '/api/events' && request.method === 'GET') return streamEvents(response);
    if (url.pathname === '/api/download' && request.method === 'GET' && options.jobs)
      return serveDownload(url, response, options.jobs);
    if (url.pathname === '/api/upload' && request.method === 'POST' && options.uploads)
      return receiveUpload(url, request, response, options.uploads);
    if (request.method === 'GET') return serveStatic(url.pathname, response);
    sendJson(response, 404, {
      ok: false,
      error: { code: 'invalid-argument', message: 'no such route' },
    });
  }

  async function invoke(
    channel: string,
    request: http.IncomingMessage,
    response: http.ServerResponse,
  ): Promise<void> {
    if (!(request.headers['content-type'] ?? '').startsWith('application/json')) {
      sendJson(response, 415, {
        ok: false,
        error: { code: 'invalid-argument', message: 'send application/json' },
      });
      return;
    }
    let body: unknown;
    try {
      body = decodeWire(await readBody(request));
    } catch (error) {
      if (error instanceof BodyTooLarge) {
        // Answered, not reset: the rest of the body is read and dropped, then the
        // connection closes.
        response.setHeader('Connection', 'close');
        sendJson(response, 413, {
          ok: false,
          error: { code: 'invalid-argument', message: error.message },
        });
        return;
      }
      sendJson(response, 400, {
        ok: false,
        error: { code: 'invalid-argument', message: String(error) },
      });
      return;
    }
    const args =
      typeof body === 'object' && body !== null ? (body as { args?: unknown }).args : undefined;
    const answer = await options.handlers.handle(channel, args);
    sendJson(response, answer.ok ? 200 : statusFor(answer.error), answer);
  }

  function streamEvents(response: http.ServerResponse): void {
    response.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store' });
    response.write('retry: 2000\n\n');
    openStreams.add(response);
    const unsubscribe = options.subscribe((event) => {
      response.write(`event: ${event.channel}\ndata: ${encodeWire(event.payload)}\n\n`);
    });
    const keepalive = setInterval(() => response.write(': keepalive\n\n'), SSE_KEEPALIVE_MS);
    response.on('close', () => {
      clearInterval(keepalive);
      unsubscribe();
      openStreams.delete(response);
    });
  }

  async function serveStatic(pathname: string, response: http.ServerResponse): Promise<void> {
    let relative: string;
    try {
      relative = pathname === '/' ? 'index.html' : decodeURIComponent(pathname).replace(/^\/+/, '');
    } catch {
      sendJson(response, 400, {
        ok: false,
        error: { code: 'invalid-argument', message: 'malformed %-escape in the path' },
      });
      return;
    }
    const filePath = path.resolve(staticDir, relative);
    if (!isInside(staticDir, filePath)) {
      sendJson(response, 403, {
        ok: false,
        error: { code: 'forbidden', message: 'outside the app' },
      });
      return;
    }
    let content: Buffer;
    try {
      content = await readFile(filePath);
    } catch {
      sendJson(response, 404, {
        ok: false,
        error: { code: 'invalid-argument', message: `no file ${pathname}` },
      });
      return;
    }
    response.writeHead(200, {
      'Content-Type': CONTENT_TYPES[path.extname(filePath)] ?? 'application/octet-stream',
      'Cache-Control': relative === 'index.html' ? 'no-store' : 'max-age=3600',
    });
    response.end(content);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}/?token=${token}`,
    port,
    token,
    close: () =>
      new Promise<void>((resolve) => {
        for (const stream of openStreams) stream.end();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function setCommonHeaders(response: http.ServerResponse): void {
  response.setHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY);
  response.setHeader('X-Content-Type-Options', 'nosniff');
  // The token is in the page URL: never send it to another site as a Referer.
  response.setHeader('Referrer-Policy', 'no-referrer');
  response.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
  response.setHeader('X-Frame-Options', 'DENY');
}

function statusFor(error: ErrorAnswer): number {
  switch (error.code) {
    case 'invalid-argument':
      return 400;
    case 'forbidden':
      return 403;
    case 'unreadable':
      return 422;
    case 'unavailable':
      return 501;
    case 'superseded':
      return 409;
    case 'failed':
      return 500;
  }
}

function sendJson(response: http.ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Cache-Control': 'no-store',
  });
  response.end(encodeWire(body));
}

class BodyTooLarge extends Error {
  override readonly name = 'BodyTooLarge';
  constructor() {
    super(`request body over ${MAX_REQUEST_BYTES} bytes`);
  }
}

/** Past this much, an oversized body is no longer drained but its connection dropped. */
const MAX_DRAINED_BYTES = 64 * MAX_REQUEST_BYTES;

function readBody(request: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const declared = Number(request.headers['content-length'] ?? 0);
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = declared > MAX_REQUEST_BYTES;
    if (tooLarge) reject(new BodyTooLarge());
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      // Keep reading (and dropping) so the client gets to read the 413 answer.
      if (tooLarge) {
        if (size > MAX_DRAINED_BYTES) request.destroy();
        return;
      }
      if (size > MAX_REQUEST_BYTES) {
        tooLarge = true;
        chunks.length = 0;
        reject(new BodyTooLarge());
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}
