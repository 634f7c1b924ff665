/**
 * JSON with bytes: `Uint8Array` values travel as `{ "$bytes": "<base64>" }`. IPC clones
 * Uint8Array natively; HTTP needs this so both transports hand the renderer the same values.
 */

const BYTES_KEY = '$bytes';
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

export function encodeWire(value: unknown): string {
  return JSON.stringify(value, (_key, field: unknown) =>
    field instanceof Uint8Array ? { [BYTES_KEY]: bytesToBase64(field) } : field,
  );
}

export function decodeWire(text: string): unknown {
  return JSON.parse(text, (_key, field: unknown) => {
    if (typeof field === 'object' && field !== null && !Array.isArray(field)) {
      const bytes = (field as Record<string, unknown>)[BYTES_KEY];
      if (typeof bytes === 'string' && Object.keys(field).length === 1) return base64ToBytes(bytes);
    }
    return field;
  });
}

export function bytesToBase64(bytes: Uint8Array): string {
  let text = '';
  for (let index = 0; index < bytes.length; index += 3) {
    const a = bytes[index] ?? 0;
    const b = bytes[index + 1] ?? 0;
    const c = bytes[index + 2] ?? 0;
    const triple = (a << 16) | (b << 8) | c;
    text += ALPHABET[(triple >> 18) & 63];
    text += ALPHABET[(triple >> 12) & 63];
    text += index + 1 < bytes.length ? ALPHABET[(triple >> 6) & 63] : '=';
    text += index + 2 < bytes.length ? ALPHABET[triple & 63] : '=';
  }
  return text;
}

export function base64ToBytes(text: string): Uint8Array {
  const clean = text.replace(/=+$/, '');
  const bytes = new Uint8Array(Math.floor((clean.length * 3) / 4));
  let bits = 0;
  let bitCount = 0;
  let out = 0;
  for (const char of clean) {
    const sextet = ALPHABET.indexOf(char);
    if (sextet < 0) throw new Error(`invalid base64 character ${JSON.stringify(char)}`);
    bits = ((bits << 6) | sextet) & 0xffffff;
    bitCount += 6;
    if (bitCount >= 8) {
      bitCount -= 8;
      bytes[out++] = (bits >> bitCount) & 0xff;
    }
  }
  return bytes;
}
