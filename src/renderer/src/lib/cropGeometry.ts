/** Crop-box arithmetic for the Compare screen, in input-image pixels. */
import type { PixelRect } from '../../../shared/ipc.ts';

export const MIN_CROP_SIDE = 16;
export const MAX_CROP_SIDE = 512;
/** Screen pixels per output pixel; `fit` shows the whole upscaled crop in its pane. */
export const ZOOM_LEVELS = ['fit', 1, 2, 4, 8] as const;
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

/**
 * The centred crop whose upscaled size fills one viewer pane at 1× zoom (one output pixel per
 * screen pixel), within the crop limits and the photo.
 */
export function paneFillingCrop(
  paneWidth: number,
  paneHeight: number,
  scale: number,
  imageWidth: number,
  imageHeight: number,
): PixelRect {
  const side = (pane: number): number =>
    Math.max(MIN_CROP_SIDE, Math.min(MAX_CROP_SIDE, Math.floor(pane / scale)));
  const width = Math.min(side(paneWidth), imageWidth);
  const height = Math.min(side(paneHeight), imageHeight);
  return {
    x: Math.floor((imageWidth - width) / 2),
    y: Math.floor((imageHeight - height) / 2),
    width,
    height,
  };
}

/** Screen pixels per output pixel: a fixed level, or the largest that shows the whole crop. */
export function zoomFactor(
  zoom: ZoomLevel,
  contentWidth: number,
  contentHeight: number,
  viewportWidth: number,
  viewportHeight: number,
): number {
  if (zoom !== 'fit') return zoom;
  if (contentWidth <= 0 || contentHeight <= 0) return 1;
  return Math.min(viewportWidth / contentWidth, viewportHeight / contentHeight);
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
