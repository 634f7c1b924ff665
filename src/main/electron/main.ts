/**
 * Electron entry: app lifecycle only. The services are the same ones web mode serves
 * (src/main/api); this file wires them to IPC, native dialogs and the desktop shell.
 */
import { app, type BrowserWindow, dialog, ipcMain, shell } from 'electron';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { AllowedFolders } from '../api/allowedFolders.ts';
import { createAppServices } from '../api/appServices.ts';
import { createRequestHandlers } from '../api/handlers.ts';
import type { AppServices } from '../api/services.ts';
import { attachDesktopIntegration } from './desktopIntegration.ts';
import { pickInputs, pickOutputFolder } from './dialogs.ts';
import { launchPaths, OpenWithInbox, takeExisting } from './openWith.ts';
import { createShellActions } from './shellActions.ts';
import { forwardEvents, registerIpcHandlers } from './ipcRegistration.ts';
import { applySessionPolicy, createMainWindow } from './mainWindow.ts';

/** Where electron-vite put the other bundles, relative to this one (out/main/index.js). */
const preloadPath = path.join(import.meta.dirname, '../preload/index.cjs');
const rendererUrl =
  process.env.ELECTRON_RENDERER_URL ??
  pathToFileURL(path.join(import.meta.dirname, '../renderer/index.html')).href;
const workerUrl = pathToFileURL(path.join(import.meta.dirname, 'inferenceWorker.js'));
/** Photos and folders the system hands the app ("Open with", a second launch, open-file). */
const openWith = new OpenWithInbox();

function modelsDir(): string {
  // Packaged: electron-builder copies models/ next to app.asar (extraResources).
  return app.isPackaged
    ? path.join(process.resourcesPath, 'models')
    : path.join(app.getAppPath(), 'models');
}

async function start(): Promise<void> {
  applySessionPolicy();
  const allowedFolders = new AllowedFolders();
  const services: AppServices = await createAppServices({
    version: app.getVersion(),
    dataDir: app.getPath('userData'),
    modelsDirs: [modelsDir()],
    workerUrl,
    allowedFolders,
  });

  // Handlers first, window second: the page may call main as soon as it loads.
  let window: BrowserWindow | null = null;
  const requireWindow = (): BrowserWindow => {
    if (!window) throw new Error('the app window is not open');
    return window;
  };
  // Dialogs open where the person was last: the output folder in the settings, else the input
  // folder of the newest job (as the web mode's folder browser does).
  const lastInputFolder = (): string | undefined =>
    services.batch.snapshot().jobs.at(-1)?.inputs.paths[0];
  const handlers = createRequestHandlers(services, allowedFolders, {
    mode: 'desktop',
    pickInputs: (kind) => pickInputs(requireWindow(), kind, lastInputFolder()),
    pickOutputFolder: async () =>
      pickOutputFolder(
        requireWindow(),
        (await services.settings.load()).outputFolder ?? lastInputFolder(),
      ),
    ...createShellActions(shell),
  });
  const unregister = registerIpcHandlers(ipcMain, handlers, rendererUrl);
  window = createMainWindow({
    preloadPath,
    rendererUrl,
    iconPath: path.join(app.getAppPath(), 'assets/icon.png'),
  });
  const stopForwarding = forwardEvents(services.subscribe, window.webContents);
  const openedWindow = window;
  // The page subscribes as it starts, before the load finishes: from then on it can take paths.
  openedWindow.webContents.once('did-finish-load', () => {
    void openWith.ready({
      allow: (paths) => takeExisting(paths, (candidate) => allowedFolders.add(candidate)),
      deliver: (paths) => {
        if (!openedWindow.isDestroyed()) openedWindow.webContents.send('app:openPaths', { paths });
      },
      focus: () => {
        if (openedWindow.isDestroyed()) return;
        if (openedWindow.isMinimized()) openedWindow.restore();
        openedWindow.focus();
      },
      refuse: (message) => dialog.showErrorBox('CMSC Upscaler', message),
    });
  });
  const stopDesktop = attachDesktopIntegration(window, services.subscribe);

  let closing = false;
  app.on('before-quit', (event) => {
    if (closing) return;
    // Flush the queue's state before exiting so the running image resumes next time.
    event.preventDefault();
    closing = true;
    stopForwarding();
    stopDesktop();
    unregister();
    void services.close().finally(() => app.quit());
  });
}

if (!app.requestSingleInstanceLock()) {
  // A second copy would run a second queue on the same state file.
  app.quit();
} else {
  // A second launch ("Open with", a double-click, `cmsc-upscaler photo.jpg`) quits at once and
  // hands its arguments here: its photos join the running app.
  app.on('second-instance', (_event, argv, workingDirectory) => {
    void openWith.receive(launchPaths({ argv, cwd: workingDirectory, isPackaged: app.isPackaged }));
  });
  // macOS sends files opened with the app as events, also before it is ready.
  app.on('open-file', (event, file) => {
    event.preventDefault();
    void openWith.receive([file]);
  });
  void openWith.receive(
    launchPaths({ argv: process.argv, cwd: process.cwd(), isPackaged: app.isPackaged }),
  );
  app.on('window-all-closed', () => app.quit());
  app.on('web-contents-created', (_event, contents) => {
    contents.setWindowOpenHandler(() => ({ action: 'deny' }));
  });
  void app
    .whenReady()
    .then(start)
    .catch((error: unknown) => {
      console.error(error);
      app.exit(1);
    });
}
