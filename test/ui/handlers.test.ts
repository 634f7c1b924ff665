import { mkdir, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { AllowedFolders } from '../../src/main/api/allowedFolders.ts';
import { createEngineService } from '../../src/main/api/engineService.ts';
import { createRequestHandlers, type RequestHandlers } from '../../src/main/api/handlers.ts';
import { UnreadableImage } from '../../src/main/api/validate.ts';
import type { Engine } from '../../src/main/engine/index.ts';
import type { Precision, UpscaleOptions } from '../../src/shared/upscaleOptions.ts';
import { fakeServices, type RecordedCalls } from './fakeServices.ts';
import { useTempFolders } from '../helpers/tempFolders.ts';

describe('request handlers (shared by IPC and HTTP)', () => {
  const tempFolder = useTempFolders();
  let root: string;
  let photos: string;
  let outside: string;
  let web: RequestHandlers;
  let desktop: RequestHandlers;
  let calls: RecordedCalls;

  beforeEach(async () => {
    root = await tempFolder('cmsc-handlers-');
    photos = path.join(root, 'photos');
    outside = path.join(root, 'elsewhere');
    await mkdir(photos);
    await mkdir(outside);
    await writeFile(path.join(photos, 'a.jpg'), 'x');
    await writeFile(path.join(outside, 'secret.jpg'), 'x');
    const allowed = new AllowedFolders();
    await allowed.add(photos);
    const fake = fakeServices();
    calls = fake.calls;
    web = createRequestHandlers(fake.services, allowed, { mode: 'web' });
    desktop = createRequestHandlers(fake.services, allowed, {
      mode: 'desktop',
      pickInputs: async () => [outside],
    });
  });

  const inputs = (paths: unknown, extra: Record<string, unknown> = {}) => ({
    paths,
    recursive: true,
    ...extra,
  });

  it('answers unknown channels and non-list arguments as invalid, without calling a service', async () => {
    expect(await web.handle('batch:explode', [])).toEqual({
      ok: false,
      error: { code: 'invalid-argument', message: 'unknown channel batch:explode' },
    });
    expect(await web.handle('batch:add', { paths: [photos] })).toEqual({
      ok: false,
      error: { code: 'invalid-argument', message: 'arguments must be a list' },
    });
    expect(await web.handle('batch:list', [1])).toEqual({
      ok: false,
      error: { code: 'invalid-argument', message: 'expected 0 argument(s), got 1' },
    });
    expect(calls.add).toEqual([]);
  });

  it('passes job inputs inside an added folder on, resolved, with defaults for the filters', async () => {
    const answer = await web.handle('batch:add', [inputs([path.join(photos, 'sub/../a.jpg')])]);
    expect(answer.ok).toBe(true);
    expect(calls.add).toEqual([
      {
        paths: [path.join(photos, 'a.jpg')],
        recursive: true,
        includeExtensions: [],
        excludeExtensions: [],
      },
    ]);
  });

  it.each([
    [inputs('not a list'), 'inputs.paths must be a list'],
    [inputs([]), 'inputs.paths must not be empty'],
    [inputs([42]), 'inputs.paths[0] must be a string'],
    [inputs(['relative/photos']), 'relative/photos is not an absolute path'],
    [inputs(['/tmp/a\0b']), 'inputs.paths[0] contains a NUL character'],
    [{ paths: ['/x'] }, 'inputs.recursive must be true or false'],
    [
      inputs(['/x'], { includeExtensions: ['.JPG'] }),
      'inputs.includeExtensions[0] must be a lower-case extension without the dot',
    ],
    [null, 'inputs must be an object'],
  ])('refuses job inputs %j: %s', async (bad, message) => {
    expect(await web.handle('batch:preflight', [bad])).toEqual({
      ok: false,
      error: { code: 'invalid-argument', message },
    });
    expect(calls.preflight).toEqual([]);
  });

  it('refuses paths outside the added folders, also through a symlink', async () => {
    await symlink(outside, path.join(photos, 'link'));
    for (const sneaky of [
      path.join(outside, 'secret.jpg'),
      path.join(photos, '../elsewhere/secret.jpg'),
      path.join(photos, 'link/secret.jpg'),
    ]) {
      const answer = await web.handle('image:thumbnail', [sneaky, 128]);
      expect(answer).toEqual({
        ok: false,
        error: { code: 'forbidden', message: `${sneaky} is outside the folders you added` },
      });
    }
    expect(calls.thumbnail).toEqual([]);
  });

  it('checks every field of a crop request and forwards a valid one exactly', async () => {
    const good = {
      inputPath: path.join(photos, 'a.jpg'),
      rect: { x: 10, y: 20, width: 64, height: 32 },
      scale: 2.5,
      quality: 'fast',
    };
    expect((await web.handle('compare:crop', [good])).ok).toBe(true);
    const photo = { ...good, source: 'photo' };
    expect((await web.handle('compare:crop', [photo])).ok).toBe(true);
    expect(calls.crop).toEqual([good, photo]);
    const refusals: [Record<string, unknown>, string][] = [
      [{ ...good, rect: { ...good.rect, width: 0 } }, 'rect.width must be between 1 and 512'],
      [{ ...good, rect: { ...good.rect, height: 513 } }, 'rect.height must be between 1 and 512'],
      [{ ...good, rect: { ...good.rect, x: -1 } }, 'rect.x must be between 0 and 65471'],
      [{ ...good, rect: { ...good.rect, y: 1.5 } }, 'rect.y must be an integer'],
      [{ ...good, scale: 5 }, 'scale must be between 1 and 4'],
      [{ ...good, scale: Number.NaN }, 'scale must be a finite number'],
      [{ ...good, quality: 'ultra' }, 'quality must be one of fast, balanced, best'],
      [{ ...good, rect: 'all' }, 'rect must be an object'],
      [{ ...good, source: 'jpeg' }, 'source must be one of auto, clean, photo'],
    ];
    for (const [bad, message] of refusals) {
      expect(await web.handle('compare:crop', [bad])).toEqual({
        ok: false,
        error: { code: 'invalid-argument', message },
      });
    }
    expect(calls.crop).toHaveLength(2);
  });

  it('limits thumbnail sizes', async () => {
    expect(await web.handle('image:thumbnail', [path.join(photos, 'a.jpg'), 4096])).toEqual({
      ok: false,
      error: { code: 'invalid-argument', message: 'maxSide must be between 16 and 1024' },
    });
  });

  it('writes only to an output folder the user chose', async () => {
    expect(await web.handle('settings:set', [{ outputFolder: path.join(outside, 'out') }])).toEqual(
      {
        ok: false,
        error: {
          code: 'forbidden',
          message: `${path.join(outside, 'out')} is outside the folders you added`,
        },
      },
    );
    expect(await web.handle('settings:set', ['format=png'])).toEqual({
      ok: false,
      error: { code: 'invalid-argument', message: 'settings must be an object' },
    });
    expect(calls.saved).toEqual([]);
  });

  it('keeps native dialogs to the desktop and the folder browser to web mode', async () => {
    expect(await web.handle('dialog:pickInputs', ['folders'])).toEqual({
      ok: false,
      error: { code: 'unavailable', message: 'a native file dialog is not available in web mode' },
    });
    expect(await desktop.handle('browse:list', [null])).toEqual({
      ok: false,
      error: { code: 'unavailable', message: 'the folder browser is for web mode; use the dialog' },
    });
    expect(await desktop.handle('dialog:pickInputs', ['everything'])).toEqual({
      ok: false,
      error: { code: 'invalid-argument', message: 'kind must be one of folders, files' },
    });
  });

  it('makes what the user picks an allowed folder', async () => {
    expect(await desktop.handle('dialog:pickInputs', ['folders'])).toEqual({
      ok: true,
      value: [outside],
    });
    expect(
      (await desktop.handle('image:thumbnail', [path.join(outside, 'secret.jpg'), 64])).ok,
    ).toBe(true);
    expect(await web.handle('browse:choose', [outside])).toEqual({ ok: true, value: outside });
  });

  it('lists folders and counts their images in the web folder browser', async () => {
    await mkdir(path.join(photos, 'b-sub'));
    await mkdir(path.join(photos, '.hidden'));
    expect(await web.handle('browse:list', [photos])).toEqual({
      ok: true,
      value: {
        path: photos,
        parent: root,
        folders: [{ name: 'b-sub', path: path.join(photos, 'b-sub') }],
        imageCount: 1,
        places: [
          { name: 'Home', path: os.homedir() },
          { name: '/', path: '/' },
        ],
      },
    });
  });

  it('shows pictures of the first photos of a folder: any in web mode, added ones on the desktop', async () => {
    await writeFile(path.join(photos, 'b.png'), 'x');
    await writeFile(path.join(photos, 'notes.txt'), 'x');
    const image = { mime: 'image/png', bytes: new Uint8Array([1, 2, 3]), width: 1, height: 1 };
    expect(await web.handle('browse:previews', [photos])).toEqual({
      ok: true,
      value: [
        { name: 'a.jpg', path: path.join(photos, 'a.jpg'), image },
        { name: 'b.png', path: path.join(photos, 'b.png'), image },
      ],
    });
    expect(calls.thumbnail).toEqual([
      [path.join(photos, 'a.jpg'), 96],
      [path.join(photos, 'b.png'), 96],
    ]);
    expect((await desktop.handle('browse:previews', [photos])).ok).toBe(true);
    expect(await desktop.handle('browse:previews', [outside])).toEqual({
      ok: false,
      error: { code: 'forbidden', message: `${outside} is outside the folders you added` },
    });
  });

  it('tells an undecodable photo from a failure when making its picture', async () => {
    const notAnImage = path.join(photos, 'notes.jpg');
    await writeFile(notAnImage, 'plain text');
    const engineService = createEngineService({} as Engine, { availableProviders: [] });
    await expect(engineService.thumbnail(notAnImage, 64)).rejects.toBeInstanceOf(UnreadableImage);
  });

  it('Compare crops follow the Precision setting, say which file ran, and are cached per precision', async () => {
    const photo = path.join(photos, 'crop.png');
    await writeFile(photo, 'x');
    let precision: Precision = 'auto';
    const asked: (Precision | undefined)[] = [];
    const rgba = { width: 2, height: 2, data: new Uint8Array(16).fill(200) };
    const engine = {
      probe: async () => ({ width: 16, height: 16 }),
      providers: async () => ({ requested: 'cpu', active: 'cpu', attempts: [] }),
      async upscaleRegion(_path: string, _rect: unknown, options: UpscaleOptions) {
        asked.push(options.precision);
        return {
          model: 'cmsc-fast',
          stages: 1,
          precision: options.precision === 'fp32' ? 'fp32' : 'int8',
          source: {
            kind: 'clean',
            setting: 'auto',
            reason: 'PNG',
            jpegQuality: null,
            noiseSigma: 0,
          },
          inputRegion: { x: 0, y: 0, width: 2, height: 2 },
          outputRegion: { x: 0, y: 0, width: 2, height: 2 },
          outputWidth: 32,
          outputHeight: 32,
          input: rgba,
          output: rgba,
        };
      },
    } as unknown as Engine;
    const service = createEngineService(engine, {
      precision: async () => precision,
      availableProviders: [],
    });
    const request = { inputPath: photo, rect: { x: 0, y: 0, width: 2, height: 2 }, scale: 2 };
    const crop = async () => {
      const result = await service.crop({ ...request, quality: 'fast' });
      return `${result.precision}${result.cached ? ' (cached)' : ''}`;
    };
    const shown = [await crop(), await crop()];
    precision = 'fp32';
    shown.push(await crop());
    expect([shown, asked]).toEqual([
      ['int8', 'int8 (cached)', 'fp32'],
      ['auto', 'fp32'],
    ]);
  });

  it('turns a service failure into a failed answer with its message', async () => {
    expect(await web.handle('batch:pause', ['job-7'])).toEqual({ ok: true, value: undefined });
    expect(await web.handle('shell:openFolder', ['job-7'])).toEqual({
      ok: false,
      error: { code: 'failed', message: 'no job job-7' },
    });
    expect(await web.handle('shell:openFolder', ['job-1'])).toEqual({
      ok: true,
      value: { opened: false, path: '/tmp/out' },
    });
  });
});
