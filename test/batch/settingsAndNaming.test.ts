/** Export settings (defaults, validation, migration) and the naming template, with exact values. */
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_EXPORT_SETTINGS,
  EXPORT_SETTINGS_SCHEMA_VERSION,
  migrateSettings,
  parseExportSettings,
} from '../../src/shared/exportSettings.ts';
import {
  expandNamingTemplate,
  namingExample,
  validateNamingTemplate,
} from '../../src/shared/namingTemplate.ts';

describe('export settings', () => {
  it('has frozen defaults with every setting of issue 4', () => {
    expect(DEFAULT_EXPORT_SETTINGS).toEqual({
      schemaVersion: 1,
      target: { kind: 'scale', scale: 2 },
      format: 'same',
      encoding: {
        jpegQuality: 95,
        webpQuality: 90,
        avifQuality: 70,
        pngCompressionLevel: 6,
        tiffCompression: 'lzw',
      },
      bitDepth: 'auto',
      outputFolder: null,
      namingTemplate: '{name}_x{scale}',
      overwrite: 'rename',
      metadata: 'keep',
      tileSize: 'auto',
      device: 'auto',
      selfEnsemble: false,
      qualityPreset: 'best',
      model: null,
      source: 'auto',
      precision: 'auto',
      sharpening: { amount: 'none', medium: 'screen' },
    });
    expect(Object.isFrozen(DEFAULT_EXPORT_SETTINGS)).toBe(true);
    expect(Object.isFrozen(DEFAULT_EXPORT_SETTINGS.encoding)).toBe(true);
    expect(Object.isFrozen(DEFAULT_EXPORT_SETTINGS.target)).toBe(true);
  });

  it('passes current settings through unchanged, as a copy', () => {
    const { settings, warnings } = migrateSettings(structuredClone(DEFAULT_EXPORT_SETTINGS));
    expect([settings, warnings]).toEqual([DEFAULT_EXPORT_SETTINGS, []]);
    expect(settings).not.toBe(DEFAULT_EXPORT_SETTINGS);
  });

  it('upgrades the unversioned UpscaleOptions shape', () => {
    const { settings, warnings } = migrateSettings({
      target: { kind: 'width', width: 3000 },
      quality: 'fast',
      selfEnsemble: true,
      format: 'webp',
      encodeQuality: 80,
      keepMetadata: false,
      tileSize: 256,
    });
    expect(settings).toEqual({
      ...DEFAULT_EXPORT_SETTINGS,
      target: { kind: 'width', width: 3000 },
      qualityPreset: 'fast',
      selfEnsemble: true,
      format: 'webp',
      encoding: {
        ...DEFAULT_EXPORT_SETTINGS.encoding,
        jpegQuality: 80,
        webpQuality: 80,
        avifQuality: 80,
      },
      metadata: 'strip',
      tileSize: 256,
    });
    expect(warnings).toEqual([
      `settings had no schemaVersion; upgraded to version ${EXPORT_SETTINGS_SCHEMA_VERSION}`,
    ]);
  });

  it('replaces invalid fields by their defaults and says which', () => {
    const { settings, warnings } = migrateSettings({
      ...DEFAULT_EXPORT_SETTINGS,
      target: { kind: 'scale', scale: 5 },
      format: 'gif',
      encoding: { ...DEFAULT_EXPORT_SETTINGS.encoding, jpegQuality: 0, pngCompressionLevel: 10 },
      outputFolder: 'relative/folder',
      namingTemplate: '{name}/{oops}',
      tileSize: 8,
      device: 'tpu',
    });
    expect(settings).toEqual(DEFAULT_EXPORT_SETTINGS);
    expect(warnings).toEqual([
      'target: invalid value {"kind":"scale","scale":5}, using the default',
      'format: invalid value "gif", using the default',
      'encoding.jpegQuality: invalid value 0, using the default',
      'encoding.pngCompressionLevel: invalid value 10, using the default',
      'outputFolder: invalid value "relative/folder", using the default',
      'namingTemplate: invalid value "{name}/{oops}", using the default',
      'tileSize: invalid value 8, using the default',
      'device: invalid value "tpu", using the default',
    ]);
  });

  it('falls back to the defaults for a non-object and refuses it in strict parsing', () => {
    expect(migrateSettings('nonsense')).toEqual({
      settings: DEFAULT_EXPORT_SETTINGS,
      warnings: ['settings are not an object; using the defaults'],
    });
    expect(() => parseExportSettings({ ...DEFAULT_EXPORT_SETTINGS, overwrite: 'always' })).toThrow(
      'invalid export settings: overwrite: invalid value "always", using the default',
    );
  });
});

describe('naming template', () => {
  const values = {
    name: 'IMG_0042',
    ext: 'jpg',
    scale: 1.5,
    width: 4032,
    height: 3024,
    model: 'cmsc',
    date: '2026-11-25',
  };

  it('expands every token', () => {
    expect(
      expandNamingTemplate('{name}.{ext}_x{scale}_{width}x{height}_{model}_{date}', values),
    ).toEqual({
      ok: true,
      baseName: 'IMG_0042.jpg_x1.5_4032x3024_cmsc_2026-11-25',
    });
    expect(expandNamingTemplate('{name}_x{scale}', { ...values, scale: 10 / 3 })).toEqual({
      ok: true,
      baseName: 'IMG_0042_x3.333',
    });
  });

  it('gives the live example the settings panel shows', () => {
    expect(namingExample('{name}_x{scale}', 'png')).toEqual({
      ok: true,
      fileName: 'IMG_0042_x2.png',
    });
    expect(namingExample('{name}-{width}', '.jpg')).toEqual({
      ok: true,
      fileName: 'IMG_0042-8064.jpg',
    });
    expect(namingExample('{nme}', 'png')).toEqual({
      ok: false,
      error: 'the naming template must contain {name}',
    });
  });

  it('rejects templates that cannot make a safe, distinct file name', () => {
    expect(
      ['', '{scale}', '{name}{size}', '{name}/sub', '{name}}', '{name}:{date}'].map((template) =>
        validateNamingTemplate(template),
      ),
    ).toEqual([
      'the naming template is empty',
      'the naming template must contain {name}',
      'unknown token {size}; use {name} {ext} {scale} {width} {height} {model} {date}',
      'the naming template may not contain / \\ : * ? " < > | or control characters',
      'unbalanced { or } in the naming template',
      'the naming template may not contain / \\ : * ? " < > | or control characters',
    ]);
  });
});

describe('source setting', () => {
  it('keeps auto, clean and photo and replaces anything else by auto with a warning', () => {
    expect(migrateSettings({ ...DEFAULT_EXPORT_SETTINGS, source: 'photo' }).settings.source).toBe(
      'photo',
    );
    const { settings, warnings } = migrateSettings({ ...DEFAULT_EXPORT_SETTINGS, source: 'jpeg' });
    expect(settings.source).toBe('auto');
    expect(warnings).toHaveLength(1);
  });
});

describe('precision setting', () => {
  it('keeps auto and fp32 and replaces anything else by auto with a warning', () => {
    expect(
      migrateSettings({ ...DEFAULT_EXPORT_SETTINGS, precision: 'fp32' }).settings.precision,
    ).toBe('fp32');
    const { settings, warnings } = migrateSettings({
      ...DEFAULT_EXPORT_SETTINGS,
      precision: 'int8',
    });
    expect(settings.precision).toBe('auto');
    expect(warnings).toHaveLength(1);
  });
});
