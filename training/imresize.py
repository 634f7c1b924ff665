"""Bicubic resizing with MATLAB ``imresize`` semantics (the paper's LR generation).

Keys cubic kernel (a = -0.5), antialiased when down-scaling (the kernel is stretched by
1/scale), symmetric border extension, separable, computed in float64. The TypeScript
engine implements the same definition; both are checked against the same example.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Optional, Tuple

import numpy as np


def cubic(x: np.ndarray) -> np.ndarray:
    """Keys (1981) cubic convolution kernel with a = -0.5."""
    ax = np.abs(x)
    ax2 = ax * ax
    ax3 = ax2 * ax
    return (1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1) + (
        -0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0
    ) * ((ax > 1) & (ax <= 2))


@lru_cache(maxsize=256)
def resize_matrix(in_len: int, out_len: int, scale: float) -> np.ndarray:
    """Dense (out_len, in_len) matrix W such that out = W @ in along one axis."""
    antialias = scale < 1
    kernel_width = 4.0 / scale if antialias else 4.0
    x = np.arange(1, out_len + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1.0 - 1.0 / scale)
    left = np.floor(u - kernel_width / 2.0)
    taps = int(math.ceil(kernel_width)) + 2
    idx = left[:, None] + np.arange(taps)[None, :]  # 1-based source indices
    dist = u[:, None] - idx
    weights = scale * cubic(scale * dist) if antialias else cubic(dist)
    weights = weights / weights.sum(axis=1, keepdims=True)
    # Symmetric (mirror) extension, MATLAB's aux = [1:in, in:-1:1].
    aux = np.concatenate([np.arange(1, in_len + 1), np.arange(in_len, 0, -1)])
    src = aux[np.mod(idx.astype(np.int64) - 1, aux.size)] - 1
    w = np.zeros((out_len, in_len), dtype=np.float64)
    rows = np.repeat(np.arange(out_len), taps)
    np.add.at(w, (rows, src.ravel()), weights.ravel())
    return w


def imresize(
    img: np.ndarray,
    scale: Optional[float] = None,
    output_shape: Optional[Tuple[int, int]] = None,
) -> np.ndarray:
    """Resize a 2-D (H, W) or 3-D (H, W, C) float image like MATLAB ``imresize(..., 'bicubic')``.

    Give either ``scale`` (output size is ``ceil(in * scale)``) or ``output_shape``.
    """
    img = np.asarray(img, dtype=np.float64)
    h, w = img.shape[:2]
    if output_shape is not None:
        out_h, out_w = output_shape
        sh, sw = out_h / h, out_w / w
    elif scale is not None:
        out_h, out_w = int(math.ceil(h * scale)), int(math.ceil(w * scale))
        sh = sw = float(scale)
    else:
        raise ValueError("give scale or output_shape")
    wh = resize_matrix(h, out_h, sh)
    ww = resize_matrix(w, out_w, sw)
    # MATLAB resizes the dimension with the smaller scale first (rows on ties).
    if sw < sh:
        tmp = np.tensordot(img, ww, axes=([1], [1]))  # (H, C?, W') -> fix axes below
        tmp = np.moveaxis(tmp, -1, 1)
        out = np.tensordot(wh, tmp, axes=([1], [0]))
    else:
        tmp = np.tensordot(wh, img, axes=([1], [0]))
        out = np.tensordot(tmp, ww, axes=([1], [1]))
        out = np.moveaxis(out, -1, 1)
    return out


def modcrop(img: np.ndarray, scale: int) -> np.ndarray:
    """Crop so both sides are multiples of ``scale`` (the paper's HR crop)."""
    h, w = img.shape[:2]
    return img[: h - h % scale, : w - w % scale]


def bicubic_degrade(hr: np.ndarray, scale: int) -> np.ndarray:
    """The paper's input: bicubic down-scaling by 1/scale, then bicubic up to the HR size."""
    lr = imresize(hr, scale=1.0 / scale)
    return imresize(lr, output_shape=hr.shape[:2])
