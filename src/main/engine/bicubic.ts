/**
 * Bicubic resizing with MATLAB `imresize` semantics, the definition the training package
 * uses to make the model's input (training/imresize.py): Keys cubic kernel (a = -0.5),
 * antialiased when down-scaling (the kernel is stretched by 1/scale), symmetric (mirror)
 * border extension, separable. Accumulation is in float64.
 *
 * Resizing works on a rectangular region of the output so that tiled inference never
 * holds a whole-image upscaled plane: memory stays bounded by the tile size.
 */

/** The input samples and weights that make each output sample along one axis. */
export interface AxisWeights {
  outLength: number;
  taps: number;
  /** outLength × taps source indices (0-based, already mirrored into range). */
  indices: Int32Array;
  /** outLength × taps weights, each row summing to 1. */
  weights: Float64Array;
}

export function cubicKernel(x: number): number {
  const ax = Math.abs(x);
  const ax2 = ax * ax;
  const ax3 = ax2 * ax;
  if (ax <= 1) return 1.5 * ax3 - 2.5 * ax2 + 1;
  if (ax <= 2) return -0.5 * ax3 + 2.5 * ax2 - 4 * ax + 2;
  return 0;
}

/** MATLAB imresize's `contributions` for one axis; `scale` is out/in. */
export function axisWeights(inLength: number, outLength: number, scale: number): AxisWeights {
  const antialias = scale < 1;
  const kernelWidth = antialias ? 4 / scale : 4;
  const taps = Math.ceil(kernelWidth) + 2;
  const indices = new Int32Array(outLength * taps);
  const weights = new Float64Array(outLength * taps);
  const period = 2 * inLength;
  for (let x = 0; x < outLength; x++) {
    // MATLAB's 1-based coordinates: output sample x+1 maps to input position u.
    const u = (x + 1) / scale + 0.5 * (1 - 1 / scale);
    const left = Math.floor(u - kernelWidth / 2);
    let sum = 0;
    for (let t = 0; t < taps; t++) {
      const source = left + t; // 1-based
      const distance = u - source;
      const w = antialias ? scale * cubicKernel(scale * distance) : cubicKernel(distance);
      weights[x * taps + t] = w;
      sum += w;
      // Symmetric extension: aux = [1..in, in..1], indexed cyclically.
      const cyclic = (((source - 1) % period) + period) % period;
      indices[x * taps + t] = cyclic < inLength ? cyclic : period - 1 - cyclic;
    }
    for (let t = 0; t < taps; t++) weights[x * taps + t]! /= sum;
  }
  return dropZeroTaps({ outLength, taps, indices, weights });
}

/**
 * Removes the taps whose weight is zero for every output sample, as MATLAB's `contributions`
 * does: up-scaling by any factor leaves 4 of the 6 taps (the cubic's support is 4 wide). The
 * sums are unchanged (only exact zeros are dropped) and the resizer does a third less work.
 */
function dropZeroTaps(axis: AxisWeights): AxisWeights {
  const { outLength, taps } = axis;
  const kept: number[] = [];
  for (let t = 0; t < taps; t++) {
    for (let x = 0; x < outLength; x++) {
      if (axis.weights[x * taps + t] !== 0) {
        kept.push(t);
        break;
      }
    }
  }
  if (kept.length === taps) return axis;
  const indices = new Int32Array(outLength * kept.length);
  const weights = new Float64Array(outLength * kept.length);
  for (let x = 0; x < outLength; x++) {
    kept.forEach((t, k) => {
      indices[x * kept.length + k] = axis.indices[x * taps + t]!;
      weights[x * kept.length + k] = axis.weights[x * taps + t]!;
    });
  }
  return { outLength, taps: kept.length, indices, weights };
}

/** A rectangle [x, x+width) × [y, y+height) in some image's pixel grid. */
export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Precomputed weights for resizing one plane size to another, reused across tiles and planes. */
export interface ResizePlan {
  inWidth: number;
  inHeight: number;
  outWidth: number;
  outHeight: number;
  horizontal: AxisWeights;
  vertical: AxisWeights;
}

export function planResize(
  inWidth: number,
  inHeight: number,
  outWidth: number,
  outHeight: number,
  scale?: number,
): ResizePlan {
  return {
    inWidth,
    inHeight,
    outWidth,
    outHeight,
    horizontal: axisWeights(inWidth, outWidth, scale ?? outWidth / inWidth),
    vertical: axisWeights(inHeight, outHeight, scale ?? outHeight / inHeight),
  };
}

/** The input pixels (a rectangle) that the output pixels of `region` read. */
export function sourceRect(plan: ResizePlan, region: Rect): Rect {
  const [x0, x1] = tapRange(plan.horizontal, region.x, region.width);
  const [y0, y1] = tapRange(plan.vertical, region.y, region.height);
  return { x: x0, y: y0, width: x1 - x0 + 1, height: y1 - y0 + 1 };
}

