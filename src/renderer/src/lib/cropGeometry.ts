/** Crop-box arithmetic for the Compare screen, in input-image pixels. */
import type { PixelRect } from '../../../shared/ipc.ts';

export const MIN_CROP_SIDE = 16;
export const MAX_CROP_SIDE = 512;
export const ZOOM_LEVELS = [1, 2, 4, 8] as const;
export type ZoomLevel = (typeof ZOOM_LEVELS)[number];

/** A centred square crop of `side` pixels (smaller for small photos). */
export function centredCrop(imageWidth: number, imageHeight: number, side: number): PixelRect {
  const width = Math.min(side, imageWidth);
  const height = Math.min(side, imageHeight);
  return {
    x: Math.floor((imageWidth - width) / 2),
    y: Math.floor((imageHeight - height) / 2),
    width,
    height,
  };
}

/** Keeps the crop inside the image and its sides within [MIN_CROP_SIDE, MAX_CROP_SIDE]; integer pixels. */
export function clampCrop(rect: PixelRect, imageWidth: number, imageHeight: number): PixelRect {
  const width = Math.round(
    Math.min(imageWidth, MAX_CROP_SIDE, Math.max(Math.min(MIN_CROP_SIDE, imageWidth), rect.width)),
  );
  const height = Math.round(
    Math.min(
      imageHeight,
      MAX_CROP_SIDE,
      Math.max(Math.min(MIN_CROP_SIDE, imageHeight), rect.height),
    ),
  );
  return {
    x: Math.round(Math.min(imageWidth - width, Math.max(0, rect.x))),
    y: Math.round(Math.min(imageHeight - height, Math.max(0, rect.y))),
    width,
    height,
  };
}

export function nextZoom(current: ZoomLevel, direction: 1 | -1): ZoomLevel {
  const index = ZOOM_LEVELS.indexOf(current) + direction;
  return ZOOM_LEVELS[Math.min(ZOOM_LEVELS.length - 1, Math.max(0, index))] ?? current;
}

/** Keeps a pan offset so the content still covers the viewport (or is centred when smaller). */
export function clampPan(offset: number, contentSize: number, viewportSize: number): number {
  if (contentSize <= viewportSize) return Math.round((viewportSize - contentSize) / 2);
  return Math.min(0, Math.max(viewportSize - contentSize, offset));
}
