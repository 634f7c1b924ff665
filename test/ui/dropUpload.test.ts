/**
 * Issue 23, drag and drop in web mode: the page's checks before it sends a byte, and the
 * server's upload route (an allowed folder, a plain photo name, never replacing a file, limits).
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AllowedFolders } from '../../src/main/api/allowedFolders.ts';
import { createRequestHandlers } from '../../src/main/api/handlers.ts';
import { startWebServer, type RunningWebServer } from '../../src/main/server/webServer.ts';
import { checkDrop } from '../../src/renderer/src/lib/dropUpload.ts';
import { MAX_UPLOAD_FILE_BYTES } from '../../src/shared/uploadLimits.ts';
import { fakeServices } from './fakeServices.ts';

const TOKEN = 'test-token_0123456789';

describe('checking a drop before uploading', () => {
  const photo = (name: string, size = 1000) => ({ name, size });

  it('takes the photos and leaves other files out, saying which', () => {
    const result = checkDrop([photo('a.jpg'), photo('notes.txt'), photo('b.PNG')], 0);
    expect(result).toEqual({
      photos: [photo('a.jpg'), photo('b.PNG')],
      refusal: null,
      leftOut: ['notes.txt'],
    });
  });

  it('refuses folders, no photos, too many, too big and too much, in words', () => {
    expect(checkDrop([photo('a.jpg')], 1).refusal).toBe(
      'Folders cannot be uploaded from the browser: drop the photos themselves, or use “Add folder…” for a folder on the computer that runs the app.',
    );
    expect(checkDrop([photo('notes.txt')], 0).refusal).toMatch(
      /^None of the dropped files is a photo this app reads \(jpg, jpeg, /,
    );
    const many = Array.from({ length: 501 }, (_, index) => photo(`p${index}.jpg`));
    expect(checkDrop(many, 0).refusal).toBe(
      'That is 501 photos; up to 500 can be uploaded at once. For more, use “Add folder…” on the computer that runs the app.',
    );
    expect(checkDrop([photo('huge.tif', 250_000_000)], 0).refusal).toBe(
      'huge.tif is 250 MB; a photo can be up to 200 MB.',
    );
    const heavy = Array.from({ length: 21 }, (_, index) => photo(`p${index}.jpg`, 199_000_000));
    expect(checkDrop(heavy, 0).refusal).toBe(
      'These photos are 4.2 GB together; up to 4.0 GB can be uploaded at once.',
    );
  });
});

function post(
  port: number,
  query: string,
  body: Buffer,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: { ok: boolean; value?: string; error?: { message: string } } }> {
  return new Promise((resolve, reject) => {
    const outgoing = http.request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: `/api/upload?${query}`,
        headers: {
          authorization: `Bearer ${TOKEN}`,
          'content-type': 'application/octet-stream',
          'content-length': String(body.length),
          ...headers,
        },
      },
      (response) => {
        let text = '';
        response.on('data', (chunk: Buffer) => (text += chunk.toString()));
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, body: JSON.parse(text) }),
        );
      },
    );
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

describe('the upload route', () => {
  let root: string;
  let chosen: string;
  let server: RunningWebServer;
  beforeEach(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'cmsc-upload-'));
    chosen = path.join(root, 'dropped');
    await mkdir(chosen);
    await mkdir(path.join(root, 'renderer'));
    const allowed = new AllowedFolders();
    await allowed.add(chosen);
    server = await startWebServer({
      handlers: createRequestHandlers(fakeServices().services, allowed, { mode: 'web' }),
      subscribe: () => () => undefined,
      staticDir: path.join(root, 'renderer'),
      token: TOKEN,
      uploads: allowed,
    });
  });
  afterEach(async () => {
    await server.close();
    await rm(root, { recursive: true, force: true });
  });

  const query = (folder: string, name: string) => new URLSearchParams({ folder, name }).toString();

  it('writes a photo into the chosen folder and answers its path', async () => {
    const bytes = Buffer.from('pretend JPEG bytes');
    const answer = await post(server.port, query(chosen, 'IMG 1.jpg'), bytes);
    expect(answer).toEqual({
      status: 200,
      body: { ok: true, value: path.join(chosen, 'IMG 1.jpg') },
    });
    expect((await readFile(path.join(chosen, 'IMG 1.jpg'))).equals(bytes)).toBe(true);
  });

  it('never replaces a file, and refuses folders not chosen, odd names and oversized photos', async () => {
    await writeFile(path.join(chosen, 'a.jpg'), 'mine');
    expect(await post(server.port, query(chosen, 'a.jpg'), Buffer.from('new'))).toEqual({
      status: 409,
      body: {
        ok: false,
        error: {
          code: 'invalid-argument',
          message: `a.jpg is already in ${chosen}; nothing was replaced`,
        },
      },
    });
    expect(await readFile(path.join(chosen, 'a.jpg'), 'utf8')).toBe('mine');
    const elsewhere = await post(server.port, query(root, 'b.jpg'), Buffer.from('x'));
    expect([elsewhere.status, elsewhere.body.error?.message]).toEqual([
      403,
      'Choose the folder in the folder browser first',
    ]);
    for (const [name, message] of [
      ['../b.jpg', '../b.jpg is not a plain file name'],
      ['.hidden.jpg', '.hidden.jpg is a hidden file'],
      ['notes.txt', 'notes.txt is not a photo this app reads'],
    ]) {
      const refused = await post(server.port, query(chosen, name ?? ''), Buffer.from('x'));
      expect([refused.status, refused.body.error?.message]).toEqual([400, message]);
    }
    // Refused by its declared length, before a byte is read.
    const huge = await post(server.port, query(chosen, 'huge.tif'), Buffer.from('x'), {
      'content-length': String(MAX_UPLOAD_FILE_BYTES + 1),
    });
    expect([huge.status, huge.body.error?.message]).toEqual([
      413,
      'huge.tif is 200 MB; a photo can be up to 200 MB',
    ]);
    const noToken = await post(server.port, query(chosen, 'c.jpg'), Buffer.from('x'), {
      authorization: 'Bearer wrong',
    });
    expect(noToken.status).toBe(401);
    expect(await readFile(path.join(chosen, 'c.jpg')).catch(() => null)).toBeNull();
  });
});
