/**
 * Web mode's drop target: photos dropped on the page arrive one per request and are written
 * into a folder the person chose in the folder browser (so an allowed folder):
 *
 *   POST /api/upload?folder=<absolute path>&name=<file name>   body: the file's bytes
 *
 * A name is a plain photo file name (no folders, no dot files, a photo's extension); an
 * existing file is never replaced; a file over the limit is refused by its Content-Length
 * before a byte is written, and cut off and removed if it sends more than it declared.
 */
import { createWriteStream } from 'node:fs';
import { unlink } from 'node:fs/promises';
import type http from 'node:http';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { hasImageExtension } from '../../shared/imageExtensions.ts';
import { MAX_UPLOAD_FILE_BYTES } from '../../shared/uploadLimits.ts';
import { PathNotAllowed } from '../api/validate.ts';

export interface UploadFolders {
  /** The folder resolved, when the person added or chose it; throws PathNotAllowed otherwise. */
  check(folder: string): Promise<string>;
}

function answer(response: http.ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Cache-Control': 'no-store',
  });
  response.end(JSON.stringify(body));
}

function refuse(
  response: http.ServerResponse,
  status: number,
  code: 'invalid-argument' | 'forbidden',
  message: string,
): void {
  // The body may still be on its way: close the connection rather than read it.
  response.setHeader('Connection', 'close');
  answer(response, status, { ok: false, error: { code, message } });
}

/** A plain photo file name, or the reason it is not one. */
export function uploadNameProblem(name: string): string | null {
  if (name === '' || name.length > 255) return 'a file name of 1 to 255 characters';
  if (name !== path.basename(name) || /[/\\\0]/.test(name) || name === '.' || name === '..')
    return `${name} is not a plain file name`;
  if (name.startsWith('.')) return `${name} is a hidden file`;
  if (!hasImageExtension(name)) return `${name} is not a photo this app reads`;
  return null;
}

export async function receiveUpload(
  url: URL,
  request: http.IncomingMessage,
  response: http.ServerResponse,
  folders: UploadFolders,
): Promise<void> {
  const name = url.searchParams.get('name') ?? '';
  const problem = uploadNameProblem(name);
  if (problem) return refuse(response, 400, 'invalid-argument', problem);
  let folder: string;
  try {
    folder = await folders.check(url.searchParams.get('folder') ?? '');
  } catch (error) {
    if (error instanceof PathNotAllowed)
      return refuse(response, 403, 'forbidden', 'Choose the folder in the folder browser first');
    return refuse(response, 400, 'invalid-argument', 'This folder does not exist');
  }
  const declared = Number(request.headers['content-length']);
  if (!Number.isInteger(declared) || declared < 0)
    return refuse(response, 411, 'invalid-argument', 'send the file with its length');
  if (declared > MAX_UPLOAD_FILE_BYTES) {
    return refuse(
      response,
      413,
      'invalid-argument',
      `${name} is ${Math.round(declared / 1e6)} MB; a photo can be up to ${MAX_UPLOAD_FILE_BYTES / 1e6} MB`,
    );
  }
  const target = path.join(folder, name);
  let received = 0;
  const counted = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      received += chunk.length;
      if (received > declared) done(new Error(`${name} sent more than its declared length`));
      else done(null, chunk);
    },
  });
  try {
    // `wx`: never replace a file that is there (a photo of the same name, or our own output).
    await pipeline(request, counted, createWriteStream(target, { flags: 'wx' }));
  } catch (error) {
    const exists = (error as NodeJS.ErrnoException).code === 'EEXIST';
    if (!exists) await unlink(target).catch(() => undefined);
    return refuse(
      response,
      exists ? 409 : 400,
      'invalid-argument',
      exists
        ? `${name} is already in ${folder}; nothing was replaced`
        : `${name} did not arrive whole; nothing was kept`,
    );
  }
  if (received !== declared) {
    await unlink(target).catch(() => undefined);
    return refuse(
      response,
      400,
      'invalid-argument',
      `${name} did not arrive whole; nothing was kept`,
    );
  }
  answer(response, 200, { ok: true, value: target });
}
