import { describe, expect, it } from 'vitest';
import {
  base64ToBytes,
  bytesToBase64,
  decodeWire,
  encodeWire,
} from '../../src/shared/wireCodec.ts';

describe('wire codec', () => {
  it('encodes bytes as standard base64, padding included', () => {
    expect(bytesToBase64(new Uint8Array([]))).toBe('');
    expect(bytesToBase64(new Uint8Array([77]))).toBe('TQ==');
    expect(bytesToBase64(new Uint8Array([77, 97]))).toBe('TWE=');
    expect(bytesToBase64(new Uint8Array([77, 97, 110, 255, 0, 128]))).toBe('TWFu/wCA');
    const every = Uint8Array.from({ length: 256 }, (_, index) => index);
    expect(bytesToBase64(every)).toBe(Buffer.from(every).toString('base64'));
    expect([...base64ToBytes(Buffer.from(every).toString('base64'))]).toEqual([...every]);
  });

  it('round-trips nested bytes inside JSON answers', () => {
    const value = {
      ok: true,
      value: {
        image: { mime: 'image/png', bytes: new Uint8Array([137, 80, 78, 71]) },
        list: [1, 'two'],
      },
    };
    expect(encodeWire(value)).toBe(
      '{"ok":true,"value":{"image":{"mime":"image/png","bytes":{"$bytes":"iVBORw=="}},"list":[1,"two"]}}',
    );
    expect(decodeWire(encodeWire(value))).toEqual(value);
  });

  it('refuses characters outside the alphabet', () => {
    expect(() => base64ToBytes('ab$d')).toThrow('invalid base64 character "$"');
  });
});
