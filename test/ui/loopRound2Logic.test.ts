/**
 * Pure logic behind round 2 of the photographer's loop: what the batch runs (Compare's menu and
 * the job card say it), whose photos Compare lists, and each Settings field's own error.
 */
import { describe, expect, it } from 'vitest';
import {
  batchChoiceLabel,
  batchVariant,
  describeJobSettings,
  modelChoice,
} from '../../src/renderer/src/lib/batchChoice.ts';
import {
  comparePhotos,
  photosInScope,
  pickPhoto,
  scopeOf,
} from '../../src/renderer/src/lib/comparePhotos.ts';
import { settingsFieldErrors } from '../../src/renderer/src/lib/settingsErrors.ts';
import { exportOptionsReset } from '../../src/renderer/src/lib/settingsReset.ts';
import { cloneSettings, DEFAULT_EXPORT_SETTINGS } from '../../src/shared/exportSettings.ts';
import type { InputPhoto } from '../../src/shared/ipc.ts';
import type { Job } from '../../src/shared/jobs.ts';
import type { ModelSummary } from '../../src/shared/upscaleOptions.ts';

const models: ModelSummary[] = [
  {
    name: 'cmsc-fast',
    isDefault: true,
    displayName: 'fast',
    description: '',
    parameters: 1,
    presets: [],
  },
  {
    name: 'cmsc-fast-photo',
    isDefault: false,
    displayName: 'fast photo',
    description: '',
    parameters: 1,
    photoVariantOf: 'cmsc-fast',
    presets: [],
  },
];

describe("what the batch runs, in Compare's menu and on the job card", () => {
  const settings = cloneSettings(DEFAULT_EXPORT_SETTINGS);

  it('names what auto ran for this photo, not the settings model', () => {
    const auto = batchVariant(null, null, settings);
    expect(auto).toEqual({ model: null, quality: 'best', source: null });
    expect(batchChoiceLabel(auto, null)).toBe('auto (decided per photo) · best');
    expect(
      batchChoiceLabel(auto, {
        model: 'cmsc-fast-photo',
        source: {
          kind: 'photo',
          setting: 'auto',
          reason: 'JPEG quality ≈ 75',
          jpegQuality: 75,
          noiseSigma: 1,
        },
      }),
    ).toBe('auto: cmsc-fast-photo · best (photo variant, JPEG quality ≈ 75)');
  });

  it("a choice made in Compare is the batch's: clean models stay clean, photo variants run as photo", () => {
    expect(modelChoice(models, 'cmsc-fast', 'best')).toEqual({
      model: 'cmsc-fast',
      qualityPreset: 'best',
      source: 'clean',
    });
    const photo = modelChoice(models, 'cmsc-fast-photo', 'fast');
    expect(photo.source).toBe('photo');
    const pending = batchVariant(null, photo, settings);
    expect(pending).toEqual({ model: 'cmsc-fast-photo', quality: 'fast', source: 'photo' });
    expect(batchChoiceLabel(pending, null)).toBe('As the batch runs it: cmsc-fast-photo · fast');
    // A job's own snapshot wins over both.
    const jobSettings = { ...settings, model: 'cmsc-fast', qualityPreset: 'balanced' as const };
    expect(batchVariant(jobSettings, photo, settings)).toEqual({
      model: 'cmsc-fast',
      quality: 'balanced',
      source: null,
    });
  });

  it('shows scale, format (WebP, never WEBP), model and preset on the job card', () => {
    expect(describeJobSettings(settings)).toBe('x2 · same format · auto model · best');
    expect(
      describeJobSettings({
        ...settings,
        format: 'webp',
        model: 'cmsc-fast',
        qualityPreset: 'fast',
        target: { kind: 'scale', scale: 3 },
      }),
    ).toBe('x3 · WebP · cmsc-fast · fast');
  });
});

