/**
 * Round 2 of the photographer's loop, at the handler level: folder errors in words for people
 * (no errno codes), `~` as the home folder, settings refusals without JSON, and Compare's
 * model choice reaching the job ("Use these settings for the batch").
 */
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AllowedFolders } from '../../src/main/api/allowedFolders.ts';
import { createRequestHandlers, type RequestHandlers } from '../../src/main/api/handlers.ts';
import { expandHome } from '../../src/main/api/homeFolder.ts';
import { parseExportSettings } from '../../src/shared/exportSettings.ts';
import { fakeServices, type RecordedCalls } from './fakeServices.ts';
import { useTempFolders } from '../helpers/tempFolders.ts';

describe('expandHome', () => {
  it.each([
    ['~', '/home/ann'],
    ['~/', '/home/ann'],
    ['~/Photos/2026', '/home/ann/Photos/2026'],
    ['/srv/photos', '/srv/photos'],
    ['~bob/x', '~bob/x'],
    ['photos', 'photos'],
  ])('%s → %s', (typed, expected) => {
    expect(expandHome(typed, '/home/ann')).toBe(expected);
  });
});

describe('round 2 channels', () => {
  const tempFolder = useTempFolders();
  let root: string;
  let photos: string;
  let web: RequestHandlers;
  let calls: RecordedCalls;
  let warn: { mock: { calls: unknown[][] }; mockRestore(): void };

  beforeEach(async () => {
    root = await tempFolder('cmsc-round2-');
    photos = path.join(root, 'photos');
    await mkdir(photos);
    await writeFile(path.join(photos, 'a.jpg'), 'x');
    const allowed = new AllowedFolders();
    await allowed.add(photos);
    const fake = fakeServices();
    // The real check of what a settings file may hold (the fake stores anything).
    fake.services.settings.save = async (candidate) => parseExportSettings(candidate);
    calls = fake.calls;
    web = createRequestHandlers(fake.services, allowed, { mode: 'web' });
    warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
  });
  afterEach(() => warn.mockRestore());

  it('says why a folder cannot be opened in words, and logs the errno code', async () => {
    expect(await web.handle('browse:list', [path.join(root, 'missing')])).toEqual({
      ok: false,
      error: { code: 'invalid-argument', message: 'This folder does not exist' },
    });
    expect(await web.handle('browse:list', [path.join(photos, 'a.jpg')])).toEqual({
      ok: false,
      error: { code: 'invalid-argument', message: 'This is a file; pick the folder that holds it' },
    });
    expect(await web.handle('browse:list', ['photos'])).toEqual({
      ok: false,
      error: {
        code: 'invalid-argument',
        message: 'Type the whole path of the folder, starting with / or ~',
      },
    });
    const logged = warn.mock.calls.map((call: unknown[]) => String(call[0]));
    expect(logged[0]).toBe(
      `browse:list: This folder does not exist [cannot open folder ${path.join(root, 'missing')} (ENOENT)]`,
    );
    expect(logged[1]).toContain('(ENOTDIR)');
  });

  it('opens and chooses `~` and `~/…` as the home folder', async () => {
    const home = os.homedir();
    const listed = await web.handle('browse:list', ['~']);
    expect(listed).toMatchObject({ ok: true, value: { path: path.resolve(home) } });
    const chosen = await web.handle('browse:choose', ['~/']);
    expect(chosen.ok).toBe(true);
  });

  it('refuses impossible settings without JSON: "Scale goes from 1 to 4"', async () => {
    const answer = await web.handle('settings:set', [
      { ...(await settingsNow(web)), target: { kind: 'scale', scale: 5 } },
    ]);
    expect(answer).toEqual({
      ok: false,
      error: {
        code: 'invalid-argument',
        message: 'Not saved: Scale goes from 1 to 4; width and height from 1 to 65535 pixels',
      },
    });
    expect(answer.ok ? '' : answer.error.message).not.toMatch(/[{}"]/);
  });

  it('queues a job with the model and preset chosen in Compare', async () => {
    const inputs = { paths: [photos], recursive: true };
    const choice = { model: 'cmsc-tiny', qualityPreset: 'fast', source: 'clean' };
    expect((await web.handle('batch:add', [inputs, choice])).ok).toBe(true);
    expect(calls.addSettings[0]).toMatchObject({
      model: 'cmsc-tiny',
      qualityPreset: 'fast',
      source: 'clean',
    });
    expect(await web.handle('batch:add', [inputs, { ...choice, model: 'cmsc-unknown' }])).toEqual({
      ok: false,
      error: { code: 'invalid-argument', message: 'There is no model named cmsc-unknown here' },
    });
    expect(await web.handle('batch:add', [inputs, { ...choice, qualityPreset: 'max' }])).toEqual({
      ok: false,
      error: {
        code: 'invalid-argument',
        message: 'choice.qualityPreset must be one of fast, balanced, best',
      },
    });
  });

  it('writes a choice into a job that has not started, and rescans one', async () => {
    const choice = { model: 'cmsc-tiny', qualityPreset: 'balanced', source: 'photo' };
    expect(await web.handle('batch:useModel', ['job-1', choice])).toMatchObject({
      ok: true,
      value: { id: 'job-2' },
    });
    expect(await web.handle('batch:rescan', ['job-1'])).toMatchObject({
      ok: true,
      value: { id: 'job-2' },
    });
    expect(calls.rebuild.map((call) => [call.jobId, call.settings?.qualityPreset ?? null])).toEqual(
      [
        ['job-1', 'balanced'],
        ['job-1', null],
      ],
    );
    expect(calls.rebuild[0]!.settings).toMatchObject({ model: 'cmsc-tiny', source: 'photo' });
  });
});

async function settingsNow(handlers: RequestHandlers): Promise<Record<string, unknown>> {
  const answer = await handlers.handle('settings:get', []);
  if (!answer.ok) throw new Error(answer.error.message);
  return answer.value as Record<string, unknown>;
}
