/**
 * `npm run serve`: the upscaler in a browser. Starts the same services as the desktop app behind
 * HTTP on 127.0.0.1 and prints the address with its access token.
 *
 *   npm run serve -- [--port N] [--models DIR]... [--data DIR] [--threads N] [--no-build]
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { AllowedFolders } from '../api/allowedFolders.ts';
import { createAppServices } from '../api/appServices.ts';
import { defaultDataDir } from '../api/dataDir.ts';
import { createRequestHandlers } from '../api/handlers.ts';
import { buildRenderer, rendererIsStale } from './rendererBuild.ts';
import { startWebServer } from './webServer.ts';

const repositoryRoot = path.resolve(import.meta.dirname, '../../..');
const rendererOut = path.join(repositoryRoot, 'out/renderer');

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '0' },
      models: { type: 'string', multiple: true },
      data: { type: 'string' },
      threads: { type: 'string' },
      'no-build': { type: 'boolean', default: false },
    },
  });
  const threads = values.threads === undefined ? undefined : Number(values.threads);
  if (threads !== undefined && (!Number.isInteger(threads) || threads < 0)) {
    throw new Error(`--threads ${values.threads} is not a thread count (0 = one per core)`);
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw new Error(`--port ${values.port} is not a port`);

  const sources = ['src/renderer', 'src/shared'].map((folder) => path.join(repositoryRoot, folder));
  if (
    !values['no-build'] &&
    (await rendererIsStale(sources, path.join(rendererOut, 'index.html')))
  ) {
    console.log('Building the UI…');
    await buildRenderer();
  }

  const packageJson = JSON.parse(
    await readFile(path.join(repositoryRoot, 'package.json'), 'utf8'),
  ) as { version: string };
  const allowedFolders = new AllowedFolders();
  const services = await createAppServices({
    version: packageJson.version,
    dataDir: path.resolve(values.data ?? defaultDataDir()),
    allowedFolders,
    ...(values.models ? { modelsDirs: values.models.map((dir) => path.resolve(dir)) } : {}),
    ...(threads !== undefined ? { threads } : {}),
  });
  const handlers = createRequestHandlers(services, allowedFolders, { mode: 'web' });
  const server = await startWebServer({
    handlers,
    subscribe: (listener) => services.subscribe(listener),
    staticDir: rendererOut,
    port,
    jobs: services.batch,
    uploads: allowedFolders,
  });
  console.log(
    `CMSC Upscaler is running. Open this address in your browser (it carries the access token):`,
  );
  console.log(server.url);

  const stop = async (): Promise<void> => {
    await server.close();
    await services.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
