/**
 * A small grey picture of a photo's overview, for finding its busiest part (the default crop
 * lands on detail, not on a blank wall in the middle).
 */
import type { EncodedImage } from '../../../shared/ipc.ts';

/** The grey picture's longer side: enough to tell texture from sky, cheap to scan. */
const GREY_SIDE = 96;

export interface GreyPicture {
  grey: Float32Array;
  width: number;
  height: number;
}

/** Decodes the overview and scales it to GREY_SIDE pixels on its longer side, as luma. */
export async function greyPictureOf(image: EncodedImage): Promise<GreyPicture> {
  const bitmap = await createImageBitmap(
    new Blob([image.bytes as Uint8Array<ArrayBuffer>], { type: image.mime }),
  );
  try {
    const scale = Math.min(1, GREY_SIDE / Math.max(bitmap.width, bitmap.height));
    const width = Math.max(1, Math.round(bitmap.width * scale));
    const height = Math.max(1, Math.round(bitmap.height * scale));
    const canvas = new OffscreenCanvas(width, height);
    const context = canvas.getContext('2d');
    if (!context) throw new Error('no 2D canvas');
    context.drawImage(bitmap, 0, 0, width, height);
    const { data } = context.getImageData(0, 0, width, height);
    const grey = new Float32Array(width * height);
    for (let index = 0; index < grey.length; index++) {
      const offset = index * 4;
      grey[index] =
        0.299 * (data[offset] ?? 0) +
        0.587 * (data[offset + 1] ?? 0) +
        0.114 * (data[offset + 2] ?? 0);
    }
    return { grey, width, height };
  } finally {
    bitmap.close();
  }
}