/**
 * Smallest and largest input index of any tap over outputs [start, start + length). Taps of
 * weight zero count too: the horizontal pass reads every tap (multiplying by 0).
 */
function tapRange(axis: AxisWeights, start: number, length: number): [number, number] {
  let min = Infinity;
  let max = -Infinity;
  for (let i = start * axis.taps; i < (start + length) * axis.taps; i++) {
    const index = axis.indices[i]!;
    if (index < min) min = index;
    if (index > max) max = index;
  }
  return [min, max];
}

/**
 * Resizes the part of `plane` (inWidth × inHeight, row-major) that lands in `region` of the
 * output. Resizing the whole output is `region = {0, 0, outWidth, outHeight}`. `source` says
 * which part of the input `plane` holds (default: all of it); it must contain
 * `sourceRect(plan, region)`.
 */
export function resizeRegion(
  plane: Float32Array,
  plan: ResizePlan,
  region: Rect,
  source: Rect = { x: 0, y: 0, width: plan.inWidth, height: plan.inHeight },
): Float32Array {
  const inWidth = source.width;
  const { taps: hTaps, indices: hIndices, weights: hWeights } = plan.horizontal;
  const { taps: vTaps, indices: vIndices, weights: vWeights } = plan.vertical;
  const { width } = region;
  // Input rows that any output row of the region reads.
  let rowMin = Infinity;
  let rowMax = -Infinity;
  for (let i = region.y * vTaps; i < (region.y + region.height) * vTaps; i++) {
    if (vWeights[i] === 0) continue;
    const row = vIndices[i]!;
    if (row < rowMin) rowMin = row;
    if (row > rowMax) rowMax = row;
  }
  const rowCount = rowMax - rowMin + 1;
  // Horizontal pass on those rows, for the region's columns only.
  const horizontalPass = new Float64Array(rowCount * width);
  for (let r = 0; r < rowCount; r++) {
    // Input indices are absolute: shift them into `source`.
    const rowOffset = (rowMin + r - source.y) * inWidth - source.x;
    const passOffset = r * width;
    let base = region.x * hTaps;
    if (hTaps === 4) {
      // Every up-scale: the same sums as the loop below, unrolled.
      for (let ox = 0; ox < width; ox++, base += 4) {
        horizontalPass[passOffset + ox] =
          hWeights[base]! * plane[rowOffset + hIndices[base]!]! +
          hWeights[base + 1]! * plane[rowOffset + hIndices[base + 1]!]! +
          hWeights[base + 2]! * plane[rowOffset + hIndices[base + 2]!]! +
          hWeights[base + 3]! * plane[rowOffset + hIndices[base + 3]!]!;
      }
      continue;
    }
    for (let ox = 0; ox < width; ox++, base += hTaps) {
      let acc = 0;
      for (let t = base; t < base + hTaps; t++) {
        acc += hWeights[t]! * plane[rowOffset + hIndices[t]!]!;
      }
      horizontalPass[passOffset + ox] = acc;
    }
  }
  // Vertical pass over the taps with a weight, accumulated in float64 like the horizontal one.
  const out = new Float32Array(width * region.height);
  const tapOffsets = new Int32Array(vTaps);
  const tapWeights = new Float64Array(vTaps);
  for (let oy = 0; oy < region.height; oy++) {
    const base = (region.y + oy) * vTaps;
    let count = 0;
    for (let t = base; t < base + vTaps; t++) {
      if (vWeights[t] === 0) continue;
      tapOffsets[count] = (vIndices[t]! - rowMin) * width;
      tapWeights[count++] = vWeights[t]!;
    }
    const outOffset = oy * width;
    if (count === 4) {
      const o0 = tapOffsets[0]!,
        o1 = tapOffsets[1]!,
        o2 = tapOffsets[2]!,
        o3 = tapOffsets[3]!;
      const w0 = tapWeights[0]!,
        w1 = tapWeights[1]!,
        w2 = tapWeights[2]!,
        w3 = tapWeights[3]!;
      for (let ox = 0; ox < width; ox++) {
        out[outOffset + ox] =
          w0 * horizontalPass[o0 + ox]! +
          w1 * horizontalPass[o1 + ox]! +
          w2 * horizontalPass[o2 + ox]! +
          w3 * horizontalPass[o3 + ox]!;
      }
      continue;
    }
    for (let ox = 0; ox < width; ox++) {
      let acc = 0;
      for (let k = 0; k < count; k++) acc += tapWeights[k]! * horizontalPass[tapOffsets[k]! + ox]!;
      out[outOffset + ox] = acc;
    }
  }
  return out;
}

/** Resizes a whole plane. */
export function resizePlane(
  plane: Float32Array,
  inWidth: number,
  inHeight: number,
  outWidth: number,
  outHeight: number,
  scale?: number,
): Float32Array {
  const plan = planResize(inWidth, inHeight, outWidth, outHeight, scale);
  return resizeRegion(plane, plan, { x: 0, y: 0, width: outWidth, height: outHeight });
}
