/**
 * Web mode's way to the results: the browser may run on another computer than the server (a
 * GPU box reached over SSH), so "open the folder" means nothing there. Instead:
 *
 *   GET /api/download?job=<id>&file=<n>   one written output, as an attachment
 *   GET /api/download?job=<id>            every output the job wrote, as one zip (streamed)
 *
 * Only outputs the job itself recorded as written are served (src/main/api/jobOutputs.ts), so
 * a request names a photo, never a path. The token check happened before this is reached.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type http from 'node:http';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Job } from '../../shared/jobs.ts';
import { writtenOutput, writtenOutputs } from '../api/jobOutputs.ts';
import { InvalidArgument } from '../api/validate.ts';
import { writeZip, zipSize, type ZipEntry } from './zipStream.ts';

export interface JobLookup {
  /** Throws when there is no such job. */
  job(jobId: string): Job;
}

const OUTPUT_TYPES: Readonly<Record<string, string>> = {
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.avif': 'image/avif',
  '.tif': 'image/tiff',
  '.tiff': 'image/tiff',
};

/** `attachment` with the name in plain ASCII and in UTF-8 (RFC 6266), for any file name. */
export function attachmentHeader(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}

class DownloadRefused extends Error {
  constructor(
    readonly status: 400 | 404 | 409 | 413,
    message: string,
  ) {
    super(message);
  }
}

function refuse(response: http.ServerResponse, status: number, message: string): void {
  response.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Cache-Control': 'no-store',
  });
  response.end(JSON.stringify({ ok: false, error: { code: 'invalid-argument', message } }));
}

async function sizeOnDisk(outputPath: string): Promise<{ size: number; modified: Date }> {
  try {
    const info = await stat(outputPath);
    if (info.isFile()) return { size: info.size, modified: info.mtime };
  } catch {
    // Answered below in words.
  }
  throw new DownloadRefused(
    409,
    `${path.basename(outputPath)} is no longer in the output folder (Verify outputs lists what is missing)`,
  );
}

export async function serveDownload(
  url: URL,
  response: http.ServerResponse,
  jobs: JobLookup,
): Promise<void> {
  try {
    const jobId = url.searchParams.get('job') ?? '';
    let job: Job;
    try {
      job = jobs.job(jobId);
    } catch {
      throw new DownloadRefused(404, 'There is no such job (it may have been removed)');
    }
    const fileParam = url.searchParams.get('file');
    if (fileParam !== null) {
      if (!/^\d{1,9}$/.test(fileParam))
        throw new DownloadRefused(400, 'file must be a photo number');
      let outputPath: string;
      try {
        ({ outputPath } = writtenOutput(job, Number(fileParam)));
      } catch (error) {
        if (error instanceof InvalidArgument) throw new DownloadRefused(409, error.message);
        throw error;
      }
      const { size } = await sizeOnDisk(outputPath);
      response.writeHead(200, {
        'Content-Type':
          OUTPUT_TYPES[path.extname(outputPath).toLowerCase()] ?? 'application/octet-stream',
        'Content-Length': size,
        'Content-Disposition': attachmentHeader(path.basename(outputPath)),
        'Cache-Control': 'no-store',
      });
      await pipeline(createReadStream(outputPath), response);
      return;
    }
    const outputs = writtenOutputs(job);
    if (outputs.length === 0)
      throw new DownloadRefused(409, 'This job has not written any photo yet');
    const entries: ZipEntry[] = [];
    for (const { outputPath } of outputs) {
      const { size, modified } = await sizeOnDisk(outputPath);
      // Names as the output folder holds them, sub-folders included.
      const name = path.relative(job.outputFolder, outputPath).split(path.sep).join('/');
      entries.push({ name, path: outputPath, size, modified });
    }
    const total = zipSize(entries);
    if (total === null) {
      throw new DownloadRefused(
        413,
        `${entries.length} photos are too many or too large for one zip (at most 65,535 files and 4 GiB); download them one by one or copy the output folder`,
      );
    }
    response.writeHead(200, {
      'Content-Type': 'application/zip',
      'Content-Length': total,
      'Content-Disposition': attachmentHeader(`${path.basename(job.outputFolder)}.zip`),
      'Cache-Control': 'no-store',
    });
    await writeZip(entries, response);
    response.end();
  } catch (error) {
    if (error instanceof DownloadRefused && !response.headersSent) {
      refuse(response, error.status, error.message);
      return;
    }
    // Past the headers the only honest signal left is a cut connection: the browser then
    // reports the download as failed instead of saving a short file.
    response.destroy(error instanceof Error ? error : new Error(String(error)));
  }
}
