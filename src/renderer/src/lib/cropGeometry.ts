/** Crop-box arithmetic for the Compare screen, in input-image pixels. */
import type { PixelRect } from '../../../shared/ipc.ts';

export const MIN_CROP_SIDE = 16;
export const MAX_CROP_SIDE = 512;
/**
 * Screen pixels per output pixel (1 is 100 %: one pixel of the written photo per screen pixel);
 * `fit` shows the whole upscaled crop in its pane. The wheel and pinch reach any factor between
 * the fit and MAX_ZOOM; the buttons and +/− step through these levels.
 */
export const ZOOM_LEVELS = ['fit', 1, 2, 4, 8] as const;
export type ZoomLevel = 'fit' | number;
export const MAX_ZOOM = 16;

/** What the panes show of the crop, for the overview's "visible" box and the zoom buttons. */
export interface ViewReport {
  fitFactor: number;
  factor: number;
  /** Fractions (0..1) of the crop on screen, across and down. */
  visible: { x0: number; x1: number; y0: number; y1: number };
}

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

/**
 * The next level up or down from `current` (any factor, as the wheel leaves it), `fit` counting
 * as its factor `fitFactor`; the ends stay where they are.
 */
export function nextZoom(current: ZoomLevel, direction: 1 | -1, fitFactor = 0): ZoomLevel {
  const factorOf = (level: ZoomLevel): number => (level === 'fit' ? fitFactor : level);
  const now = factorOf(current);
  const levels = [...ZOOM_LEVELS].sort((a, b) => factorOf(a) - factorOf(b));
  const next =
    direction > 0
      ? levels.find((level) => factorOf(level) > now * 1.001)
      : levels.findLast((level) => factorOf(level) < now / 1.001);
  return next ?? current;
}

/** `63 %`: a zoom factor as a percentage of the output pixels. */
export function zoomPercent(factor: number): string {
  return `${Math.round(factor * 100)} %`;
}

/**
 * The zoom after a wheel or pinch step of `multiplier` from `factor`: within [fit, MAX_ZOOM]
 * (below 100 % only down to the fit), and `fit` once it reaches the fit.
 */
export function wheelZoom(factor: number, multiplier: number, fitFactor: number): ZoomLevel {
  const next = Math.min(MAX_ZOOM, factor * multiplier);
  const floor = Math.min(fitFactor, 1);
  if (next <= floor * 1.001) return fitFactor <= 1 ? 'fit' : 1;
  return next;
}

/**
 * The pan offset that keeps the content point under `anchor` (viewport pixels) where it is when
 * the zoom goes from `from` to `to` screen pixels per output pixel: zooming around the cursor.
 */
export function offsetKeeping(anchor: number, offset: number, from: number, to: number): number {
  return anchor - ((anchor - offset) / from) * to;
}

/** The offset that puts the fraction `centre` (0..1) of the content in the viewport's middle. */
export function offsetForCentre(centre: number, contentSize: number, viewportSize: number): number {
  return clampPan(viewportSize / 2 - centre * contentSize, contentSize, viewportSize);
}

/** The fraction (0..1) of the content in the viewport's middle for a pan offset. */
export function centreForOffset(offset: number, contentSize: number, viewportSize: number): number {
  if (contentSize <= 0) return 0.5;
  const clamped = clampPan(offset, contentSize, viewportSize);
  return Math.min(1, Math.max(0, (viewportSize / 2 - clamped) / contentSize));
}

/** The part of the content (fractions 0..1, start and end) a viewport shows at a pan offset. */
export function visibleSpan(
  offset: number,
  contentSize: number,
  viewportSize: number,
): [number, number] {
  if (contentSize <= 0) return [0, 1];
  return [Math.max(0, -offset / contentSize), Math.min(1, (viewportSize - offset) / contentSize)];
}

/**
 * The top-left corner of the `windowWidth`×`windowHeight` window of a small grey picture with
 * the most detail: the largest sum of local gradients (|dx| + |dy|), through a summed-area
 * table. A smooth gradient or a sky scores low; texture, edges and faces score high. Ties (a
 * flat picture) go to the window nearest the centre.
 */
export function busiestWindow(
  grey: ArrayLike<number>,
  width: number,
  height: number,
  windowWidth: number,
  windowHeight: number,
): { x: number; y: number } {
  const w = Math.max(1, Math.min(width, Math.round(windowWidth)));
  const h = Math.max(1, Math.min(height, Math.round(windowHeight)));
  const stride = width + 1;
  const table = new Float64Array(stride * (height + 1));
  for (let y = 0; y < height; y++) {
    let row = 0;
    for (let x = 0; x < width; x++) {
      const here = grey[y * width + x] ?? 0;
      const right = x + 1 < width ? (grey[y * width + x + 1] ?? 0) : here;
      const below = y + 1 < height ? (grey[(y + 1) * width + x] ?? 0) : here;
      row += Math.abs(right - here) + Math.abs(below - here);
      table[(y + 1) * stride + x + 1] = (table[y * stride + x + 1] ?? 0) + row;
    }
  }
  const sum = (x: number, y: number): number =>
    (table[(y + h) * stride + x + w] ?? 0) -
    (table[y * stride + x + w] ?? 0) -
    (table[(y + h) * stride + x] ?? 0) +
    (table[y * stride + x] ?? 0);
  const centreX = (width - w) / 2;
  const centreY = (height - h) / 2;
  let best = { x: Math.floor(centreX), y: Math.floor(centreY) };
  let bestScore = -1;
  let bestDistance = Infinity;
  for (let y = 0; y + h <= height; y++) {
    for (let x = 0; x + w <= width; x++) {
      const score = sum(x, y);
      const distance = Math.hypot(x - centreX, y - centreY);
      // Scores within a hair of each other are a tie: floating sums differ in the last bits.
      if (
        score > bestScore * (1 + 1e-9) + 1e-9 ||
        (Math.abs(score - bestScore) <= bestScore * 1e-9 + 1e-9 && distance < bestDistance)
      ) {
        best = { x, y };
        bestScore = score;
        bestDistance = distance;
      }
    }
  }
  return best;
}

/**
 * Moves a crop (its size kept) onto the busiest part of a photo, from a small grey picture of it
 * (`greyWidth`×`greyHeight`, the photo scaled down).
 */
export function cropOnDetail(
  crop: PixelRect,
  grey: ArrayLike<number>,
  greyWidth: number,
  greyHeight: number,
  imageWidth: number,
  imageHeight: number,
): PixelRect {
  const ratio = greyWidth / imageWidth;
  const corner = busiestWindow(
    grey,
    greyWidth,
    greyHeight,
    crop.width * ratio,
    crop.height * (greyHeight / imageHeight),
  );
  return clampCrop(
    {
      ...crop,
      x: corner.x / ratio,
      y: corner.y / (greyHeight / imageHeight),
    },
    imageWidth,
    imageHeight,
  );
}

/** Keeps a pan offset so the content still covers the viewport (or is centred when smaller). */
export function clampPan(offset: number, contentSize: number, viewportSize: number): number {
  if (contentSize <= viewportSize) return Math.round((viewportSize - contentSize) / 2);
  return Math.min(0, Math.max(viewportSize - contentSize, offset));
}
