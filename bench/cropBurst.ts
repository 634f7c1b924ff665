/**
 * `npm run bench:crop-burst [-- --count 50 --size 2000 --crop 256 --quality fast --settle 70]`
 *
 * Web mode under a burst of Compare crops: the real services and HTTP server in this process,
 * one `--size`² photo, `--count` crop requests of `--crop`² sent at once (each at another
 * place, as a person dragging the box sends them). Prints the process's resident memory before
 * the burst, its peak during it, right after the last answer and after `--settle` seconds idle
 * (the inference worker releases its sessions after 60 s), with the answers by status.
 * Asserts nothing.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { AllowedFolders } from '../src/main/api/allowedFolders.ts';
import { createAppServices } from '../src/main/api/appServices.ts';
import { createRequestHandlers } from '../src/main/api/handlers.ts';
import { startWebServer } from '../src/main/server/webServer.ts';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '50' },
    size: { type: 'string', default: '2000' },
    crop: { type: 'string', default: '256' },
    quality: { type: 'string', default: 'fast' },
    settle: { type: 'string', default: '70' },
    models: { type: 'string' },
  },
});
const count = Number(values.count);
const size = Number(values.size);
const crop = Number(values.crop);
const settleSeconds = Number(values.settle);
const mib = (bytes: number): string => `${Math.round(bytes / 2 ** 20)} MiB`;

const work = await mkdtemp(path.join(tmpdir(), 'cmsc-crop-burst-'));
const photos = path.join(work, 'photos');
const staticDir = path.join(work, 'renderer');
await mkdir(photos);
await mkdir(staticDir);
await writeFile(path.join(staticDir, 'index.html'), '<!doctype html>');
const photo = path.join(photos, 'photo.png');
const pixels = Buffer.alloc(size * size * 3);
for (let index = 0; index < pixels.length; index++) pixels[index] = (index * 2654435761) >>> 24;
await sharp(pixels, { raw: { width: size, height: size, channels: 3 } })
  .png()
  .toFile(photo);

const allowed = new AllowedFolders();
await allowed.add(photos);
const services = await createAppServices({
  version: 'bench',
  dataDir: path.join(work, 'data'),
  ...(values.models ? { modelsDirs: [path.resolve(values.models)] } : {}),
  allowedFolders: allowed,
});
await services.settings.save({ ...(await services.settings.load()), device: 'cpu' });
const token = 'bench-token-0123456789';
const server = await startWebServer({
  handlers: createRequestHandlers(services, allowed, { mode: 'web' }),
  subscribe: services.subscribe,
  staticDir,
  token,
});

function cropRequest(index: number): Promise<number> {
  const body = JSON.stringify({
    args: [
      {
        inputPath: photo,
        rect: {
          x: (index * 29) % (size - crop),
          y: (index * 53) % (size - crop),
          width: crop,
          height: crop,
        },
        scale: 2,
        quality: values.quality,
      },
    ],
  });
  return new Promise((resolve, reject) => {
    const request = http.request(
      {
        host: '127.0.0.1',
        port: server.port,
        method: 'POST',
        path: `/api/invoke/compare:crop?token=${token}`,
        headers: { host: `127.0.0.1:${server.port}`, 'content-type': 'application/json' },
      },
      (response) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode ?? 0));
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

try {
  global.gc?.();
  const before = process.memoryUsage().rss;
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
  const started = performance.now();
  const statuses = await Promise.all(
    Array.from({ length: count }, (_, index) => cropRequest(index)),
  );
  const seconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  const after = process.memoryUsage().rss;
  await new Promise((resolve) => setTimeout(resolve, settleSeconds * 1000));
  const settled = process.memoryUsage().rss;
  const byStatus = new Map<number, number>();
  for (const status of statuses) byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
  console.log(
    `${count} crops of ${crop}² (x2, ${values.quality}) from one ${size}² photo, sent at once`,
  );
  console.log(
    `answers: ${[...byStatus].map(([status, n]) => `${n} x ${status}`).join(', ')} in ${seconds.toFixed(1)} s`,
  );
  console.log(`rss before the burst: ${mib(before)}`);
  console.log(`rss peak during it:   ${mib(peak)}`);
  console.log(`rss after it:         ${mib(after)}`);
  console.log(`rss ${settleSeconds} s later:      ${mib(settled)}`);
} finally {
  await server.close();
  await services.close();
  await rm(work, { recursive: true, force: true });
}
