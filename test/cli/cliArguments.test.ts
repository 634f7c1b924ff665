import { describe, expect, it } from 'vitest';
import { parseCliArguments, threadsNote, UsageError } from '../../src/main/cli/cliArguments.ts';
import { boundThreads } from '../../src/main/engine/threadCount.ts';
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

describe('negative and missing values', () => {
  const usageMessage = (argv: string[]): string => {
    try {
      parseCliArguments(argv);
    } catch (error) {
      if (error instanceof UsageError) return error.message;
      throw error;
    }
    throw new Error('expected a usage error');
  };

  it('gives every numeric flag our own message for a negative value, not parseArgs\'s "ambiguous"', () => {
    expect(usageMessage(['a.jpg', '--scale', '-1'])).toBe(
      '--scale must be a number from 1 to 4 (got "-1")',
    );
    expect(usageMessage(['a.jpg', '--scale', '-0.5'])).toBe(
      '--scale must be a number from 1 to 4 (got "-0.5")',
    );
    expect(usageMessage(['a.jpg', '--width', '-100'])).toBe(
      '--width must be a number from 1 to 65535 (got "-100")',
    );
    expect(usageMessage(['a.jpg', '--height', '-1'])).toBe(
      '--height must be a number from 1 to 65535 (got "-1")',
    );
    expect(usageMessage(['a.jpg', '--quality', '-5'])).toBe(
      '--quality must be a number from 1 to 100 (got "-5")',
    );
    expect(usageMessage(['a.jpg', '--threads', '-1'])).toBe(
      '--threads must be a number from 0 to 1024 (got "-1")',
    );
    expect(usageMessage(['a.jpg', '--tile', '-64'])).toBe(
      '--tile must be a number from 32 to 4096 (got "-64")',
    );
    // The same as --scale=-1, which parseArgs already passed through.
    expect(usageMessage(['a.jpg', '--scale=-1'])).toBe(
      '--scale must be a number from 1 to 4 (got "-1")',
    );
  });

  it('says which flag lacks its value, and names an unknown option, in our words', () => {
    expect(usageMessage(['a.jpg', '--scale'])).toBe('--scale needs a value');
    expect(usageMessage(['a.jpg', '--scale', '--width', '100'])).toBe(
      '--scale needs a value (got the option --width)',
    );
    expect(usageMessage(['a.jpg', '--out', '-r'])).toBe('--out needs a value (got the option -r)');
    expect(usageMessage(['a.jpg', '--tta=yes'])).toBe('--tta takes no value');
    expect(usageMessage(['a.jpg', '--sclae', '2'])).toBe(
      'unknown option --sclae (a file whose name starts with "-" goes after --: cmsc-upscale -- --sclae)',
    );
  });

  it('reads a value starting with "-" that is not an option, and a file named like a number after --', () => {
    expect(runSettings(['a.jpg', '--out=-out']).outFolder).toBe('-out');
    expect(runSettings(['a.jpg', '--out', '-out']).outFolder).toBe('-out');
    expect(runSettings(['a.jpg', '--name', '-{name}']).nameTemplate).toBe('-{name}');
    expect(runSettings(['--scale', '3', '--', '-1.png']).inputs).toEqual(['-1.png']);
    expect(runSettings(['--scale', '3', '--', '-1.png']).options.target).toEqual({
      kind: 'scale',
      scale: 3,
    });
  });
});

describe('--threads above the cores', () => {
  it('is bounded to the cores; 0 (one per core) and counts up to the cores run as asked', () => {
    expect([1000, 3, 2, 1, 0].map((threads) => boundThreads(threads, 2))).toEqual([2, 2, 2, 1, 0]);
  });

  it('says so in one line, naming the request, the cores and what runs', () => {
    expect(threadsNote(1000, 2)).toBe(
      "--threads 1000 is more than this machine's 2 cores; using 2",
    );
    expect(threadsNote(4, 1)).toBe("--threads 4 is more than this machine's 1 core; using 1");
    expect([threadsNote(2, 2), threadsNote(0, 2), threadsNote(undefined, 2)]).toEqual([
      null,
      null,
      null,
    ]);
  });
});

describe('--max-memory', () => {
  it('reads a size for the engine’s memory budget, unset by default', () => {
    expect(runSettings(['a.jpg']).maxMemoryBytes).toBeUndefined();
    expect(runSettings(['a.jpg', '--max-memory', '1g']).maxMemoryBytes).toBe(1024 ** 3);
    expect(runSettings(['a.jpg', '--max-memory', '1536m']).maxMemoryBytes).toBe(1536 * 1024 ** 2);
  });

  it('refuses what is not a size, or less than the process alone needs', () => {
    for (const bad of ['lots', '100m', '0']) {
      expect(() => parseCliArguments(['a.jpg', '--max-memory', bad])).toThrow(
        `--max-memory must be a size of at least 256m, such as 1g or 1536m (got "${bad}")`,
      );
    }
  });
});
