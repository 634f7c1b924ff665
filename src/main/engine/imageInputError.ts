/**
 * Bad input files (empty, truncated, corrupt, not an image, unsupported, too many pixels)
 * become one error type whose message is one line naming the file and the reason, so the
 * batch and the CLI can report it and go on with the next file.
 */
export type ImageInputProblem =
  | 'empty'
  | 'truncated'
  | 'corrupt'
  | 'not-an-image'
  | 'unsupported-format'
  | 'too-many-pixels'
  | 'unreadable';

export class ImageInputError extends Error {
  override readonly name = 'ImageInputError';
  constructor(
    readonly filePath: string,
    readonly problem: ImageInputProblem,
    readonly reason: string,
  ) {
    super(`${filePath}: ${reason}`);
  }
}

/** Formats sharp cannot decode, recognised by their first bytes, so the message can name them. */
const KNOWN_UNSUPPORTED: readonly { name: string; matches: (head: Buffer) => boolean }[] = [
  { name: 'BMP', matches: (h) => h.subarray(0, 2).toString('latin1') === 'BM' },
  { name: 'ICO', matches: (h) => h.length >= 4 && h.readUInt32BE(0) === 0x00000100 },
  { name: 'PSD', matches: (h) => h.subarray(0, 4).toString('latin1') === '8BPS' },
  { name: 'JPEG 2000', matches: (h) => h.subarray(4, 8).toString('latin1') === 'jP  ' },
  { name: 'JPEG XL', matches: (h) => h.length >= 2 && h[0] === 0xff && h[1] === 0x0a },
];

/** Turns a sharp/libvips failure on `filePath` into an ImageInputError. */
export function classifyDecodeFailure(
  filePath: string,
  head: Buffer,
  error: unknown,
): ImageInputError {
  const message = (error instanceof Error ? error.message : String(error)).split('\n')[0]!.trim();
  if (/unsupported image format/i.test(message)) {
    const known = KNOWN_UNSUPPORTED.find((format) => format.matches(head));
    return known
      ? new ImageInputError(
          filePath,
          'unsupported-format',
          `unsupported image format (${known.name})`,
        )
      : new ImageInputError(
          filePath,
          'not-an-image',
          'not an image (content is not a known image format)',
        );
  }
  if (/pixel limit/i.test(message)) {
    return new ImageInputError(
      filePath,
      'too-many-pixels',
      'image has too many pixels (decompression-bomb limit)',
    );
  }
  if (
    /premature end|truncated|end of (file|stream|data)|unexpected end|not enough data|read error|EOF/i.test(
      message,
    )
  ) {
    return new ImageInputError(filePath, 'truncated', `truncated file (${message})`);
  }
  return new ImageInputError(filePath, 'corrupt', `corrupt image data (${message})`);
}
