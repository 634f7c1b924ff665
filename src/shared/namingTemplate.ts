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
const MAX_BASE_NAME_LENGTH = 200;

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
  const baseName = template.replace(TOKEN_PATTERN, (_match, token: string) =>
    tokenValue(token as NamingToken, values),
  );
  if (FORBIDDEN_CHARACTERS.test(baseName)) {
    return {
      ok: false,
      error: `the expanded name "${baseName}" contains a character files cannot hold`,
    };
  }
  if (baseName === '.' || baseName === '..' || baseName.trim() === '') {
    return { ok: false, error: `the expanded name "${baseName}" is not a file name` };
  }
  if (baseName.length > MAX_BASE_NAME_LENGTH) {
    return {
      ok: false,
      error: `the expanded name is longer than ${MAX_BASE_NAME_LENGTH} characters`,
    };
  }
  return { ok: true, baseName };
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
