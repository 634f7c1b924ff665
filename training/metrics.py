"""Image-quality metrics under the paper's protocol, one function each.

Convention (as in the SR literature following VDSR, and BasicSR's ``calculate_psnr``):
both images are luminance Y (BT.601, MATLAB ``rgb2ycbcr``) quantised to 8 bits, HR has
been cropped to a multiple of the scale, and ``border`` (= scale) pixels are removed on
every side before comparing. Computation is in float64.

IFC (Sheikh et al. 2005) is not implemented: a faithful version needs the steerable
pyramid of the original MATLAB code, which we do not have here; we report PSNR and SSIM.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.ndimage import correlate


def to_uint8_levels(y: np.ndarray) -> np.ndarray:
    """[0, 1] float -> float64 8-bit levels (clipped and rounded once)."""
    return np.clip(np.round(np.asarray(y, dtype=np.float64) * 255.0), 0, 255)


def shave(img: np.ndarray, border: int) -> np.ndarray:
    return img[border:-border, border:-border] if border > 0 else img


def psnr(reference: np.ndarray, test: np.ndarray, border: int) -> float:
    """PSNR in dB between two Y images in [0, 1], on 8-bit levels, ``border`` px removed."""
    a = shave(to_uint8_levels(reference), border)
    b = shave(to_uint8_levels(test), border)
    mse = float(np.mean((a - b) ** 2))
    if mse == 0.0:
        return math.inf
    return 10.0 * math.log10(255.0**2 / mse)


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    ax = np.arange(size) - (size - 1) / 2.0
    g = np.exp(-(ax**2) / (2 * sigma**2))
    w = np.outer(g, g)
    return w / w.sum()


def ssim(reference: np.ndarray, test: np.ndarray, border: int) -> float:
    """SSIM (Wang et al. 2004: 11x11 Gaussian, sigma 1.5, K1 0.01, K2 0.03, L 255), 'valid' windows."""
    a = shave(to_uint8_levels(reference), border)
    b = shave(to_uint8_levels(test), border)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    w = _gaussian_window()
    r = w.shape[0] // 2

    def filt(x: np.ndarray) -> np.ndarray:
        return correlate(x, w, mode="constant")[r:-r, r:-r]

    mu_a, mu_b = filt(a), filt(b)
    s_aa = filt(a * a) - mu_a**2
    s_bb = filt(b * b) - mu_b**2
    s_ab = filt(a * b) - mu_a * mu_b
    num = (2 * mu_a * mu_b + c1) * (2 * s_ab + c2)
    den = (mu_a**2 + mu_b**2 + c1) * (s_aa + s_bb + c2)
    return float(np.mean(num / den))
