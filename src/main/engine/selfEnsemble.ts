/**
 * Self-ensemble (geometric test-time augmentation): the model runs on the 8 flips and
 * rotations of a tile, each output is mapped back, and the 8 are averaged.
 */

/** One of the 8 symmetries of the square: optional transpose, then optional flips. */
export interface Symmetry {
  transpose: boolean;
  flipX: boolean;
  flipY: boolean;
}

export const SYMMETRIES: readonly Symmetry[] = [false, true].flatMap((transpose) =>
  [false, true].flatMap((flipY) => [false, true].map((flipX) => ({ transpose, flipX, flipY }))),
);

/** Applies `symmetry` to a width × height plane; the result is height × width when transposed. */
export function applySymmetry(
  plane: Float32Array,
  width: number,
  height: number,
  symmetry: Symmetry,
): Float32Array {
  const outWidth = symmetry.transpose ? height : width;
  const outHeight = symmetry.transpose ? width : height;
  const out = new Float32Array(plane.length);
  for (let y = 0; y < outHeight; y++) {
    const sy = symmetry.flipY ? outHeight - 1 - y : y;
    for (let x = 0; x < outWidth; x++) {
      const sx = symmetry.flipX ? outWidth - 1 - x : x;
      // (sx, sy) in the transposed frame → source pixel.
      out[y * outWidth + x] = symmetry.transpose
        ? plane[sx * width + sy]!
        : plane[sy * width + sx]!;
    }
  }
  return out;
}

/** Undoes `applySymmetry`: `plane` has the transformed shape, the result width × height. */
export function invertSymmetry(
  plane: Float32Array,
  width: number,
  height: number,
  symmetry: Symmetry,
): Float32Array {
  const out = new Float32Array(plane.length);
  const tw = symmetry.transpose ? height : width;
  const th = symmetry.transpose ? width : height;
  for (let y = 0; y < th; y++) {
    const sy = symmetry.flipY ? th - 1 - y : y;
    for (let x = 0; x < tw; x++) {
      const sx = symmetry.flipX ? tw - 1 - x : x;
      const value = plane[y * tw + x]!;
      if (symmetry.transpose) out[sx * width + sy] = value;
      else out[sy * width + sx] = value;
    }
  }
  return out;
}
