import { MAX_SCALE, MIN_SCALE, type TargetSize } from './upscaleOptions.ts';

export interface Size {
  width: number;
  height: number;
}

/**
 * The output size for an input size. Width/height targets keep the aspect ratio; every
 * target must land within scale [1, 4] of the input, because the model was trained for that.
 */
export function resolveTargetSize(input: Size, target: TargetSize): Size & { scale: number } {
  let scale: number;
  switch (target.kind) {
    case 'scale':
      scale = target.scale;
      break;
    case 'width':
      scale = target.width / input.width;
      break;
    case 'height':
      scale = target.height / input.height;
      break;
  }
  if (!Number.isFinite(scale) || scale < MIN_SCALE - 1e-9 || scale > MAX_SCALE + 1e-9) {
    throw new RangeError(
      `target ${describeTarget(target)} means scale ${round3(scale)} for ${input.width}x${input.height}; ` +
        `the scale must be between ${MIN_SCALE} and ${MAX_SCALE}`,
    );
  }
  const width =
    target.kind === 'width' ? target.width : Math.max(1, Math.round(input.width * scale));
  const height =
    target.kind === 'height' ? target.height : Math.max(1, Math.round(input.height * scale));
  return { width, height, scale };
}

export function describeTarget(target: TargetSize): string {
  switch (target.kind) {
    case 'scale':
      return `x${round3(target.scale)}`;
    case 'width':
      return `width ${target.width}`;
    case 'height':
      return `height ${target.height}`;
  }
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}
