import path from 'node:path';
import sharp from 'sharp';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { rgbToYcbcr } from '../../src/main/engine/color.ts';
import { decodeImage, decodeSamples } from '../../src/main/engine/imageDecode.ts';
import { sampleSource } from '../../src/main/engine/lowResSource.ts';
import { estimateNoiseSigma, estimateNoiseSigmaOf } from '../../src/main/engine/noiseLevel.ts';
import { makeTempDir, writeTexturedImage } from '../helpers/testImages.ts';

let temp: Awaited<ReturnType<typeof makeTempDir>>;
beforeEach(async () => {
  temp = await makeTempDir();
});
afterEach(async () => temp.remove());

/** The rectangle `rect` of a width-wide plane. */
function crop(
  plane: Float32Array,
  width: number,
  rect: { x: number; y: number; width: number; height: number },
) {
  const out = new Float32Array(rect.width * rect.height);
  for (let row = 0; row < rect.height; row++) {
    out.set(
      plane.subarray((rect.y + row) * width + rect.x, (rect.y + row) * width + rect.x + rect.width),
      row * rect.width,
    );
  }
  return out;
}

describe('a photo kept as decoded samples', () => {
  it('reads Y, Cb, Cr and alpha rectangles bit for bit as the float planes give them', async () => {
    for (const [channels, deep] of [
      [3, false],
      [4, false],
      [3, true],
    ] as const) {
      const file = path.join(temp.dir, `in-${channels}-${deep}.png`);
      if (deep) {
        const pixels = new Uint16Array(23 * 17 * 3).map((_, i) => (i * 4099) % 65536);
        await sharp(Buffer.from(pixels.buffer), { raw: { width: 23, height: 17, channels: 3 } })
          .toColourspace('rgb16')
          .png()
          .toFile(file);
      } else {
        await writeTexturedImage(file, 23, 17, { channels });
      }
      const planes = await decodeImage(file);
      const ycbcr = rgbToYcbcr(planes.rgb);
      const source = sampleSource(await decodeSamples(file));
      // Asked past the image's edge: clipped to it.
      for (const rect of [
        { x: 0, y: 0, width: 23, height: 17 },
        { x: 5, y: 3, width: 9, height: 11 },
        { x: 20, y: 15, width: 9, height: 9 },
      ]) {
        const clipped = {
          x: rect.x,
          y: rect.y,
          width: Math.min(23, rect.x + rect.width) - rect.x,
          height: Math.min(17, rect.y + rect.height) - rect.y,
        };
        for (const [name, plane] of [
          ['y', ycbcr.c0],
          ['cb', ycbcr.c1],
          ['cr', ycbcr.c2],
          ...(channels === 4 ? [['alpha', planes.alpha!] as const] : []),
        ] as const) {
          const { data, covers } = source.read(name, rect);
          expect(covers).toEqual(clipped);
          expect(Array.from(data)).toEqual(Array.from(crop(plane, 23, clipped)));
        }
      }
    }
  });

  it('gives the same noise estimate reading only the sampled blocks', async () => {
    const file = await writeTexturedImage(path.join(temp.dir, 'noise.png'), 301, 203, { seed: 3 });
    const planes = await decodeImage(file);
    const y = rgbToYcbcr(planes.rgb).c0;
    const source = sampleSource(await decodeSamples(file));
    const whole = estimateNoiseSigma(y, 301, 203);
    expect(whole).toBeGreaterThan(0);
    expect(estimateNoiseSigmaOf((rect) => source.read('y', rect), 301, 203)).toBe(whole);
  });
});
