import type { EncodedImage } from '../../../shared/ipc.ts';

/** An object URL for encoded bytes; the caller revokes it when the picture leaves the screen. */
export function objectUrlOf(image: EncodedImage): string {
  return URL.createObjectURL(
    new Blob([image.bytes as Uint8Array<ArrayBuffer>], { type: image.mime }),
  );
}
