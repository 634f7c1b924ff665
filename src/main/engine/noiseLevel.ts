/**
 * Sensor-noise level of a photo's luminance, in 8-bit grey levels.
 *
 * Immerkær's estimator ("Fast noise variance estimation", CVIU 1996): the 3x3 mask
 * [1 −2 1; −2 4 −2; 1 −2 1] cancels planes and most smooth shading, so in a flat area its
 * mean absolute response is 6·σ·sqrt(2/π) for Gaussian noise of σ. Edges and texture also
 * respond, so the image is cut into 16x16 blocks and the estimate is taken from the
 * smoothest ones (the 10th percentile of block means): every photo has some flat sky, wall
 * or background, where only noise is left. Large photos are sampled on a block grid, so the
 * cost stays a few milliseconds whatever the size.
 */

const BLOCK = 16;
/** Blocks examined at most (evenly spread), about 4 MP worth of 16x16 blocks at full density. */
const MAX_BLOCKS = 16_384;
const FLATTEST_SHARE = 0.1;

/** Estimated noise σ in 8-bit levels of a Y plane in [0, 1] (row-major, width × height). */
export function estimateNoiseSigma(y: Float32Array, width: number, height: number): number {
  const covers = { x: 0, y: 0, width, height };
  return estimateNoiseSigmaOf(() => ({ data: y, covers }), width, height);
}

/** A rectangle of a Y plane: `data` covers `covers`, which contains the rectangle asked for. */
export type YReader = (rect: { x: number; y: number; width: number; height: number }) => {
  data: Float32Array;
  covers: { x: number; y: number; width: number; height: number };
};

/**
 * estimateNoiseSigma reading only the sampled blocks (with their 1 px border) through `read`,
 * so a big photo's Y plane is never made whole; the same blocks, the same value.
 */
export function estimateNoiseSigmaOf(read: YReader, width: number, height: number): number {
  const blocksX = Math.floor((width - 2) / BLOCK);
  const blocksY = Math.floor((height - 2) / BLOCK);
  if (blocksX < 1 || blocksY < 1) return 0;
  const total = blocksX * blocksY;
  const stride = Math.max(1, Math.sqrt(total / MAX_BLOCKS));
  const means: number[] = [];
  for (let j = 0; j * stride < blocksY; j++) {
    for (let i = 0; i * stride < blocksX; i++) {
      const bx = Math.floor(i * stride);
      const by = Math.floor(j * stride);
      const x0 = 1 + bx * BLOCK;
      const y0 = 1 + by * BLOCK;
      const { data, covers } = read({ x: x0 - 1, y: y0 - 1, width: BLOCK + 2, height: BLOCK + 2 });
      means.push(blockResponse(data, covers, x0, y0));
    }
  }
  means.sort((a, b) => a - b);
  const flat = means[Math.floor(FLATTEST_SHARE * (means.length - 1))]!;
  return ((flat * 255) / 6) * Math.sqrt(Math.PI / 2);
}

/**
 * Mean |mask response| over one block whose top-left pixel is (x0, y0), all inside the border;
 * `y` holds the rectangle `covers` of the plane.
 */
function blockResponse(
  y: Float32Array,
  covers: { x: number; y: number; width: number },
  x0: number,
  y0: number,
): number {
  const { width } = covers;
  let sum = 0;
  for (let row = y0; row < y0 + BLOCK; row++) {
    const up = (row - 1 - covers.y) * width - covers.x;
    const mid = (row - covers.y) * width - covers.x;
    const down = (row + 1 - covers.y) * width - covers.x;
    for (let col = x0; col < x0 + BLOCK; col++) {
      const response =
        y[up + col - 1]! -
        2 * y[up + col]! +
        y[up + col + 1]! -
        2 * y[mid + col - 1]! +
        4 * y[mid + col]! -
        2 * y[mid + col + 1]! +
        y[down + col - 1]! -
        2 * y[down + col]! +
        y[down + col + 1]!;
      sum += Math.abs(response);
    }
  }
  return sum / (BLOCK * BLOCK);
}
