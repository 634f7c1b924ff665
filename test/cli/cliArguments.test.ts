import { describe, expect, it } from 'vitest';
import { parseCliArguments, UsageError } from '../../src/main/cli/cliArguments.ts';
import { DEFAULT_EXPORT_SETTINGS } from '../../src/shared/exportSettings.ts';

const runSettings = (argv: string[]) => {
  const parsed = parseCliArguments(argv);
  if (parsed.kind !== 'run') throw new Error('expected a run');
  return parsed.settings;
};

describe('--source', () => {
  it('defaults to auto and takes clean or photo', () => {
    expect(runSettings(['a.jpg']).options.source).toBe('auto');
    expect(runSettings(['a.jpg', '--source', 'photo']).options.source).toBe('photo');
    expect(runSettings(['a.png', '--source', 'clean']).options.source).toBe('clean');
  });

  it('refuses anything else as a usage error naming the choices', () => {
    expect(() => parseCliArguments(['a.jpg', '--source', 'jpeg'])).toThrow(UsageError);
    expect(() => parseCliArguments(['a.jpg', '--source', 'jpeg'])).toThrow(
      /auto, clean, photo|auto\|clean\|photo/,
    );
  });
});

describe('--precision', () => {
  it('defaults to auto, takes fp32, and refuses anything else', () => {
    expect(runSettings(['a.jpg']).options.precision).toBe('auto');
    expect(runSettings(['a.jpg', '--precision', 'fp32']).options.precision).toBe('fp32');
    expect(() => parseCliArguments(['a.jpg', '--precision', 'int4'])).toThrow(UsageError);
  });
});

describe('--quality', () => {
  it("defaults to the app's per-format qualities, and sets jpeg, webp and avif when given", () => {
    // The app's defaults, so a JPEG written by the CLI keeps as much of the upscale as one
    // written by the app (JPEG 95: see DEFAULT_JPEG_QUALITY).
    expect(runSettings(['a.jpg']).encoding).toEqual(DEFAULT_EXPORT_SETTINGS.encoding);
    expect(runSettings(['a.jpg']).encoding.jpegQuality).toBe(95);
    expect(runSettings(['a.jpg', '--quality', '80']).encoding).toMatchObject({
      jpegQuality: 80,
      webpQuality: 80,
      avifQuality: 80,
    });
    expect(() => parseCliArguments(['a.jpg', '--quality', '101'])).toThrow(UsageError);
  });
});
