/**
 * The channels behind previewing before starting and the folder picker: the photos a job of
 * some inputs would take, a crop from a named model, and "New folder" in web mode.
 */
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { AllowedFolders } from '../../src/main/api/allowedFolders.ts';
import { createRequestHandlers, type RequestHandlers } from '../../src/main/api/handlers.ts';
import { fakeServices, type RecordedCalls } from './fakeServices.ts';
import { useTempFolders } from '../helpers/tempFolders.ts';

describe('preview and folder picker channels', () => {
  const tempFolder = useTempFolders();
  let root: string;
  let photos: string;
  let web: RequestHandlers;
  let desktop: RequestHandlers;
  let calls: RecordedCalls;

  beforeEach(async () => {
    root = await tempFolder('cmsc-preview-');
    photos = path.join(root, 'photos');
    await mkdir(photos);
    const allowed = new AllowedFolders();
    await allowed.add(photos);
    const fake = fakeServices();
    calls = fake.calls;
    web = createRequestHandlers(fake.services, allowed, { mode: 'web' });
    desktop = createRequestHandlers(fake.services, allowed, { mode: 'desktop' });
  });

  it('lists the photos of inputs not started yet, only inside added folders', async () => {
    const inputs = { paths: [photos], recursive: false };
    expect(await web.handle('batch:photos', [inputs])).toEqual({ ok: true, value: [] });
    expect(calls.photos).toEqual([{ ...inputs, includeExtensions: [], excludeExtensions: [] }]);
    expect(await web.handle('batch:photos', [{ paths: [root], recursive: false }])).toEqual({
      ok: false,
      error: { code: 'forbidden', message: `${root} is outside the folders you added` },
    });
  });

  it('forwards the model a crop asks for, and refuses a name that is no model card name', async () => {
    const request = {
      inputPath: path.join(photos, 'a.jpg'),
      rect: { x: 0, y: 0, width: 16, height: 16 },
      scale: 2,
      quality: 'fast',
    };
    await writeFile(request.inputPath, 'x');
    expect(
      await web.handle('compare:crop', [{ ...request, model: 'cmsc-lite-photo' }]),
    ).toMatchObject({
      ok: true,
      value: { model: 'cmsc-lite-photo' },
    });
    expect(await web.handle('compare:crop', [{ ...request, model: '../secret' }])).toEqual({
      ok: false,
      error: { code: 'invalid-argument', message: 'model must be a model card name' },
    });
    expect(calls.crop.map((crop) => crop.model)).toEqual(['cmsc-lite-photo']);
  });

  it('makes a new folder in web mode and answers its listing; refuses names that are paths', async () => {
    const answer = await web.handle('browse:createFolder', [photos, 'prints 2026']);
    expect(answer).toMatchObject({
      ok: true,
      value: { path: path.join(photos, 'prints 2026'), parent: photos, folders: [], imageCount: 0 },
    });
    expect(await readdir(photos)).toEqual(['prints 2026']);
    expect(await web.handle('browse:createFolder', [photos, 'prints 2026'])).toEqual({
      ok: false,
      error: {
        code: 'invalid-argument',
        message: 'A folder named prints 2026 is here already',
      },
    });
    for (const [name, message] of [
      ['../escape', 'a folder name cannot contain / or \\: "../escape"'],
      ['a\\b', 'a folder name cannot contain / or \\: "a\\\\b"'],
      ['..', 'give the new folder a name'],
      ['  ', 'give the new folder a name'],
      ['x'.repeat(256), 'that folder name is too long'],
    ] as const) {
      expect(await web.handle('browse:createFolder', [photos, name])).toEqual({
        ok: false,
        error: { code: 'invalid-argument', message },
      });
    }
    expect(await web.handle('browse:createFolder', ['relative', 'x'])).toEqual({
      ok: false,
      error: {
        code: 'invalid-argument',
        message: 'Type the whole path of the folder, starting with / or ~',
      },
    });
    expect(await desktop.handle('browse:createFolder', [photos, 'x'])).toEqual({
      ok: false,
      error: { code: 'unavailable', message: 'the folder browser is for web mode; use the dialog' },
    });
    expect(await readdir(photos)).toEqual(['prints 2026']);
  });
});
