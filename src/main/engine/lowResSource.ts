/**
 * A decoded photo's Y, Cb, Cr and alpha, computed a rectangle at a time from its compact
 * interleaved samples, so a photo is held at 3 (or 6) bytes a pixel instead of 12 as float
 * planes (61 MP: 183 MB instead of 732 MB). The values are exactly those of decodeImage's
 * float planes through rgbToYcbcr: each sample is scaled to a float32 first, then converted.
 */
import type { Rect } from './bicubic.ts';
import { rgbToYcbcrPlane } from './color.ts';
import type { DecodedSamples, DecodedWindow } from './imageDecode.ts';
import type { LowResSource, PlaneName } from './tiledUpscale.ts';

export function sampleSource(decoded: DecodedSamples): LowResSource {
  const { width, height, channels, samples } = decoded;
  const inverse = 1 / (decoded.bitDepth === 16 ? 65535 : 255);
  return {
    width,
    height,
    hasAlpha: channels === 4,
    read(plane: PlaneName, asked: Rect) {
      const rect = clip(asked, width, height);
      const count = rect.width * rect.height;
      if (plane === 'alpha') {
        if (channels !== 4) throw new Error('the image has no alpha plane');
        const alpha = new Float32Array(count);
        for (let row = 0, i = 0; row < rect.height; row++) {
          let s = ((rect.y + row) * width + rect.x) * channels + 3;
          for (let col = 0; col < rect.width; col++, i++, s += channels) {
            alpha[i] = samples[s]! * inverse;
          }
        }
        return { data: alpha, covers: rect };
      }
      const rgb = {
        c0: new Float32Array(count),
        c1: new Float32Array(count),
        c2: new Float32Array(count),
      };
      for (let row = 0, i = 0; row < rect.height; row++) {
        let s = ((rect.y + row) * width + rect.x) * channels;
        for (let col = 0; col < rect.width; col++, i++, s += channels) {
          rgb.c0[i] = samples[s]! * inverse;
          rgb.c1[i] = samples[s + 1]! * inverse;
          rgb.c2[i] = samples[s + 2]! * inverse;
        }
      }
      const data = rgbToYcbcrPlane(rgb, plane === 'y' ? 0 : plane === 'cb' ? 1 : 2);
      return { data, covers: rect };
    },
  };
}

/**
 * A decoded window of a photo as a source of the whole photo's geometry: reads are in the
 * photo's pixels (clipped to it, as sampleSource clips), and must lie inside the window, which
 * the caller sizes to cover every read its tiles make (else this throws: never a silent edge).
 */
export function windowSource({ image, window, full }: DecodedWindow): LowResSource {
  const inner = sampleSource(image);
  return {
    width: full.width,
    height: full.height,
    hasAlpha: inner.hasAlpha,
    read(plane: PlaneName, asked: Rect) {
      const rect = clip(asked, full.width, full.height);
      if (
        rect.x < window.x ||
        rect.y < window.y ||
        rect.x + rect.width > window.x + window.width ||
        rect.y + rect.height > window.y + window.height
      ) {
        throw new Error(
          `read ${JSON.stringify(rect)} lies outside the decoded window ${JSON.stringify(window)}`,
        );
      }
      const { data, covers } = inner.read(plane, {
        ...rect,
        x: rect.x - window.x,
        y: rect.y - window.y,
      });
      return { data, covers: { ...covers, x: covers.x + window.x, y: covers.y + window.y } };
    },
  };
}

function clip(rect: Rect, width: number, height: number): Rect {
  const x = Math.max(0, rect.x);
  const y = Math.max(0, rect.y);
  return {
    x,
    y,
    width: Math.min(width, rect.x + rect.width) - x,
    height: Math.min(height, rect.y + rect.height) - y,
  };
}
