/**
 * BT.601 colour conversion exactly as MATLAB `rgb2ycbcr` / `ycbcr2rgb` on [0, 1] floats
 * (studio range: Y in [16/255, 235/255]). The training package uses the same matrix
 * (training/color.py), so the model sees the luminance it was trained on.
 */

const RGB_TO_YCBCR = [
  [65.481 / 255, 128.553 / 255, 24.966 / 255],
  [-37.797 / 255, -74.203 / 255, 112.0 / 255],
  [112.0 / 255, -93.786 / 255, -18.214 / 255],
] as const;
const OFFSET = [16 / 255, 128 / 255, 128 / 255] as const;
const YCBCR_TO_RGB = invert3x3(RGB_TO_YCBCR);

/** Three planes of one image, row-major, same length. */
export interface ColorPlanes {
  c0: Float32Array;
  c1: Float32Array;
  c2: Float32Array;
}

/** RGB planes in [0, 1] → Y, Cb, Cr planes in [0, 1] (new arrays). */
export function rgbToYcbcr(rgb: ColorPlanes): ColorPlanes {
  const { c0: r, c1: g, c2: b } = rgb;
  const n = r.length;
  const y = new Float32Array(n);
  const cb = new Float32Array(n);
  const cr = new Float32Array(n);
  const [m0, m1, m2] = RGB_TO_YCBCR;
  for (let i = 0; i < n; i++) {
    const ri = r[i]!;
    const gi = g[i]!;
    const bi = b[i]!;
    y[i] = OFFSET[0] + m0[0] * ri + m0[1] * gi + m0[2] * bi;
    cb[i] = OFFSET[1] + m1[0] * ri + m1[1] * gi + m1[2] * bi;
    cr[i] = OFFSET[2] + m2[0] * ri + m2[1] * gi + m2[2] * bi;
  }
  return { c0: y, c1: cb, c2: cr };
}

/** One of rgbToYcbcr's planes (0: Y, 1: Cb, 2: Cr), the same values, without the other two. */
export function rgbToYcbcrPlane(rgb: ColorPlanes, channel: 0 | 1 | 2): Float32Array {
  const { c0: r, c1: g, c2: b } = rgb;
  const n = r.length;
  const out = new Float32Array(n);
  const m = RGB_TO_YCBCR[channel];
  const offset = OFFSET[channel];
  for (let i = 0; i < n; i++) out[i] = offset + m[0] * r[i]! + m[1] * g[i]! + m[2] * b[i]!;
  return out;
}

/**
 * Y, Cb, Cr planes in [0, 1] → RGB planes (not clamped: the caller quantises once), written
 * into `into` (its first `y.length` samples) when given, else into new arrays.
 */
export function ycbcrToRgb(ycbcr: ColorPlanes, into?: ColorPlanes): ColorPlanes {
  const { c0: y, c1: cb, c2: cr } = ycbcr;
  const n = y.length;
  const r = into?.c0 ?? new Float32Array(n);
  const g = into?.c1 ?? new Float32Array(n);
  const b = into?.c2 ?? new Float32Array(n);
  const [m0, m1, m2] = YCBCR_TO_RGB;
  for (let i = 0; i < n; i++) {
    const yi = y[i]! - OFFSET[0];
    const cbi = cb[i]! - OFFSET[1];
    const cri = cr[i]! - OFFSET[2];
    r[i] = m0[0] * yi + m0[1] * cbi + m0[2] * cri;
    g[i] = m1[0] * yi + m1[1] * cbi + m1[2] * cri;
    b[i] = m2[0] * yi + m2[1] * cbi + m2[2] * cri;
  }
  return { c0: r, c1: g, c2: b };
}

type Matrix3 = readonly [
  readonly [number, number, number],
  readonly [number, number, number],
  readonly [number, number, number],
];

function invert3x3(m: Matrix3): Matrix3 {
  const [[a, b, c], [d, e, f], [g, h, i]] = m;
  const co00 = e * i - f * h;
  const co01 = -(d * i - f * g);
  const co02 = d * h - e * g;
  const det = a * co00 + b * co01 + c * co02;
  return [
    [co00 / det, -(b * i - c * h) / det, (b * f - c * e) / det],
    [co01 / det, (a * i - c * g) / det, -(a * f - c * d) / det],
    [co02 / det, -(a * h - b * g) / det, (a * e - b * d) / det],
  ];
}
