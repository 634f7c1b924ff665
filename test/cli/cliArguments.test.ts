import { describe, expect, it } from 'vitest';
import { parseCliArguments, UsageError } from '../../src/main/cli/cliArguments.ts';

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
