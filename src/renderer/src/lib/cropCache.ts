import type { CropResult, PixelRect } from '../../../shared/ipc.ts';
import { objectUrlOf } from './imageUrl.ts';

/** A crop answer with object URLs for its three pictures. */
export interface ShownCrop {
  result: CropResult;
  /** The crop this answer is for, in input pixels. */
  rect: PixelRect;
  inputUrl: string;
  bicubicUrl: string;
  upscaledUrl: string;
}

/**
 * The renderer's side of the crop cache: answers keep their object URLs, so returning to a
 * crop already seen shows it without even a round trip. Least recently used goes first.
 */
export class CropCache {
  private readonly entries = new Map<string, ShownCrop>();

  constructor(private readonly capacity: number) {}

  get(key: string): ShownCrop | undefined {
    const entry = this.entries.get(key);
    if (entry) {
      this.entries.delete(key);
      this.entries.set(key, entry);
    }
    return entry;
  }

  put(key: string, rect: PixelRect, result: CropResult): ShownCrop {
    const shown: ShownCrop = {
      result,
      rect: { ...rect },
      inputUrl: objectUrlOf(result.input),
      bicubicUrl: objectUrlOf(result.bicubic),
      upscaledUrl: objectUrlOf(result.upscaled),
    };
    this.entries.set(key, shown);
    while (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.release(oldest.value);
    }
    return shown;
  }

  clear(): void {
    for (const key of [...this.entries.keys()]) this.release(key);
  }

  private release(key: string): void {
    const entry = this.entries.get(key);
    this.entries.delete(key);
    if (!entry) return;
    URL.revokeObjectURL(entry.inputUrl);
    URL.revokeObjectURL(entry.bicubicUrl);
    URL.revokeObjectURL(entry.upscaledUrl);
  }
}