describe('Compare lists only the photos of the job or folder it was opened for', () => {
  const pending: InputPhoto[] = [
    { inputPath: '/p/garden/a.jpg', relativePath: 'a.jpg', inputRoot: '/p/garden' },
    { inputPath: '/p/garden/b.jpg', relativePath: 'b.jpg', inputRoot: '/p/garden' },
  ];
  const job = {
    id: 'j1',
    files: [
      { inputPath: '/p/city/c.jpg', relativePath: 'c.jpg', inputWidth: 10 },
      { inputPath: '/p/city/d.jpg', relativePath: 'd.jpg', inputWidth: 10 },
    ],
  } as unknown as Job;
  const roots = ['/p/garden', '/p/empty'];
  const all = comparePhotos(pending, [job]);

  it('an empty folder lists nothing, never another folder', () => {
    const scope = scopeOf({ jobId: null, inputPath: '/p/empty' }, pending, roots);
    expect(scope).toEqual({ kind: 'pending', root: '/p/empty' });
    const photos = photosInScope(all, scope, [job]);
    expect(photos).toEqual([]);
    expect(pickPhoto(photos, '/p/empty')).toBeUndefined();
  });

  it("a folder's preview, a photo of it, and a job's photo", () => {
    const folder = scopeOf({ jobId: null, inputPath: '/p/garden' }, pending, roots);
    expect(photosInScope(all, folder, [job]).map((photo) => photo.relativePath)).toEqual([
      'a.jpg',
      'b.jpg',
    ]);
    expect(scopeOf({ jobId: null, inputPath: '/p/garden/b.jpg' }, pending, roots)).toEqual(folder);
    const ofJob = scopeOf({ jobId: 'j1', inputPath: '/p/city/d.jpg' }, pending, roots);
    expect(photosInScope(all, ofJob, [job]).map((photo) => photo.relativePath)).toEqual([
      'c.jpg',
      'd.jpg',
    ]);
    expect(photosInScope(all, { kind: 'all' }, [job])).toHaveLength(4);
    expect(scopeOf(null, pending, roots)).toEqual({ kind: 'all' });
    expect(
      scopeOf({ jobId: 'j1', inputPath: '/p/city/c.jpg', everyJob: true }, pending, roots),
    ).toEqual({ kind: 'all' });
  });
});

describe("each Settings field's own error", () => {
  const settings = cloneSettings(DEFAULT_EXPORT_SETTINGS);

  it('says the range of the scale and of every number field, in words', () => {
    expect(settingsFieldErrors(settings)).toEqual({});
    expect(settingsFieldErrors({ ...settings, target: { kind: 'scale', scale: 5 } })).toEqual({
      scale: 'Scale goes from 1 to 4',
    });
    expect(
      settingsFieldErrors({
        ...settings,
        target: { kind: 'scale', scale: null as unknown as number },
      }),
    ).toEqual({ scale: 'Scale goes from 1 to 4' });
    expect(
      settingsFieldErrors({
        ...settings,
        target: { kind: 'width', width: 0 },
        encoding: { ...settings.encoding, jpegQuality: 101, pngCompressionLevel: 10 },
        tileSize: 16,
      }),
    ).toEqual({
      width: 'Width goes from 1 to 65535 pixels',
      jpegQuality: 'JPEG quality goes from 1 to 100',
      pngCompressionLevel: 'PNG compression goes from 0 to 9',
      tileSize: 'The tile side goes from 32 to 4096 pixels',
    });
  });
});

describe('Reset to defaults, export options only', () => {
  it('puts size, format, output and naming back and keeps how this machine processes', () => {
    const current = {
      ...cloneSettings(DEFAULT_EXPORT_SETTINGS),
      target: { kind: 'scale' as const, scale: 3 },
      format: 'webp' as const,
      namingTemplate: '{name}_{date}',
      outputFolder: '/out',
      qualityPreset: 'fast' as const,
      model: 'cmsc-fast',
      source: 'clean' as const,
      tileSize: 256,
      selfEnsemble: true,
    };
    expect(exportOptionsReset(current)).toEqual({
      ...cloneSettings(DEFAULT_EXPORT_SETTINGS),
      qualityPreset: 'fast',
      model: 'cmsc-fast',
      source: 'clean',
      tileSize: 256,
      selfEnsemble: true,
    });
  });
});
