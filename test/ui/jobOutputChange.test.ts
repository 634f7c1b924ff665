import { describe, expect, it } from 'vitest';
import { AllowedFolders } from '../../src/main/api/allowedFolders.ts';
import { createRequestHandlers } from '../../src/main/api/handlers.ts';
import { DEFAULT_EXPORT_SETTINGS } from '../../src/shared/exportSettings.ts';
import { fakeServices } from './fakeServices.ts';

describe('batch:setOutput (issue 23, defect 5: scale, format and quality on the job card)', () => {
  it('rebuilds the job with its own settings changed in the three fields, the rest kept', async () => {
    const { services, calls } = fakeServices();
    const handlers = createRequestHandlers(services, new AllowedFolders(), { mode: 'web' });
    const answer = await handlers.handle('batch:setOutput', [
      'job-1',
      { scale: 3, format: 'png', qualityPreset: 'fast' },
    ]);
    expect(answer).toMatchObject({ ok: true, value: { id: 'job-2' } });
    expect(calls.rebuild).toEqual([
      {
        jobId: 'job-1',
        settings: {
          ...DEFAULT_EXPORT_SETTINGS,
          target: { kind: 'scale', scale: 3 },
          format: 'png',
          qualityPreset: 'fast',
        },
      },
    ]);
  });

  it('answers in words and leaves the job alone for a scale, format or quality it cannot take', async () => {
    const { services, calls } = fakeServices();
    const handlers = createRequestHandlers(services, new AllowedFolders(), { mode: 'web' });
    expect(
      await handlers.handle('batch:setOutput', [
        'job-1',
        { scale: 5, format: 'png', qualityPreset: 'fast' },
      ]),
    ).toEqual({
      ok: false,
      error: { code: 'invalid-argument', message: 'Scale goes from 1 to 4' },
    });
    const badFormat = await handlers.handle('batch:setOutput', [
      'job-1',
      { scale: 2, format: 'bmp', qualityPreset: 'fast' },
    ]);
    expect(badFormat).toEqual({
      ok: false,
      error: { code: 'invalid-argument', message: 'Not saved: check File format' },
    });
    expect(
      await handlers.handle('batch:setOutput', [
        'job-9',
        { scale: 2, format: 'png', qualityPreset: 'best' },
      ]),
    ).toEqual({ ok: false, error: { code: 'failed', message: 'no job job-9' } });
    expect(calls.rebuild).toEqual([]);
  });
});
