/**
 * Argument checks for everything that crosses a process boundary (IPC from the renderer,
 * HTTP from a browser). A failed check throws `InvalidArgument`, which both transports turn
 * into an error answer; it never reaches the services.
 */

export class InvalidArgument extends Error {
  override readonly name = 'InvalidArgument';
  /**
   * What a developer needs (an errno code, the raw text) when `message` is written for people:
   * it goes to the log, never to the screen.
   */
  readonly detail: string | undefined;
  constructor(message: string, options: { detail?: string } = {}) {
    super(message);
    this.detail = options.detail;
  }
}

/** Thrown when a file a request names cannot be decoded as an image: the file's fault, not ours. */
export class UnreadableImage extends Error {
  override readonly name = 'UnreadableImage';
  /** The decoder's or the file system's own words (errno codes): for the log, not the screen. */
  readonly detail: string | undefined;
  constructor(message: string, options: { detail?: string } = {}) {
    super(message);
    this.detail = options.detail;
  }
}

/** Thrown when a path is outside the folders the user added; transports answer 403. */
export class PathNotAllowed extends Error {
  override readonly name = 'PathNotAllowed';
}

export function expectArgCount(args: readonly unknown[], min: number, max: number = min): void {
  if (!Array.isArray(args) || args.length < min || args.length > max) {
    const wanted = min === max ? `${min}` : `${min} to ${max}`;
    throw new InvalidArgument(
      `expected ${wanted} argument(s), got ${Array.isArray(args) ? args.length : 'none'}`,
    );
  }
}

export function expectString(value: unknown, what: string, maxLength = 4096): string {
  if (typeof value !== 'string') throw new InvalidArgument(`${what} must be a string`);
  if (value.length === 0) throw new InvalidArgument(`${what} must not be empty`);
  if (value.length > maxLength)
    throw new InvalidArgument(`${what} is longer than ${maxLength} characters`);
  if (value.includes('\0')) throw new InvalidArgument(`${what} contains a NUL character`);
  return value;
}

export function expectInteger(value: unknown, what: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new InvalidArgument(`${what} must be an integer`);
  }
  if (value < min || value > max)
    throw new InvalidArgument(`${what} must be between ${min} and ${max}`);
  return value;
}

export function expectNumber(value: unknown, what: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new InvalidArgument(`${what} must be a finite number`);
  }
  if (value < min || value > max)
    throw new InvalidArgument(`${what} must be between ${min} and ${max}`);
  return value;
}

export function expectBoolean(value: unknown, what: string): boolean {
  if (typeof value !== 'boolean') throw new InvalidArgument(`${what} must be true or false`);
  return value;
}

export function expectOneOf<const T extends string>(
  value: unknown,
  what: string,
  allowed: readonly T[],
): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new InvalidArgument(`${what} must be one of ${allowed.join(', ')}`);
  }
  return value as T;
}

export function expectRecord(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidArgument(`${what} must be an object`);
  }
  return value as Record<string, unknown>;
}

/** A non-empty list. */
export function expectArray<T>(
  value: unknown,
  what: string,
  maxItems: number,
  item: (element: unknown, what: string) => T,
): T[] {
  const list = expectList(value, what, maxItems, item);
  if (list.length === 0) throw new InvalidArgument(`${what} must not be empty`);
  return list;
}

/** A list that may be empty. */
export function expectList<T>(
  value: unknown,
  what: string,
  maxItems: number,
  item: (element: unknown, what: string) => T,
): T[] {
  if (!Array.isArray(value)) throw new InvalidArgument(`${what} must be a list`);
  if (value.length > maxItems) throw new InvalidArgument(`${what} has more than ${maxItems} items`);
  return value.map((element, index) => item(element, `${what}[${index}]`));
}

export function expectPattern(
  value: unknown,
  what: string,
  pattern: RegExp,
  description: string,
): string {
  if (typeof value !== 'string' || !pattern.test(value))
    throw new InvalidArgument(`${what} must be ${description}`);
  return value;
}
