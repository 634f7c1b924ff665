/**
 * Issue 23, "Open with CMSC Upscaler": the launch-argument parsing and the inbox that hands
 * photos and folders to the running app (Electron cannot start here; main.ts only wires these
 * to `second-instance`, `open-file` and the page's `app:openPaths` event).
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AllowedFolders } from '../../src/main/api/allowedFolders.ts';
import {
  launchPaths,
  OpenWithInbox,
  takeExisting,
  type OpenWithTarget,
} from '../../src/main/electron/openWith.ts';
import { SUPPORTED_INPUT_EXTENSIONS } from '../../src/shared/imageExtensions.ts';

describe('launch arguments', () => {
  it('takes the paths of a packaged launch, resolved against its folder, without switches', () => {
    expect(
      launchPaths({
        argv: [
          '/opt/CMSC Upscaler/cmsc-upscaler',
          'IMG_0001.jpg',
          '--original-process-start-time=13380000000',
          '/media/card/DCIM',
          '-psn_0_12345',
          '../shared/trip',
          'IMG_0001.jpg',
        ],
        cwd: '/home/ana/Pictures',
        isPackaged: true,
      }),
    ).toEqual(['/home/ana/Pictures/IMG_0001.jpg', '/media/card/DCIM', '/home/ana/shared/trip']);
  });

  it('skips the app folder in development, and after -- takes a name that starts with a dash', () => {
    expect(
      launchPaths({
        argv: ['/usr/lib/electron/electron', '.', '--inspect', '--', '-dash.png', 'b.png'],
        cwd: '/work',
        isPackaged: false,
      }),
    ).toEqual(['/work/-dash.png', '/work/b.png']);
    expect(
      launchPaths({ argv: ['/usr/lib/electron/electron', '.'], cwd: '/w', isPackaged: false }),
    ).toEqual([]);
    expect(
      launchPaths({ argv: ['app', 'https://example.com/x.jpg', ''], cwd: '/w', isPackaged: true }),
    ).toEqual([]);
  });
});

function recordingTarget(options: { missing?: string[] } = {}) {
  const log: string[] = [];
  const target: OpenWithTarget = {
    async allow(paths) {
      log.push(`allow ${paths.join(' ')}`);
      const taken = paths.filter((candidate) => !options.missing?.includes(candidate));
      if (taken.length === 0) throw new Error(`Nothing to open: ${paths.join(', ')}`);
      return taken;
    },
    deliver: (paths) => void log.push(`deliver ${paths.join(' ')}`),
    focus: () => void log.push('focus'),
    refuse: (message) => void log.push(`refuse ${message}`),
  };
  return { target, log };
}

describe('the open-with inbox', () => {
  it('keeps what arrives before the page is ready and hands it on, in order, once it is', async () => {
    const inbox = new OpenWithInbox();
    const { target, log } = recordingTarget();
    await inbox.receive(['/p/a.jpg']);
    await inbox.receive(['/p/b.jpg', '/p/a.jpg']);
    expect(log).toEqual([]);
    await inbox.ready(target);
    expect(log).toEqual(['focus', 'allow /p/a.jpg /p/b.jpg', 'deliver /p/a.jpg /p/b.jpg']);
  });

  it('hands a second launch its photos at once, and an empty second launch only brings the window up', async () => {
    const inbox = new OpenWithInbox();
    const { target, log } = recordingTarget();
    await inbox.ready(target);
    expect(log).toEqual([]);
    await inbox.receive(['/q/Photos']);
    await inbox.receive([]);
    expect(log).toEqual(['focus', 'allow /q/Photos', 'deliver /q/Photos', 'focus']);
  });

  it('drops paths that are gone, and says so when nothing is left', async () => {
    const inbox = new OpenWithInbox();
    const { target, log } = recordingTarget({ missing: ['/r/gone.jpg', '/r/old'] });
    await inbox.ready(target);
    await inbox.receive(['/r/gone.jpg', '/r/here.jpg']);
    await inbox.receive(['/r/gone.jpg', '/r/old']);
    expect(log).toEqual([
      'focus',
      'allow /r/gone.jpg /r/here.jpg',
      'deliver /r/here.jpg',
      'focus',
      'allow /r/gone.jpg /r/old',
      'refuse Nothing to open: /r/gone.jpg, /r/old',
    ]);
  });
});

describe('taking the paths into the allowed folders', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'cmsc-open-with-'));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('allows the photo and the folder that exist, not the one that does not', async () => {
    const allowed = new AllowedFolders();
    await mkdir(path.join(root, 'Photos'));
    await writeFile(path.join(root, 'one.jpg'), 'x');
    const taken = await takeExisting(
      [path.join(root, 'one.jpg'), path.join(root, 'missing.jpg'), path.join(root, 'Photos')],
      (candidate) => allowed.add(candidate),
    );
    expect(taken).toEqual([path.join(root, 'one.jpg'), path.join(root, 'Photos')]);
    expect(allowed.list()).toEqual([path.join(root, 'Photos'), path.join(root, 'one.jpg')]);
    await expect(
      takeExisting([path.join(root, 'missing.jpg')], (candidate) => allowed.add(candidate)),
    ).rejects.toThrow(`Nothing to open: ${path.join(root, 'missing.jpg')} is not there any more`);
  });
});

describe('electron-builder.yml', () => {
  it('associates every image type the app reads, and folders on Linux and macOS', async () => {
    // electron-builder reads its file with js-yaml, so the test reads it with the same parser.
    const jsYaml: string = 'js-yaml';
    const { load } = (await import(jsYaml)) as { load(text: string): unknown };
    const config = load(
      await readFile(path.join(import.meta.dirname, '../../electron-builder.yml'), 'utf8'),
    ) as {
      fileAssociations: { ext: string | string[]; role: string }[];
      linux: { mimeTypes: string[] };
      mac: { extendInfo: { CFBundleDocumentTypes: { LSItemContentTypes: string[] }[] } };
    };
    const associated = config.fileAssociations.flatMap((association) => association.ext);
    expect([...associated].sort()).toEqual([...SUPPORTED_INPUT_EXTENSIONS].sort());
    expect(new Set(config.fileAssociations.map((association) => association.role))).toEqual(
      new Set(['Viewer']),
    );
    expect(config.linux.mimeTypes).toContain('inode/directory');
    expect(config.mac.extendInfo.CFBundleDocumentTypes[0]?.LSItemContentTypes).toEqual([
      'public.folder',
    ]);
  });
});
