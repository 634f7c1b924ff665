/**
 * The output naming template: `{name}_x{scale}` and friends. Pure, so the renderer can show a
 * live example while the user types, with exactly the rules the batch queue applies.
 */

export const NAMING_TOKENS = ['name', 'ext', 'scale', 'width', 'height', 'model', 'date'] as const;
export type NamingToken = (typeof NAMING_TOKENS)[number];

export const DEFAULT_NAMING_TEMPLATE = '{name}_x{scale}';

/** Values for one output file; the output extension is appended after the template. */
export interface NamingValues {
  /** Input file name without its extension. */
  name: string;
  /** Input extension without the dot, lower case (`jpg`), so `a.jpg` and `a.png` can differ. */
  ext: string;
  /** Effective scale factor (a width/height target gives the factor it resolves to). */
  scale: number;
  width: number;
  height: number;
  model: string;
  /** The job's creation day, `YYYY-MM-DD`: stable across a resume on another day. */
  date: string;
}

export type NamingResult = { ok: true; baseName: string } | { ok: false; error: string };

// Characters no file name may hold on Windows, macOS or Linux, plus control characters.
// eslint-disable-next-line no-control-regex
const FORBIDDEN_CHARACTERS = /[<>:"/\\|?*\u0000-\u001f]/;
const TOKEN_PATTERN = /\{([^{}]*)\}/g;
/**
 * Longest base name in UTF-8 bytes. File systems allow 255 bytes per name; the temporary names
 * an output is written under add about 60 (job id, engine suffix) and a rename counter a few.
 */
export const MAX_BASE_NAME_BYTES = 180;
// eslint-disable-next-line no-control-regex
const UNSAFE_CHARACTERS = /[<>:"/\\|?*\u0000-\u001f\u007f]/g;
const WINDOWS_RESERVED_NAME = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\..*)?$/i;

/** Why a template cannot be used, or null when it is valid. */
export function validateNamingTemplate(template: string): string | null {
  if (template.trim() === '') return 'the naming template is empty';
  if (!template.includes('{name}')) {
    // Without the input name every file of a folder would collide into name-1, name-2, ...
    return 'the naming template must contain {name}';
  }
  const unknown = [...template.matchAll(TOKEN_PATTERN)]
    .map((match) => match[1] ?? '')
    .filter((token) => !(NAMING_TOKENS as readonly string[]).includes(token));
  if (unknown.length > 0) {
    return `unknown token ${unknown.map((token) => `{${token}}`).join(', ')}; use ${NAMING_TOKENS.map((token) => `{${token}}`).join(' ')}`;
  }
  const literal = template.replace(TOKEN_PATTERN, '');
  if (literal.includes('{') || literal.includes('}'))
    return 'unbalanced { or } in the naming template';
  if (FORBIDDEN_CHARACTERS.test(literal)) {
    return 'the naming template may not contain / \\ : * ? " < > | or control characters';
  }
  return null;
}

/** Expands the template to a base name (no extension, no folder). */
export function expandNamingTemplate(template: string, values: NamingValues): NamingResult {
  const problem = validateNamingTemplate(template);
  if (problem) return { ok: false, error: problem };
  const expand = (name: string): string =>
    template.replace(TOKEN_PATTERN, (_match, token: string) =>
      token === 'name' ? name : tokenValue(token as NamingToken, values),
    );
  // Any name the input's file system allowed becomes one every file system allows; a long
  // name is shortened (its end goes), never refused.
  let name = safeFileNamePart(values.name);
  const budget = MAX_BASE_NAME_BYTES - utf8Bytes(expand(''));
  if (utf8Bytes(name) > budget) name = truncateUtf8(name, Math.max(1, budget));
  const baseName = safeFileNamePart(expand(name));
  if (FORBIDDEN_CHARACTERS.test(baseName)) {
    return {
      ok: false,
      error: `the expanded name "${baseName}" contains a character files cannot hold`,
    };
  }
  if (baseName === '.' || baseName === '..' || baseName.trim() === '') {
    return { ok: false, error: `the expanded name "${baseName}" is not a file name` };
  }
  return { ok: true, baseName };
}

/**
 * One file or folder name made safe for every common file system (ext4, NTFS, exFAT/FAT on a
 * USB stick, APFS, SMB shares): each of `< > : " / \ | ? *`, control characters (a newline)
 * and DEL becomes `_`; trailing dots and spaces (Windows drops them) become `_`; a reserved
 * Windows device name (`CON`, `NUL`, `COM1`, ...) gets a leading `_`. Names already safe are
 * returned unchanged.
 */
export function safeFileNamePart(name: string): string {
  let safe = name
    .replace(UNSAFE_CHARACTERS, '_')
    .replace(/[. ]+$/, (tail) => '_'.repeat(tail.length));
  if (WINDOWS_RESERVED_NAME.test(safe)) safe = `_${safe}`;
  return safe === '' ? '_' : safe;
}

function utf8Bytes(text: string): number {
  return new TextEncoder().encode(text).length;
}

/** The longest prefix of `text` within `maxBytes` of UTF-8, never splitting a character. */
function truncateUtf8(text: string, maxBytes: number): string {
  let bytes = 0;
  let end = 0;
  for (const character of text) {
    const size = utf8Bytes(character);
    if (bytes + size > maxBytes) break;
    bytes += size;
    end += character.length;
  }
  return text.slice(0, end);
}

/** The example the settings panel shows under the template field. */
export const EXAMPLE_NAMING_VALUES: Readonly<NamingValues> = Object.freeze({
  name: 'IMG_0042',
  ext: 'jpg',
  scale: 2,
  width: 8064,
  height: 6048,
  model: 'cmsc',
  date: '2026-01-31',
});

/**
 * A live example for the settings panel: `IMG_0042_x2.png`, or the reason the template is
 * rejected. `outputExtension` is the extension the chosen format writes, with or without its dot.
 */
export function namingExample(
  template: string,
  outputExtension: string,
  values: NamingValues = EXAMPLE_NAMING_VALUES,
): { ok: true; fileName: string } | { ok: false; error: string } {
  const result = expandNamingTemplate(template, values);
  return result.ok
    ? { ok: true, fileName: `${result.baseName}.${outputExtension.replace(/^\./, '')}` }
    : result;
}

/** Scale as a file name shows it: 2, 1.5, 3.333 (at most three decimals, no trailing zeros). */
export function formatScaleForName(scale: number): string {
  return String(Math.round(scale * 1000) / 1000);
}

/** `YYYY-MM-DD` in UTC, so a job's {date} does not depend on the time zone it resumes in. */
export function formatDateForName(date: Date): string {
  return date.toISOString().slice(0, 10);
}

function tokenValue(token: NamingToken, values: NamingValues): string {
  switch (token) {
    case 'name':
      return values.name;
    case 'ext':
      return values.ext;
    case 'scale':
      return formatScaleForName(values.scale);
    case 'width':
      return String(values.width);
    case 'height':
      return String(values.height);
    case 'model':
      return values.model;
    case 'date':
      return values.date;
  }
}
