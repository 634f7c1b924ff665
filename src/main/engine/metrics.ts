/**
 * Image-quality metrics under the super-resolution papers' convention, one function each:
 * luminance Y quantised to 8 bits (clip and round once), `border` pixels removed on every
 * side, computed in float64. Same definitions as training/metrics.py.
 */

/** A Y plane in [0, 1] and its size. */
export interface YPlane {
  width: number;
  height: number;
  data: Float32Array | Float64Array;
}

/** PSNR in dB between two Y planes on 8-bit levels; Infinity when identical. */
export function psnrY(reference: YPlane, test: YPlane, border: number): number {
  return psnrFromSquaredError(...squaredErrorOf([reference], [test], border));
}

/** Three planes in [0, 1] (R, G, B) and their size. */
export interface RgbPlanes {
  width: number;
  height: number;
  planes: readonly [
    Float32Array | Float64Array,
    Float32Array | Float64Array,
    Float32Array | Float64Array,
  ];
}

/**
 * PSNR in dB over R, G and B together (one mean squared error over the three channels) on
 * 8-bit levels, `border` removed: what a person sees of colour, which Y alone does not (a
 * JPEG's 4:2:0 chroma blocks and bleeding).
 */
export function psnrRgb(reference: RgbPlanes, test: RgbPlanes, border: number): number {
  const plane = (image: RgbPlanes, c: 0 | 1 | 2): YPlane => ({
    width: image.width,
    height: image.height,
    data: image.planes[c],
  });
  const channels = [0, 1, 2] as const;
  return psnrFromSquaredError(
    ...squaredErrorOf(
      channels.map((c) => plane(reference, c)),
      channels.map((c) => plane(test, c)),
      border,
    ),
  );
}

/** Sum of squared level differences over planes, and the number of samples. */
function squaredErrorOf(
  references: readonly YPlane[],
  tests: readonly YPlane[],
  border: number,
): [number, number] {
  let squaredError = 0;
  let samples = 0;
  for (const [index, reference] of references.entries()) {
    const a = shavedLevels(reference, border);
    const b = shavedLevels(tests[index]!, border);
    for (let i = 0; i < a.data.length; i++) {
      const d = a.data[i]! - b.data[i]!;
      squaredError += d * d;
    }
    samples += a.data.length;
  }
  return [squaredError, samples];
}

function psnrFromSquaredError(squaredError: number, samples: number): number {
  const mse = squaredError / samples;
  return mse === 0 ? Infinity : 10 * Math.log10((255 * 255) / mse);
}

/** SSIM (Wang et al. 2004: 11×11 Gaussian σ = 1.5, K1 = 0.01, K2 = 0.03, L = 255) over 'valid' windows. */
export function ssimY(reference: YPlane, test: YPlane, border: number): number {
  const a = shavedLevels(reference, border);
  const b = shavedLevels(test, border);
  const { width, height } = a;
  const window = gaussianWindow(11, 1.5);
  const radius = 5;
  const c1 = (0.01 * 255) ** 2;
  const c2 = (0.03 * 255) ** 2;
  let total = 0;
  let count = 0;
  for (let y = radius; y < height - radius; y++) {
    for (let x = radius; x < width - radius; x++) {
      let muA = 0;
      let muB = 0;
      let aa = 0;
      let bb = 0;
      let ab = 0;
      for (let wy = 0; wy < 11; wy++) {
        const row = (y + wy - radius) * width + x - radius;
        for (let wx = 0; wx < 11; wx++) {
          const w = window[wy * 11 + wx]!;
          const va = a.data[row + wx]!;
          const vb = b.data[row + wx]!;
          muA += w * va;
          muB += w * vb;
          aa += w * va * va;
          bb += w * vb * vb;
          ab += w * va * vb;
        }
      }
      const varA = aa - muA * muA;
      const varB = bb - muB * muB;
      const cov = ab - muA * muB;
      total +=
        ((2 * muA * muB + c1) * (2 * cov + c2)) /
        ((muA * muA + muB * muB + c1) * (varA + varB + c2));
      count++;
    }
  }
  if (count === 0)
    throw new RangeError(
      `image ${width}x${height} (after the border) is smaller than the 11x11 SSIM window`,
    );
  return total / count;
}

/** [0, 1] → 8-bit levels (clipped, rounded once) with `border` pixels removed. */
function shavedLevels(
  plane: YPlane,
  border: number,
): { width: number; height: number; data: Float64Array } {
  const width = plane.width - 2 * border;
  const height = plane.height - 2 * border;
  if (width <= 0 || height <= 0)
    throw new RangeError(
      `border ${border} leaves nothing of a ${plane.width}x${plane.height} image`,
    );
  const data = new Float64Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const level = Math.round(plane.data[(y + border) * plane.width + x + border]! * 255);
      data[y * width + x] = level < 0 ? 0 : level > 255 ? 255 : level;
    }
  }
  return { width, height, data };
}

function gaussianWindow(size: number, sigma: number): Float64Array {
  const window = new Float64Array(size * size);
  const center = (size - 1) / 2;
  let sum = 0;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const value = Math.exp(-((x - center) ** 2 + (y - center) ** 2) / (2 * sigma * sigma));
      window[y * size + x] = value;
      sum += value;
    }
  }
  for (let i = 0; i < window.length; i++) window[i]! /= sum;
  return window;
}
